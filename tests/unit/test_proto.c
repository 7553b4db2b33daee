/* Unit tests for common/proto.c: round trips of every message, one test
 * per rejection rule, truncation at every length, HELLO resync, and the
 * encoders' all-or-nothing appends. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/proto.h"

#define BIG (2 * SG_PROTO_MAX_FRAME)

/* ---- helpers ---- */

static struct sg_buf *
newbuf(void)
{
	struct sg_buf *b = sg_buf_new(BIG);

	assert_non_null(b);
	return b;
}

/* Decodes the one frame b holds, which must fill it exactly. */
static struct sg_msg
one_frame(const struct sg_buf *b)
{
	struct sg_msg m;

	assert_int_equal(sg_proto_peek(sg_buf_data(b), sg_buf_len(b), &m), 1);
	assert_int_equal(SG_PROTO_HDR_LEN + m.len, sg_buf_len(b));
	return m;
}

/* Appends a frame header with any values at all (no checks). */
static void
raw_hdr(struct sg_buf *b, uint16_t magic, uint8_t type, uint8_t stream,
    uint32_t chan, uint32_t len)
{
	assert_int_equal(sg_buf_put_u16(b, magic), 0);
	assert_int_equal(sg_buf_put_u8(b, type), 0);
	assert_int_equal(sg_buf_put_u8(b, stream), 0);
	assert_int_equal(sg_buf_put_u32(b, chan), 0);
	assert_int_equal(sg_buf_put_u32(b, len), 0);
}

/* Runs the typed decoder of m's type; 0 for types without one. */
static int
decode_any(const struct sg_msg *m)
{
	struct sg_open *o = NULL;
	struct sg_config *c = NULL;
	uint16_t a, b, x, y;
	uint64_t u64;
	uint32_t u32, v32;
	uint8_t k, v, w;
	const char *s;
	size_t n;
	int r;

	switch (m->type) {
	case SG_MSG_HELLO:
		return sg_proto_get_hello(m, &a, &b, &u64);
	case SG_MSG_HELLO_ACK:
		return sg_proto_get_hello_ack(m, &a, &u64);
	case SG_MSG_CONFIG:
		r = sg_proto_get_config(m, &c);
		sg_config_free(c);
		return r;
	case SG_MSG_CONFIG_ACK:
		return sg_proto_get_config_ack(m, &u32, &s, &n);
	case SG_MSG_PING:
	case SG_MSG_PONG:
		return sg_proto_get_u64(m, &u64);
	case SG_MSG_OPEN:
		r = sg_proto_get_open(m, &o);
		sg_open_free(o);
		return r;
	case SG_MSG_OPEN_OK:
		return sg_proto_get_open_ok(m, &u32, &v32);
	case SG_MSG_OPEN_FAIL:
		return sg_proto_get_open_fail(m, &u32, &s, &n);
	case SG_MSG_CREDIT:
		return sg_proto_get_u32(m, &u32);
	case SG_MSG_RESIZE:
		return sg_proto_get_resize(m, &a, &b, &x, &y);
	case SG_MSG_SIGNAL:
		return sg_proto_get_signal(m, &k);
	case SG_MSG_EXIT:
		return sg_proto_get_exit(m, &k, &v, &w);
	default:
		return 0;
	}
}

/* OPEN payload pieces. */
static void
open_fixed(struct sg_buf *b, uint8_t kind, uint8_t flags, uint16_t rows,
    uint16_t cols, uint32_t credit)
{
	assert_int_equal(sg_buf_put_u8(b, kind), 0);
	assert_int_equal(sg_buf_put_u8(b, flags), 0);
	assert_int_equal(sg_buf_put_u16(b, rows), 0);
	assert_int_equal(sg_buf_put_u16(b, cols), 0);
	assert_int_equal(sg_buf_put_u32(b, credit), 0);
}

static void
tlv_n(struct sg_buf *b, uint8_t tag, const void *v, size_t n)
{
	assert_int_equal(sg_buf_put_u8(b, tag), 0);
	assert_int_equal(sg_buf_put_u16(b, (uint16_t)n), 0);
	assert_int_equal(sg_buf_put(b, v, n), 0);
}

static void
tlv(struct sg_buf *b, uint8_t tag, const char *s)
{
	tlv_n(b, tag, s, strlen(s));
}

static void
tlv_port(struct sg_buf *b, uint16_t port)
{
	uint8_t p[2] = { (uint8_t)(port >> 8), (uint8_t)port };

	tlv_n(b, 7, p, 2);
}

static void
cfg_item_n(struct sg_buf *b, const char *k, size_t klen, const void *v,
    size_t vlen)
{
	assert_int_equal(sg_buf_put_u8(b, (uint8_t)klen), 0);
	assert_int_equal(sg_buf_put(b, k, klen), 0);
	assert_int_equal(sg_buf_put_u16(b, (uint16_t)vlen), 0);
	assert_int_equal(sg_buf_put(b, v, vlen), 0);
}

static void
cfg_item(struct sg_buf *b, const char *k, const char *v)
{
	cfg_item_n(b, k, strlen(k), v, strlen(v));
}

static void
fill(struct sg_buf *b, uint8_t c, size_t n)
{
	while (n-- > 0)
		assert_int_equal(sg_buf_put_u8(b, c), 0);
}

/* ---- round trips ---- */

static void
test_hello(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	uint16_t vmin, vmax;
	uint64_t nonce;

	assert_int_equal(sg_proto_put_hello(b, 0x0123456789abcdefULL), 0);
	assert_int_equal(sg_buf_len(b), 32);
	m = one_frame(b);
	assert_int_equal(m.type, SG_MSG_HELLO);
	assert_int_equal(m.chan, 0);
	assert_int_equal(sg_proto_get_hello(&m, &vmin, &vmax, &nonce), 0);
	assert_int_equal(vmin, SG_PROTO_VERSION_MIN);
	assert_int_equal(vmax, SG_PROTO_VERSION);
	assert_true(nonce == 0x0123456789abcdefULL);
	/* the frame is what find_hello looks for */
	assert_int_equal(sg_proto_find_hello(sg_buf_data(b), sg_buf_len(b)), 0);
	assert_memory_equal(sg_buf_data(b),
	    "\x53\x47\x01\x00\x00\x00\x00\x00\x00\x00\x00\x14sandgate"
	    "\x00\x01\x00\x02\x01\x23\x45\x67\x89\xab\xcd\xef", 32);
	/* the version both speak, or none */
	assert_int_equal(sg_proto_version_pick(1, 1), 1);
	assert_int_equal(sg_proto_version_pick(1, 9), SG_PROTO_VERSION);
	assert_int_equal(sg_proto_version_pick(SG_PROTO_VERSION + 1, 9), 0);
	assert_int_equal(sg_proto_version_pick(0, 0), 0);
	assert_int_equal(sg_proto_version_pick(2, 1), 0);
	sg_buf_free(b);
}

static void
test_hello_ack(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	uint16_t v;
	uint64_t nonce;
	char ver[65];

	assert_int_equal(sg_proto_put_hello_ack(b, 1, 42, "sandgate-agent 0.1.0"), 0);
	m = one_frame(b);
	assert_int_equal(m.type, SG_MSG_HELLO_ACK);
	assert_int_equal(sg_proto_get_hello_ack(&m, &v, &nonce), 0);
	assert_int_equal(v, 1);
	assert_int_equal(nonce, 42);
	assert_int_equal(m.len, 10 + 20);
	assert_memory_equal(m.payload + 10, "sandgate-agent 0.1.0", 20);
	sg_buf_reset(b);
	/* no version string, and the longest one */
	assert_int_equal(sg_proto_put_hello_ack(b, 7, 0, NULL), 0);
	m = one_frame(b);
	assert_int_equal(m.len, 10);
	assert_int_equal(sg_proto_get_hello_ack(&m, &v, &nonce), 0);
	assert_int_equal(v, 7);
	sg_buf_reset(b);
	memset(ver, 'v', 64);
	ver[64] = '\0';
	assert_int_equal(sg_proto_put_hello_ack(b, 1, 1, ver), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_hello_ack(&m, &v, &nonce), 0);
	sg_buf_free(b);
}

static void
test_ping_pong(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	uint64_t c;

	assert_int_equal(sg_proto_put_ping(b, SG_MSG_PING, UINT64_MAX), 0);
	m = one_frame(b);
	assert_int_equal(m.type, SG_MSG_PING);
	assert_int_equal(sg_proto_get_u64(&m, &c), 0);
	assert_true(c == UINT64_MAX);
	sg_buf_reset(b);
	assert_int_equal(sg_proto_put_ping(b, SG_MSG_PONG, 5), 0);
	m = one_frame(b);
	assert_int_equal(m.type, SG_MSG_PONG);
	assert_int_equal(sg_proto_get_u64(&m, &c), 0);
	assert_int_equal(c, 5);
	assert_int_equal(sg_proto_put_ping(b, SG_MSG_DATA, 5), -EINVAL);
	sg_buf_free(b);
}

