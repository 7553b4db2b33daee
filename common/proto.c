/* sg_proto: the agent wire protocol codec (proto.h; docs/protocol.md has
 * the bytes).
 *
 * The peer is hostile in both directions, so every rule a decoder checks is
 * also checked by the matching encoder (one function serves both): what we
 * send always decodes, and what decodes re-encodes to the same bytes. The
 * encodings are canonical (fixed field order, OPEN items in ascending tag
 * order), which lets the fuzzer compare bytes after a round trip. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

#define HELLO_PAYLOAD_LEN	20	/* "sandgate" u16 vmin u16 vmax u64 nonce */
#define HELLO_MAGIC_LEN		8
#define HELLO_ACK_FIXED		10	/* u16 version u64 nonce */
#define AGENT_VERSION_MAX	64
#define TEXT_MAX		1024	/* OPEN_FAIL and CONFIG_ACK messages */
#define ERRNO_MAX		4095
#define SIGNO_MAX		64
#define OPEN_FIXED		10	/* kind flags rows cols credit */
#define OPEN_ITEM_HDR		3	/* u8 tag u16 len */
#define TERM_MAX		64
#define SUBSYSTEM_MAX		64
#define HOST_MAX		255
#define CONFIG_KEY_MAX		32
#define CONFIG_VALUE_MAX	16384u
#define CONFIG_ITEM_HDR		3	/* u8 key len, u16 value len */

enum open_tag {
	TAG_ARGV = 1,
	TAG_CMD = 2,
	TAG_ENV = 3,
	TAG_TERM = 4,
	TAG_SUBSYSTEM = 5,
	TAG_HOST = 6,
	TAG_PORT = 7,
};

/* What the header of each message type may hold. */
struct msg_rule {
	uint8_t type;
	uint8_t on_chan;	/* 1: chan != 0, 0: chan == 0 */
	uint8_t max_stream;
	uint32_t min_len, max_len;
	const char *name;
};

static const struct msg_rule msg_rules[] = {
	{ SG_MSG_HELLO, 0, 0, HELLO_PAYLOAD_LEN, HELLO_PAYLOAD_LEN, "HELLO" },
	{ SG_MSG_HELLO_ACK, 0, 0, HELLO_ACK_FIXED,
	    HELLO_ACK_FIXED + AGENT_VERSION_MAX, "HELLO_ACK" },
	{ SG_MSG_CONFIG, 0, 0, 0, SG_PROTO_MAX_PAYLOAD, "CONFIG" },
	{ SG_MSG_CONFIG_ACK, 0, 0, 4, 4 + TEXT_MAX, "CONFIG_ACK" },
	{ SG_MSG_PING, 0, 0, 8, 8, "PING" },
	{ SG_MSG_PONG, 0, 0, 8, 8, "PONG" },
	{ SG_MSG_POWEROFF, 0, 0, 4, 4, "POWEROFF" },
	{ SG_MSG_NOTICE, 0, 0, 1, 1 + TEXT_MAX, "NOTICE" },
	{ SG_MSG_OPEN, 1, 0, OPEN_FIXED, SG_PROTO_MAX_PAYLOAD, "OPEN" },
	{ SG_MSG_OPEN_OK, 1, 0, 8, 8, "OPEN_OK" },
	{ SG_MSG_OPEN_FAIL, 1, 0, 4, 4 + TEXT_MAX, "OPEN_FAIL" },
	{ SG_MSG_DATA, 1, SG_STREAM_STDERR, 1, SG_PROTO_DATA_CHUNK, "DATA" },
	{ SG_MSG_EOF, 1, SG_STREAM_STDERR, 0, 0, "EOF" },
	{ SG_MSG_CREDIT, 1, 0, 4, 4, "CREDIT" },
	{ SG_MSG_RESIZE, 1, 0, 8, 8, "RESIZE" },
	{ SG_MSG_SIGNAL, 1, 0, 1, 1, "SIGNAL" },
	{ SG_MSG_EXIT, 1, 0, 3, 3, "EXIT" },
	{ SG_MSG_CLOSE, 1, 0, 0, 0, "CLOSE" },
};

/* The 20 bytes a HELLO frame starts with: its header, then "sandgate". */
static const uint8_t hello_pattern[SG_PROTO_HDR_LEN + HELLO_MAGIC_LEN] = {
	0x53, 0x47, SG_MSG_HELLO, 0, 0, 0, 0, 0, 0, 0, 0, HELLO_PAYLOAD_LEN,
	's', 'a', 'n', 'd', 'g', 'a', 't', 'e',
};

static const struct msg_rule *
find_rule(uint8_t type)
{
	size_t i;

	for (i = 0; i < sizeof(msg_rules) / sizeof(msg_rules[0]); i++)
		if (msg_rules[i].type == type)
			return &msg_rules[i];
	return NULL;
}

/* Checks a whole header against its type's rule: 0 or -EPROTO. */
static int
check_header(uint8_t type, uint8_t stream, uint32_t chan, uint32_t len)
{
	const struct msg_rule *r = find_rule(type);

	if (r == NULL || stream > r->max_stream)
		return -EPROTO;
	if ((chan != 0) != (r->on_chan != 0))
		return -EPROTO;
	if (len < r->min_len || len > r->max_len)
		return -EPROTO;
	return 0;
}

