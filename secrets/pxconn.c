/* px_conn: one connection from a sandbox through sandgate-proxy.
 *
 *   accept   the source address names the sandbox, SO_ORIGINAL_DST the
 *            port it meant (80 or 443; the address is only logged)
 *   443      the ClientHello is peeked (clienthello.c): no SNI or an IP
 *            literal ends the connection; else TLS is terminated with a
 *            leaf minted for the SNI
 *   head     each request head is parsed (httphead.c) and checked: Host
 *            against the SNI, allow_net, placeholders (scan.c); refusals
 *            are answered here, with the reason
 *   upstream the proxy resolves the name itself and connects (TLS
 *            verified for 443) to what it resolved
 *   bodies   request bodies are scanned on the way and held back by
 *            PX_HOLD bytes, so a placeholder is never half sent; response
 *            bodies have secret values turned back into placeholders
 *
 * One request at a time per connection: pipelined requests wait in the
 * input buffer and are checked one by one. A 101 to a WebSocket upgrade
 * turns the connection into a raw relay. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/log.h"
#include "netpolicy/allow.h"
#include "secrets/ca.h"
#include "secrets/clienthello.h"
#include "secrets/httphead.h"
#include "secrets/proxy.h"
#include "secrets/rewrite.h"
#include "secrets/scan.h"

#define PX_HOLD		1024		/* request body bytes held for the scanner */
#define PX_HIGH		(256u << 10)	/* stop reading the other side above this */
#define PX_SUB_MAX	(8u << 20)	/* bodies substituted are buffered: cap */
#define PX_RW_MIN	8		/* shorter values are not looked for in responses */

struct body {
	enum sp_http_body kind;
	uint64_t left;
	struct sp_http_chunked ch;
	int done;
};

struct conn {
	struct px *px;
	struct px_sbx *sbx;
	int fd;			/* until a bufferevent owns it */
	int tls;
	uint16_t port;		/* 80 or 443 */
	char peer[INET_ADDRSTRLEN];
	char orig[INET_ADDRSTRLEN + 8];
	char sni[SP_CH_NAME_MAX + 1];
	struct event *ev;	/* ClientHello wait, then the head timer */
	struct bufferevent *c, *u;
	int closing;
	int dead;		/* freed when the DNS callback comes */
	struct evdns_getaddrinfo_request *dnsreq;
	/* upstream */
	char uhost[SP_HTTP_HOST_BUF];
	char uaddr[INET6_ADDRSTRLEN + 8];
	struct sockaddr_storage uss;	/* where it is connected */
	socklen_t ulen;
	int u_override;		/* the address came from [network] resolve */
	int u_ok, u_keep;
	int u_reused;		/* cn->u answered an earlier request */
	int up_persist;		/* the head sent upstream asks to keep it */
	/* the request in progress */
	int in_req;
	struct sp_http_head rq;
	struct sg_buf *head;	/* rewritten, wiped: may hold values */
	int head_sent;
	char method[32], path[256], host[SP_HTTP_HOST_BUF];
	struct sp_rw_pair hp[SP_RW_MAX_PAIRS], qp[SP_RW_MAX_PAIRS],
	    bp[SP_RW_MAX_PAIRS];
	size_t nhp, nqp, nbp;
	size_t hpi[SP_RW_MAX_PAIRS], qpi[SP_RW_MAX_PAIRS], bpi[SP_RW_MAX_PAIRS];
	uint64_t used;		/* placeholders substituted, by index */
	int sub_body, ws, rq_done;
	struct body rqb;
	struct evbuffer *hold;
	struct sp_scan *scan;
	/* the response */
	struct sp_http_head rs;
	int rs_head, rs_done, rs_chunked, rs_close, tunnel;
	int rs_interim;		/* a 1xx came for this request */
	struct body rsb;
	struct sp_rw_stream *rw;
	int keep;
	int c_eof;		/* the client half-closed */
	int u_eof;		/* the upstream closed */
	int64_t t0;		/* accepted, monotonic ms */
	int rq_parsing;		/* cn->rq holds a head parsed in part */
	int rs_parsing;		/* cn->rs likewise */
};

static void conn_free(struct conn *cn);
static void head_try(struct conn *cn);
static void rq_start(struct conn *cn);
static void rq_pump(struct conn *cn);
static void rs_pump(struct conn *cn);
static void up_open(struct conn *cn);
static void pool_put(struct conn *cn);
static int pool_get(struct conn *cn);
static void tunnel_pump(struct conn *cn);

/* --- small helpers --- */

static struct timeval
tv_ms(uint32_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

static const char *
status_text(int st)
{
	switch (st) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

static const char *
decision_of(int st)
{
	if (st == 403)
		return "denied";
	if (st >= 500 && st != 501 && st != 505)
		return "failed";
	return "refused";
}

static void
audit_request(struct conn *cn, const char *decision, int status,
    const char *reason)
{
	char st[8], names[1024];
	size_t i, o = 0;

	snprintf(st, sizeof(st), "%d", status);
	names[0] = '\0';
	for (i = 0; i < cn->sbx->nph && i < 64; i++) {
		if (!(cn->used & (UINT64_C(1) << i)))
			continue;
		o += (size_t)snprintf(names + o, o < sizeof(names) ?
		    sizeof(names) - o : 0, "%s%s", o ? "," : "",
		    cn->sbx->ph_name[i]);
		if (o >= sizeof(names))
			break;
	}
	px_audit(cn->px, "proxy_request", "sandbox", cn->sbx->id,
	    "host", cn->host[0] ? cn->host : (cn->sni[0] ? cn->sni : NULL),
	    "scheme", cn->tls ? "https" : "http",
	    "method", cn->method[0] ? cn->method : NULL,
	    "path", cn->path[0] ? cn->path : NULL,
	    "decision", decision, "status", status ? st : NULL,
	    "secrets", names[0] ? names : NULL,
	    "reason", reason, "destination", cn->orig, NULL);
}

/* Closing: what the client still sends is read and dropped, so that
 * closing with unread bytes (a reset) does not destroy the answer before
 * the client read it; the connection ends when the client closes, or
 * PX_LINGER_MS after the answer was written. */
#define PX_LINGER_MS 2000

static void
c_linger_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev),
	    evbuffer_get_length(bufferevent_get_input(bev)));
}

static void
c_written_close(struct bufferevent *bev, void *arg)
{
	struct timeval tv = tv_ms(PX_LINGER_MS);
	struct conn *cn = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (cn->c_eof) {
		conn_free(cn);	/* it sends nothing more: nothing to drain */
		return;
	}
	/* answered: now at most PX_LINGER_MS for the client to close */
	bufferevent_set_timeouts(bev, &tv, &tv);
}

static void
c_linger_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	conn_free(arg);		/* closed, broken or lingered long enough */
}

static void
conn_close(struct conn *cn)
{
	struct timeval tv = tv_ms(cn->px->cfg.idle_ms);

	if (cn->c == NULL) {
		conn_free(cn);
		return;
	}
	cn->closing = 1;
	if (cn->ev != NULL)
		evtimer_del(cn->ev);
	if (cn->u != NULL) {
		bufferevent_free(cn->u);
		cn->u = NULL;
	}
	bufferevent_setwatermark(cn->c, EV_WRITE, 0, 0);
	bufferevent_setwatermark(cn->c, EV_READ, 0, 0);
	bufferevent_setcb(cn->c, c_linger_read, c_written_close, c_linger_event,
	    cn);
	/* a slow reader has idle_ms per write; the linger starts once all
	 * is written (c_written_close) */
	bufferevent_set_timeouts(cn->c, NULL, &tv);
	bufferevent_enable(cn->c, cn->c_eof ? EV_WRITE : EV_READ | EV_WRITE);
	c_linger_read(cn->c, cn);
	if (evbuffer_get_length(bufferevent_get_output(cn->c)) == 0)
		c_written_close(cn->c, cn);
}

/* Answers the current request with status and a plain-text reason,
 * and closes. Nothing was sent to the client for it before. */
