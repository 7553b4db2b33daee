/* sg_feed: the policy feed between sandgated's monitor and sandgate-proxy.
 *
 * One SOCK_SEQPACKET socket (a socketpair on the proxy's descriptor 4,
 * or a connection to its rendezvous socket, descriptor 5, from the
 * monitor of a sandgated that restarted), one message per datagram, framed as the monitor's other requests (common/mpipe.h):
 * a type byte, then u8 / u32 big-endian / strings (u32 length + bytes,
 * no NUL). docs/protocol.md, "Proxy feed", is the reference.
 *
 *   monitor -> proxy
 *     CONFIG   once, first: resolve overrides, DNS servers, extra CAs,
 *              the per-sandbox connection cap and timeouts, the
 *              sandboxes' address pool
 *     TOKENS_BEGIN, SECRET..., TOKENS_END
 *              the secrets of every token, values included; the proxy
 *              swaps its whole table at TOKENS_END (a reload)
 *     SANDBOX  a sandbox: its address, token, allow_net and placeholders
 *     START    once per feed, after the secrets and every sandbox known
 *              then: the proxy starts accepting connections; after a
 *              RESYNC it drops the sandboxes the new monitor did not send
 *     DROP     a sandbox is gone
 *     RESYNC   first on a feed that adopts a running proxy: the proxy
 *              answers READY with its listening socket attached and
 *              takes the secrets and sandboxes again
 *   proxy -> monitor
 *     READY    after CONFIG: the CA certificate the guests must trust
 *     AUDIT    one audit event, names only, for the monitor's audit log
 *
 * Both sides decode what they receive with the functions below, which
 * refuse trailing bytes, embedded NULs and oversized fields (-EPROTO). */
#ifndef SP_PXFEED_H
#define SP_PXFEED_H

#include <stddef.h>
#include <stdint.h>

/* A placeholder, the value the guest sees for a secret: this prefix and
 * 32 lowercase hex digits (128 random bits). The monitor makes them, the
 * feed carries them, the proxy finds them in requests. */
#define SG_FEED_PH_PREFIX	"SANDGATE_SECRET_"
#define SG_FEED_PH_PREFIX_LEN	16
#define SG_FEED_PH_LEN		48

struct sg_buf;

enum sg_feed_type {
	SG_FEED_CONFIG = 32,
	SG_FEED_TOKENS_BEGIN = 33,
	SG_FEED_SECRET = 34,
	SG_FEED_TOKENS_END = 35,
	SG_FEED_SANDBOX = 36,
	SG_FEED_DROP = 37,
	SG_FEED_START = 38,
	SG_FEED_RESYNC = 39,
	SG_FEED_READY = 40,
	SG_FEED_AUDIT = 41,
	/* 126 is SG_CONFINE_REPORT (confine.h): the proxy's filter stopped
	 * it (proxy -> monitor, in any state) */
};

#define SG_FEED_MAX_RESOLVE	256
#define SG_FEED_MAX_ALLOW	256
#define SG_FEED_MAX_SECRETS	64	/* per token, and so per sandbox */
#define SG_FEED_MAX_VALUE	4096	/* bytes of one secret value */
#define SG_FEED_MAX_AUDIT	16	/* key/value pairs of one event */
#define SG_FEED_MAX_STR		8192

struct sg_feed_resolve {
	char *name;
	char *addr;		/* IPv4 or IPv6 literal */
};

struct sg_feed_config {
	uint32_t max_conns;	/* per sandbox, at once */
	uint32_t idle_ms;	/* between requests on a connection */
	uint32_t head_ms;	/* to send a whole request head */
	uint32_t upstream_ms;	/* upstream connect + TLS, and response idle */
	uint32_t pool_net;	/* [network] pool, host order: never reached */
	uint8_t pool_prefix;	/* 0..32; 0 (with pool_net 0): no pool */
	size_t nresolve;
	struct sg_feed_resolve *resolve;
	char *dns;		/* "" : the host's resolv.conf */
	char *extra_ca;		/* PEM, "" for none */
};

struct sg_feed_secret {
	char *token;
	char *name;
	int has_value;		/* 0: env/file missing; requests are refused */
	char *value;		/* wiped by sg_feed_secret_clear */
	size_t value_len;
	char *hosts;		/* "api.example.com, *.example.org" */
	char *in;		/* "header", "header, query, body", ... */
	int allow_http;
};

struct sg_feed_placeholder {
	char *name;		/* the secret's name */
	char *value;		/* SANDGATE_SECRET_ + 32 hex */
};

struct sg_feed_sandbox {
	char *id;
	char *token;
	uint32_t addr;		/* the guest's IPv4 address, host order */
	size_t nallow;
	char **allow;
	size_t nph;
	struct sg_feed_placeholder *ph;
};

struct sg_feed_audit {
	char *event;
	size_t n;
	char *key[SG_FEED_MAX_AUDIT];
	char *value[SG_FEED_MAX_AUDIT];
};

/* Encoders: each writes one whole message (type byte first) into b,
 * after resetting it. -ENOBUFS when it would not fit SG_MP_MAX. */
int sg_feed_put_config(struct sg_buf *b, const struct sg_feed_config *c);
int sg_feed_put_tokens_begin(struct sg_buf *b);
int sg_feed_put_secret(struct sg_buf *b, const struct sg_feed_secret *s);
int sg_feed_put_tokens_end(struct sg_buf *b);
int sg_feed_put_sandbox(struct sg_buf *b, const struct sg_feed_sandbox *s);
int sg_feed_put_drop(struct sg_buf *b, const char *id);
int sg_feed_put_start(struct sg_buf *b);
int sg_feed_put_resync(struct sg_buf *b);
int sg_feed_put_ready(struct sg_buf *b, const char *ca_pem);
/* pairs: key, value, ..., NULL; NULL values are skipped. */
int sg_feed_put_audit(struct sg_buf *b, const char *event,
    const char *const *pairs);

/* Decoders of the payload p[0..n) after the type byte. On success the
 * struct holds new strings the matching _clear frees; on failure it
 * holds nothing. */
int sg_feed_get_config(const uint8_t *p, size_t n, struct sg_feed_config *c);
void sg_feed_config_clear(struct sg_feed_config *c);
int sg_feed_get_secret(const uint8_t *p, size_t n, struct sg_feed_secret *s);
void sg_feed_secret_clear(struct sg_feed_secret *s);
int sg_feed_get_sandbox(const uint8_t *p, size_t n, struct sg_feed_sandbox *s);
void sg_feed_sandbox_clear(struct sg_feed_sandbox *s);
int sg_feed_get_drop(const uint8_t *p, size_t n, char **ret_id);
int sg_feed_get_ready(const uint8_t *p, size_t n, char **ret_pem);
/* Keys must be [a-z_]{1,32}; the event name too. */
int sg_feed_get_audit(const uint8_t *p, size_t n, struct sg_feed_audit *a);
void sg_feed_audit_clear(struct sg_feed_audit *a);

#endif
