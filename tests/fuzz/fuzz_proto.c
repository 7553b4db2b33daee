/* libFuzzer harness for the agent protocol decoder (common/proto.c).
 *
 * Each input is used twice:
 *  1. as a byte stream, the way the shim and the agent read it: sg_proto_peek
 *     frame after frame, resynchronising with sg_proto_find_hello after a
 *     bad header;
 *  2. as one message whose header fields come from the first 12 bytes and
 *     whose payload is all the rest, whatever the length field says, so the
 *     payload parsers (OPEN, CONFIG...) see mutated payloads directly.
 * Every typed decoder runs on every message. Whatever decodes is encoded
 * again with the matching sg_proto_put_* and must give the same bytes (the
 * encodings are canonical) and decode to the same values. Any mismatch
 * aborts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static char *
xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	CHECK(d != NULL);
	return d;
}

/* The re-encoded frame in out must carry m's header and payload. */
static void
check_same(const struct sg_buf *out, const struct sg_msg *m)
{
	struct sg_msg t;

	CHECK(sg_proto_peek(sg_buf_data(out), sg_buf_len(out), &t) == 1);
	CHECK(SG_PROTO_HDR_LEN + t.len == sg_buf_len(out));
	CHECK(t.type == m->type);
	CHECK(t.stream == m->stream);
	CHECK(t.chan == m->chan);
	CHECK(t.len == m->len);
	CHECK(m->len == 0 || memcmp(t.payload, m->payload, m->len) == 0);
}

/* The message the encoder wrote, for decoding it again. */
static struct sg_msg
reparse(const struct sg_buf *out)
{
	struct sg_msg t;

	CHECK(sg_proto_peek(sg_buf_data(out), sg_buf_len(out), &t) == 1);
	return t;
}