/* Checks that m is a well-formed message of type want (as sg_proto_peek
 * would have returned it). Returns 0 or -EPROTO (-EINVAL for NULL). */
static int
check_msg(const struct sg_msg *m, uint8_t want)
{
	if (m == NULL)
		return -EINVAL;
	if (m->type != want)
		return -EPROTO;
	if (m->len > 0 && m->payload == NULL)
		return -EPROTO;
	return check_header(m->type, m->stream, m->chan, m->len);
}

static uint8_t *
wr_u8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *
wr_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *
wr_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint8_t *
wr_u64(uint8_t *p, uint64_t v)
{
	p = wr_u32(p, (uint32_t)(v >> 32));
	return wr_u32(p, (uint32_t)v);
}

static uint8_t *
wr_bytes(uint8_t *p, const void *src, size_t n)
{
	if (n > 0)
		memcpy(p, src, n);
	return p + n;
}

/* Starts a frame of len payload bytes in out: checks the header, makes
 * room for the whole frame, writes the header and returns where the
 * payload goes in *ret_p. The caller writes exactly len bytes there and
 * calls sg_buf_commit(out, SG_PROTO_HDR_LEN + len). Returns 0, -EINVAL
 * for a header the peer would reject, -ENOBUFS (out unchanged) or
 * -ENOMEM. */
static int
frame_begin(struct sg_buf *out, uint8_t type, uint8_t stream, uint32_t chan,
    size_t len, uint8_t **ret_p)
{
	uint8_t *p;
	int r;

	if (out == NULL || len > SG_PROTO_MAX_PAYLOAD)
		return -EINVAL;
	if (check_header(type, stream, chan, (uint32_t)len) < 0)
		return -EINVAL;
	if (sg_buf_room(out) < SG_PROTO_HDR_LEN + len)
		return -ENOBUFS;
	r = sg_buf_reserve(out, SG_PROTO_HDR_LEN + len, &p);
	if (r < 0)
		return r;
	p = wr_u16(p, SG_PROTO_MAGIC);
	p = wr_u8(p, type);
	p = wr_u8(p, stream);
	p = wr_u32(p, chan);
	p = wr_u32(p, (uint32_t)len);
	*ret_p = p;
	return 0;
}

int
sg_proto_put_frame(struct sg_buf *out, uint8_t type, uint8_t stream,
    uint32_t chan, const void *payload, size_t len)
{
	uint8_t *p;
	int r;

	if (len > 0 && payload == NULL)
		return -EINVAL;
	r = frame_begin(out, type, stream, chan, len, &p);
	if (r < 0)
		return r;
	wr_bytes(p, payload, len);
	sg_buf_commit(out, SG_PROTO_HDR_LEN + len);
	return 0;
}

int
sg_proto_peek(const uint8_t *in, size_t n, struct sg_msg *ret)
{
	const struct msg_rule *r = NULL;
	uint32_t chan, len;
	size_t i;

	/* Reject what is already wrong in a partial header, so a receiver
	 * that lost framing learns it from the first bad byte. */
	if (n >= 1 && in[0] != (SG_PROTO_MAGIC >> 8))
		return -EPROTO;
	if (n >= 2 && in[1] != (SG_PROTO_MAGIC & 0xff))
		return -EPROTO;
	if (n >= 3) {
		r = find_rule(in[2]);
		if (r == NULL)
			return -EPROTO;
	}
	if (n >= 4 && in[3] > r->max_stream)
		return -EPROTO;
	if (r != NULL && !r->on_chan)
		for (i = 4; i < 8 && i < n; i++)
			if (in[i] != 0)
				return -EPROTO;
	if (n >= 9 && in[8] != 0)	/* len < 2^24 */
		return -EPROTO;
	if (n < SG_PROTO_HDR_LEN)
		return 0;
	chan = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 |
	    (uint32_t)in[6] << 8 | in[7];
	len = (uint32_t)in[8] << 24 | (uint32_t)in[9] << 16 |
	    (uint32_t)in[10] << 8 | in[11];
	if (check_header(in[2], in[3], chan, len) < 0)
		return -EPROTO;
	if (n - SG_PROTO_HDR_LEN < len)
		return 0;
	ret->type = in[2];
	ret->stream = in[3];
	ret->chan = chan;
	ret->payload = in + SG_PROTO_HDR_LEN;
	ret->len = len;
	return 1;
}

size_t
sg_proto_find_hello(const uint8_t *in, size_t n)
{
	const uint8_t *p;
	size_t off = 0, k;

	while (off < n) {
		p = memchr(in + off, hello_pattern[0], n - off);
		if (p == NULL)
			return n;
		off = (size_t)(p - in);
		k = n - off;
		if (k > sizeof(hello_pattern))
			k = sizeof(hello_pattern);
		if (memcmp(in + off, hello_pattern, k) == 0)
			return off;
		off++;
	}
	return n;
}

/* Free text for humans (OPEN_FAIL, CONFIG_ACK): no control characters
 * (which would let a guest forge log lines or drive a terminal). Bytes
 * from 0x80 up pass, for UTF-8. */
static int
text_byte_ok(uint8_t c)
{
	return c >= 0x20 && c != 0x7f;
}

