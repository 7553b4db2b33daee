/* Unit tests of gateway/srclimit.c: the MaxStartups random early drop at
 * and between its boundaries, and the source blocks connections are
 * counted by (IPv4, IPv6, IPv4-mapped, other families, short buffers). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "gateway/srclimit.h"

/* How many of the rnd values 0..99 drop a connection: the drop
 * probability in percent, as the function sees it. */
static unsigned
drops_per_100(unsigned start, unsigned rate, unsigned full, unsigned n)
{
	unsigned rnd, k = 0;

	for (rnd = 0; rnd < 100; rnd++)
		k += sg_srclimit_drop(start, rate, full, n, rnd) != 0;
	return k;
}

static void
test_drop_below_start(void **state)
{
	static const unsigned rnds[] = { 0, 1, 29, 99, 100, 12345, UINT_MAX };
	unsigned n;
	size_t i;

	(void)state;
	/* never below START, whatever the dice say */
	for (n = 0; n < 10; n++)
		for (i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++)
			assert_int_equal(sg_srclimit_drop(10, 30, 100, n,
			    rnds[i]), 0);
	/* even with RATE 100 */
	assert_int_equal(drops_per_100(10, 100, 100, 9), 0);
	assert_int_equal(drops_per_100(1, 100, 1, 0), 0);
}

static void
test_drop_from_full(void **state)
{
	static const unsigned ns[] = { 100, 101, 5000, 10000, UINT_MAX };
	size_t i;

	(void)state;
	/* always from FULL on, even with the lowest RATE */
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		assert_int_equal(drops_per_100(10, 30, 100, ns[i]), 100);
		assert_int_equal(drops_per_100(10, 1, 100, ns[i]), 100);
		assert_int_equal(sg_srclimit_drop(10, 30, 100, ns[i],
		    UINT_MAX), 1);
	}
}

static void
test_drop_at_start(void **state)
{
	(void)state;
	/* at START exactly RATE percent: rnd % 100 < RATE */
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 10, 0), 1);
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 10, 29), 1);
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 10, 30), 0);
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 10, 99), 0);
	/* rnd of any range is taken modulo 100 */
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 10, 129), 1);
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 10, 130), 0);
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 10, 1029), 1);
	/* UINT_MAX % 100 == 95 */
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 10, UINT_MAX), 0);
	assert_int_equal(sg_srclimit_drop(10, 96, 100, 10, UINT_MAX), 1);
	assert_int_equal(drops_per_100(10, 30, 100, 10), 30);
	assert_int_equal(drops_per_100(10, 1, 100, 10), 1);
	assert_int_equal(drops_per_100(10, 100, 100, 10), 100);
}

static void
test_drop_between(void **state)
{
	unsigned n, prev = 0, k;

	(void)state;
	/* halfway from 10 to 100 (n = 55): 30 + 70 * 45 / 90 = 65 % */
	assert_int_equal(drops_per_100(10, 30, 100, 55), 65);
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 55, 64), 1);
	assert_int_equal(sg_srclimit_drop(10, 30, 100, 55, 65), 0);
	/* a quarter of the way from 10 to 50 with RATE 50: 50 + 50 * 10 /
	 * 40 = 62.5, rounded down */
	assert_int_equal(drops_per_100(10, 50, 50, 20), 62);
	/* one below FULL still leaves a chance */
	assert_int_equal(drops_per_100(10, 30, 100, 99), 99);
	/* rising, never past 100, never below RATE */
	for (n = 10; n < 100; n++) {
		k = drops_per_100(10, 30, 100, n);
		assert_true(k >= prev);
		assert_true(k >= 30 && k <= 100);
		prev = k;
	}
	/* the largest configuration does not overflow */
	assert_int_equal(drops_per_100(1, 1, 10000, 5000), 1 + 99 * 4999 / 9999);
}

static void
test_drop_start_is_full(void **state)
{
	(void)state;
	/* START == FULL: a hard limit, RATE unused */
	assert_int_equal(drops_per_100(10, 30, 10, 9), 0);
	assert_int_equal(drops_per_100(10, 30, 10, 10), 100);
	assert_int_equal(drops_per_100(10, 30, 10, 11), 100);
	assert_int_equal(drops_per_100(1, 1, 1, 0), 0);
	assert_int_equal(drops_per_100(1, 1, 1, 1), 100);
}

