/* Unit tests for sandgate-front's decisions (expose/fauth.c): a public
 * port lets all through; a private one the owner's Bearer (sandgate's
 * "sg_" token or a hand-made one) and a valid cookie of its own, in any
 * Cookie field; a link answers 303 with the cookie, kept alive only
 * without a body; 401 with WWW-Authenticate without a credential (an
 * application's own Bearer is not one); 403 for another sandgate token,
 * another port's cookie, an expired cookie, a forged or expired link;
 * 404 under /__sandgate/. The head toward the guest: origin-form, no
 * sandgate token, no sandgate cookie, no client forwarding fields, ours
 * added. */
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
#include <event2/buffer.h>
#include <openssl/evp.h>

#include "common/explink.h"
#include "common/httphead.h"
#include "expose/fauth.h"

static const uint8_t key[SG_EXPLINK_KEY_LEN] = { 42 };
#define NOW 1900000000
#define OWNER "sg_owner-token"

static char owner_hash[SG_XF_HASH_LEN + 1];
static char hand_hash[SG_XF_HASH_LEN + 1];

static void
hash_hex(const char *tok, char out[SG_XF_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	assert_int_equal(EVP_Digest(tok, strlen(tok), md, &n, EVP_sha256(),
	    NULL), 1);
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
}

static struct sg_xf_expose
route(int public, const char *hash)
{
	struct sg_xf_expose e;

	memset(&e, 0, sizeof(e));
	e.label = (char *)"8000-web-0a1b2c3d";
	e.id = (char *)"0123456789ab";
	e.token = (char *)"t1";
	e.token_hash = (char *)hash;
	e.addr = 0x0ae70002;
	e.port = 8000;
	e.nonce = 7;
	e.public = public;
	return e;
}

/* Parses req (\n made \r\n) into h; returns the buffer (static). */
static const char *
head(const char *req, struct sg_http_head *h)
{
	static char buf[8192];
	size_t i, n = 0;

	for (i = 0; req[i] != '\0' && n + 2 < sizeof(buf); i++) {
		if (req[i] == '\n')
			buf[n++] = '\r';
		buf[n++] = req[i];
	}
	buf[n] = '\0';
	sg_http_head_init(h, SG_HTTP_REQUEST, false);
	assert_int_equal(sg_http_head_parse(h, buf, n), 0);
	return buf;
}

static struct fa_result
decide(const struct sg_xf_expose *e, const char *req, int64_t now)
{
	struct sg_http_head *h = malloc(sizeof(*h));
	struct fa_result r;
	const char *buf;

	assert_non_null(h);
	buf = head(req, h);
	fa_authorise(key, e, h, buf, now, &r);
	free(h);
	return r;
}

static char *
cred(enum sg_explink_kind kind, const char *label, uint64_t nonce,
    int64_t exp)
{
	static char out[4][SG_EXPLINK_CRED_MAX];
	static int k;
	struct sg_explink_grant g = { label, "0123456789ab", nonce };
	char *o = out[k++ % 4];

	assert_int_equal(sg_explink_make(key, kind, &g, exp, o), 0);
	return o;
}

static void
test_public_and_none(void **state)
{
	struct sg_xf_expose pub = route(1, owner_hash), priv = route(0, owner_hash);
	struct fa_result r;

	(void)state;
	r = decide(&pub, "GET /__sandgate/link?t=1.x HTTP/1.1\nHost: h\n\n", NOW);
	assert_int_equal(r.verdict, FA_ALLOW);
	assert_string_equal(r.how, "public");
	r = decide(&priv, "GET / HTTP/1.1\nHost: h\n\n", NOW);
	assert_int_equal(r.verdict, FA_ANSWER);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.extra, "WWW-Authenticate: Bearer realm=\"sandgate\"\r\n");
	assert_non_null(strstr(r.text, "this URL is private"));
	assert_int_equal(r.keep, 0);
	/* an application's own bearer is not a credential of sandgate's */
	r = decide(&priv, "GET / HTTP/1.1\nHost: h\nAuthorization: Bearer abc\n\n",
	    NOW);
	assert_int_equal(r.status, 401);
	r = decide(&priv, "GET /__sandgate/x HTTP/1.1\nHost: h\n\n", NOW);
	assert_int_equal(r.status, 404);
}