static int
check_text(const uint8_t *p, size_t n)
{
	size_t i;

	if (n > TEXT_MAX)
		return -EPROTO;
	for (i = 0; i < n; i++)
		if (!text_byte_ok(p[i]))
			return -EPROTO;
	return 0;
}

/* Copies msg (NULL: empty) into dst as wire text: at most TEXT_MAX bytes,
 * control characters replaced by '?'. Returns the length written. An
 * encoder of an error message should not fail because of its text. */
static size_t
copy_text(uint8_t *dst, const char *msg)
{
	size_t i;

	if (msg == NULL)
		return 0;
	for (i = 0; i < TEXT_MAX && msg[i] != '\0'; i++)
		dst[i] = text_byte_ok((uint8_t)msg[i]) ? (uint8_t)msg[i] : '?';
	return i;
}

static int
check_agent_version(const uint8_t *p, size_t n)
{
	size_t i;

	if (n > AGENT_VERSION_MAX)
		return -EPROTO;
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return -EPROTO;
	return 0;
}

int
sg_proto_put_hello(struct sg_buf *out, uint64_t nonce)
{
	uint8_t pl[HELLO_PAYLOAD_LEN], *p = pl;

	p = wr_bytes(p, SG_PROTO_HELLO_MAGIC, HELLO_MAGIC_LEN);
	p = wr_u16(p, SG_PROTO_VERSION_MIN);
	p = wr_u16(p, SG_PROTO_VERSION);
	wr_u64(p, nonce);
	return sg_proto_put_frame(out, SG_MSG_HELLO, 0, 0, pl, sizeof(pl));
}

uint16_t
sg_proto_version_pick(uint16_t vmin, uint16_t vmax)
{
	if (vmin > SG_PROTO_VERSION || vmax < SG_PROTO_VERSION_MIN ||
	    vmin > vmax)
		return 0;
	return vmax < SG_PROTO_VERSION ? vmax : SG_PROTO_VERSION;
}

int
sg_proto_get_hello(const struct sg_msg *m, uint16_t *ret_vmin,
    uint16_t *ret_vmax, uint64_t *ret_nonce)
{
	struct sg_cur c;
	uint16_t vmin, vmax;
	uint64_t nonce;
	int r;

	r = check_msg(m, SG_MSG_HELLO);
	if (r < 0)
		return r;
	if (memcmp(m->payload, SG_PROTO_HELLO_MAGIC, HELLO_MAGIC_LEN) != 0)
		return -EPROTO;
	sg_cur_init(&c, m->payload + HELLO_MAGIC_LEN,
	    m->len - HELLO_MAGIC_LEN);
	vmin = sg_cur_u16(&c);
	vmax = sg_cur_u16(&c);
	nonce = sg_cur_u64(&c);
	if (c.err || c.n != 0 || vmin == 0 || vmin > vmax)
		return -EPROTO;
	*ret_vmin = vmin;
	*ret_vmax = vmax;
	*ret_nonce = nonce;
	return 0;
}

int
sg_proto_put_hello_ack(struct sg_buf *out, uint16_t version, uint64_t nonce,
    const char *agent_version)
{
	uint8_t pl[HELLO_ACK_FIXED + AGENT_VERSION_MAX], *p = pl;
	size_t vlen = agent_version != NULL ?
	    strnlen(agent_version, AGENT_VERSION_MAX + 1) : 0;

	if (version == 0 || vlen > AGENT_VERSION_MAX ||
	    check_agent_version((const uint8_t *)agent_version, vlen) < 0)
		return -EINVAL;
	p = wr_u16(p, version);
	p = wr_u64(p, nonce);
	p = wr_bytes(p, agent_version, vlen);
	return sg_proto_put_frame(out, SG_MSG_HELLO_ACK, 0, 0, pl,
	    (size_t)(p - pl));
}

int
sg_proto_get_hello_ack(const struct sg_msg *m, uint16_t *ret_version,
    uint64_t *ret_nonce)
{
	struct sg_cur c;
	uint16_t version;
	uint64_t nonce;
	int r;

	r = check_msg(m, SG_MSG_HELLO_ACK);
	if (r < 0)
		return r;
	sg_cur_init(&c, m->payload, m->len);
	version = sg_cur_u16(&c);
	nonce = sg_cur_u64(&c);
	if (c.err || version == 0 || check_agent_version(c.p, c.n) < 0)
		return -EPROTO;
	*ret_version = version;
	*ret_nonce = nonce;
	return 0;
}

int
sg_proto_put_ping(struct sg_buf *out, uint8_t type, uint64_t cookie)
{
	uint8_t pl[8];

	if (type != SG_MSG_PING && type != SG_MSG_PONG)
		return -EINVAL;
	wr_u64(pl, cookie);
	return sg_proto_put_frame(out, type, 0, 0, pl, sizeof(pl));
}

int
sg_proto_get_u64(const struct sg_msg *m, uint64_t *ret)
{
	struct sg_cur c;
	uint64_t v;
	int r;

	if (m == NULL)
		return -EINVAL;
	r = check_msg(m, m->type == SG_MSG_PONG ? SG_MSG_PONG : SG_MSG_PING);
	if (r < 0)
		return r;
	sg_cur_init(&c, m->payload, m->len);
	v = sg_cur_u64(&c);
	if (c.err || c.n != 0)
		return -EPROTO;
	*ret = v;
	return 0;
}

