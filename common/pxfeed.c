/* sg_feed: the policy feed between the monitor and sandgate-proxy, see
 * pxfeed.h.
 *
 * Encoders refuse (-EINVAL) what the peer's decoder would refuse, so that
 * a message that leaves one side is always accepted by the other: a NULL
 * string (except dns and extra_ca, which default to ""), a field over its
 * limit, a list over its count, a secret value with a NUL, a placeholder
 * that is not SANDGATE_SECRET_ + 32 lowercase hex digits, a resolve
 * address that is not an IP literal, an audit event or key outside
 * [a-z_]{1,32}. Audit values are the exception: they may come from the
 * guest (a Host header, an SNI name), and an event must never be lost to
 * the guest's choice of bytes, so the encoder replaces control bytes
 * (below 0x20, and 0x7f) by '?' and cuts values at AUDIT_VALUE_MAX bytes.
 *
 * Decoders refuse (-EPROTO) truncation, trailing bytes, embedded NULs,
 * strings over their limit, counts over their limit and flags other than
 * 0 and 1; on failure they wipe what they decoded of a secret value. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mpipe.h"
#include "common/pxfeed.h"

#define AUDIT_NAME_MAX		32
#define AUDIT_VALUE_MAX		1024

/* Reads a flag byte, 0 or 1. */
static int
get_flag(struct sg_cur *c, int *ret)
{
	uint8_t v = sg_cur_u8(c);

	if (c->err || v > 1)
		return -EPROTO;
	*ret = v;
	return 0;
}

/* Reads a count of at most max. */
static int
get_count(struct sg_cur *c, size_t max, size_t *ret)
{
	uint32_t v = sg_cur_u32(c);

	if (c->err || v > max)
		return -EPROTO;
	*ret = v;
	return 0;
}

static int
is_ip_literal(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* SANDGATE_SECRET_ and 32 lowercase hex digits, nothing else. */
static int
is_placeholder(const char *s)
{
	size_t i;

	if (strlen(s) != SG_FEED_PH_LEN ||
	    memcmp(s, SG_FEED_PH_PREFIX, SG_FEED_PH_PREFIX_LEN) != 0)
		return 0;
	for (i = SG_FEED_PH_PREFIX_LEN; i < SG_FEED_PH_LEN; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* An audit event or key: [a-z_]{1,32}. */
static int
is_audit_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > AUDIT_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return 0;
	}
	return 1;
}

/* An audit value: at most AUDIT_VALUE_MAX bytes, none below 0x20 nor
 * 0x7f (bytes from 0x80 are left to the audit log's escaping). */
static int
is_audit_value(const char *s)
{
	const unsigned char *p;

	if (strlen(s) > AUDIT_VALUE_MAX)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	}
	return 1;
}

int
sg_feed_put_config(struct sg_buf *b, const struct sg_feed_config *c)
{
	size_t i;
	int r;

	r = sg_mp_begin(b, SG_FEED_CONFIG);
	if (r == 0 && (c->nresolve > SG_FEED_MAX_RESOLVE ||
	    (c->nresolve > 0 && c->resolve == NULL)))
		r = -EINVAL;
	if (r == 0)
		r = sg_buf_put_u32(b, c->max_conns);
	if (r == 0)
		r = sg_buf_put_u32(b, c->idle_ms);
	if (r == 0)
		r = sg_buf_put_u32(b, c->head_ms);
	if (r == 0)
		r = sg_buf_put_u32(b, c->upstream_ms);
	if (r == 0 && (c->pool_prefix > 32 ||
	    (c->pool_prefix == 0 && c->pool_net != 0)))
		r = -EINVAL;
	if (r == 0)
		r = sg_buf_put_u32(b, c->pool_net);
	if (r == 0)
		r = sg_buf_put_u8(b, c->pool_prefix);
	if (r == 0)
		r = sg_buf_put_u32(b, (uint32_t)c->nresolve);
	for (i = 0; r == 0 && i < c->nresolve; i++) {
		if (c->resolve[i].addr == NULL ||
		    !is_ip_literal(c->resolve[i].addr)) {
			r = -EINVAL;
			break;
		}
		r = sg_mp_put_str_max(b, c->resolve[i].name, SG_FEED_MAX_STR);
		if (r == 0)
			r = sg_mp_put_str_max(b, c->resolve[i].addr, SG_FEED_MAX_STR);
	}
	if (r == 0)
		r = sg_mp_put_str_max(b, c->dns != NULL ? c->dns : "", SG_FEED_MAX_STR);
	if (r == 0)
		r = sg_mp_put_str_max(b, c->extra_ca != NULL ? c->extra_ca : "",
		    SG_FEED_MAX_STR);
	return sg_mp_end(b, r);
}