static void
respond(struct conn *cn, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
respond(struct conn *cn, int status, const char *fmt, ...)
{
	char text[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (cn->c != NULL && !cn->rs_head)
		evbuffer_add_printf(bufferevent_get_output(cn->c),
		    "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n"
		    "X-Sandgate-Proxy: refused\r\n\r\nsandgate-proxy: %s\n",
		    status, status_text(status), strlen(text) + 17, text);
	sg_info("sandbox %s: %s %s%s%s: %d %s", cn->sbx->id,
	    cn->method[0] ? cn->method : "-",
	    cn->host[0] ? cn->host : (cn->sni[0] ? cn->sni : cn->orig),
	    cn->path, "", status, text);
	audit_request(cn, decision_of(status), status, text);
	cn->rs_head = 1;
	conn_close(cn);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Requests and answers are written whole: no Nagle delay on them. */
static void
nodelay(int fd)
{
	int one = 1;

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* --- the ClientHello and TLS toward the guest --- */

int
px_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	unsigned i = 0;

	(void)ssl;
	(void)arg;
	while (i < inlen) {
		unsigned l = in[i];

		if (i + 1 + l > inlen)
			break;
		if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	/* h2 only, or anything else: no_application_protocol */
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void c_read(struct bufferevent *bev, void *arg);
static void c_write(struct bufferevent *bev, void *arg);
static void c_event(struct bufferevent *bev, short what, void *arg);
static void head_timeout(evutil_socket_t fd, short what, void *arg);

static int
c_setup(struct conn *cn)
{
	struct timeval idle = tv_ms(cn->px->cfg.idle_ms);

	cn->fd = -1;	/* the bufferevent owns it now */
	bufferevent_setcb(cn->c, c_read, c_write, c_event, cn);
	bufferevent_setwatermark(cn->c, EV_READ, 0, PX_HIGH);
	bufferevent_set_timeouts(cn->c, &idle, &idle);
	cn->ev = event_new(cn->px->base, -1, 0, head_timeout, cn);
	if (cn->ev == NULL)
		return -ENOMEM;
	return bufferevent_enable(cn->c, EV_READ | EV_WRITE) == 0 ? 0 : -EIO;
}

static void
start_tls(struct conn *cn)
{
	struct sp_ca_leaf *leaf = NULL;
	char *err = NULL;
	SSL *ssl;
	int fd = cn->fd;

	if (sp_ca_get(cn->px->cache, cn->sni, time(NULL), &leaf, &err) < 0) {
		sg_err("sandbox %s: cannot mint a certificate for %s: %s",
		    cn->sbx->id, cn->sni, err ? err : "?");
		free(err);
		conn_free(cn);
		return;
	}
	ssl = SSL_new(cn->px->sctx);
	if (ssl == NULL || SSL_use_certificate(ssl, sp_ca_leaf_cert(leaf)) != 1 ||
	    SSL_use_PrivateKey(ssl, sp_ca_leaf_key(leaf)) != 1) {
		sg_err("sandbox %s: cannot set up TLS for %s", cn->sbx->id,
		    cn->sni);
		SSL_free(ssl);
		sp_ca_leaf_unref(leaf);
		conn_free(cn);
		return;
	}
	sp_ca_leaf_unref(leaf);
	cn->c = bufferevent_openssl_socket_new(cn->px->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (cn->c == NULL) {
		/* libevent freed ssl and closed fd already */
		cn->fd = -1;
		conn_free(cn);
		return;
	}
	/* a guest that closes TCP without close_notify has ended its
	 * side (the proxy frames every request itself): an EOF */
	bufferevent_openssl_set_allow_dirty_shutdown(cn->c, 1);
	if (c_setup(cn) < 0)
		conn_free(cn);
}

static void
peek_hello(evutil_socket_t fd, short what, void *arg)
{
	struct conn *cn = arg;
	unsigned char buf[SP_CH_MAX_BYTES + 1];
	struct sp_ch *ch = NULL;
	const char *why = NULL;
	ssize_t n;
	int r;

	/* the timeout re-arms at each wake-up: the whole wait counts */
	if ((what & EV_TIMEOUT) || mono_ms() - cn->t0 > cn->px->cfg.head_ms) {
		why = "no TLS ClientHello in time";
		goto refuse;
	}
	n = recv(fd, buf, sizeof(buf), MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(cn);
		return;
	}
	r = sp_ch_parse(buf, (size_t)n, &ch);
	if (r == -EAGAIN)
		return;		/* edge-triggered: woken by more bytes */
	if (r < 0) {
		why = r == -ENOMSG ? "not TLS: raw bytes on port 443" :
		    sp_ch_strerror(r);
		goto refuse;
	}
	switch (sp_ch_sni_kind(ch)) {
	case SP_CH_SNI_HOST:
		snprintf(cn->sni, sizeof(cn->sni), "%s", sp_ch_sni(ch));
		break;
	case SP_CH_SNI_NONE:
		why = "TLS without a server name (SNI): the proxy needs the "
		    "name to check it";
		break;
	case SP_CH_SNI_IP:
		why = "TLS to an IP address (SNI is an IP literal): use a "
		    "host name from allow_net";
		break;
	default:
		why = "TLS server name (SNI) is not a valid host name";
		break;
	}
	sp_ch_free(ch);
	if (why != NULL)
		goto refuse;
	event_free(cn->ev);
	cn->ev = NULL;
	start_tls(cn);
	return;
refuse:
	/* no certificate is minted for these: the connection just ends */
	sg_info("sandbox %s: refused a connection to %s: %s", cn->sbx->id,
	    cn->orig, why);
	audit_request(cn, "refused", 0, why);
	conn_free(cn);
}

void
px_conn_accept(struct px *px, int fd, const struct sockaddr *sa, int salen)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	struct sockaddr_in od;
	socklen_t olen = sizeof(od);
	struct timeval tv;
	struct px_sbx *s;
	struct conn *cn;
	uint32_t addr;

	if (sa->sa_family != AF_INET || salen < (int)sizeof(*sin)) {
		close(fd);
		return;
	}
	addr = ntohl(sin->sin_addr.s_addr);
	for (s = px->sbxs; s != NULL; s = s->next)
		if (!s->gone && s->addr == addr)
			break;
	if (s == NULL) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		sg_warn("connection from %s, which is no sandbox: closed", a);
		close(fd);
		return;
	}
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &od, &olen) < 0 ||
	    (ntohs(od.sin_port) != 80 && ntohs(od.sin_port) != 443)) {
		sg_warn("sandbox %s: a connection not redirected from port 80 "
		    "or 443: closed", s->id);
		close(fd);
		return;
	}
	if (s->nconns >= px->cfg.max_conns) {
		sg_warn("sandbox %s: %u connections open, the most allowed "
		    "([proxy] max_connections): refused one", s->id, s->nconns);
		close(fd);
		return;
	}
	cn = calloc(1, sizeof(*cn));
	if (cn == NULL) {
		close(fd);
		return;
	}
	cn->px = px;
	cn->sbx = s;
	s->refs++;
	s->nconns++;
	cn->fd = fd;
	cn->t0 = mono_ms();
	nodelay(fd);
	cn->port = ntohs(od.sin_port);
	cn->tls = cn->port == 443;
	inet_ntop(AF_INET, &sin->sin_addr, cn->peer, sizeof(cn->peer));
	inet_ntop(AF_INET, &od.sin_addr, cn->orig, INET_ADDRSTRLEN);
	snprintf(cn->orig + strlen(cn->orig), 8, ":%u", (unsigned)cn->port);
	cn->head = sg_buf_new(SP_HTTP_HEAD_MAX * 8);
	cn->hold = evbuffer_new();
	if (cn->head == NULL || cn->hold == NULL ||
	    sp_scan_new((const char *const *)s->ph_value, s->nph, &cn->scan) < 0) {
		conn_free(cn);
		return;
	}
	sg_buf_set_wipe(cn->head, 1);
	if (cn->tls) {
		tv = tv_ms(px->cfg.head_ms);
		cn->ev = event_new(px->base, fd, EV_READ | EV_PERSIST | EV_ET,
		    peek_hello, cn);
		if (cn->ev == NULL || event_add(cn->ev, &tv) < 0)
			conn_free(cn);
		return;
	}
	cn->c = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cn->c == NULL || c_setup(cn) < 0) {
		conn_free(cn);
		return;
	}
	tv = tv_ms(px->cfg.head_ms);
	event_add(cn->ev, &tv);
}

/* --- freeing --- */

static void
rq_reset(struct conn *cn)
{
	cn->in_req = 0;
	cn->head_sent = 0;
	cn->method[0] = cn->path[0] = cn->host[0] = '\0';
	cn->nhp = cn->nqp = cn->nbp = 0;
	cn->used = 0;
	cn->sub_body = cn->ws = cn->rq_done = 0;
	cn->rs_head = cn->rs_done = cn->rs_chunked = cn->rs_close = 0;
	cn->rs_parsing = cn->rs_interim = 0;
	cn->u_eof = 0;
	cn->keep = 0;
	memset(&cn->rqb, 0, sizeof(cn->rqb));
	memset(&cn->rsb, 0, sizeof(cn->rsb));
	sg_buf_reset(cn->head);
	evbuffer_drain(cn->hold, evbuffer_get_length(cn->hold));
	sp_scan_reset(cn->scan);
	sp_rw_stream_free(cn->rw);
	cn->rw = NULL;
}

static void
conn_free(struct conn *cn)
{
	if (cn->dnsreq != NULL) {
		/* the callback runs with EVUTIL_EAI_CANCEL and frees */
		cn->dead = 1;
		evdns_getaddrinfo_cancel(cn->dnsreq);
		return;
	}
	if (cn->ev != NULL)
		event_free(cn->ev);
	if (cn->c != NULL)
		bufferevent_free(cn->c);
	else if (cn->fd >= 0)
		close(cn->fd);
	if (cn->u != NULL)
		bufferevent_free(cn->u);
	sg_buf_free(cn->head);
	if (cn->hold != NULL)
		evbuffer_free(cn->hold);
	sp_scan_free(cn->scan);
	sp_rw_stream_free(cn->rw);
	cn->sbx->nconns--;
	px_sbx_unref(cn->px, cn->sbx);
	explicit_bzero(cn, sizeof(*cn));
	free(cn);
}

/* --- the request head --- */

static void
head_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *cn = arg;

	(void)fd;
	(void)what;
	if (evbuffer_get_length(bufferevent_get_input(cn->c)) == 0) {
		conn_free(cn);	/* idle between requests */
		return;
	}
	respond(cn, 408, "the request head was not complete within %u ms",
	    cn->px->cfg.head_ms);
}

