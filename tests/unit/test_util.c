/* Unit tests of common/util.c: durations, integers, constant-time
 * compare, hex, random bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/util.h"

static void test_duration_ok(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "0", 0 }, { "30", 30 }, { "30s", 30 }, { "10m", 600 }, { "2h", 7200 },
		{ "1d", 86400 }, { "90m", 5400 }, { "36500d", SG_UTIL_DURATION_MAX },
		{ "0s", 0 }, { "1h30m", 5400 }, { "2d3h", 183600 }, { "1d2h3m4s", 93784 },
		{ "1m30s", 90 }, { "1d1s", 86401 }, { "25h", 90000 }, { "90s", 90 },
		{ "1h0m", 3600 }, { "36499d23h59m60s", SG_UTIL_DURATION_MAX },
		{ "36499d24h", SG_UTIL_DURATION_MAX },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 12345;

		if (sg_util_parse_duration(ok[i].s, &v) != 0)
			fail_msg("\"%s\" was refused", ok[i].s);
		assert_int_equal(v, ok[i].v);
	}
}

static void test_duration_bad(void **state)
{
	static const char *const bad[] = {
		"", "s", "m", "10x", "-1", "+1", " 1", "1 ", "1.5h", "01", "10mm", "1s1",
		"0x10", "1S", "1H",
		/* composite: order, repeats, bare tails, empty groups */
		"30m1h", "1h1h", "1s1m", "1m1d", "1h30", "1d1", "1h 30m", "1h+30m",
		"1h-30m", "h30m", "1hm", "1h30mm", "1h05m", "1h00m", "1h,30m", "1h_30m",
		"1h30m ", "\t1h", "1hour", "1h30M",
	};
	size_t i;
	uint64_t v = 777;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sg_util_parse_duration(bad[i], &v) != -EINVAL)
			fail_msg("\"%s\" was not refused as malformed", bad[i]);
	assert_int_equal(v, 777);   /* untouched on failure */
	assert_int_equal(sg_util_parse_duration(NULL, &v), -EINVAL);
	assert_int_equal(sg_util_parse_duration("36501d", &v), -ERANGE);
	assert_int_equal(sg_util_parse_duration("99999999999999999999", &v), -ERANGE);
	assert_int_equal(sg_util_parse_duration("99999999999999999999d", &v), -ERANGE);
	assert_int_equal(sg_util_parse_duration("99999999999999999999x", &v), -EINVAL);
	/* the sum passes the maximum though every group is in range */
	assert_int_equal(sg_util_parse_duration("36500d1s", &v), -ERANGE);
	assert_int_equal(sg_util_parse_duration("36499d24h1s", &v), -ERANGE);
	assert_int_equal(sg_util_parse_duration("36500d99999999999999999999s", &v), -ERANGE);
	/* malformed wins over out of range, in any group */
	assert_int_equal(sg_util_parse_duration("99999999999999999999d1h1h", &v), -EINVAL);
	assert_int_equal(sg_util_parse_duration("36501d5", &v), -EINVAL);
	assert_int_equal(v, 777);
}