static void
test_config(void **state)
{
	static const char *kv[][2] = {
		{ "hostname", "box-1" },
		{ "time", "1700000000.123456789" },
		{ "env", "LANG=C.UTF-8" },
		{ "env", "OPENAI_API_KEY=SANDGATE_SECRET_00ff" },
		{ "sandbox_id", "a1b2c3" },
		{ "image", "minimal" },
		{ "ip", "10.200.0.2/30" },
		{ "gateway", "10.200.0.1" },
		{ "dns", "10.200.0.1" },
		{ "ca", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
		{ "home", "/root" },
		{ "empty", "" },
	};
	size_t n = sizeof(kv) / sizeof(kv[0]), i;
	struct sg_config *c = sg_config_new(), *d = NULL;
	struct sg_buf *b = newbuf();
	struct sg_msg m;

	assert_non_null(c);
	for (i = 0; i < n; i++)
		assert_int_equal(sg_config_add(c, kv[i][0], kv[i][1]), 0);
	assert_int_equal(sg_config_count(c), n);
	assert_int_equal(sg_proto_put_config(b, c), 0);
	m = one_frame(b);
	assert_int_equal(m.type, SG_MSG_CONFIG);
	assert_int_equal(sg_proto_get_config(&m, &d), 0);
	assert_int_equal(sg_config_count(d), n);
	for (i = 0; i < n; i++) {
		assert_string_equal(sg_config_key(d, i), kv[i][0]);
		assert_string_equal(sg_config_value(d, i), kv[i][1]);
	}
	assert_null(sg_config_key(d, n));
	assert_null(sg_config_value(d, n));
	assert_null(sg_config_key(NULL, 0));
	assert_int_equal(sg_config_count(NULL), 0);
	sg_config_free(d);
	d = NULL;
	sg_config_free(c);

	/* empty CONFIG */
	c = sg_config_new();
	sg_buf_reset(b);
	assert_int_equal(sg_proto_put_config(b, c), 0);
	m = one_frame(b);
	assert_int_equal(m.len, 0);
	assert_int_equal(sg_proto_get_config(&m, &d), 0);
	assert_int_equal(sg_config_count(d), 0);
	sg_config_free(d);
	sg_config_free(c);
	sg_config_free(NULL);
	sg_buf_free(b);
}

static void
test_poweroff_notice(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	const char *s;
	uint32_t secs;
	uint8_t kind;
	size_t n;

	(void)state;
	assert_int_equal(sg_proto_put_poweroff(b, 90), 0);
	m = one_frame(b);
	assert_int_equal(m.type, SG_MSG_POWEROFF);
	assert_int_equal(sg_proto_get_poweroff(&m, &secs), 0);
	assert_int_equal(secs, 90);
	sg_buf_reset(b);
	assert_int_equal(sg_proto_put_notice(b, SG_NOTICE_EXPIRED,
	    "expired\r\n"), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_notice(&m, &kind, &s, &n), 0);
	assert_int_equal(kind, SG_NOTICE_EXPIRED);
	assert_int_equal(n, 9);
	assert_memory_equal(s, "expired??", 9);
	/* unknown kinds: neither sent nor taken */
	assert_int_equal(sg_proto_put_notice(b, 0, "x"), -EINVAL);
	assert_int_equal(sg_proto_put_notice(b, 5, "x"), -EINVAL);
	((uint8_t *)m.payload)[0] = 9;
	assert_int_equal(sg_proto_get_notice(&m, &kind, &s, &n), -EPROTO);
	/* a control byte from a peer is refused */
	((uint8_t *)m.payload)[0] = SG_NOTICE_WARN;
	((uint8_t *)m.payload)[3] = '\n';
	assert_int_equal(sg_proto_get_notice(&m, &kind, &s, &n), -EPROTO);
	/* the decoders check the type */
	assert_int_equal(sg_proto_get_poweroff(&m, &secs), -EPROTO);
	sg_buf_free(b);
}

static void
test_config_ack(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	const char *s;
	uint32_t st;
	size_t n;
	char long_msg[2000];

	assert_int_equal(sg_proto_put_config_ack(b, 0, "ok"), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_config_ack(&m, &st, &s, &n), 0);
	assert_int_equal(st, 0);
	assert_int_equal(n, 2);
	assert_memory_equal(s, "ok", 2);
	sg_buf_reset(b);
	/* control characters become '?', long text is cut at 1024 */
	assert_int_equal(sg_proto_put_config_ack(b, EIO, "bad\nline\x1b[2J"), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_config_ack(&m, &st, &s, &n), 0);
	assert_int_equal(st, EIO);
	assert_int_equal(n, 12);
	assert_memory_equal(s, "bad?line?[2J", 12);
	sg_buf_reset(b);
	memset(long_msg, 'x', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	assert_int_equal(sg_proto_put_config_ack(b, 0, long_msg), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_config_ack(&m, &st, &s, &n), 0);
	assert_int_equal(n, 1024);
	sg_buf_reset(b);
	assert_int_equal(sg_proto_put_config_ack(b, 0, NULL), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_config_ack(&m, &st, &s, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sg_proto_put_config_ack(b, 4096, "x"), -EINVAL);
	sg_buf_free(b);
}

static void
check_open_eq(const struct sg_open *a, const struct sg_open *b)
{
	size_t i;

	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->rows, b->rows);
	assert_int_equal(a->cols, b->cols);
	assert_int_equal(a->credit, b->credit);
	assert_int_equal(a->argc, b->argc);
	for (i = 0; i < a->argc; i++)
		assert_string_equal(a->argv[i], b->argv[i]);
	assert_int_equal(a->envc, b->envc);
	for (i = 0; i < a->envc; i++)
		assert_string_equal(a->env[i], b->env[i]);
#define SAME_STR(f) do { \
	if (a->f == NULL) assert_null(b->f); \
	else assert_string_equal(a->f, b->f); } while (0)
	SAME_STR(cmd);
	SAME_STR(term);
	SAME_STR(subsystem);
	SAME_STR(host);
#undef SAME_STR
	assert_int_equal(a->port, b->port);
}

static void
open_round_trip(const struct sg_open *o)
{
	struct sg_buf *b = newbuf();
	struct sg_open *d = NULL;
	struct sg_msg m;

	assert_int_equal(sg_proto_put_open(b, 9, o), 0);
	m = one_frame(b);
	assert_int_equal(m.type, SG_MSG_OPEN);
	assert_int_equal(m.chan, 9);
	assert_int_equal(sg_proto_get_open(&m, &d), 0);
	check_open_eq(o, d);
	assert_non_null(d->env);
	assert_null(d->env[d->envc]);
	if (d->argc > 0)
		assert_null(d->argv[d->argc]);
	else
		assert_null(d->argv);
	sg_open_free(d);
	sg_buf_free(b);
}

static void
test_open_process_argv(void **state)
{
	char *argv[] = { "ls", "-l", "", "/tmp", NULL };
	char *env[] = { "A=1", "B=", "LANG=C.UTF-8", NULL };
	struct sg_open o = {
		.kind = SG_OPEN_PROCESS, .flags = SG_OPEN_F_PTY,
		.rows = 24, .cols = 80, .credit = SG_PROTO_MAX_WINDOW,
		.argv = argv, .argc = 4, .env = env, .envc = 3,
		.term = "xterm-256color",
	};

	open_round_trip(&o);
}

static void
test_open_process_cmd(void **state)
{
	struct sg_open o = {
		.kind = SG_OPEN_PROCESS, .credit = 65536,
		.cmd = "echo hi; exit 7",
	};

	open_round_trip(&o);
	o.cmd = "";	/* `ssh host ''` still runs the shell */
	open_round_trip(&o);
}

static void
test_open_login_shell(void **state)
{
	struct sg_open o = { .kind = SG_OPEN_PROCESS, .credit = 0 };

	open_round_trip(&o);
	o.flags = SG_OPEN_F_PTY;	/* pty with an unknown size */
	open_round_trip(&o);
}

static void
test_open_subsystem(void **state)
{
	char *env[] = { "X=y", NULL };
	struct sg_open o = {
		.kind = SG_OPEN_SUBSYSTEM, .credit = 1024,
		.env = env, .envc = 1, .subsystem = "sftp",
	};

	open_round_trip(&o);
	o.subsystem = "my-sub.v2@example.com";
	open_round_trip(&o);
}

static void
test_open_tcp(void **state)
{
	struct sg_open o = {
		.kind = SG_OPEN_TCP, .credit = 4096,
		.host = "127.0.0.1", .port = 8080,
	};

	open_round_trip(&o);
	o.host = "fe80::1%eth0";
	o.port = 65535;
	open_round_trip(&o);
}

static void
test_open_max_items(void **state)
{
	char *argv[SG_PROTO_MAX_ITEMS + 1], *env[SG_PROTO_MAX_ITEMS + 1];
	struct sg_open o = { .kind = SG_OPEN_PROCESS };
	size_t i;

	for (i = 0; i < SG_PROTO_MAX_ITEMS; i++) {
		argv[i] = "a";
		env[i] = "E=1";
	}
	argv[i] = NULL;
	env[i] = NULL;
	o.argv = argv;
	o.argc = SG_PROTO_MAX_ITEMS;
	o.env = env;
	o.envc = SG_PROTO_MAX_ITEMS;
	open_round_trip(&o);
	o.argc = SG_PROTO_MAX_ITEMS + 1;	/* too many: refused */
	{
		struct sg_buf *b = newbuf();
		char *argv2[SG_PROTO_MAX_ITEMS + 2];

		for (i = 0; i <= SG_PROTO_MAX_ITEMS; i++)
			argv2[i] = "a";
		argv2[i] = NULL;
		o.argv = argv2;
		assert_int_equal(sg_proto_put_open(b, 1, &o), -EINVAL);
		assert_int_equal(sg_buf_len(b), 0);
		sg_buf_free(b);
	}
}

static void
test_open_ok(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	uint32_t credit, pid;

	assert_int_equal(sg_proto_put_open_ok(b, 3, 65536, 1234), 0);
	m = one_frame(b);
	assert_int_equal(m.chan, 3);
	assert_int_equal(sg_proto_get_open_ok(&m, &credit, &pid), 0);
	assert_int_equal(credit, 65536);
	assert_int_equal(pid, 1234);
	assert_int_equal(sg_proto_put_open_ok(b, 3, SG_PROTO_MAX_WINDOW + 1, 1),
	    -EINVAL);
	assert_int_equal(sg_proto_put_open_ok(b, 0, 1, 1), -EINVAL);
	sg_buf_free(b);
}

static void
test_open_fail(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	const char *s;
	uint32_t err;
	size_t n;

	assert_int_equal(sg_proto_put_open_fail(b, 4, ENOENT,
	    "exec /bin/nope: No such file or directory"), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_open_fail(&m, &err, &s, &n), 0);
	assert_int_equal(err, ENOENT);
	assert_int_equal(n, strlen("exec /bin/nope: No such file or directory"));
	assert_memory_equal(s, "exec /bin/nope", 14);
	assert_int_equal(sg_proto_put_open_fail(b, 4, 0, "x"), -EINVAL);
	assert_int_equal(sg_proto_put_open_fail(b, 4, 4096, "x"), -EINVAL);
	sg_buf_free(b);
}

static void
test_data_eof(void **state)
{
	struct sg_buf *b = newbuf();
	static uint8_t big[SG_PROTO_DATA_CHUNK];
	struct sg_msg m;
	uint8_t s;

	for (s = 0; s <= SG_STREAM_STDERR; s++) {
		sg_buf_reset(b);
		assert_int_equal(sg_proto_put_data(b, 77, s, "hello", 5), 0);
		m = one_frame(b);
		assert_int_equal(m.type, SG_MSG_DATA);
		assert_int_equal(m.stream, s);
		assert_int_equal(m.chan, 77);
		assert_int_equal(m.len, 5);
		assert_memory_equal(m.payload, "hello", 5);
		sg_buf_reset(b);
		assert_int_equal(sg_proto_put_eof(b, 77, s), 0);
		m = one_frame(b);
		assert_int_equal(m.type, SG_MSG_EOF);
		assert_int_equal(m.stream, s);
		assert_int_equal(m.len, 0);
	}
	sg_buf_reset(b);
	memset(big, 0xa5, sizeof(big));
	assert_int_equal(sg_proto_put_data(b, 1, 1, big, sizeof(big)), 0);
	m = one_frame(b);
	assert_int_equal(m.len, SG_PROTO_DATA_CHUNK);
	assert_int_equal(sg_proto_put_data(b, 1, 1, big, 0), -EINVAL);
	assert_int_equal(sg_proto_put_data(b, 1, 3, big, 1), -EINVAL);
	assert_int_equal(sg_proto_put_data(b, 0, 1, big, 1), -EINVAL);
	assert_int_equal(sg_proto_put_eof(b, 1, 3), -EINVAL);
	sg_buf_free(b);
}

static void
test_credit(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	uint32_t n;

	assert_int_equal(sg_proto_put_credit(b, 5, SG_PROTO_MAX_WINDOW), 0);
	m = one_frame(b);
	assert_int_equal(m.stream, 0);
	assert_int_equal(sg_proto_get_u32(&m, &n), 0);
	assert_int_equal(n, SG_PROTO_MAX_WINDOW);
	assert_int_equal(sg_proto_put_credit(b, 5, 0), -EINVAL);
	assert_int_equal(sg_proto_put_credit(b, 5, SG_PROTO_MAX_WINDOW + 1),
	    -EINVAL);
	sg_buf_free(b);
}

static void
test_resize(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	uint16_t r, c, x, y;

	assert_int_equal(sg_proto_put_resize(b, 2, 50, 132, 1024, 768), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_resize(&m, &r, &c, &x, &y), 0);
	assert_int_equal(r, 50);
	assert_int_equal(c, 132);
	assert_int_equal(x, 1024);
	assert_int_equal(y, 768);
	sg_buf_free(b);
}

static void
test_signal(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	uint8_t s;

	assert_int_equal(sg_proto_put_signal(b, 2, 15), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_signal(&m, &s), 0);
	assert_int_equal(s, 15);
	assert_int_equal(sg_proto_put_signal(b, 2, 0), -EINVAL);
	assert_int_equal(sg_proto_put_signal(b, 2, 65), -EINVAL);
	sg_buf_free(b);
}

static void
test_exit(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;
	uint8_t k, v, c;

	assert_int_equal(sg_proto_put_exit(b, 2, SG_EXIT_CODE, 255, 0), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_exit(&m, &k, &v, &c), 0);
	assert_int_equal(k, SG_EXIT_CODE);
	assert_int_equal(v, 255);
	assert_int_equal(c, 0);
	sg_buf_reset(b);
	assert_int_equal(sg_proto_put_exit(b, 2, SG_EXIT_SIGNAL, 11, 1), 0);
	m = one_frame(b);
	assert_int_equal(sg_proto_get_exit(&m, &k, &v, &c), 0);
	assert_int_equal(k, SG_EXIT_SIGNAL);
	assert_int_equal(v, 11);
	assert_int_equal(c, 1);
	assert_int_equal(sg_proto_put_exit(b, 2, 2, 0, 0), -EINVAL);
	assert_int_equal(sg_proto_put_exit(b, 2, SG_EXIT_CODE, 0, 1), -EINVAL);
	assert_int_equal(sg_proto_put_exit(b, 2, SG_EXIT_SIGNAL, 0, 0), -EINVAL);
	assert_int_equal(sg_proto_put_exit(b, 2, SG_EXIT_SIGNAL, 65, 0), -EINVAL);
	assert_int_equal(sg_proto_put_exit(b, 2, SG_EXIT_SIGNAL, 9, 2), -EINVAL);
	sg_buf_free(b);
}

static void
test_close(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;

	assert_int_equal(sg_proto_put_close(b, 0xffffffffu), 0);
	m = one_frame(b);
	assert_int_equal(m.type, SG_MSG_CLOSE);
	assert_int_equal(m.chan, 0xffffffffu);
	assert_int_equal(m.len, 0);
	assert_int_equal(sg_proto_put_close(b, 0), -EINVAL);
	sg_buf_free(b);
}

static void
test_put_frame(void **state)
{
	struct sg_buf *b = newbuf();
	static uint8_t big[SG_PROTO_MAX_PAYLOAD + 1];
	struct sg_msg m;

	assert_int_equal(sg_proto_put_frame(b, SG_MSG_CONFIG, 0, 0, big,
	    SG_PROTO_MAX_PAYLOAD + 1), -EINVAL);
	assert_int_equal(sg_buf_len(b), 0);
	/* a whole-size CONFIG frame of zero bytes is not a valid CONFIG, but
	 * it is a valid frame */
	assert_int_equal(sg_proto_put_frame(b, SG_MSG_CONFIG, 0, 0, big,
	    SG_PROTO_MAX_PAYLOAD), 0);
	m = one_frame(b);
	assert_int_equal(m.len, SG_PROTO_MAX_PAYLOAD);
	assert_int_equal(sg_proto_put_frame(b, 99, 0, 0, NULL, 0), -EINVAL);
	assert_int_equal(sg_proto_put_frame(b, SG_MSG_PING, 0, 1, big, 8),
	    -EINVAL);
	assert_int_equal(sg_proto_put_frame(b, SG_MSG_PING, 0, 0, NULL, 8),
	    -EINVAL);
	assert_int_equal(sg_buf_len(b), SG_PROTO_MAX_FRAME);
	sg_buf_free(b);
}

static void
test_type_name(void **state)
{
	assert_string_equal(sg_proto_type_name(SG_MSG_HELLO), "HELLO");
	assert_string_equal(sg_proto_type_name(SG_MSG_OPEN_FAIL), "OPEN_FAIL");
	assert_string_equal(sg_proto_type_name(SG_MSG_CLOSE), "CLOSE");
	assert_string_equal(sg_proto_type_name(0), "?");
	assert_string_equal(sg_proto_type_name(200), "?");
}

static void
test_several_frames(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m;

	assert_int_equal(sg_proto_put_hello(b, 1), 0);
	assert_int_equal(sg_proto_put_data(b, 1, 0, "x", 1), 0);
	assert_int_equal(sg_proto_put_close(b, 1), 0);
	assert_int_equal(sg_proto_peek(sg_buf_data(b), sg_buf_len(b), &m), 1);
	assert_int_equal(m.type, SG_MSG_HELLO);
	sg_buf_consume(b, SG_PROTO_HDR_LEN + m.len);
	assert_int_equal(sg_proto_peek(sg_buf_data(b), sg_buf_len(b), &m), 1);
	assert_int_equal(m.type, SG_MSG_DATA);
	sg_buf_consume(b, SG_PROTO_HDR_LEN + m.len);
	assert_int_equal(sg_proto_peek(sg_buf_data(b), sg_buf_len(b), &m), 1);
	assert_int_equal(m.type, SG_MSG_CLOSE);
	sg_buf_consume(b, SG_PROTO_HDR_LEN + m.len);
	assert_int_equal(sg_proto_peek(sg_buf_data(b), sg_buf_len(b), &m), 0);
	assert_int_equal(sg_proto_peek(NULL, 0, &m), 0);
	sg_buf_free(b);
}

/* ---- every encoder: -ENOBUFS leaves the buffer as it was ---- */

typedef int (*put_fn)(struct sg_buf *);

static int put_hello1(struct sg_buf *b) { return sg_proto_put_hello(b, 9); }
static int put_hack1(struct sg_buf *b)
{
	return sg_proto_put_hello_ack(b, 1, 9, "agent 1");
}
static int put_ping1(struct sg_buf *b)
{
	return sg_proto_put_ping(b, SG_MSG_PING, 9);
}
static int put_cack1(struct sg_buf *b)
{
	return sg_proto_put_config_ack(b, 0, "configured");
}
static int put_ook1(struct sg_buf *b)
{
	return sg_proto_put_open_ok(b, 1, 2, 3);
}
static int put_ofail1(struct sg_buf *b)
{
	return sg_proto_put_open_fail(b, 1, EPERM, "no");
}
static int put_data1(struct sg_buf *b)
{
	return sg_proto_put_data(b, 1, 1, "abc", 3);
}
static int put_eof1(struct sg_buf *b) { return sg_proto_put_eof(b, 1, 1); }
static int put_credit1(struct sg_buf *b)
{
	return sg_proto_put_credit(b, 1, 100);
}
static int put_resize1(struct sg_buf *b)
{
	return sg_proto_put_resize(b, 1, 1, 2, 3, 4);
}
static int put_signal1(struct sg_buf *b)
{
	return sg_proto_put_signal(b, 1, 9);
}
static int put_exit1(struct sg_buf *b)
{
	return sg_proto_put_exit(b, 1, 0, 3, 0);
}
static int put_close1(struct sg_buf *b) { return sg_proto_put_close(b, 1); }
static int put_open1(struct sg_buf *b)
{
	char *argv[] = { "true", NULL };
	struct sg_open o = { .kind = SG_OPEN_PROCESS, .argv = argv,
	    .argc = 1, .credit = 10 };

	return sg_proto_put_open(b, 1, &o);
}
static int put_config1(struct sg_buf *b)
{
	struct sg_config *c = sg_config_new();
	int r;

	assert_int_equal(sg_config_add(c, "hostname", "h"), 0);
	r = sg_proto_put_config(b, c);
	sg_config_free(c);
	return r;
}
static int put_frame1(struct sg_buf *b)
{
	return sg_proto_put_frame(b, SG_MSG_PONG, 0, 0, "12345678", 8);
}

static void
test_enobufs(void **state)
{
	static const put_fn fns[] = {
		put_hello1, put_hack1, put_ping1, put_cack1, put_ook1,
		put_ofail1, put_data1, put_eof1, put_credit1, put_resize1,
		put_signal1, put_exit1, put_close1, put_open1, put_config1,
		put_frame1,
	};
	size_t i, need, room;

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		struct sg_buf *b = newbuf();

		assert_int_equal(fns[i](b), 0);
		need = sg_buf_len(b);
		sg_buf_free(b);
		/* a buffer already holding 5 bytes, with one byte too few */
		for (room = 0; room < need; room++) {
			b = sg_buf_new(5 + room);
			assert_int_equal(sg_buf_put(b, "junk!", 5), 0);
			assert_int_equal(fns[i](b), -ENOBUFS);
			assert_int_equal(sg_buf_len(b), 5);
			assert_memory_equal(sg_buf_data(b), "junk!", 5);
			sg_buf_free(b);
		}
		b = sg_buf_new(5 + need);
		assert_int_equal(sg_buf_put(b, "junk!", 5), 0);
		assert_int_equal(fns[i](b), 0);
		assert_int_equal(sg_buf_len(b), 5 + need);
		sg_buf_free(b);
	}
}

