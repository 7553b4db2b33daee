/* Unit tests for secrets/rewrite.c: placeholders to values in requests
 * (headers, Basic credentials, queries). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "secrets/rewrite.h"

#define PH "SANDGATE_SECRET_0123456789abcdef0123456789abcdef"
#define PH2 "SANDGATE_SECRET_ffffffffffffffffffffffffffffffff"

static const struct sp_rw_pair pairs[] = {
	{ PH, sizeof(PH) - 1, "sk-real&value", 13 },
	{ PH2, sizeof(PH2) - 1, "second", 6 },
};

static struct sg_buf *
nb(void)
{
	struct sg_buf *b = sg_buf_new(1 << 20);

	assert_non_null(b);
	sg_buf_set_wipe(b, 1);
	return b;
}

static void
expect_buf(struct sg_buf *b, const char *want)
{
	assert_int_equal(sg_buf_len(b), strlen(want));
	assert_memory_equal(sg_buf_data(b), want, strlen(want));
}

static void
test_replace(void **state)
{
	struct sg_buf *b = nb();
	uint64_t used = 0;
	const char *in = "Bearer " PH " and " PH2 PH;

	(void)state;
	assert_int_equal(sp_rw_replace(b, in, strlen(in), pairs, 2, &used), 3);
	expect_buf(b, "Bearer sk-real&value and secondsk-real&value");
	assert_int_equal(used, 3);
	sg_buf_reset(b);
	used = 0;
	/* nothing to replace; a cut placeholder stays */
	in = "x SANDGATE_SECRET_0123";
	assert_int_equal(sp_rw_replace(b, in, strlen(in), pairs, 2, &used), 0);
	expect_buf(b, in);
	assert_int_equal(used, 0);
	/* no pairs: copied as is */
	sg_buf_reset(b);
	assert_int_equal(sp_rw_replace(b, "abc", 3, NULL, 0, NULL), 0);
	expect_buf(b, "abc");
	sg_buf_free(b);
}

static void
test_query(void **state)
{
	struct sg_buf *b = nb();
	const char *in = "key=" PH "&x=1";

	(void)state;
	assert_int_equal(sp_rw_query(b, in, strlen(in), pairs, 1, NULL), 1);
	expect_buf(b, "key=sk-real%26value&x=1");
	sg_buf_free(b);
}

static void
test_basic(void **state)
{
	struct sg_buf *b = nb();
	uint64_t used = 0;
	/* base64("user:" PH) */
	const char *in = "Basic dXNlcjpTQU5ER0FURV9TRUNSRVRfMDEyMzQ1Njc4OWFiY2RlZjAx"
	    "MjM0NTY3ODlhYmNkZWY=";

	(void)state;
	assert_int_equal(sp_rw_basic(b, in, strlen(in), pairs, 2, &used), 1);
	/* base64("user:sk-real&value") */
	expect_buf(b, "Basic dXNlcjpzay1yZWFsJnZhbHVl");
	assert_int_equal(used, 1);
	/* not Basic, bad base64, or nothing inside: 0 and nothing written */
	sg_buf_reset(b);
	assert_int_equal(sp_rw_basic(b, "Bearer x", 8, pairs, 2, NULL), 0);
	assert_int_equal(sp_rw_basic(b, "Basic !!!!", 10, pairs, 2, NULL), 0);
	assert_int_equal(sp_rw_basic(b, "Basic dXNlcjpwdw==", 18, pairs, 2,
	    NULL), 0);
	assert_int_equal(sg_buf_len(b), 0);
	sg_buf_free(b);
}

static void
test_limits(void **state)
{
	struct sg_buf *small = sg_buf_new(8);
	const struct sp_rw_pair empty = { "", 0, "x", 1 };

	(void)state;
	assert_int_equal(sp_rw_replace(small, PH, sizeof(PH) - 1, pairs, 1,
	    NULL), -ENOBUFS);
	assert_int_equal(sp_rw_replace(small, "a", 1, &empty, 1, NULL), -EINVAL);
	assert_int_equal(sp_rw_replace(small, "a", 1, pairs,
	    SP_RW_MAX_PAIRS + 1, NULL), -EINVAL);
	sg_buf_free(small);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
