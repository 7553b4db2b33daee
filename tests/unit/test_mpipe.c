/* Unit tests for the monitor's requests to and from workers and shims
 * (common/mpipe.c): the monitor decodes them from an untrusted worker or
 * shim; the send queue that keeps the monitor from waiting; the log
 * lines a boxed process sends instead of writing stderr, and the log
 * sink (common/log.c) that sends them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/proto.h"

static struct sg_buf *
encode_auth(uint8_t type, uint8_t verified, const char *user,
    const char *x, const char *y)
{
	struct sg_mp_auth a = { .type = type, .verified = verified };
	struct sg_buf *b = sg_buf_new(SG_MP_MAX);

	assert_non_null(b);
	a.user = (char *)user;
	if (type == SG_MP_AUTH_PASSWORD) {
		a.secret = (char *)x;
	} else {
		a.keytype = (char *)x;
		a.blob = (char *)y;
	}
	assert_int_equal(sg_mp_put_auth(b, &a), 0);
	return b;
}

static void
test_auth_round_trip(void **state)
{
	struct sg_buf *b = encode_auth(SG_MP_AUTH_PASSWORD, 0, "sandbox", "sg_x", NULL);
	struct sg_mp_auth a;

	(void)state;
	assert_int_equal(sg_mp_parse_auth(SG_MP_AUTH_PASSWORD,
	    sg_buf_data(b) + 1, sg_buf_len(b) - 1, &a), 0);
	assert_string_equal(a.user, "sandbox");
	assert_string_equal(a.secret, "sg_x");
	sg_mp_auth_clear(&a);
	assert_null(a.secret);
	sg_buf_free(b);

	b = encode_auth(SG_MP_AUTH_KEY, 1, "box", "ssh-ed25519", "AAAA");
	assert_int_equal(sg_mp_parse_auth(SG_MP_AUTH_KEY,
	    sg_buf_data(b) + 1, sg_buf_len(b) - 1, &a), 0);
	assert_int_equal(a.verified, 1);
	assert_string_equal(a.keytype, "ssh-ed25519");
	assert_string_equal(a.blob, "AAAA");
	sg_mp_auth_clear(&a);
	sg_buf_free(b);
}

static void
test_auth_rejects(void **state)
{
	struct sg_buf *b = encode_auth(SG_MP_AUTH_PASSWORD, 0, "sandbox", "sg_x", NULL);
	struct sg_mp_auth a;
	uint8_t raw[64];
	size_t n = sg_buf_len(b) - 1, i;

	(void)state;
	memcpy(raw, sg_buf_data(b) + 1, n);
	/* every truncation */
	for (i = 0; i < n; i++)
		assert_int_equal(sg_mp_parse_auth(SG_MP_AUTH_PASSWORD, raw, i, &a),
		    -EPROTO);
	/* trailing byte */
	raw[n] = 0;
	assert_int_equal(sg_mp_parse_auth(SG_MP_AUTH_PASSWORD, raw, n + 1, &a),
	    -EPROTO);
	/* embedded NUL in the user name */
	raw[4] = '\0';
	assert_int_equal(sg_mp_parse_auth(SG_MP_AUTH_PASSWORD, raw, n, &a),
	    -EPROTO);
	/* unknown type */
	assert_int_equal(sg_mp_parse_auth(SG_MP_START, raw, n, &a), -EPROTO);
	sg_buf_free(b);

	/* verified must be 0 or 1 */
	b = encode_auth(SG_MP_AUTH_KEY, 1, "box", "ssh-ed25519", "AAAA");
	memcpy(raw, sg_buf_data(b) + 1, sg_buf_len(b) - 1);
	raw[0] = 2;
	assert_int_equal(sg_mp_parse_auth(SG_MP_AUTH_KEY, raw,
	    sg_buf_len(b) - 1, &a), -EPROTO);
	sg_buf_free(b);
}

static void
test_oversized_string(void **state)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX);
	char big[300];
	char *user = NULL;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sg_mp_put_str(b, big), 0);
	/* START allows at most 64 bytes of user name */
	assert_int_equal(sg_mp_parse_start(sg_buf_data(b), sg_buf_len(b), &user),
	    -EPROTO);
	assert_null(user);
	sg_buf_reset(b);
	assert_int_equal(sg_mp_put_str(b, "sandbox"), 0);
	assert_int_equal(sg_mp_parse_start(sg_buf_data(b), sg_buf_len(b), &user), 0);
	assert_string_equal(user, "sandbox");
	free(user);
	sg_buf_free(b);
}