static int
host_allowed_for(const struct np_allow *a, const struct conn *cn)
{
	unsigned char buf[16];

	if (cn->rq.host_kind == SP_HTTP_HOST_NAME)
		return np_allow_name_port(a, cn->host, cn->port);
	if (cn->rq.host_kind == SP_HTTP_HOST_IPV4 &&
	    inet_pton(AF_INET, cn->host, buf) == 1)
		return np_allow_addr_port(a, AF_INET, buf, cn->port);
	return 0;
}

/* Why placeholder i may not go to this host, or NULL when it may. */
static const char *
secret_refusal(struct conn *cn, size_t i, const struct px_secret **ret)
{
	const struct px_secret *s;

	s = px_secret_find(cn->px, cn->sbx->token, cn->sbx->ph_name[i]);
	*ret = s;
	if (s == NULL)
		return "its token no longer has this secret";
	if (s->hosts == NULL || !host_allowed_for(s->hosts, cn))
		return "the host is not approved for this secret "
		    "(secret.NAME.hosts)";
	if (!cn->tls && !s->allow_http)
		return "secrets are not sent over plain HTTP unless "
		    "secret.NAME.allow_http = yes";
	if (!s->has_value)
		return "the gateway has no value for this secret (env: or "
		    "file: not found)";
	return NULL;
}

/* Checks the scanner's verdict so far; answers 403 and returns -1 when
 * the request must not go on. */
static int
scan_check(struct conn *cn, const char *where, int final)
{
	const struct px_secret *s;
	unsigned enc = 0;
	size_t idx = 0, i;
	uint64_t m;
	const char *why;

	if (sp_scan_result(cn->scan, &idx, &enc) == SP_SCAN_CLEAN)
		return 0;
	m = sp_scan_matched(cn->scan);
	for (i = 0; i < cn->sbx->nph && i < 64; i++) {
		if (!(m & (UINT64_C(1) << i)))
			continue;
		why = secret_refusal(cn, i, &s);
		if (why == NULL)
			continue;
		px_audit(cn->px, "secret_alert", "sandbox", cn->sbx->id,
		    "host", cn->host, "secret", cn->sbx->ph_name[i],
		    "where", where, "reason", why, "encoding",
		    i == idx ? sp_scan_encoding_name(enc) : NULL, NULL);
		sg_warn("sandbox %s: placeholder of secret %s in a request to "
		    "%s: blocked (%s)", cn->sbx->id, cn->sbx->ph_name[i],
		    cn->host, why);
		respond(cn, 403, "request to %s blocked: it carries the "
		    "placeholder of secret %s, and %s", cn->host,
		    cn->sbx->ph_name[i], why);
		return -1;
	}
	/* between reads a placeholder may still be arriving: only one seen
	 * whole counts then (the held-back bytes keep it from going out) */
	if (final ? sp_scan_foreign(cn->scan) : sp_scan_foreign_seen(cn->scan)) {
		px_audit(cn->px, "secret_alert", "sandbox", cn->sbx->id,
		    "host", cn->host, "secret", "(unknown)", "where", where,
		    "reason", "a placeholder that is not this sandbox's", NULL);
		sg_warn("sandbox %s: unknown placeholder in a request to %s: "
		    "blocked", cn->sbx->id, cn->host);
		respond(cn, 403, "request to %s blocked: it carries a "
		    "placeholder (SANDGATE_SECRET_...) that is not one of "
		    "this sandbox's", cn->host);
		return -1;
	}
	return 0;
}

static int
is_field(const struct conn *cn, const uint8_t *b, size_t f, const char *name)
{
	const struct sp_http_field *fl = &cn->rq.fields[f];

	return fl->name.len == strlen(name) &&
	    strncasecmp((const char *)b + fl->name.off, name, fl->name.len) == 0;
}

/* Fills the pair lists: every placeholder whose secret may go to this
 * host, by where it may be put. */
static void
build_pairs(struct conn *cn)
{
	const struct px_secret *s;
	struct sp_rw_pair p;
	size_t i;

	for (i = 0; i < cn->sbx->nph && i < SP_RW_MAX_PAIRS; i++) {
		if (secret_refusal(cn, i, &s) != NULL)
			continue;
		p.from = cn->sbx->ph_value[i];
		p.from_len = strlen(p.from);
		p.to = s->value;
		p.to_len = s->value_len;
		if (s->in & PX_IN_HEADER) {
			cn->hpi[cn->nhp] = i;
			cn->hp[cn->nhp++] = p;
		}
		if (s->in & PX_IN_QUERY) {
			cn->qpi[cn->nqp] = i;
			cn->qp[cn->nqp++] = p;
		}
		if (s->in & PX_IN_BODY) {
			cn->bpi[cn->nbp] = i;
			cn->bp[cn->nbp++] = p;
		}
	}
}

static void
mark_used(struct conn *cn, uint64_t bits, const size_t *idx)
{
	size_t i;

	for (i = 0; i < SP_RW_MAX_PAIRS; i++)
		if (bits & (UINT64_C(1) << i))
			cn->used |= UINT64_C(1) << idx[i];
}

/* The head for the upstream: origin-form target with the query
 * substituted, fields with placeholders substituted, Expect dropped when
 * the proxy answered it, framing fields dropped when the body is
 * substituted (Content-Length is added at its end). */
/* Whether the request's Connection fields say no more than close or
 * keep-alive (an HTTP/1.1 request without Upgrade). Those only concern
 * the client's connection: the upstream one is the proxy's, kept for
 * later requests even when the client's ends after this one. */
static int
conn_only_persistence(const struct conn *cn, const uint8_t *b)
{
	const struct sp_http_head *h = &cn->rq;
	const char *v, *end, *t, *te;
	size_t f;

	if (h->version != 11 || h->upgrade != 0)
		return 0;
	for (f = 0; f < h->nfields; f++) {
		if (!is_field(cn, b, f, "connection"))
			continue;
		v = (const char *)b + h->fields[f].value.off;
		end = v + h->fields[f].value.len;
		while (v < end) {
			t = v;
			while (v < end && *v != ',')
				v++;
			te = v;
			if (v < end)
				v++;	/* the comma */
			while (t < te && (*t == ' ' || *t == '\t'))
				t++;
			while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
				te--;
			if (te == t)
				continue;	/* an empty list element */
			if (!((te - t == 5 && strncasecmp(t, "close", 5) == 0) ||
			    (te - t == 10 && strncasecmp(t, "keep-alive", 10) == 0)))
				return 0;
		}
	}
	return 1;
}

