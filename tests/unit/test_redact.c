/* Unit tests for secrets/redact.c: every form of a value an echo can
 * take comes back as the placeholder, however the bytes are sliced; and
 * nothing else changes. Outputs are checked with tests/tools/leakcheck.c,
 * a separate whole-buffer decoder. */
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

#include "common/base64.h"
#include "common/buf.h"
#include "secrets/redact.h"
#include "tests/tools/leakcheck.h"

#define PH0 "SANDGATE_SECRET_0123456789abcdef0123456789abcdef"
#define PH1 "SANDGATE_SECRET_ffffffffffffffffffffffffffffffff"
#define PH2 "SANDGATE_SECRET_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PH3 "SANDGATE_SECRET_5555555555555555555555555555555b"
/* base64 and percent specials; a space and HTML specials and UTF-8; a
 * plain one; one beyond the BMP */
#define V0 "sk-live/AbC+123=xyz~Q"
#define V1 "pass word&<\"'>\xc3\xa9!"
#define V2 "hk-real-aa55aa55"
#define V3 "key-\xf0\x9f\x98\x80-1234"

static const struct sp_redact_value vals[] = {
	{ V0, sizeof(V0) - 1, PH0, sizeof(PH0) - 1 },
	{ V1, sizeof(V1) - 1, PH1, sizeof(PH1) - 1 },
	{ V2, sizeof(V2) - 1, PH2, sizeof(PH2) - 1 },
	{ V3, sizeof(V3) - 1, PH3, sizeof(PH3) - 1 },
};
#define NVALS (sizeof(vals) / sizeof(vals[0]))

static struct sp_redact_set *set;

static int
setup(void **state)
{
	(void)state;
	return sp_redact_set_new(vals, NVALS, &set);
}

static int
teardown(void **state)
{
	(void)state;
	sp_redact_set_unref(set);
	return 0;
}

/* Redacts in[0..n) fed in slices of step bytes (0: whole). */
static struct sg_buf *
run(const void *in, size_t n, size_t step)
{
	struct sg_buf *o = sg_buf_new(1 << 22);
	struct sp_redact *r;
	size_t i, k;

	assert_non_null(o);
	assert_int_equal(sp_redact_new(set, &r), 0);
	if (step == 0)
		step = n ? n : 1;
	for (i = 0; i < n; i += k) {
		k = n - i < step ? n - i : step;
		assert_true(sp_redact_feed(r, (const uint8_t *)in + i, k, 0,
		    o) >= 0);
	}
	assert_true(sp_redact_feed(r, NULL, 0, 1, o) >= 0);
	assert_int_equal(sp_redact_held(r), 0);
	sp_redact_free(r);
	return o;
}

/* No value comes back in out, in any form. */
static void
assert_clean(const struct sg_buf *o, const char *what)
{
	const char *how = NULL;
	size_t i;

	for (i = 0; i < NVALS; i++) {
		int l = lc_leaks(sg_buf_data(o), sg_buf_len(o),
		    (const uint8_t *)vals[i].value, vals[i].value_len, &how);

		if (l != 0)
			fail_msg("%s: value %zu comes back (%s): %.*s", what, i,
			    how ? how : "?", (int)sg_buf_len(o),
			    (const char *)sg_buf_data(o));
	}
}

/* Redacts in with several slicings: same output each time, and clean. */
static struct sg_buf *
check(const void *in, size_t n, const char *what)
{
	static const size_t steps[] = { 1, 2, 3, 7, 64, 0 };
	struct sg_buf *first = NULL, *o;
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		o = run(in, n, steps[i]);
		assert_clean(o, what);
		if (first == NULL) {
			first = o;
			continue;
		}
		if (sg_buf_len(o) != sg_buf_len(first) ||
		    memcmp(sg_buf_data(o), sg_buf_data(first), sg_buf_len(o)) != 0)
			fail_msg("%s: slices of %zu give another output", what,
			    steps[i]);
		sg_buf_free(o);
	}
	return first;
}

static void
expect(const struct sg_buf *o, const char *want)
{
	if (sg_buf_len(o) != strlen(want) ||
	    memcmp(sg_buf_data(o), want, strlen(want)) != 0)
		fail_msg("got %.*s, want %s", (int)sg_buf_len(o),
		    (const char *)sg_buf_data(o), want);
}

static void
test_raw(void **state)
{
	struct sg_buf *o;

	(void)state;
	o = check("x " V0 " y " V2 V2 "\n", strlen("x " V0 " y " V2 V2 "\n"),
	    "raw");
	expect(o, "x " PH0 " y " PH2 PH2 "\n");
	sg_buf_free(o);
	/* at the very start and end */
	o = check(V1, strlen(V1), "raw alone");
	expect(o, PH1);
	sg_buf_free(o);
	/* split by a line break (at most two CR/LF are skipped) */
	o = check("a hk-real\r\n-aa55aa55 b", 22, "crlf");
	expect(o, "a " PH2 " b");
	sg_buf_free(o);
	o = check("a hk-real\r\n\r\n-aa55aa55 b", 24, "crlf3");
	expect(o, "a hk-real\r\n\r\n-aa55aa55 b");
	sg_buf_free(o);
}

