/* sg_explink: names and credentials of exposed ports; see explink.h. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base64.h"
#include "common/explink.h"

#define MAC_BYTES	16
#define MAC_CHARS	SG_B64URL_LEN(MAC_BYTES)	/* 22 */
#define TOKEN_MAX	1024	/* SG_TOKENS_TEXT_MAX: a hand-made token too */

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_lower_hex(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

/* A sandbox name: [a-z0-9][a-z0-9-]{0,31}. */
static bool
sbx_ok(const char *s, size_t n)
{
	if (n == 0 || n > SG_EXPLINK_SBX_MAX || !is_lower_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool
tag_ok(const char *s, size_t n)
{
	if (n != SG_EXPLINK_TAG_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

/* HMAC-SHA256 of the NUL-joined parts; 0 or -EIO. */
static int
mac(const uint8_t key[SG_EXPLINK_KEY_LEN], const char *const *parts,
    size_t nparts, uint8_t out[32])
{
	unsigned int olen = 0;
	uint8_t buf[512];
	size_t n = 0;
	int ok;

	for (size_t i = 0; i < nparts; i++) {
		size_t l = strlen(parts[i]);

		if (n + l + 1 > sizeof(buf))
			return -EIO;
		memcpy(buf + n, parts[i], l);
		n += l;
		buf[n++] = '\0';
	}
	ok = HMAC(EVP_sha256(), key, SG_EXPLINK_KEY_LEN, buf, n, out,
	    &olen) != NULL && olen == 32;
	OPENSSL_cleanse(buf, sizeof(buf));
	return ok ? 0 : -EIO;
}

int
sg_explink_tag(const uint8_t key[SG_EXPLINK_KEY_LEN], const char *token,
    char out[SG_EXPLINK_TAG_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	const char *parts[] = { "sandgate-tag-v1", token };
	uint8_t m[32];
	int r;

	if (!token || !*token || strlen(token) > 256)
		return -EINVAL;
	r = mac(key, parts, 2, m);
	if (r < 0)
		return r;
	for (size_t i = 0; i < SG_EXPLINK_TAG_LEN / 2; i++) {
		out[2 * i] = hex[m[i] >> 4];
		out[2 * i + 1] = hex[m[i] & 15];
	}
	out[SG_EXPLINK_TAG_LEN] = '\0';
	return 0;
}

int
sg_explink_label(uint16_t port, const char *sbx, const char *tag,
    char out[SG_EXPLINK_LABEL_MAX])
{
	int n;

	if (port == 0 || !sbx || !tag || !sbx_ok(sbx, strlen(sbx)) ||
	    !tag_ok(tag, strlen(tag)))
		return -EINVAL;
	n = snprintf(out, SG_EXPLINK_LABEL_MAX, "%u-%s-%s", (unsigned)port,
	    sbx, tag);
	return n > 0 && n < SG_EXPLINK_LABEL_MAX ? 0 : -EINVAL;
}

int
sg_explink_url(const char *label, const char *domain, uint16_t port,
    const char *cred, char *out, size_t size)
{
	char p[8] = "";
	int n;

	if (port != 443)
		snprintf(p, sizeof(p), ":%u", (unsigned)port);
	n = snprintf(out, size, "https://%s.%s%s/%s%s%s", label, domain, p,
	    cred ? &SG_EXPLINK_PATH[1] : "", cred ? "?t=" : "",
	    cred ? cred : "");
	return n > 0 && (size_t)n < size ? 0 : -ENOBUFS;
}

int
sg_explink_label_parse(const char *s, size_t llen, uint16_t *port,
    char sbx[SG_EXPLINK_SBX_MAX + 1], char tag[SG_EXPLINK_TAG_LEN + 1])
{
	unsigned long p = 0;
	size_t i, sbx_len;

	/* port: 1..65535, no leading zero, then '-' */
	for (i = 0; i < llen && i < 6 && s[i] >= '0' && s[i] <= '9'; i++)
		p = p * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || i > 5 || s[0] == '0' || p == 0 || p > 65535 ||
	    i >= llen || s[i] != '-')
		return -ENOENT;
	/* "-" tag at the end, a sandbox name between */
	if (llen < i + 1 + 1 + 1 + SG_EXPLINK_TAG_LEN ||
	    s[llen - SG_EXPLINK_TAG_LEN - 1] != '-' ||
	    !tag_ok(s + llen - SG_EXPLINK_TAG_LEN, SG_EXPLINK_TAG_LEN))
		return -ENOENT;
	sbx_len = llen - SG_EXPLINK_TAG_LEN - 1 - (i + 1);
	if (!sbx_ok(s + i + 1, sbx_len))
		return -ENOENT;
	*port = (uint16_t)p;
	memcpy(sbx, s + i + 1, sbx_len);
	sbx[sbx_len] = '\0';
	memcpy(tag, s + llen - SG_EXPLINK_TAG_LEN, SG_EXPLINK_TAG_LEN);
	tag[SG_EXPLINK_TAG_LEN] = '\0';
	return 0;
}

int
sg_explink_host_parse(const char *host, size_t len, const char *domain,
    uint16_t *port, char sbx[SG_EXPLINK_SBX_MAX + 1],
    char tag[SG_EXPLINK_TAG_LEN + 1])
{
	size_t dlen = strlen(domain), llen;

	/* LABEL "." DOMAIN, LABEL one label */
	if (dlen == 0 || len < dlen + 2 || host[len - dlen - 1] != '.' ||
	    memcmp(host + len - dlen, domain, dlen) != 0)
		return -ENOENT;
	llen = len - dlen - 1;
	if (memchr(host, '.', llen))
		return -ENOENT;
	return sg_explink_label_parse(host, llen, port, sbx, tag);
}

static const char *
kind_label(enum sg_explink_kind kind)
{
	switch (kind) {
	case SG_EXPLINK_LINK:
		return "sandgate-link-v1";
	case SG_EXPLINK_COOKIE_CRED:
		return "sandgate-cookie-v1";
	}
	return NULL;
}

static bool
grant_ok(const struct sg_explink_grant *g)
{
	return g && g->label && g->id && *g->label && *g->id &&
	    strlen(g->label) < SG_EXPLINK_LABEL_MAX &&
	    strlen(g->id) <= SG_EXPLINK_SBX_MAX;
}

/* The mac of (kind, grant, expires) in base64url to out[MAC_CHARS + 1]. */
static int
cred_mac(const uint8_t key[SG_EXPLINK_KEY_LEN], enum sg_explink_kind kind,
    const struct sg_explink_grant *g, int64_t expires,
    char out[MAC_CHARS + 1])
{
	char nonce[17], exp[24];
	const char *parts[5];
	uint8_t m[32];
	int r;

	snprintf(nonce, sizeof(nonce), "%016" PRIx64, g->nonce);
	snprintf(exp, sizeof(exp), "%" PRId64, expires);
	parts[0] = kind_label(kind);
	parts[1] = g->label;
	parts[2] = g->id;
	parts[3] = nonce;
	parts[4] = exp;
	r = mac(key, parts, 5, m);
	if (r == 0)
		r = sg_b64url_encode(m, MAC_BYTES, out, MAC_CHARS + 1) < 0 ?
		    -EIO : 0;
	OPENSSL_cleanse(m, sizeof(m));
	return r;
}

int
sg_explink_make(const uint8_t key[SG_EXPLINK_KEY_LEN],
    enum sg_explink_kind kind, const struct sg_explink_grant *grant,
    int64_t expires, char out[SG_EXPLINK_CRED_MAX])
{
	char m[MAC_CHARS + 1];
	int r, n;

	if (!grant_ok(grant) || kind_label(kind) == NULL || expires < 1 ||
	    expires > SG_EXPLINK_EXPIRES_MAX)
		return -EINVAL;
	r = cred_mac(key, kind, grant, expires, m);
	if (r < 0)
		return r;
	n = snprintf(out, SG_EXPLINK_CRED_MAX, "%" PRId64 ".%s", expires, m);
	return n > 0 && n < SG_EXPLINK_CRED_MAX ? 0 : -EINVAL;
}

int
sg_explink_check(const uint8_t key[SG_EXPLINK_KEY_LEN],
    enum sg_explink_kind kind, const struct sg_explink_grant *grant,
    const char *cred, size_t len, int64_t now, int64_t *expires)
{
	char m[MAC_CHARS + 1];
	int64_t e = 0;
	size_t i;

	if (!grant_ok(grant) || !cred || kind_label(kind) == NULL)
		return -EACCES;
	/* expires: 1*13DIGIT without a leading zero, then '.' */
	for (i = 0; i < len && i < 14 && cred[i] >= '0' && cred[i] <= '9'; i++)
		e = e * 10 + (cred[i] - '0');
	if (i == 0 || i > 13 || cred[0] == '0' || i >= len ||
	    cred[i] != '.' || e > SG_EXPLINK_EXPIRES_MAX)
		return -EACCES;
	if (len - i - 1 != MAC_CHARS)
		return -EACCES;
	if (cred_mac(key, kind, grant, e, m) < 0)
		return -EACCES;
	if (CRYPTO_memcmp(m, cred + i + 1, MAC_CHARS) != 0)
		return -EACCES;
	if (e <= now)
		return -EKEYEXPIRED;
	if (expires)
		*expires = e;
	return 0;
}

int
sg_explink_query(const char *q, size_t len, size_t *off, size_t *cred_len)
{
	if (len < 3 || len > 2 + SG_EXPLINK_CRED_MAX - 1 || q[0] != 't' ||
	    q[1] != '=')
		return -EINVAL;
	for (size_t i = 2; i < len; i++) {
		char c = q[i];

		if (!is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') &&
		    c != '-' && c != '_' && c != '.')
			return -EINVAL;
	}
	*off = 2;
	*cred_len = len - 2;
	return 0;
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* The pair starting at or after *pos: name v[*ns..*ne), value
 * v[*vs..*ve) (without surrounding OWS and, if quoted, the quotes), and
 * *pos past its ';'. false at the end. A pair without '=' has an empty
 * name and its whole text as value. */
static bool
next_pair(const char *v, size_t len, size_t *pos, size_t *ns, size_t *ne,
    size_t *vs, size_t *ve)
{
	size_t i = *pos, end, eq;

	while (i < len && (is_ows(v[i]) || v[i] == ';'))
		i++;
	if (i >= len)
		return false;
	end = i;
	while (end < len && v[end] != ';')
		end++;
	*pos = end < len ? end + 1 : end;
	eq = i;
	while (eq < end && v[eq] != '=')
		eq++;
	if (eq == end) {
		*ns = *ne = i;
		*vs = i;
	} else {
		*ns = i;
		*ne = eq;
		while (*ne > *ns && is_ows(v[*ne - 1]))
			(*ne)--;
		*vs = eq + 1;
	}
	*ve = end;
	while (*vs < *ve && is_ows(v[*vs]))
		(*vs)++;
	while (*ve > *vs && is_ows(v[*ve - 1]))
		(*ve)--;
	if (*ve - *vs >= 2 && v[*vs] == '"' && v[*ve - 1] == '"') {
		(*vs)++;
		(*ve)--;
	}
	return true;
}

static bool
is_ours(const char *v, size_t ns, size_t ne)
{
	return ne - ns == sizeof(SG_EXPLINK_COOKIE) - 1 &&
	    memcmp(v + ns, SG_EXPLINK_COOKIE, ne - ns) == 0;
}

int
sg_explink_cookie_next(const char *v, size_t len, size_t *pos,
    size_t *off, size_t *vlen)
{
	size_t ns, ne, vs, ve;

	while (next_pair(v, len, pos, &ns, &ne, &vs, &ve)) {
		if (is_ours(v, ns, ne)) {
			*off = vs;
			*vlen = ve - vs;
			return 1;
		}
	}
	return 0;
}

ssize_t
sg_explink_cookie_strip(const char *v, size_t len, char *out, size_t size)
{
	size_t pos = 0, n = 0, ns, ne, vs, ve, start, end;

	if (size == 0)
		return -ENOBUFS;

	for (;;) {
		/* keep each other pair's text as sent, trimmed */
		while (pos < len && (is_ows(v[pos]) || v[pos] == ';'))
			pos++;
		start = pos;
		if (!next_pair(v, len, &pos, &ns, &ne, &vs, &ve))
			break;
		if (is_ours(v, ns, ne))
			continue;
		end = pos;
		if (end > start && v[end - 1] == ';')
			end--;
		while (end > start && is_ows(v[end - 1]))
			end--;
		if (n + (n ? 2 : 0) + (end - start) + 1 > size) {
			out[0] = '\0';
			return -ENOBUFS;
		}
		if (n) {
			out[n++] = ';';
			out[n++] = ' ';
		}
		memcpy(out + n, v + start, end - start);
		n += end - start;
	}
	out[n] = '\0';
	return (ssize_t)n;
}

int
sg_explink_bearer(const char *v, size_t len, size_t *off, size_t *tlen)
{
	size_t i, j;

	if (len < 7 || strncasecmp(v, "bearer", 6) != 0 || v[6] != ' ')
		return 0;
	for (i = 6; i < len && v[i] == ' '; i++)
		;
	if (i == len || len - i > TOKEN_MAX)
		return 0;
	/* token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
	 * *"=" */
	for (j = i; j < len; j++) {
		char c = v[j];

		if (!is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') &&
		    !strchr("-._~+/", c))
			break;
	}
	if (j == i)
		return 0;
	while (j < len && v[j] == '=')
		j++;
	if (j != len)
		return 0;
	*off = i;
	*tlen = len - i;
	return 1;
}
