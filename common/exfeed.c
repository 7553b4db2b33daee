/* sg_xf: the feed between the monitor and sandgate-front; see exfeed.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/buf.h"
#include "common/exfeed.h"
#include "common/explink.h"
#include "common/hostname.h"
#include "common/mpipe.h"

static int
domain_ok(const char *s)
{
	char norm[SG_NAME_MAX];

	return s != NULL && strlen(s) <= SG_XF_DOMAIN_MAX &&
	    sg_name_normalise(s, norm, sizeof(norm)) == 0 &&
	    strcmp(norm, s) == 0;
}

static int
label_ok(const char *s, uint16_t port)
{
	char sbx[SG_EXPLINK_SBX_MAX + 1], tag[SG_EXPLINK_TAG_LEN + 1];
	uint16_t p;

	return s != NULL && sg_explink_label_parse(s, strlen(s), &p, sbx,
	    tag) == 0 && (port == 0 || p == port);
}

static int
hex_ok(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* A sandbox id, or a token name: [a-z0-9][a-z0-9_-]{0,63}. */
static int
name_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > SG_XF_TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    (i > 0 && (s[i] == '-' || s[i] == '_'))))
			return 0;
	return 1;
}

static int
limits_ok(const struct sg_xf_config *c)
{
	return c->max_conns >= 1 && c->max_conns <= 65535 &&
	    c->max_total >= 1 && c->max_total <= 1000000 &&
	    c->head_ms >= 100 && c->head_ms <= 3600000 &&
	    c->idle_ms >= 100 && c->idle_ms <= 86400000 &&
	    c->connect_ms >= 100 && c->connect_ms <= 600000;
}

int
sg_xf_put_config(struct sg_buf *b, const struct sg_xf_config *c)
{
	int r = sg_mp_begin(b, SG_XF_CONFIG);

	if (r == 0 && (!domain_ok(c->domain) || !limits_ok(c)))
		r = -EINVAL;
	if (r == 0)
		r = sg_mp_put_str_max(b, c->domain, SG_XF_DOMAIN_MAX);
	if (r == 0)
		r = sg_mp_put_str_max(b, c->cert_pem, SG_XF_CERT_MAX);
	if (r == 0)
		r = sg_mp_put_str_max(b, c->key_pem, SG_XF_KEY_MAX);
	if (r == 0)
		r = sg_buf_put(b, c->link_key, sizeof(c->link_key));
	if (r == 0)
		r = sg_buf_put_u32(b, c->max_conns);
	if (r == 0)
		r = sg_buf_put_u32(b, c->max_total);
	if (r == 0)
		r = sg_buf_put_u32(b, c->head_ms);
	if (r == 0)
		r = sg_buf_put_u32(b, c->idle_ms);
	if (r == 0)
		r = sg_buf_put_u32(b, c->connect_ms);
	return sg_mp_end(b, r);
}

void
sg_xf_config_clear(struct sg_xf_config *c)
{
	if (c == NULL)
		return;
	free(c->domain);
	free(c->cert_pem);
	if (c->key_pem != NULL) {
		OPENSSL_cleanse(c->key_pem, strlen(c->key_pem));
		free(c->key_pem);
	}
	OPENSSL_cleanse(c, sizeof(*c));
}

int
sg_xf_get_config(const uint8_t *p, size_t n, struct sg_xf_config *ret)
{
	struct sg_xf_config c;
	struct sg_cur cur;
	const uint8_t *k;
	int r;

	memset(&c, 0, sizeof(c));
	sg_cur_init(&cur, p, n);
	r = sg_mp_get_str(&cur, SG_XF_DOMAIN_MAX, &c.domain);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_XF_CERT_MAX, &c.cert_pem);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_XF_KEY_MAX, &c.key_pem);
	if (r == 0 && (k = sg_cur_bytes(&cur, SG_EXPLINK_KEY_LEN)) != NULL)
		memcpy(c.link_key, k, SG_EXPLINK_KEY_LEN);
	c.max_conns = sg_cur_u32(&cur);
	c.max_total = sg_cur_u32(&cur);
	c.head_ms = sg_cur_u32(&cur);
	c.idle_ms = sg_cur_u32(&cur);
	c.connect_ms = sg_cur_u32(&cur);
	if (r == 0 && (cur.err || cur.n != 0 || !domain_ok(c.domain) ||
	    !limits_ok(&c) || c.cert_pem[0] == '\0' || c.key_pem[0] == '\0'))
		r = -EPROTO;
	if (r < 0) {
		sg_xf_config_clear(&c);
		memset(ret, 0, sizeof(*ret));
		return r == -ENOMEM ? r : -EPROTO;
	}
	*ret = c;
	return 0;
}

static int
expose_ok(const struct sg_xf_expose *e)
{
	return label_ok(e->label, e->port) && name_ok(e->id) &&
	    name_ok(e->token) && hex_ok(e->token_hash, SG_XF_HASH_LEN) &&
	    e->port != 0 && e->addr != 0 && (e->public == 0 || e->public == 1);
}