static void
test_clean_passes(void **state)
{
	const char *in = "HTTP/1.1 200 OK {\"key\": \"sk-live/AbC+123=xyz~R\", "
	    "\"b\": \"c2stbGl2ZS9BYkMrMTIz\", \"e\": \"%41\\u0042&amp;\"}\n";
	struct sg_buf *o;
	struct sp_redact *r;

	(void)state;
	o = check(in, strlen(in), "clean");
	expect(o, in);
	sg_buf_free(o);
	/* what cannot start a value is not held */
	assert_int_equal(sp_redact_new(set, &r), 0);
	o = sg_buf_new(4096);
	assert_int_equal(sp_redact_feed(r, "hello, world.\n", 14, 0, o), 0);
	assert_int_equal(sp_redact_held(r), 0);
	expect(o, "hello, world.\n");
	/* the start of a value is held, then let go */
	assert_int_equal(sp_redact_feed(r, "hk-real-aa5", 11, 0, o), 0);
	assert_int_equal(sp_redact_held(r), 11);
	assert_int_equal(sp_redact_feed(r, "!", 1, 0, o), 0);
	assert_int_equal(sp_redact_held(r), 0);
	expect(o, "hello, world.\nhk-real-aa5!");
	/* an escape in progress is held */
	assert_int_equal(sp_redact_feed(r, " \\u00", 5, 0, o), 0);
	assert_true(sp_redact_held(r) >= 4);
	sp_redact_free(r);
	sg_buf_free(o);
}

/* base64 of prefix + value + suffix at every alignment, both alphabets,
 * with and without padding, in text */
static void
test_base64(void **state)
{
	char pre[8], raw[64], txt[256], in[512];
	size_t v, plen, k, i;
	struct sg_buf *o, *b;
	int url;

	(void)state;
	for (v = 0; v < NVALS; v++)
		for (plen = 0; plen < 6; plen++)
			for (url = 0; url < 2; url++) {
				for (k = 0; k < plen; k++)
					pre[k] = (char)('a' + k);
				memcpy(raw, pre, plen);
				memcpy(raw + plen, vals[v].value, vals[v].value_len);
				memcpy(raw + plen + vals[v].value_len, "tail", 4);
				b = sg_buf_new(1024);
				assert_int_equal(sg_b64_encode(b, raw, plen +
				    vals[v].value_len + 4), 0);
				snprintf(txt, sizeof(txt), "%.*s",
				    (int)sg_buf_len(b), sg_buf_data(b));
				sg_buf_free(b);
				if (url)
					for (i = 0; txt[i]; i++) {
						if (txt[i] == '+')
							txt[i] = '-';
						else if (txt[i] == '/')
							txt[i] = '_';
						else if (txt[i] == '=')
							txt[i] = '\0';
					}
				snprintf(in, sizeof(in), "{\"t\":\"%s\"}", txt);
				o = check(in, strlen(in), "base64");
				sg_buf_free(o);
			}
}

/* What the proxy sends (Basic) comes back as the guest's own string. */
static void
test_basic_echo(void **state)
{
	struct sg_buf *b, *o, *ph;
	uint8_t *dec = NULL;
	size_t dn = 0, n;
	char in[256];

	(void)state;
	b = sg_buf_new(256);
	ph = sg_buf_new(256);
	assert_int_equal(sg_b64_encode(b, "user:" V0, strlen("user:" V0)), 0);
	assert_int_equal(sg_b64_encode(ph, "user:" PH0, strlen("user:" PH0)), 0);
	n = (size_t)snprintf(in, sizeof(in), "\"Authorization\": \"Basic %.*s\"",
	    (int)sg_buf_len(b), sg_buf_data(b));
	o = check(in, n, "basic");
	/* the part before the value decodes as it was, then the
	 * placeholder; user:PLACEHOLDER has 53 bytes, one more = than
	 * user:V0 (26), so the padding no longer matches */
	assert_true(sg_buf_len(o) > 24);
	{
		const char *s = (const char *)sg_buf_data(o) + 24;
		size_t len = 0;

		while (s[len] != '"' && s[len] != '=')
			len++;
		/* the 72 characters of base64(user:PH0) without padding */
		assert_int_equal(len, 71);
		assert_memory_equal(s, sg_buf_data(ph), 71);
		assert_int_equal(sg_b64_decode((const char *)sg_buf_data(ph),
		    sg_buf_len(ph), &dec, &dn), 0);
		assert_memory_equal(dec, "user:" PH0, dn);
		free(dec);
	}
	sg_buf_free(o);
	sg_buf_free(b);
	sg_buf_free(ph);
}

