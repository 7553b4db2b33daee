/* Unit tests for the feed between the monitor and sandgate-front
 * (common/exfeed.c): every message round-trips; each decoder refuses
 * every truncation and a trailing byte; encoders and decoders refuse a
 * label of the wrong shape or port, a bad id, token or hash, a zero
 * address, limits out of range, a domain not in normal form, an empty
 * certificate or key; a CONFIG over SG_MP_MAX is -ENOBUFS. */
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

#include "common/buf.h"
#include "common/exfeed.h"
#include "common/mpipe.h"

#define HASH "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct sg_xf_config
config(void)
{
	struct sg_xf_config c;

	memset(&c, 0, sizeof(c));
	c.domain = (char *)"sandgate.localhost";
	c.cert_pem = (char *)"-----BEGIN CERTIFICATE-----\nx\n";
	c.key_pem = (char *)"-----BEGIN PRIVATE KEY-----\ny\n";
	memset(c.link_key, 7, sizeof(c.link_key));
	c.max_conns = 64;
	c.max_total = 1000;
	c.head_ms = 10000;
	c.idle_ms = 60000;
	c.connect_ms = 5000;
	return c;
}

static struct sg_xf_expose
expose(void)
{
	struct sg_xf_expose e;

	memset(&e, 0, sizeof(e));
	e.label = (char *)"8000-work-0a1b2c3d";
	e.id = (char *)"0123456789ab";
	e.token = (char *)"ci-bot";
	e.token_hash = (char *)HASH;
	e.addr = 0x0ac80002;
	e.port = 8000;
	e.nonce = 0x1122334455667788ull;
	e.public = 1;
	return e;
}

static void
test_config(void **state)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX * 2);
	struct sg_xf_config c = config(), d;
	const uint8_t *p;
	size_t n, k;

	(void)state;
	assert_int_equal(sg_xf_put_config(b, &c), 0);
	p = sg_buf_data(b);
	n = sg_buf_len(b);
	assert_int_equal(p[0], SG_XF_CONFIG);
	assert_int_equal(sg_xf_get_config(p + 1, n - 1, &d), 0);
	assert_string_equal(d.domain, c.domain);
	assert_string_equal(d.cert_pem, c.cert_pem);
	assert_string_equal(d.key_pem, c.key_pem);
	assert_memory_equal(d.link_key, c.link_key, sizeof(c.link_key));
	assert_int_equal(d.max_conns, 64);
	assert_int_equal(d.max_total, 1000);
	assert_int_equal(d.head_ms, 10000);
	assert_int_equal(d.idle_ms, 60000);
	assert_int_equal(d.connect_ms, 5000);
	sg_xf_config_clear(&d);
	assert_null(d.domain);
	for (k = 0; k < n - 1; k++)
		assert_int_equal(sg_xf_get_config(p + 1, k, &d), -EPROTO);
	{
		uint8_t more[SG_MP_MAX + 1];

		memcpy(more, p + 1, n - 1);
		more[n - 1] = 0;
		assert_int_equal(sg_xf_get_config(more, n, &d), -EPROTO);
	}
	c.domain = (char *)"Sandgate.localhost";
	assert_int_equal(sg_xf_put_config(b, &c), -EINVAL);
	assert_int_equal(sg_buf_len(b), 0);
	c = config();
	c.max_conns = 0;
	assert_int_equal(sg_xf_put_config(b, &c), -EINVAL);
	c = config();
	c.head_ms = 10;
	assert_int_equal(sg_xf_put_config(b, &c), -EINVAL);
	c = config();
	{
		char *big = malloc(SG_XF_CERT_MAX + 2);

		assert_non_null(big);
		memset(big, 'a', SG_XF_CERT_MAX + 1);
		big[SG_XF_CERT_MAX + 1] = '\0';
		c.cert_pem = big;
		assert_int_equal(sg_xf_put_config(b, &c), -EINVAL);
		/* the largest chain and key fit one message */
		big[SG_XF_CERT_MAX] = '\0';
		c.key_pem = big + SG_XF_CERT_MAX - SG_XF_KEY_MAX;
		assert_int_equal(sg_xf_put_config(b, &c), 0);
		free(big);
	}
	/* an empty key is refused on the way in */
	c = config();
	c.key_pem = (char *)"";
	assert_int_equal(sg_xf_put_config(b, &c), 0);
	assert_int_equal(sg_xf_get_config(sg_buf_data(b) + 1, sg_buf_len(b) - 1,
	    &d), -EPROTO);
	sg_buf_free(b);
}

