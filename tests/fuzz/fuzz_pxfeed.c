/* libFuzzer harness for the proxy's policy feed (common/pxfeed.c): the
 * proxy decodes what the monitor sends and the monitor decodes what the
 * proxy sends (the proxy faces the guests, so its messages are not
 * trusted either). Whatever arrives must be rejected cleanly or decode to
 * fields that re-encode to the same bytes. The first input byte is the
 * message type and picks the decoder, the rest is its payload. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mpipe.h"
#include "common/pxfeed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The encoding in b must be exactly the input. */
static void
same(struct sg_buf *b, int r, const uint8_t *data, size_t size)
{
	if (r != 0 || sg_buf_len(b) != size ||
	    memcmp(sg_buf_data(b), data, size) != 0)
		abort();	/* decode and encode disagree */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *pairs[2 * SG_FEED_MAX_AUDIT + 1];
	struct sg_feed_config c;
	struct sg_feed_secret s;
	struct sg_feed_sandbox sb;
	struct sg_feed_audit a;
	struct sg_buf *b;
	const uint8_t *p;
	char *str = NULL;
	size_t n, i;

	if (size < 1)
		return 0;
	p = data + 1;
	n = size - 1;
	b = sg_buf_new(SG_MP_MAX);
	if (b == NULL)
		abort();
	switch (data[0]) {
	case SG_FEED_CONFIG:
		if (sg_feed_get_config(p, n, &c) == 0) {
			same(b, sg_feed_put_config(b, &c), data, size);
			sg_feed_config_clear(&c);
		} else if (c.resolve != NULL || c.dns != NULL) {
			abort();	/* a failure must leave nothing */
		}
		break;
	case SG_FEED_TOKENS_BEGIN:
		same(b, sg_feed_put_tokens_begin(b), data, 1);
		break;
	case SG_FEED_TOKENS_END:
		same(b, sg_feed_put_tokens_end(b), data, 1);
		break;
	case SG_FEED_START:
		same(b, sg_feed_put_start(b), data, 1);
		break;
	case SG_FEED_SECRET:
		if (sg_feed_get_secret(p, n, &s) == 0) {
			if (strlen(s.value) != s.value_len)
				abort();
			same(b, sg_feed_put_secret(b, &s), data, size);
			sg_feed_secret_clear(&s);
		} else if (s.value != NULL || s.token != NULL) {
			abort();
		}
		break;
	case SG_FEED_SANDBOX:
		if (sg_feed_get_sandbox(p, n, &sb) == 0) {
			same(b, sg_feed_put_sandbox(b, &sb), data, size);
			sg_feed_sandbox_clear(&sb);
		} else if (sb.allow != NULL || sb.ph != NULL) {
			abort();
		}
		break;
	case SG_FEED_DROP:
		if (sg_feed_get_drop(p, n, &str) == 0) {
			same(b, sg_feed_put_drop(b, str), data, size);
			free(str);
		}
		break;
	case SG_FEED_READY:
		if (sg_feed_get_ready(p, n, &str) == 0) {
			same(b, sg_feed_put_ready(b, str), data, size);
			free(str);
		}
		break;
	case SG_FEED_AUDIT:
		if (sg_feed_get_audit(p, n, &a) == 0) {
			if (a.n > SG_FEED_MAX_AUDIT)
				abort();
			for (i = 0; i < a.n; i++) {
				pairs[2 * i] = a.key[i];
				pairs[2 * i + 1] = a.value[i];
			}
			pairs[2 * a.n] = NULL;
			same(b, sg_feed_put_audit(b, a.event, pairs), data, size);
			sg_feed_audit_clear(&a);
		} else if (a.event != NULL || a.n != 0) {
			abort();
		}
		break;
	default:
		break;
	}
	sg_buf_free(b);
	return 0;
}
