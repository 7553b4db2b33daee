/* libFuzzer harness for secrets/redact.c.
 *
 * The input is what an upstream sends, with macro bytes that splice in a
 * secret value in one of the forms the redactor promises to find, so
 * that the fuzzer meets them among hostile bytes:
 *   0xf0+i        value i as it is
 *   0xe0+i, k     base64 of (k % 3 filler bytes, value i, k / 3 % 3 more),
 *                 the URL-safe alphabet when k & 0x10
 *   0xd0+i, k     value i percent-encoded: every byte when k & 1, lower
 *                 case hex when k & 2, '+' for a space when k & 4
 *   0xc0+i, k     value i as JSON \uXXXX escapes (every byte when k & 1,
 *                 else only non-alphanumerics), '\/' for '/'
 *   0xb0+i        value i with HTML character references for every byte
 * (i < 4; other bytes are themselves). The values are not ones the fuzzer
 * can spell out by chance: what the redactor does not look for is a value
 * that only forms across the edge of a replacement (redact.h), and with
 * a value such as "abababab" that is easy to build. Checks:
 *  1. the output gives no value back in any of those forms, checked by
 *     tests/tools/leakcheck.c, a separate whole-buffer decoder;
 *  2. the output is the same whether the input is fed whole, byte by
 *     byte, or in slices whose sizes the input chooses;
 *  3. after the final feed nothing is held.
 * Any failure aborts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/buf.h"
#include "secrets/redact.h"
#include "tests/tools/leakcheck.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sp_redact_value vals[] = {
	{ "sk-live/AbC+123=xyz~Q", 21,
	  "SANDGATE_SECRET_0123456789abcdef0123456789abcdef", 48 },
	{ "pass word&<\"'>\xc3\xa9!", 17,
	  "SANDGATE_SECRET_ffffffffffffffffffffffffffffffff", 48 },
	{ "Zq7#Zq7#Zq7#", 12,	/* overlaps itself */
	  "SANDGATE_SECRET_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9", 48 },
	{ "key-\xf0\x9f\x98\x80-1234", 13,
	  "SANDGATE_SECRET_5555555555555555555555555555555b", 48 },
};
#define NVALS 4

static struct sp_redact_set *set;

static void
put_pct(struct sg_buf *b, const struct sp_redact_value *v, unsigned k)
{
	static const char *hx[2] = { "0123456789ABCDEF", "0123456789abcdef" };
	const uint8_t *s = (const uint8_t *)v->value;
	size_t i;

	for (i = 0; i < v->value_len; i++) {
		if ((k & 4) && s[i] == ' ')
			CHECK(sg_buf_put(b, "+", 1) == 0);
		else if ((k & 1) || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			CHECK(sg_buf_putf(b, "%%%c%c", hx[(k >> 1) & 1][s[i] >> 4],
			    hx[(k >> 1) & 1][s[i] & 15]) == 0);
		else
			CHECK(sg_buf_put(b, s + i, 1) == 0);
	}
}

static void
put_json(struct sg_buf *b, const struct sp_redact_value *v, unsigned k)
{
	const uint8_t *s = (const uint8_t *)v->value;
	size_t i;
	unsigned cp;

	for (i = 0; i < v->value_len; i++) {
		if (s[i] >= 0x80) {
			/* 2- and 4-byte UTF-8 only in these values */
			if ((s[i] & 0xe0) == 0xc0) {
				cp = (unsigned)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f);
				i += 1;
				CHECK(sg_buf_putf(b, "\\u%04x", cp) == 0);
			} else {
				cp = ((unsigned)(s[i] & 7) << 18 |
				    (unsigned)(s[i + 1] & 0x3f) << 12 |
				    (unsigned)(s[i + 2] & 0x3f) << 6 |
				    (s[i + 3] & 0x3f)) - 0x10000;
				i += 3;
				CHECK(sg_buf_putf(b, "\\u%04X\\u%04x",
				    0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff)) == 0);
			}
		} else if (s[i] == '/') {
			CHECK(sg_buf_put(b, "\\/", 2) == 0);
		} else if ((k & 1) || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9'))) {
			CHECK(sg_buf_putf(b, "\\u%04x", s[i]) == 0);
		} else {
			CHECK(sg_buf_put(b, s + i, 1) == 0);
		}
	}
}

