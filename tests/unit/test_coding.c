/* Unit tests for secrets/coding.c: Content-Encoding lists, and gzip,
 * deflate (zlib and raw), br and zstd decoded whatever the slicing of
 * input and output, concatenated members and frames, corrupt and
 * trailing data refused, a bomb handed out in bounded portions. The
 * encoders are the libraries' own. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include "secrets/coding.h"

static void
test_parse(void **state)
{
	enum sp_coding_kind k;
	char what[16];

	(void)state;
	assert_int_equal(sp_coding_parse("gzip", 4, &k, what, sizeof(what)), 0);
	assert_int_equal(k, SP_CODING_GZIP);
	assert_int_equal(sp_coding_parse("X-GZip", 6, &k, what, sizeof(what)), 0);
	assert_int_equal(k, SP_CODING_GZIP);
	assert_int_equal(sp_coding_parse(" identity , br ", 15, &k, what,
	    sizeof(what)), 0);
	assert_int_equal(k, SP_CODING_BR);
	assert_int_equal(sp_coding_parse("", 0, &k, what, sizeof(what)), 0);
	assert_int_equal(k, SP_CODING_IDENTITY);
	assert_int_equal(sp_coding_parse("deflate,zstd", 12, &k, what,
	    sizeof(what)), -ENOTSUP);
	assert_string_equal(what, "zstd");
	assert_int_equal(sp_coding_parse("compress", 8, &k, what, sizeof(what)),
	    -ENOTSUP);
	assert_string_equal(what, "compress");
	assert_int_equal(sp_coding_parse("aes128gcm-and-more", 18, &k, what, 8),
	    -ENOTSUP);
	assert_string_equal(what, "aes128g");
	assert_string_equal(sp_coding_name(SP_CODING_ZSTD), "zstd");
}

static uint8_t *
sample(size_t n)
{
	uint8_t *p = malloc(n);
	size_t i;
	uint32_t x = 12345;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		/* compressible: words from a small alphabet */
		p[i] = (uint8_t)("abcdefgh {}\":,0123"[(x >> 16) % 18]);
	}
	return p;
}

static size_t
enc_zlib(const uint8_t *in, size_t n, uint8_t *out, size_t cap, int bits)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, bits, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (uint8_t *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return cap - z.avail_out;
}

static size_t
encode(enum sp_coding_kind k, int variant, const uint8_t *in, size_t n,
    uint8_t *out, size_t cap)
{
	size_t len = cap;

	switch (k) {
	case SP_CODING_GZIP:
		return enc_zlib(in, n, out, cap, 15 + 16);
	case SP_CODING_DEFLATE:
		return enc_zlib(in, n, out, cap, variant ? -15 : 15);
	case SP_CODING_BR:
		assert_int_equal(BrotliEncoderCompress(5, 22, BROTLI_MODE_TEXT,
		    n, in, &len, out), BROTLI_TRUE);
		return len;
	case SP_CODING_ZSTD:
		len = ZSTD_compress(out, cap, in, n, 3);
		assert_false(ZSTD_isError(len));
		return len;
	default:
		fail();
		return 0;
	}
}

/* Decodes z[0..zn) fed in pieces of step, output taken in portions of
 * portion; returns the decoded length in out, and the last status. */
static size_t
decode(enum sp_coding_kind k, const uint8_t *z, size_t zn, size_t step,
    size_t portion, uint8_t *out, size_t cap, int *ret_status)
{
	struct sp_coding *c;
	size_t off = 0, o = 0, made, take;
	int r = 0;

	assert_int_equal(sp_coding_new(k, &c), 0);
	while (off < zn || sp_coding_pending(c) > 0) {
		if (off < zn) {
			take = zn - off < step ? zn - off : step;
			assert_int_equal(sp_coding_put(c, z + off, take), 0);
			off += take;
		}
		for (;;) {
			r = sp_coding_get(c, out + o, cap - o < portion ? cap - o :
			    portion, &made);
			if (r < 0)
				goto out;
			assert_true(made <= portion);
			o += made;
			if (made == 0)
				break;
		}
		if (off >= zn && r == 0 && made == 0 && sp_coding_pending(c) > 0)
			break;	/* stuck: truncated */
	}
out:
	*ret_status = r < 0 ? r : sp_coding_done(c);
	sp_coding_free(c);
	return o;
}

static void
test_roundtrip(void **state)
{
	static const enum sp_coding_kind kinds[] = { SP_CODING_GZIP,
	    SP_CODING_DEFLATE, SP_CODING_DEFLATE, SP_CODING_BR, SP_CODING_ZSTD };
	static const size_t steps[] = { 1, 7, 4096, 1 << 20 };
	size_t n = 200000, zn, dn, i, s;
	uint8_t *in = sample(n), *z = malloc(n + 4096), *d = malloc(n + 1);
	int st;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		zn = encode(kinds[i], i == 2, in, n, z, n + 4096);
		for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			if (steps[s] == 1 && kinds[i] == SP_CODING_BR)
				continue;	/* slow, and the same as 7 */
			dn = decode(kinds[i], z, zn, steps[s], 999, d, n + 1, &st);
			assert_int_equal(st, 1);
			assert_int_equal(dn, n);
			assert_memory_equal(d, in, n);
		}
	}
	free(in);
	free(z);
	free(d);
}

