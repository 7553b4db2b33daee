/* px_conn, the upstream: resolution, address checks, connect, idle
 * connections and TLS sessions kept, retries. See pxconn.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/allow.h"
#include "common/pxfeed.h"
#include "secrets/proxy.h"
#include "secrets/pxconn.h"

#define PX_POOL_MAX	256
#define PX_POOL_IDLE_MS	15000
#define PX_SESS_MAX	64

/* An idle upstream connection, kept for its sandbox's next request to
 * the same host. */
struct px_pooled {
	struct px_pooled *next;
	struct px_up *up;
	struct bufferevent *bev;
	char sbx[64];		/* kept for this sandbox only */
	char host[SG_HTTP_HOST_BUF];
	char uaddr[INET6_ADDRSTRLEN + 8];
	uint16_t port;
	int tls;
	struct sockaddr_storage ss;
	socklen_t len;
	int override;
};

struct px_up {
	SSL_CTX *ctx;		/* verifying; NULL until configured */
	/* TLS sessions toward upstreams, by host name: resumed, a new
	 * connection skips most of the handshake's cost */
	struct px_sess {
		char host[256];
		SSL_SESSION *sess;
	} sess[PX_SESS_MAX];
	unsigned sess_next;
	struct px_pooled *pool;
	unsigned npool;
};

/* --- TLS toward upstreams --- */

static SSL_SESSION *
sess_find(struct px_up *up, const char *host)
{
	unsigned i;

	for (i = 0; i < PX_SESS_MAX; i++)
		if (up->sess[i].sess != NULL && strcmp(up->sess[i].host, host) == 0)
			return up->sess[i].sess;
	return NULL;
}

/* A new session from an upstream (after a verified handshake with the
 * name set by SSL_set1_host): kept for that name, replacing its old one
 * or the oldest. Returns 1: the reference is kept. */
static int
sess_new(SSL *ssl, SSL_SESSION *sess)
{
	struct px_up *up = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	unsigned i;

	if (up == NULL || host == NULL || strlen(host) >= sizeof(up->sess[0].host))
		return 0;
	for (i = 0; i < PX_SESS_MAX; i++)
		if (up->sess[i].sess != NULL && strcmp(up->sess[i].host, host) == 0)
			break;
	if (i == PX_SESS_MAX)
		i = up->sess_next++ % PX_SESS_MAX;
	SSL_SESSION_free(up->sess[i].sess);
	snprintf(up->sess[i].host, sizeof(up->sess[i].host), "%s", host);
	up->sess[i].sess = sess;
	return 1;
}

static void
sess_flush(struct px_up *up)
{
	unsigned i;

	for (i = 0; i < PX_SESS_MAX; i++) {
		SSL_SESSION_free(up->sess[i].sess);
		up->sess[i].sess = NULL;
	}
}

/* PEM text to trust anchors of store; the number added. */
static int
store_add_pem(X509_STORE *store, const char *pem)
{
	BIO *bio;
	X509 *x;
	int n = 0;

	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		return -ENOMEM;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

int
px_up_configure(struct px_up *up, const struct sg_feed_config *cfg)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX *c;
	int n;

	c = SSL_CTX_new(TLS_client_method());
	if (c == NULL)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_default_verify_paths(c) != 1)
		sg_warn("cannot load the host's trust store; only [proxy] "
		    "extra_ca is trusted");
	if (cfg->extra_ca[0] != '\0') {
		n = store_add_pem(SSL_CTX_get_cert_store(c), cfg->extra_ca);
		if (n <= 0)
			sg_warn("[proxy] extra_ca holds no certificate");
		else
			sg_info("trusting %d extra CA certificate%s", n,
			    n == 1 ? "" : "s");
	}
	SSL_CTX_set_alpn_protos(c, alpn, sizeof(alpn) - 1);
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_app_data(c, up);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c, sess_new);
	sess_flush(up);
	SSL_CTX_free(up->ctx);
	up->ctx = c;
	return 0;
}

int
px_up_new(struct px_up **ret)
{
	struct px_up *up = calloc(1, sizeof(*up));

	if (up == NULL)
		return -ENOMEM;
	*ret = up;
	return 0;
}

/* --- idle upstream connections --- */

