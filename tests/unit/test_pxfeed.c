/* Unit tests for the proxy's policy feed (common/pxfeed.c): every message
 * round-trips; every decoder refuses each truncation, a trailing byte,
 * counts over their limits, NULs inside strings, flags other than 0 and
 * 1, and malformed audit names and values; encoders refuse what decoders
 * would refuse, and a message over SG_MP_MAX is -ENOBUFS. */
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
#include "common/mpipe.h"
#include "common/pxfeed.h"

#define PH0 "SANDGATE_SECRET_0123456789abcdef0123456789abcdef"
#define PH1 "SANDGATE_SECRET_fedcba9876543210fedcba9876543210"

/* Decodes payload p[0..n) as a message of type and frees the result;
 * returns the decoder's code. TOKENS_BEGIN/END and START have no
 * decoder: their payload must be empty. */
static int
decode(uint8_t type, const uint8_t *p, size_t n)
{
	struct sg_feed_config c;
	struct sg_feed_secret s;
	struct sg_feed_sandbox sb;
	struct sg_feed_audit a;
	char *str = NULL;
	int r;

	switch (type) {
	case SG_FEED_CONFIG:
		r = sg_feed_get_config(p, n, &c);
		sg_feed_config_clear(&c);
		return r;
	case SG_FEED_SECRET:
		r = sg_feed_get_secret(p, n, &s);
		sg_feed_secret_clear(&s);
		return r;
	case SG_FEED_SANDBOX:
		r = sg_feed_get_sandbox(p, n, &sb);
		sg_feed_sandbox_clear(&sb);
		return r;
	case SG_FEED_DROP:
		r = sg_feed_get_drop(p, n, &str);
		free(str);
		return r;
	case SG_FEED_READY:
		r = sg_feed_get_ready(p, n, &str);
		free(str);
		return r;
	case SG_FEED_AUDIT:
		r = sg_feed_get_audit(p, n, &a);
		sg_feed_audit_clear(&a);
		return r;
	case SG_FEED_TOKENS_BEGIN:
	case SG_FEED_TOKENS_END:
	case SG_FEED_START:
		return n == 0 ? 0 : -EPROTO;
	default:
		return -EPROTO;
	}
}

/* The message in b decodes; each of its truncations and the message
 * with one more byte do not. Each input is copied to an allocation of
 * exactly its size, so that a read past it is caught under ASan. */
static void
check_strict(const struct sg_buf *b)
{
	const uint8_t *msg = sg_buf_data(b);
	size_t n = sg_buf_len(b) - 1, i;
	uint8_t *p;

	assert_true(sg_buf_len(b) >= 1);
	assert_int_equal(decode(msg[0], msg + 1, n), 0);
	for (i = 0; i < n; i++) {
		p = malloc(i > 0 ? i : 1);
		assert_non_null(p);
		memcpy(p, msg + 1, i);
		assert_int_equal(decode(msg[0], p, i), -EPROTO);
		free(p);
	}
	p = malloc(n + 1);
	assert_non_null(p);
	memcpy(p, msg + 1, n);
	p[n] = 0;
	assert_int_equal(decode(msg[0], p, n + 1), -EPROTO);
	p[n] = 'x';
	assert_int_equal(decode(msg[0], p, n + 1), -EPROTO);
	free(p);
}

/* Offset in the payload of b where the byte string s first occurs. */
static size_t
find(const struct sg_buf *b, const char *s)
{
	const uint8_t *p = sg_buf_data(b) + 1;
	size_t n = sg_buf_len(b) - 1, k = strlen(s), i;

	for (i = 0; i + k <= n; i++) {
		if (memcmp(p + i, s, k) == 0)
			return i;
	}
	fail_msg("%s not in the message", s);
	return 0;
}

/* Decodes the payload of b after setting its byte at off to v. */
static int
decode_patched(const struct sg_buf *b, size_t off, uint8_t v)
{
	size_t n = sg_buf_len(b) - 1;
	uint8_t *p = malloc(n);
	int r;

	assert_non_null(p);
	memcpy(p, sg_buf_data(b) + 1, n);
	p[off] = v;
	r = decode(sg_buf_data(b)[0], p, n);
	free(p);
	return r;
}

