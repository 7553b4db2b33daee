/* libFuzzer harness for common/explink.c: what sandgate-front reads from
 * requests off the Internet. The input's first byte picks the reader,
 * the rest is its input. Checks:
 *  1. a host parsed gives a label that writing back (sg_explink_label)
 *     makes exactly the host's first label;
 *  2. no credential is accepted for the fixed grant unless it is exactly
 *     the one sg_explink_make writes for its expiry (so nothing but the
 *     key makes one);
 *  3. the link query's credential lies inside the input; the cookie
 *     walker's values lie inside the input and it ends; the stripped
 *     Cookie value fits 2 * len + 1 bytes and holds no pair of ours;
 *  4. a bearer token lies inside the input and is not empty;
 *  5. the front's feed decoders (common/exfeed.c) either refuse a
 *     message or give one that encodes back to the same bytes.
 * Any failure aborts. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/exfeed.h"
#include "common/explink.h"
#include "common/mpipe.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[SG_EXPLINK_KEY_LEN] = { 7 };
static const struct sg_explink_grant grant = {
	.label = "8000-work-0a1b2c3d", .id = "0123456789ab", .nonce = 1,
};

static void
fuzz_host(const char *s, size_t n)
{
	char sbx[SG_EXPLINK_SBX_MAX + 1], tag[SG_EXPLINK_TAG_LEN + 1];
	char label[SG_EXPLINK_LABEL_MAX];
	uint16_t port;
	const char *dot;

	if (sg_explink_host_parse(s, n, "sandgate.localhost", &port, sbx,
	    tag) != 0)
		return;
	CHECK(sg_explink_label(port, sbx, tag, label) == 0);
	dot = memchr(s, '.', n);
	CHECK(dot && (size_t)(dot - s) == strlen(label) &&
	    memcmp(s, label, strlen(label)) == 0);
}

static void
fuzz_cred(const char *s, size_t n, enum sg_explink_kind kind)
{
	char want[SG_EXPLINK_CRED_MAX];
	int64_t exp = 0;
	int r;

	r = sg_explink_check(key, kind, &grant, s, n, 0, &exp);
	CHECK(r == 0 || r == -EACCES || r == -EKEYEXPIRED);
	if (r != 0)
		return;
	CHECK(sg_explink_make(key, kind, &grant, exp, want) == 0);
	CHECK(strlen(want) == n && memcmp(want, s, n) == 0);
}

static void
fuzz_cookie(const char *s, size_t n)
{
	size_t pos = 0, off, len, rounds = 0, p2 = 0;
	ssize_t outn;
	char *out;

	while (sg_explink_cookie_next(s, n, &pos, &off, &len)) {
		CHECK(off + len <= n && pos <= n);
		CHECK(++rounds <= n);
	}
	out = malloc(2 * n + 1);
	CHECK(out != NULL);
	outn = sg_explink_cookie_strip(s, n, out, 2 * n + 1);
	CHECK(outn >= 0 && (size_t)outn <= 2 * n && out[outn] == '\0');
	CHECK(sg_explink_cookie_next(out, (size_t)outn, &p2, &off, &len) == 0);
	free(out);
}

/* A decoded message encodes back to the same bytes. */
static void
fuzz_feed(unsigned which, const uint8_t *p, size_t n)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX);
	struct sg_xf_config c;
	struct sg_xf_expose e;
	char *label = NULL;

	CHECK(b != NULL);
	if (which == 0 && sg_xf_get_config(p, n, &c) == 0) {
		CHECK(sg_xf_put_config(b, &c) == 0);
		CHECK(sg_buf_len(b) == n + 1 && memcmp(sg_buf_data(b) + 1, p,
		    n) == 0);
		sg_xf_config_clear(&c);
	} else if (which == 1 && sg_xf_get_expose(p, n, &e) == 0) {
		CHECK(sg_xf_put_expose(b, &e) == 0);
		CHECK(sg_buf_len(b) == n + 1 && memcmp(sg_buf_data(b) + 1, p,
		    n) == 0);
		sg_xf_expose_clear(&e);
	} else if (which == 2 && sg_xf_get_unexpose(p, n, &label) == 0) {
		CHECK(sg_xf_put_unexpose(b, label) == 0);
		CHECK(sg_buf_len(b) == n + 1);
		free(label);
	}
	sg_buf_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size ? size - 1 : 0, off, len;

	if (size < 1)
		return 0;
	switch (data[0] % 9) {
	case 0:
		fuzz_host(s, n);
		break;
	case 1:
		fuzz_cred(s, n, SG_EXPLINK_LINK);
		break;
	case 2:
		fuzz_cred(s, n, SG_EXPLINK_COOKIE_CRED);
		break;
	case 3:
		if (sg_explink_query(s, n, &off, &len) == 0)
			CHECK(off + len <= n && len > 0);
		break;
	case 4:
		fuzz_cookie(s, n);
		break;
	case 5:
		if (sg_explink_bearer(s, n, &off, &len))
			CHECK(off + len <= n && len >= 1);
		break;
	default:
		fuzz_feed(data[0] % 9 - 6, data + 1, n);
		break;
	}
	return 0;
}