static void
pct(char *out, const char *v, size_t n, int all, int lower, int plus)
{
	static const char *hx[2] = { "0123456789ABCDEF", "0123456789abcdef" };
	size_t i, k = 0;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)v[i];
		if (plus && c == ' ') {
			out[k++] = '+';
		} else if (all || !((c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')) {
			out[k++] = '%';
			out[k++] = hx[lower][c >> 4];
			out[k++] = hx[(i & 1) ? 0 : lower][c & 15];
		} else {
			out[k++] = (char)c;
		}
	}
	out[k] = '\0';
}

static void
test_percent(void **state)
{
	char enc[512], in[600];
	size_t v;
	int all, lower, plus;
	struct sg_buf *o;

	(void)state;
	for (v = 0; v < NVALS; v++)
		for (all = 0; all < 2; all++)
			for (lower = 0; lower < 2; lower++)
				for (plus = 0; plus < 2; plus++) {
					pct(enc, vals[v].value, vals[v].value_len,
					    all, lower, plus);
					snprintf(in, sizeof(in), "GET /?k=%s&x=1",
					    enc);
					o = check(in, strlen(in), "percent");
					sg_buf_free(o);
				}
	/* the exact form the proxy puts in a query: the placeholder back */
	pct(enc, V0, strlen(V0), 0, 0, 0);
	snprintf(in, sizeof(in), "\"target\": \"/q?key=%s\"", enc);
	o = check(in, strlen(in), "query");
	expect(o, "\"target\": \"/q?key=" PH0 "\"");
	sg_buf_free(o);
}

static void
test_json(void **state)
{
	struct sg_buf *o, *b;
	char in[1024], *p;
	size_t i, v;

	(void)state;
	/* \/ (PHP's json_encode) inside base64 and inside the value */
	b = sg_buf_new(256);
	assert_int_equal(sg_b64_encode(b, "u:" V0, strlen("u:" V0)), 0);
	p = in;
	p += sprintf(p, "{\"auth\":\"Basic ");
	for (i = 0; i < sg_buf_len(b); i++) {
		if (sg_buf_data(b)[i] == '/')
			*p++ = '\\';
		*p++ = (char)sg_buf_data(b)[i];
	}
	p += sprintf(p, "\",\"k\":\"sk-live\\/AbC+123=xyz~Q\"}");
	sg_buf_free(b);
	o = check(in, strlen(in), "json slash");
	assert_non_null(strstr((const char *)sg_buf_data(o), PH0));
	sg_buf_free(o);
	/* every byte as \uXXXX, either case; UTF-8 as code points,
	 * surrogate pairs beyond the BMP */
	for (v = 0; v < NVALS; v++) {
		const uint8_t *s = (const uint8_t *)vals[v].value;

		p = in;
		p += sprintf(p, "[\"");
		for (i = 0; i < vals[v].value_len; i++) {
			if (s[i] < 0x80) {
				p += sprintf(p, (i & 1) ? "\\u%04x" : "\\u%04X", s[i]);
			} else if ((s[i] & 0xe0) == 0xc0) {
				p += sprintf(p, "\\u%04x", (s[i] & 0x1f) << 6 |
				    (s[i + 1] & 0x3f));
				i += 1;
			} else if ((s[i] & 0xf8) == 0xf0) {
				unsigned cp = (unsigned)(s[i] & 7) << 18 |
				    (unsigned)(s[i + 1] & 0x3f) << 12 |
				    (unsigned)(s[i + 2] & 0x3f) << 6 |
				    (s[i + 3] & 0x3f);

				cp -= 0x10000;
				p += sprintf(p, "\\u%04x\\u%04X", 0xd800 + (cp >> 10),
				    0xdc00 + (cp & 0x3ff));
				i += 3;
			}
		}
		p += sprintf(p, "\"]");
		o = check(in, strlen(in), "json \\u");
		assert_non_null(strstr((const char *)sg_buf_data(o),
		    vals[v].placeholder));
		sg_buf_free(o);
	}
	/* the usual escapes of V1: \" */
	snprintf(in, sizeof(in), "%s", "{\"p\":\"pass word&<\\\"'>\xc3\xa9!\"}");
	o = check(in, strlen(in), "json quote");
	expect(o, "{\"p\":\"" PH1 "\"}");
	sg_buf_free(o);
}

static void
test_html(void **state)
{
	const char *in = "<td>pass word&amp;&lt;&quot;&#39;&#x3E;&#233;!</td>";
	struct sg_buf *o;

	(void)state;
	o = check(in, strlen(in), "html");
	expect(o, "<td>" PH1 "</td>");
	sg_buf_free(o);
}

