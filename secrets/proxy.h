/* px: sandgate-proxy's process (proxy.c): the policy feed, the tables of
 * sandboxes and secrets, the CA, the event loop. The connection module
 * (pxconn.h) reaches it only through these functions; struct px is
 * proxy.c's own. See sandgate-proxy(8) and docs/architecture.md. */
#ifndef SP_PROXY_H
#define SP_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "common/pxfeed.h"

struct event_base;
struct evdns_base;
struct sg_allow;
struct sp_ca_cache;
struct sp_redact_set;
struct px;
struct px_up;

#define PX_IN_HEADER	0x1u
#define PX_IN_QUERY	0x2u
#define PX_IN_BODY	0x4u

/* One secret of a token, from the feed; read-only for connections. */
struct px_secret {
	char *token;
	char *name;
	int has_value;
	char *value;		/* wiped when freed */
	size_t value_len;
	struct sg_allow *hosts;
	unsigned in;		/* PX_IN_* */
	int allow_http;
};

/* One sandbox, from the feed; read-only for connections, which hold a
 * reference (px_sbx_find, px_sbx_unref). A dropped sandbox stays until
 * its last connection ends (gone set). */
struct px_sbx {
	struct px_sbx *next;
	char *id;
	char *token;
	uint32_t addr;		/* guest IPv4, host order */
	struct sg_allow *allow;
	size_t nph;
	char **ph_name;
	char **ph_value;
	unsigned nconns;
	unsigned refs;
	int gone;
	int stale;		/* a RESYNC began and no new policy came yet */
	/* the values to redact, made when first needed (proxy.c) */
	struct sp_redact_set *rset;
	unsigned rset_gen;
	int rset_ok;
};

/* The loop, the resolver, the TLS context toward guests (leaves are set
 * per connection), the leaf cache, the upstream side (pxup.c) and the
 * configuration from the feed. */
struct event_base *px_base(struct px *px);
struct evdns_base *px_dns(struct px *px);
SSL_CTX *px_guest_ctx(struct px *px);
struct sp_ca_cache *px_leaves(struct px *px);
struct px_up *px_up(struct px *px);
const struct sg_feed_config *px_cfg(const struct px *px);

/* The live sandbox whose guest has address addr (host order), with a new
 * reference; NULL when none has. */
struct px_sbx *px_sbx_find(struct px *px, uint32_t addr);
void px_sbx_unref(struct px *px, struct px_sbx *s);
/* The redaction set of sandbox s: the values of its secrets in force
 * now and before the last reload of the secrets, each with its secret's
 * placeholder (redact.h). Returns 0 and the set in
 * *ret (borrowed: take a reference to keep it; NULL when the sandbox has
 * no value), or -ENOMEM. */
int px_sbx_redact_set(struct px *px, struct px_sbx *s,
    struct sp_redact_set **ret);
/* The secret NAME of token TOKEN in force, or NULL. */
const struct px_secret *px_secret_find(const struct px *px, const char *token,
    const char *name);
/* Sends an audit event to the monitor: pairs of key, value, NULL. */
void px_audit(struct px *px, const char *event, ...)
    __attribute__((sentinel));

/* pxguest.c: takes over an accepted connection. */
void px_conn_accept(struct px *px, int fd, const struct sockaddr *sa,
    int salen);
/* The ALPN selection callback of the guest context: http/1.1 only. */
int px_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg);

/* pxup.c: the upstream side of the process: the TLS client context (the
 * host's trust store plus [proxy] extra_ca), TLS sessions kept per host
 * name, idle connections kept per sandbox and host. */
int px_up_new(struct px_up **ret);
void px_up_free(struct px_up *up);
/* (Re)builds the TLS client context from the configuration; the kept
 * sessions are dropped. */
int px_up_configure(struct px_up *up, const struct sg_feed_config *cfg);
/* Closes every idle connection. */
void px_up_flush(struct px_up *up);

#endif