static struct sg_buf *
new_buf(void)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX);

	assert_non_null(b);
	return b;
}

static void
test_config(void **state)
{
	struct sg_feed_resolve res[] = {
		{ "api.example.com", "198.51.100.7" },
		{ "v6.example.com", "2001:db8::1" },
	};
	struct sg_feed_config c = {
		.max_conns = 64, .idle_ms = 60000, .head_ms = 30000,
		.upstream_ms = 15000, .pool_net = 0x0ac80000, .pool_prefix = 16,
		.nresolve = 2, .resolve = res,
		.dns = "198.51.100.53", .extra_ca = "-----BEGIN CERTIFICATE-----\n",
	}, d;
	struct sg_buf *b = new_buf();

	(void)state;
	assert_int_equal(sg_feed_put_config(b, &c), 0);
	assert_int_equal(sg_buf_data(b)[0], SG_FEED_CONFIG);
	check_strict(b);
	assert_int_equal(sg_feed_get_config(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &d), 0);
	assert_int_equal(d.max_conns, 64);
	assert_int_equal(d.idle_ms, 60000);
	assert_int_equal(d.head_ms, 30000);
	assert_int_equal(d.upstream_ms, 15000);
	assert_int_equal(d.pool_net, 0x0ac80000);
	assert_int_equal(d.pool_prefix, 16);
	assert_int_equal(d.nresolve, 2);
	assert_string_equal(d.resolve[0].name, "api.example.com");
	assert_string_equal(d.resolve[0].addr, "198.51.100.7");
	assert_string_equal(d.resolve[1].name, "v6.example.com");
	assert_string_equal(d.resolve[1].addr, "2001:db8::1");
	assert_string_equal(d.dns, "198.51.100.53");
	assert_string_equal(d.extra_ca, c.extra_ca);
	sg_feed_config_clear(&d);
	assert_null(d.resolve);
	sg_feed_config_clear(NULL);

	/* a NUL inside a string, an address that is not an IP literal */
	assert_int_equal(decode_patched(b, find(b, "api") + 1, 0), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "198.51.100.7"), 'x'),
	    -EPROTO);

	/* none of the optional parts: NULL dns and extra_ca are "" */
	c.nresolve = 0;
	c.resolve = NULL;
	c.dns = NULL;
	c.extra_ca = NULL;
	assert_int_equal(sg_feed_put_config(b, &c), 0);
	assert_int_equal(sg_buf_len(b), 1 + 6 * 4 + 1 + 2 * 4);
	check_strict(b);
	assert_int_equal(sg_feed_get_config(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &d), 0);
	assert_int_equal(d.nresolve, 0);
	assert_null(d.resolve);
	assert_string_equal(d.dns, "");
	assert_string_equal(d.extra_ca, "");
	sg_feed_config_clear(&d);

	/* the encoder refuses what the decoder would */
	res[1].addr = "v6.example.com";
	c.nresolve = 2;
	c.resolve = res;
	assert_int_equal(sg_feed_put_config(b, &c), -EINVAL);
	assert_int_equal(sg_buf_len(b), 0);
	c.nresolve = SG_FEED_MAX_RESOLVE + 1;
	assert_int_equal(sg_feed_put_config(b, &c), -EINVAL);
	c.nresolve = 0;
	c.pool_prefix = 33;
	assert_int_equal(sg_feed_put_config(b, &c), -EINVAL);
	/* a network without a prefix is no pool: refused, not "all" */
	c.pool_prefix = 0;
	c.pool_net = 0x0a000000;
	assert_int_equal(sg_feed_put_config(b, &c), -EINVAL);
	c.pool_net = 0x0ac80000;
	/* nor does the decoder take a prefix past 32 */
	c.pool_prefix = 32;
	assert_int_equal(sg_feed_put_config(b, &c), 0);
	assert_int_equal(decode_patched(b, 4 * 4 + 4, 32), 0);
	assert_int_equal(decode_patched(b, 4 * 4 + 4, 33), -EPROTO);
	assert_int_equal(decode_patched(b, 4 * 4 + 4, 0), -EPROTO);
	sg_buf_free(b);
}