/* ---- truncation: every prefix of a valid frame needs more bytes, and
 * every shortened payload is either rejected or (for variable-length
 * types cut at an item boundary) still valid. ---- */

static void
test_truncated(void **state)
{
	static const put_fn fns[] = {
		put_hello1, put_hack1, put_ping1, put_cack1, put_ook1,
		put_ofail1, put_data1, put_eof1, put_credit1, put_resize1,
		put_signal1, put_exit1, put_close1, put_open1, put_config1,
		put_frame1,
	};
	size_t i, k;

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		struct sg_buf *b = newbuf();
		struct sg_msg m, t;
		const uint8_t *d;
		uint8_t *copy;
		size_t n;

		assert_int_equal(fns[i](b), 0);
		d = sg_buf_data(b);
		n = sg_buf_len(b);
		for (k = 0; k < n; k++) {
			/* an exact-size heap copy, so ASan sees over-reads */
			copy = malloc(k ? k : 1);
			memcpy(copy, d, k);
			assert_int_equal(sg_proto_peek(copy, k, &m), 0);
			free(copy);
		}
		m = one_frame(b);
		for (k = 0; k < m.len; k++) {
			copy = malloc(k ? k : 1);
			memcpy(copy, m.payload, k);
			t = m;
			t.payload = copy;
			t.len = (uint32_t)k;
			switch (m.type) {
			case SG_MSG_OPEN:
			case SG_MSG_CONFIG:
			case SG_MSG_CONFIG_ACK:
			case SG_MSG_OPEN_FAIL:
			case SG_MSG_HELLO_ACK:
			case SG_MSG_DATA:
				(void)decode_any(&t);
				break;
			default:
				assert_int_equal(decode_any(&t), -EPROTO);
			}
			free(copy);
		}
		sg_buf_free(b);
	}
}