static void
pool_drop(struct px_pooled *p)
{
	struct px_pooled **pp;

	for (pp = &p->up->pool; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->up->npool--;
	bufferevent_free(p->bev);
	free(p);
}

void
px_up_flush(struct px_up *up)
{
	while (up != NULL && up->pool != NULL)
		pool_drop(up->pool);
}

void
px_up_free(struct px_up *up)
{
	if (up == NULL)
		return;
	px_up_flush(up);
	sess_flush(up);
	SSL_CTX_free(up->ctx);
	free(up);
}

/* Anything from an idle connection (bytes, close, error, the idle
 * limit) ends it. */
static void
pool_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pool_drop(arg);
}

static void
pool_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	pool_drop(arg);
}

/* Keeps the upstream connection of a finished exchange for later, when
 * it may be: answered in full, persistent, nothing pending. */
void
pxc_pool_put(struct px_conn *cn)
{
	struct timeval tv = pxc_tv(PX_POOL_IDLE_MS);
	struct px_pooled *p, **pp;
	struct px_up *up = px_up(cn->px);

	if (cn->u == NULL)
		return;
	if (!cn->u_ok || !cn->u_keep || cn->tunnel ||
	    evbuffer_get_length(bufferevent_get_input(cn->u)) != 0 ||
	    evbuffer_get_length(bufferevent_get_output(cn->u)) != 0 ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		bufferevent_free(cn->u);
		cn->u = NULL;
		cn->u_ok = 0;
		return;
	}
	if (up->npool >= PX_POOL_MAX) {
		for (pp = &up->pool; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		pool_drop(*pp);		/* the oldest */
	}
	p->up = up;
	p->bev = cn->u;
	snprintf(p->sbx, sizeof(p->sbx), "%s", cn->sbx->id);
	snprintf(p->host, sizeof(p->host), "%s", cn->uhost);
	snprintf(p->uaddr, sizeof(p->uaddr), "%s", cn->uaddr);
	p->port = cn->port;
	p->tls = cn->tls;
	memcpy(&p->ss, &cn->uss, cn->ulen);
	p->len = cn->ulen;
	p->override = cn->u_override;
	p->next = up->pool;
	up->pool = p;
	up->npool++;
	cn->u = NULL;
	cn->u_ok = 0;
	bufferevent_setcb(p->bev, pool_read, NULL, pool_event, p);
	bufferevent_set_timeouts(p->bev, &tv, NULL);
	bufferevent_enable(p->bev, EV_READ);
}

static int addr_in_pool(const struct px_conn *cn, int family, const void *a);
static void up_read(struct bufferevent *bev, void *arg);
static void up_write(struct bufferevent *bev, void *arg);
static void up_event(struct bufferevent *bev, short what, void *arg);

/* An idle connection to cn's host that cn's sandbox left (one sandbox
 * never gets a connection another one used), whose address still passes
 * its checks. Returns 1 and sets cn->u when there is one. */
int
pxc_pool_get(struct px_conn *cn)
{
	struct timeval tv = pxc_tv(px_cfg(cn->px)->upstream_ms);
	struct px_up *up = px_up(cn->px);
	struct px_pooled *p, **pp;
	const void *a;

	for (pp = &up->pool; (p = *pp) != NULL; pp = &p->next) {
		if (p->port != cn->port || p->tls != cn->tls ||
		    strcmp(p->host, cn->host) != 0 ||
		    strcmp(p->sbx, cn->sbx->id) != 0)
			continue;
		a = p->ss.ss_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)&p->ss)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)&p->ss)->sin6_addr;
		if (!p->override && sg_addr_is_internal(p->ss.ss_family, a) &&
		    !sg_allow_names_range(cn->sbx->allow, p->ss.ss_family, a))
			continue;
		if (addr_in_pool(cn, p->ss.ss_family, a))
			continue;
		*pp = p->next;
		up->npool--;
		cn->u = p->bev;
		cn->u_ok = 1;
		cn->u_reused = 1;
		cn->u_override = p->override;
		memcpy(&cn->uss, &p->ss, p->len);
		cn->ulen = p->len;
		snprintf(cn->uhost, sizeof(cn->uhost), "%s", p->host);
		snprintf(cn->uaddr, sizeof(cn->uaddr), "%s", p->uaddr);
		free(p);
		bufferevent_setcb(cn->u, up_read, up_write, up_event, cn);
		bufferevent_set_timeouts(cn->u, &tv, &tv);
		bufferevent_enable(cn->u, EV_READ | EV_WRITE);
		return 1;
	}
	return 0;
}

/* --- the upstream --- */