int
sg_proto_put_config_ack(struct sg_buf *out, uint32_t status, const char *msg)
{
	uint8_t pl[4 + TEXT_MAX];
	size_t n;

	if (status > ERRNO_MAX)
		return -EINVAL;
	wr_u32(pl, status);
	n = copy_text(pl + 4, msg);
	return sg_proto_put_frame(out, SG_MSG_CONFIG_ACK, 0, 0, pl, 4 + n);
}

int
sg_proto_get_config_ack(const struct sg_msg *m, uint32_t *ret_status,
    const char **ret_msg, size_t *ret_len)
{
	struct sg_cur c;
	uint32_t status;
	int r;

	r = check_msg(m, SG_MSG_CONFIG_ACK);
	if (r < 0)
		return r;
	sg_cur_init(&c, m->payload, m->len);
	status = sg_cur_u32(&c);
	if (c.err || status > ERRNO_MAX || check_text(c.p, c.n) < 0)
		return -EPROTO;
	*ret_status = status;
	*ret_msg = (const char *)c.p;
	*ret_len = c.n;
	return 0;
}

int
sg_proto_put_poweroff(struct sg_buf *out, uint32_t seconds)
{
	uint8_t pl[4];

	wr_u32(pl, seconds);
	return sg_proto_put_frame(out, SG_MSG_POWEROFF, 0, 0, pl, sizeof(pl));
}

int
sg_proto_get_poweroff(const struct sg_msg *m, uint32_t *ret_seconds)
{
	struct sg_cur c;
	uint32_t v;
	int r;

	r = check_msg(m, SG_MSG_POWEROFF);
	if (r < 0)
		return r;
	sg_cur_init(&c, m->payload, m->len);
	v = sg_cur_u32(&c);
	if (c.err || c.n != 0)
		return -EPROTO;
	*ret_seconds = v;
	return 0;
}

int
sg_proto_put_notice(struct sg_buf *out, uint8_t kind, const char *text)
{
	uint8_t pl[1 + TEXT_MAX];
	size_t n;

	if (kind < SG_NOTICE_WARN || kind > SG_NOTICE_FAILED)
		return -EINVAL;
	pl[0] = kind;
	n = copy_text(pl + 1, text);
	return sg_proto_put_frame(out, SG_MSG_NOTICE, 0, 0, pl, 1 + n);
}

int
sg_proto_get_notice(const struct sg_msg *m, uint8_t *ret_kind,
    const char **ret_text, size_t *ret_len)
{
	struct sg_cur c;
	uint8_t kind;
	int r;

	r = check_msg(m, SG_MSG_NOTICE);
	if (r < 0)
		return r;
	sg_cur_init(&c, m->payload, m->len);
	kind = sg_cur_u8(&c);
	if (c.err || kind < SG_NOTICE_WARN || kind > SG_NOTICE_FAILED ||
	    check_text(c.p, c.n) < 0)
		return -EPROTO;
	*ret_kind = kind;
	*ret_text = (const char *)c.p;
	*ret_len = c.n;
	return 0;
}

int
sg_proto_put_open_ok(struct sg_buf *out, uint32_t chan, uint32_t credit,
    uint32_t pid)
{
	uint8_t pl[8];

	if (credit > SG_PROTO_MAX_WINDOW)
		return -EINVAL;
	wr_u32(wr_u32(pl, credit), pid);
	return sg_proto_put_frame(out, SG_MSG_OPEN_OK, 0, chan, pl,
	    sizeof(pl));
}

int
sg_proto_get_open_ok(const struct sg_msg *m, uint32_t *ret_credit,
    uint32_t *ret_pid)
{
	struct sg_cur c;
	uint32_t credit, pid;
	int r;

	r = check_msg(m, SG_MSG_OPEN_OK);
	if (r < 0)
		return r;
	sg_cur_init(&c, m->payload, m->len);
	credit = sg_cur_u32(&c);
	pid = sg_cur_u32(&c);
	if (c.err || c.n != 0 || credit > SG_PROTO_MAX_WINDOW)
		return -EPROTO;
	*ret_credit = credit;
	*ret_pid = pid;
	return 0;
}

int
sg_proto_put_open_fail(struct sg_buf *out, uint32_t chan, uint32_t err,
    const char *msg)
{
	uint8_t pl[4 + TEXT_MAX];
	size_t n;

	if (err == 0 || err > ERRNO_MAX)
		return -EINVAL;
	wr_u32(pl, err);
	n = copy_text(pl + 4, msg);
	return sg_proto_put_frame(out, SG_MSG_OPEN_FAIL, 0, chan, pl, 4 + n);
}

int
sg_proto_get_open_fail(const struct sg_msg *m, uint32_t *ret_err,
    const char **ret_msg, size_t *ret_len)
{
	struct sg_cur c;
	uint32_t err;
	int r;

	r = check_msg(m, SG_MSG_OPEN_FAIL);
	if (r < 0)
		return r;
	sg_cur_init(&c, m->payload, m->len);
	err = sg_cur_u32(&c);
	if (c.err || err == 0 || err > ERRNO_MAX || check_text(c.p, c.n) < 0)
		return -EPROTO;
	*ret_err = err;
	*ret_msg = (const char *)c.p;
	*ret_len = c.n;
	return 0;
}