static void
put_b64(struct sg_buf *b, const struct sp_redact_value *v, unsigned k)
{
	uint8_t raw[64];
	struct sg_buf *t = sg_buf_new(256);
	size_t pre = k % 3, post = (k / 3) % 3, i;

	CHECK(t != NULL);
	memset(raw, 'x', sizeof(raw));
	memcpy(raw + pre, v->value, v->value_len);
	CHECK(sg_b64_encode(t, raw, pre + v->value_len + post) == 0);
	for (i = 0; i < sg_buf_len(t); i++) {
		uint8_t c = sg_buf_data(t)[i];

		if (k & 0x10)
			c = c == '+' ? '-' : c == '/' ? '_' : c;
		CHECK(sg_buf_put(b, &c, 1) == 0);
	}
	sg_buf_free(t);
}

/* The input with its macros expanded. */
static struct sg_buf *
expand(const uint8_t *data, size_t size)
{
	struct sg_buf *b = sg_buf_new(size * 200 + 64);
	size_t i;
	unsigned hi, idx, k;

	CHECK(b != NULL);
	for (i = 0; i < size; i++) {
		hi = data[i] & 0xf0;
		idx = data[i] & 0x0f;
		k = i + 1 < size ? data[i + 1] : 0;
		if (idx >= NVALS || hi < 0xb0) {
			CHECK(sg_buf_put(b, data + i, 1) == 0);
			continue;
		}
		switch (hi) {
		case 0xf0:
			CHECK(sg_buf_put(b, vals[idx].value, vals[idx].value_len) == 0);
			break;
		case 0xe0:
			put_b64(b, &vals[idx], k);
			i++;
			break;
		case 0xd0:
			put_pct(b, &vals[idx], k);
			i++;
			break;
		case 0xc0:
			put_json(b, &vals[idx], k);
			i++;
			break;
		case 0xb0:
			for (k = 0; k < vals[idx].value_len; k++)
				CHECK(sg_buf_putf(b, "&#%u;",
				    (unsigned)(uint8_t)vals[idx].value[k]) == 0);
			break;
		}
	}
	return b;
}

static struct sg_buf *
run(const uint8_t *in, size_t n, size_t step0, const uint8_t *steps,
    size_t nsteps)
{
	struct sg_buf *o = sg_buf_new(n * 8 + 4096);
	struct sp_redact *r;
	size_t off = 0, step, si = 0;

	CHECK(o != NULL);
	CHECK(sp_redact_new(set, &r) == 0);
	while (off < n) {
		step = step0 ? step0 :
		    1 + (nsteps ? (size_t)steps[si++ % nsteps] * 7 : 0);
		if (step > n - off)
			step = n - off;
		CHECK(sp_redact_feed(r, in + off, step, 0, o) >= 0);
		off += step;
	}
	CHECK(sp_redact_feed(r, NULL, 0, 1, o) >= 0);
	CHECK(sp_redact_held(r) == 0);
	sp_redact_free(r);
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_buf *in, *a, *b, *c;
	const char *how = NULL;
	size_t i;

	if (set == NULL)
		CHECK(sp_redact_set_new(vals, NVALS, &set) == 0);
	if (size > 8192)
		return 0;
	in = expand(data, size);
	a = run(sg_buf_data(in), sg_buf_len(in), sg_buf_len(in) + 1, NULL, 0);
	b = run(sg_buf_data(in), sg_buf_len(in), 1, NULL, 0);
	c = run(sg_buf_data(in), sg_buf_len(in), 0, data, size);
	CHECK(sg_buf_len(a) == sg_buf_len(b) &&
	    memcmp(sg_buf_data(a), sg_buf_data(b), sg_buf_len(a)) == 0);
	CHECK(sg_buf_len(a) == sg_buf_len(c) &&
	    memcmp(sg_buf_data(a), sg_buf_data(c), sg_buf_len(a)) == 0);
	for (i = 0; i < NVALS; i++) {
		int l = lc_leaks(sg_buf_data(a), sg_buf_len(a),
		    (const uint8_t *)vals[i].value, vals[i].value_len, &how);

		if (l != 0) {
			fprintf(stderr, "value %zu comes back (%s)\n", i,
			    how ? how : "?");
			abort();
		}
	}
	sg_buf_free(in);
	sg_buf_free(a);
	sg_buf_free(b);
	sg_buf_free(c);
	return 0;
}
