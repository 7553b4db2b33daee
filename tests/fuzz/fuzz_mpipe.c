/* libFuzzer harness for the monitor's decoding of worker requests
 * (common/mpipe.c): a worker is untrusted, so whatever it sends must be
 * rejected cleanly or decode to fields that re-encode to the same bytes.
 * The first input byte is the message type, the rest its payload. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mpipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sg_mp_auth a;
	struct sg_buf *b;
	char *user = NULL;

	if (size < 1)
		return 0;
	if (sg_mp_parse_auth(data[0], data + 1, size - 1, &a) == 0) {
		b = sg_buf_new(SG_MP_MAX);
		if (b == NULL)
			abort();
		if (sg_mp_put_auth(b, &a) != 0 || sg_buf_len(b) != size ||
		    memcmp(sg_buf_data(b), data, size) != 0)
			abort();	/* decode and encode disagree */
		sg_buf_free(b);
		sg_mp_auth_clear(&a);
	}
	if (sg_mp_parse_start(data + 1, size - 1, &user) == 0) {
		if (strlen(user) + 4 != size - 1)
			abort();
		free(user);
	}
	return 0;
}