int
sg_proto_put_data(struct sg_buf *out, uint32_t chan, uint8_t stream,
    const void *p, size_t n)
{
	return sg_proto_put_frame(out, SG_MSG_DATA, stream, chan, p, n);
}

int
sg_proto_put_eof(struct sg_buf *out, uint32_t chan, uint8_t stream)
{
	return sg_proto_put_frame(out, SG_MSG_EOF, stream, chan, NULL, 0);
}

int
sg_proto_put_credit(struct sg_buf *out, uint32_t chan, uint32_t n)
{
	uint8_t pl[4];

	if (n == 0 || n > SG_PROTO_MAX_WINDOW)
		return -EINVAL;
	wr_u32(pl, n);
	return sg_proto_put_frame(out, SG_MSG_CREDIT, 0, chan, pl, sizeof(pl));
}

int
sg_proto_get_u32(const struct sg_msg *m, uint32_t *ret)
{
	struct sg_cur c;
	uint32_t v;
	int r;

	r = check_msg(m, SG_MSG_CREDIT);
	if (r < 0)
		return r;
	sg_cur_init(&c, m->payload, m->len);
	v = sg_cur_u32(&c);
	if (c.err || c.n != 0 || v == 0 || v > SG_PROTO_MAX_WINDOW)
		return -EPROTO;
	*ret = v;
	return 0;
}

int
sg_proto_put_resize(struct sg_buf *out, uint32_t chan, uint16_t rows,
    uint16_t cols, uint16_t xpix, uint16_t ypix)
{
	uint8_t pl[8];

	wr_u16(wr_u16(wr_u16(wr_u16(pl, rows), cols), xpix), ypix);
	return sg_proto_put_frame(out, SG_MSG_RESIZE, 0, chan, pl, sizeof(pl));
}

int
sg_proto_get_resize(const struct sg_msg *m, uint16_t *ret_rows,
    uint16_t *ret_cols, uint16_t *ret_xpix, uint16_t *ret_ypix)
{
	struct sg_cur c;
	uint16_t rows, cols, xpix, ypix;
	int r;

	r = check_msg(m, SG_MSG_RESIZE);
	if (r < 0)
		return r;
	sg_cur_init(&c, m->payload, m->len);
	rows = sg_cur_u16(&c);
	cols = sg_cur_u16(&c);
	xpix = sg_cur_u16(&c);
	ypix = sg_cur_u16(&c);
	if (c.err || c.n != 0)
		return -EPROTO;
	*ret_rows = rows;
	*ret_cols = cols;
	*ret_xpix = xpix;
	*ret_ypix = ypix;
	return 0;
}

int
sg_proto_put_signal(struct sg_buf *out, uint32_t chan, uint8_t signo)
{
	if (signo == 0 || signo > SIGNO_MAX)
		return -EINVAL;
	return sg_proto_put_frame(out, SG_MSG_SIGNAL, 0, chan, &signo, 1);
}

int
sg_proto_get_signal(const struct sg_msg *m, uint8_t *ret_signo)
{
	int r;

	r = check_msg(m, SG_MSG_SIGNAL);
	if (r < 0)
		return r;
	if (m->payload[0] == 0 || m->payload[0] > SIGNO_MAX)
		return -EPROTO;
	*ret_signo = m->payload[0];
	return 0;
}

/* EXIT: a code 0..255 without core flag, or a signal 1..64 with a core
 * flag 0 or 1. */
static int
check_exit(uint8_t kind, uint8_t value, uint8_t core)
{
	if (kind == SG_EXIT_CODE)
		return core == 0 ? 0 : -EPROTO;
	if (kind == SG_EXIT_SIGNAL)
		return value >= 1 && value <= SIGNO_MAX && core <= 1 ?
		    0 : -EPROTO;
	return -EPROTO;
}

int
sg_proto_put_exit(struct sg_buf *out, uint32_t chan, uint8_t kind,
    uint8_t value, uint8_t core)
{
	uint8_t pl[3] = { kind, value, core };

	if (check_exit(kind, value, core) < 0)
		return -EINVAL;
	return sg_proto_put_frame(out, SG_MSG_EXIT, 0, chan, pl, sizeof(pl));
}

int
sg_proto_get_exit(const struct sg_msg *m, uint8_t *ret_kind,
    uint8_t *ret_value, uint8_t *ret_core)
{
	int r;

	r = check_msg(m, SG_MSG_EXIT);
	if (r < 0)
		return r;
	r = check_exit(m->payload[0], m->payload[1], m->payload[2]);
	if (r < 0)
		return r;
	*ret_kind = m->payload[0];
	*ret_value = m->payload[1];
	*ret_core = m->payload[2];
	return 0;
}

int
sg_proto_put_close(struct sg_buf *out, uint32_t chan)
{
	return sg_proto_put_frame(out, SG_MSG_CLOSE, 0, chan, NULL, 0);
}

/* ---- OPEN ---- */

static int
is_lower_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int
is_alnum(uint8_t c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* TERM: 1..64 of [A-Za-z0-9._+-] (it names a terminfo file). */
static int
check_term(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= TERM_MAX)
			return -EPROTO;
		if (!is_alnum((uint8_t)s[i]) && strchr("._+-", s[i]) == NULL)
			return -EPROTO;
	}
	return i > 0 ? 0 : -EPROTO;
}

