/* sg_xf: the feed between sandgated's monitor and sandgate-front, the
 * inbound HTTPS front of exposed ports.
 *
 * Like the proxy's feed (pxfeed.h): one SOCK_SEQPACKET socket (a
 * socketpair on the front's descriptor 4, or a connection to its
 * rendezvous socket, descriptor 5, from the monitor of a sandgated that
 * restarted), one message per datagram, a type byte then u8 / u32
 * big-endian / strings (u32 length + bytes, no NUL). docs/protocol.md,
 * "Front feed", is the reference.
 *
 *   monitor -> front
 *     CONFIG    once, first: the URL domain, the certificate chain and
 *               its key (PEM; the monitor reads the operator's files),
 *               the link key, limits and timeouts
 *     EXPOSE    an exposed port: its URL label, the sandbox's id, token,
 *               the token's SHA-256 (for Bearer), the guest's address,
 *               the port, the exposure's nonce, public or not; an EXPOSE
 *               of a label the front has replaces it
 *     UNEXPOSE  a label is no longer exposed
 *     START     once per feed, after every exposure known then; after a
 *               RESYNC the front drops the labels not sent again
 *     RESYNC    first on a feed that adopts a running front: it answers
 *               READY with its listening socket attached
 *   front -> monitor
 *     READY     after CONFIG (or RESYNC): the SHA-256 of the CONFIG it
 *               runs with, so that a monitor that adopts it sees whether
 *               its configuration changed (then it starts a new front)
 *     AUDIT     one audit event, as the proxy's (SG_FEED_AUDIT,
 *               sg_feed_put_audit / sg_feed_get_audit of pxfeed.h)
 *
 * The decoders refuse trailing bytes, embedded NULs, oversized fields
 * and malformed values (-EPROTO); the encoders refuse what the decoders
 * would (-EINVAL) and a message over SG_MP_MAX (-ENOBUFS). The CONFIG
 * decoder's key material is wiped by sg_xf_config_clear. */
#ifndef SG_EXFEED_H
#define SG_EXFEED_H

#include <stddef.h>
#include <stdint.h>

#include "common/explink.h"

struct sg_buf;

enum sg_xf_type {
	SG_XF_CONFIG = 48,
	SG_XF_EXPOSE = 49,
	SG_XF_UNEXPOSE = 50,
	SG_XF_START = 51,
	SG_XF_RESYNC = 52,
	SG_XF_READY = 53,
	/* 41 is SG_FEED_AUDIT (pxfeed.h), front -> monitor; 126 is
	 * SG_CONFINE_REPORT (confine.h) */
};

#define SG_XF_CERT_MAX		8192	/* the chain, PEM */
#define SG_XF_KEY_MAX		4096	/* its key, PEM */
#define SG_XF_DOMAIN_MAX	200	/* so that label.domain fits 253 */
#define SG_XF_HASH_LEN		64	/* hex SHA-256 of a token */
#define SG_XF_TOKEN_MAX		64
#define SG_XF_DIGEST_LEN	32

struct sg_xf_config {
	char *domain;		/* normalised host name */
	char *cert_pem;		/* leaf first, then the chain */
	char *key_pem;		/* wiped by sg_xf_config_clear */
	uint8_t link_key[SG_EXPLINK_KEY_LEN];	/* wiped too */
	uint32_t max_conns;	/* per sandbox, at once; 1..65535 */
	uint32_t max_total;	/* client connections at once; 1..1000000 */
	uint32_t head_ms;	/* to send a whole request head */
	uint32_t idle_ms;	/* between requests, and a quiet relay */
	uint32_t connect_ms;	/* to the guest's port */
};

struct sg_xf_expose {
	char *label;		/* "<port>-<sandbox>-<tag>" */
	char *id;		/* the sandbox's id */
	char *token;		/* its token's name */
	char *token_hash;	/* 64 lowercase hex: SHA-256 of the token */
	uint32_t addr;		/* the guest's IPv4 address, host order */
	uint16_t port;		/* 1..65535, the label's */
	uint64_t nonce;
	int public;		/* 1: no credential asked */
};

/* Encoders: each writes one whole message (type byte first) into b,
 * after resetting it; on failure b is left empty. */
int sg_xf_put_config(struct sg_buf *b, const struct sg_xf_config *c);
int sg_xf_put_expose(struct sg_buf *b, const struct sg_xf_expose *e);
int sg_xf_put_unexpose(struct sg_buf *b, const char *label);
int sg_xf_put_start(struct sg_buf *b);
int sg_xf_put_resync(struct sg_buf *b);
int sg_xf_put_ready(struct sg_buf *b, const uint8_t digest[SG_XF_DIGEST_LEN]);

/* Decoders of the payload p[0..n) after the type byte. On success the
 * struct holds new strings the matching _clear frees; on failure it holds
 * nothing. START and RESYNC have no decoder: their payload must be
 * empty. */
int sg_xf_get_config(const uint8_t *p, size_t n, struct sg_xf_config *c);
void sg_xf_config_clear(struct sg_xf_config *c);
int sg_xf_get_expose(const uint8_t *p, size_t n, struct sg_xf_expose *e);
void sg_xf_expose_clear(struct sg_xf_expose *e);
int sg_xf_get_unexpose(const uint8_t *p, size_t n, char **ret_label);
int sg_xf_get_ready(const uint8_t *p, size_t n,
    uint8_t digest[SG_XF_DIGEST_LEN]);

/* The SHA-256 of a CONFIG payload p[0..n) (after the type byte). */
int sg_xf_config_digest(const uint8_t *p, size_t n,
    uint8_t digest[SG_XF_DIGEST_LEN]);

#endif
