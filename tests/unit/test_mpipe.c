/* Unit tests for the monitor <-> worker requests (common/mpipe.c): the
 * monitor decodes them from an untrusted worker. */
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_round_trip),
		cmocka_unit_test(test_auth_rejects),
		cmocka_unit_test(test_oversized_string),
		cmocka_unit_test(test_send_recv_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