/* Subsystem name: 1..64 of [a-z0-9._@-]. */
static int
check_subsystem(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= SUBSYSTEM_MAX)
			return -EPROTO;
		if (!is_lower_alnum((uint8_t)s[i]) &&
		    strchr("._@-", s[i]) == NULL)
			return -EPROTO;
	}
	return i > 0 ? 0 : -EPROTO;
}

/* TCP host: 1..255 of [A-Za-z0-9._:%-] (a name, an IPv4 or a bare IPv6
 * literal with an optional zone). */
static int
check_host(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= HOST_MAX)
			return -EPROTO;
		if (!is_alnum((uint8_t)s[i]) &&
		    strchr("._:%-", s[i]) == NULL)
			return -EPROTO;
	}
	return i > 0 ? 0 : -EPROTO;
}

/* "NAME=VALUE" with a non-empty NAME. */
static int
check_env(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq != NULL && eq != s ? 0 : -EPROTO;
}

/* Checks an OPEN request against the rules of its kind. Returns 0 or
 * -EPROTO; the encoder turns that into -EINVAL. */
static int
check_open(const struct sg_open *o)
{
	size_t i;

	if (o->flags & ~SG_OPEN_F_PTY)
		return -EPROTO;
	if (o->credit > SG_PROTO_MAX_WINDOW)
		return -EPROTO;
	if (o->argc > SG_PROTO_MAX_ITEMS || o->envc > SG_PROTO_MAX_ITEMS)
		return -EPROTO;
	if ((o->argc > 0 && o->argv == NULL) || (o->envc > 0 && o->env == NULL))
		return -EPROTO;
	for (i = 0; i < o->argc; i++)
		if (o->argv[i] == NULL)
			return -EPROTO;
	for (i = 0; i < o->envc; i++)
		if (o->env[i] == NULL || check_env(o->env[i]) < 0)
			return -EPROTO;
	if (!(o->flags & SG_OPEN_F_PTY) &&
	    (o->rows != 0 || o->cols != 0 || o->term != NULL))
		return -EPROTO;
	if (o->term != NULL && check_term(o->term) < 0)
		return -EPROTO;

	switch (o->kind) {
	case SG_OPEN_PROCESS:
		/* argv, or a shell command, or neither: a login shell */
		if (o->argc > 0 && o->cmd != NULL)
			return -EPROTO;
		if (o->subsystem != NULL || o->host != NULL || o->port != 0)
			return -EPROTO;
		return 0;
	case SG_OPEN_SUBSYSTEM:
		if (o->argc > 0 || o->cmd != NULL || o->host != NULL ||
		    o->port != 0)
			return -EPROTO;
		if (o->subsystem == NULL || check_subsystem(o->subsystem) < 0)
			return -EPROTO;
		return 0;
	case SG_OPEN_TCP:
		if (o->flags != 0 || o->argc > 0 || o->cmd != NULL ||
		    o->envc > 0 || o->subsystem != NULL)
			return -EPROTO;
		if (o->host == NULL || check_host(o->host) < 0 || o->port == 0)
			return -EPROTO;
		return 0;
	default:
		return -EPROTO;
	}
}

/* Adds the wire size of one string item to *sum; -EINVAL if it cannot be
 * sent. */
static int
item_size(const char *s, size_t *sum)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, UINT16_MAX + 1u);
	if (n > UINT16_MAX)
		return -EINVAL;
	*sum += OPEN_ITEM_HDR + n;
	return 0;
}

static uint8_t *
wr_item(uint8_t *p, uint8_t tag, const char *s)
{
	size_t n;

	if (s == NULL)
		return p;
	n = strlen(s);
	p = wr_u8(p, tag);
	p = wr_u16(p, (uint16_t)n);
	return wr_bytes(p, s, n);
}

int
sg_proto_put_open(struct sg_buf *out, uint32_t chan, const struct sg_open *o)
{
	size_t len = OPEN_FIXED, i;
	uint8_t *p, *start;
	int r = 0;

	if (o == NULL || check_open(o) < 0)
		return -EINVAL;
	for (i = 0; i < o->argc && r == 0; i++)
		r = item_size(o->argv[i], &len);
	for (i = 0; i < o->envc && r == 0; i++)
		r = item_size(o->env[i], &len);
	if (r == 0)
		r = item_size(o->cmd, &len);
	if (r == 0)
		r = item_size(o->term, &len);
	if (r == 0)
		r = item_size(o->subsystem, &len);
	if (r == 0)
		r = item_size(o->host, &len);
	if (r < 0)
		return r;
	if (o->port != 0)
		len += OPEN_ITEM_HDR + 2;
	if (len > SG_PROTO_MAX_PAYLOAD)
		return -EINVAL;

	r = frame_begin(out, SG_MSG_OPEN, 0, chan, len, &p);
	if (r < 0)
		return r;
	start = p;
	p = wr_u8(p, o->kind);
	p = wr_u8(p, o->flags);
	p = wr_u16(p, o->rows);
	p = wr_u16(p, o->cols);
	p = wr_u32(p, o->credit);
	/* items in ascending tag order: the decoder insists on it */
	for (i = 0; i < o->argc; i++)
		p = wr_item(p, TAG_ARGV, o->argv[i]);
	p = wr_item(p, TAG_CMD, o->cmd);
	for (i = 0; i < o->envc; i++)
		p = wr_item(p, TAG_ENV, o->env[i]);
	p = wr_item(p, TAG_TERM, o->term);
	p = wr_item(p, TAG_SUBSYSTEM, o->subsystem);
	p = wr_item(p, TAG_HOST, o->host);
	if (o->port != 0) {
		p = wr_u8(p, TAG_PORT);
		p = wr_u16(p, 2);
		p = wr_u16(p, o->port);
	}
	if ((size_t)(p - start) != len)
		abort();	/* size computation and writer disagree */
	sg_buf_commit(out, SG_PROTO_HDR_LEN + len);
	return 0;
}