static void
test_send_recv_fd(void **state)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX), *in = sg_buf_new(SG_MP_MAX);
	int sp[2], fd = -1, pipefd[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(sg_buf_put_u8(b, SG_MP_START), 0);
	assert_int_equal(sg_mp_put_str(b, "sandbox"), 0);
	assert_int_equal(sg_mp_send(sp[0], b, pipefd[0]), 0);
	assert_int_equal(sg_mp_recv(sp[1], in, &fd), (ssize_t)sg_buf_len(b));
	assert_true(fd >= 0);
	assert_memory_equal(sg_buf_data(in), sg_buf_data(b), sg_buf_len(b));
	close(fd);
	/* nothing more: -EAGAIN; peer gone: 0 */
	assert_int_equal(sg_mp_recv(sp[1], in, &fd), -EAGAIN);
	close(sp[0]);
	assert_int_equal(sg_mp_recv(sp[1], in, &fd), 0);
	close(sp[1]);
	close(pipefd[0]);
	close(pipefd[1]);
	sg_buf_free(b);
	sg_buf_free(in);
}

static void
test_shim_init_round_trip(void **state)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX);
	struct sg_mp_shim_init si, out;
	char *names[2] = { (char *)"api.example.com", (char *)"db.test" };
	uint8_t addrs[2][4] = { { 192, 0, 2, 1 }, { 198, 51, 100, 7 } };
	size_t len;

	(void)state;
	memset(&si, 0, sizeof(si));
	si.id = (char *)"0123456789ab";
	si.uid = 1879048200;
	si.gid = 1879048200;
	si.root = (char *)"/var/lib/sandgate/empty";
	si.boot_ms = 60000;
	si.ephemeral = 1;
	si.expires = 1800000000;
	si.dns = (char *)"192.0.2.53";
	si.nov = 2;
	si.ov_name = names;
	si.ov_addr = addrs;
	si.cfg = sg_config_new();
	assert_non_null(si.cfg);
	assert_int_equal(sg_config_add(si.cfg, "hostname", "sandbox-x"), 0);
	assert_int_equal(sg_config_add(si.cfg, "env", "A=B"), 0);
	assert_int_equal(sg_mp_put_shim_init(b, &si), 0);
	assert_int_equal(sg_buf_data(b)[0], SG_MP_SHIM_INIT);
	len = sg_buf_len(b);
	assert_int_equal(sg_mp_parse_shim_init(sg_buf_data(b) + 1, len - 1,
	    &out), 0);
	assert_string_equal(out.id, si.id);
	assert_int_equal(out.uid, si.uid);
	assert_string_equal(out.root, si.root);
	assert_int_equal(out.boot_ms, 60000);
	assert_int_equal(out.cid, 0);
	assert_int_equal(out.ephemeral, 1);
	assert_int_equal(out.expires, 1800000000);
	assert_string_equal(out.dns, "192.0.2.53");
	assert_int_equal(out.nov, 2);
	assert_string_equal(out.ov_name[1], "db.test");
	assert_memory_equal(out.ov_addr[1], addrs[1], 4);
	assert_int_equal(sg_config_count(out.cfg), 2);
	assert_string_equal(sg_config_value(out.cfg, 1), "A=B");
	sg_mp_shim_init_clear(&out);
	/* every shorter prefix, and one byte more, are refused */
	for (size_t n = 1; n < len - 1; n++)
		assert_int_equal(sg_mp_parse_shim_init(sg_buf_data(b) + 1, n,
		    &out), -EPROTO);
	assert_int_equal(sg_buf_put_u8(b, 0), 0);
	assert_int_equal(sg_mp_parse_shim_init(sg_buf_data(b) + 1, len,
	    &out), -EPROTO);
	/* another version of the requests is refused */
	sg_buf_reset(b);
	assert_int_equal(sg_mp_put_shim_init(b, &si), 0);
	((uint8_t *)sg_buf_data(b))[4] ^= 0x40;
	assert_int_equal(sg_mp_parse_shim_init(sg_buf_data(b) + 1, len - 1,
	    &out), -EPROTO);
	sg_config_free(si.cfg);
	sg_buf_free(b);
}

