/* libFuzzer harness for secrets/rewrite.c.
 *
 * The input is bytes a guest chose. Checks:
 *  1. sp_rw_replace on the input with pairs that overlap (one is a
 *     prefix of another, one starts inside another) never fails but for
 *     -ENOBUFS, and what it writes has no from-string left where none
 *     of the input's was (a replacement is not itself a from-string);
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

static const struct sp_rw_pair fwd[] = {	/* placeholders -> values */
	{ PH1, sizeof(PH1) - 1, "v&1 /x", 6 },
	{ PH2, sizeof(PH2) - 1, "", 0 },
};
static const struct sp_rw_pair overlap[] = {
	{ "sk-abcabcab", 11, "1", 1 },
	{ "sk-abc", 6, "2", 1 },	/* a prefix of the first */
	{ "abcab", 5, "3", 1 },		/* starts inside the first */
};

static int
has(const uint8_t *h, size_t n, const char *s)
{
	size_t k = strlen(s), i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(h + i, s, k) == 0)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_buf *o, *b;
	uint64_t used = 0;
	int r;

	if (size == 0 || size > 4096)
		return 0;
	o = sg_buf_new(size * 8 + 4096);
	CHECK(o != NULL);
	r = sp_rw_replace(o, data, size, overlap, 3, &used);
	CHECK(r >= 0);
	CHECK((r == 0) == (used == 0));
	/* the replacements are digits: no from-string is left */
	CHECK(!has(sg_buf_data(o), sg_buf_len(o), "sk-abc"));
	CHECK(!has(sg_buf_data(o), sg_buf_len(o), "abcab"));
	sg_buf_reset(o);

	b = sg_buf_new(size * 8 + 4096);
	CHECK(b != NULL);
	CHECK(sg_buf_put(b, "Basic ", 6) == 0 && sg_buf_put(b, data, size) == 0);
	r = sp_rw_basic(o, sg_buf_data(b), sg_buf_len(b), fwd, 2, NULL);
	CHECK(r >= 0 || r == -ENOBUFS || r == -ENOMEM);
	if (r == 0)
		CHECK(sg_buf_len(o) == 0);
	sg_buf_reset(o);
	r = sp_rw_query(o, data, size, fwd, 2, NULL);
	CHECK(r >= 0);
	sg_buf_free(o);
	sg_buf_free(b);
	return 0;
}
