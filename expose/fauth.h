/* fa: what sandgate-front decides about one request to an exposed port,
 * and the head it sends the guest (docs/expose.md). Pure: no I/O, no
 * state but the arguments (the head toward the guest is appended to an
 * evbuffer), so the decisions are unit-tested on their own
 * (tests/unit/test_fauth.c).
 *
 * A request to a private port gets through with the owner's token as a
 * Bearer (its SHA-256 is the route's token_hash) or with the cookie a
 * signed link set (common/explink.h); a request for the link's path
 * is answered with that cookie and a redirect to "/". Everything else is
 * refused with 401 (no credential: WWW-Authenticate) or 403 (another
 * token of sandgate's, a cookie of another port or an expired one, a
 * forged or expired link) and a message that says what to do. Paths
 * under SG_EXPLINK_PREFIX are the front's own on a private port (404 but
 * the link). A request let in by its cookie that carries an Origin other
 * than its own URL (a page of another exposed port, or any other site,
 * sending the browser's cookie along: cross-site request forgery,
 * WebSocket hijacking) is refused with 403; so is one without an Origin
 * whose Sec-Fetch-Site is not same-origin or none, unless it is a
 * navigation (Sec-Fetch-Mode: navigate). A public port lets
 * everything through. Field names are compared with '_' read as '-'. */
#ifndef FA_FAUTH_H
#define FA_FAUTH_H

#include <stdint.h>

#include "common/exfeed.h"
#include "common/httphead.h"

struct evbuffer;

enum fa_verdict {
	FA_ALLOW,	/* to the guest */
	FA_ANSWER,	/* answered by the front: status, extra, text */
};

struct fa_result {
	enum fa_verdict verdict;
	const char *how;	/* "bearer", "cookie", "link", "public", "none" */
	int status;
	char extra[320];	/* fields of the answer, each ending in CRLF */
	const char *text;	/* the answer's body, or NULL */
	int keep;		/* the connection may go on after it */
};

/* Decides request h (parsed from buf) to route e at time now, with the
 * link key. */
void fa_authorise(const uint8_t key[SG_EXPLINK_KEY_LEN],
    const struct sg_xf_expose *e, const struct sg_http_head *h,
    const char *buf, int64_t now, struct fa_result *out);

/* Appends the head toward the guest to out: the request line in
 * origin-form; every field but sandgate's credentials (a Bearer that is
 * the owner's token or any "sg_..." one, the SG_EXPLINK_COOKIE pairs of
 * Cookie) and the forwarding fields a client may not choose (Forwarded,
 * X-Forwarded-*, X-Real-IP); then X-Forwarded-For (peer),
 * X-Forwarded-Proto (https) and X-Forwarded-Host (the Host sent).
 * 0 or -ENOMEM. */
int fa_upstream_head(const struct sg_xf_expose *e, const struct sg_http_head *h,
    const char *buf, const char *peer, struct evbuffer *out);

/* 1 when the hex SHA-256 of tok[0..len) is hash (constant time). */
int fa_token_is(const char *hash, const char *tok, size_t len);

#endif
