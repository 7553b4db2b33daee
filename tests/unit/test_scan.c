/* Unit tests for secrets/scan.c: every encoding the scanner covers, each
 * input fed whole, split in two at every point and in three at every pair
 * of points (the verdict must never depend on the cut), foreign and
 * pending prefixes, field breaks and resets, the 64-placeholder set, and
 * negatives that must not match (including the encodings scan.h lists as
 * not covered). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "secrets/scan.h"

#define P0 "SANDGATE_SECRET_0123456789abcdef0123456789abcdef"
#define P1 "SANDGATE_SECRET_fedcba9876543210fedcba9876543210"
#define P2 "SANDGATE_SECRET_00000000000000000000000000000000"
/* another sandbox's */
#define PX "SANDGATE_SECRET_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const char *const set3[] = { P0, P1, P2 };

/* A growable string for building inputs. */
struct str {
	char *p;
	size_t n;
};

static void
sput(struct str *s, const void *p, size_t n)
{
	s->p = realloc(s->p, s->n + n + 1);
	assert_non_null(s->p);
	memcpy(s->p + s->n, p, n);
	s->n += n;
	s->p[s->n] = '\0';
}

static void
sputs(struct str *s, const char *p)
{
	sput(s, p, strlen(p));
}

static void sputf(struct str *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
sputf(struct str *s, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(tmp));
	sput(s, tmp, (size_t)n);
}

static void
sfree(struct str *s)
{
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

enum { B64_STD = 0, B64_URL = 1, B64_NOPAD = 2 };

static void
b64enc(struct str *out, const void *vp, size_t n, int flags)
{
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *a = (flags & B64_URL) ? url : std;
	const uint8_t *p = vp;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
		    p[i + 2];
		char q[4] = { a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63],
			a[v & 63] };

		sput(out, q, 4);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[2] = { a[v >> 18], a[(v >> 12) & 63] };

		sput(out, q, 2);
		if (!(flags & B64_NOPAD))
			sputs(out, "==");
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		char q[3] = { a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63] };

		sput(out, q, 3);
		if (!(flags & B64_NOPAD))
			sputs(out, "=");
	}
}

/* Percent-encodes p: every byte when every is 1, else every other byte,
 * alternating upper and lower case hex. */
static void
pctenc(struct str *out, const char *p, size_t n, int every)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (every || i % 2 == 0)
			sputf(out, i % 4 < 2 ? "%%%02X" : "%%%02x",
			    (unsigned char)p[i]);
		else
			sput(out, p + i, 1);
	}
}

/* JSON-escapes p as \u00XX: every byte when every is 1, else every third,
 * alternating upper and lower case hex; '/' always as "\/". */
static void
jsonenc(struct str *out, const char *p, size_t n, int every)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '/')
			sputs(out, "\\/");
		else if (every || i % 3 == 0)
			sputf(out, i % 2 ? "\\u%04X" : "\\u%04x",
			    (unsigned char)p[i]);
		else
			sput(out, p + i, 1);
	}
}

struct want {
	int verdict;
	size_t index;
	unsigned enc;
	int foreign;
};

static void
check_result(struct sp_scan *s, const struct want *w, const char *what)
{
	size_t idx = 12345;
	unsigned enc = 999;
	int v = sp_scan_result(s, &idx, &enc);

	if (v != w->verdict)
		fail_msg("%s: verdict %d, want %d", what, v, w->verdict);
	if (v == SP_SCAN_MATCH) {
		if (idx != w->index || enc != w->enc)
			fail_msg("%s: index %zu enc %s, want %zu %s", what,
			    idx, sp_scan_encoding_name(enc), w->index,
			    sp_scan_encoding_name(w->enc));
		assert_true(sp_scan_matched(s) & ((uint64_t)1 << idx));
	} else if (v == SP_SCAN_FOREIGN) {
		assert_int_equal(idx, SP_SCAN_NO_INDEX);
		if (enc != w->enc)
			fail_msg("%s: foreign enc %s, want %s", what,
			    sp_scan_encoding_name(enc),
			    sp_scan_encoding_name(w->enc));
		assert_int_equal(sp_scan_matched(s), 0);
	} else {
		assert_int_equal(idx, 12345);
		assert_int_equal(enc, 999);
		assert_int_equal(sp_scan_matched(s), 0);
	}
	if (w->foreign >= 0 && sp_scan_foreign(s) != w->foreign)
		fail_msg("%s: foreign flag %d, want %d", what,
		    sp_scan_foreign(s), w->foreign);
}

