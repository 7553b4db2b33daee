/* sg_explink: the names and credentials of an exposed port: the host
 * label of its URL, the owning token's tag in that label, the signed
 * link that `expose` prints and the cookie that the link turns into.
 * sandgated makes them; sandgate-front reads them from requests off the
 * Internet, so every reader here treats its input as hostile: bounded,
 * no allocation, nothing repaired. Pure C17 plus OpenSSL's HMAC
 * (callers link libcrypto).
 *
 * An exposed port is reached at https://LABEL.DOMAIN[:PORT]/ where LABEL
 * is "<port>-<sandbox>-<tag>": the guest port (1..65535, no leading
 * zero), the sandbox's name (or its id when it has none) and the tag, 8
 * lowercase hex digits of HMAC-SHA256(key, token name), so that two
 * tokens' sandboxes of one name get different URLs and a URL does not
 * show the token's name. LABEL is at most 5+1+32+1+8 = 47 bytes, one
 * DNS label: a wildcard certificate for *.DOMAIN serves every URL.
 *
 * An exposure is (sandbox id, guest port, nonce): the nonce is random per
 * `expose`, so `unexpose` then `expose` again retires every link and
 * cookie made before, and a new sandbox of the same name never accepts
 * an old one (its id differs). A credential is "<expires>.<mac>":
 * expires in decimal Unix seconds (1..2^40), mac the base64url (no
 * padding) of the first 16 bytes of HMAC-SHA256(key, a domain label, the
 * URL's label, the id, the nonce and expires, NUL-separated). A link and
 * a cookie use different domain labels, so neither passes for the other.
 * Checks compare in constant time and say only "valid", "expired" or
 * "not valid": a caller cannot tell a forged mac from a wrong exposure. */
#ifndef SG_EXPLINK_H
#define SG_EXPLINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SG_EXPLINK_KEY_LEN	32	/* HMAC key bytes */
#define SG_EXPLINK_TAG_LEN	8	/* hex digits */
#define SG_EXPLINK_SBX_MAX	32	/* a sandbox name; an id is 12 */
#define SG_EXPLINK_LABEL_MAX	64	/* a label and its NUL */
#define SG_EXPLINK_CRED_MAX	48	/* "<expires>.<mac>" and its NUL */
#define SG_EXPLINK_EXPIRES_MAX	(INT64_C(1) << 40)

/* The path of a signed link; its query is "t=<credential>". */
#define SG_EXPLINK_PATH		"/__sandgate/link"
/* The cookie a link sets: host-only, Path=/, Secure (browsers enforce
 * all three for the __Host- prefix), HttpOnly (the guest's pages, on the
 * same origin, cannot read it) and SameSite=Lax (sent on the navigation
 * that follows the link's redirect). Every path under SG_EXPLINK_PREFIX
 * is the front's own and never reaches a guest of a private port. */
#define SG_EXPLINK_COOKIE	"__Host-sandgate"
#define SG_EXPLINK_COOKIE_ATTRS	"Path=/; Secure; HttpOnly; SameSite=Lax"
#define SG_EXPLINK_PREFIX	"/__sandgate/"

/* What a credential is bound to. */
struct sg_explink_grant {
	const char *label;	/* the URL's label, as sg_explink_label made */
	const char *id;		/* the sandbox's id */
	uint64_t nonce;		/* the exposure's */
};

enum sg_explink_kind {
	SG_EXPLINK_LINK,
	SG_EXPLINK_COOKIE_CRED,
};

/* Writes the token's tag, SG_EXPLINK_TAG_LEN hex digits and a NUL, to
 * out. 0, -EINVAL for an empty token name, -EIO when OpenSSL fails. */
int sg_explink_tag(const uint8_t key[SG_EXPLINK_KEY_LEN], const char *token,
    char out[SG_EXPLINK_TAG_LEN + 1]);

/* Writes "<port>-<sbx>-<tag>" to out. sbx must be a sandbox name
 * ([a-z0-9][a-z0-9-]{0,31}) and tag a tag; port 1..65535. 0 or -EINVAL. */
int sg_explink_label(uint16_t port, const char *sbx, const char *tag,
    char out[SG_EXPLINK_LABEL_MAX]);