static void
test_shim_state(void **state)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX);
	struct sg_mp_shim_state st, out;
	size_t len;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.id = (char *)"0123456789ab";
	st.agent = SG_MP_AGENT_DOWN;
	st.links = 3;
	st.idle_s = 0;
	st.expires = 42;
	st.why = (char *)"the sandbox stopped";
	assert_int_equal(sg_mp_put_shim_state(b, &st), 0);
	len = sg_buf_len(b);
	assert_int_equal(sg_mp_parse_shim_state(sg_buf_data(b) + 1, len - 1,
	    &out), 0);
	assert_int_equal(out.version, SG_MP_SHIM_VERSION);
	assert_int_equal(out.agent, SG_MP_AGENT_DOWN);
	assert_int_equal(out.links, 3);
	assert_string_equal(out.why, "the sandbox stopped");
	sg_mp_shim_state_clear(&out);
	/* from a shim its guest may own: bad values are refused */
	((uint8_t *)sg_buf_data(b))[1 + 4 + 4 + 12] = 7;	/* agent */
	assert_int_equal(sg_mp_parse_shim_state(sg_buf_data(b) + 1, len - 1,
	    &out), -EPROTO);
	assert_int_equal(sg_mp_parse_shim_state(sg_buf_data(b) + 1, len - 2,
	    &out), -EPROTO);
	sg_buf_free(b);
}

static void
test_queue(void **state)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX), *in = sg_buf_new(SG_MP_MAX);
	struct sg_mpq *q = sg_mpq_new(64 * 1024);
	int sp[2], fd = -1, pipefd[2], r;
	size_t sent = 0, got = 0;
	ssize_t n;

	(void)state;
	assert_non_null(q);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0, sp), 0);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(sg_buf_put_u8(b, SG_MP_SHIM_LINK), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(sg_buf_put_u8(b, (uint8_t)i), 0);
	/* the peer does not read: the socket fills, then the queue, then
	 * -ENOBUFS; nothing waits */
	for (;;) {
		r = sg_mpq_send(q, sp[0], b, sent == 3 ? pipefd[0] : -1);
		if (r == -ENOBUFS)
			break;
		assert_int_equal(r, 0);
		sent++;
	}
	assert_true(sg_mpq_pending(q) > 0);
	assert_true(sg_mpq_since(q) > 0);
	/* everything arrives, in order, the descriptor with its message */
	for (;;) {
		n = sg_mp_recv(sp[1], in, &fd);
		if (n == -EAGAIN) {
			r = sg_mpq_flush(q, sp[0]);
			if (r == 0 && got == sent)
				break;
			assert_true(r == 0 || r == -EAGAIN);
			continue;
		}
		assert_int_equal(n, (ssize_t)sg_buf_len(b));
		if (got == 3) {
			assert_true(fd >= 0);
			close(fd);
		} else {
			assert_int_equal(fd, -1);
		}
		got++;
	}
	assert_int_equal(got, sent);
	assert_int_equal(sg_mpq_pending(q), 0);
	/* a peer gone: an error, not a wait */
	assert_int_equal(sg_mpq_send(q, sp[0], b, -1), 0);
	close(sp[1]);
	assert_true(sg_mpq_send(q, sp[0], b, -1) < 0);
	sg_mpq_free(q);
	close(sp[0]);
	close(pipefd[0]);
	close(pipefd[1]);
	sg_buf_free(b);
	sg_buf_free(in);
}

/* Sends text at level as a LOG line on pair sp, receives it as the
 * monitor does and decodes it into *level and out (SG_MP_LOG_MAX + 1
 * bytes). Returns the size of the datagram. */
static ssize_t
log_round_trip(int sp[2], int level, const char *text, int *ret_level,
    char *out)
{
	struct sg_buf *in = sg_buf_new(SG_MP_MAX);
	ssize_t n;
	int fd = -1;

	assert_non_null(in);
	assert_int_equal(sg_mp_send_log(sp[0], level, text), 0);
	n = sg_mp_recv(sp[1], in, &fd);
	assert_true(n >= 1);
	assert_int_equal(fd, -1);
	assert_int_equal(sg_buf_data(in)[0], SG_MP_LOG);
	assert_int_equal(sg_mp_parse_log(sg_buf_data(in) + 1, (size_t)n - 1,
	    ret_level, out), 0);
	sg_buf_free(in);
	return n;
}