/* The block of textual address a (IPv4 or IPv6) under v4:v6, into out. */
static int
block_of(const char *a, unsigned v4, unsigned v6, char *out, size_t len)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(40000);
	} else {
		assert_int_equal(inet_pton(AF_INET6, a, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(40000);
	}
	return sg_srclimit_block((struct sockaddr *)&ss, v4, v6, out, len);
}

static void
expect_block(const char *a, unsigned v4, unsigned v6, const char *want)
{
	char out[64];

	memset(out, 'z', sizeof(out));
	if (block_of(a, v4, v6, out, sizeof(out)) != 0 ||
	    strcmp(out, want) != 0)
		fail_msg("%s with %u:%u: expected %s, got %.64s", a, v4, v6,
		    want, out);
}

static void
test_block_ipv6(void **state)
{
	char x[64], y[64];

	(void)state;
	/* one /64, however many addresses it uses */
	assert_int_equal(block_of("2001:db8:1:2::1", 32, 64, x, sizeof(x)), 0);
	assert_int_equal(block_of("2001:db8:1:2:ffff:ffff:ffff:fffe", 32, 64,
	    y, sizeof(y)), 0);
	assert_string_equal(x, "2001:db8:1:2::/64");
	assert_string_equal(x, y);
	/* the next /64 is another source */
	assert_int_equal(block_of("2001:db8:1:3::1", 32, 64, y, sizeof(y)), 0);
	assert_string_equal(y, "2001:db8:1:3::/64");
	assert_string_not_equal(x, y);
	/* /128 keeps every bit */
	expect_block("2001:db8:1:2:3:4:5:6", 32, 128, "2001:db8:1:2:3:4:5:6/128");
	expect_block("2001:db8::1", 32, 128, "2001:db8::1/128");
	/* prefixes off a byte boundary */
	expect_block("2001:db8:1:2f::1", 32, 60, "2001:db8:1:20::/60");
	expect_block("2001:db8:ffff::", 32, 33, "2001:db8:8000::/33");
	expect_block("2001:db8:1:2::1", 32, 1, "::/1");
	expect_block("fe80::1", 32, 1, "8000::/1");
	expect_block("2001:db8:1:2::1", 32, 48, "2001:db8:1::/48");
}

static void
test_block_ipv4(void **state)
{
	char x[64], y[64];

	(void)state;
	expect_block("192.0.2.77", 24, 64, "192.0.2.0/24");
	expect_block("192.0.2.77", 32, 64, "192.0.2.77/32");
	expect_block("198.51.100.7", 20, 64, "198.51.96.0/20");
	expect_block("198.51.100.7", 1, 64, "128.0.0.0/1");
	expect_block("10.1.2.3", 8, 64, "10.0.0.0/8");
	/* two hosts of one /24 are one source under 24, two under 32 */
	assert_int_equal(block_of("192.0.2.1", 24, 64, x, sizeof(x)), 0);
	assert_int_equal(block_of("192.0.2.254", 24, 64, y, sizeof(y)), 0);
	assert_string_equal(x, y);
	assert_int_equal(block_of("192.0.2.1", 32, 64, x, sizeof(x)), 0);
	assert_int_equal(block_of("192.0.2.254", 32, 64, y, sizeof(y)), 0);
	assert_string_not_equal(x, y);
}

static void
test_block_v4mapped(void **state)
{
	char x[64], y[64];

	(void)state;
	/* an IPv4-mapped IPv6 address (a dual-stack listener) is IPv4:
	 * counted by the v4 prefix, in the same block as plain IPv4 */
	expect_block("::ffff:192.0.2.7", 32, 64, "192.0.2.7/32");
	expect_block("::ffff:192.0.2.7", 24, 128, "192.0.2.0/24");
	assert_int_equal(block_of("::ffff:192.0.2.7", 24, 64, x, sizeof(x)), 0);
	assert_int_equal(block_of("192.0.2.99", 24, 64, y, sizeof(y)), 0);
	assert_string_equal(x, y);
	/* not mapped: IPv6 (IPv4-compatible ::192.0.2.7 is no longer IPv4) */
	expect_block("::192.0.2.7", 32, 64, "::/64");
	expect_block("64:ff9b::192.0.2.7", 32, 64, "64:ff9b::/64");
}

static void
test_block_errors(void **state)
{
	struct sockaddr_un su;
	struct sockaddr_storage ss;
	char out[64];

	(void)state;
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	assert_int_equal(sg_srclimit_block((struct sockaddr *)&su, 32, 64, out,
	    sizeof(out)), -EAFNOSUPPORT);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNSPEC;
	assert_int_equal(sg_srclimit_block((struct sockaddr *)&ss, 32, 64, out,
	    sizeof(out)), -EAFNOSUPPORT);

	/* "192.0.2.0/24" is 12 bytes: 13 fit, 12 do not */
	assert_int_equal(block_of("192.0.2.1", 24, 64, out, 13), 0);
	assert_string_equal(out, "192.0.2.0/24");
	assert_true(block_of("192.0.2.1", 24, 64, out, 12) < 0);
	assert_true(block_of("192.0.2.1", 24, 64, out, 1) < 0);
	assert_true(block_of("2001:db8:1:2::1", 32, 64, out, 8) < 0);
	/* the longest block there is fits the documented 64 bytes */
	assert_int_equal(block_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    32, 128, out, 64), 0);
	assert_string_equal(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_below_start),
		cmocka_unit_test(test_drop_from_full),
		cmocka_unit_test(test_drop_at_start),
		cmocka_unit_test(test_drop_between),
		cmocka_unit_test(test_drop_start_is_full),
		cmocka_unit_test(test_block_ipv6),
		cmocka_unit_test(test_block_ipv4),
		cmocka_unit_test(test_block_v4mapped),
		cmocka_unit_test(test_block_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