/* Feeds in whole, in two slices at every cut, in three at every pair of
 * cuts (the scanner reset in between), and checks the same verdict each
 * time. */
static void
check_splits(struct sp_scan *s, const char *in, size_t n,
    const struct want *w)
{
	size_t a, b;
	char what[64];

	sp_scan_reset(s);
	assert_int_equal(sp_scan_feed(s, in, n), w->verdict);
	check_result(s, w, "whole");
	for (a = 0; a <= n; a++) {
		sp_scan_reset(s);
		sp_scan_feed(s, in, a);
		sp_scan_feed(s, in + a, n - a);
		snprintf(what, sizeof(what), "split at %zu", a);
		check_result(s, w, what);
	}
	for (a = 0; a <= n; a++) {
		for (b = a; b <= n; b++) {
			sp_scan_reset(s);
			sp_scan_feed(s, in, a);
			sp_scan_feed(s, in + a, b - a);
			sp_scan_feed(s, in + b, n - b);
			snprintf(what, sizeof(what), "split at %zu, %zu", a, b);
			check_result(s, w, what);
		}
	}
	/* and one byte at a time */
	sp_scan_reset(s);
	for (a = 0; a < n; a++)
		sp_scan_feed(s, in + a, 1);
	check_result(s, w, "bytewise");
}

static struct sp_scan *
new3(void)
{
	struct sp_scan *s = NULL;

	assert_int_equal(sp_scan_new(set3, 3, &s), 0);
	return s;
}

static void
test_new(void **state)
{
	static const char *const bad[] = {
		"SANDGATE_SECRET_0123456789abcdef0123456789abcde",
		"SANDGATE_SECRET_0123456789abcdef0123456789abcdef0",
		"SANDGATE_SECRET_0123456789ABCDEF0123456789abcdef",
		"SANDGATE_SECRET_0123456789abcdef0123456789abcdeg",
		"sandgate_secret_0123456789abcdef0123456789abcdef",
		"SANDGATE-SECRET_0123456789abcdef0123456789abcdef",
		"",
	};
	const char *many[SP_SCAN_MAX + 1];
	struct sp_scan *s = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *one[2] = { P0, bad[i] };

		assert_int_equal(sp_scan_new(one, 2, &s), -EINVAL);
		assert_null(s);
	}
	{
		const char *one[1] = { NULL };

		assert_int_equal(sp_scan_new(one, 1, &s), -EINVAL);
	}
	assert_int_equal(sp_scan_new(NULL, 1, &s), -EINVAL);
	for (i = 0; i <= SP_SCAN_MAX; i++)
		many[i] = P0;
	assert_int_equal(sp_scan_new(many, SP_SCAN_MAX + 1, &s), -EINVAL);
	assert_int_equal(sp_scan_new(many, SP_SCAN_MAX, &s), 0);
	sp_scan_free(s);

	/* no placeholders: only foreign ones can be reported */
	assert_int_equal(sp_scan_new(NULL, 0, &s), 0);
	assert_int_equal(sp_scan_feed(s, "x " P0 " y", 52), SP_SCAN_FOREIGN);
	sp_scan_free(s);
	sp_scan_free(NULL);
}