static void
test_config_counts(void **state)
{
	struct sg_buf *b = new_buf();
	struct sg_feed_config d;
	uint32_t i;

	(void)state;
	/* SG_FEED_MAX_RESOLVE entries pass, one more does not */
	for (i = SG_FEED_MAX_RESOLVE; i <= SG_FEED_MAX_RESOLVE + 1; i++) {
		uint32_t k;

		sg_buf_reset(b);
		assert_int_equal(sg_buf_put_u8(b, SG_FEED_CONFIG), 0);
		for (k = 0; k < 4; k++)
			assert_int_equal(sg_buf_put_u32(b, 1), 0);
		assert_int_equal(sg_buf_put_u32(b, 0x0ac80000), 0);
		assert_int_equal(sg_buf_put_u8(b, 16), 0);
		assert_int_equal(sg_buf_put_u32(b, i), 0);
		for (k = 0; k < i; k++) {
			assert_int_equal(sg_mp_put_str(b, "a.b"), 0);
			assert_int_equal(sg_mp_put_str(b, "10.0.0.1"), 0);
		}
		assert_int_equal(sg_mp_put_str(b, ""), 0);
		assert_int_equal(sg_mp_put_str(b, ""), 0);
		assert_int_equal(sg_feed_get_config(sg_buf_data(b) + 1,
		    sg_buf_len(b) - 1, &d),
		    i <= SG_FEED_MAX_RESOLVE ? 0 : -EPROTO);
		if (i <= SG_FEED_MAX_RESOLVE)
			assert_int_equal(d.nresolve, i);
		else
			assert_null(d.resolve);
		sg_feed_config_clear(&d);
	}
	/* a huge count with nothing behind it */
	assert_int_equal(sg_buf_poke_u32(b, 16, 0xffffffffu), 0);
	assert_int_equal(sg_feed_get_config(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &d), -EPROTO);
	sg_buf_free(b);
}

static void
test_tokens_begin_end(void **state)
{
	struct sg_buf *b = new_buf();

	(void)state;
	assert_int_equal(sg_buf_put_u8(b, 99), 0);
	assert_int_equal(sg_feed_put_tokens_begin(b), 0);
	assert_int_equal(sg_buf_len(b), 1);
	assert_int_equal(sg_buf_data(b)[0], SG_FEED_TOKENS_BEGIN);
	check_strict(b);
	assert_int_equal(sg_feed_put_tokens_end(b), 0);
	assert_int_equal(sg_buf_len(b), 1);
	assert_int_equal(sg_buf_data(b)[0], SG_FEED_TOKENS_END);
	check_strict(b);
	assert_int_equal(sg_feed_put_start(b), 0);
	assert_int_equal(sg_buf_len(b), 1);
	assert_int_equal(sg_buf_data(b)[0], SG_FEED_START);
	check_strict(b);
	sg_buf_free(b);
}

