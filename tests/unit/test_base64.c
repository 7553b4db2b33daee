/* Unit tests for common/base64.c: RFC 4648 vectors, the strict decoder's
 * refusals, standard encoding into a bounded sg_buf, and base64url. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/base64.h"
#include "common/buf.h"

static void check_b64(const char *s, const char *expect)
{
	uint8_t *out = NULL;
	size_t len = 99;

	assert_int_equal(sg_b64_decode(s, strlen(s), &out, &len), 0);
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(out, expect, len);
	free(out);
}

static void test_base64_decode(void **state)
{
	static const char *const bad[] = {
		"", "Z", "Zg", "Zg=", "Zh==", "Zm9=", "Z===", "====", "Zg==Zg==", "Zm9v\n",
		"Zm 9", "Zm9v-_==", "Zm9vYg=a",
	};
	uint8_t *out = (uint8_t *)"unchanged";
	size_t len = 99, i;

	(void)state;
	/* RFC 4648 section 10 */
	check_b64("Zg==", "f");
	check_b64("Zm8=", "fo");
	check_b64("Zm9v", "foo");
	check_b64("Zm9vYg==", "foob");
	check_b64("Zm9vYmE=", "fooba");
	check_b64("Zm9vYmFy", "foobar");
	check_b64("+/+/", "\xfb\xff\xbf");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sg_b64_decode(bad[i], strlen(bad[i]), &out, &len), -EINVAL);
	assert_string_equal((char *)out, "unchanged");
	assert_int_equal(len, 99);
}

static void test_base64url_encode(void **state)
{
	static const struct { const char *in; const char *out; } cases[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
		{ "\xfb\xff\xbf", "-_-_" },
	};
	char buf[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);

		assert_int_equal(SG_B64URL_LEN(n), strlen(cases[i].out));
		assert_int_equal(sg_b64url_encode(cases[i].in, n, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].out);
	}
	assert_int_equal(SG_B64URL_LEN(32), 43);
	assert_int_equal(sg_b64url_encode("foobar", 6, buf, 9), 0);
	assert_int_equal(sg_b64url_encode("foobar", 6, buf, 8), -ENOBUFS);
}

static void test_base64_encode(void **state)
{
	static const struct { const char *in; const char *out; } cases[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
		{ "\xfb\xff\xbf", "+/+/" },
	};
	struct sg_buf *b;
	uint8_t *dec;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = sg_buf_new(64);
		assert_non_null(b);
		assert_int_equal(sg_b64_encode(b, cases[i].in, strlen(cases[i].in)), 0);
		assert_int_equal(sg_buf_len(b), strlen(cases[i].out));
		assert_memory_equal(sg_buf_data(b), cases[i].out, sg_buf_len(b));
		if (sg_buf_len(b) > 0) {
			/* and back */
			assert_int_equal(sg_b64_decode((const char *)sg_buf_data(b),
			    sg_buf_len(b), &dec, &n), 0);
			assert_int_equal(n, strlen(cases[i].in));
			assert_memory_equal(dec, cases[i].in, n);
			free(dec);
		}
		sg_buf_free(b);
	}
	/* no room: -ENOBUFS */
	b = sg_buf_new(7);
	assert_non_null(b);
	assert_int_equal(sg_b64_encode(b, "foobar", 6), -ENOBUFS);
	sg_buf_free(b);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_base64_encode),
		cmocka_unit_test(test_base64url_encode),
	};

	return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