static void
test_plain(void **state)
{
	struct sp_scan *s = new3();
	struct want w = { SP_SCAN_MATCH, 1, SP_SCAN_ENC_PLAIN, 0 };
	const char *in = "GET /api?x=1 HTTP/1.1\r\nX-Key: " P1 "\r\n";

	check_splits(s, in, strlen(in), &w);
	w.index = 0;
	check_splits(s, P0, SP_SCAN_LEN, &w);
	/* followed by more hex: still the placeholder */
	check_splits(s, P0 "0123", SP_SCAN_LEN + 4, &w);
	/* the first of two is reported, both are in the mask */
	sp_scan_reset(s);
	sp_scan_feed(s, P2 P0, 2 * SP_SCAN_LEN);
	check_result(s, &(struct want){ SP_SCAN_MATCH, 2, 0, 0 }, "two");
	assert_int_equal(sp_scan_matched(s), 5);
	/* KMP: a false start right before the prefix */
	w.index = 2;
	in = "SANDGATE_SANDGATE_" P2;
	check_splits(s, in, strlen(in), &w);
	in = "SSANDGATE_S" P2;
	check_splits(s, in, strlen(in), &w);
	/* a bare prefix before it is foreign as well */
	w.foreign = 1;
	in = "SANDGATE_SANDGATE_SECRET_SANDGATE_" P2;
	check_splits(s, in, strlen(in), &w);
	sp_scan_free(s);
}

static void
test_percent(void **state)
{
	struct sp_scan *s = new3();
	struct want w = { SP_SCAN_MATCH, 0, SP_SCAN_ENC_PERCENT, 0 };
	struct str in = { NULL, 0 };
	int every;

	for (every = 0; every < 2; every++) {
		sputs(&in, "GET /search?q=");
		pctenc(&in, P0, SP_SCAN_LEN, every);
		sputs(&in, "&x=%zz%4 HTTP/1.1");
		check_splits(s, in.p, in.n, &w);
		sfree(&in);
	}
	/* only the prefix, only the digits, one byte */
	sputs(&in, "a=%53ANDGATE%5fSECRET_0123456789abcdef0123456789abcde%66");
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	/* the first escape deep inside the placeholder: in the prefix, in
	 * the digits, the very last digit */
	sputs(&in, "x SANDGATE_SECR%45T_0123456789abcdef0123456789abcdef");
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	/* (the plain view sees a prefix cut short: foreign as well) */
	w.foreign = 1;
	sputs(&in, "x SANDGATE_SECRET_0123456789%61bcdef0123456789abcdef");
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	sputs(&in, "x SANDGATE_SECRET_0123456789abcdef0123456789abcde%66");
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	w.foreign = 0;
	/* a bad escape right before it */
	sputs(&in, "%%5" P0);
	w.enc = SP_SCAN_ENC_PLAIN;
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	sputs(&in, "%%%5");
	pctenc(&in, P0, SP_SCAN_LEN, 1);
	w.enc = SP_SCAN_ENC_PERCENT;
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	sp_scan_free(s);
}

static void
test_json(void **state)
{
	struct sp_scan *s = new3();
	struct want w = { SP_SCAN_MATCH, 1, SP_SCAN_ENC_JSON, 0 };
	struct str in = { NULL, 0 };
	int every;

	for (every = 0; every < 2; every++) {
		sputs(&in, "{\"token\": \"");
		jsonenc(&in, P1, SP_SCAN_LEN, every);
		sputs(&in, "\", \"x\": \"\\u00e9\\n\\\"\"}");
		check_splits(s, in.p, in.n, &w);
		sfree(&in);
	}
	/* the first escape deep inside the placeholder */
	sputs(&in, "\"SANDGATE_SECRE\\u0054_fedcba9876543210fedcba9876543210");
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	w.foreign = 1;
	sputs(&in, "\"SANDGATE_SECRET_fedcba9876543210fedcba987654321\\u0030");
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	w.foreign = 0;
	/* JavaScript-style escapes of ordinary characters */
	sputs(&in, "\"SANDGATE\\_SECRET\\_fedcba9876543210fedcba\\9876543210\"");
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	/* an escaped backslash does not start an escape */
	sputs(&in, "\\\\u0053ANDGATE_SECRET_fedcba9876543210fedcba9876543210");
	w.verdict = SP_SCAN_CLEAN;
	w.foreign = 0;
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	/* \u past ASCII, \u cut short */
	sputs(&in, "\\u0153ANDGATE_SECRET_fedcba9876543210fedcba9876543210");
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	sputs(&in, "\\u05" P1);
	w.verdict = SP_SCAN_MATCH;
	w.enc = SP_SCAN_ENC_PLAIN;
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	sp_scan_free(s);
}