void
sg_feed_config_clear(struct sg_feed_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; c->resolve != NULL && i < c->nresolve; i++) {
		free(c->resolve[i].name);
		free(c->resolve[i].addr);
	}
	free(c->resolve);
	free(c->dns);
	free(c->extra_ca);
	memset(c, 0, sizeof(*c));
}

int
sg_feed_get_config(const uint8_t *p, size_t n, struct sg_feed_config *ret)
{
	struct sg_feed_config c;
	struct sg_cur cur;
	size_t i, nres = 0;
	int r;

	memset(&c, 0, sizeof(c));
	sg_cur_init(&cur, p, n);
	c.max_conns = sg_cur_u32(&cur);
	c.idle_ms = sg_cur_u32(&cur);
	c.head_ms = sg_cur_u32(&cur);
	c.upstream_ms = sg_cur_u32(&cur);
	c.pool_net = sg_cur_u32(&cur);
	c.pool_prefix = sg_cur_u8(&cur);
	r = c.pool_prefix > 32 || (c.pool_prefix == 0 && c.pool_net != 0) ?
	    -EPROTO : 0;
	if (r == 0)
		r = get_count(&cur, SG_FEED_MAX_RESOLVE, &nres);
	if (r == 0 && nres > 0) {
		c.resolve = calloc(nres, sizeof(*c.resolve));
		if (c.resolve == NULL)
			r = -ENOMEM;
	}
	/* nresolve counts the entries allocated, so that _clear frees
	 * whatever was decoded before a failure */
	if (r == 0)
		c.nresolve = nres;
	for (i = 0; r == 0 && i < nres; i++) {
		r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &c.resolve[i].name);
		if (r == 0)
			r = sg_mp_get_str(&cur, SG_FEED_MAX_STR,
			    &c.resolve[i].addr);
		if (r == 0 && !is_ip_literal(c.resolve[i].addr))
			r = -EPROTO;
	}
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &c.dns);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &c.extra_ca);
	if (r == 0 && (cur.err || cur.n != 0))
		r = -EPROTO;
	if (r < 0) {
		sg_feed_config_clear(&c);
		memset(ret, 0, sizeof(*ret));
		return r;
	}
	*ret = c;
	return 0;
}

int
sg_feed_put_tokens_begin(struct sg_buf *b)
{
	return sg_mp_end(b, sg_mp_begin(b, SG_FEED_TOKENS_BEGIN));
}

int
sg_feed_put_tokens_end(struct sg_buf *b)
{
	return sg_mp_end(b, sg_mp_begin(b, SG_FEED_TOKENS_END));
}

int
sg_feed_put_start(struct sg_buf *b)
{
	return sg_mp_end(b, sg_mp_begin(b, SG_FEED_START));
}

int
sg_feed_put_resync(struct sg_buf *b)
{
	return sg_mp_end(b, sg_mp_begin(b, SG_FEED_RESYNC));
}

/* The value goes in as value_len bytes, which must hold no NUL; with
 * has_value 0 the value is sent empty whatever the struct holds. The
 * value's bytes are then in b: the caller wipes b (sg_buf_set_wipe). */
int
sg_feed_put_secret(struct sg_buf *b, const struct sg_feed_secret *s)
{
	size_t vlen = s->has_value ? s->value_len : 0;
	int r;

	r = sg_mp_begin(b, SG_FEED_SECRET);
	if (r == 0 && (vlen > SG_FEED_MAX_VALUE ||
	    (vlen > 0 && (s->value == NULL ||
	    memchr(s->value, '\0', vlen) != NULL))))
		r = -EINVAL;
	if (r == 0)
		r = sg_mp_put_str_max(b, s->token, SG_FEED_MAX_STR);
	if (r == 0)
		r = sg_mp_put_str_max(b, s->name, SG_FEED_MAX_STR);
	if (r == 0)
		r = sg_buf_put_u8(b, s->has_value ? 1 : 0);
	if (r == 0)
		r = sg_buf_put_u32(b, (uint32_t)vlen);
	if (r == 0)
		r = sg_buf_put(b, s->value, vlen);
	if (r == 0)
		r = sg_mp_put_str_max(b, s->hosts, SG_FEED_MAX_STR);
	if (r == 0)
		r = sg_mp_put_str_max(b, s->in, SG_FEED_MAX_STR);
	if (r == 0)
		r = sg_buf_put_u8(b, s->allow_http ? 1 : 0);
	return sg_mp_end(b, r);
}

void
sg_feed_secret_clear(struct sg_feed_secret *s)
{
	if (s == NULL)
		return;
	if (s->value != NULL) {
		explicit_bzero(s->value, strlen(s->value));
		free(s->value);
	}
	free(s->token);
	free(s->name);
	free(s->hosts);
	free(s->in);
	explicit_bzero(s, sizeof(*s));
}