/* base64 wrapped at 4 characters (MIME style) */
static void
test_mime(void **state)
{
	struct sg_buf *b, *o;
	char in[512];
	size_t i, k = 0;

	(void)state;
	b = sg_buf_new(256);
	assert_int_equal(sg_b64_encode(b, "xy" V2 "zz", strlen("xy" V2 "zz")), 0);
	for (i = 0; i < sg_buf_len(b); i++) {
		if (i && i % 4 == 0) {
			in[k++] = '\r';
			in[k++] = '\n';
		}
		in[k++] = (char)sg_buf_data(b)[i];
	}
	sg_buf_free(b);
	o = check(in, k, "mime");
	sg_buf_free(o);
}

/* everything at once, and repeated back to back */
static void
test_mixed(void **state)
{
	static char in[1 << 16];
	struct sg_buf *o;
	size_t n = 0, i;
	uint64_t found;
	struct sp_redact *r;

	(void)state;
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n,
		    "%s|c2stbGl2ZS9BYkMrMTIzPXh5en5R|%s|pass+word%%26%%3C"
		    "%%22%%27%%3E%%C3%%A9%%21|%s\\/\n", V0, V2, V3);
	o = check(in, n, "mixed");
	sg_buf_free(o);
	assert_int_equal(sp_redact_new(set, &r), 0);
	o = sg_buf_new(1 << 22);
	assert_true(sp_redact_once(r, in, n, o) >= 160);
	found = sp_redact_found(r);
	assert_int_equal(found, 0xf);
	sp_redact_reset(r);
	assert_int_equal(sp_redact_found(r), 0);
	sp_redact_free(r);
	sg_buf_free(o);
}

static void
test_refused(void **state)
{
	struct sp_redact_value v[SP_REDACT_MAX + 1];
	struct sp_redact_set *s = NULL;
	size_t i;

	(void)state;
	v[0] = vals[0];
	v[0].value = "short";
	v[0].value_len = 5;
	assert_int_equal(sp_redact_set_new(v, 1, &s), -EINVAL);
	v[0].value = "has a\nnewline";
	v[0].value_len = 13;
	assert_int_equal(sp_redact_set_new(v, 1, &s), -EINVAL);
	v[0] = vals[0];
	v[0].placeholder_len = 0;
	assert_int_equal(sp_redact_set_new(v, 1, &s), -EINVAL);
	for (i = 0; i <= SP_REDACT_MAX; i++)
		v[i] = vals[0];
	assert_int_equal(sp_redact_set_new(v, SP_REDACT_MAX + 1, &s), -EINVAL);
	assert_null(s);
	assert_true(sg_secret_value_ok("12345678", 8, NULL));
	assert_false(sg_secret_value_ok("1234567", 7, NULL));
	/* an empty set redacts nothing */
	assert_int_equal(sp_redact_set_new(NULL, 0, &s), 0);
	assert_int_equal(sp_redact_set_count(s), 0);
	sp_redact_set_unref(s);
}

/* escapes that decode to nothing much never push the hold past its
 * bound: a partial match followed by lone surrogates (each U+FFFD) or
 * by line breaks written as HTML references (not skipped) */
static void
test_bounds(void **state)
{
	static char in[1 << 17];
	const char *fill[] = { "\\udc00", "\\ud800", "&#x000000000D;",
	    "&#10;", "%0a\\n" };
	struct sg_buf *o;
	size_t i, k, n;

	(void)state;
	for (k = 0; k < sizeof(fill) / sizeof(fill[0]); k++) {
		n = (size_t)snprintf(in, sizeof(in), "hk-real");
		for (i = 0; i < 5000; i++)
			n += (size_t)snprintf(in + n, sizeof(in) - n, "%s", fill[k]);
		n += (size_t)snprintf(in + n, sizeof(in) - n, "-aa55aa55 end");
		o = check(in, n, fill[k]);
		assert_true(sg_buf_len(o) > 0);
		sg_buf_free(o);
	}
	/* the same U+FFFD as a JSON decoder makes: a lone surrogate between
	 * two halves of a value breaks it */
	o = check("hk-real\\ud800-aa55aa55", 22, "lone");
	expect(o, "hk-real\\ud800-aa55aa55");
	sg_buf_free(o);
}

/* a full output buffer fails the stream, which then stays failed */
static void
test_full(void **state)
{
	struct sp_redact *r;
	struct sg_buf *o = sg_buf_new(8);

	(void)state;
	assert_int_equal(sp_redact_new(set, &r), 0);
	assert_int_equal(sp_redact_feed(r, "x " V0 " y", strlen(V0) + 4, 1, o),
	    -ENOBUFS);
	assert_int_equal(sp_redact_feed(r, "z", 1, 1, o), -ENOBUFS);
	sp_redact_free(r);
	sg_buf_free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_clean_passes),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_basic_echo),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_mime),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
