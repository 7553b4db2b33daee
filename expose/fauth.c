/* fa: decisions about requests to exposed ports; see fauth.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/explink.h"
#include "expose/fauth.h"

static int
span_eq(const char *buf, struct sg_http_span s, const char *lit)
{
	return s.len == strlen(lit) && strncasecmp(buf + s.off, lit, s.len) == 0;
}

/* name equals lit, case aside and with '_' read as '-' (CGI, WSGI and
 * PHP map both to one variable: X_Forwarded_For is X-Forwarded-For to
 * them). */
static int
span_eq_cgi(const char *buf, struct sg_http_span name, const char *lit)
{
	size_t i;

	if (name.len != strlen(lit))
		return 0;
	for (i = 0; i < name.len; i++) {
		char c = buf[name.off + i];

		if (c == '_')
			c = '-';
		else if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return 0;
	}
	return 1;
}

static int
dropped_field(const char *buf, struct sg_http_span name)
{
	static const char *const drop[] = { "forwarded", "x-forwarded-for",
	    "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
	    "x-real-ip" };
	size_t i;

	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (span_eq_cgi(buf, name, drop[i]))
			return 1;
	return 0;
}

int
fa_token_is(const char *hash, const char *tok, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char h[SG_XF_HASH_LEN + 1];
	unsigned i;

	if (EVP_Digest(tok, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen * 2 != SG_XF_HASH_LEN)
		return 0;
	for (i = 0; i < mdlen; i++) {
		h[2 * i] = hex[md[i] >> 4];
		h[2 * i + 1] = hex[md[i] & 15];
	}
	return CRYPTO_memcmp(h, hash, SG_XF_HASH_LEN) == 0;
}

/* A Bearer token the guest must not see: the owner's, or any that looks
 * like sandgate's, however it is spaced or sized (not only what
 * sg_explink_bearer reads as a credential). */
static int
sandgate_bearer(const struct sg_xf_expose *e, const char *v, size_t len)
{
	size_t i = 6;

	if (len < 7 || strncasecmp(v, "bearer", 6) != 0 ||
	    (v[6] != ' ' && v[6] != '\t'))
		return 0;
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	return (len - i >= 3 && memcmp(v + i, "sg_", 3) == 0) ||
	    fa_token_is(e->token_hash, v + i, len - i);
}

int
fa_upstream_head(const struct sg_xf_expose *e, const struct sg_http_head *h,
    const char *buf, const char *peer, struct evbuffer *out)
{
	const char *host_sent = NULL;
	size_t i, host_len = 0;
	char *strip;

	evbuffer_add_printf(out, "%.*s ", (int)h->method.len, buf + h->method.off);
	if (h->path.len == 0)
		evbuffer_add(out, "/", 1);
	else
		evbuffer_add(out, buf + h->path.off, h->path.len);
	if (h->has_query) {
		evbuffer_add(out, "?", 1);
		evbuffer_add(out, buf + h->query.off, h->query.len);
	}
	evbuffer_add_printf(out, " HTTP/1.%d\r\n", h->version == 10 ? 0 : 1);
	for (i = 0; i < h->nfields; i++) {
		const struct sg_http_field *f = &h->fields[i];
		const char *v = buf + f->value.off;
		ssize_t tl;

		if (span_eq_cgi(buf, f->name, "authorization") &&
		    sandgate_bearer(e, v, f->value.len))
			continue;	/* a sandgate token never goes in */
		if (dropped_field(buf, f->name))
			continue;
		if (span_eq(buf, f->name, "host")) {
			host_sent = v;
			host_len = f->value.len;
		}
		if (span_eq_cgi(buf, f->name, "cookie")) {
			strip = malloc(2 * (size_t)f->value.len + 1);
			if (strip == NULL)
				return -ENOMEM;
			tl = sg_explink_cookie_strip(v, f->value.len, strip,
			    2 * (size_t)f->value.len + 1);
			if (tl > 0)
				evbuffer_add_printf(out, "Cookie: %s\r\n", strip);
			free(strip);
			continue;
		}
		evbuffer_add(out, buf + f->name.off, f->name.len);
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, v, f->value.len);
		evbuffer_add(out, "\r\n", 2);
	}
	evbuffer_add_printf(out, "X-Forwarded-For: %s\r\n"
	    "X-Forwarded-Proto: https\r\n", peer);
	if (host_sent != NULL)
		evbuffer_add_printf(out, "X-Forwarded-Host: %.*s\r\n",
		    (int)host_len, host_sent);
	evbuffer_add(out, "\r\n", 2);
	return 0;
}