void
sg_open_free(struct sg_open *o)
{
	size_t i;

	if (o == NULL)
		return;
	if (o->argv != NULL)
		for (i = 0; o->argv[i] != NULL; i++)
			free(o->argv[i]);
	free(o->argv);
	if (o->env != NULL)
		for (i = 0; o->env[i] != NULL; i++)
			free(o->env[i]);
	free(o->env);
	free(o->cmd);
	free(o->term);
	free(o->subsystem);
	free(o->host);
	free(o);
}

static char *
dup_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Walks the OPEN items once to check their framing: known tags, ascending
 * order (argv and env may repeat), no NUL in strings, a 2-byte port, at
 * most SG_PROTO_MAX_ITEMS argv and env entries. Fills the counts. */
static int
scan_open_items(struct sg_cur *c, size_t *ret_argc, size_t *ret_envc)
{
	size_t argc = 0, envc = 0;
	uint8_t tag, prev = 0;
	const uint8_t *v;
	uint16_t n;

	while (c->n > 0) {
		tag = sg_cur_u8(c);
		n = sg_cur_u16(c);
		v = sg_cur_bytes(c, n);
		if (c->err || tag < TAG_ARGV || tag > TAG_PORT)
			return -EPROTO;
		if (tag < prev || (tag == prev && tag != TAG_ARGV &&
		    tag != TAG_ENV))
			return -EPROTO;
		prev = tag;
		if (tag == TAG_PORT) {
			if (n != 2)
				return -EPROTO;
			continue;
		}
		if (memchr(v, '\0', n) != NULL)
			return -EPROTO;
		if (tag == TAG_ARGV && ++argc > SG_PROTO_MAX_ITEMS)
			return -EPROTO;
		if (tag == TAG_ENV && ++envc > SG_PROTO_MAX_ITEMS)
			return -EPROTO;
	}
	*ret_argc = argc;
	*ret_envc = envc;
	return 0;
}

int
sg_proto_get_open(const struct sg_msg *m, struct sg_open **ret)
{
	struct sg_open *o = NULL;
	struct sg_cur c, items;
	size_t argc, envc;
	const uint8_t *v;
	char **slot;
	uint8_t tag;
	uint16_t n;
	int r;

	r = check_msg(m, SG_MSG_OPEN);
	if (r < 0)
		return r;
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		return -ENOMEM;
	sg_cur_init(&c, m->payload, m->len);
	o->kind = sg_cur_u8(&c);
	o->flags = sg_cur_u8(&c);
	o->rows = sg_cur_u16(&c);
	o->cols = sg_cur_u16(&c);
	o->credit = sg_cur_u32(&c);
	if (c.err) {
		r = -EPROTO;
		goto fail;
	}
	items = c;
	r = scan_open_items(&items, &argc, &envc);
	if (r < 0)
		goto fail;
	if (argc > 0) {
		o->argv = calloc(argc + 1, sizeof(*o->argv));
		if (o->argv == NULL) {
			r = -ENOMEM;
			goto fail;
		}
	}
	o->env = calloc(envc + 1, sizeof(*o->env));
	if (o->env == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	/* Second pass: the framing is known good, copy the strings. */
	while (c.n > 0) {
		tag = sg_cur_u8(&c);
		n = sg_cur_u16(&c);
		v = sg_cur_bytes(&c, n);
		switch (tag) {
		case TAG_ARGV:
			slot = &o->argv[o->argc++];
			break;
		case TAG_ENV:
			slot = &o->env[o->envc++];
			break;
		case TAG_CMD:
			slot = &o->cmd;
			break;
		case TAG_TERM:
			slot = &o->term;
			break;
		case TAG_SUBSYSTEM:
			slot = &o->subsystem;
			break;
		case TAG_HOST:
			slot = &o->host;
			break;
		default:	/* TAG_PORT */
			o->port = (uint16_t)(v[0] << 8 | v[1]);
			if (o->port == 0) {
				r = -EPROTO;
				goto fail;
			}
			continue;
		}
		*slot = dup_bytes(v, n);
		if (*slot == NULL) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = check_open(o);
	if (r < 0)
		goto fail;
	*ret = o;
	return 0;
fail:
	sg_open_free(o);
	return r;
}

/* ---- CONFIG ---- */

struct sg_config_item {
	char *key;
	char *value;
};

struct sg_config {
	struct sg_config_item *items;
	size_t n, cap;
	size_t wire;	/* payload bytes the items take on the wire */
};

struct sg_config *
sg_config_new(void)
{
	return calloc(1, sizeof(struct sg_config));
}

void
sg_config_free(struct sg_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->items[i].key);
		free(c->items[i].value);
	}
	free(c->items);
	free(c);
}