/* two gzip members and two zstd frames back to back */
static void
test_concatenated(void **state)
{
	uint8_t *in = sample(5000), z[20000], d[10001];
	size_t zn, dn;
	int st;

	(void)state;
	zn = encode(SP_CODING_GZIP, 0, in, 5000, z, sizeof(z));
	zn += encode(SP_CODING_GZIP, 0, in, 5000, z + zn, sizeof(z) - zn);
	dn = decode(SP_CODING_GZIP, z, zn, 100, 4096, d, sizeof(d), &st);
	assert_int_equal(st, 1);
	assert_int_equal(dn, 10000);
	assert_memory_equal(d + 5000, in, 5000);
	zn = encode(SP_CODING_ZSTD, 0, in, 5000, z, sizeof(z));
	zn += encode(SP_CODING_ZSTD, 0, in, 5000, z + zn, sizeof(z) - zn);
	dn = decode(SP_CODING_ZSTD, z, zn, 100, 4096, d, sizeof(d), &st);
	assert_int_equal(st, 1);
	assert_int_equal(dn, 10000);
	free(in);
}

/* a step that makes nothing but uses input (a gzip member ending right
 * on the caller's portion, a zstd skippable frame) is not an end */
static void
test_boundaries(void **state)
{
	uint8_t *in = sample(4096), z[20000], d[8193];
	size_t zn, dn;
	int st;

	(void)state;
	zn = encode(SP_CODING_GZIP, 0, in, 4096, z, sizeof(z));
	zn += encode(SP_CODING_GZIP, 0, in, 4096, z + zn, sizeof(z) - zn);
	dn = decode(SP_CODING_GZIP, z, zn, zn, 4096, d, sizeof(d), &st);
	assert_int_equal(st, 1);
	assert_int_equal(dn, 8192);
	/* a skippable frame (magic 0x184d2a50, 16 bytes of anything), then
	 * a frame, then another skippable one */
	memcpy(z, "\x50\x2a\x4d\x18\x10\x00\x00\x00", 8);
	memset(z + 8, 0x5a, 16);
	zn = 24 + encode(SP_CODING_ZSTD, 0, in, 4096, z + 24, sizeof(z) - 48);
	memcpy(z + zn, "\x5f\x2a\x4d\x18\x04\x00\x00\x00" "abcd", 12);
	zn += 12;
	dn = decode(SP_CODING_ZSTD, z, zn, zn, 4096, d, sizeof(d), &st);
	assert_int_equal(st, 1);
	assert_int_equal(dn, 4096);
	assert_memory_equal(d, in, 4096);
	free(in);
}

static void
test_bad(void **state)
{
	static const enum sp_coding_kind kinds[] = { SP_CODING_GZIP,
	    SP_CODING_DEFLATE, SP_CODING_BR, SP_CODING_ZSTD };
	uint8_t *in = sample(5000), z[20000], d[6000];
	size_t zn, i;
	int st;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		zn = encode(kinds[i], 0, in, 5000, z, sizeof(z) - 8);
		/* trailing bytes after the end */
		memcpy(z + zn, "garbage!", 8);
		decode(kinds[i], z, zn + 8, 64, 4096, d, sizeof(d), &st);
		assert_int_equal(st, -EPROTO);
		/* cut short: never done */
		decode(kinds[i], z, zn / 2, 64, 4096, d, sizeof(d), &st);
		assert_int_equal(st, 0);
		/* corrupt */
		memset(z + 3, 0xa5, 40);
		decode(kinds[i], z, zn, 64, 4096, d, sizeof(d), &st);
		assert_true(st == -EPROTO || st == 0);
	}
	free(in);
}

/* 64 MiB of zeros in a few KiB: handed out a portion at a time */
static void
test_bomb(void **state)
{
	size_t n = 64u << 20, zn, made, total = 0, calls = 0;
	uint8_t *zeros = calloc(1, n), *z = malloc(1 << 20), out[16384];
	struct sp_coding *c;
	int r;

	(void)state;
	assert_non_null(zeros);
	zn = encode(SP_CODING_GZIP, 0, zeros, n, z, 1 << 20);
	free(zeros);
	assert_true(zn < 100000);
	assert_int_equal(sp_coding_new(SP_CODING_GZIP, &c), 0);
	assert_int_equal(sp_coding_put(c, z, zn), 0);
	do {
		r = sp_coding_get(c, out, sizeof(out), &made);
		assert_true(r >= 0);
		assert_true(made <= sizeof(out));
		total += made;
		calls++;
	} while (made > 0);
	assert_int_equal(r, 1);
	assert_int_equal(total, n);
	assert_true(calls >= n / sizeof(out));
	sp_coding_free(c);
	free(z);
}

static void
test_limits(void **state)
{
	struct sp_coding *c;
	static uint8_t big[SP_CODING_PENDING_MAX + 1];

	(void)state;
	assert_int_equal(sp_coding_new(SP_CODING_IDENTITY, &c), -EINVAL);
	/* asked for output before any input: nothing, no error */
	{
		static const enum sp_coding_kind k[] = { SP_CODING_GZIP,
		    SP_CODING_DEFLATE, SP_CODING_BR, SP_CODING_ZSTD };
		uint8_t out[16];
		size_t i, made = 1;

		for (i = 0; i < 4; i++) {
			assert_int_equal(sp_coding_new(k[i], &c), 0);
			assert_int_equal(sp_coding_get(c, out, sizeof(out), &made), 0);
			assert_int_equal(made, 0);
			assert_false(sp_coding_done(c));
			sp_coding_free(c);
		}
	}
	assert_int_equal(sp_coding_new(SP_CODING_BR, &c), 0);
	assert_int_equal(sp_coding_put(c, big, sizeof(big)), -ENOBUFS);
	assert_int_equal(sp_coding_put(c, big, 10), 0);
	assert_int_equal(sp_coding_pending(c), 10);
	sp_coding_free(c);
	sp_coding_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_concatenated),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