/* A value is sent only with has_value 1; with has_value 0 it must be
 * empty. */
int
sg_feed_get_secret(const uint8_t *p, size_t n, struct sg_feed_secret *ret)
{
	struct sg_feed_secret s;
	struct sg_cur cur;
	int r;

	memset(&s, 0, sizeof(s));
	sg_cur_init(&cur, p, n);
	r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s.token);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s.name);
	if (r == 0)
		r = get_flag(&cur, &s.has_value);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_FEED_MAX_VALUE, &s.value);
	if (r == 0) {
		s.value_len = strlen(s.value);
		if (!s.has_value && s.value_len != 0)
			r = -EPROTO;
	}
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s.hosts);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s.in);
	if (r == 0)
		r = get_flag(&cur, &s.allow_http);
	if (r == 0 && (cur.err || cur.n != 0))
		r = -EPROTO;
	if (r < 0) {
		sg_feed_secret_clear(&s);
		memset(ret, 0, sizeof(*ret));
		return r;
	}
	*ret = s;
	explicit_bzero(&s, sizeof(s));
	return 0;
}

int
sg_feed_put_sandbox(struct sg_buf *b, const struct sg_feed_sandbox *s)
{
	size_t i;
	int r;

	r = sg_mp_begin(b, SG_FEED_SANDBOX);
	if (r == 0 && (s->nallow > SG_FEED_MAX_ALLOW ||
	    s->nph > SG_FEED_MAX_SECRETS ||
	    (s->nallow > 0 && s->allow == NULL) ||
	    (s->nph > 0 && s->ph == NULL)))
		r = -EINVAL;
	if (r == 0)
		r = sg_mp_put_str_max(b, s->id, SG_FEED_MAX_STR);
	if (r == 0)
		r = sg_mp_put_str_max(b, s->token, SG_FEED_MAX_STR);
	if (r == 0)
		r = sg_buf_put_u32(b, s->addr);
	if (r == 0)
		r = sg_buf_put_u32(b, (uint32_t)s->nallow);
	for (i = 0; r == 0 && i < s->nallow; i++)
		r = sg_mp_put_str_max(b, s->allow[i], SG_FEED_MAX_STR);
	if (r == 0)
		r = sg_buf_put_u32(b, (uint32_t)s->nph);
	for (i = 0; r == 0 && i < s->nph; i++) {
		if (s->ph[i].value == NULL || !is_placeholder(s->ph[i].value)) {
			r = -EINVAL;
			break;
		}
		r = sg_mp_put_str_max(b, s->ph[i].name, SG_FEED_MAX_STR);
		if (r == 0)
			r = sg_mp_put_str_max(b, s->ph[i].value, SG_FEED_MAX_STR);
	}
	return sg_mp_end(b, r);
}

void
sg_feed_sandbox_clear(struct sg_feed_sandbox *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; s->allow != NULL && i < s->nallow; i++)
		free(s->allow[i]);
	for (i = 0; s->ph != NULL && i < s->nph; i++) {
		free(s->ph[i].name);
		free(s->ph[i].value);
	}
	free(s->allow);
	free(s->ph);
	free(s->id);
	free(s->token);
	memset(s, 0, sizeof(*s));
}

int
sg_feed_get_sandbox(const uint8_t *p, size_t n, struct sg_feed_sandbox *ret)
{
	struct sg_feed_sandbox s;
	struct sg_cur cur;
	size_t i, cnt = 0;
	int r;

	memset(&s, 0, sizeof(s));
	sg_cur_init(&cur, p, n);
	r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s.id);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s.token);
	if (r == 0) {
		s.addr = sg_cur_u32(&cur);
		r = get_count(&cur, SG_FEED_MAX_ALLOW, &cnt);
	}
	if (r == 0 && cnt > 0) {
		s.allow = calloc(cnt, sizeof(*s.allow));
		if (s.allow == NULL)
			r = -ENOMEM;
		else
			s.nallow = cnt;
	}
	for (i = 0; r == 0 && i < s.nallow; i++)
		r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s.allow[i]);
	if (r == 0)
		r = get_count(&cur, SG_FEED_MAX_SECRETS, &cnt);
	if (r == 0 && cnt > 0) {
		s.ph = calloc(cnt, sizeof(*s.ph));
		if (s.ph == NULL)
			r = -ENOMEM;
		else
			s.nph = cnt;
	}
	for (i = 0; r == 0 && i < s.nph; i++) {
		r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s.ph[i].name);
		if (r == 0)
			r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s.ph[i].value);
		if (r == 0 && !is_placeholder(s.ph[i].value))
			r = -EPROTO;
	}
	if (r == 0 && (cur.err || cur.n != 0))
		r = -EPROTO;
	if (r < 0) {
		sg_feed_sandbox_clear(&s);
		memset(ret, 0, sizeof(*ret));
		return r;
	}
	*ret = s;
	return 0;
}