static void
test_truncated_open_items(void **state)
{
	struct sg_buf *pl = newbuf(), *f;
	struct sg_msg m;
	size_t k, full;

	open_fixed(pl, SG_OPEN_PROCESS, 0, 0, 0, 1);
	tlv(pl, 1, "/bin/echo");
	tlv(pl, 1, "hello world");
	full = sg_buf_len(pl);
	/* cut inside an item (not at a boundary): always rejected */
	for (k = 11; k < full; k++) {
		if (k == 10 + 3 + 9)
			continue;	/* boundary after argv[0] */
		f = newbuf();
		raw_hdr(f, SG_PROTO_MAGIC, SG_MSG_OPEN, 0, 1, (uint32_t)k);
		assert_int_equal(sg_buf_put(f, sg_buf_data(pl), k), 0);
		m = one_frame(f);
		assert_int_equal(decode_any(&m), -EPROTO);
		sg_buf_free(f);
	}
	sg_buf_free(pl);
}

/* ---- find_hello ---- */

static void
test_find_hello(void **state)
{
	struct sg_buf *h = newbuf(), *b = newbuf();
	const uint8_t *hd;
	size_t i, n;

	assert_int_equal(sg_proto_put_hello(h, 77), 0);
	hd = sg_buf_data(h);
	n = sg_buf_len(h);

	/* nothing there */
	assert_int_equal(sg_proto_find_hello(NULL, 0), 0);
	assert_int_equal(sg_proto_find_hello((const uint8_t *)"xyz", 3), 3);
	/* junk, including look-alikes, then a HELLO */
	assert_int_equal(sg_buf_put(b, "\x53\x53\x47\x02junk\x53\x47\x01\x00"
	    "\x00\x00\x00\x00\x00\x00\x00\x14sandgatX", 28), 0);
	assert_int_equal(sg_buf_put(b, hd, n), 0);
	assert_int_equal(sg_proto_find_hello(sg_buf_data(b), sg_buf_len(b)),
	    28);
	/* a HELLO at the start is found at once; the first of two wins */
	assert_int_equal(sg_buf_put(b, hd, n), 0);
	assert_int_equal(sg_proto_find_hello(sg_buf_data(b), sg_buf_len(b)),
	    28);
	assert_int_equal(sg_proto_find_hello(sg_buf_data(b) + 28,
	    sg_buf_len(b) - 28), 0);
	/* a partial HELLO at the tail: every cut keeps its offset */
	for (i = 1; i <= n; i++) {
		sg_buf_reset(b);
		assert_int_equal(sg_buf_put(b, "garbage\x53", 8), 0);
		assert_int_equal(sg_buf_put(b, hd, i), 0);
		assert_int_equal(sg_proto_find_hello(sg_buf_data(b),
		    sg_buf_len(b)), 8);
	}
	/* a tail that stops matching is skipped */
	sg_buf_reset(b);
	assert_int_equal(sg_buf_put(b, hd, 10), 0);
	assert_int_equal(sg_buf_put_u8(b, 0x99), 0);
	assert_int_equal(sg_proto_find_hello(sg_buf_data(b), sg_buf_len(b)),
	    11);
	/* then the found offset peeks as a HELLO */
	sg_buf_reset(b);
	assert_int_equal(sg_buf_put(b, "\0\0\0", 3), 0);
	assert_int_equal(sg_buf_put(b, hd, n), 0);
	{
		struct sg_msg m;
		size_t off = sg_proto_find_hello(sg_buf_data(b), sg_buf_len(b));

		assert_int_equal(off, 3);
		assert_int_equal(sg_proto_peek(sg_buf_data(b), sg_buf_len(b), &m),
		    -EPROTO);
		assert_int_equal(sg_proto_peek(sg_buf_data(b) + off,
		    sg_buf_len(b) - off, &m), 1);
		assert_int_equal(m.type, SG_MSG_HELLO);
	}
	sg_buf_free(h);
	sg_buf_free(b);
}