static void
test_expose(void **state)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX);
	struct sg_xf_expose e = expose(), d;
	const uint8_t *p;
	size_t n, k;
	char *label = NULL;

	(void)state;
	assert_int_equal(sg_xf_put_expose(b, &e), 0);
	p = sg_buf_data(b);
	n = sg_buf_len(b);
	assert_int_equal(p[0], SG_XF_EXPOSE);
	assert_int_equal(sg_xf_get_expose(p + 1, n - 1, &d), 0);
	assert_string_equal(d.label, e.label);
	assert_string_equal(d.id, e.id);
	assert_string_equal(d.token, e.token);
	assert_string_equal(d.token_hash, HASH);
	assert_int_equal(d.addr, e.addr);
	assert_int_equal(d.port, 8000);
	assert_true(d.nonce == e.nonce);
	assert_int_equal(d.public, 1);
	sg_xf_expose_clear(&d);
	for (k = 0; k < n - 1; k++)
		assert_int_equal(sg_xf_get_expose(p + 1, k, &d), -EPROTO);
	{
		uint8_t more[512];

		memcpy(more, p + 1, n - 1);
		more[n - 1] = 0;
		assert_int_equal(sg_xf_get_expose(more, n, &d), -EPROTO);
		/* public must be 0 or 1 */
		memcpy(more, p + 1, n - 1);
		more[n - 2] = 2;
		assert_int_equal(sg_xf_get_expose(more, n - 1, &d), -EPROTO);
	}
	e.port = 8001;		/* not the label's */
	assert_int_equal(sg_xf_put_expose(b, &e), -EINVAL);
	e = expose();
	e.label = (char *)"8000-Work-0a1b2c3d";
	assert_int_equal(sg_xf_put_expose(b, &e), -EINVAL);
	e = expose();
	e.token_hash = (char *)"0123";
	assert_int_equal(sg_xf_put_expose(b, &e), -EINVAL);
	e = expose();
	e.id = (char *)"-x";
	assert_int_equal(sg_xf_put_expose(b, &e), -EINVAL);
	e = expose();
	e.addr = 0;
	assert_int_equal(sg_xf_put_expose(b, &e), -EINVAL);

	assert_int_equal(sg_xf_put_unexpose(b, "8000-work-0a1b2c3d"), 0);
	assert_int_equal(sg_buf_data(b)[0], SG_XF_UNEXPOSE);
	assert_int_equal(sg_xf_get_unexpose(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &label), 0);
	assert_string_equal(label, "8000-work-0a1b2c3d");
	free(label);
	assert_int_equal(sg_xf_put_unexpose(b, "work"), -EINVAL);
	assert_int_equal(sg_xf_put_start(b), 0);
	assert_int_equal(sg_buf_len(b), 1);
	assert_int_equal(sg_xf_put_resync(b), 0);
	{
		uint8_t dg[SG_XF_DIGEST_LEN], back[SG_XF_DIGEST_LEN];

		memset(dg, 0xab, sizeof(dg));
		assert_int_equal(sg_xf_put_ready(b, dg), 0);
		assert_int_equal(sg_buf_data(b)[0], SG_XF_READY);
		assert_int_equal(sg_buf_len(b), 1 + SG_XF_DIGEST_LEN);
		assert_int_equal(sg_xf_get_ready(sg_buf_data(b) + 1,
		    SG_XF_DIGEST_LEN, back), 0);
		assert_memory_equal(dg, back, sizeof(dg));
		assert_int_equal(sg_xf_get_ready(sg_buf_data(b) + 1,
		    SG_XF_DIGEST_LEN - 1, back), -EPROTO);
		/* the digest of a CONFIG differs with any byte of it */
		assert_int_equal(sg_xf_config_digest((const uint8_t *)"ab", 2,
		    dg), 0);
		assert_int_equal(sg_xf_config_digest((const uint8_t *)"ac", 2,
		    back), 0);
		assert_memory_not_equal(dg, back, sizeof(dg));
	}
	sg_buf_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_expose),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
