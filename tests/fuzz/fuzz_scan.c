/* libFuzzer harness for the placeholder scanner (secrets/scan.c).
 *
 * The input is a request stream; the scanner holds three fixed
 * placeholders. Checks:
 *  1. differential: the verdict, index, encoding, match mask and foreign
 *     flag are the same whether the stream is fed in one piece, in slices
 *     of pseudo-random sizes (0..40 bytes, seeded from the input) or one
 *     byte at a time;
 *  2. a placeholder present verbatim in the input is in the match mask;
 *  3. one placeholder, encoded in one of the covered ways (chosen by the
 *     input) and set off by spaces, inserted at an input-chosen point of
 *     the stream, is always found, whatever surrounds it; the stream with
 *     the insertion also passes the differential check.
 * Any mismatch aborts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets/scan.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const set[] = {
	"SANDGATE_SECRET_0123456789abcdef0123456789abcdef",
	"SANDGATE_SECRET_fedcba9876543210fedcba9876543210",
	"SANDGATE_SECRET_00000000000000000000000000000000",
};
#define NSET (sizeof(set) / sizeof(set[0]))

struct outcome {
	int verdict;
	size_t index;
	unsigned enc;
	uint64_t mask;
	int foreign;
};

static struct sp_scan *scanner;

static void
outcome(struct sp_scan *s, struct outcome *o)
{
	o->index = 77;
	o->enc = 77;
	o->verdict = sp_scan_result(s, &o->index, &o->enc);
	o->mask = sp_scan_matched(s);
	o->foreign = sp_scan_foreign(s);
	CHECK(o->verdict == SP_SCAN_CLEAN || o->verdict == SP_SCAN_FOREIGN ||
	    o->verdict == SP_SCAN_MATCH);
	CHECK((o->verdict == SP_SCAN_MATCH) == (o->mask != 0));
	CHECK(o->verdict != SP_SCAN_FOREIGN || o->foreign);
	if (o->verdict == SP_SCAN_MATCH) {
		CHECK(o->index < NSET);
		CHECK(o->mask & ((uint64_t)1 << o->index));
	}
	if (o->verdict == SP_SCAN_FOREIGN)
		CHECK(o->index == SP_SCAN_NO_INDEX);
	if (o->verdict != SP_SCAN_CLEAN)
		CHECK(strcmp(sp_scan_encoding_name(o->enc), "unknown") != 0);
	CHECK(o->mask >> NSET == 0);
}

static int
same(const struct outcome *a, const struct outcome *b)
{
	return a->verdict == b->verdict && a->index == b->index &&
	    a->enc == b->enc && a->mask == b->mask && a->foreign == b->foreign;
}

/* Feeds p whole, in random slices and bytewise; checks they agree and
 * returns the outcome. */
static void
differential(const uint8_t *p, size_t n, uint32_t seed, struct outcome *ret)
{
	struct outcome whole, sliced, bytewise;
	size_t off = 0, i;
	uint32_t x = seed | 1;

	sp_scan_reset(scanner);
	CHECK(sp_scan_feed(scanner, p, n) == sp_scan_result(scanner, NULL,
	    NULL));
	outcome(scanner, &whole);

	sp_scan_reset(scanner);
	while (off < n) {
		size_t len;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		len = x % 41;
		if (len > n - off)
			len = n - off;
		sp_scan_feed(scanner, p + off, len);
		off += len;
	}
	outcome(scanner, &sliced);
	CHECK(same(&whole, &sliced));

	sp_scan_reset(scanner);
	for (i = 0; i < n; i++)
		sp_scan_feed(scanner, p + i, 1);
	outcome(scanner, &bytewise);
	CHECK(same(&whole, &bytewise));
	*ret = whole;
}

static size_t
b64enc(char *out, const uint8_t *p, size_t n, int url)
{
	const char *a = url ?
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" :
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	return o;
}

static size_t
pctenc(char *out, const char *p, size_t n, unsigned mask)
{
	static const char hx[] = "0123456789ABCDEF0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned bit = (mask >> (i % 16)) & 1;
		unsigned c = (unsigned char)p[i];

		if (!bit) {
			out[o++] = p[i];
			continue;
		}
		out[o++] = '%';
		out[o++] = hx[(c >> 4) + (i & 16)];
		out[o++] = hx[(c & 15) + (i & 16)];
	}
	return o;
}

static size_t
jsonenc(char *out, const char *p, size_t n, unsigned mask)
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned c = (unsigned char)p[i];

		if (c == '/') {
			out[o++] = '\\';
			out[o++] = '/';
		} else if ((mask >> (i % 16)) & 1) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hx[c >> 4];
			out[o + 5] = hx[c & 15];
			o += 6;
		} else {
			out[o++] = p[i];
		}
	}
	return o;
}

/* Encodes placeholder i in way w (an input byte) into out. */
static size_t
encode(char *out, size_t i, unsigned w, unsigned mask)
{
	uint8_t raw[SP_SCAN_LEN + 8];
	char b64[2 * SP_SCAN_LEN];
	size_t align = (w >> 4) % 3, rn, bn;

	memcpy(raw, "u:\xff", align);
	memcpy(raw + align, set[i], SP_SCAN_LEN);
	rn = align + SP_SCAN_LEN;
	switch (w % 7) {
	case 0:
		memcpy(out, set[i], SP_SCAN_LEN);
		return SP_SCAN_LEN;
	case 1:
		return pctenc(out, set[i], SP_SCAN_LEN, mask);
	case 2:
		return jsonenc(out, set[i], SP_SCAN_LEN, mask);
	case 3:
		return b64enc(out, raw, rn, 0);
	case 4:
		return b64enc(out, raw, rn, 1);
	case 5:
		bn = b64enc(b64, raw, rn, w & 8);
		return pctenc(out, b64, bn, mask);
	default:
		bn = b64enc(b64, raw, rn, 0);
		return jsonenc(out, b64, bn, mask);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[70000 + 1024];
	struct outcome o;
	uint32_t seed = 2166136261u;
	size_t i, at, n, len;
	unsigned w, mask;

	if (scanner == NULL)
		CHECK(sp_scan_new(set, NSET, &scanner) == 0);
	if (size > 70000)
		return 0;
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;

	differential(data, size, seed, &o);
	for (i = 0; i < NSET; i++)
		if (size >= SP_SCAN_LEN &&
		    memmem(data, size, set[i], SP_SCAN_LEN) != NULL)
			CHECK(o.mask & ((uint64_t)1 << i));

	/* 3. insert an encoded placeholder */
	if (size < 4)
		return 0;
	i = data[0] % NSET;
	w = data[1];
	mask = (unsigned)data[2] << 8 | data[3];
	at = size > 4 ? seed % (size - 4) : 0;
	memcpy(buf, data + 4, at);
	n = at;
	buf[n++] = ' ';
	len = encode((char *)buf + n, i, w, mask);
	n += len;
	buf[n++] = ' ';
	memcpy(buf + n, data + 4 + at, size - 4 - at);
	n += size - 4 - at;
	differential(buf, n, seed * 31, &o);
	if (!(o.mask & ((uint64_t)1 << i))) {
		fprintf(stderr, "placeholder %zu, encoding %u, not found in "
		    "\"%.*s\"\n", i, w % 7, (int)len, buf + at + 1);
		CHECK(0);
	}
	return 0;
}