/* ---- rejections, one case each ---- */

enum expect { PEEK_REJECT, DECODE_REJECT };

struct reject_case {
	const char *name;
	enum expect expect;
	uint8_t type, stream;
	uint32_t chan;
	void (*build)(struct sg_buf *pl);	/* payload */
	uint32_t len_override;			/* header len if non-zero */
	uint16_t magic_override;
};

/* payload builders */
static void pl_none(struct sg_buf *b) { (void)b; }
static void pl_1(struct sg_buf *b) { fill(b, 1, 1); }
static void pl_2(struct sg_buf *b) { fill(b, 1, 2); }
static void pl_3(struct sg_buf *b) { fill(b, 1, 3); }
static void pl_4(struct sg_buf *b) { fill(b, 1, 4); }
static void pl_5(struct sg_buf *b) { fill(b, 1, 5); }
static void pl_7(struct sg_buf *b) { fill(b, 1, 7); }
static void pl_8(struct sg_buf *b) { fill(b, 1, 8); }
static void pl_9(struct sg_buf *b) { fill(b, 1, 9); }
static void pl_data_big(struct sg_buf *b)
{
	fill(b, 'x', SG_PROTO_DATA_CHUNK + 1);
}

static void
hello_pl(struct sg_buf *b, const char *magic, uint16_t vmin, uint16_t vmax)
{
	assert_int_equal(sg_buf_put(b, magic, 8), 0);
	assert_int_equal(sg_buf_put_u16(b, vmin), 0);
	assert_int_equal(sg_buf_put_u16(b, vmax), 0);
	assert_int_equal(sg_buf_put_u64(b, 1), 0);
}
static void pl_hello_ok(struct sg_buf *b) { hello_pl(b, "sandgate", 1, 1); }
static void pl_hello_19(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put(b, "sandgate\0\1\0\1\0\0\0\0\0\0\0", 19), 0);
}
static void pl_hello_21(struct sg_buf *b) { pl_hello_ok(b); fill(b, 0, 1); }
static void pl_hello_magic(struct sg_buf *b) { hello_pl(b, "sandgat3", 1, 1); }
static void pl_hello_vmin0(struct sg_buf *b) { hello_pl(b, "sandgate", 0, 1); }
static void pl_hello_vrange(struct sg_buf *b) { hello_pl(b, "sandgate", 3, 2); }

static void
hack_pl(struct sg_buf *b, uint16_t v, const void *s, size_t n)
{
	assert_int_equal(sg_buf_put_u16(b, v), 0);
	assert_int_equal(sg_buf_put_u64(b, 1), 0);
	assert_int_equal(sg_buf_put(b, s, n), 0);
}
static void pl_hack_v0(struct sg_buf *b) { hack_pl(b, 0, "a", 1); }
static void pl_hack_long(struct sg_buf *b)
{
	hack_pl(b, 1, "", 0);
	fill(b, 'a', 65);
}
static void pl_hack_ctl(struct sg_buf *b) { hack_pl(b, 1, "a\nb", 3); }
static void pl_hack_nul(struct sg_buf *b) { hack_pl(b, 1, "a\0b", 3); }
static void pl_hack_short(struct sg_buf *b) { fill(b, 1, 9); }

static void pl_cack_status(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, 4096), 0);
}
static void pl_cack_ctl(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, 0), 0);
	assert_int_equal(sg_buf_put(b, "a\x1b", 2), 0);
}
static void pl_cack_nul(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, 0), 0);
	assert_int_equal(sg_buf_put(b, "a\0", 2), 0);
}
static void pl_text_long(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, 1), 0);
	fill(b, 'm', 1025);
}

static void pl_ook_window(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, SG_PROTO_MAX_WINDOW + 1), 0);
	assert_int_equal(sg_buf_put_u32(b, 1), 0);
}
static void pl_ofail_err0(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, 0), 0);
	assert_int_equal(sg_buf_put(b, "x", 1), 0);
}
static void pl_ofail_errbig(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, 4096), 0);
}
static void pl_ofail_nul(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, 2), 0);
	assert_int_equal(sg_buf_put(b, "no\0pe", 5), 0);
}
static void pl_ofail_ctl(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, 2), 0);
	assert_int_equal(sg_buf_put(b, "no\rpe", 5), 0);
}

static void pl_u32_0(struct sg_buf *b) { assert_int_equal(sg_buf_put_u32(b, 0), 0); }
static void pl_u32_big(struct sg_buf *b)
{
	assert_int_equal(sg_buf_put_u32(b, SG_PROTO_MAX_WINDOW + 1), 0);
}
static void pl_sig0(struct sg_buf *b) { fill(b, 0, 1); }
static void pl_sig65(struct sg_buf *b) { fill(b, 65, 1); }
static void exit_pl(struct sg_buf *b, uint8_t k, uint8_t v, uint8_t c)
{
	uint8_t x[3] = { k, v, c };

	assert_int_equal(sg_buf_put(b, x, 3), 0);
}
static void pl_exit_kind(struct sg_buf *b) { exit_pl(b, 2, 0, 0); }
static void pl_exit_core(struct sg_buf *b) { exit_pl(b, 0, 1, 1); }
static void pl_exit_sig0(struct sg_buf *b) { exit_pl(b, 1, 0, 0); }
static void pl_exit_sig65(struct sg_buf *b) { exit_pl(b, 1, 65, 0); }
static void pl_exit_core2(struct sg_buf *b) { exit_pl(b, 1, 9, 2); }

