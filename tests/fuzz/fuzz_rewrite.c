/* libFuzzer harness for secrets/rewrite.c.
 *
 * The input is bytes a guest or an upstream chose. Checks:
 *  1. differential: sp_rw_stream_feed gives the same output whether the
 *     input is fed whole, in slices of input-chosen sizes, or byte by
 *     byte, and the same as sp_rw_replace on the whole input;
 *     (the pairs overlap: one is a prefix of another, one starts inside
 *     another, so the order rules are exercised);
 *  2. sp_rw_basic on "Basic " + input, and sp_rw_query on the input,
 *     never fail other than -ENOBUFS/-ENOMEM, and sp_rw_basic writes
 *     nothing when it returns 0.
 * Any mismatch aborts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "secrets/rewrite.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PH1 "SANDGATE_SECRET_0123456789abcdef0123456789abcdef"
#define PH2 "SANDGATE_SECRET_fedcba9876543210fedcba9876543210"

static const struct sp_rw_pair back[] = {	/* values -> placeholders */
	{ "sk-abcabcab", 11, PH1, sizeof(PH1) - 1 },
	{ "sk-abc", 6, PH2, sizeof(PH2) - 1 },	/* a prefix of the first */
	{ "abcab", 5, PH2, sizeof(PH2) - 1 },	/* starts inside the first */
};
static const struct sp_rw_pair fwd[] = {	/* placeholders -> values */
	{ PH1, sizeof(PH1) - 1, "v&1 /x", 6 },
	{ PH2, sizeof(PH2) - 1, "", 0 },
};

static struct sg_buf *
run_stream(const uint8_t *data, size_t size, size_t step0)
{
	struct sp_rw_stream *st;
	struct sg_buf *out = sg_buf_new(size * 8 + 4096);
	size_t off = 0, step, i = 0;

	CHECK(out != NULL);
	CHECK(sp_rw_stream_new(back, 3, &st) == 0);
	while (off < size) {
		step = step0 ? step0 : 1 + (size_t)(data[i++ % size] % 17);
		if (step > size - off)
			step = size - off;
		CHECK(sp_rw_stream_feed(st, data + off, step, 0, out) >= 0);
		off += step;
	}
	CHECK(sp_rw_stream_feed(st, NULL, 0, 1, out) >= 0);
	sp_rw_stream_free(st);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_buf *whole, *sliced, *bytes, *once, *b;
	int r;

	if (size == 0 || size > 4096)
		return 0;
	whole = run_stream(data, size, size);
	sliced = run_stream(data, size, 0);
	bytes = run_stream(data, size, 1);
	once = sg_buf_new(size * 8 + 4096);
	CHECK(once != NULL);
	CHECK(sp_rw_replace(once, data, size, back, 3, NULL) >= 0);
	CHECK(sg_buf_len(whole) == sg_buf_len(once) &&
	    memcmp(sg_buf_data(whole), sg_buf_data(once), sg_buf_len(once)) == 0);
	CHECK(sg_buf_len(sliced) == sg_buf_len(once) &&
	    memcmp(sg_buf_data(sliced), sg_buf_data(once), sg_buf_len(once)) == 0);
	CHECK(sg_buf_len(bytes) == sg_buf_len(once) &&
	    memcmp(sg_buf_data(bytes), sg_buf_data(once), sg_buf_len(once)) == 0);

	b = sg_buf_new(size * 8 + 4096);
	CHECK(b != NULL);
	CHECK(sg_buf_put(b, "Basic ", 6) == 0 && sg_buf_put(b, data, size) == 0);
	{
		struct sg_buf *o = sg_buf_new(size * 8 + 4096);

		CHECK(o != NULL);
		r = sp_rw_basic(o, sg_buf_data(b), sg_buf_len(b), fwd, 2, NULL);
		CHECK(r >= 0 || r == -ENOBUFS || r == -ENOMEM);
		if (r == 0)
			CHECK(sg_buf_len(o) == 0);
		sg_buf_reset(o);
		r = sp_rw_query(o, data, size, fwd, 2, NULL);
		CHECK(r >= 0);
		sg_buf_free(o);
	}
	sg_buf_free(b);
	sg_buf_free(whole);
	sg_buf_free(sliced);
	sg_buf_free(bytes);
	sg_buf_free(once);
	return 0;
}
