/* Unit tests for the monitor's requests to and from workers and shims
 * (common/mpipe.c): the monitor decodes them from an untrusted worker or
 * shim; and the send queue that keeps the monitor from waiting. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