static void
test_secret(void **state)
{
	char value[256];
	struct sg_feed_secret s = {
		.token = "ci", .name = "GITHUB_TOKEN", .has_value = 1,
		.value = value, .value_len = 255,
		.hosts = "api.github.com, *.githubusercontent.com",
		.in = "header, query", .allow_http = 0,
	}, d;
	struct sg_buf *b = new_buf();
	size_t i, off;

	(void)state;
	/* every byte but NUL */
	for (i = 0; i < 255; i++)
		value[i] = (char)(i + 1);
	value[255] = '\0';
	sg_buf_set_wipe(b, 1);
	assert_int_equal(sg_feed_put_secret(b, &s), 0);
	assert_int_equal(sg_buf_data(b)[0], SG_FEED_SECRET);
	check_strict(b);
	assert_int_equal(sg_feed_get_secret(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &d), 0);
	assert_string_equal(d.token, "ci");
	assert_string_equal(d.name, "GITHUB_TOKEN");
	assert_int_equal(d.has_value, 1);
	assert_int_equal(d.value_len, 255);
	assert_memory_equal(d.value, value, 256);
	assert_string_equal(d.hosts, s.hosts);
	assert_string_equal(d.in, "header, query");
	assert_int_equal(d.allow_http, 0);
	sg_feed_secret_clear(&d);
	assert_null(d.value);
	assert_int_equal(d.value_len, 0);
	sg_feed_secret_clear(NULL);

	/* flags: has_value sits right after the name, allow_http last */
	off = find(b, "GITHUB_TOKEN") + strlen("GITHUB_TOKEN");
	assert_int_equal(decode_patched(b, off, 2), -EPROTO);
	assert_int_equal(decode_patched(b, off, 0xff), -EPROTO);
	/* has_value 0 with a value */
	assert_int_equal(decode_patched(b, off, 0), -EPROTO);
	assert_int_equal(decode_patched(b, sg_buf_len(b) - 2, 1), 0);
	assert_int_equal(decode_patched(b, sg_buf_len(b) - 2, 2), -EPROTO);
	/* NUL in the value, in the name, in hosts */
	assert_int_equal(decode_patched(b, off + 1 + 4 + 10, 0), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "GITHUB"), 0), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "api.github"), 0), -EPROTO);

	/* no value: sent empty whatever the struct holds */
	s.has_value = 0;
	s.allow_http = 1;
	assert_int_equal(sg_feed_put_secret(b, &s), 0);
	check_strict(b);
	assert_int_equal(sg_feed_get_secret(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &d), 0);
	assert_int_equal(d.has_value, 0);
	assert_string_equal(d.value, "");
	assert_int_equal(d.value_len, 0);
	assert_int_equal(d.allow_http, 1);
	sg_feed_secret_clear(&d);

	/* an empty value is still a value */
	s.has_value = 1;
	s.value = "";
	s.value_len = 0;
	assert_int_equal(sg_feed_put_secret(b, &s), 0);
	check_strict(b);
	sg_buf_free(b);
}

static void
test_secret_value_limits(void **state)
{
	char *value = malloc(SG_FEED_MAX_VALUE + 2);
	struct sg_feed_secret s = {
		.token = "t", .name = "N", .has_value = 1, .value = value,
		.hosts = "h", .in = "header",
	}, d;
	struct sg_buf *b = new_buf();
	size_t off;

	(void)state;
	assert_non_null(value);
	memset(value, 'v', SG_FEED_MAX_VALUE + 1);
	value[SG_FEED_MAX_VALUE + 1] = '\0';
	s.value_len = SG_FEED_MAX_VALUE;
	assert_int_equal(sg_feed_put_secret(b, &s), 0);
	assert_int_equal(sg_feed_get_secret(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &d), 0);
	assert_int_equal(d.value_len, SG_FEED_MAX_VALUE);
	sg_feed_secret_clear(&d);
	s.value_len = SG_FEED_MAX_VALUE + 1;
	assert_int_equal(sg_feed_put_secret(b, &s), -EINVAL);
	assert_int_equal(sg_buf_len(b), 0);

	/* a value with a NUL does not leave the encoder */
	value[3] = '\0';
	s.value_len = 10;
	assert_int_equal(sg_feed_put_secret(b, &s), -EINVAL);

	/* one byte over the limit on the wire */
	sg_buf_reset(b);
	assert_int_equal(sg_mp_put_str(b, "t"), 0);
	assert_int_equal(sg_mp_put_str(b, "N"), 0);
	assert_int_equal(sg_buf_put_u8(b, 1), 0);
	off = sg_buf_len(b);
	memset(value, 'v', SG_FEED_MAX_VALUE + 1);
	assert_int_equal(sg_mp_put_str(b, value), 0);
	assert_int_equal(sg_mp_put_str(b, "h"), 0);
	assert_int_equal(sg_mp_put_str(b, "header"), 0);
	assert_int_equal(sg_buf_put_u8(b, 0), 0);
	assert_int_equal(sg_feed_get_secret(sg_buf_data(b), sg_buf_len(b), &d),
	    -EPROTO);
	assert_null(d.value);
	assert_int_equal(sg_buf_poke_u32(b, off, SG_FEED_MAX_VALUE), 0);
	/* now one byte is left over before hosts: still refused */
	assert_int_equal(sg_feed_get_secret(sg_buf_data(b), sg_buf_len(b), &d),
	    -EPROTO);
	free(value);
	sg_buf_free(b);
}