static void
test_log_round_trip(void **state)
{
	char out[SG_MP_LOG_MAX + 1];
	int sp[2], level = -1;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sp), 0);
	/* type, level, u32 length, the text */
	assert_int_equal(log_round_trip(sp, SG_LOG_WARNING,
	    "client 192.0.2.7: bad packet length", &level, out), 6 + 35);
	assert_int_equal(level, SG_LOG_WARNING);
	assert_string_equal(out, "client 192.0.2.7: bad packet length");
	assert_int_equal(log_round_trip(sp, SG_LOG_DEBUG, "", &level, out), 6);
	assert_int_equal(level, SG_LOG_DEBUG);
	assert_string_equal(out, "");
	/* bytes past ASCII are text (UTF-8), not control characters */
	log_round_trip(sp, SG_LOG_INFO, "caf\xc3\xa9 \xe2\x9c\x93", &level, out);
	assert_int_equal(level, SG_LOG_INFO);
	assert_string_equal(out, "caf\xc3\xa9 \xe2\x9c\x93");
	close(sp[0]);
	close(sp[1]);
}

static void
test_log_long_line(void **state)
{
	char text[3000], out[SG_MP_LOG_MAX + 1];
	int sp[2], level;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sp), 0);
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	text[SG_MP_LOG_MAX - 1] = 'z';
	/* cut to SG_MP_LOG_MAX bytes */
	assert_int_equal(log_round_trip(sp, SG_LOG_ERR, text, &level, out),
	    6 + SG_MP_LOG_MAX);
	assert_int_equal(strlen(out), SG_MP_LOG_MAX);
	assert_int_equal(out[SG_MP_LOG_MAX - 1], 'z');
	/* exactly SG_MP_LOG_MAX: whole; one less: whole */
	text[SG_MP_LOG_MAX] = '\0';
	assert_int_equal(log_round_trip(sp, SG_LOG_ERR, text, &level, out),
	    6 + SG_MP_LOG_MAX);
	assert_string_equal(out, text);
	text[SG_MP_LOG_MAX - 1] = '\0';
	assert_int_equal(log_round_trip(sp, SG_LOG_ERR, text, &level, out),
	    6 + SG_MP_LOG_MAX - 1);
	assert_string_equal(out, text);
	close(sp[0]);
	close(sp[1]);
}

static void
test_log_masked(void **state)
{
	/* level, length 9, "a\tb\nc\x1b" "\x7f" "\0" "d" */
	static const uint8_t raw[] = { SG_LOG_INFO, 0, 0, 0, 9,
	    'a', '\t', 'b', '\n', 'c', 0x1b, 0x7f, 0x00, 'd' };
	char out[SG_MP_LOG_MAX + 1];
	int sp[2], level;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sp), 0);
	/* one line stays one line in the monitor's log: no newline, no
	 * terminal escape, no carriage return from a worker */
	log_round_trip(sp, SG_LOG_WARNING, "a\tb\r\nc\x1b[2Jd\x7f\x01", &level,
	    out);
	assert_string_equal(out, "a?b??c?[2Jd??");
	/* a NUL inside the text (which sg_mp_send_log cannot send) too */
	assert_int_equal(sg_mp_parse_log(raw, sizeof(raw), &level, out), 0);
	assert_int_equal(level, SG_LOG_INFO);
	assert_int_equal(strlen(out), 9);
	assert_string_equal(out, "a?b?c???d");
	close(sp[0]);
	close(sp[1]);
}

static void
test_log_level_clamped(void **state)
{
	static const struct { int sent, got; } cases[] = {
		{ SG_LOG_ERR, SG_LOG_ERR }, { SG_LOG_WARNING, SG_LOG_WARNING },
		{ SG_LOG_INFO, SG_LOG_INFO }, { SG_LOG_DEBUG, SG_LOG_DEBUG },
		/* emergencies from a worker are errors, chatter is debug */
		{ 0, SG_LOG_ERR }, { 1, SG_LOG_ERR }, { 2, SG_LOG_ERR },
		{ 8, SG_LOG_DEBUG }, { 255, SG_LOG_DEBUG }, { -1, SG_LOG_DEBUG },
	};
	char out[SG_MP_LOG_MAX + 1];
	uint8_t raw[6] = { 0, 0, 0, 0, 1, 'x' };
	int sp[2], level;
	size_t i;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sp), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_round_trip(sp, cases[i].sent, "x", &level, out);
		if (level != cases[i].got)
			fail_msg("level %d arrived as %d, not %d", cases[i].sent,
			    level, cases[i].got);
	}
	for (i = 0; i < 256; i++) {
		raw[0] = (uint8_t)i;
		assert_int_equal(sg_mp_parse_log(raw, sizeof(raw), &level, out),
		    0);
		assert_true(level >= SG_LOG_ERR && level <= SG_LOG_DEBUG);
	}
	close(sp[0]);
	close(sp[1]);
}