static void test_duration_format(void **state)
{
	static const struct { uint64_t v; const char *s; } cases[] = {
		{ 0, "0s" }, { 1, "1s" }, { 59, "59s" }, { 60, "1m" }, { 90, "1m30s" },
		{ 600, "10m" }, { 3599, "59m59s" }, { 3600, "1h" }, { 5400, "1h30m" },
		{ 7200, "2h" }, { 86400, "1d" }, { 86401, "1d1s" }, { 90000, "1d1h" },
		{ 90061, "1d1h1m1s" }, { 93784, "1d2h3m4s" }, { 183600, "2d3h" },
		{ 31536000, "365d" }, { SG_UTIL_DURATION_MAX, "36500d" },
		{ SG_UTIL_DURATION_MAX - 1, "36499d23h59m59s" },
	};
	char buf[SG_UTIL_DURATION_BUFSZ];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t back = 0;

		assert_int_equal(sg_util_format_duration(cases[i].v, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(sg_util_parse_duration(buf, &back), 0);
		assert_int_equal(back, cases[i].v);
	}
	assert_int_equal(sg_util_format_duration(UINT64_MAX, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "213503982334601d7h15s");
	/* too small: -ENOBUFS and still a string */
	assert_int_equal(sg_util_format_duration(86401, buf, 4), -ENOBUFS);
	assert_int_equal(strlen(buf), 3);
	assert_int_equal(sg_util_format_duration(86401, buf, 5), 0);
	assert_string_equal(buf, "1d1s");
	assert_int_equal(sg_util_format_duration(0, buf, 2), -ENOBUFS);
	assert_int_equal(sg_util_format_duration(0, buf, 3), 0);
	assert_int_equal(sg_util_format_duration(1, buf, 0), -ENOBUFS);
}

/* Asserts that buf is the shortest form: "0s", or groups that each start
 * with a non-zero digit. */
static void assert_shortest(const char *buf)
{
	const char *p;

	if (strcmp(buf, "0s") == 0)
		return;
	for (p = buf; *p; p++)
		if ((p == buf || (p[-1] >= 'a' && p[-1] <= 'z')) && *p == '0')
			fail_msg("\"%s\" has a zero group", buf);
}

/* Every value formats to its shortest string, which parses back to it. */
static void test_duration_round_trip(void **state)
{
	char buf[SG_UTIL_DURATION_BUFSZ];
	uint64_t v, back, x = 88172645463325252ULL;
	int i;

	(void)state;
	for (v = 0; v <= 3 * 86400 + 7200; v++) {
		assert_int_equal(sg_util_format_duration(v, buf, sizeof(buf)), 0);
		assert_shortest(buf);
		assert_int_equal(sg_util_parse_duration(buf, &back), 0);
		assert_int_equal(back, v);
	}
	/* then values spread up to the maximum (xorshift64) */
	for (i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x % (SG_UTIL_DURATION_MAX + 1);
		assert_int_equal(sg_util_format_duration(v, buf, sizeof(buf)), 0);
		assert_shortest(buf);
		assert_int_equal(sg_util_parse_duration(buf, &back), 0);
		assert_int_equal(back, v);
	}
}

static void test_uint(void **state)
{
	uint64_t v = 5;

	(void)state;
	assert_int_equal(sg_util_parse_uint("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sg_util_parse_uint("65535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(sg_util_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	v = 5;
	assert_int_equal(sg_util_parse_uint("65536", 1, 65535, &v), -ERANGE);
	assert_int_equal(sg_util_parse_uint("0", 1, 65535, &v), -ERANGE);
	assert_int_equal(sg_util_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(sg_util_parse_uint("007", 0, 10, &v), -EINVAL);
	assert_int_equal(sg_util_parse_uint("", 0, 10, &v), -EINVAL);
	assert_int_equal(sg_util_parse_uint("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(sg_util_parse_uint("1 ", 0, 10, &v), -EINVAL);
	assert_int_equal(sg_util_parse_uint("1e3", 0, 10000, &v), -EINVAL);
	assert_int_equal(v, 5);
}

static void test_ct_equal(void **state)
{
	uint8_t a[32], b[32];
	size_t i;

	(void)state;
	memset(a, 0xa5, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_int_equal(sg_util_ct_equal(a, b, sizeof(a)), 1);
	assert_int_equal(sg_util_ct_equal(a, b, 0), 1);
	for (i = 0; i < sizeof(a); i++) {
		unsigned bit;

		for (bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(sg_util_ct_equal(a, b, sizeof(a)), 0);
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
}

static void test_hex(void **state)
{
	const uint8_t in[] = { 0x00, 0x01, 0xab, 0xff, 0x7f };
	uint8_t out[5];
	char hex[11];

	(void)state;
	assert_int_equal(sg_util_hex_encode(in, sizeof(in), hex, sizeof(hex)), 0);
	assert_string_equal(hex, "0001abff7f");
	assert_int_equal(sg_util_hex_encode(in, sizeof(in), hex, sizeof(hex) - 1), -ENOBUFS);
	assert_int_equal(sg_util_hex_decode("0001ABff7f", out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(sg_util_hex_decode("0001abff7", out, sizeof(out)), -EINVAL);
	assert_int_equal(sg_util_hex_decode("0001abff7f0", out, sizeof(out)), -EINVAL);
	assert_int_equal(sg_util_hex_decode("0001abff7g", out, sizeof(out)), -EINVAL);
	assert_int_equal(sg_util_hex_decode(" 001abff7f", out, sizeof(out)), -EINVAL);
}

static void test_random(void **state)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 }, zero[32] = { 0 };

	(void)state;
	assert_int_equal(sg_util_random(a, sizeof(a)), 0);
	assert_int_equal(sg_util_random(b, sizeof(b)), 0);
	assert_int_equal(sg_util_random(b, 0), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_ok),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_duration_round_trip),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