static void
test_sandbox(void **state)
{
	char *allow[] = { "api.github.com", "*.example.org:8443", "10.0.0.0/8" };
	struct sg_feed_placeholder ph[] = {
		{ "GITHUB_TOKEN", PH0 }, { "OTHER", PH1 },
	};
	struct sg_feed_sandbox s = {
		.id = "sb-1234", .token = "ci", .addr = 0x0ac80002u,
		.nallow = 3, .allow = allow, .nph = 2, .ph = ph,
	}, d;
	struct sg_buf *b = new_buf();

	(void)state;
	assert_int_equal(sg_feed_put_sandbox(b, &s), 0);
	assert_int_equal(sg_buf_data(b)[0], SG_FEED_SANDBOX);
	check_strict(b);
	assert_int_equal(sg_feed_get_sandbox(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &d), 0);
	assert_string_equal(d.id, "sb-1234");
	assert_string_equal(d.token, "ci");
	assert_int_equal(d.addr, 0x0ac80002u);
	assert_int_equal(d.nallow, 3);
	assert_string_equal(d.allow[0], "api.github.com");
	assert_string_equal(d.allow[1], "*.example.org:8443");
	assert_string_equal(d.allow[2], "10.0.0.0/8");
	assert_int_equal(d.nph, 2);
	assert_string_equal(d.ph[0].name, "GITHUB_TOKEN");
	assert_string_equal(d.ph[0].value, PH0);
	assert_string_equal(d.ph[1].name, "OTHER");
	assert_string_equal(d.ph[1].value, PH1);
	sg_feed_sandbox_clear(&d);
	assert_null(d.allow);
	sg_feed_sandbox_clear(NULL);

	/* NUL in an allow entry; a placeholder in the wrong case or cut */
	assert_int_equal(decode_patched(b, find(b, "*.example"), 0), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, PH0) + 20, 'A'), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, PH0) + 20, 'g'), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, PH0), 's'), -EPROTO);

	/* empty lists */
	s.nallow = 0;
	s.allow = NULL;
	s.nph = 0;
	s.ph = NULL;
	assert_int_equal(sg_feed_put_sandbox(b, &s), 0);
	check_strict(b);

	/* the encoder refuses bad placeholders and long lists */
	ph[1].value = "SANDGATE_SECRET_short";
	s.nph = 2;
	s.ph = ph;
	assert_int_equal(sg_feed_put_sandbox(b, &s), -EINVAL);
	ph[1].value = PH1;
	s.nph = SG_FEED_MAX_SECRETS + 1;
	assert_int_equal(sg_feed_put_sandbox(b, &s), -EINVAL);
	s.nph = 0;
	s.nallow = SG_FEED_MAX_ALLOW + 1;
	s.allow = allow;
	assert_int_equal(sg_feed_put_sandbox(b, &s), -EINVAL);
	sg_buf_free(b);
}

/* A SANDBOX payload with nallow allow entries and nph placeholders. */
static void
raw_sandbox(struct sg_buf *b, uint32_t nallow, uint32_t nph)
{
	uint32_t i;

	sg_buf_reset(b);
	assert_int_equal(sg_mp_put_str(b, "id"), 0);
	assert_int_equal(sg_mp_put_str(b, "tok"), 0);
	assert_int_equal(sg_buf_put_u32(b, 1), 0);
	assert_int_equal(sg_buf_put_u32(b, nallow), 0);
	for (i = 0; i < nallow; i++)
		assert_int_equal(sg_mp_put_str(b, "a"), 0);
	assert_int_equal(sg_buf_put_u32(b, nph), 0);
	for (i = 0; i < nph; i++) {
		assert_int_equal(sg_mp_put_str(b, "N"), 0);
		assert_int_equal(sg_mp_put_str(b, PH0), 0);
	}
}