static void
test_log_malformed(void **state)
{
	static uint8_t raw[6 + SG_MP_LOG_MAX + 2];
	char out[SG_MP_LOG_MAX + 1];
	int level;
	size_t i;

	(void)state;
	/* level 6, length 3, "abc" */
	memcpy(raw, "\x06\x00\x00\x00\x03" "abc", 8);
	assert_int_equal(sg_mp_parse_log(raw, 8, &level, out), 0);
	assert_string_equal(out, "abc");
	/* every truncation, and a trailing byte */
	for (i = 0; i < 8; i++)
		assert_int_equal(sg_mp_parse_log(raw, i, &level, out), -EPROTO);
	raw[8] = 'd';
	assert_int_equal(sg_mp_parse_log(raw, 9, &level, out), -EPROTO);
	/* a length that says more, or less, than is there */
	raw[4] = 4;
	assert_int_equal(sg_mp_parse_log(raw, 8, &level, out), -EPROTO);
	raw[4] = 2;
	assert_int_equal(sg_mp_parse_log(raw, 8, &level, out), -EPROTO);
	memcpy(raw + 1, "\xff\xff\xff\xff", 4);
	assert_int_equal(sg_mp_parse_log(raw, 8, &level, out), -EPROTO);
	memcpy(raw + 1, "\x80\x00\x00\x03", 4);
	assert_int_equal(sg_mp_parse_log(raw, 8, &level, out), -EPROTO);
	/* SG_MP_LOG_MAX bytes fit, one more is refused even when there */
	memset(raw + 5, 'y', SG_MP_LOG_MAX + 1);
	raw[1] = 0;
	raw[2] = 0;
	raw[3] = (uint8_t)(SG_MP_LOG_MAX >> 8);
	raw[4] = (uint8_t)SG_MP_LOG_MAX;
	assert_int_equal(sg_mp_parse_log(raw, 5 + SG_MP_LOG_MAX, &level, out), 0);
	assert_int_equal(strlen(out), SG_MP_LOG_MAX);
	raw[4] = (uint8_t)(SG_MP_LOG_MAX + 1);
	assert_int_equal(sg_mp_parse_log(raw, 5 + SG_MP_LOG_MAX + 1, &level,
	    out), -EPROTO);
}

static void
test_log_no_wait(void **state)
{
	int sp[2], r = 0, i;

	(void)state;
	/* a blocking socket the monitor does not read: lines are refused
	 * with -EAGAIN once it is full, never waited for */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sp), 0);
	for (i = 0; i < 1000000; i++) {
		r = sg_mp_send_log(sp[0], SG_LOG_INFO, "a line nobody reads");
		if (r != 0)
			break;
	}
	assert_int_equal(r, -EAGAIN);
	/* the monitor gone: an error (and no SIGPIPE) */
	close(sp[1]);
	r = sg_mp_send_log(sp[0], SG_LOG_INFO, "late");
	assert_true(r < 0 && r != -EAGAIN);
	close(sp[0]);
}

/* What the sink under test was given, and what it answers. */
static struct {
	int calls;
	int level[8];
	char text[8][256];
	int answer;
	int fd;		/* >= 0: forward with sg_mp_send_log, as a worker */
} sink;

static int
sink_fn(int level, const char *text)
{
	if (sink.calls < 8) {
		sink.level[sink.calls] = level;
		snprintf(sink.text[sink.calls], sizeof(sink.text[0]), "%s", text);
	}
	sink.calls++;
	if (sink.fd >= 0)
		return sg_mp_send_log(sink.fd, level, text) == 0 ? 0 : -1;
	return sink.answer;
}