static void
answer(struct fa_result *out, const char *how, int status, const char *text)
{
	out->verdict = FA_ANSWER;
	out->how = how;
	out->status = status;
	out->text = text;
	out->keep = 0;
}

/* A signed link: the cookie for this host, and the clean URL. */
static void
link_answer(const uint8_t key[SG_EXPLINK_KEY_LEN],
    const struct sg_explink_grant *g, const struct sg_http_head *h,
    const char *buf, int64_t now, struct fa_result *out)
{
	char cred[SG_EXPLINK_CRED_MAX];
	int64_t exp = 0;
	size_t off, len;
	int r;

	if (!h->has_query || sg_explink_query(buf + h->query.off,
	    h->query.len, &off, &len) < 0) {
		answer(out, "link", 403, "sandgate: this link is not valid: "
		    "open the whole link that expose printed");
		return;
	}
	r = sg_explink_check(key, SG_EXPLINK_LINK, g, buf + h->query.off + off,
	    len, now, &exp);
	if (r < 0) {
		answer(out, "link", 403, r == -EKEYEXPIRED ?
		    "sandgate: this link has expired: ask its owner for a new "
		    "one (sandgate expose)" :
		    "sandgate: this link is not valid (forged, or for a port "
		    "exposed again since): ask its owner for a new one "
		    "(sandgate expose)");
		return;
	}
	if (sg_explink_make(key, SG_EXPLINK_COOKIE_CRED, g, exp, cred) < 0) {
		answer(out, "link", 503, "sandgate: cannot make the cookie");
		return;
	}
	answer(out, "link", 303, NULL);
	snprintf(out->extra, sizeof(out->extra), "Location: /\r\n"
	    "Referrer-Policy: no-referrer\r\nSet-Cookie: " SG_EXPLINK_COOKIE
	    "=%s; Max-Age=%lld; " SG_EXPLINK_COOKIE_ATTRS "\r\n", cred,
	    (long long)(exp - now));
	OPENSSL_cleanse(cred, sizeof(cred));
	out->keep = h->body == SG_HTTP_BODY_NONE && h->keep_alive;
}

/* A cookie is sent by the browser whatever page asks: a request that a
 * page of another origin made (every exposed port is another origin of
 * one site, DOMAIN) carries its Origin, which must be this URL's. */
static int
same_origin(const struct sg_http_head *h, const char *buf)
{
	int o = sg_http_head_find(h, buf, "origin", 0), k;
	const struct sg_http_field *of, *hf;

	if (o < 0) {
		/* no Origin: a navigation, a plain GET of a page (an image,
		 * a script), or not a browser. A browser says which in
		 * Sec-Fetch-Site: a page of another site (another exposed
		 * port is the same site) may send a request only by leading
		 * the browser to this URL */
		int f = sg_http_head_find(h, buf, "sec-fetch-site", 0);
		int md = sg_http_head_find(h, buf, "sec-fetch-mode", 0);
		const struct sg_http_field *ff = f >= 0 ? &h->fields[f] : NULL;

		if (ff == NULL || span_eq(buf, ff->value, "same-origin") ||
		    span_eq(buf, ff->value, "none"))
			return 1;
		return md >= 0 && span_eq(buf, h->fields[md].value, "navigate");
	}
	if (sg_http_head_find(h, buf, "origin", (size_t)o + 1) >= 0 ||
	    (k = sg_http_head_find(h, buf, "host", 0)) < 0)
		return 0;
	of = &h->fields[o];
	hf = &h->fields[k];
	return of->value.len == 8 + hf->value.len &&
	    strncasecmp(buf + of->value.off, "https://", 8) == 0 &&
	    strncasecmp(buf + of->value.off + 8, buf + hf->value.off,
	    hf->value.len) == 0;
}