static int
build_head(struct conn *cn, const uint8_t *b)
{
	const struct sp_http_head *h = &cn->rq;
	struct sg_buf *o = cn->head;
	uint64_t bits;
	size_t f;
	int r, hop;

	hop = conn_only_persistence(cn, b);
	/* a Connection: close that goes upstream ends that connection too */
	cn->up_persist = hop || cn->rq.keep_alive;
	sg_buf_reset(o);
	if (sg_buf_put(o, b + h->method.off, h->method.len) < 0 ||
	    sg_buf_put(o, " ", 1) < 0)
		return -ENOBUFS;
	if (h->path.len == 0)
		r = sg_buf_put(o, "/", 1);
	else
		r = sg_buf_put(o, b + h->path.off, h->path.len);
	if (r < 0)
		return -ENOBUFS;
	if (h->has_query) {
		bits = 0;
		if (sg_buf_put(o, "?", 1) < 0 ||
		    sp_rw_query(o, b + h->query.off, h->query.len, cn->qp,
		    cn->nqp, &bits) < 0)
			return -ENOBUFS;
		mark_used(cn, bits, cn->qpi);
	}
	if (sg_buf_putf(o, " HTTP/1.%d\r\n", h->version == 10 ? 0 : 1) < 0)
		return -ENOBUFS;
	for (f = 0; f < h->nfields; f++) {
		const struct sp_http_field *fl = &h->fields[f];

		if (h->expect_continue && is_field(cn, b, f, "expect"))
			continue;
		if (cn->sub_body && (is_field(cn, b, f, "content-length") ||
		    is_field(cn, b, f, "transfer-encoding")))
			continue;
		if (hop && (is_field(cn, b, f, "connection") ||
		    is_field(cn, b, f, "keep-alive") ||
		    is_field(cn, b, f, "proxy-connection")))
			continue;
		if (sg_buf_put(o, b + fl->name.off, fl->name.len) < 0 ||
		    sg_buf_put(o, ": ", 2) < 0)
			return -ENOBUFS;
		bits = 0;
		r = 0;
		if (is_field(cn, b, f, "authorization") ||
		    is_field(cn, b, f, "proxy-authorization"))
			r = sp_rw_basic(o, b + fl->value.off, fl->value.len,
			    cn->hp, cn->nhp, &bits);
		if (r == 0)
			r = sp_rw_replace(o, b + fl->value.off, fl->value.len,
			    cn->hp, cn->nhp, &bits);
		if (r < 0 || sg_buf_put(o, "\r\n", 2) < 0)
			return -ENOBUFS;
		mark_used(cn, bits, cn->hpi);
	}
	if (!cn->sub_body && sg_buf_put(o, "\r\n", 2) < 0)
		return -ENOBUFS;
	return 0;
}

/* Checks a complete request head and prepares what goes upstream.
 * Returns 1 when the request goes on (rq_start next, once the head's
 * bytes are drained), 0 when it was answered here. */
static int
head_done(struct conn *cn, const uint8_t *b)
{
	const struct sp_http_head *h = &cn->rq;
	size_t i, n;
	int r;

	n = h->method.len < sizeof(cn->method) - 1 ? h->method.len :
	    sizeof(cn->method) - 1;
	memcpy(cn->method, b + h->method.off, n);
	cn->method[n] = '\0';
	n = h->path.len < sizeof(cn->path) - 1 ? h->path.len :
	    sizeof(cn->path) - 1;
	memcpy(cn->path, b + h->path.off, n);
	cn->path[n] = '\0';
	if (n == 0)
		snprintf(cn->path, sizeof(cn->path), "/");
	snprintf(cn->host, sizeof(cn->host), "%s", h->host);

	/* who the request is for */
	if (cn->tls) {
		if (h->host_kind != SP_HTTP_HOST_NAME ||
		    strcmp(h->host, cn->sni) != 0) {
			respond(cn, 421, "Host %s does not match the TLS server "
			    "name %s", h->host, cn->sni);
			return 0;
		}
		if (h->scheme == SP_HTTP_SCHEME_HTTP) {
			respond(cn, 400, "an http:// URL sent over TLS");
			return 0;
		}
	} else if (h->scheme == SP_HTTP_SCHEME_HTTPS) {
		respond(cn, 400, "an https:// URL sent without TLS");
		return 0;
	}
	if (h->port != 0 && h->port != cn->port) {
		respond(cn, 421, "Host names port %u, but the connection is to "
		    "port %u", (unsigned)h->port, (unsigned)cn->port);
		return 0;
	}
	if (h->host_kind == SP_HTTP_HOST_IPV6) {
		respond(cn, 403, "%s: IPv6 destinations are not reached from "
		    "sandboxes", h->host);
		return 0;
	}
	if (h->upgrade & SP_HTTP_UPGRADE_H2C) {
		respond(cn, 400, "Upgrade: h2c refused: sandgate-proxy speaks "
		    "HTTP/1.1 only");
		return 0;
	}
	if (h->upgrade & SP_HTTP_UPGRADE_OTHER) {
		respond(cn, 501, "Upgrade to a protocol other than WebSocket "
		    "refused");
		return 0;
	}
	if (!host_allowed_for(cn->sbx->allow, cn)) {
		respond(cn, 403, "%s (port %u) is not on this sandbox's "
		    "allow_net (token %s): ask an administrator to add it",
		    cn->host, (unsigned)cn->port, cn->sbx->token);
		return 0;
	}

	/* placeholders in the target, the field names and values */
	sp_scan_reset(cn->scan);
	sp_scan_feed(cn->scan, b + h->method.off, h->method.len);
	sp_scan_break(cn->scan);
	sp_scan_feed(cn->scan, b + h->target.off, h->target.len);
	sp_scan_break(cn->scan);
	for (i = 0; i < h->nfields; i++) {
		sp_scan_feed(cn->scan, b + h->fields[i].name.off,
		    h->fields[i].name.len);
		sp_scan_break(cn->scan);
		sp_scan_feed(cn->scan, b + h->fields[i].value.off,
		    h->fields[i].value.len);
		sp_scan_break(cn->scan);
	}
	if (scan_check(cn, "head", 1) < 0)
		return 0;
	build_pairs(cn);
	cn->sub_body = cn->nbp > 0 && h->body != SP_HTTP_BODY_NONE &&
	    !(h->body == SP_HTTP_BODY_LENGTH && h->content_length == 0);
	if (cn->sub_body && h->body == SP_HTTP_BODY_LENGTH &&
	    h->content_length > PX_SUB_MAX) {
		respond(cn, 413, "bodies where secrets are substituted are "
		    "limited to %u bytes", PX_SUB_MAX);
		return 0;
	}
	r = build_head(cn, b);
	if (r < 0) {
		respond(cn, 431, "the request head is too large once secrets "
		    "are put in");
		return 0;
	}
	cn->ws = (h->upgrade & SP_HTTP_UPGRADE_WEBSOCKET) != 0;
	cn->rqb.kind = h->body;
	cn->rqb.left = h->content_length;
	sp_http_chunked_init(&cn->rqb.ch);
	cn->rqb.done = h->body == SP_HTTP_BODY_NONE ||
	    (h->body == SP_HTTP_BODY_LENGTH && h->content_length == 0);
	if (h->expect_continue)
		evbuffer_add_printf(bufferevent_get_output(cn->c),
		    "HTTP/1.1 100 Continue\r\n\r\n");
	sp_rw_stream_free(cn->rw);
	cn->rw = NULL;
	return 1;
}

/* Sends the checked request on: over the kept upstream connection when
 * it is for the same host, else over a new one. */