static void
test_log_sink(void **state)
{
	char err[512], want[512];
	char path[] = "/tmp/sg-test-mpipe.XXXXXX";
	int saved, tfd, hidden_calls;
	ssize_t n;

	(void)state;
	memset(&sink, 0, sizeof(sink));
	sink.fd = -1;
	tfd = mkostemp(path, O_CLOEXEC);
	assert_true(tfd >= 0);
	unlink(path);
	fflush(stderr);
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	assert_true(saved >= 0);

	/* stderr goes to the file until restored: no assertion in between,
	 * or its message would go there too */
	assert_true(dup2(tfd, STDERR_FILENO) == STDERR_FILENO);
	sg_log_init("test_mpipe", SG_LOG_DEBUG);
	sg_log_set_sink(sink_fn);
	sg_warn("disk %d%% full", 91);
	sg_info("hello");
	sg_debug("details");
	sg_err("a\tb\nc");
	/* below the level: not even the sink */
	sg_log_init("test_mpipe", SG_LOG_INFO);
	sg_debug("hidden");
	hidden_calls = sink.calls;
	/* a sink that cannot take the line: stderr as usual */
	sink.answer = -1;
	sg_err("fallback %d", 1);
	/* no sink: stderr */
	sg_log_set_sink(NULL);
	sg_warn("plain");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	sg_log_init("sandgate", SG_LOG_INFO);

	/* the sink got level and text, without "prog[pid]: level: ", with
	 * control characters masked */
	assert_int_equal(hidden_calls, 4);
	assert_int_equal(sink.calls, 5);
	assert_int_equal(sink.level[0], SG_LOG_WARNING);
	assert_string_equal(sink.text[0], "disk 91% full");
	assert_int_equal(sink.level[1], SG_LOG_INFO);
	assert_string_equal(sink.text[1], "hello");
	assert_int_equal(sink.level[2], SG_LOG_DEBUG);
	assert_string_equal(sink.text[2], "details");
	assert_int_equal(sink.level[3], SG_LOG_ERR);
	assert_string_equal(sink.text[3], "a?b?c");
	assert_int_equal(sink.level[4], SG_LOG_ERR);
	assert_string_equal(sink.text[4], "fallback 1");
	/* stderr has only the two lines no sink took, prefix and all */
	n = pread(tfd, err, sizeof(err) - 1, 0);
	close(tfd);
	assert_true(n >= 0);
	err[n] = '\0';
	snprintf(want, sizeof(want), "test_mpipe[%ld]: error: fallback 1\n"
	    "test_mpipe[%ld]: warning: plain\n", (long)getpid(),
	    (long)getpid());
	assert_string_equal(err, want);
}

static void
test_log_sink_to_monitor(void **state)
{
	struct sg_buf *in = sg_buf_new(SG_MP_MAX);
	char out[SG_MP_LOG_MAX + 1];
	int sp[2], level, fd;
	ssize_t n;

	(void)state;
	assert_non_null(in);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sp), 0);
	/* as a worker: sg_log's lines become LOG messages to the monitor */
	memset(&sink, 0, sizeof(sink));
	sink.fd = sp[0];
	sg_log_set_sink(sink_fn);
	sg_warn("client %s: %s", "192.0.2.7", "too slow");
	sg_log_set_sink(NULL);
	assert_int_equal(sink.calls, 1);
	n = sg_mp_recv(sp[1], in, &fd);
	assert_true(n > 1);
	assert_int_equal(sg_buf_data(in)[0], SG_MP_LOG);
	assert_int_equal(sg_mp_parse_log(sg_buf_data(in) + 1, (size_t)n - 1,
	    &level, out), 0);
	assert_int_equal(level, SG_LOG_WARNING);
	assert_string_equal(out, "client 192.0.2.7: too slow");
	close(sp[0]);
	close(sp[1]);
	sg_buf_free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_round_trip),
		cmocka_unit_test(test_auth_rejects),
		cmocka_unit_test(test_oversized_string),
		cmocka_unit_test(test_send_recv_fd),
		cmocka_unit_test(test_shim_init_round_trip),
		cmocka_unit_test(test_shim_state),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_log_round_trip),
		cmocka_unit_test(test_log_long_line),
		cmocka_unit_test(test_log_masked),
		cmocka_unit_test(test_log_level_clamped),
		cmocka_unit_test(test_log_malformed),
		cmocka_unit_test(test_log_no_wait),
		cmocka_unit_test(test_log_sink),
		cmocka_unit_test(test_log_sink_to_monitor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