/* Writes the URL "https://LABEL.DOMAIN[:PORT]/" (PORT when it is not
 * 443), and with cred the signed link: that URL's SG_EXPLINK_PATH
 * "?t=" cred. 0, or -ENOBUFS when out[0..size) is too small. */
int sg_explink_url(const char *label, const char *domain, uint16_t port,
    const char *cred, char *out, size_t size);

/* Reads a label s[0..len) of that shape: 0 with its parts in port, sbx
 * and tag (NUL-terminated), or -ENOENT. */
int sg_explink_label_parse(const char *s, size_t len, uint16_t *port,
    char sbx[SG_EXPLINK_SBX_MAX + 1], char tag[SG_EXPLINK_TAG_LEN + 1]);

/* Reads a request's host: host[0..len) is a Host value as sg_http
 * normalised it (lowercase, no trailing dot, no port), which must be
 * "LABEL.DOMAIN" with domain the front's (normalised too). On 0 the
 * label's parts are in port, sbx and tag (NUL-terminated); -ENOENT when
 * the host is not under domain or its first label is not of that shape. */
int sg_explink_host_parse(const char *host, size_t len, const char *domain,
    uint16_t *port, char sbx[SG_EXPLINK_SBX_MAX + 1],
    char tag[SG_EXPLINK_TAG_LEN + 1]);

/* Writes the credential of kind for grant, valid until expires
 * (1..SG_EXPLINK_EXPIRES_MAX), to out. 0, -EINVAL, or -EIO when OpenSSL
 * fails. */
int sg_explink_make(const uint8_t key[SG_EXPLINK_KEY_LEN],
    enum sg_explink_kind kind, const struct sg_explink_grant *grant,
    int64_t expires, char out[SG_EXPLINK_CRED_MAX]);

/* Checks the credential cred[0..len) of kind against grant at time now.
 * 0 when valid (its expiry in *expires when not NULL); -EKEYEXPIRED
 * when it was valid but has expired; -EACCES for anything else (forged,
 * malformed, another exposure's, the other kind). */
int sg_explink_check(const uint8_t key[SG_EXPLINK_KEY_LEN],
    enum sg_explink_kind kind, const struct sg_explink_grant *grant,
    const char *cred, size_t len, int64_t now, int64_t *expires);

/* Reads a signed link's query q[0..len) (after the '?'): exactly
 * "t=<credential>" of at most SG_EXPLINK_CRED_MAX - 1 bytes. On 0 the
 * credential is q[*off..*off + *cred_len). -EINVAL otherwise. */
int sg_explink_query(const char *q, size_t len, size_t *off,
    size_t *cred_len);

/* Walks a Cookie field value v[0..len) ("name=value; name=value"):
 * starting at *pos (0 at first), finds the next pair named
 * SG_EXPLINK_COOKIE and returns 1 with its value at v[*off..*off +
 * *vlen) and *pos past it; 0 when there is none left. Pairs it cannot
 * read are skipped, never matched. A request may carry several (other
 * exposures share DOMAIN, and a page of one can set cookies for all):
 * a reader tries every one in every Cookie field, and one valid is
 * enough. */
int sg_explink_cookie_next(const char *v, size_t len, size_t *pos,
    size_t *off, size_t *vlen);

/* Copies the Cookie value v[0..len) to out[0..size) (not overlapping v)
 * without the pairs named SG_EXPLINK_COOKIE (what a guest must never
 * see), the others as sent (trimmed), joined by "; " (2 * len + 1 bytes
 * are always enough). Returns the new length (0: nothing left, drop the
 * field), or -ENOBUFS (out then holds ""). */
ssize_t sg_explink_cookie_strip(const char *v, size_t len, char *out,
    size_t size);

/* Reads an Authorization field value v[0..len): "Bearer" (any case),
 * one or more spaces, and a token68 of at most 1024 bytes (any token a
 * tokens file may hold, sandgate's own "sg_..." and hand-made ones).
 * 1 with the token at v[*off..*off + *tlen); 0 when the value is of
 * another scheme or shape. The front lets a request through when the
 * token's SHA-256 is the owner's, and never forwards one that is a
 * sandgate token (the owner's, or any starting with "sg_"). */
int sg_explink_bearer(const char *v, size_t len, size_t *off, size_t *tlen);

#endif
