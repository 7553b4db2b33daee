/* px_conn, the guest side: accept, the ClientHello and TLS toward the
 * guest, the guest's bufferevent, refusals, closing. See pxconn.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/allow.h"
#include "secrets/ca.h"
#include "secrets/clienthello.h"
#include "secrets/scan.h"
#include "secrets/proxy.h"
#include "secrets/pxconn.h"

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

void
pxc_audit(struct px_conn *cn, const char *decision, int status,
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

void
pxc_drain_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev),
	    evbuffer_get_length(bufferevent_get_input(bev)));
}

static void
c_written_close(struct bufferevent *bev, void *arg)
{
	struct timeval tv = pxc_tv(PX_LINGER_MS);
	struct px_conn *cn = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (cn->c_eof) {
		pxc_free(cn);	/* it sends nothing more: nothing to drain */
		return;
	}
	/* answered: now at most PX_LINGER_MS for the client to close */
	bufferevent_set_timeouts(bev, &tv, &tv);
}

void
pxc_free_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	pxc_free(arg);		/* closed, broken or lingered long enough */
}

void
pxc_close(struct px_conn *cn)
{
	struct timeval tv = pxc_tv(px_cfg(cn->px)->idle_ms);

	if (cn->c == NULL) {
		pxc_free(cn);
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
	bufferevent_setcb(cn->c, pxc_drain_read, c_written_close, pxc_free_event,
	    cn);
	/* a slow reader has idle_ms per write; the linger starts once all
	 * is written (c_written_close) */
	bufferevent_set_timeouts(cn->c, NULL, &tv);
	bufferevent_enable(cn->c, cn->c_eof ? EV_WRITE : EV_READ | EV_WRITE);
	pxc_drain_read(cn->c, cn);
	if (evbuffer_get_length(bufferevent_get_output(cn->c)) == 0)
		c_written_close(cn->c, cn);
}

void
pxc_respond(struct px_conn *cn, int status, const char *fmt, ...)
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
	pxc_audit(cn, decision_of(status), status, text);
	cn->rs_head = 1;
	pxc_close(cn);
}

/* Requests and answers are written whole: no Nagle delay on them. */
void
pxc_nodelay(int fd)
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
c_setup(struct px_conn *cn)
{
	struct timeval idle = pxc_tv(px_cfg(cn->px)->idle_ms);

	cn->fd = -1;	/* the bufferevent owns it now */
	bufferevent_setcb(cn->c, c_read, c_write, c_event, cn);
	bufferevent_setwatermark(cn->c, EV_READ, 0, PX_HIGH);
	bufferevent_set_timeouts(cn->c, &idle, &idle);
	cn->ev = event_new(px_base(cn->px), -1, 0, head_timeout, cn);
	if (cn->ev == NULL)
		return -ENOMEM;
	return bufferevent_enable(cn->c, EV_READ | EV_WRITE) == 0 ? 0 : -EIO;
}