static void
rq_start(struct conn *cn)
{
	if (!(cn->u != NULL && cn->u_ok && cn->u_keep &&
	    strcmp(cn->uhost, cn->host) == 0 &&
	    evbuffer_get_length(bufferevent_get_input(cn->u)) == 0)) {
		pool_put(cn);	/* kept for its host, or closed */
		(void)pool_get(cn);
	}
	if (cn->u != NULL && cn->u_ok) {
		cn->u_keep = 0;
		cn->u_reused = 1;
		if (!cn->sub_body) {
			bufferevent_write(cn->u, sg_buf_data(cn->head),
			    sg_buf_len(cn->head));
			cn->head_sent = 1;
		}
		rq_pump(cn);
		return;
	}
	up_open(cn);
}

static void
head_try(struct conn *cn)
{
	struct evbuffer *in = bufferevent_get_input(cn->c);
	size_t len = evbuffer_get_length(in), take;
	uint8_t *b;
	int r;

	if (cn->in_req || cn->closing || len == 0)
		return;
	/* pipelined requests wait while answers pile up unread */
	if (evbuffer_get_length(bufferevent_get_output(cn->c)) > PX_HIGH)
		return;
	if (!evtimer_pending(cn->ev, NULL)) {
		struct timeval tv = tv_ms(cn->px->cfg.head_ms);

		evtimer_add(cn->ev, &tv);
	}
	take = len < SP_HTTP_HEAD_MAX ? len : SP_HTTP_HEAD_MAX;
	b = evbuffer_pullup(in, (ssize_t)take);
	/* the parser goes on where it stopped: a head sent byte by byte
	 * costs linear time */
	if (!cn->rq_parsing) {
		sp_http_head_init(&cn->rq, SP_HTTP_REQUEST, false);
		cn->rq_parsing = 1;
	}
	r = sp_http_head_parse(&cn->rq, b, take);
	if (r == -EAGAIN) {
		if (take >= SP_HTTP_HEAD_MAX)
			respond(cn, 431, "request head over %u bytes",
			    SP_HTTP_HEAD_MAX);
		return;
	}
	evtimer_del(cn->ev);
	cn->in_req = 1;
	cn->rq_parsing = 0;
	if (r < 0) {
		respond(cn, cn->rq.error_status, "%s",
		    cn->rq.error_reason ? cn->rq.error_reason : "malformed request");
		return;
	}
	if (head_done(cn, b) != 1)
		return;
	/* the spans of cn->rq point into the head's bytes until here */
	evbuffer_drain(in, cn->rq.head_len);
	rq_start(cn);
}

/* --- the request body --- */

static void
forward(struct conn *cn, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(cn->u);

	if (n == 0)
		return;
	if (cn->rqb.kind == SP_HTTP_BODY_CHUNKED)
		evbuffer_add_printf(out, "%zx\r\n", n);
	evbuffer_remove_buffer(cn->hold, out, n);
	if (cn->rqb.kind == SP_HTTP_BODY_CHUNKED)
		evbuffer_add(out, "\r\n", 2);
}

/* Data of the request body, decoded. Returns -1 when the request
 * ended (refused). */
static int
rq_data(struct conn *cn, const uint8_t *d, size_t n)
{
	size_t len;

	sp_scan_feed(cn->scan, d, n);
	if (scan_check(cn, "body", 0) < 0)
		return -1;
	evbuffer_add(cn->hold, d, n);
	len = evbuffer_get_length(cn->hold);
	if (cn->sub_body) {
		if (len > PX_SUB_MAX) {
			respond(cn, 413, "bodies where secrets are substituted "
			    "are limited to %u bytes", PX_SUB_MAX);
			return -1;
		}
		return 0;
	}
	if (len > PX_HOLD)
		forward(cn, len - PX_HOLD);
	return 0;
}

static int
rq_end(struct conn *cn)
{
	struct sg_buf *o;
	uint64_t bits = 0;
	size_t len;
	uint8_t *b;
	int r;

	sp_scan_break(cn->scan);
	if (scan_check(cn, "body", 1) < 0)
		return -1;
	cn->rq_done = 1;
	len = evbuffer_get_length(cn->hold);
	if (!cn->sub_body) {
		forward(cn, len);
		if (cn->rqb.kind == SP_HTTP_BODY_CHUNKED)
			evbuffer_add(bufferevent_get_output(cn->u), "0\r\n\r\n", 5);
		return 0;
	}
	/* the secrets may have been reloaded since the head: pairs from
	 * the table in force now (the old values are gone) */
	cn->nhp = cn->nqp = cn->nbp = 0;
	build_pairs(cn);
	o = sg_buf_new(2 * (size_t)PX_SUB_MAX);
	if (o == NULL) {
		respond(cn, 502, "out of memory");
		return -1;
	}
	sg_buf_set_wipe(o, 1);
	b = evbuffer_pullup(cn->hold, -1);
	r = sp_rw_replace(o, b, len, cn->bp, cn->nbp, &bits);
	evbuffer_drain(cn->hold, len);
	if (r < 0 || sg_buf_putf(cn->head, "Content-Length: %zu\r\n\r\n",
	    sg_buf_len(o)) < 0) {
		sg_buf_free(o);
		respond(cn, 413, "the request is too large once secrets are "
		    "put in");
		return -1;
	}
	mark_used(cn, bits, cn->bpi);
	bufferevent_write(cn->u, sg_buf_data(cn->head), sg_buf_len(cn->head));
	bufferevent_write(cn->u, sg_buf_data(o), sg_buf_len(o));
	sg_buf_free(o);
	cn->head_sent = 1;
	return 0;
}

/* Moves request body bytes from the client to the upstream. */
static void
rq_pump(struct conn *cn)
{
	struct evbuffer *in;
	struct sp_http_chunk_out co;
	size_t len, take;
	uint8_t *b;
	int r;

	if (!cn->in_req || cn->rq_done || cn->u == NULL || !cn->u_ok)
		return;
	if (!cn->head_sent && !cn->sub_body)
		return;
	in = bufferevent_get_input(cn->c);
	while (!cn->rqb.done) {
		if (evbuffer_get_length(bufferevent_get_output(cn->u)) > PX_HIGH)
			return;	/* up_write calls again */
		len = evbuffer_get_length(in);
		if (len == 0)
			return;
		if (cn->rqb.kind == SP_HTTP_BODY_LENGTH) {
			take = len < cn->rqb.left ? len : (size_t)cn->rqb.left;
			if (take > 65536)
				take = 65536;
			b = evbuffer_pullup(in, (ssize_t)take);
			if (rq_data(cn, b, take) < 0)
				return;
			evbuffer_drain(in, take);
			cn->rqb.left -= take;
			if (cn->rqb.left == 0)
				cn->rqb.done = 1;
			continue;
		}
		take = len < 65536 ? len : 65536;
		b = evbuffer_pullup(in, (ssize_t)take);
		r = sp_http_chunked_feed(&cn->rqb.ch, b, take, &co);
		if (r < 0) {
			respond(cn, 400, "%s", cn->rqb.ch.error_reason ?
			    cn->rqb.ch.error_reason : "malformed chunked body");
			return;
		}
		if (co.data_len > 0 && rq_data(cn, b + co.data_off,
		    co.data_len) < 0)
			return;
		evbuffer_drain(in, co.used);
		if (r == 1)
			cn->rqb.done = 1;
	}
	if (rq_end(cn) < 0)
		return;
	if (cn->rs_done)
		rs_pump(cn);
}

/* --- idle upstream connections --- */

#define PX_POOL_MAX	256
#define PX_POOL_IDLE_MS	15000

struct px_pooled {
	struct px_pooled *next;
	struct px *px;
	struct bufferevent *bev;
	char sbx[64];		/* kept for this sandbox only */
	char host[SP_HTTP_HOST_BUF];
	char uaddr[INET6_ADDRSTRLEN + 8];
	uint16_t port;
	int tls;
	struct sockaddr_storage ss;
	socklen_t len;
	int override;
};