void
fa_authorise(const uint8_t key[SG_EXPLINK_KEY_LEN],
    const struct sg_xf_expose *e, const struct sg_http_head *h,
    const char *buf, int64_t now, struct fa_result *out)
{
	struct sg_explink_grant g = { e->label, e->id, e->nonce };
	int had_bearer = 0, had_cookie = 0, expired = 0, r, idx = -1;
	size_t off, len, pos;

	memset(out, 0, sizeof(*out));
	out->verdict = FA_ALLOW;
	if (e->public) {
		out->how = "public";
		return;
	}
	if (span_eq(buf, h->path, SG_EXPLINK_PATH)) {
		link_answer(key, &g, h, buf, now, out);
		return;
	}
	/* the rest of the front's paths are its own */
	if (h->path.len >= strlen(SG_EXPLINK_PREFIX) &&
	    memcmp(buf + h->path.off, SG_EXPLINK_PREFIX,
	    strlen(SG_EXPLINK_PREFIX)) == 0) {
		answer(out, "none", 404, "sandgate: no such page of sandgate's");
		return;
	}
	while ((idx = sg_http_head_find(h, buf, "authorization",
	    (size_t)(idx + 1))) >= 0) {
		const struct sg_http_field *f = &h->fields[idx];

		if (!sg_explink_bearer(buf + f->value.off, f->value.len, &off,
		    &len))
			continue;
		if (fa_token_is(e->token_hash, buf + f->value.off + off, len)) {
			out->how = "bearer";
			return;
		}
		/* another token of sandgate's; other bearers are the
		 * guest's business */
		had_bearer |= len > 3 && memcmp(buf + f->value.off + off,
		    "sg_", 3) == 0;
	}
	idx = -1;
	while ((idx = sg_http_head_find(h, buf, "cookie",
	    (size_t)(idx + 1))) >= 0) {
		const struct sg_http_field *f = &h->fields[idx];
		const char *v = buf + f->value.off;

		pos = 0;
		while (sg_explink_cookie_next(v, f->value.len, &pos, &off,
		    &len)) {
			had_cookie = 1;
			r = sg_explink_check(key, SG_EXPLINK_COOKIE_CRED, &g,
			    v + off, len, now, NULL);
			if (r == 0 && !same_origin(h, buf)) {
				answer(out, "cookie", 403, "sandgate: a request "
				    "that a page of another site made is refused "
				    "(its Origin is not this URL)");
				return;
			}
			if (r == 0) {
				out->how = "cookie";
				return;
			}
			expired |= r == -EKEYEXPIRED;
		}
	}
	if (had_bearer) {
		answer(out, "bearer", 403, "sandgate: this token does not own "
		    "this URL: send the token of the sandbox's owner");
	} else if (had_cookie) {
		answer(out, "cookie", 403, expired ? "sandgate: your access to "
		    "this URL has expired: open a new link from its owner" :
		    "sandgate: your access cookie is not valid for this URL: "
		    "open a link from its owner");
	} else {
		answer(out, "none", 401, "sandgate: this URL is private: open "
		    "the link that sandgate expose printed, or send "
		    "Authorization: Bearer and the owner's token");
		snprintf(out->extra, sizeof(out->extra),
		    "WWW-Authenticate: Bearer realm=\"sandgate\"\r\n");
	}
}