/* Key: 1..32 of [a-z0-9_]; value: at most 16 KiB without NUL. */
static int
check_config_item(const uint8_t *k, size_t klen, const uint8_t *v,
    size_t vlen)
{
	size_t i;

	if (klen == 0 || klen > CONFIG_KEY_MAX || vlen > CONFIG_VALUE_MAX)
		return -EPROTO;
	for (i = 0; i < klen; i++)
		if (!is_lower_alnum(k[i]) && k[i] != '_')
			return -EPROTO;
	if (memchr(v, '\0', vlen) != NULL)
		return -EPROTO;
	return 0;
}

/* Appends a checked item, copying key and value. Returns 0, -E2BIG when
 * the list is full (count or frame size) or -ENOMEM. */
static int
config_push(struct sg_config *c, const uint8_t *k, size_t klen,
    const uint8_t *v, size_t vlen)
{
	struct sg_config_item *ni, it = { NULL, NULL };
	size_t wire = CONFIG_ITEM_HDR + klen + vlen, ncap;

	if (c->n >= SG_PROTO_MAX_ITEMS || wire > SG_PROTO_MAX_PAYLOAD - c->wire)
		return -E2BIG;
	if (c->n == c->cap) {
		ncap = c->cap ? c->cap * 2 : 8;
		ni = realloc(c->items, ncap * sizeof(*ni));
		if (ni == NULL)
			return -ENOMEM;
		c->items = ni;
		c->cap = ncap;
	}
	it.key = dup_bytes(k, klen);
	it.value = dup_bytes(v, vlen);
	if (it.key == NULL || it.value == NULL) {
		free(it.key);
		free(it.value);
		return -ENOMEM;
	}
	c->items[c->n++] = it;
	c->wire += wire;
	return 0;
}

int
sg_config_add(struct sg_config *c, const char *key, const char *value)
{
	size_t klen, vlen;

	if (c == NULL || key == NULL || value == NULL)
		return -EINVAL;
	klen = strnlen(key, CONFIG_KEY_MAX + 1);
	vlen = strnlen(value, CONFIG_VALUE_MAX + 1);
	if (check_config_item((const uint8_t *)key, klen,
	    (const uint8_t *)value, vlen) < 0)
		return -EINVAL;
	return config_push(c, (const uint8_t *)key, klen,
	    (const uint8_t *)value, vlen);
}

size_t
sg_config_count(const struct sg_config *c)
{
	return c != NULL ? c->n : 0;
}

const char *
sg_config_key(const struct sg_config *c, size_t i)
{
	return c != NULL && i < c->n ? c->items[i].key : NULL;
}

const char *
sg_config_value(const struct sg_config *c, size_t i)
{
	return c != NULL && i < c->n ? c->items[i].value : NULL;
}

int
sg_proto_put_config(struct sg_buf *out, const struct sg_config *c)
{
	uint8_t *p, *start;
	size_t i, klen, vlen;
	int r;

	if (c == NULL)
		return -EINVAL;
	r = frame_begin(out, SG_MSG_CONFIG, 0, 0, c->wire, &p);
	if (r < 0)
		return r;
	start = p;
	for (i = 0; i < c->n; i++) {
		klen = strlen(c->items[i].key);
		vlen = strlen(c->items[i].value);
		p = wr_u8(p, (uint8_t)klen);
		p = wr_bytes(p, c->items[i].key, klen);
		p = wr_u16(p, (uint16_t)vlen);
		p = wr_bytes(p, c->items[i].value, vlen);
	}
	if ((size_t)(p - start) != c->wire)
		abort();	/* the running size is out of step */
	sg_buf_commit(out, SG_PROTO_HDR_LEN + c->wire);
	return 0;
}

int
sg_proto_get_config(const struct sg_msg *m, struct sg_config **ret)
{
	struct sg_config *cfg = NULL;
	const uint8_t *k, *v;
	struct sg_cur c;
	uint8_t klen;
	uint16_t vlen;
	int r;

	r = check_msg(m, SG_MSG_CONFIG);
	if (r < 0)
		return r;
	cfg = sg_config_new();
	if (cfg == NULL)
		return -ENOMEM;
	sg_cur_init(&c, m->payload, m->len);
	while (c.n > 0) {
		klen = sg_cur_u8(&c);
		k = sg_cur_bytes(&c, klen);
		vlen = sg_cur_u16(&c);
		v = sg_cur_bytes(&c, vlen);
		if (c.err || check_config_item(k, klen, v, vlen) < 0) {
			r = -EPROTO;
			goto fail;
		}
		r = config_push(cfg, k, klen, v, vlen);
		if (r == -E2BIG)
			r = -EPROTO;
		if (r < 0)
			goto fail;
	}
	*ret = cfg;
	return 0;
fail:
	sg_config_free(cfg);
	return r;
}

const char *
sg_proto_type_name(uint8_t type)
{
	const struct msg_rule *r = find_rule(type);

	return r != NULL ? r->name : "?";
}