int
sg_xf_put_expose(struct sg_buf *b, const struct sg_xf_expose *e)
{
	int r = sg_mp_begin(b, SG_XF_EXPOSE);

	if (r == 0 && !expose_ok(e))
		r = -EINVAL;
	if (r == 0)
		r = sg_mp_put_str_max(b, e->label, SG_EXPLINK_LABEL_MAX);
	if (r == 0)
		r = sg_mp_put_str_max(b, e->id, SG_XF_TOKEN_MAX);
	if (r == 0)
		r = sg_mp_put_str_max(b, e->token, SG_XF_TOKEN_MAX);
	if (r == 0)
		r = sg_mp_put_str_max(b, e->token_hash, SG_XF_HASH_LEN);
	if (r == 0)
		r = sg_buf_put_u32(b, e->addr);
	if (r == 0)
		r = sg_buf_put_u16(b, e->port);
	if (r == 0)
		r = sg_buf_put_u64(b, e->nonce);
	if (r == 0)
		r = sg_buf_put_u8(b, (uint8_t)e->public);
	return sg_mp_end(b, r);
}

void
sg_xf_expose_clear(struct sg_xf_expose *e)
{
	if (e == NULL)
		return;
	free(e->label);
	free(e->id);
	free(e->token);
	free(e->token_hash);
	memset(e, 0, sizeof(*e));
}

int
sg_xf_get_expose(const uint8_t *p, size_t n, struct sg_xf_expose *ret)
{
	struct sg_xf_expose e;
	struct sg_cur cur;
	int r;

	memset(&e, 0, sizeof(e));
	sg_cur_init(&cur, p, n);
	r = sg_mp_get_str(&cur, SG_EXPLINK_LABEL_MAX, &e.label);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_XF_TOKEN_MAX, &e.id);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_XF_TOKEN_MAX, &e.token);
	if (r == 0)
		r = sg_mp_get_str(&cur, SG_XF_HASH_LEN, &e.token_hash);
	e.addr = sg_cur_u32(&cur);
	e.port = sg_cur_u16(&cur);
	e.nonce = sg_cur_u64(&cur);
	e.public = sg_cur_u8(&cur);
	if (r == 0 && (cur.err || cur.n != 0 || !expose_ok(&e)))
		r = -EPROTO;
	if (r < 0) {
		sg_xf_expose_clear(&e);
		memset(ret, 0, sizeof(*ret));
		return r == -ENOMEM ? r : -EPROTO;
	}
	*ret = e;
	return 0;
}

int
sg_xf_put_unexpose(struct sg_buf *b, const char *label)
{
	int r = sg_mp_begin(b, SG_XF_UNEXPOSE);

	if (r == 0 && !label_ok(label, 0))
		r = -EINVAL;
	if (r == 0)
		r = sg_mp_put_str_max(b, label, SG_EXPLINK_LABEL_MAX);
	return sg_mp_end(b, r);
}

int
sg_xf_get_unexpose(const uint8_t *p, size_t n, char **ret_label)
{
	struct sg_cur cur;
	char *s = NULL;
	int r;

	sg_cur_init(&cur, p, n);
	r = sg_mp_get_str(&cur, SG_EXPLINK_LABEL_MAX, &s);
	if (r == 0 && (cur.err || cur.n != 0 || !label_ok(s, 0)))
		r = -EPROTO;
	if (r < 0) {
		free(s);
		return r == -ENOMEM ? r : -EPROTO;
	}
	*ret_label = s;
	return 0;
}

static int
put_empty(struct sg_buf *b, uint8_t type)
{
	return sg_mp_end(b, sg_mp_begin(b, type));
}

int
sg_xf_put_start(struct sg_buf *b)
{
	return put_empty(b, SG_XF_START);
}

int
sg_xf_put_resync(struct sg_buf *b)
{
	return put_empty(b, SG_XF_RESYNC);
}

int
sg_xf_put_ready(struct sg_buf *b, const uint8_t digest[SG_XF_DIGEST_LEN])
{
	int r = sg_mp_begin(b, SG_XF_READY);

	if (r == 0)
		r = sg_buf_put(b, digest, SG_XF_DIGEST_LEN);
	return sg_mp_end(b, r);
}

int
sg_xf_get_ready(const uint8_t *p, size_t n, uint8_t digest[SG_XF_DIGEST_LEN])
{
	if (n != SG_XF_DIGEST_LEN)
		return -EPROTO;
	memcpy(digest, p, SG_XF_DIGEST_LEN);
	return 0;
}

int
sg_xf_config_digest(const uint8_t *p, size_t n,
    uint8_t digest[SG_XF_DIGEST_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, digest, &len, EVP_sha256(), NULL) != 1 ||
	    len != SG_XF_DIGEST_LEN)
		return -EIO;
	return 0;
}