static void
test_sandbox_counts(void **state)
{
	struct sg_buf *b = sg_buf_new(1 << 16);
	struct sg_feed_sandbox d;

	(void)state;
	assert_non_null(b);
	raw_sandbox(b, SG_FEED_MAX_ALLOW, SG_FEED_MAX_SECRETS);
	assert_int_equal(sg_feed_get_sandbox(sg_buf_data(b), sg_buf_len(b), &d),
	    0);
	assert_int_equal(d.nallow, SG_FEED_MAX_ALLOW);
	assert_int_equal(d.nph, SG_FEED_MAX_SECRETS);
	sg_feed_sandbox_clear(&d);
	raw_sandbox(b, SG_FEED_MAX_ALLOW + 1, 0);
	assert_int_equal(sg_feed_get_sandbox(sg_buf_data(b), sg_buf_len(b), &d),
	    -EPROTO);
	assert_null(d.allow);
	raw_sandbox(b, 0, SG_FEED_MAX_SECRETS + 1);
	assert_int_equal(sg_feed_get_sandbox(sg_buf_data(b), sg_buf_len(b), &d),
	    -EPROTO);
	assert_null(d.ph);
	sg_buf_free(b);
}

static void
test_drop_ready(void **state)
{
	struct sg_buf *b = sg_buf_new(1 << 16);
	char *pem = malloc(SG_FEED_MAX_STR + 2), *got = NULL;

	(void)state;
	assert_non_null(b);
	assert_non_null(pem);
	assert_int_equal(sg_feed_put_drop(b, "sb-1234"), 0);
	assert_int_equal(sg_buf_data(b)[0], SG_FEED_DROP);
	check_strict(b);
	assert_int_equal(sg_feed_get_drop(sg_buf_data(b) + 1, sg_buf_len(b) - 1,
	    &got), 0);
	assert_string_equal(got, "sb-1234");
	free(got);
	assert_int_equal(decode_patched(b, 5, 0), -EPROTO);
	assert_int_equal(sg_feed_put_drop(b, NULL), -EINVAL);

	/* READY takes a PEM of up to SG_FEED_MAX_STR bytes */
	memset(pem, 'P', SG_FEED_MAX_STR + 1);
	pem[SG_FEED_MAX_STR] = '\0';
	assert_int_equal(sg_feed_put_ready(b, pem), 0);
	assert_int_equal(sg_buf_data(b)[0], SG_FEED_READY);
	assert_int_equal(sg_feed_get_ready(sg_buf_data(b) + 1, sg_buf_len(b) - 1,
	    &got), 0);
	assert_string_equal(got, pem);
	free(got);
	pem[SG_FEED_MAX_STR] = 'P';
	pem[SG_FEED_MAX_STR + 1] = '\0';
	assert_int_equal(sg_feed_put_ready(b, pem), -EINVAL);
	/* and one over it on the wire */
	sg_buf_reset(b);
	assert_int_equal(sg_buf_put_u32(b, SG_FEED_MAX_STR + 1), 0);
	assert_int_equal(sg_buf_put(b, pem, SG_FEED_MAX_STR + 1), 0);
	got = NULL;
	assert_int_equal(sg_feed_get_ready(sg_buf_data(b), sg_buf_len(b), &got),
	    -EPROTO);
	assert_null(got);
	assert_int_equal(sg_feed_put_ready(b, "-----BEGIN CERTIFICATE-----\n"),
	    0);
	check_strict(b);
	free(pem);
	sg_buf_free(b);
}