/* base64 of head + placeholder + tail, for the three alignments of the
 * placeholder (0, 1, 2 bytes before it), both alphabets, padded or not,
 * inside a larger base64 string and after stray base64 characters. */
static void
test_base64(void **state)
{
	static const char *const heads[] = { "", "u", "us", "user:",
		"\xfb\xff\xfe:" };
	struct sp_scan *s = new3();
	struct want w = { SP_SCAN_MATCH, 2, SP_SCAN_ENC_BASE64, 0 };
	size_t h;
	int flags;

	for (h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		for (flags = 0; flags < 4; flags++) {
			struct str raw = { NULL, 0 }, in = { NULL, 0 };
			size_t pre;

			sputs(&raw, heads[h]);
			sputs(&raw, P2);
			sputs(&raw, h % 2 ? "\xff\xfe" : "");
			for (pre = 0; pre < 4; pre++) {
				sputs(&in, "Authorization: Basic ");
				/* stray base64 characters in front: the
				 * string may start anywhere in a run */
				sput(&in, "QUJD", pre);
				b64enc(&in, raw.p, raw.n, flags);
				sputs(&in, "\r\nHost: x\r\n");
				check_splits(s, in.p, in.n, &w);
				sfree(&in);
			}
			sfree(&raw);
		}
	}
	sp_scan_free(s);
}

static void
test_base64_alphabets(void **state)
{
	struct sp_scan *s = new3();
	struct want w = { SP_SCAN_MATCH, 0, SP_SCAN_ENC_BASE64, 0 };
	struct str raw = { NULL, 0 }, in = { NULL, 0 };
	size_t i;

	/* binary around the placeholder makes +/ (or -_) appear */
	for (i = 0; i < 5; i++)
		sputs(&raw, "\xfb\xef\xff");
	sputs(&raw, P0);
	for (i = 0; i < 5; i++)
		sputs(&raw, "\xff\xbf\xfe");
	b64enc(&in, raw.p, raw.n, B64_STD);
	assert_non_null(strchr(in.p, '+'));
	assert_non_null(strchr(in.p, '/'));
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	b64enc(&in, raw.p, raw.n, B64_URL);
	assert_non_null(strchr(in.p, '-'));
	assert_non_null(strchr(in.p, '_'));
	check_splits(s, in.p, in.n, &w);
	sfree(&in);

	/* MIME line breaks (CR LF every 76 characters, and at odd places) */
	{
		struct str b = { NULL, 0 };

		b64enc(&b, raw.p, raw.n, B64_STD);
		for (i = 0; i < b.n; i += 76) {
			sput(&in, b.p + i, b.n - i < 76 ? b.n - i : 76);
			sputs(&in, "\r\n");
		}
		check_splits(s, in.p, in.n, &w);
		sfree(&in);
		for (i = 0; i < b.n; i += 7) {
			sput(&in, b.p + i, b.n - i < 7 ? b.n - i : 7);
			sputs(&in, "\n");
		}
		check_splits(s, in.p, in.n, &w);
		sfree(&in);
		sfree(&b);
	}
	sfree(&raw);
	sp_scan_free(s);
}

