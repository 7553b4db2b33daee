/* Unit tests of common/hostname.c, the one host-name normaliser that the
 * allow_net grammar, sandgate.conf, the proxy's SNI and Host readers and
 * its CA share. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/hostname.h"

static void test_names(void **state)
{
	static const struct { const char *in; const char *out; } ok[] = {
		{ "api.example.com", "api.example.com" },
		{ "API.Example.COM.", "api.example.com" },
		{ "_dmarc.example.com", "_dmarc.example.com" },
		{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
		{ "a", "a" },
		{ "foo.0xzz", "foo.0xzz" },	/* not a number to a URL parser */
		{ "1.2.3.4a", "1.2.3.4a" },
	};
	char out[SG_NAME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(sg_name_normalise(ok[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, ok[i].out);
	}
}

static void test_not_names(void **state)
{
	static const struct { const char *in; enum sg_name_err err; } bad[] = {
		{ "", SG_NAME_EMPTY },
		{ ".", SG_NAME_EMPTY },
		{ "b\xc3\xbc" "cher.example", SG_NAME_NON_ASCII },
		{ "*.example.com", SG_NAME_STAR },
		{ "a b.com", SG_NAME_BAD_CHAR },
		{ "user@example.com", SG_NAME_BAD_CHAR },
		{ "a..b", SG_NAME_EMPTY_LABEL },
		{ "-a.com", SG_NAME_HYPHEN },
		{ "a-.com", SG_NAME_HYPHEN },
		{ "1.2.3.4", SG_NAME_NUMERIC },
		{ "foo.0x1F", SG_NAME_NUMERIC },
		{ "foo.0x", SG_NAME_NUMERIC },
		{ "example.123", SG_NAME_NUMERIC },
	};
	struct sg_name_fault f;
	char out[SG_NAME_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sg_name_check(bad[i].in, strlen(bad[i].in), out,
		    &f), bad[i].err);
		assert_int_equal(sg_name_normalise(bad[i].in, out, sizeof(out)),
		    -EINVAL);
	}
}

static void test_lengths(void **state)
{
	char name[300], out[SG_NAME_MAX];
	struct sg_name_fault f;
	size_t i;

	(void)state;
	/* 63-byte labels are fine, 64 are not */
	memset(name, 'a', 63);
	strcpy(name + 63, ".com");
	assert_int_equal(sg_name_normalise(name, out, sizeof(out)), 0);
	memset(name, 'a', 64);
	strcpy(name + 64, ".com");
	assert_int_equal(sg_name_check(name, strlen(name), out, &f),
	    SG_NAME_LABEL_LONG);
	/* 253 bytes in all (plus the root's dot) is the most */
	for (i = 0; i < 253; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	assert_int_equal(sg_name_normalise(name, out, sizeof(out)), 0);
	name[253] = '.';
	name[254] = '\0';
	assert_int_equal(sg_name_normalise(name, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 253);
	name[253] = 'a';
	name[254] = 'a';
	name[255] = '\0';
	assert_int_equal(sg_name_check(name, strlen(name), out, &f),
	    SG_NAME_TOO_LONG);
	/* a short buffer */
	assert_int_equal(sg_name_normalise("example.com", out, 5), -ENOBUFS);
	/* the bytes are all that is read: no NUL needed */
	assert_int_equal(sg_name_check("Ab.cdXXXX", 5, out, &f), SG_NAME_OK);
	assert_string_equal(out, "ab.cd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_not_names),
		cmocka_unit_test(test_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