static void
test_audit(void **state)
{
	const char *const pairs[] = {
		"sandbox_id", "sb-1234",
		"host", "api.github.com",
		"skipped", NULL,
		"secret", "GITHUB_TOKEN",
		"note", "caf\xc3\xa9 ~ \"ok\"",
		NULL,
	};
	struct sg_buf *b = new_buf();
	struct sg_feed_audit a;

	(void)state;
	assert_int_equal(sg_feed_put_audit(b, "secret_blocked", pairs), 0);
	assert_int_equal(sg_buf_data(b)[0], SG_FEED_AUDIT);
	check_strict(b);
	assert_int_equal(sg_feed_get_audit(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &a), 0);
	assert_string_equal(a.event, "secret_blocked");
	assert_int_equal(a.n, 4);
	assert_string_equal(a.key[0], "sandbox_id");
	assert_string_equal(a.value[0], "sb-1234");
	assert_string_equal(a.key[1], "host");
	assert_string_equal(a.value[1], "api.github.com");
	assert_string_equal(a.key[2], "secret");
	assert_string_equal(a.value[2], "GITHUB_TOKEN");
	assert_string_equal(a.key[3], "note");
	assert_string_equal(a.value[3], "caf\xc3\xa9 ~ \"ok\"");
	sg_feed_audit_clear(&a);
	assert_null(a.event);
	sg_feed_audit_clear(NULL);

	/* bad bytes in the event, a key, a value */
	assert_int_equal(decode_patched(b, find(b, "secret_blocked"), 'S'),
	    -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "secret_blocked") + 6, '-'),
	    -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "sandbox_id") + 1, 'A'),
	    -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "host"), '0'), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "sb-1234"), 0), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "sb-1234"), '\n'), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "sb-1234"), 0x1f), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "sb-1234"), 0x7f), -EPROTO);
	assert_int_equal(decode_patched(b, find(b, "sb-1234"), 0x80), 0);
	assert_int_equal(decode_patched(b, find(b, "sb-1234"), ' '), 0);

	/* no pairs at all */
	assert_int_equal(sg_feed_put_audit(b, "proxy_ready", NULL), 0);
	check_strict(b);
	sg_buf_free(b);
}

static void
test_audit_names(void **state)
{
	static const char *const bad[] = {
		"", "Upper", "dash-ed", "dot.ted", "digit1", "sp ace",
		"abcdefghijklmnopqrstuvwxyz_abcdef",	/* 33 */
	};
	const char *pairs[] = { "key", "v", NULL };
	struct sg_buf *b = new_buf();
	struct sg_feed_audit a;
	size_t i;

	(void)state;
	/* 32 is the longest name */
	assert_int_equal(sg_feed_put_audit(b,
	    "abcdefghijklmnopqrstuvwxyz_abcde", NULL), 0);
	check_strict(b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* the encoder refuses them as event and as key */
		assert_int_equal(sg_feed_put_audit(b, bad[i], NULL), -EINVAL);
		assert_int_equal(sg_buf_len(b), 0);
		pairs[0] = bad[i];
		assert_int_equal(sg_feed_put_audit(b, "ev", pairs), -EINVAL);
		/* and the decoder too */
		sg_buf_reset(b);
		assert_int_equal(sg_mp_put_str(b, bad[i]), 0);
		assert_int_equal(sg_buf_put_u32(b, 0), 0);
		assert_int_equal(sg_feed_get_audit(sg_buf_data(b),
		    sg_buf_len(b), &a), -EPROTO);
		assert_null(a.event);
		sg_buf_reset(b);
		assert_int_equal(sg_mp_put_str(b, "ev"), 0);
		assert_int_equal(sg_buf_put_u32(b, 1), 0);
		assert_int_equal(sg_mp_put_str(b, bad[i]), 0);
		assert_int_equal(sg_mp_put_str(b, "v"), 0);
		assert_int_equal(sg_feed_get_audit(sg_buf_data(b),
		    sg_buf_len(b), &a), -EPROTO);
	}
	assert_int_equal(sg_feed_put_audit(b, NULL, NULL), -EINVAL);
	sg_buf_free(b);
}