static void
test_base64_nested(void **state)
{
	struct sp_scan *s = new3();
	struct want w = { SP_SCAN_MATCH, 1, 0, 0 };
	struct str raw = { NULL, 0 }, b = { NULL, 0 }, in = { NULL, 0 };
	size_t i;

	sputs(&raw, "\xff\xff\xffuser:");
	sputs(&raw, P1);
	b64enc(&b, raw.p, raw.n, B64_STD);
	assert_int_equal(memcmp(b.p, "////", 4), 0);

	/* percent-encoded base64: every character, and only +/= */
	sputs(&in, "GET /?auth=");
	pctenc(&in, b.p, b.n, 1);
	w.enc = SP_SCAN_ENC_PERCENT | SP_SCAN_ENC_BASE64;
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	sputs(&in, "GET /?auth=");
	for (i = 0; i < b.n; i++) {
		if (b.p[i] == '/' || b.p[i] == '+' || b.p[i] == '=')
			sputf(&in, "%%%02X", (unsigned char)b.p[i]);
		else
			sput(&in, b.p + i, 1);
	}
	w.enc = SP_SCAN_ENC_BASE64;   /* the plain view finds it first */
	check_splits(s, in.p, in.n, &w);
	sfree(&in);

	/* JSON-escaped base64: \/ and \u00XX */
	sputs(&in, "{\"a\":\"");
	jsonenc(&in, b.p, b.n, 1);
	sputs(&in, "\"}");
	assert_non_null(strstr(in.p, "\\/\\/\\/\\/"));
	w.enc = SP_SCAN_ENC_JSON | SP_SCAN_ENC_BASE64;
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	sputs(&in, "{\"a\":\"");
	jsonenc(&in, b.p, b.n, 0);
	sputs(&in, "\"}");
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	sfree(&b);
	sfree(&raw);
	sp_scan_free(s);
}

static void
test_foreign(void **state)
{
	struct sp_scan *s = new3();
	struct want w = { SP_SCAN_FOREIGN, 0, SP_SCAN_ENC_PLAIN, 1 };
	struct str in = { NULL, 0 };

	/* another sandbox's placeholder */
	check_splits(s, "x=" PX "&", 51, &w);
	/* upper-cased hex is not the placeholder */
	check_splits(s, "SANDGATE_SECRET_0123456789ABCDEF0123456789ABCDEF",
	    SP_SCAN_LEN, &w);
	/* one digit short, then the end of the field */
	check_splits(s, "SANDGATE_SECRET_0123456789abcdef0123456789abcde\"",
	    SP_SCAN_LEN, &w);
	/* the bare prefix */
	check_splits(s, "SANDGATE_SECRET_", 16, &w);
	check_splits(s, "SANDGATE_SECRET_ and more", 25, &w);
	/* encoded foreign ones report their view */
	pctenc(&in, PX, SP_SCAN_LEN, 1);
	w.enc = SP_SCAN_ENC_PERCENT;
	check_splits(s, in.p, in.n, &w);
	sfree(&in);
	b64enc(&in, "u:" PX, SP_SCAN_LEN + 2, B64_STD);
	w.enc = SP_SCAN_ENC_BASE64;
	check_splits(s, in.p, in.n, &w);
	sfree(&in);

	/* a foreign one and one of ours: the match wins, the flag stays */
	w = (struct want){ SP_SCAN_MATCH, 0, SP_SCAN_ENC_PLAIN, 1 };
	check_splits(s, PX " " P0, 2 * SP_SCAN_LEN + 1, &w);
	check_splits(s, "SANDGATE_SECRET_" P0, SP_SCAN_LEN + 16, &w);
	check_splits(s, "SANDGATE_SECRET_0" P0, SP_SCAN_LEN + 17, &w);
	check_splits(s, "SANDGATE_SECRET_ABC" P0, SP_SCAN_LEN + 19, &w);

	/* a prefix waiting for its digits is foreign until they come */
	sp_scan_reset(s);
	assert_int_equal(sp_scan_feed(s, P0, 30), SP_SCAN_FOREIGN);
	assert_true(sp_scan_foreign(s));
	assert_int_equal(sp_scan_feed(s, &P0[30], SP_SCAN_LEN - 30),
	    SP_SCAN_MATCH);
	assert_false(sp_scan_foreign(s));
	sp_scan_free(s);
}