/* OPEN payloads */
static void pl_open_short(struct sg_buf *b) { fill(b, 1, 9); }
static void pl_open_kind0(struct sg_buf *b) { open_fixed(b, 0, 0, 0, 0, 0); }
static void pl_open_kind4(struct sg_buf *b) { open_fixed(b, 4, 0, 0, 0, 0); }
static void pl_open_flags(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0x02, 0, 0, 0);
}
static void pl_open_credit(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, SG_PROTO_MAX_WINDOW + 1);
}
static void pl_open_argv_cmd(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 1, "ls");
	tlv(b, 2, "ls");
}
static void pl_open_argv_nul(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv_n(b, 1, "l\0s", 3);
}
static void pl_open_cmd_nul(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv_n(b, 2, "ls\0", 3);
}
static void pl_open_argv_many(struct sg_buf *b)
{
	size_t i;

	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	for (i = 0; i <= SG_PROTO_MAX_ITEMS; i++)
		tlv(b, 1, "a");
}
static void pl_open_env_many(struct sg_buf *b)
{
	size_t i;

	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	for (i = 0; i <= SG_PROTO_MAX_ITEMS; i++)
		tlv(b, 3, "A=1");
}
static void pl_open_env_noeq(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 3, "NOEQUALS");
}
static void pl_open_env_noname(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 3, "=value");
}
static void pl_open_env_nul(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv_n(b, 3, "A=\0", 3);
}
static void pl_open_term_nopty(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 4, "xterm");
}
static void pl_open_size_nopty(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 24, 80, 0);
}
static void pl_open_term_bad(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, SG_OPEN_F_PTY, 24, 80, 0);
	tlv(b, 4, "../../x");
}
static void pl_open_term_empty(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, SG_OPEN_F_PTY, 24, 80, 0);
	tlv(b, 4, "");
}
static void pl_open_term_long(struct sg_buf *b)
{
	char t[66];

	memset(t, 'x', 65);
	t[65] = '\0';
	open_fixed(b, SG_OPEN_PROCESS, SG_OPEN_F_PTY, 24, 80, 0);
	tlv(b, 4, t);
}
static void pl_open_proc_sub(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 5, "sftp");
}
static void pl_open_proc_host(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 6, "localhost");
	tlv_port(b, 22);
}
static void pl_open_sub_missing(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_SUBSYSTEM, 0, 0, 0, 0);
}
static void pl_open_sub_bad(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_SUBSYSTEM, 0, 0, 0, 0);
	tlv(b, 5, "SFTP");
}
static void pl_open_sub_slash(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_SUBSYSTEM, 0, 0, 0, 0);
	tlv(b, 5, "../bin/sh");
}
static void pl_open_sub_long(struct sg_buf *b)
{
	char s[66];

	memset(s, 's', 65);
	s[65] = '\0';
	open_fixed(b, SG_OPEN_SUBSYSTEM, 0, 0, 0, 0);
	tlv(b, 5, s);
}
static void pl_open_sub_argv(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_SUBSYSTEM, 0, 0, 0, 0);
	tlv(b, 1, "x");
	tlv(b, 5, "sftp");
}
static void pl_open_tcp_nohost(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_TCP, 0, 0, 0, 0);
	tlv_port(b, 80);
}
static void pl_open_tcp_emptyhost(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_TCP, 0, 0, 0, 0);
	tlv(b, 6, "");
	tlv_port(b, 80);
}
static void pl_open_tcp_longhost(struct sg_buf *b)
{
	char h[257];

	memset(h, 'h', 256);
	h[256] = '\0';
	open_fixed(b, SG_OPEN_TCP, 0, 0, 0, 0);
	tlv(b, 6, h);
	tlv_port(b, 80);
}
static void pl_open_tcp_badhost(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_TCP, 0, 0, 0, 0);
	tlv(b, 6, "a b");
	tlv_port(b, 80);
}
static void pl_open_tcp_port0(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_TCP, 0, 0, 0, 0);
	tlv(b, 6, "localhost");
	tlv_port(b, 0);
}
static void pl_open_tcp_noport(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_TCP, 0, 0, 0, 0);
	tlv(b, 6, "localhost");
}
static void pl_open_tcp_portlen(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_TCP, 0, 0, 0, 0);
	tlv(b, 6, "localhost");
	tlv_n(b, 7, "\0\0\x50", 3);
}
static void pl_open_tcp_pty(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_TCP, SG_OPEN_F_PTY, 0, 0, 0);
	tlv(b, 6, "localhost");
	tlv_port(b, 80);
}
static void pl_open_tcp_env(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_TCP, 0, 0, 0, 0);
	tlv(b, 3, "A=1");
	tlv(b, 6, "localhost");
	tlv_port(b, 80);
}
static void pl_open_unknown_tag(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 8, "x");
}
static void pl_open_tag0(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 0, "x");
}
static void pl_open_dup_cmd(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 2, "a");
	tlv(b, 2, "b");
}
static void pl_open_order(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	tlv(b, 3, "A=1");
	tlv(b, 1, "ls");
}
static void pl_open_item_trunc(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	assert_int_equal(sg_buf_put_u8(b, 1), 0);
	assert_int_equal(sg_buf_put_u16(b, 10), 0);
	assert_int_equal(sg_buf_put(b, "abc", 3), 0);
}
static void pl_open_item_hdr_trunc(struct sg_buf *b)
{
	open_fixed(b, SG_OPEN_PROCESS, 0, 0, 0, 0);
	assert_int_equal(sg_buf_put(b, "\x01\x00", 2), 0);
}

/* CONFIG payloads */
static void pl_cfg_key_empty(struct sg_buf *b) { cfg_item(b, "", "v"); }
static void pl_cfg_key_long(struct sg_buf *b)
{
	cfg_item(b, "abcdefghijklmnopqrstuvwxyz0123456", "v");
}
static void pl_cfg_key_upper(struct sg_buf *b) { cfg_item(b, "Hostname", "v"); }
static void pl_cfg_key_dash(struct sg_buf *b) { cfg_item(b, "host-name", "v"); }
static void pl_cfg_key_nul(struct sg_buf *b)
{
	cfg_item_n(b, "ho\0st", 5, "v", 1);
}
static void pl_cfg_val_nul(struct sg_buf *b)
{
	cfg_item_n(b, "hostname", 8, "a\0b", 3);
}
static void pl_cfg_val_long(struct sg_buf *b)
{
	static char v[16385];

	memset(v, 'v', sizeof(v));
	cfg_item_n(b, "ca", 2, v, sizeof(v));
}
static void pl_cfg_trunc(struct sg_buf *b)
{
	cfg_item(b, "hostname", "box");
	assert_int_equal(sg_buf_put(b, "\x04time\x00", 6), 0);
}
static void pl_cfg_many(struct sg_buf *b)
{
	size_t i;

	for (i = 0; i <= SG_PROTO_MAX_ITEMS; i++)
		cfg_item(b, "env", "A=1");
}

#define PEEK(n, t, s, c, f) { n, PEEK_REJECT, t, s, c, f, 0, 0 }
#define DEC(n, t, s, c, f) { n, DECODE_REJECT, t, s, c, f, 0, 0 }