static void
test_audit_values(void **state)
{
	char *big = malloc(2000);
	const char *pairs[] = { "a", NULL, "b", NULL, NULL };
	struct sg_buf *b = new_buf();
	struct sg_feed_audit a;
	uint32_t i;

	(void)state;
	assert_non_null(big);
	/* control bytes become '?'; values are cut at 1024 bytes */
	pairs[1] = "GET /\r\n\x01x\x7fy";
	memset(big, 'z', 1999);
	big[1999] = '\0';
	pairs[3] = big;
	assert_int_equal(sg_feed_put_audit(b, "ev", pairs), 0);
	check_strict(b);
	assert_int_equal(sg_feed_get_audit(sg_buf_data(b) + 1,
	    sg_buf_len(b) - 1, &a), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.value[0], "GET /???x?y");
	assert_int_equal(strlen(a.value[1]), 1024);
	sg_feed_audit_clear(&a);

	/* 1025 bytes on the wire */
	sg_buf_reset(b);
	assert_int_equal(sg_mp_put_str(b, "ev"), 0);
	assert_int_equal(sg_buf_put_u32(b, 1), 0);
	assert_int_equal(sg_mp_put_str(b, "k"), 0);
	big[1025] = '\0';
	assert_int_equal(sg_mp_put_str(b, big), 0);
	assert_int_equal(sg_feed_get_audit(sg_buf_data(b), sg_buf_len(b), &a),
	    -EPROTO);

	/* SG_FEED_MAX_AUDIT pairs pass, one more does not */
	for (i = SG_FEED_MAX_AUDIT; i <= SG_FEED_MAX_AUDIT + 1; i++) {
		uint32_t k;

		sg_buf_reset(b);
		assert_int_equal(sg_mp_put_str(b, "ev"), 0);
		assert_int_equal(sg_buf_put_u32(b, i), 0);
		for (k = 0; k < i; k++) {
			assert_int_equal(sg_mp_put_str(b, "k"), 0);
			assert_int_equal(sg_mp_put_str(b, "v"), 0);
		}
		assert_int_equal(sg_feed_get_audit(sg_buf_data(b),
		    sg_buf_len(b), &a), i <= SG_FEED_MAX_AUDIT ? 0 : -EPROTO);
		if (i <= SG_FEED_MAX_AUDIT)
			assert_int_equal(a.n, i);
		sg_feed_audit_clear(&a);
	}
	sg_buf_free(b);
	free(big);
}

static void
test_audit_too_many(void **state)
{
	const char *pairs[2 * (SG_FEED_MAX_AUDIT + 2) + 1];
	struct sg_buf *b = new_buf();
	size_t i;

	(void)state;
	for (i = 0; i < SG_FEED_MAX_AUDIT + 2; i++) {
		pairs[2 * i] = "k";
		pairs[2 * i + 1] = "v";
	}
	pairs[2 * (SG_FEED_MAX_AUDIT + 1)] = NULL;
	assert_int_equal(sg_feed_put_audit(b, "ev", pairs), -EINVAL);
	/* a NULL value does not count */
	pairs[1] = NULL;
	assert_int_equal(sg_feed_put_audit(b, "ev", pairs), 0);
	check_strict(b);
	sg_buf_free(b);
}

/* A CONFIG over SG_MP_MAX is -ENOBUFS, in a buffer of that maximum as in
 * a larger one, and leaves the buffer empty. */
static void
test_too_large(void **state)
{
	struct sg_feed_resolve res[SG_FEED_MAX_RESOLVE];
	struct sg_feed_config c = {
		.max_conns = 1, .nresolve = SG_FEED_MAX_RESOLVE, .resolve = res,
		.dns = "",
	};
	struct sg_buf *small = new_buf(), *large = sg_buf_new(1 << 20);
	char name[40];
	size_t i;

	(void)state;
	assert_non_null(large);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (i = 0; i < SG_FEED_MAX_RESOLVE; i++) {
		res[i].name = name;
		res[i].addr = "2001:db8::1";
	}
	/* 256 x (4 + 39 + 4 + 11) = 14848 bytes of entries: fits */
	c.extra_ca = "";
	assert_int_equal(sg_feed_put_config(small, &c), 0);
	assert_true(sg_buf_len(small) <= SG_MP_MAX);
	/* with 2000 bytes of CA it does not */
	c.extra_ca = malloc(2001);
	assert_non_null(c.extra_ca);
	memset(c.extra_ca, 'C', 2000);
	c.extra_ca[2000] = '\0';
	assert_int_equal(sg_feed_put_config(small, &c), -ENOBUFS);
	assert_int_equal(sg_buf_len(small), 0);
	assert_int_equal(sg_feed_put_config(large, &c), -ENOBUFS);
	assert_int_equal(sg_buf_len(large), 0);
	free(c.extra_ca);
	sg_buf_free(small);
	sg_buf_free(large);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_counts),
		cmocka_unit_test(test_tokens_begin_end),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_secret_value_limits),
		cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_sandbox_counts),
		cmocka_unit_test(test_drop_ready),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_audit_names),
		cmocka_unit_test(test_audit_values),
		cmocka_unit_test(test_audit_too_many),
		cmocka_unit_test(test_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