static void
pool_drop(struct px_pooled *p)
{
	struct px_pooled **pp;

	for (pp = &p->px->pool; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	p->px->npool--;
	bufferevent_free(p->bev);
	free(p);
}

void
px_pool_flush(struct px *px)
{
	while (px->pool != NULL)
		pool_drop(px->pool);
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
static void
pool_put(struct conn *cn)
{
	struct timeval tv = tv_ms(PX_POOL_IDLE_MS);
	struct px_pooled *p, **pp;
	struct px *px = cn->px;

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
	if (px->npool >= PX_POOL_MAX) {
		for (pp = &px->pool; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		pool_drop(*pp);		/* the oldest */
	}
	p->px = px;
	p->bev = cn->u;
	snprintf(p->sbx, sizeof(p->sbx), "%s", cn->sbx->id);
	snprintf(p->host, sizeof(p->host), "%s", cn->uhost);
	snprintf(p->uaddr, sizeof(p->uaddr), "%s", cn->uaddr);
	p->port = cn->port;
	p->tls = cn->tls;
	memcpy(&p->ss, &cn->uss, cn->ulen);
	p->len = cn->ulen;
	p->override = cn->u_override;
	p->next = px->pool;
	px->pool = p;
	px->npool++;
	cn->u = NULL;
	cn->u_ok = 0;
	bufferevent_setcb(p->bev, pool_read, NULL, pool_event, p);
	bufferevent_set_timeouts(p->bev, &tv, NULL);
	bufferevent_enable(p->bev, EV_READ);
}

static void up_read(struct bufferevent *bev, void *arg);
static void up_write(struct bufferevent *bev, void *arg);
static void up_event(struct bufferevent *bev, short what, void *arg);

/* An idle connection to cn's host that cn's sandbox left (one sandbox
 * never gets a connection another one used), whose address still passes
 * its checks. Returns 1 and sets cn->u when there is one. */
static int
pool_get(struct conn *cn)
{
	struct timeval tv = tv_ms(cn->px->cfg.upstream_ms);
	struct px_pooled *p, **pp;
	const void *a;

	for (pp = &cn->px->pool; (p = *pp) != NULL; pp = &p->next) {
		if (p->port != cn->port || p->tls != cn->tls ||
		    strcmp(p->host, cn->host) != 0 ||
		    strcmp(p->sbx, cn->sbx->id) != 0)
			continue;
		a = p->ss.ss_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)&p->ss)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)&p->ss)->sin6_addr;
		if (!p->override && np_addr_is_internal(p->ss.ss_family, a) &&
		    !np_allow_names_range(cn->sbx->allow, p->ss.ss_family, a))
			continue;
		*pp = p->next;
		cn->px->npool--;
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
up_connect(struct conn *cn, const struct sockaddr *sa, socklen_t salen)
{
	struct timeval tv = tv_ms(cn->px->cfg.upstream_ms);
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
		ssl = SSL_new(cn->px->uctx);
		if (ssl == NULL || SSL_set_tlsext_host_name(ssl, cn->host) != 1 ||
		    SSL_set1_host(ssl, cn->host) != 1) {
			SSL_free(ssl);
			respond(cn, 502, "cannot set up TLS toward %s", cn->host);
			return;
		}
		sess = px_sess_find(cn->px, cn->host);
		if (sess != NULL)
			(void)SSL_set_session(ssl, sess);
		cn->u = bufferevent_openssl_socket_new(cn->px->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (cn->u != NULL)	/* on failure libevent freed ssl */
			bufferevent_openssl_set_allow_dirty_shutdown(cn->u, 1);
	} else {
		cn->u = bufferevent_socket_new(cn->px->base, -1,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	}
	if (cn->u == NULL) {
		respond(cn, 502, "out of memory");
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
		respond(cn, 502, "cannot connect to %s (%s)", cn->host, cn->uaddr);
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

/* Picks the first address the policy lets this name reach. */
static void
up_pick(struct conn *cn, const struct evutil_addrinfo *ai, int override)
{
	struct sockaddr_storage ss;
	const void *a;
	char txt[INET6_ADDRSTRLEN] = "";
	int local = 0;

	for (; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			a = &((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (!override && np_addr_is_internal(ai->ai_family, a) &&
		    !np_allow_names_range(cn->sbx->allow, ai->ai_family, a)) {
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
	if (local)
		respond(cn, 403, "%s resolves to the gateway host itself (%s)",
		    cn->host, txt);
	else if (txt[0] != '\0')
		respond(cn, 403, "%s resolves to an internal address (%s) that "
		    "allow_net does not name", cn->host, txt);
	else
		respond(cn, 502, "%s has no usable address", cn->host);
}

static void
dns_done(int err, struct evutil_addrinfo *res, void *arg)
{
	struct conn *cn = arg;

	cn->dnsreq = NULL;
	if (cn->dead) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		conn_free(cn);
		return;
	}
	if (err != 0) {
		respond(cn, 502, "cannot resolve %s: %s", cn->host,
		    evutil_gai_strerror(err));
		return;
	}
	up_pick(cn, res, 0);
	evutil_freeaddrinfo(res);
}

static void
up_open(struct conn *cn)
{
	struct evutil_addrinfo hints, ai;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct evdns_getaddrinfo_request *req;
	size_t i;

	cn->u_ok = 0;
	memset(&ai, 0, sizeof(ai));
	/* an address in Host (plain HTTP only): that address, nothing else */
	if (cn->rq.host_kind == SP_HTTP_HOST_IPV4) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		inet_pton(AF_INET, cn->host, &sin.sin_addr);
		ai.ai_family = AF_INET;
		ai.ai_addr = (struct sockaddr *)&sin;
		ai.ai_addrlen = sizeof(sin);
		up_pick(cn, &ai, 0);
		return;
	}
	for (i = 0; i < cn->px->cfg.nresolve; i++) {
		const char *a = cn->px->cfg.resolve[i].addr;

		if (strcasecmp(cn->px->cfg.resolve[i].name, cn->host) != 0)
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
	req = evdns_getaddrinfo(cn->px->dns, cn->host, NULL, &hints, dns_done,
	    cn);
	/* NULL: the callback already ran (and may have freed cn) */
	if (req != NULL)
		cn->dnsreq = req;
}

static const char *
up_error(struct conn *cn, char *buf, size_t len)
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
static int
up_retry(struct conn *cn)
{
	const struct sp_http_head *h = &cn->rq;

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
	if (!(h->body == SP_HTTP_BODY_NONE ||
	    (h->body == SP_HTTP_BODY_LENGTH && h->content_length == 0)))
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
	up_open(cn);
	return 1;
}

static void
up_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *cn = arg;
	char why[512];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		cn->u_ok = 1;
		nodelay(bufferevent_getfd(cn->u));
		if (!cn->sub_body && !cn->head_sent && cn->in_req) {
			bufferevent_write(cn->u, sg_buf_data(cn->head),
			    sg_buf_len(cn->head));
			cn->head_sent = 1;
		}
		rq_pump(cn);
		return;
	}
	if (cn->tunnel) {
		/* what it sent before closing still goes to the client */
		evbuffer_add_buffer(bufferevent_get_output(cn->c),
		    bufferevent_get_input(cn->u));
		conn_close(cn);
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
		if (!up_retry(cn))
			respond(cn, 502, "%s (%s) closed the connection before "
			    "the request was sent", cn->host, cn->uaddr);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* what it sent before closing still goes to the client
		 * (at the client's pace); rs_pump ends the exchange */
		cn->u_eof = 1;
		bufferevent_disable(cn->u, EV_READ);
		rs_pump(cn);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (!cn->rs_head)
			respond(cn, 504, "%s (%s) did not answer within %u ms",
			    cn->host, cn->uaddr[0] ? cn->uaddr : "?",
			    cn->px->cfg.upstream_ms);
		else
			conn_free(cn);
		return;
	}
	if (!cn->rs_head && up_retry(cn))
		return;
	if (!cn->rs_head)
		respond(cn, 502, "%s", up_error(cn, why, sizeof(why)));
	else
		conn_free(cn);
}

static void
up_write(struct bufferevent *bev, void *arg)
{
	struct conn *cn = arg;

	(void)bev;
	if (cn->tunnel) {
		tunnel_pump(cn);
		return;
	}
	rq_pump(cn);
}

/* --- the response --- */

static void
emit(struct conn *cn, const void *p, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(cn->c);

	if (n == 0)
		return;
	if (cn->rs_chunked)
		evbuffer_add_printf(out, "%zx\r\n", n);
	evbuffer_add(out, p, n);
	if (cn->rs_chunked)
		evbuffer_add(out, "\r\n", 2);
}

/* Response data, decoded: values back to placeholders. */
static int
rs_data(struct conn *cn, const uint8_t *d, size_t n, int final)
{
	struct sg_buf *o;
	int r;

	if (cn->rw == NULL) {
		emit(cn, d, n);
		return 0;
	}
	o = sg_buf_new(SIZE_MAX);
	if (o == NULL) {
		conn_free(cn);	/* never a response with a part left out */
		return -1;
	}
	sg_buf_set_wipe(o, 1);
	r = sp_rw_stream_feed(cn->rw, d, n, final, o);
	if (r >= 0)
		emit(cn, sg_buf_data(o), sg_buf_len(o));
	sg_buf_free(o);
	if (r < 0) {
		conn_free(cn);
		return -1;
	}
	return 0;
}

/* The values of the sandbox's secrets, to be replaced by placeholders
 * in responses. */
static int
rw_pairs(struct conn *cn, struct sp_rw_pair *p)
{
	const struct px_secret *s;
	size_t i, n = 0;

	for (i = 0; i < cn->sbx->nph && n < SP_RW_MAX_PAIRS; i++) {
		s = px_secret_find(cn->px, cn->sbx->token, cn->sbx->ph_name[i]);
		if (s == NULL || !s->has_value || s->value_len < PX_RW_MIN)
			continue;
		p[n].from = s->value;
		p[n].from_len = s->value_len;
		p[n].to = cn->sbx->ph_value[i];
		p[n].to_len = strlen(cn->sbx->ph_value[i]);
		n++;
	}
	return (int)n;
}

static int
rs_is_field(const struct sp_http_head *h, const uint8_t *b, size_t f,
    const char *name)
{
	return h->fields[f].name.len == strlen(name) &&
	    strncasecmp((const char *)b + h->fields[f].name.off, name,
	    h->fields[f].name.len) == 0;
}

/* Writes the final response head to the client. */
static int
rs_head_out(struct conn *cn, const uint8_t *b)
{
	struct sp_rw_pair p[SP_RW_MAX_PAIRS];
	const struct sp_http_head *h = &cn->rs;
	struct sg_buf *o;
	int np, has_body, r = 0, say_close;
	size_t f;

	np = rw_pairs(cn, p);
	has_body = h->body == SP_HTTP_BODY_CHUNKED || h->body == SP_HTTP_BODY_CLOSE ||
	    (h->body == SP_HTTP_BODY_LENGTH && h->content_length > 0);
	if (np > 0 && has_body && sp_rw_stream_new(p, (size_t)np, &cn->rw) < 0)
		return -ENOMEM;
	if (cn->rw != NULL || h->body == SP_HTTP_BODY_CHUNKED) {
		/* re-framed: chunked to HTTP/1.1 clients, else till close */
		if (cn->rq.version == 11)
			cn->rs_chunked = 1;
		else
			cn->rs_close = 1;
	}
	/* the client's connection ends after this answer: say so, whatever
	 * the upstream (kept by the proxy) said of its own */
	say_close = cn->rs_close || !cn->rq.keep_alive;
	o = sg_buf_new(SP_HTTP_HEAD_MAX * 8);
	if (o == NULL)
		return -ENOMEM;
	sg_buf_set_wipe(o, 1);
	/* the status line as received, minus its CRLF */
	f = 0;
	while (f + 1 < h->head_len && !(b[f] == '\r' && b[f + 1] == '\n'))
		f++;
	if (sg_buf_put(o, b, f) < 0 || sg_buf_put(o, "\r\n", 2) < 0)
		r = -ENOBUFS;
	for (f = 0; r == 0 && f < h->nfields; f++) {
		const struct sp_http_field *fl = &h->fields[f];

		if ((cn->rs_chunked || cn->rs_close) &&
		    (rs_is_field(h, b, f, "content-length") ||
		    rs_is_field(h, b, f, "transfer-encoding")))
			continue;
		if (say_close && (rs_is_field(h, b, f, "connection") ||
		    rs_is_field(h, b, f, "keep-alive")))
			continue;
		if (sg_buf_put(o, b + fl->name.off, fl->name.len) < 0 ||
		    sg_buf_put(o, ": ", 2) < 0 ||
		    sp_rw_replace(o, b + fl->value.off, fl->value.len, p,
		    (size_t)np, NULL) < 0 || sg_buf_put(o, "\r\n", 2) < 0)
			r = -ENOBUFS;
	}
	if (r == 0 && cn->rs_chunked)
		r = sg_buf_putf(o, "Transfer-Encoding: chunked\r\n");
	if (r == 0 && say_close)
		r = sg_buf_putf(o, "Connection: close\r\n");
	if (r == 0)
		r = sg_buf_put(o, "\r\n", 2);
	if (r == 0)
		bufferevent_write(cn->c, sg_buf_data(o), sg_buf_len(o));
	sg_buf_free(o);
	return r < 0 ? -ENOBUFS : 0;
}

static void
exchange_end(struct conn *cn)
{
	struct timeval idle = tv_ms(cn->px->cfg.idle_ms);
	int keep = cn->keep && cn->rq_done && !cn->c_eof;

	cn->u_keep = cn->up_persist && cn->rs.keep_alive && cn->rq_done &&
	    !cn->u_eof;
	if (!keep) {
		pool_put(cn);	/* the client goes; its upstream may stay */
		conn_close(cn);
		return;
	}
	if (!cn->u_keep && cn->u != NULL) {
		bufferevent_free(cn->u);
		cn->u = NULL;
		cn->u_ok = 0;
	}
	rq_reset(cn);
	bufferevent_set_timeouts(cn->c, &idle, &idle);
	bufferevent_enable(cn->c, EV_READ);
	head_try(cn);
}

static void
u_written_free(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_free(arg);
}

/* The client ended a tunnel: what it sent, and what is still queued
 * toward the upstream, goes there first (idle_ms per write at most);
 * then both connections end. */
static void
tunnel_end_up(struct conn *cn)
{
	struct timeval tv = tv_ms(cn->px->cfg.idle_ms);

	evbuffer_add_buffer(bufferevent_get_output(cn->u),
	    bufferevent_get_input(cn->c));
	cn->closing = 1;
	bufferevent_free(cn->c);
	cn->c = NULL;
	bufferevent_setwatermark(cn->u, EV_WRITE, 0, 0);
	bufferevent_setcb(cn->u, c_linger_read, u_written_free, c_linger_event,
	    cn);
	bufferevent_set_timeouts(cn->u, NULL, &tv);
	bufferevent_enable(cn->u, EV_READ | EV_WRITE);
	c_linger_read(cn->u, cn);	/* reading resumes: a writer is not stuck */
	u_written_free(cn->u, cn);
}

static void
tunnel_pump(struct conn *cn)
{
	struct evbuffer *ci = bufferevent_get_input(cn->c);
	struct evbuffer *ui = bufferevent_get_input(cn->u);

	if (evbuffer_get_length(bufferevent_get_output(cn->u)) < PX_HIGH)
		evbuffer_remove_buffer(ci, bufferevent_get_output(cn->u),
		    evbuffer_get_length(ci));
	if (evbuffer_get_length(bufferevent_get_output(cn->c)) < PX_HIGH)
		evbuffer_remove_buffer(ui, bufferevent_get_output(cn->c),
		    evbuffer_get_length(ui));
}

/* The client is behind: the upstream is not read (and its silence not
 * timed) until c_write finds the client's output drained. The client's
 * write timeout bounds the wait. */
static void
rs_wait_client(struct conn *cn)
{
	bufferevent_disable(cn->u, EV_READ);
}

static void
rs_pump(struct conn *cn)
{
	struct evbuffer *in;
	struct sp_http_chunk_out co;
	size_t len, take;
	uint8_t *b;
	int r;

	if (cn->u == NULL || cn->closing)
		return;
	if (cn->tunnel) {
		tunnel_pump(cn);
		return;
	}
	if (!cn->head_sent)
		return;		/* nothing is an answer yet */
	in = bufferevent_get_input(cn->u);
	while (!cn->rs_head) {
		/* interim answers too wait for a client that reads */
		if (evbuffer_get_length(bufferevent_get_output(cn->c)) > PX_HIGH) {
			rs_wait_client(cn);
			return;
		}
		len = evbuffer_get_length(in);
		if (len == 0 && cn->u_eof) {
			if (up_retry(cn))
				return;
			respond(cn, 502, "%s (%s) closed the connection without "
			    "answering", cn->host, cn->uaddr);
			return;
		}
		if (len == 0)
			return;
		take = len < SP_HTTP_HEAD_MAX ? len : SP_HTTP_HEAD_MAX;
		b = evbuffer_pullup(in, (ssize_t)take);
		if (!cn->rs_parsing) {
			sp_http_head_init(&cn->rs, SP_HTTP_RESPONSE,
			    cn->rq.method_head);
			cn->rs_parsing = 1;
		}
		r = sp_http_head_parse(&cn->rs, b, take);
		if (r == -EAGAIN) {
			if (take >= SP_HTTP_HEAD_MAX)
				respond(cn, 502, "%s sent a response head over "
				    "%u bytes", cn->host, SP_HTTP_HEAD_MAX);
			else if (cn->u_eof)
				respond(cn, 502, "%s (%s) closed the connection "
				    "in the middle of its answer", cn->host,
				    cn->uaddr);
			return;
		}
		cn->rs_parsing = 0;	/* a head ended: the next is new */
		if (r < 0) {
			respond(cn, 502, "%s sent a malformed response: %s",
			    cn->host, cn->rs.error_reason ?
			    cn->rs.error_reason : "?");
			return;
		}
		if (cn->rs.status == 100) {
			/* the proxy answered Expect itself */
			evbuffer_drain(in, cn->rs.head_len);
			cn->rs_interim = 1;
			continue;
		}
		if (cn->rs.status == 101) {
			if (!cn->ws || !(cn->rs.upgrade & SP_HTTP_UPGRADE_WEBSOCKET)) {
				respond(cn, 502, "%s switched protocols without "
				    "a WebSocket upgrade", cn->host);
				return;
			}
			bufferevent_write(cn->c, b, cn->rs.head_len);
			evbuffer_drain(in, cn->rs.head_len);
			audit_request(cn, "allowed", 101, NULL);
			cn->rs_head = 1;
			cn->tunnel = 1;
			bufferevent_set_timeouts(cn->c, NULL, NULL);
			bufferevent_set_timeouts(cn->u, NULL, NULL);
			tunnel_pump(cn);
			return;
		}
		if (cn->rs.status < 200) {
			bufferevent_write(cn->c, b, cn->rs.head_len);
			evbuffer_drain(in, cn->rs.head_len);
			cn->rs_interim = 1;
			continue;
		}
		if (rs_head_out(cn, b) < 0) {
			respond(cn, 502, "out of memory");
			return;
		}
		cn->rs_head = 1;
		cn->keep = cn->rq.keep_alive && cn->rs.keep_alive && !cn->rs_close;
		cn->rsb.kind = cn->rs.body;
		cn->rsb.left = cn->rs.content_length;
		sp_http_chunked_init(&cn->rsb.ch);
		cn->rsb.done = cn->rs.body == SP_HTTP_BODY_NONE ||
		    (cn->rs.body == SP_HTTP_BODY_LENGTH &&
		    cn->rs.content_length == 0);
		audit_request(cn, "allowed", cn->rs.status, NULL);
		evbuffer_drain(in, cn->rs.head_len);
	}
	while (!cn->rsb.done) {
		if (evbuffer_get_length(bufferevent_get_output(cn->c)) > PX_HIGH) {
			rs_wait_client(cn);
			return;
		}
		len = evbuffer_get_length(in);
		if (len == 0 && cn->u_eof && cn->rsb.kind == SP_HTTP_BODY_CLOSE) {
			cn->rsb.done = 1;	/* a close-delimited body ends */
			break;
		}
		if (len == 0 && cn->u_eof) {
			/* cut short: what came is sent, then the client's
			 * connection ends without a proper end of body */
			cn->rs_done = 1;
			cn->keep = 0;
			conn_close(cn);
			return;
		}
		if (len == 0)
			return;
		take = len < 65536 ? len : 65536;
		b = evbuffer_pullup(in, (ssize_t)take);
		if (cn->rsb.kind == SP_HTTP_BODY_CHUNKED) {
			r = sp_http_chunked_feed(&cn->rsb.ch, b, take, &co);
			if (r < 0) {
				conn_free(cn);	/* cannot tell the client now */
				return;
			}
			if (co.data_len > 0 &&
			    rs_data(cn, b + co.data_off, co.data_len, 0) < 0)
				return;
			evbuffer_drain(in, co.used);
			if (r == 1)
				cn->rsb.done = 1;
			continue;
		}
		if (cn->rsb.kind == SP_HTTP_BODY_LENGTH && take > cn->rsb.left)
			take = (size_t)cn->rsb.left;
		if (cn->rw == NULL && !cn->rs_chunked)
			evbuffer_remove_buffer(in, bufferevent_get_output(cn->c),
			    take);	/* as it came: no copy */
		else {
			if (rs_data(cn, b, take, 0) < 0)
				return;
			evbuffer_drain(in, take);
		}
		if (cn->rsb.kind == SP_HTTP_BODY_LENGTH) {
			cn->rsb.left -= take;
			if (cn->rsb.left == 0)
				cn->rsb.done = 1;
		}
	}
	if (cn->rs_done)
		return;
	cn->rs_done = 1;
	if (rs_data(cn, NULL, 0, 1) < 0)
		return;
	if (cn->rs_chunked)
		evbuffer_add(bufferevent_get_output(cn->c), "0\r\n\r\n", 5);
	exchange_end(cn);
}

static void
up_read(struct bufferevent *bev, void *arg)
{
	struct conn *cn = arg;

	(void)bev;
	if (cn->in_req && !cn->head_sent) {
		/* bytes before the request (a kept connection's 408, say):
		 * never taken as an answer; the request takes a new one */
		if (!up_retry(cn))
			respond(cn, 502, "%s (%s) sent bytes before the request",
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
	rs_pump(cn);
}

/* --- the client side --- */

static void
c_read(struct bufferevent *bev, void *arg)
{
	struct conn *cn = arg;

	(void)bev;
	if (cn->closing)
		return;
	if (cn->tunnel) {
		tunnel_pump(cn);
		return;
	}
	if (!cn->in_req)
		head_try(cn);
	else
		rq_pump(cn);
}

static void
c_write(struct bufferevent *bev, void *arg)
{
	struct conn *cn = arg;

	(void)bev;
	if (cn->tunnel) {
		if (cn->u != NULL)
			bufferevent_enable(cn->u, EV_READ);
		tunnel_pump(cn);
		return;
	}
	if (cn->closing)
		return;
	if (cn->in_req && !cn->rs_done) {
		if (cn->u != NULL && !cn->u_eof)
			bufferevent_enable(cn->u, EV_READ);
		rs_pump(cn);
	} else if (!cn->in_req)
		head_try(cn);	/* it waited for the answers to be read */
}

static void
c_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *cn = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;		/* TLS handshake done */
	if ((what & BEV_EVENT_TIMEOUT) && cn->in_req && cn->rq_done &&
	    !cn->rs_done && !(what & BEV_EVENT_WRITING)) {
		/* the client waits for the upstream: not idle */
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && cn->tunnel) {
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !(what & BEV_EVENT_WRITING) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) != 0) {
		/* answers wait to be read: not idle (the write timeout
		 * bounds a client that reads nothing) */
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && cn->sni[0] && !cn->in_req &&
	    cn->method[0] == '\0') {
		unsigned long e = bufferevent_get_openssl_error(bev);

		if (e != 0)
			sg_debug("sandbox %s: TLS with the guest for %s failed: %s",
			    cn->sbx->id, cn->sni, ERR_reason_error_string(e) ?
			    ERR_reason_error_string(e) : "?");
	}
	if ((what & BEV_EVENT_EOF) && !cn->tunnel && cn->in_req &&
	    cn->rq_done && !cn->rs_done && !cn->closing) {
		/* half-closed after its request: the answer still goes back */
		cn->keep = 0;
		cn->c_eof = 1;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if ((what & BEV_EVENT_EOF) && cn->tunnel && cn->u != NULL) {
		tunnel_end_up(cn);
		return;
	}
	conn_free(cn);
}