static const struct reject_case reject_cases[] = {
	/* header */
	{ "bad_magic", PEEK_REJECT, SG_MSG_PING, 0, 0, pl_8, 0, 0x4753 },
	{ "bad_magic_second_byte", PEEK_REJECT, SG_MSG_PING, 0, 0, pl_8, 0, 0x5348 },
	PEEK("type_0", 0, 0, 0, pl_8),
	PEEK("type_9", 9, 0, 0, pl_8),
	PEEK("poweroff_len_8", SG_MSG_POWEROFF, 0, 0, pl_8),
	PEEK("notice_on_chan", SG_MSG_NOTICE, 0, 1, pl_8),
	PEEK("type_15", 15, 0, 0, pl_8),
	PEEK("type_19", 19, 0, 1, pl_8),
	PEEK("type_39", 39, 0, 1, pl_none),
	PEEK("type_255", 255, 0, 1, pl_none),
	PEEK("data_stream_3", SG_MSG_DATA, 3, 1, pl_1),
	PEEK("eof_stream_3", SG_MSG_EOF, 3, 1, pl_none),
	PEEK("close_stream_1", SG_MSG_CLOSE, 1, 1, pl_none),
	PEEK("credit_stream_1", SG_MSG_CREDIT, 1, 1, pl_4),
	PEEK("open_stream_2", SG_MSG_OPEN, 2, 1, pl_open_kind0),
	PEEK("ping_stream_1", SG_MSG_PING, 1, 0, pl_8),
	{ "len_over_max", PEEK_REJECT, SG_MSG_CONFIG, 0, 0, pl_none,
	    SG_PROTO_MAX_PAYLOAD + 1, 0 },
	{ "len_huge", PEEK_REJECT, SG_MSG_CONFIG, 0, 0, pl_none,
	    0xffffffffu, 0 },
	PEEK("hello_on_chan", SG_MSG_HELLO, 0, 1, pl_hello_ok),
	PEEK("hello_ack_on_chan", SG_MSG_HELLO_ACK, 0, 1, pl_hack_short),
	PEEK("config_on_chan", SG_MSG_CONFIG, 0, 1, pl_none),
	PEEK("config_ack_on_chan", SG_MSG_CONFIG_ACK, 0, 1, pl_4),
	PEEK("ping_on_chan", SG_MSG_PING, 0, 0x01000000, pl_8),
	PEEK("pong_on_chan", SG_MSG_PONG, 0, 1, pl_8),
	PEEK("open_chan_0", SG_MSG_OPEN, 0, 0, pl_open_kind0),
	PEEK("open_ok_chan_0", SG_MSG_OPEN_OK, 0, 0, pl_8),
	PEEK("open_fail_chan_0", SG_MSG_OPEN_FAIL, 0, 0, pl_4),
	PEEK("data_chan_0", SG_MSG_DATA, 1, 0, pl_1),
	PEEK("eof_chan_0", SG_MSG_EOF, 1, 0, pl_none),
	PEEK("credit_chan_0", SG_MSG_CREDIT, 0, 0, pl_4),
	PEEK("resize_chan_0", SG_MSG_RESIZE, 0, 0, pl_8),
	PEEK("signal_chan_0", SG_MSG_SIGNAL, 0, 0, pl_1),
	PEEK("exit_chan_0", SG_MSG_EXIT, 0, 0, pl_3),
	PEEK("close_chan_0", SG_MSG_CLOSE, 0, 0, pl_none),
	/* exact lengths */
	PEEK("hello_len_19", SG_MSG_HELLO, 0, 0, pl_hello_19),
	PEEK("hello_len_21", SG_MSG_HELLO, 0, 0, pl_hello_21),
	PEEK("hello_ack_len_9", SG_MSG_HELLO_ACK, 0, 0, pl_hack_short),
	PEEK("hello_ack_version_65", SG_MSG_HELLO_ACK, 0, 0, pl_hack_long),
	PEEK("config_ack_len_3", SG_MSG_CONFIG_ACK, 0, 0, pl_3),
	PEEK("config_ack_text_1025", SG_MSG_CONFIG_ACK, 0, 0, pl_text_long),
	PEEK("ping_len_7", SG_MSG_PING, 0, 0, pl_7),
	PEEK("pong_len_9", SG_MSG_PONG, 0, 0, pl_9),
	PEEK("open_len_9", SG_MSG_OPEN, 0, 1, pl_open_short),
	PEEK("open_ok_len_7", SG_MSG_OPEN_OK, 0, 1, pl_7),
	PEEK("open_ok_len_9", SG_MSG_OPEN_OK, 0, 1, pl_9),
	PEEK("open_fail_len_3", SG_MSG_OPEN_FAIL, 0, 1, pl_3),
	PEEK("open_fail_text_1025", SG_MSG_OPEN_FAIL, 0, 1, pl_text_long),
	PEEK("data_empty", SG_MSG_DATA, 1, 1, pl_none),
	PEEK("data_over_chunk", SG_MSG_DATA, 1, 1, pl_data_big),
	PEEK("eof_len_1", SG_MSG_EOF, 1, 1, pl_1),
	PEEK("credit_len_3", SG_MSG_CREDIT, 0, 1, pl_3),
	PEEK("credit_len_5", SG_MSG_CREDIT, 0, 1, pl_5),
	PEEK("resize_len_7", SG_MSG_RESIZE, 0, 1, pl_7),
	PEEK("signal_len_0", SG_MSG_SIGNAL, 0, 1, pl_none),
	PEEK("signal_len_2", SG_MSG_SIGNAL, 0, 1, pl_2),
	PEEK("exit_len_2", SG_MSG_EXIT, 0, 1, pl_2),
	PEEK("exit_len_4", SG_MSG_EXIT, 0, 1, pl_4),
	PEEK("close_len_1", SG_MSG_CLOSE, 0, 1, pl_1),
	/* HELLO, HELLO_ACK, CONFIG_ACK values */
	DEC("hello_bad_magic", SG_MSG_HELLO, 0, 0, pl_hello_magic),
	DEC("hello_vmin_0", SG_MSG_HELLO, 0, 0, pl_hello_vmin0),
	DEC("hello_vmin_over_vmax", SG_MSG_HELLO, 0, 0, pl_hello_vrange),
	DEC("hello_ack_version_0", SG_MSG_HELLO_ACK, 0, 0, pl_hack_v0),
	DEC("hello_ack_version_ctl", SG_MSG_HELLO_ACK, 0, 0, pl_hack_ctl),
	DEC("hello_ack_version_nul", SG_MSG_HELLO_ACK, 0, 0, pl_hack_nul),
	DEC("config_ack_status", SG_MSG_CONFIG_ACK, 0, 0, pl_cack_status),
	DEC("config_ack_ctl", SG_MSG_CONFIG_ACK, 0, 0, pl_cack_ctl),
	DEC("config_ack_nul", SG_MSG_CONFIG_ACK, 0, 0, pl_cack_nul),
	/* channel messages */
	DEC("open_ok_window", SG_MSG_OPEN_OK, 0, 1, pl_ook_window),
	DEC("open_fail_err_0", SG_MSG_OPEN_FAIL, 0, 1, pl_ofail_err0),
	DEC("open_fail_err_4096", SG_MSG_OPEN_FAIL, 0, 1, pl_ofail_errbig),
	DEC("open_fail_nul", SG_MSG_OPEN_FAIL, 0, 1, pl_ofail_nul),
	DEC("open_fail_ctl", SG_MSG_OPEN_FAIL, 0, 1, pl_ofail_ctl),
	DEC("credit_0", SG_MSG_CREDIT, 0, 1, pl_u32_0),
	DEC("credit_over_window", SG_MSG_CREDIT, 0, 1, pl_u32_big),
	DEC("signal_0", SG_MSG_SIGNAL, 0, 1, pl_sig0),
	DEC("signal_65", SG_MSG_SIGNAL, 0, 1, pl_sig65),
	DEC("exit_kind_2", SG_MSG_EXIT, 0, 1, pl_exit_kind),
	DEC("exit_code_with_core", SG_MSG_EXIT, 0, 1, pl_exit_core),
	DEC("exit_signal_0", SG_MSG_EXIT, 0, 1, pl_exit_sig0),
	DEC("exit_signal_65", SG_MSG_EXIT, 0, 1, pl_exit_sig65),
	DEC("exit_core_2", SG_MSG_EXIT, 0, 1, pl_exit_core2),
	/* OPEN */
	DEC("open_kind_0", SG_MSG_OPEN, 0, 1, pl_open_kind0),
	DEC("open_kind_4", SG_MSG_OPEN, 0, 1, pl_open_kind4),
	DEC("open_reserved_flags", SG_MSG_OPEN, 0, 1, pl_open_flags),
	DEC("open_credit_over_window", SG_MSG_OPEN, 0, 1, pl_open_credit),
	DEC("open_argv_and_cmd", SG_MSG_OPEN, 0, 1, pl_open_argv_cmd),
	DEC("open_argv_nul", SG_MSG_OPEN, 0, 1, pl_open_argv_nul),
	DEC("open_cmd_nul", SG_MSG_OPEN, 0, 1, pl_open_cmd_nul),
	DEC("open_argv_257", SG_MSG_OPEN, 0, 1, pl_open_argv_many),
	DEC("open_env_257", SG_MSG_OPEN, 0, 1, pl_open_env_many),
	DEC("open_env_no_equals", SG_MSG_OPEN, 0, 1, pl_open_env_noeq),
	DEC("open_env_empty_name", SG_MSG_OPEN, 0, 1, pl_open_env_noname),
	DEC("open_env_nul", SG_MSG_OPEN, 0, 1, pl_open_env_nul),
	DEC("open_term_without_pty", SG_MSG_OPEN, 0, 1, pl_open_term_nopty),
	DEC("open_size_without_pty", SG_MSG_OPEN, 0, 1, pl_open_size_nopty),
	DEC("open_term_bad_chars", SG_MSG_OPEN, 0, 1, pl_open_term_bad),
	DEC("open_term_empty", SG_MSG_OPEN, 0, 1, pl_open_term_empty),
	DEC("open_term_65", SG_MSG_OPEN, 0, 1, pl_open_term_long),
	DEC("open_process_subsystem", SG_MSG_OPEN, 0, 1, pl_open_proc_sub),
	DEC("open_process_host", SG_MSG_OPEN, 0, 1, pl_open_proc_host),
	DEC("open_subsystem_missing", SG_MSG_OPEN, 0, 1, pl_open_sub_missing),
	DEC("open_subsystem_upper", SG_MSG_OPEN, 0, 1, pl_open_sub_bad),
	DEC("open_subsystem_slash", SG_MSG_OPEN, 0, 1, pl_open_sub_slash),
	DEC("open_subsystem_65", SG_MSG_OPEN, 0, 1, pl_open_sub_long),
	DEC("open_subsystem_argv", SG_MSG_OPEN, 0, 1, pl_open_sub_argv),
	DEC("open_tcp_no_host", SG_MSG_OPEN, 0, 1, pl_open_tcp_nohost),
	DEC("open_tcp_empty_host", SG_MSG_OPEN, 0, 1, pl_open_tcp_emptyhost),
	DEC("open_tcp_host_256", SG_MSG_OPEN, 0, 1, pl_open_tcp_longhost),
	DEC("open_tcp_host_space", SG_MSG_OPEN, 0, 1, pl_open_tcp_badhost),
	DEC("open_tcp_port_0", SG_MSG_OPEN, 0, 1, pl_open_tcp_port0),
	DEC("open_tcp_no_port", SG_MSG_OPEN, 0, 1, pl_open_tcp_noport),
	DEC("open_tcp_port_len_3", SG_MSG_OPEN, 0, 1, pl_open_tcp_portlen),
	DEC("open_tcp_pty", SG_MSG_OPEN, 0, 1, pl_open_tcp_pty),
	DEC("open_tcp_env", SG_MSG_OPEN, 0, 1, pl_open_tcp_env),
	DEC("open_unknown_tag", SG_MSG_OPEN, 0, 1, pl_open_unknown_tag),
	DEC("open_tag_0", SG_MSG_OPEN, 0, 1, pl_open_tag0),
	DEC("open_duplicate_cmd", SG_MSG_OPEN, 0, 1, pl_open_dup_cmd),
	DEC("open_tags_out_of_order", SG_MSG_OPEN, 0, 1, pl_open_order),
	DEC("open_item_truncated", SG_MSG_OPEN, 0, 1, pl_open_item_trunc),
	DEC("open_item_header_truncated", SG_MSG_OPEN, 0, 1,
	    pl_open_item_hdr_trunc),
	/* CONFIG */
	DEC("config_key_empty", SG_MSG_CONFIG, 0, 0, pl_cfg_key_empty),
	DEC("config_key_33", SG_MSG_CONFIG, 0, 0, pl_cfg_key_long),
	DEC("config_key_upper", SG_MSG_CONFIG, 0, 0, pl_cfg_key_upper),
	DEC("config_key_dash", SG_MSG_CONFIG, 0, 0, pl_cfg_key_dash),
	DEC("config_key_nul", SG_MSG_CONFIG, 0, 0, pl_cfg_key_nul),
	DEC("config_value_nul", SG_MSG_CONFIG, 0, 0, pl_cfg_val_nul),
	DEC("config_value_16385", SG_MSG_CONFIG, 0, 0, pl_cfg_val_long),
	DEC("config_item_truncated", SG_MSG_CONFIG, 0, 0, pl_cfg_trunc),
	DEC("config_257_items", SG_MSG_CONFIG, 0, 0, pl_cfg_many),
};