static void
test_negatives(void **state)
{
	static const char *const neg[] = {
		"",
		"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"SANDGATE_SECRE_0123456789abcdef0123456789abcdef",
		"SANDGATE_SECRET0123456789abcdef0123456789abcdef",
		"sandgate_secret_0123456789abcdef0123456789abcdef",
		"SANDGATE SECRET 0123456789abcdef0123456789abcdef",
		"SANDGATE_SECRETS_0123456789abcdef0123456789abcdef",
		"SANDGATE__SECRET_0123456789abcdef0123456789abcdef",
		/* double percent-encoding is not covered */
		"%2553ANDGATE_SECRET_0123456789abcdef0123456789abcdef",
		/* percent inside JSON is not covered */
		"\\u00253ANDGATE_SECRET_0123456789abcdef0123456789abcdef",
		/* base64 of the base64 of P0 (not covered) */
		"VTBGT1JFZEJWRVZmVTBWRFVrVlVYekF4TWpNME5UWTNPRGxoWW1Oa1pXWXdNVEl6TkRVMk56ZzVZV0pqWkdWbQ==",
		/* hex of the bytes */
		"53414e44474154455f5345435245545f",
		/* the prefix split over two base64 strings */
		"U0FOREdBVEVf U0VDUkVUXzAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm",
		/* HTML entities */
		"&#83;ANDGATE_SECRET_0123456789abcdef0123456789abcdef",
		"Authorization: Basic dXNlcjpwYXNzd29yZA==",
		"{\"a\":\"\\u0041\\/\\\\\",\"b\":\"%41%zz\"}",
	};
	struct sp_scan *s = new3();
	struct want w = { SP_SCAN_CLEAN, 0, 0, 0 };
	size_t i;

	for (i = 0; i < sizeof(neg) / sizeof(neg[0]); i++)
		check_splits(s, neg[i], strlen(neg[i]), &w);

	/* UTF-16 (little and big endian) is not covered */
	{
		char u16[2 * SP_SCAN_LEN];

		for (i = 0; i < SP_SCAN_LEN; i++) {
			u16[2 * i] = P0[i];
			u16[2 * i + 1] = 0;
		}
		check_splits(s, u16, sizeof(u16), &w);
		check_splits(s, u16 + 1, sizeof(u16) - 1, &w);
	}
	/* random binary without any prefix */
	{
		uint8_t junk[300];
		uint32_t x = 12345;

		for (i = 0; i < sizeof(junk); i++) {
			x = x * 1103515245 + 12345;
			junk[i] = (uint8_t)(x >> 16);
		}
		sp_scan_reset(s);
		assert_int_equal(sp_scan_feed(s, junk, sizeof(junk)),
		    SP_SCAN_CLEAN);
	}
	sp_scan_free(s);
}

static void
test_break_reset(void **state)
{
	struct sp_scan *s = new3();
	size_t idx;
	unsigned enc;

	/* a break cuts a placeholder in two: foreign, not a match */
	assert_int_equal(sp_scan_feed(s, P0, 20), SP_SCAN_FOREIGN);
	sp_scan_break(s);
	assert_int_equal(sp_scan_feed(s, &P0[20], SP_SCAN_LEN - 20),
	    SP_SCAN_FOREIGN);
	assert_int_equal(sp_scan_matched(s), 0);
	/* a break inside the prefix: nothing at all */
	sp_scan_reset(s);
	assert_int_equal(sp_scan_feed(s, P0, 10), SP_SCAN_CLEAN);
	sp_scan_break(s);
	assert_int_equal(sp_scan_feed(s, &P0[10], SP_SCAN_LEN - 10),
	    SP_SCAN_CLEAN);
	/* pending escapes are dropped */
	sp_scan_reset(s);
	sp_scan_feed(s, "%5", 2);
	sp_scan_break(s);
	assert_int_equal(sp_scan_feed(s, "3ANDGATE_SECRET_", 16),
	    SP_SCAN_CLEAN);
	sp_scan_reset(s);
	sp_scan_feed(s, "\\u00", 4);
	sp_scan_break(s);
	assert_int_equal(sp_scan_feed(s, "53ANDGATE_SECRET_", 17),
	    SP_SCAN_CLEAN);
	/* verdicts survive a break, not a reset */
	sp_scan_reset(s);
	sp_scan_feed(s, P1, SP_SCAN_LEN);
	sp_scan_break(s);
	assert_int_equal(sp_scan_result(s, &idx, &enc), SP_SCAN_MATCH);
	assert_int_equal(idx, 1);
	sp_scan_reset(s);
	assert_int_equal(sp_scan_result(s, &idx, &enc), SP_SCAN_CLEAN);
	assert_int_equal(sp_scan_matched(s), 0);
	assert_false(sp_scan_foreign(s));
	/* NULL out-parameters */
	sp_scan_feed(s, PX, SP_SCAN_LEN);
	assert_int_equal(sp_scan_result(s, NULL, NULL), SP_SCAN_FOREIGN);
	assert_int_equal(sp_scan_feed(s, NULL, 0), SP_SCAN_FOREIGN);
	sp_scan_free(s);
}

