/* Unit tests for secrets/acmatch.c: the matches of many strings at once
 * are those of a naive search, at every position, with the depth that
 * says where the longest partial match starts. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "secrets/acmatch.h"

static struct sp_ac *
make(const char *const *v, size_t n)
{
	struct sp_ac_build *b;
	struct sp_ac *a;
	size_t i;

	assert_int_equal(sp_ac_build_new(&b), 0);
	for (i = 0; i < n; i++)
		assert_true(sp_ac_build_add(b, v[i], strlen(v[i]),
		    (uint32_t)i) >= 0);
	assert_int_equal(sp_ac_build_finish(b, &a), 0);
	return a;
}

/* Every string found at every end position, as a naive search finds
 * them; and the depth is the longest suffix that starts a string. */
static void
check_text(const struct sp_ac *a, const char *const *v, size_t n,
    const char *t, size_t tn)
{
	uint32_t st = 0, m;
	size_t i, k, d, want_d, found, want;

	for (i = 0; i < tn; i++) {
		st = sp_ac_step(a, st, (uint8_t)t[i]);
		found = 0;
		for (m = sp_ac_match(a, st); m != SP_AC_NONE;
		    m = sp_ac_match_next(a, m)) {
			k = sp_ac_match_id(a, m);
			assert_true(k < n);
			assert_int_equal(sp_ac_match_len(a, m), strlen(v[k]));
			assert_memory_equal(t + i + 1 - strlen(v[k]), v[k],
			    strlen(v[k]));
			found++;
		}
		want = 0;
		for (k = 0; k < n; k++)
			if (strlen(v[k]) <= i + 1 &&
			    memcmp(t + i + 1 - strlen(v[k]), v[k], strlen(v[k])) == 0)
				want++;
		assert_int_equal(found, want);
		want_d = 0;
		for (d = 1; d <= i + 1; d++)
			for (k = 0; k < n; k++)
				if (strlen(v[k]) >= d &&
				    memcmp(t + i + 1 - d, v[k], d) == 0)
					want_d = d;
		assert_int_equal(sp_ac_depth(a, st), want_d);
	}
}

static void
test_overlaps(void **state)
{
	static const char *const v[] = { "he", "she", "his", "hers",
	    "abcab", "bca", "c" };
	const char *t = "ushersheishisabcabcabhe";
	struct sp_ac *a = make(v, 7);

	(void)state;
	check_text(a, v, 7, t, strlen(t));
	assert_int_equal(sp_ac_max_len(a), 5);
	assert_int_equal(sp_ac_root(a)['z'], 0);
	assert_int_not_equal(sp_ac_root(a)['h'], 0);
	sp_ac_free(a);
}

static void
test_random(void **state)
{
	char *v[40], t[3000];
	const char *cv[40];
	uint32_t x = 7;
	size_t i, k, len;
	struct sp_ac *a;
	struct sp_ac_build *b;

	(void)state;
	/* small alphabet: many overlaps; long strings: binary search over
	 * the root and wide nodes too */
	assert_int_equal(sp_ac_build_new(&b), 0);
	for (i = 0; i < 40; i++) {
		x = x * 1103515245 + 12345;
		len = 1 + (x >> 16) % 12;
		v[i] = malloc(len + 1);
		for (k = 0; k < len; k++) {
			x = x * 1103515245 + 12345;
			v[i][k] = (char)('a' + (x >> 16) % (i < 20 ? 3 : 20));
		}
		v[i][len] = '\0';
		cv[i] = v[i];
		/* a duplicate is skipped and says so */
		assert_true(sp_ac_build_add(b, v[i], len, (uint32_t)i) >= 0);
	}
	assert_int_equal(sp_ac_build_add(b, v[0], strlen(v[0]), 99), 1);
	assert_int_equal(sp_ac_build_add(b, "", 0, 98), -EINVAL);
	assert_int_equal(sp_ac_build_finish(b, &a), 0);
	for (k = 0; k < sizeof(t); k++) {
		x = x * 1103515245 + 12345;
		t[k] = (char)('a' + (x >> 16) % (k < 1500 ? 3 : 20));
	}
	/* duplicates among v: the naive count must count each string once */
	for (i = 0; i < 40; i++)
		for (k = 0; k < i; k++)
			if (v[k] != NULL && strcmp(v[i], cv[k]) == 0)
				cv[i] = "\x01never";
	check_text(a, cv, 40, t, sizeof(t));
	sp_ac_free(a);
	for (i = 0; i < 40; i++)
		free(v[i]);
}

static void
test_empty(void **state)
{
	struct sp_ac_build *b;
	struct sp_ac *a;

	(void)state;
	assert_int_equal(sp_ac_build_new(&b), 0);
	assert_int_equal(sp_ac_build_finish(b, &a), 0);
	assert_int_equal(sp_ac_step(a, 0, 'x'), 0);
	assert_int_equal(sp_ac_match(a, 0), SP_AC_NONE);
	assert_int_equal(sp_ac_max_len(a), 0);
	sp_ac_free(a);
	sp_ac_build_free(NULL);
	sp_ac_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