static void
up_connect(struct px_conn *cn, const struct sockaddr *sa, socklen_t salen)
{
	struct timeval tv = pxc_tv(px_cfg(cn->px)->upstream_ms);
	SSL_SESSION *sess;
	SSL *ssl = NULL;

	snprintf(cn->uhost, sizeof(cn->uhost), "%s", cn->host);
	cn->u_reused = 0;
	memcpy(&cn->uss, sa, salen);
	cn->ulen = salen;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    cn->uaddr, sizeof(cn->uaddr));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    cn->uaddr, sizeof(cn->uaddr));
	if (cn->tls) {
		ssl = SSL_new(px_up(cn->px)->ctx);
		if (ssl == NULL || SSL_set_tlsext_host_name(ssl, cn->host) != 1 ||
		    SSL_set1_host(ssl, cn->host) != 1) {
			SSL_free(ssl);
			pxc_respond(cn, 502, "cannot set up TLS toward %s", cn->host);
			return;
		}
		sess = sess_find(px_up(cn->px), cn->host);
		if (sess != NULL)
			(void)SSL_set_session(ssl, sess);
		cn->u = bufferevent_openssl_socket_new(px_base(cn->px), -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (cn->u != NULL)	/* on failure libevent freed ssl */
			bufferevent_openssl_set_allow_dirty_shutdown(cn->u, 1);
	} else {
		cn->u = bufferevent_socket_new(px_base(cn->px), -1,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	}
	if (cn->u == NULL) {
		pxc_respond(cn, 502, "out of memory");
		return;
	}
	bufferevent_setcb(cn->u, up_read, up_write, up_event, cn);
	bufferevent_setwatermark(cn->u, EV_READ, 0, PX_HIGH);
	bufferevent_setwatermark(cn->u, EV_WRITE, PX_HIGH / 2, 0);
	bufferevent_set_timeouts(cn->u, &tv, &tv);
	bufferevent_enable(cn->u, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(cn->u, sa, (int)salen) < 0) {
		bufferevent_free(cn->u);
		cn->u = NULL;
		pxc_respond(cn, 502, "cannot connect to %s (%s)", cn->host, cn->uaddr);
	}
}

/* Whether addr is one of this host's own addresses: binding to it
 * works only then. The proxy's connections do not cross the sandbox
 * rules, so it keeps them off the gateway host itself. */
static int
addr_is_local(const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage ss;
	int fd, r;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;	/* cannot tell: refuse */
	memcpy(&ss, sa, len);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	r = bind(fd, (struct sockaddr *)&ss, len) == 0 ||
	    errno == EADDRINUSE || errno == EACCES;
	close(fd);
	return r;
}

/* Whether an IPv4 address (network order) is in the sandboxes' pool:
 * whatever allow_net and [network] resolve say, the proxy never opens a
 * path from one sandbox into another. */
static int
addr_in_pool(const struct px_conn *cn, int family, const void *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	const struct sg_feed_config *c = px_cfg(cn->px);
	uint32_t v, mask;

	if (c->pool_prefix == 0 && c->pool_net == 0)
		return 0;
	if (family == AF_INET6 && memcmp(a, mapped, 12) == 0)
		a = (const uint8_t *)a + 12;	/* ::ffff:a.b.c.d */
	else if (family != AF_INET)
		return 0;
	memcpy(&v, a, 4);
	v = ntohl(v);
	mask = c->pool_prefix == 0 ? 0 : ~UINT32_C(0) << (32 - c->pool_prefix);
	return (v & mask) == (c->pool_net & mask);
}

/* Picks the first address the policy lets this name reach. */
static void
up_pick(struct px_conn *cn, const struct evutil_addrinfo *ai, int override)
{
	struct sockaddr_storage ss;
	const void *a;
	char txt[INET6_ADDRSTRLEN] = "";
	int local = 0, pool = 0;

	for (; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			a = &((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (addr_in_pool(cn, ai->ai_family, a)) {
			inet_ntop(ai->ai_family, a, txt, sizeof(txt));
			pool = 1;
			continue;
		}
		if (!override && sg_addr_is_internal(ai->ai_family, a) &&
		    !sg_allow_names_range(cn->sbx->allow, ai->ai_family, a)) {
			inet_ntop(ai->ai_family, a, txt, sizeof(txt));
			continue;
		}
		if (!override && addr_is_local(ai->ai_addr, ai->ai_addrlen)) {
			inet_ntop(ai->ai_family, a, txt, sizeof(txt));
			local = 1;
			continue;
		}
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(cn->port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(cn->port);
		cn->u_override = override;
		up_connect(cn, (struct sockaddr *)&ss, ai->ai_addrlen);
		return;
	}
	if (pool)
		pxc_respond(cn, 403, "%s resolves to %s, a sandbox's address: "
		    "sandboxes never reach each other", cn->host, txt);
	else if (local)
		pxc_respond(cn, 403, "%s resolves to the gateway host itself (%s)",
		    cn->host, txt);
	else if (txt[0] != '\0')
		pxc_respond(cn, 403, "%s resolves to an internal address (%s) that "
		    "allow_net does not name", cn->host, txt);
	else
		pxc_respond(cn, 502, "%s has no usable address", cn->host);
}

static void
dns_done(int err, struct evutil_addrinfo *res, void *arg)
{
	struct px_conn *cn = arg;

	cn->dnsreq = NULL;
	if (cn->dead) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		pxc_free(cn);
		return;
	}
	if (err != 0) {
		pxc_respond(cn, 502, "cannot resolve %s: %s", cn->host,
		    evutil_gai_strerror(err));
		return;
	}
	up_pick(cn, res, 0);
	evutil_freeaddrinfo(res);
}

void
pxc_up_open(struct px_conn *cn)
{
	struct evutil_addrinfo hints, ai;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct evdns_getaddrinfo_request *req;
	size_t i;

	cn->u_ok = 0;
	memset(&ai, 0, sizeof(ai));
	/* an address in Host (plain HTTP only): that address, nothing else */
	if (cn->rq.host_kind == SG_HTTP_HOST_IPV4) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		inet_pton(AF_INET, cn->host, &sin.sin_addr);
		ai.ai_family = AF_INET;
		ai.ai_addr = (struct sockaddr *)&sin;
		ai.ai_addrlen = sizeof(sin);
		up_pick(cn, &ai, 0);
		return;
	}
	for (i = 0; i < px_cfg(cn->px)->nresolve; i++) {
		const char *a = px_cfg(cn->px)->resolve[i].addr;

		if (strcasecmp(px_cfg(cn->px)->resolve[i].name, cn->host) != 0)
			continue;
		memset(&sin, 0, sizeof(sin));
		memset(&sin6, 0, sizeof(sin6));
		if (inet_pton(AF_INET, a, &sin.sin_addr) == 1) {
			sin.sin_family = AF_INET;
			ai.ai_family = AF_INET;
			ai.ai_addr = (struct sockaddr *)&sin;
			ai.ai_addrlen = sizeof(sin);
		} else if (inet_pton(AF_INET6, a, &sin6.sin6_addr) == 1) {
			sin6.sin6_family = AF_INET6;
			ai.ai_family = AF_INET6;
			ai.ai_addr = (struct sockaddr *)&sin6;
			ai.ai_addrlen = sizeof(sin6);
		} else {
			continue;
		}
		/* [network] resolve is the administrator's: split horizon */
		up_pick(cn, &ai, 1);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	req = evdns_getaddrinfo(px_dns(cn->px), cn->host, NULL, &hints, dns_done,
	    cn);
	/* NULL: the callback already ran (and may have freed cn) */
	if (req != NULL)
		cn->dnsreq = req;
}

static const char *
up_error(struct px_conn *cn, char *buf, size_t len)
{
	unsigned long e;
	long v;
	SSL *ssl;

	if (cn->tls && (ssl = bufferevent_openssl_get_ssl(cn->u)) != NULL &&
	    (v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, len, "the certificate of %s is not trusted: %s",
		    cn->host, X509_verify_cert_error_string(v));
		return buf;
	}
	if (cn->tls && (e = bufferevent_get_openssl_error(cn->u)) != 0) {
		snprintf(buf, len, "TLS with %s (%s) failed: %s", cn->host,
		    cn->uaddr, ERR_reason_error_string(e) ?
		    ERR_reason_error_string(e) : "error");
		return buf;
	}
	snprintf(buf, len, "%s (%s): %s", cn->host, cn->uaddr,
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	return buf;
}

/* A kept connection that the upstream closed just as it was used
 * again, before any byte of an answer, is a race every client of
 * persistent connections meets (RFC 9112 9.3.1): a request with a safe
 * method and no body goes again over a new connection. Returns 1 when
 * it does. */
int
pxc_up_retry(struct px_conn *cn)
{
	const struct sg_http_head *h = &cn->rq;

	if (cn->u_reused && !cn->head_sent) {
		/* nothing of the request went over it (a substituted body
		 * is sent whole at its end): any request goes on */
		sg_debug("sandbox %s: %s (%s) closed a kept connection before "
		    "the request was sent: a new one", cn->sbx->id, cn->host,
		    cn->uaddr);
		goto again;
	}
	if (!cn->u_reused || cn->rs_head || cn->rs_parsing || cn->rs_interim ||
	    !cn->rq_done || cn->sub_body || h->expect_continue ||
	    evbuffer_get_length(bufferevent_get_input(cn->u)) != 0)
		return 0;
	if (!(h->body == SG_HTTP_BODY_NONE ||
	    (h->body == SG_HTTP_BODY_LENGTH && h->content_length == 0)))
		return 0;
	if (strcmp(cn->method, "GET") != 0 && strcmp(cn->method, "HEAD") != 0 &&
	    strcmp(cn->method, "OPTIONS") != 0)
		return 0;
	sg_debug("sandbox %s: %s (%s) closed a kept connection as it was "
	    "reused: %s %s goes again over a new one", cn->sbx->id, cn->host,
	    cn->uaddr, cn->method, cn->path);
again:
	bufferevent_free(cn->u);
	cn->u = NULL;
	cn->u_ok = cn->u_eof = cn->u_reused = 0;
	cn->head_sent = 0;
	pxc_up_open(cn);
	return 1;
}

static void
up_event(struct bufferevent *bev, short what, void *arg)
{
	struct px_conn *cn = arg;
	char why[512];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		cn->u_ok = 1;
		pxc_nodelay(bufferevent_getfd(cn->u));
		if (!cn->sub_body && !cn->head_sent && cn->in_req) {
			bufferevent_write(cn->u, sg_buf_data(cn->head),
			    sg_buf_len(cn->head));
			cn->head_sent = 1;
		}
		pxc_rq_pump(cn);
		return;
	}
	if (cn->tunnel) {
		/* what it sent before closing still goes to the client */
		pxc_ws_up_eof(cn);
		return;
	}
	if (!cn->in_req) {
		/* an idle kept connection: closed, timed out or broken */
		bufferevent_free(cn->u);
		cn->u = NULL;
		cn->u_ok = 0;
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    !cn->rq_done) {
		/* still sending the request body: the answer may wait */
		bufferevent_enable(cn->u, EV_READ);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !cn->head_sent) {
		if (!pxc_up_retry(cn))
			pxc_respond(cn, 502, "%s (%s) closed the connection before "
			    "the request was sent", cn->host, cn->uaddr);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* what it sent before closing still goes to the client
		 * (at the client's pace); pxc_rs_pump ends the exchange */
		cn->u_eof = 1;
		bufferevent_disable(cn->u, EV_READ);
		pxc_rs_pump(cn);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (!cn->rs_head)
			pxc_respond(cn, 504, "%s (%s) did not answer within %u ms",
			    cn->host, cn->uaddr[0] ? cn->uaddr : "?",
			    px_cfg(cn->px)->upstream_ms);
		else
			pxc_free(cn);
		return;
	}
	if (!cn->rs_head && pxc_up_retry(cn))
		return;
	if (!cn->rs_head)
		pxc_respond(cn, 502, "%s", up_error(cn, why, sizeof(why)));
	else
		pxc_free(cn);
}

static void
up_write(struct bufferevent *bev, void *arg)
{
	struct px_conn *cn = arg;

	(void)bev;
	if (cn->tunnel) {
		pxc_ws_pump(cn);
		return;
	}
	pxc_rq_pump(cn);
}

static void
up_read(struct bufferevent *bev, void *arg)
{
	struct px_conn *cn = arg;

	(void)bev;
	if (cn->in_req && !cn->head_sent) {
		/* bytes before the request (a kept connection's 408, say):
		 * never taken as an answer; the request takes a new one */
		if (!pxc_up_retry(cn))
			pxc_respond(cn, 502, "%s (%s) sent bytes before the request",
			    cn->host, cn->uaddr);
		return;
	}
	if (!cn->in_req) {
		/* bytes nobody asked for: never taken as an answer */
		bufferevent_free(cn->u);
		cn->u = NULL;
		cn->u_ok = 0;
		return;
	}
	pxc_rs_pump(cn);
}