static int
streq_n(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_open_same(const struct sg_open *a, const struct sg_open *b)
{
	size_t i;

	CHECK(a->kind == b->kind && a->flags == b->flags);
	CHECK(a->rows == b->rows && a->cols == b->cols);
	CHECK(a->credit == b->credit && a->port == b->port);
	CHECK(a->argc == b->argc && a->envc == b->envc);
	for (i = 0; i < a->argc; i++)
		CHECK(strcmp(a->argv[i], b->argv[i]) == 0);
	CHECK(a->argc > 0 ? a->argv[a->argc] == NULL : a->argv == NULL);
	CHECK(b->argc > 0 ? b->argv[b->argc] == NULL : b->argv == NULL);
	for (i = 0; i < a->envc; i++)
		CHECK(strcmp(a->env[i], b->env[i]) == 0);
	CHECK(a->env != NULL && a->env[a->envc] == NULL);
	CHECK(streq_n(a->cmd, b->cmd));
	CHECK(streq_n(a->term, b->term));
	CHECK(streq_n(a->subsystem, b->subsystem));
	CHECK(streq_n(a->host, b->host));
}

static void
check_config_same(const struct sg_config *a, const struct sg_config *b)
{
	size_t i;

	CHECK(sg_config_count(a) == sg_config_count(b));
	for (i = 0; i < sg_config_count(a); i++) {
		CHECK(strcmp(sg_config_key(a, i), sg_config_key(b, i)) == 0);
		CHECK(strcmp(sg_config_value(a, i), sg_config_value(b, i)) == 0);
	}
	CHECK(sg_config_key(a, sg_config_count(a)) == NULL);
}

/* A decoder's answer: 0, or -EPROTO (-ENOMEM is allowed too). */
static int
rejected(int r)
{
	CHECK(r == 0 || r == -EPROTO || r == -ENOMEM);
	return r != 0;
}

/* Runs every typed decoder on m. Only the one for m's type may accept it;
 * what it accepts must round-trip. */
static void
decode_all(const struct sg_msg *m, struct sg_buf *out)
{
	uint16_t a, b, c, d, a2, b2, c2, d2;
	uint64_t u64;
	uint32_t u32, v32, u32b;
	uint8_t k, v, w, k2, v2, w2;
	const char *s, *s2;
	size_t n, n2;
	char *tmp;

	sg_buf_reset(out);
	if (!rejected(sg_proto_get_hello(m, &a, &b, &u64))) {
		uint8_t pl[20];

		CHECK(m->type == SG_MSG_HELLO);
		CHECK(a >= 1 && a <= b);
		/* no encoder takes a version range; build it by hand */
		memcpy(pl, SG_PROTO_HELLO_MAGIC, 8);
		pl[8] = (uint8_t)(a >> 8);
		pl[9] = (uint8_t)a;
		pl[10] = (uint8_t)(b >> 8);
		pl[11] = (uint8_t)b;
		for (n = 0; n < 8; n++)
			pl[12 + n] = (uint8_t)(u64 >> (56 - 8 * n));
		CHECK(sg_proto_put_frame(out, SG_MSG_HELLO, 0, 0, pl, 20) == 0);
		check_same(out, m);
		if (a == SG_PROTO_VERSION_MIN && b == SG_PROTO_VERSION) {
			sg_buf_reset(out);
			CHECK(sg_proto_put_hello(out, u64) == 0);
			check_same(out, m);
		}
		CHECK(sg_proto_find_hello(sg_buf_data(out), sg_buf_len(out)) == 0);
		sg_buf_reset(out);
	}
	if (!rejected(sg_proto_get_hello_ack(m, &a, &u64))) {
		CHECK(m->type == SG_MSG_HELLO_ACK);
		tmp = xstrndup((const char *)m->payload + 10, m->len - 10);
		CHECK(strlen(tmp) == m->len - 10);
		CHECK(sg_proto_put_hello_ack(out, a, u64, tmp) == 0);
		free(tmp);
		check_same(out, m);
		sg_buf_reset(out);
	}
	{
		struct sg_config *cfg = NULL, *cfg2 = NULL;
		struct sg_msg t;

		if (!rejected(sg_proto_get_config(m, &cfg))) {
			CHECK(m->type == SG_MSG_CONFIG);
			CHECK(sg_proto_put_config(out, cfg) == 0);
			check_same(out, m);
			t = reparse(out);
			CHECK(sg_proto_get_config(&t, &cfg2) == 0);
			check_config_same(cfg, cfg2);
			sg_config_free(cfg2);
			sg_config_free(cfg);
			sg_buf_reset(out);
		} else {
			CHECK(cfg == NULL);
		}
	}
	if (!rejected(sg_proto_get_config_ack(m, &u32, &s, &n))) {
		CHECK(m->type == SG_MSG_CONFIG_ACK);
		tmp = xstrndup(s, n);
		CHECK(strlen(tmp) == n);
		CHECK(sg_proto_put_config_ack(out, u32, tmp) == 0);
		free(tmp);
		check_same(out, m);
		CHECK(sg_proto_get_config_ack(m, &u32b, &s2, &n2) == 0);
		CHECK(u32b == u32 && n2 == n);
		sg_buf_reset(out);
	}
	if (!rejected(sg_proto_get_u64(m, &u64))) {
		CHECK(m->type == SG_MSG_PING || m->type == SG_MSG_PONG);
		CHECK(sg_proto_put_ping(out, m->type, u64) == 0);
		check_same(out, m);
		sg_buf_reset(out);
	}
	{
		struct sg_open *o = NULL, *o2 = NULL;
		struct sg_msg t;

		if (!rejected(sg_proto_get_open(m, &o))) {
			CHECK(m->type == SG_MSG_OPEN);
			CHECK(sg_proto_put_open(out, m->chan, o) == 0);
			check_same(out, m);
			t = reparse(out);
			CHECK(sg_proto_get_open(&t, &o2) == 0);
			check_open_same(o, o2);
			sg_open_free(o2);
			sg_open_free(o);
			sg_buf_reset(out);
		} else {
			CHECK(o == NULL);
		}
	}
	if (!rejected(sg_proto_get_open_ok(m, &u32, &v32))) {
		CHECK(m->type == SG_MSG_OPEN_OK);
		CHECK(sg_proto_put_open_ok(out, m->chan, u32, v32) == 0);
		check_same(out, m);
		sg_buf_reset(out);
	}
	if (!rejected(sg_proto_get_open_fail(m, &u32, &s, &n))) {
		CHECK(m->type == SG_MSG_OPEN_FAIL);
		tmp = xstrndup(s, n);
		CHECK(strlen(tmp) == n);
		CHECK(sg_proto_put_open_fail(out, m->chan, u32, tmp) == 0);
		free(tmp);
		check_same(out, m);
		sg_buf_reset(out);
	}
	if (!rejected(sg_proto_get_u32(m, &u32))) {
		struct sg_msg t;

		CHECK(m->type == SG_MSG_CREDIT);
		CHECK(sg_proto_put_credit(out, m->chan, u32) == 0);
		check_same(out, m);
		t = reparse(out);
		CHECK(sg_proto_get_u32(&t, &u32b) == 0 && u32b == u32);
		sg_buf_reset(out);
	}
	if (!rejected(sg_proto_get_resize(m, &a, &b, &c, &d))) {
		struct sg_msg t;

		CHECK(m->type == SG_MSG_RESIZE);
		CHECK(sg_proto_put_resize(out, m->chan, a, b, c, d) == 0);
		check_same(out, m);
		t = reparse(out);
		CHECK(sg_proto_get_resize(&t, &a2, &b2, &c2, &d2) == 0);
		CHECK(a == a2 && b == b2 && c == c2 && d == d2);
		sg_buf_reset(out);
	}
	if (!rejected(sg_proto_get_signal(m, &k))) {
		CHECK(m->type == SG_MSG_SIGNAL);
		CHECK(sg_proto_put_signal(out, m->chan, k) == 0);
		check_same(out, m);
		sg_buf_reset(out);
	}
	if (!rejected(sg_proto_get_poweroff(m, &u32))) {
		CHECK(m->type == SG_MSG_POWEROFF);
		CHECK(sg_proto_put_poweroff(out, u32) == 0);
		check_same(out, m);
		sg_buf_reset(out);
	}
	if (!rejected(sg_proto_get_notice(m, &k, &s, &n))) {
		CHECK(m->type == SG_MSG_NOTICE);
		tmp = xstrndup(s, n);
		CHECK(strlen(tmp) == n);
		CHECK(sg_proto_put_notice(out, k, tmp) == 0);
		free(tmp);
		check_same(out, m);
		sg_buf_reset(out);
	}
	if (!rejected(sg_proto_get_exit(m, &k, &v, &w))) {
		struct sg_msg t;

		CHECK(m->type == SG_MSG_EXIT);
		CHECK(sg_proto_put_exit(out, m->chan, k, v, w) == 0);
		check_same(out, m);
		t = reparse(out);
		CHECK(sg_proto_get_exit(&t, &k2, &v2, &w2) == 0);
		CHECK(k == k2 && v == v2 && w == w2);
		sg_buf_reset(out);
	}
}

/* A frame that sg_proto_peek accepted: check what the header promises,
 * then decode it. DATA, EOF and CLOSE have no payload decoder: peek's
 * checks are all they get, so they must re-encode as they are. */
static void
framed(const struct sg_msg *m, const uint8_t *at, struct sg_buf *out)
{
	struct sg_msg t;
	int r;

	CHECK(m->payload == at + SG_PROTO_HDR_LEN);
	CHECK(m->len <= SG_PROTO_MAX_PAYLOAD);
	CHECK(strcmp(sg_proto_type_name(m->type), "?") != 0);
	/* one byte less is "need more", never an error */
	CHECK(sg_proto_peek(at, SG_PROTO_HDR_LEN + m->len - 1, &t) == 0);
	/* the generic encoder writes any frame peek accepts */
	sg_buf_reset(out);
	CHECK(sg_proto_put_frame(out, m->type, m->stream, m->chan, m->payload,
	    m->len) == 0);
	check_same(out, m);
	sg_buf_reset(out);
	switch (m->type) {
	case SG_MSG_DATA:
		r = sg_proto_put_data(out, m->chan, m->stream, m->payload,
		    m->len);
		CHECK(r == 0);
		check_same(out, m);
		break;
	case SG_MSG_EOF:
		CHECK(sg_proto_put_eof(out, m->chan, m->stream) == 0);
		check_same(out, m);
		break;
	case SG_MSG_CLOSE:
		CHECK(sg_proto_put_close(out, m->chan) == 0);
		check_same(out, m);
		break;
	default:
		break;
	}
	decode_all(m, out);
}

static void
check_find_hello(const uint8_t *in, size_t n, const uint8_t *pat)
{
	size_t off = sg_proto_find_hello(in, n), k, i;

	CHECK(off <= n);
	if (off < n) {
		k = n - off < 20 ? n - off : 20;
		CHECK(memcmp(in + off, pat, k) == 0);
	}
	/* nothing earlier matches (bounded: this is quadratic) */
	if (n <= 2048)
		for (i = 0; i < off; i++) {
			k = n - i < 20 ? n - i : 20;
			CHECK(memcmp(in + i, pat, k) != 0);
		}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_buf *out;
	static uint8_t pat[20];
	struct sg_msg m;
	size_t off = 0, skip;
	int r;

	if (out == NULL) {
		out = sg_buf_new(2 * SG_PROTO_MAX_FRAME);
		CHECK(out != NULL);
		CHECK(sg_proto_put_hello(out, 0) == 0);
		memcpy(pat, sg_buf_data(out), sizeof(pat));
	}

	/* 1. the stream, as a receiver reads it */
	check_find_hello(data, size, pat);
	while (off < size) {
		r = sg_proto_peek(data + off, size - off, &m);
		if (r == 0)
			break;
		if (r < 0) {
			CHECK(r == -EPROTO);
			/* lost framing: skip to the next HELLO */
			skip = sg_proto_find_hello(data + off + 1, size - off - 1);
			CHECK(skip <= size - off - 1);
			off += 1 + skip;
			continue;
		}
		CHECK(r == 1);
		framed(&m, data + off, out);
		off += SG_PROTO_HDR_LEN + m.len;
	}
	CHECK(off <= size);

	/* 2. one message, the payload being everything after the header */
	if (size >= SG_PROTO_HDR_LEN && size - SG_PROTO_HDR_LEN <= UINT32_MAX) {
		m.type = data[2];
		m.stream = data[3];
		m.chan = be32(data + 4);
		m.payload = data + SG_PROTO_HDR_LEN;
		m.len = (uint32_t)(size - SG_PROTO_HDR_LEN);
		decode_all(&m, out);
	}
	sg_buf_reset(out);
	return 0;
}
