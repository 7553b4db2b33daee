/* px: sandgate-proxy's process-wide state, shared by proxy.c (the feed,
 * the policy tables, main) and pxconn.c (one client connection).
 * See sandgate-proxy(8) and docs/architecture.md. */
#ifndef SP_PROXY_H
#define SP_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "secrets/pxfeed.h"

struct np_allow;
struct sp_ca;
struct sp_ca_cache;
struct evdns_base;
struct evconnlistener;
struct sg_buf;
struct px_pooled;

#define PX_SESS_MAX	64

#define PX_IN_HEADER	0x1u
#define PX_IN_QUERY	0x2u
#define PX_IN_BODY	0x4u

/* One secret of a token, from the feed. */
struct px_secret {
	char *token;
	char *name;
	int has_value;
	char *value;		/* wiped when freed */
	size_t value_len;
	struct np_allow *hosts;
	unsigned in;		/* PX_IN_* */
	int allow_http;
};

/* One sandbox, from the feed. Connections hold a reference; a dropped
 * sandbox stays until its last connection ends (gone set). */
struct px_sbx {
	struct px_sbx *next;
	char *id;
	char *token;
	uint32_t addr;		/* guest IPv4, host order */
	struct np_allow *allow;
	size_t nph;
	char **ph_name;
	char **ph_value;
	unsigned nconns;
	unsigned refs;
	int gone;
};

struct px {
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *sctx;		/* toward guests: leaves set per connection */
	SSL_CTX *uctx;		/* toward upstreams: verifying */
	struct sp_ca *ca;
	struct sp_ca_cache *cache;
	struct sp_feed_config cfg;
	int have_cfg;
	int started;		/* START came: the listener is on */
	struct px_sbx *sbxs;
	struct px_secret *sec;	/* the table in force */
	size_t nsec;
	struct px_secret *nsec_new;	/* being received: TOKENS_BEGIN..END */
	size_t nnew;
	int receiving;
	int feed_fd;
	struct event *feed_ev;
	struct evconnlistener *lis;
	struct sg_buf *msg;
	unsigned long audit_dropped;
	/* TLS sessions toward upstreams, by host name: resumed, a new
	 * connection skips most of the handshake's cost */
	struct px_sess {
		char host[256];
		SSL_SESSION *sess;
	} sess[PX_SESS_MAX];
	unsigned sess_next;
	/* idle upstream connections, for any sandbox's next request to the
	 * same host (pxconn.c) */
	struct px_pooled *pool;
	unsigned npool;
	int failed;		/* a feed error: exit status 1 */
};

/* The secret NAME of token TOKEN in force, or NULL. */
const struct px_secret *px_secret_find(const struct px *px, const char *token,
    const char *name);
void px_sbx_unref(struct px *px, struct px_sbx *s);
/* Sends an audit event to the monitor: pairs of key, value, NULL. */
void px_audit(struct px *px, const char *event, ...)
    __attribute__((sentinel));

/* The TLS session kept for host, or NULL (not a new reference). */
SSL_SESSION *px_sess_find(struct px *px, const char *host);

/* pxconn.c: takes over an accepted connection. */
void px_pool_flush(struct px *px);
void px_conn_accept(struct px *px, int fd, const struct sockaddr *sa,
    int salen);
/* The ALPN selection callback of sctx: http/1.1 only. */
int px_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg);

#endif
