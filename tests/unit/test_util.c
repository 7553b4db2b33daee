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
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 12345;

		assert_int_equal(sg_util_parse_duration(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
}

static void test_duration_bad(void **state)
{
	static const char *const bad[] = {
		"", "s", "m", "10x", "-1", "+1", " 1", "1 ", "1.5h", "01", "10mm", "1s1",
		"1h30m", "0x10", "1S", "1H",
	};
	size_t i;
	uint64_t v = 777;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sg_util_parse_duration(bad[i], &v), -EINVAL);
	assert_int_equal(v, 777);   /* untouched on failure */
	assert_int_equal(sg_util_parse_duration(NULL, &v), -EINVAL);
	assert_int_equal(sg_util_parse_duration("36501d", &v), -ERANGE);
	assert_int_equal(sg_util_parse_duration("99999999999999999999", &v), -ERANGE);
	assert_int_equal(sg_util_parse_duration("99999999999999999999d", &v), -ERANGE);
	assert_int_equal(sg_util_parse_duration("99999999999999999999x", &v), -EINVAL);
	assert_int_equal(v, 777);
}

static void test_duration_format(void **state)
{
	static const struct { uint64_t v; const char *s; } cases[] = {
		{ 0, "0s" }, { 1, "1s" }, { 90, "90s" }, { 600, "10m" }, { 5400, "90m" },
		{ 7200, "2h" }, { 86400, "1d" }, { 90000, "25h" }, { 86401, "86401s" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t back = 0;

		assert_int_equal(sg_util_format_duration(cases[i].v, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(sg_util_parse_duration(buf, &back), 0);
		assert_int_equal(back, cases[i].v);
	}
	assert_int_equal(sg_util_format_duration(86401, buf, 4), -ENOBUFS);
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
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
