/* libFuzzer harness for the metrics endpoint's request reader
 * (gateway/metrics.c): the bytes are what a peer of [gateway] metrics
 * sends. Each prefix is looked at as the endpoint does while reading.
 * Checks: the answer is one of the known ones; once a prefix has an
 * answer, every longer one has the same (the endpoint answers once);
 * the refusal written for it is a whole HTTP answer. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "gateway/metrics.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum sg_metrics_req r, first = SG_METRICS_MORE;
	struct sg_buf *b;
	size_t n;

	if (size > SG_METRICS_HEAD_MAX + 64)
		size = SG_METRICS_HEAD_MAX + 64;
	for (n = 0; n <= size; n++) {
		r = sg_metrics_request((const char *)data, n);
		CHECK(r == SG_METRICS_MORE || r == SG_METRICS_OK ||
		    r == SG_METRICS_HEAD_ONLY || r == SG_METRICS_BAD ||
		    r == SG_METRICS_NOT_FOUND || r == SG_METRICS_METHOD ||
		    r == SG_METRICS_TOO_LARGE);
		if (first != SG_METRICS_MORE && first != SG_METRICS_TOO_LARGE)
			CHECK(r == first);
		if (first == SG_METRICS_MORE)
			first = r;
		if (n < SG_METRICS_HEAD_MAX && r == SG_METRICS_TOO_LARGE)
			CHECK(0);
	}
	if (first != SG_METRICS_MORE && first != SG_METRICS_OK &&
	    first != SG_METRICS_HEAD_ONLY) {
		b = sg_buf_new(1024);
		CHECK(b != NULL);
		sg_metrics_put_refusal(b, first);
		CHECK(sg_buf_len(b) > 20 &&
		    memcmp(sg_buf_data(b), "HTTP/1.0 ", 9) == 0);
		sg_buf_free(b);
	}
	return 0;
}