static void
start_tls(struct px_conn *cn)
{
	struct sp_ca_leaf *leaf = NULL;
	char *err = NULL;
	SSL *ssl;
	int fd = cn->fd;

	if (sp_ca_get(px_leaves(cn->px), cn->sni, time(NULL), &leaf, &err) < 0) {
		sg_err("sandbox %s: cannot mint a certificate for %s: %s",
		    cn->sbx->id, cn->sni, err ? err : "?");
		free(err);
		pxc_free(cn);
		return;
	}
	ssl = SSL_new(px_guest_ctx(cn->px));
	if (ssl == NULL || SSL_use_certificate(ssl, sp_ca_leaf_cert(leaf)) != 1 ||
	    SSL_use_PrivateKey(ssl, sp_ca_leaf_key(leaf)) != 1) {
		sg_err("sandbox %s: cannot set up TLS for %s", cn->sbx->id,
		    cn->sni);
		SSL_free(ssl);
		sp_ca_leaf_unref(leaf);
		pxc_free(cn);
		return;
	}
	sp_ca_leaf_unref(leaf);
	cn->c = bufferevent_openssl_socket_new(px_base(cn->px), fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (cn->c == NULL) {
		/* libevent freed ssl and closed fd already */
		cn->fd = -1;
		pxc_free(cn);
		return;
	}
	/* a guest that closes TCP without close_notify has ended its
	 * side (the proxy frames every request itself): an EOF */
	bufferevent_openssl_set_allow_dirty_shutdown(cn->c, 1);
	if (c_setup(cn) < 0)
		pxc_free(cn);
}

static void
peek_hello(evutil_socket_t fd, short what, void *arg)
{
	struct px_conn *cn = arg;
	unsigned char buf[SP_CH_MAX_BYTES + 1];
	struct sp_ch *ch = NULL;
	const char *why = NULL;
	ssize_t n;
	int r;

	/* the timeout re-arms at each wake-up: the whole wait counts */
	if ((what & EV_TIMEOUT) || sg_mono_ms() - cn->t0 > px_cfg(cn->px)->head_ms) {
		why = "no TLS ClientHello in time";
		goto refuse;
	}
	n = recv(fd, buf, sizeof(buf), MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pxc_free(cn);
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
	pxc_audit(cn, "refused", 0, why);
	pxc_free(cn);
}

void
px_conn_accept(struct px *px, int fd, const struct sockaddr *sa, int salen)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	struct sockaddr_in od;
	socklen_t olen = sizeof(od);
	struct timeval tv;
	struct px_sbx *s;
	struct px_conn *cn;
	uint32_t addr;

	if (sa->sa_family != AF_INET || salen < (int)sizeof(*sin)) {
		close(fd);
		return;
	}
	addr = ntohl(sin->sin_addr.s_addr);
	s = px_sbx_find(px, addr);
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
		goto refuse;
	}
	if (s->nconns >= px_cfg(px)->max_conns) {
		sg_warn("sandbox %s: %u connections open, the most allowed "
		    "([proxy] max_connections): refused one", s->id, s->nconns);
		goto refuse;
	}
	cn = calloc(1, sizeof(*cn));
	if (cn == NULL)
		goto refuse;
	cn->px = px;
	cn->sbx = s;	/* the reference px_sbx_find took */
	s->nconns++;
	cn->fd = fd;
	cn->t0 = sg_mono_ms();
	pxc_nodelay(fd);
	cn->port = ntohs(od.sin_port);
	cn->tls = cn->port == 443;
	inet_ntop(AF_INET, &sin->sin_addr, cn->peer, sizeof(cn->peer));
	inet_ntop(AF_INET, &od.sin_addr, cn->orig, INET_ADDRSTRLEN);
	snprintf(cn->orig + strlen(cn->orig), 8, ":%u", (unsigned)cn->port);
	cn->head = sg_buf_new(SG_HTTP_HEAD_MAX * 8);
	cn->hold = evbuffer_new();
	if (cn->head == NULL || cn->hold == NULL ||
	    sp_scan_new((const char *const *)s->ph_value, s->nph, &cn->scan) < 0) {
		pxc_free(cn);
		return;
	}
	sg_buf_set_wipe(cn->head, 1);
	if (cn->tls) {
		tv = pxc_tv(px_cfg(px)->head_ms);
		cn->ev = event_new(px_base(px), fd, EV_READ | EV_PERSIST | EV_ET,
		    peek_hello, cn);
		if (cn->ev == NULL || event_add(cn->ev, &tv) < 0)
			pxc_free(cn);
		return;
	}
	cn->c = bufferevent_socket_new(px_base(px), fd, BEV_OPT_CLOSE_ON_FREE);
	if (cn->c == NULL || c_setup(cn) < 0) {
		pxc_free(cn);
		return;
	}
	tv = pxc_tv(px_cfg(px)->head_ms);
	event_add(cn->ev, &tv);
	return;
refuse:
	px_sbx_unref(px, s);
	close(fd);
}

void
pxc_free(struct px_conn *cn)
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
	pxc_rs_free(cn);
	cn->sbx->nconns--;
	px_sbx_unref(cn->px, cn->sbx);
	explicit_bzero(cn, sizeof(*cn));
	free(cn);
}

/* --- the request head --- */

static void
head_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct px_conn *cn = arg;

	(void)fd;
	(void)what;
	if (evbuffer_get_length(bufferevent_get_input(cn->c)) == 0) {
		pxc_free(cn);	/* idle between requests */
		return;
	}
	pxc_respond(cn, 408, "the request head was not complete within %u ms",
	    px_cfg(cn->px)->head_ms);
}

/* --- the client side --- */

static void
c_read(struct bufferevent *bev, void *arg)
{
	struct px_conn *cn = arg;

	(void)bev;
	if (cn->closing)
		return;
	if (cn->tunnel) {
		pxc_ws_pump(cn);
		return;
	}
	if (!cn->in_req)
		pxc_head_try(cn);
	else
		pxc_rq_pump(cn);
}

static void
c_write(struct bufferevent *bev, void *arg)
{
	struct px_conn *cn = arg;

	(void)bev;
	if (cn->tunnel) {
		if (cn->u != NULL)
			bufferevent_enable(cn->u, EV_READ);
		pxc_ws_pump(cn);
		return;
	}
	if (cn->closing)
		return;
	if (cn->in_req && !cn->rs_done) {
		if (cn->u != NULL && !cn->u_eof)
			bufferevent_enable(cn->u, EV_READ);
		pxc_rs_pump(cn);
	} else if (!cn->in_req)
		pxc_head_try(cn);	/* it waited for the answers to be read */
}

static void
c_event(struct bufferevent *bev, short what, void *arg)
{
	struct px_conn *cn = arg;

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
		pxc_ws_guest_eof(cn);
		return;
	}
	pxc_free(cn);
}
