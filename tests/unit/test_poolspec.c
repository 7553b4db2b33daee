/* Unit tests of gateway/poolspec.c: the value of [sandbox] warm_pool, a
 * bare N (the configured image) and IMAGE:N items; every bad value is
 * refused with a message that names what is wrong, and nothing is
 * written to the result then. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/poolspec.h"

static void
test_bare(void **state)
{
	struct sg_poolspec_ent e[SG_POOLSPEC_IMAGES];
	char msg[160];
	size_t n = 99;

	(void)state;
	assert_int_equal(sg_poolspec_parse("0", e, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].image, "");
	assert_int_equal(e[0].n, 0);
	assert_int_equal(sg_poolspec_parse("64", e, &n, msg, sizeof(msg)), 0);
	assert_int_equal(e[0].n, 64);
}

static void
test_images(void **state)
{
	struct sg_poolspec_ent e[SG_POOLSPEC_IMAGES];
	char msg[160];
	size_t n = 0;

	(void)state;
	assert_int_equal(sg_poolspec_parse("2, python:1,node-20.x:3", e, &n,
	    msg, sizeof(msg)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].image, "");
	assert_int_equal(e[0].n, 2);
	assert_string_equal(e[1].image, "python");
	assert_int_equal(e[1].n, 1);
	assert_string_equal(e[2].image, "node-20.x");
	assert_int_equal(e[2].n, 3);
	/* spaces around the colon */
	assert_int_equal(sg_poolspec_parse("python : 2", e, &n, msg,
	    sizeof(msg)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].image, "python");
	assert_int_equal(e[0].n, 2);
	/* an image by name only, spaces around the items */
	assert_int_equal(sg_poolspec_parse("  minimal:1 ", e, &n, msg,
	    sizeof(msg)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].image, "minimal");
	assert_int_equal(e[0].n, 1);
}

static void
test_bad(void **state)
{
	static const struct { const char *v, *why; } bad[] = {
		{ "", "give N, or N and IMAGE:N" },
		{ " ", "give N, or N and IMAGE:N" },
		{ "1,", "give N, or N and IMAGE:N" },
		{ ",1", "give N, or N and IMAGE:N" },
		{ "1,,2", "give N, or N and IMAGE:N" },
		{ "-1", "is not a number of members" },
		{ "65", "is not a number of members" },
		{ "two", "is not a number of members" },
		{ "python:", "is not a number of members" },
		{ "python:x", "is not a number of members" },
		{ ":1", "is not an image name" },
		{ "Python:1", "is not an image name" },
		{ "../x:1", "is not an image name" },
		{ "a b:1", "is not an image name" },
		{ "python:1:2", "is not a number of members" },
		{ "1, 2", "the configured image (a bare N) appears twice" },
		{ "python:1, python:2", "python appears twice" },
		{ "40, python:30", "70 members in all: at most 64" },
		{ "1,a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1,j:1,k:1,l:1,m:1,n:1,o:1,p:1",
		    "more than 16 images" },
	};
	struct sg_poolspec_ent e[SG_POOLSPEC_IMAGES];
	char msg[160];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 77;
		memset(e, 0x5a, sizeof(e));
		if (sg_poolspec_parse(bad[i].v, e, &n, msg, sizeof(msg)) !=
		    -EINVAL)
			fail_msg("accepted \"%s\"", bad[i].v);
		if (strstr(msg, bad[i].why) == NULL)
			fail_msg("\"%s\": \"%s\" does not say \"%s\"", bad[i].v,
			    msg, bad[i].why);
		assert_int_equal(n, 77);			/* untouched */
		assert_int_equal(e[0].n, 0x5a5a5a5a);
	}
	n = 77;
	assert_int_equal(sg_poolspec_parse(NULL, e, &n, msg, sizeof(msg)),
	    -EINVAL);
	assert_int_equal(n, 77);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare),
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