static void
run_reject(void **state)
{
	const struct reject_case *rc = *state;
	struct sg_buf *pl = newbuf(), *f = newbuf();
	struct sg_msg m;
	uint32_t len;
	size_t k;
	int r;

	rc->build(pl);
	len = rc->len_override ? rc->len_override : (uint32_t)sg_buf_len(pl);
	raw_hdr(f, rc->magic_override ? rc->magic_override : SG_PROTO_MAGIC,
	    rc->type, rc->stream, rc->chan, len);
	assert_int_equal(sg_buf_put(f, sg_buf_data(pl), sg_buf_len(pl)), 0);
	r = sg_proto_peek(sg_buf_data(f), sg_buf_len(f), &m);
	if (rc->expect == PEEK_REJECT) {
		assert_int_equal(r, -EPROTO);
		/* a bad header is refused before its payload arrives */
		assert_int_equal(sg_proto_peek(sg_buf_data(f), SG_PROTO_HDR_LEN,
		    &m), -EPROTO);
		/* and the encoder will not write it */
		if (rc->magic_override == 0 && rc->len_override == 0)
			assert_int_equal(sg_proto_put_frame(f, rc->type,
			    rc->stream, rc->chan, sg_buf_data(pl),
			    sg_buf_len(pl)), -EINVAL);
	} else {
		assert_int_equal(r, 1);
		assert_int_equal(SG_PROTO_HDR_LEN + m.len, sg_buf_len(f));
		assert_int_equal(decode_any(&m), -EPROTO);
		/* every prefix still just asks for more bytes */
		for (k = 0; k < sg_buf_len(f); k++)
			assert_int_equal(sg_proto_peek(sg_buf_data(f), k, &m), 0);
	}
	sg_buf_free(pl);
	sg_buf_free(f);
}

/* Typed decoders refuse a message of another type. */
static void
test_wrong_type(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_msg m, t;
	struct sg_open *o = NULL;
	struct sg_config *c = NULL;
	uint64_t u64;
	uint32_t u32;
	uint16_t a;
	uint8_t k;

	assert_int_equal(sg_proto_put_ping(b, SG_MSG_PING, 1), 0);
	m = one_frame(b);
	t = m;
	t.type = SG_MSG_CREDIT;
	assert_int_equal(sg_proto_get_u64(&t, &u64), -EPROTO);
	assert_int_equal(sg_proto_get_u32(&m, &u32), -EPROTO);
	assert_int_equal(sg_proto_get_hello_ack(&m, &a, &u64), -EPROTO);
	assert_int_equal(sg_proto_get_open(&m, &o), -EPROTO);
	assert_null(o);
	assert_int_equal(sg_proto_get_config(&m, &c), -EPROTO);
	assert_null(c);
	assert_int_equal(sg_proto_get_signal(&m, &k), -EPROTO);
	assert_int_equal(sg_proto_get_u64(NULL, &u64), -EINVAL);
	sg_buf_free(b);
}

/* Encoders refuse what decoders would refuse. */
static void
test_encoder_rejects(void **state)
{
	struct sg_buf *b = newbuf();
	struct sg_config *c = sg_config_new();
	char *argv[] = { "ls", NULL }, *env[] = { "NOEQ", NULL };
	struct sg_open o = { .kind = SG_OPEN_PROCESS };
	char ver[66], big[16386];

	memset(ver, 'v', 65);
	ver[65] = '\0';
	assert_int_equal(sg_proto_put_hello_ack(b, 1, 1, ver), -EINVAL);
	assert_int_equal(sg_proto_put_hello_ack(b, 1, 1, "a\tb"), -EINVAL);
	assert_int_equal(sg_proto_put_hello_ack(b, 0, 1, "a"), -EINVAL);

	o.argv = argv;
	o.argc = 1;
	o.cmd = "ls";
	assert_int_equal(sg_proto_put_open(b, 1, &o), -EINVAL);
	o.cmd = NULL;
	o.env = env;
	o.envc = 1;
	assert_int_equal(sg_proto_put_open(b, 1, &o), -EINVAL);
	o.envc = 0;
	assert_int_equal(sg_proto_put_open(b, 0, &o), -EINVAL);
	o.kind = SG_OPEN_TCP;
	o.argc = 0;
	o.host = "localhost";
	assert_int_equal(sg_proto_put_open(b, 1, &o), -EINVAL);	/* no port */
	o.kind = SG_OPEN_SUBSYSTEM;
	o.host = NULL;
	o.subsystem = "Bad";
	assert_int_equal(sg_proto_put_open(b, 1, &o), -EINVAL);
	assert_int_equal(sg_proto_put_open(b, 1, NULL), -EINVAL);
	assert_int_equal(sg_buf_len(b), 0);

	/* config: bad keys and values, too many items, too many bytes */
	assert_int_equal(sg_config_add(c, "Bad", "v"), -EINVAL);
	assert_int_equal(sg_config_add(c, "", "v"), -EINVAL);
	assert_int_equal(sg_config_add(c, "abcdefghijklmnopqrstuvwxyz0123456",
	    "v"), -EINVAL);
	assert_int_equal(sg_config_add(c, "k", NULL), -EINVAL);
	assert_int_equal(sg_config_add(NULL, "k", "v"), -EINVAL);
	memset(big, 'x', 16385);
	big[16385] = '\0';
	assert_int_equal(sg_config_add(c, "ca", big), -EINVAL);
	big[16384] = '\0';
	assert_int_equal(sg_config_add(c, "ca", big), 0);
	assert_int_equal(sg_config_add(c, "ca", big), 0);
	assert_int_equal(sg_config_add(c, "ca", big), 0);
	/* 3 * (3 + 2 + 16384) = 49167; a fourth would pass 65536 */
	assert_int_equal(sg_config_add(c, "ca", big), -E2BIG);
	big[16384 - 40] = '\0';
	assert_int_equal(sg_config_add(c, "ca", big), 0);
	assert_int_equal(sg_proto_put_config(b, c), 0);
	assert_true(sg_buf_len(b) <= SG_PROTO_MAX_FRAME);
	assert_int_equal(sg_proto_put_config(b, NULL), -EINVAL);
	sg_config_free(c);

	c = sg_config_new();
	for (size_t i = 0; i < SG_PROTO_MAX_ITEMS; i++)
		assert_int_equal(sg_config_add(c, "env", "A=1"), 0);
	assert_int_equal(sg_config_add(c, "env", "A=1"), -E2BIG);
	sg_config_free(c);
	sg_buf_free(b);
}

#define T(f) cmocka_unit_test(f)

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		T(test_hello), T(test_hello_ack), T(test_ping_pong),
		T(test_config), T(test_config_ack), T(test_poweroff_notice),
		T(test_open_process_argv),
		T(test_open_process_cmd), T(test_open_login_shell),
		T(test_open_subsystem), T(test_open_tcp), T(test_open_max_items),
		T(test_open_ok), T(test_open_fail), T(test_data_eof),
		T(test_credit), T(test_resize), T(test_signal), T(test_exit),
		T(test_close), T(test_put_frame), T(test_type_name),
		T(test_several_frames), T(test_enobufs), T(test_truncated),
		T(test_truncated_open_items), T(test_find_hello),
		T(test_wrong_type), T(test_encoder_rejects),
	};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	size_t nrej = sizeof(reject_cases) / sizeof(reject_cases[0]);
	struct CMUnitTest *all;
	size_t i;
	int r;

	all = calloc(nfixed + nrej, sizeof(*all));
	if (all == NULL)
		return 1;
	for (i = 0; i < nfixed; i++)
		all[i] = fixed[i];
	for (i = 0; i < nrej; i++) {
		all[nfixed + i].name = reject_cases[i].name;
		all[nfixed + i].test_func = run_reject;
		all[nfixed + i].initial_state = (void *)&reject_cases[i];
	}
	r = _cmocka_run_group_tests("proto", all, nfixed + nrej, NULL, NULL);
	free(all);
	return r;
}