int
sg_feed_put_drop(struct sg_buf *b, const char *id)
{
	int r = sg_mp_begin(b, SG_FEED_DROP);

	if (r == 0)
		r = sg_mp_put_str_max(b, id, SG_FEED_MAX_STR);
	return sg_mp_end(b, r);
}

int
sg_feed_put_ready(struct sg_buf *b, const char *ca_pem)
{
	int r = sg_mp_begin(b, SG_FEED_READY);

	if (r == 0)
		r = sg_mp_put_str_max(b, ca_pem, SG_FEED_MAX_STR);
	return sg_mp_end(b, r);
}

/* DROP and READY: one string and nothing after it. */
static int
get_one_str(const uint8_t *p, size_t n, char **ret)
{
	struct sg_cur cur;
	char *s = NULL;
	int r;

	sg_cur_init(&cur, p, n);
	r = sg_mp_get_str(&cur, SG_FEED_MAX_STR, &s);
	if (r == 0 && (cur.err || cur.n != 0))
		r = -EPROTO;
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int
sg_feed_get_drop(const uint8_t *p, size_t n, char **ret_id)
{
	return get_one_str(p, n, ret_id);
}

int
sg_feed_get_ready(const uint8_t *p, size_t n, char **ret_pem)
{
	return get_one_str(p, n, ret_pem);
}

/* Appends v cut at AUDIT_VALUE_MAX bytes, with control bytes as '?'. */
static int
put_audit_value(struct sg_buf *b, const char *v)
{
	char clean[AUDIT_VALUE_MAX];
	size_t n = strnlen(v, AUDIT_VALUE_MAX), i;
	int r;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];

		clean[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	r = sg_buf_put_u32(b, (uint32_t)n);
	return r < 0 ? r : sg_buf_put(b, clean, n);
}

int
sg_feed_put_audit(struct sg_buf *b, const char *event,
    const char *const *pairs)
{
	size_t i, npairs = 0;
	int r;

	r = sg_mp_begin(b, SG_FEED_AUDIT);
	if (r == 0 && (event == NULL || !is_audit_name(event)))
		r = -EINVAL;
	for (i = 0; r == 0 && pairs != NULL && pairs[i] != NULL; i += 2) {
		if (!is_audit_name(pairs[i]))
			r = -EINVAL;
		else if (pairs[i + 1] != NULL)
			npairs++;
	}
	if (r == 0 && npairs > SG_FEED_MAX_AUDIT)
		r = -EINVAL;
	if (r == 0)
		r = sg_mp_put_str(b, event);
	if (r == 0)
		r = sg_buf_put_u32(b, (uint32_t)npairs);
	for (i = 0; r == 0 && pairs != NULL && pairs[i] != NULL; i += 2) {
		if (pairs[i + 1] == NULL)
			continue;
		r = sg_mp_put_str(b, pairs[i]);
		if (r == 0)
			r = put_audit_value(b, pairs[i + 1]);
	}
	return sg_mp_end(b, r);
}

void
sg_feed_audit_clear(struct sg_feed_audit *a)
{
	size_t i;

	if (a == NULL)
		return;
	free(a->event);
	for (i = 0; i < SG_FEED_MAX_AUDIT; i++) {
		free(a->key[i]);
		free(a->value[i]);
	}
	memset(a, 0, sizeof(*a));
}

int
sg_feed_get_audit(const uint8_t *p, size_t n, struct sg_feed_audit *ret)
{
	struct sg_feed_audit a;
	struct sg_cur cur;
	size_t i, cnt = 0;
	int r;

	memset(&a, 0, sizeof(a));
	sg_cur_init(&cur, p, n);
	r = sg_mp_get_str(&cur, AUDIT_NAME_MAX, &a.event);
	if (r == 0 && !is_audit_name(a.event))
		r = -EPROTO;
	if (r == 0)
		r = get_count(&cur, SG_FEED_MAX_AUDIT, &cnt);
	for (i = 0; r == 0 && i < cnt; i++) {
		a.n = i + 1;
		r = sg_mp_get_str(&cur, AUDIT_NAME_MAX, &a.key[i]);
		if (r == 0 && !is_audit_name(a.key[i]))
			r = -EPROTO;
		if (r == 0)
			r = sg_mp_get_str(&cur, AUDIT_VALUE_MAX, &a.value[i]);
		if (r == 0 && !is_audit_value(a.value[i]))
			r = -EPROTO;
	}
	if (r == 0 && (cur.err || cur.n != 0))
		r = -EPROTO;
	if (r < 0) {
		sg_feed_audit_clear(&a);
		memset(ret, 0, sizeof(*ret));
		return r;
	}
	*ret = a;
	return 0;
}