static void
test_bearer(void **state)
{
	struct sg_xf_expose priv = route(0, owner_hash), hand = route(0, hand_hash);
	struct fa_result r;

	(void)state;
	r = decide(&priv, "GET / HTTP/1.1\nHost: h\nAuthorization: Bearer "
	    OWNER "\n\n", NOW);
	assert_int_equal(r.verdict, FA_ALLOW);
	assert_string_equal(r.how, "bearer");
	/* any Authorization field of several */
	r = decide(&priv, "GET / HTTP/1.1\nHost: h\nAuthorization: Basic eA==\n"
	    "Authorization: bearer  " OWNER "\n\n", NOW);
	assert_int_equal(r.verdict, FA_ALLOW);
	r = decide(&priv, "GET / HTTP/1.1\nHost: h\nAuthorization: Bearer "
	    "sg_someone-else\n\n", NOW);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.text, "does not own this URL"));
	/* a hand-made token (no sg_): its hash decides */
	r = decide(&hand, "GET / HTTP/1.1\nHost: h\nAuthorization: Bearer "
	    "my.hand-made~token\n\n", NOW);
	assert_int_equal(r.verdict, FA_ALLOW);
	assert_string_equal(r.how, "bearer");
	r = decide(&priv, "GET / HTTP/1.1\nHost: h\nAuthorization: Bearer "
	    "my.hand-made~token\n\n", NOW);
	assert_int_equal(r.status, 401);
}