static void
test_full_set(void **state)
{
	char ph[SP_SCAN_MAX][SP_SCAN_LEN + 1];
	const char *set[SP_SCAN_MAX];
	struct sp_scan *s = NULL;
	struct str in = { NULL, 0 };
	size_t i, idx;
	unsigned enc;

	for (i = 0; i < SP_SCAN_MAX; i++) {
		snprintf(ph[i], sizeof(ph[i]),
		    "SANDGATE_SECRET_%08x%08x%08x%08x",
		    (unsigned)(i * 2654435761u), (unsigned)i,
		    (unsigned)(i * 40503u), (unsigned)~i);
		set[i] = ph[i];
	}
	assert_int_equal(sp_scan_new(set, SP_SCAN_MAX, &s), 0);
	for (i = 0; i < SP_SCAN_MAX; i++) {
		sp_scan_reset(s);
		sfree(&in);
		sputs(&in, "user:");
		sputs(&in, ph[i]);
		{
			struct str b = { NULL, 0 };

			b64enc(&b, in.p, in.n, B64_STD);
			assert_int_equal(sp_scan_feed(s, b.p, b.n),
			    SP_SCAN_MATCH);
			sfree(&b);
		}
		assert_int_equal(sp_scan_result(s, &idx, &enc), SP_SCAN_MATCH);
		assert_int_equal(idx, i);
		assert_int_equal(enc, SP_SCAN_ENC_BASE64);
		assert_int_equal(sp_scan_matched(s), (uint64_t)1 << i);
	}
	/* all of them in one stream */
	sp_scan_reset(s);
	for (i = 0; i < SP_SCAN_MAX; i++) {
		sp_scan_feed(s, ph[i], SP_SCAN_LEN);
		sp_scan_feed(s, ",", 1);
	}
	assert_int_equal(sp_scan_matched(s), UINT64_MAX);
	assert_int_equal(sp_scan_result(s, &idx, &enc), SP_SCAN_MATCH);
	assert_int_equal(idx, 0);
	assert_false(sp_scan_foreign(s));
	sfree(&in);
	sp_scan_free(s);
}

static void
test_encoding_names(void **state)
{
	assert_string_equal(sp_scan_encoding_name(0), "plain");
	assert_string_equal(sp_scan_encoding_name(SP_SCAN_ENC_PERCENT),
	    "percent");
	assert_string_equal(sp_scan_encoding_name(SP_SCAN_ENC_JSON), "json");
	assert_string_equal(sp_scan_encoding_name(SP_SCAN_ENC_BASE64),
	    "base64");
	assert_string_equal(sp_scan_encoding_name(SP_SCAN_ENC_PERCENT |
	    SP_SCAN_ENC_BASE64), "percent+base64");
	assert_string_equal(sp_scan_encoding_name(SP_SCAN_ENC_JSON |
	    SP_SCAN_ENC_BASE64), "json+base64");
	assert_string_equal(sp_scan_encoding_name(3), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64_alphabets),
		cmocka_unit_test(test_base64_nested),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_negatives),
		cmocka_unit_test(test_break_reset),
		cmocka_unit_test(test_full_set),
		cmocka_unit_test(test_encoding_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