static void
test_link(void **state)
{
	struct sg_xf_expose priv = route(0, owner_hash);
	char req[512];
	struct fa_result r;

	(void)state;
	snprintf(req, sizeof(req), "GET /__sandgate/link?t=%s HTTP/1.1\nHost: "
	    "h\n\n", cred(SG_EXPLINK_LINK, priv.label, 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.how, "link");
	assert_int_equal(r.keep, 1);
	assert_non_null(strstr(r.extra, "Location: /\r\n"));
	assert_non_null(strstr(r.extra, "Set-Cookie: __Host-sandgate="));
	assert_non_null(strstr(r.extra, "; Max-Age=60; Path=/; Secure; HttpOnly; "
	    "SameSite=Lax\r\n"));
	assert_non_null(strstr(r.extra, cred(SG_EXPLINK_COOKIE_CRED, priv.label,
	    7, NOW + 60)));
	/* with a body: answered, then closed */
	snprintf(req, sizeof(req), "POST /__sandgate/link?t=%s HTTP/1.1\nHost: "
	    "h\nContent-Length: 1\n\n", cred(SG_EXPLINK_LINK, priv.label, 7,
	    NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 303);
	assert_int_equal(r.keep, 0);
	/* expired, for another exposure (nonce), a cookie as a link, none */
	snprintf(req, sizeof(req), "GET /__sandgate/link?t=%s HTTP/1.1\nHost: "
	    "h\n\n", cred(SG_EXPLINK_LINK, priv.label, 7, NOW));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.text, "has expired"));
	snprintf(req, sizeof(req), "GET /__sandgate/link?t=%s HTTP/1.1\nHost: "
	    "h\n\n", cred(SG_EXPLINK_LINK, priv.label, 8, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.text, "not valid"));
	snprintf(req, sizeof(req), "GET /__sandgate/link?t=%s HTTP/1.1\nHost: "
	    "h\n\n", cred(SG_EXPLINK_COOKIE_CRED, priv.label, 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 403);
	r = decide(&priv, "GET /__sandgate/link HTTP/1.1\nHost: h\n\n", NOW);
	assert_int_equal(r.status, 403);
}

static void
test_cookie(void **state)
{
	struct sg_xf_expose priv = route(0, owner_hash);
	char req[512];
	struct fa_result r;

	(void)state;
	snprintf(req, sizeof(req), "GET / HTTP/1.1\nHost: h\nCookie: a=1\n"
	    "Cookie: x=2; __Host-sandgate=junk; __Host-sandgate=%s\n\n",
	    cred(SG_EXPLINK_COOKIE_CRED, priv.label, 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.verdict, FA_ALLOW);
	assert_string_equal(r.how, "cookie");
	/* another port's */
	snprintf(req, sizeof(req), "GET / HTTP/1.1\nHost: h\nCookie: "
	    "__Host-sandgate=%s\n\n", cred(SG_EXPLINK_COOKIE_CRED,
	    "8001-web-0a1b2c3d", 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.text, "not valid for this URL"));
	/* expired */
	snprintf(req, sizeof(req), "GET / HTTP/1.1\nHost: h\nCookie: "
	    "__Host-sandgate=%s\n\n", cred(SG_EXPLINK_COOKIE_CRED, priv.label,
	    7, NOW));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.text, "has expired"));
	/* a page of another origin sends the cookie along: refused; the
	 * same origin, or none (a navigation), passes */
	snprintf(req, sizeof(req), "GET /ws HTTP/1.1\nHost: h:8443\nOrigin: "
	    "https://8001-web-0a1b2c3d.sandgate.test\nCookie: __Host-sandgate=%s"
	    "\n\n", cred(SG_EXPLINK_COOKIE_CRED, priv.label, 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.text, "another site"));
	snprintf(req, sizeof(req), "POST / HTTP/1.1\nHost: h:8443\nOrigin: null"
	    "\nCookie: __Host-sandgate=%s\nContent-Length: 0\n\n",
	    cred(SG_EXPLINK_COOKIE_CRED, priv.label, 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 403);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\nHost: h:8443\nOrigin: "
	    "https://H:8443\nCookie: __Host-sandgate=%s\n\n",
	    cred(SG_EXPLINK_COOKIE_CRED, priv.label, 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.verdict, FA_ALLOW);
	/* no Origin: Sec-Fetch-Site decides (an image or script of a
	 * sibling port's page is refused; a navigation to the URL is not) */
	snprintf(req, sizeof(req), "GET /a HTTP/1.1\nHost: h\nSec-Fetch-Site: "
	    "same-site\nSec-Fetch-Mode: no-cors\nCookie: __Host-sandgate=%s"
	    "\n\n", cred(SG_EXPLINK_COOKIE_CRED, priv.label, 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 403);
	snprintf(req, sizeof(req), "GET /a HTTP/1.1\nHost: h\nSec-Fetch-Site: "
	    "cross-site\nSec-Fetch-Mode: navigate\nCookie: __Host-sandgate=%s"
	    "\n\n", cred(SG_EXPLINK_COOKIE_CRED, priv.label, 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.verdict, FA_ALLOW);
	snprintf(req, sizeof(req), "GET /a HTTP/1.1\nHost: h\nSec-Fetch-Site: "
	    "same-origin\nSec-Fetch-Mode: cors\nCookie: __Host-sandgate=%s"
	    "\n\n", cred(SG_EXPLINK_COOKIE_CRED, priv.label, 7, NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.verdict, FA_ALLOW);
	/* a Bearer is not sent by a browser on its own: no Origin check */
	r = decide(&priv, "GET / HTTP/1.1\nHost: h\nOrigin: https://evil\n"
	    "Authorization: Bearer " OWNER "\n\n", NOW);
	assert_int_equal(r.verdict, FA_ALLOW);
	/* a link is not a cookie */
	snprintf(req, sizeof(req), "GET / HTTP/1.1\nHost: h\nCookie: "
	    "__Host-sandgate=%s\n\n", cred(SG_EXPLINK_LINK, priv.label, 7,
	    NOW + 60));
	r = decide(&priv, req, NOW);
	assert_int_equal(r.status, 403);
}

static void
test_upstream_head(void **state)
{
	struct sg_xf_expose priv = route(0, owner_hash);
	struct sg_http_head *h = malloc(sizeof(*h));
	struct evbuffer *out = evbuffer_new();
	const char *buf;
	char *s;
	size_t n;

	(void)state;
	assert_non_null(h);
	buf = head("POST http://h:8443/p/q?x=1&y HTTP/1.1\nHost: h:8443\n"
	    "Authorization: Bearer " OWNER "\nAuthorization: Bearer sg_other\n"
	    "Authorization: Bearer\t\t" OWNER "\n"
	    "Authorization: Bearer app-token\nCookie: a=1; __Host-sandgate=v\n"
	    "Cookie: __Host-sandgate=w\nX-Forwarded-For: 6.6.6.6\n"
	    "forwarded: for=6.6.6.6\nX-Real-IP: 6.6.6.6\nX-Forwarded-Host: evil\n"
	    "X_Forwarded_For: 6.6.6.6\nx_real_ip: 6.6.6.6\n"
	    "Content-Length: 0\nUpgrade: websocket\nConnection: upgrade\n\n", h);
	assert_int_equal(fa_upstream_head(&priv, h, buf, "192.0.2.9", out), 0);
	n = evbuffer_get_length(out);
	s = calloc(1, n + 1);
	assert_non_null(s);
	evbuffer_remove(out, s, n);
	assert_string_equal(s, "POST /p/q?x=1&y HTTP/1.1\r\n"
	    "Host: h:8443\r\n"
	    "Authorization: Bearer app-token\r\n"
	    "Cookie: a=1\r\n"
	    "Content-Length: 0\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: upgrade\r\n"
	    "X-Forwarded-For: 192.0.2.9\r\n"
	    "X-Forwarded-Proto: https\r\n"
	    "X-Forwarded-Host: h:8443\r\n\r\n");
	free(s);
	evbuffer_free(out);
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_and_none),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_cookie),
		cmocka_unit_test(test_upstream_head),
	};

	hash_hex(OWNER, owner_hash);
	hash_hex("my.hand-made~token", hand_hash);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
