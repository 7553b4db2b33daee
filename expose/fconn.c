/* fc: one client connection through sandgate-front (front.h).
 *
 * TLS is terminated here. Each request head is parsed strictly
 * (common/httphead.c: smuggling pairs, oversized heads and the like are
 * refused with their status), routed by its Host to an exposed port,
 * and let through only with a credential for that port (common/explink.h):
 * the owning token as a Bearer, the cookie a signed link set, or none for
 * a public port. A signed link itself is answered here: a cookie for its
 * host and a redirect to the clean URL. The request goes to the guest
 * without sandgate's own credentials (its Bearer token, its cookie) and
 * with X-Forwarded-For/Proto/Host set here (any sent are dropped). Bodies
 * are relayed by their framing, so that the next request on a kept-alive
 * connection is found where the guest finds it; a 101 to a WebSocket
 * upgrade turns the connection into a tunnel. One request at a time per
 * connection; pipelined ones wait in the input. Every request, let
 * through or refused, is audited (expose_request). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "common/explink.h"
#include "common/httphead.h"
#include "common/log.h"
#include "expose/fauth.h"
#include "expose/front.h"

#define FC_HIGH		(256u << 10)	/* input buffered per side, at most */
#define FC_AUDIT_PATH	256

enum fc_state {
	FC_TLS,		/* handshake */
	FC_HEAD,	/* reading a request head */
	FC_CONNECT,	/* connecting to the guest's port */
	FC_RELAY,	/* request body and response */
	FC_TUNNEL,	/* after a 101: bytes both ways */
	FC_CLOSING,	/* flushing the last bytes to the client */
};

struct fc_body {
	enum sg_http_body kind;
	uint64_t left;
	struct sg_http_chunked ch;
	int done;
};

struct fc {
	struct fc *next, *prev;		/* every connection (fc_route_gone) */
	struct fr *fr;
	struct bufferevent *c, *u;
	struct event *timer;
	enum fc_state st;
	char peer[INET6_ADDRSTRLEN];
	char sni[256];
	struct fr_route *rt;		/* the upstream's route, referenced */
	char sbx[SG_XF_TOKEN_MAX + 1];	/* counted against (fr_sbx_enter) */
	struct sg_http_head req, resp;
	struct fc_body reqb, respb;
	int head_bytes;			/* some of a head came */
	int head_in;			/* the parsed head is still in the
					 * client's input */
	int resp_head_done;		/* the final response head is out */
	int upgrade;			/* the request asks for a WebSocket */
	int close_after;
	int c_blocked, u_blocked;	/* reading stopped: the other side's
					 * output is full */
	unsigned n1xx;			/* interim responses to this request */
	/* for the audit of the request: copies, whatever becomes of routes */
	char a_id[SG_XF_TOKEN_MAX + 1], a_token[SG_XF_TOKEN_MAX + 1];
	unsigned a_port;
	const char *how;
	char method[24], path[FC_AUDIT_PATH];
	int status;
	uint64_t bytes_in, bytes_out;
	int audited;
	int lingering;			/* FC_CLOSING: our side is shut */
	size_t drained;			/* FC_CLOSING: input thrown away */
};

static struct fc *all;		/* the front's connections */

static void c_read(struct bufferevent *bev, void *arg);
static void c_write(struct bufferevent *bev, void *arg);
static void c_event(struct bufferevent *bev, short what, void *arg);
static void u_read(struct bufferevent *bev, void *arg);
static void u_write(struct bufferevent *bev, void *arg);
static void u_event(struct bufferevent *bev, short what, void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static void next_request(struct fc *fc);

static void
timer_set(struct fc *fc, uint32_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(fc->timer, &tv);
}

static void
u_free(struct fc *fc)
{
	if (fc->u != NULL) {
		bufferevent_free(fc->u);
		fc->u = NULL;
	}
	if (fc->rt != NULL) {
		fr_route_unref(fc->fr, fc->rt);
		fc->rt = NULL;
	}
	fc->u_blocked = 0;
	/* the client was held back for the guest's output, which is gone */
	if (fc->c_blocked) {
		fc->c_blocked = 0;
		if (fc->c != NULL && fc->st == FC_HEAD)
			bufferevent_enable(fc->c, EV_READ);
	}
}

static void
fc_free(struct fc *fc)
{
	if (fc->prev != NULL)
		fc->prev->next = fc->next;
	else if (all == fc)
		all = fc->next;
	if (fc->next != NULL)
		fc->next->prev = fc->prev;
	u_free(fc);
	if (fc->sbx[0] != '\0')
		fr_sbx_leave(fc->fr, fc->sbx);
	if (fc->c != NULL) {
		SSL *ssl = bufferevent_openssl_get_ssl(fc->c);

		/* close_notify, so that a body that ends with the
		 * connection is seen whole */
		if (ssl != NULL && fc->st != FC_TLS && !fc->lingering)
			(void)SSL_shutdown(ssl);
		bufferevent_free(fc->c);
	}
	if (fc->timer != NULL)
		event_free(fc->timer);
	fr_conn_count(fc->fr, -1);
	free(fc);
}

/* --- the audit --- */

static void
audit(struct fc *fc)
{
	int routed = fc->a_id[0] != '\0';
	char port[8], status[8], out[24], in[24];

	if (fc->audited || fc->method[0] == '\0')
		return;
	fc->audited = 1;
	snprintf(port, sizeof(port), "%u", fc->a_port);
	snprintf(status, sizeof(status), "%d", fc->status);
	snprintf(out, sizeof(out), "%llu", (unsigned long long)fc->bytes_out);
	snprintf(in, sizeof(in), "%llu", (unsigned long long)fc->bytes_in);
	fr_audit(fc->fr, "expose_request",
	    "sandbox", routed ? fc->a_id : NULL,
	    "token", routed ? fc->a_token : NULL,
	    "port", routed ? port : NULL,
	    "host", fc->req.done == 1 ? fc->req.host : NULL,
	    "method", fc->method,
	    "path", fc->path,
	    "status", status,
	    "bytes", out,
	    "bytes_in", in,
	    "client", fc->peer,
	    "auth", fc->how ? fc->how : "none",
	    NULL);
}

/* --- answers made here --- */

/* Once the last bytes are out: our side is shut (close_notify, FIN)
 * and what the client still sends is read and thrown away a moment,
 * so that closing does not reset the connection under an answer it
 * has not read yet (a refused request whose rest is still coming). */
static void
linger(struct fc *fc)
{
	SSL *ssl = bufferevent_openssl_get_ssl(fc->c);

	if (fc->lingering)
		return;
	fc->lingering = 1;
	if (ssl != NULL)
		(void)SSL_shutdown(ssl);
	(void)shutdown(bufferevent_getfd(fc->c), SHUT_WR);
	timer_set(fc, 2000);
}

/* Closes once what was written has gone out. */
static void
fc_close(struct fc *fc)
{
	audit(fc);
	u_free(fc);
	fc->st = FC_CLOSING;
	evtimer_del(fc->timer);
	/* a client that does not read its last bytes is not waited for */
	timer_set(fc, 10000);
	bufferevent_enable(fc->c, EV_READ);
	bufferevent_setwatermark(fc->c, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(fc->c)) == 0)
		linger(fc);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* An answer of sandgate's own: status, extra fields (each ending in
 * CRLF, or ""), a short text body. keep: the connection may go on. */
static void
respond(struct fc *fc, int status, const char *extra, const char *text,
    int keep)
{
	struct evbuffer *out = bufferevent_get_output(fc->c);
	size_t tl = text ? strlen(text) + 1 : 0;
	int head = fc->req.done == 1 && fc->req.method_head;

	if (fc->resp_head_done) {
		/* a response is half out: all the client can learn is that
		 * the connection ends */
		fc_close(fc);
		return;
	}
	fc->status = status;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n%s"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n%s\r\n", status,
	    status_text(status), extra ? extra : "", tl,
	    keep ? "" : "Connection: close\r\n");
	if (tl && !head)
		evbuffer_add_printf(out, "%s\n", text);
	fc->bytes_out = evbuffer_get_length(out);
	if (!keep) {
		fc_close(fc);
		return;
	}
	/* answered here: the request (no body) is done with */
	if (fc->head_in) {
		evbuffer_drain(bufferevent_get_input(fc->c), fc->req.head_len);
		fc->head_in = 0;
	}
	audit(fc);
	next_request(fc);
}

/* --- bodies --- */

static void
body_init(struct fc_body *b, const struct sg_http_head *h)
{
	memset(b, 0, sizeof(*b));
	b->kind = h->body;
	b->left = h->content_length;
	if (b->kind == SG_HTTP_BODY_CHUNKED)
		sg_http_chunked_init(&b->ch);
	b->done = b->kind == SG_HTTP_BODY_NONE ||
	    (b->kind == SG_HTTP_BODY_LENGTH && b->left == 0);
}

/* Moves what the body still has from in to out (counted in *count).
 * 1: it ended; 0: more to come; -EPROTO: malformed chunks. */
static int
body_move(struct fc_body *b, struct evbuffer *in, struct evbuffer *out,
    uint64_t *count)
{
	struct sg_http_chunk_out o;
	size_t avail, n;
	const uint8_t *p;
	int r;

	if (b->done)
		return 1;
	while ((avail = evbuffer_get_length(in)) > 0) {
		switch (b->kind) {
		case SG_HTTP_BODY_LENGTH:
			n = avail < b->left ? avail : (size_t)b->left;
			evbuffer_remove_buffer(in, out, n);
			b->left -= n;
			*count += n;
			if (b->left == 0) {
				b->done = 1;
				return 1;
			}
			return 0;
		case SG_HTTP_BODY_CHUNKED:
			n = avail < 65536 ? avail : 65536;
			p = evbuffer_pullup(in, (ev_ssize_t)n);
			if (p == NULL)
				return -EPROTO;
			r = sg_http_chunked_feed(&b->ch, p, n, &o);
			if (r < 0)
				return -EPROTO;
			evbuffer_remove_buffer(in, out, o.used);
			*count += o.used;
			if (r == 1) {
				b->done = 1;
				return 1;
			}
			break;
		case SG_HTTP_BODY_CLOSE:
			*count += avail;
			evbuffer_add_buffer(out, in);
			return 0;
		default:
			b->done = 1;
			return 1;
		}
	}
	return 0;
}

/* Stops reading from a side whose bytes the other cannot take now; its
 * write callback starts it again (c_write, u_write). */
static void
backpressure(struct fc *fc)
{
	if (fc->u != NULL && !fc->c_blocked &&
	    evbuffer_get_length(bufferevent_get_output(fc->u)) > FC_HIGH) {
		bufferevent_disable(fc->c, EV_READ);
		fc->c_blocked = 1;
	}
	if (fc->u != NULL && !fc->u_blocked &&
	    evbuffer_get_length(bufferevent_get_output(fc->c)) > FC_HIGH) {
		bufferevent_disable(fc->u, EV_READ);
		fc->u_blocked = 1;
	}
}

/* --- the request --- */

/* The credential of the request: 1 let through (fc->how says how), 0
 * answered here (refused, or a link's cookie). */
static int
authorise(struct fc *fc, const char *buf, const struct fr_route *rt)
{
	struct fa_result res;

	fa_authorise(fr_cfg(fc->fr)->link_key, &rt->e, &fc->req, buf,
	    (int64_t)time(NULL), &res);
	fc->how = res.how;
	if (res.verdict == FA_ALLOW)
		return 1;
	respond(fc, res.status, res.extra[0] ? res.extra : NULL, res.text,
	    res.keep);
	OPENSSL_cleanse(res.extra, sizeof(res.extra));
	return 0;
}

static void
u_connect(struct fc *fc, struct fr_route *rt)
{
	const struct sg_xf_config *cfg = fr_cfg(fc->fr);
	struct sockaddr_in sin;

	u_free(fc);
	fc->u = bufferevent_socket_new(fr_base(fc->fr), -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (fc->u == NULL) {
		respond(fc, 503, NULL, "sandgate: out of resources", 0);
		return;
	}
	fc->rt = rt;
	fr_route_ref(rt);
	bufferevent_setcb(fc->u, u_read, u_write, u_event, fc);
	bufferevent_setwatermark(fc->u, EV_READ, 0, FC_HIGH);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(rt->e.port);
	sin.sin_addr.s_addr = htonl(rt->e.addr);
	fc->st = FC_CONNECT;
	timer_set(fc, cfg->connect_ms);
	if (bufferevent_socket_connect(fc->u, (struct sockaddr *)&sin,
	    sizeof(sin)) < 0)
		respond(fc, 502, NULL, "sandgate: cannot connect to the "
		    "sandbox", 0);
}

/* Sends the parsed request (its head still at the start of the client's
 * input) toward the guest. */
static void
send_request(struct fc *fc)
{
	struct evbuffer *in = bufferevent_get_input(fc->c);
	const char *buf = (const char *)evbuffer_pullup(in,
	    (ev_ssize_t)fc->req.head_len);
	int r;

	if (buf == NULL || fa_upstream_head(&fc->rt->e, &fc->req, buf, fc->peer,
	    bufferevent_get_output(fc->u)) < 0) {
		respond(fc, 503, NULL, "sandgate: out of memory", 0);
		return;
	}
	evbuffer_drain(in, fc->req.head_len);
	fc->head_in = 0;
	fc->st = FC_RELAY;
	timer_set(fc, fr_cfg(fc->fr)->idle_ms);
	bufferevent_enable(fc->u, EV_WRITE);
	if (!fc->u_blocked)
		bufferevent_enable(fc->u, EV_READ);
	r = body_move(&fc->reqb, in, bufferevent_get_output(fc->u),
	    &fc->bytes_in);
	if (r < 0) {
		respond(fc, 400, NULL, "sandgate: malformed chunked body", 0);
		return;
	}
	backpressure(fc);
}

/* A request head is complete in the client's input. */
static void
on_request(struct fc *fc)
{
	struct evbuffer *in = bufferevent_get_input(fc->c);
	const struct sg_http_head *h = &fc->req;
	const struct sg_xf_config *cfg = fr_cfg(fc->fr);
	const char *buf = (const char *)evbuffer_pullup(in,
	    (ev_ssize_t)h->head_len);
	char sbx[SG_EXPLINK_SBX_MAX + 1], tag[SG_EXPLINK_TAG_LEN + 1];
	struct fr_route *rt;
	uint16_t port;
	size_t plen;

	if (buf == NULL) {
		respond(fc, 503, NULL, "sandgate: out of memory", 0);
		return;
	}
	snprintf(fc->method, sizeof(fc->method), "%.*s",
	    (int)(h->method.len < sizeof(fc->method) - 1 ? h->method.len :
	    sizeof(fc->method) - 1), buf + h->method.off);
	plen = h->path.len < FC_AUDIT_PATH - 1 ? h->path.len : FC_AUDIT_PATH - 1;
	snprintf(fc->path, sizeof(fc->path), "%.*s", (int)plen,
	    h->path.len ? buf + h->path.off : "/");
	fc->upgrade = (h->conn & SG_HTTP_CONN_UPGRADE) &&
	    (h->upgrade & SG_HTTP_UPGRADE_WEBSOCKET);
	/* the route: LABEL.DOMAIN, as the certificate's wildcard */
	if (sg_explink_host_parse(h->host, h->host_len, cfg->domain, &port,
	    sbx, tag) < 0 || (rt = fr_route_find(fc->fr, h->host,
	    strcspn(h->host, "."))) == NULL) {
		respond(fc, 404, NULL, "sandgate: nothing is exposed at this "
		    "address (wrong URL, or the port was unexposed or its "
		    "sandbox ended)", 0);
		return;
	}
	if (fc->sni[0] != '\0' && strcmp(fc->sni, h->host) != 0) {
		respond(fc, 421, NULL, "sandgate: this connection was opened "
		    "for another host", 0);
		return;
	}
	snprintf(fc->a_id, sizeof(fc->a_id), "%s", rt->e.id);
	snprintf(fc->a_token, sizeof(fc->a_token), "%s", rt->e.token);
	fc->a_port = rt->e.port;
	/* the upstream is the route's: another route, another upstream */
	if (fc->rt != rt) {
		u_free(fc);
		fc->rt = rt;
		fr_route_ref(rt);
	}
	if (!authorise(fc, buf, rt))
		return;
	if (strcmp(fc->sbx, rt->e.id) != 0) {
		if (fr_sbx_conns(fc->fr, rt->e.id) >= cfg->max_conns) {
			respond(fc, 503, "Retry-After: 5\r\n", "sandgate: too "
			    "many connections to this sandbox: try again", 0);
			return;
		}
		if (fc->sbx[0] != '\0')
			fr_sbx_leave(fc->fr, fc->sbx);
		fc->sbx[0] = '\0';
		if (fr_sbx_enter(fc->fr, rt->e.id) < 0) {
			respond(fc, 503, NULL, "sandgate: out of memory", 0);
			return;
		}
		snprintf(fc->sbx, sizeof(fc->sbx), "%s", rt->e.id);
	}
	body_init(&fc->reqb, h);
	sg_http_head_init(&fc->resp, SG_HTTP_RESPONSE, h->method_head);
	fc->close_after = !h->keep_alive;
	if (fc->u != NULL && fc->rt == rt) {
		send_request(fc);
		return;
	}
	/* u_connect references rt itself */
	fr_route_unref(fc->fr, fc->rt);
	fc->rt = NULL;
	u_connect(fc, rt);
}

/* Reads a request head from the client's input. */
static void
read_head(struct fc *fc)
{
	struct evbuffer *in = bufferevent_get_input(fc->c);
	size_t len = evbuffer_get_length(in);
	const uint8_t *p;
	int r;

	if (len == 0)
		return;
	if (!fc->head_bytes) {
		fc->head_bytes = 1;
		timer_set(fc, fr_cfg(fc->fr)->head_ms);
	}
	if (len > SG_HTTP_HEAD_MAX + 1)
		len = SG_HTTP_HEAD_MAX + 1;
	p = evbuffer_pullup(in, (ev_ssize_t)len);
	if (p == NULL) {
		respond(fc, 503, NULL, "sandgate: out of memory", 0);
		return;
	}
	r = sg_http_head_parse(&fc->req, p, len);
	if (r == -EAGAIN)
		return;
	if (r < 0) {
		snprintf(fc->method, sizeof(fc->method), "-");
		snprintf(fc->path, sizeof(fc->path), "-");
		respond(fc, fc->req.error_status ? fc->req.error_status : 400,
		    NULL, fc->req.error_reason ? fc->req.error_reason :
		    "malformed request", 0);
		return;
	}
	fc->head_in = 1;
	on_request(fc);
}

/* Ready for the next request on a kept-alive connection. */
static void
next_request(struct fc *fc)
{
	if (fc->close_after || !fc->reqb.done) {
		/* where the next request starts is not known */
		fc_close(fc);
		return;
	}
	fc->st = FC_HEAD;
	fc->head_bytes = 0;
	fc->resp_head_done = 0;
	fc->upgrade = 0;
	fc->how = NULL;
	fc->method[0] = fc->path[0] = '\0';
	fc->status = 0;
	fc->bytes_in = fc->bytes_out = 0;
	fc->audited = 0;
	sg_http_head_init(&fc->req, SG_HTTP_REQUEST, false);
	memset(&fc->reqb, 0, sizeof(fc->reqb));
	fc->reqb.done = 1;
	fc->n1xx = 0;
	fc->a_id[0] = fc->a_token[0] = '\0';
	fc->a_port = 0;
	timer_set(fc, fr_cfg(fc->fr)->idle_ms);
	if (fc->c_blocked && (fc->u == NULL ||
	    evbuffer_get_length(bufferevent_get_output(fc->u)) <= FC_HIGH / 2))
		fc->c_blocked = 0;
	if (!fc->c_blocked)
		bufferevent_enable(fc->c, EV_READ);
	read_head(fc);
}

/* --- the response --- */

static void
response_done(struct fc *fc)
{
	audit(fc);
	/* bytes after its response: the guest's connection is not trusted
	 * with the next request */
	if (fc->u != NULL &&
	    evbuffer_get_length(bufferevent_get_input(fc->u)) > 0)
		u_free(fc);
	if (!fc->reqb.done || fc->respb.kind == SG_HTTP_BODY_CLOSE ||
	    !fc->resp.keep_alive)
		fc->close_after = 1;
	next_request(fc);
}

static void
relay_response(struct fc *fc)
{
	struct evbuffer *in = bufferevent_get_input(fc->u);
	struct evbuffer *out = bufferevent_get_output(fc->c);
	const uint8_t *p;
	size_t len;
	int r;

	while (!fc->resp_head_done) {
		len = evbuffer_get_length(in);
		if (len == 0)
			return;
		if (len > SG_HTTP_HEAD_MAX + 1)
			len = SG_HTTP_HEAD_MAX + 1;
		p = evbuffer_pullup(in, (ev_ssize_t)len);
		r = p ? sg_http_head_parse(&fc->resp, p, len) : -ENOMEM;
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			sg_debug("%s: the guest's response was refused: %s",
			    fc->rt ? fc->rt->e.label : "-",
			    fc->resp.error_reason ? fc->resp.error_reason : "");
			respond(fc, 502, NULL, "sandgate: the sandbox sent a "
			    "malformed response", 0);
			return;
		}
		if (fc->resp.status == 101) {
			if (!fc->upgrade) {
				respond(fc, 502, NULL, "sandgate: the sandbox "
				    "switched protocols unasked", 0);
				return;
			}
			fc->status = 101;
			fc->bytes_out += fc->resp.head_len;
			evbuffer_remove_buffer(in, out, fc->resp.head_len);
			fc->resp_head_done = 1;
			fc->st = FC_TUNNEL;
			fc->close_after = 1;
			/* what the client sent after its head goes on */
			fc->bytes_in += evbuffer_get_length(
			    bufferevent_get_input(fc->c));
			evbuffer_add_buffer(bufferevent_get_output(fc->u),
			    bufferevent_get_input(fc->c));
			fc->bytes_out += evbuffer_get_length(in);
			evbuffer_add_buffer(out, in);
			if (!fc->c_blocked)
				bufferevent_enable(fc->c, EV_READ);
			backpressure(fc);
			return;
		}
		if (fc->resp.status < 200 && ++fc->n1xx > 16) {
			respond(fc, 502, NULL, "sandgate: the sandbox sent "
			    "interim responses without end", 0);
			return;
		}
		fc->bytes_out += fc->resp.head_len;
		evbuffer_remove_buffer(in, out, fc->resp.head_len);
		backpressure(fc);
		if (fc->resp.status < 200) {
			/* 100 Continue and the like: a final one follows */
			sg_http_head_init(&fc->resp, SG_HTTP_RESPONSE,
			    fc->req.method_head);
			continue;
		}
		fc->status = fc->resp.status;
		fc->resp_head_done = 1;
		body_init(&fc->respb, &fc->resp);
	}
	r = body_move(&fc->respb, in, out, &fc->bytes_out);
	if (r < 0) {
		fc_close(fc);
		return;
	}
	backpressure(fc);
	if (r == 1)
		response_done(fc);
}

/* --- callbacks --- */

static void
c_read(struct bufferevent *bev, void *arg)
{
	struct fc *fc = arg;
	int r;

	(void)bev;
	switch (fc->st) {
	case FC_CLOSING:
		fc->drained += evbuffer_get_length(bufferevent_get_input(fc->c));
		evbuffer_drain(bufferevent_get_input(fc->c),
		    evbuffer_get_length(bufferevent_get_input(fc->c)));
		if (fc->drained > (1u << 20))
			fc_free(fc);
		break;
	case FC_HEAD:
		read_head(fc);
		break;
	case FC_RELAY:
		if (fc->reqb.done || fc->u == NULL)
			break;	/* pipelined: waits for the response */
		timer_set(fc, fr_cfg(fc->fr)->idle_ms);
		r = body_move(&fc->reqb, bufferevent_get_input(fc->c),
		    bufferevent_get_output(fc->u), &fc->bytes_in);
		if (r < 0) {
			respond(fc, 400, NULL, "sandgate: malformed chunked "
			    "body", 0);
			return;
		}
		backpressure(fc);
		break;
	case FC_TUNNEL:
		timer_set(fc, fr_cfg(fc->fr)->idle_ms);
		fc->bytes_in += evbuffer_get_length(bufferevent_get_input(fc->c));
		evbuffer_add_buffer(bufferevent_get_output(fc->u),
		    bufferevent_get_input(fc->c));
		backpressure(fc);
		break;
	default:
		break;
	}
}

static void
c_write(struct bufferevent *bev, void *arg)
{
	struct fc *fc = arg;

	if (fc->st == FC_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			linger(fc);
		return;
	}
	/* a client that reads is not idle */
	if (fc->st == FC_RELAY || fc->st == FC_TUNNEL)
		timer_set(fc, fr_cfg(fc->fr)->idle_ms);
	if (fc->u_blocked && fc->u != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) <= FC_HIGH / 2) {
		fc->u_blocked = 0;
		bufferevent_enable(fc->u, EV_READ);
	}
}

static void
c_event(struct bufferevent *bev, short what, void *arg)
{
	struct fc *fc = arg;
	SSL *ssl;
	const char *sni;

	if (what & BEV_EVENT_CONNECTED) {
		ssl = bufferevent_openssl_get_ssl(bev);
		sni = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) :
		    NULL;
		if (sni != NULL) {
			size_t i;

			snprintf(fc->sni, sizeof(fc->sni), "%s", sni);
			for (i = 0; fc->sni[i]; i++)
				if (fc->sni[i] >= 'A' && fc->sni[i] <= 'Z')
					fc->sni[i] = (char)(fc->sni[i] - 'A' + 'a');
			i = strlen(fc->sni);
			if (i > 0 && fc->sni[i - 1] == '.')
				fc->sni[i - 1] = '\0';
		}
		/* the first request's head within head_ms of the
		 * handshake (no idle wait before it) */
		fc->st = FC_HEAD;
		fc->head_bytes = 1;
		timer_set(fc, fr_cfg(fc->fr)->head_ms);
		read_head(fc);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* the client is gone: what it asked is audited as such */
		if (fc->st == FC_RELAY || fc->st == FC_CONNECT)
			fc->status = fc->status ? fc->status : 499;
		audit(fc);
		fc_free(fc);
	}
}

static void
u_read(struct bufferevent *bev, void *arg)
{
	struct fc *fc = arg;

	(void)bev;
	timer_set(fc, fr_cfg(fc->fr)->idle_ms);
	if (fc->st == FC_RELAY) {
		relay_response(fc);
	} else if (fc->st == FC_TUNNEL) {
		fc->bytes_out += evbuffer_get_length(bufferevent_get_input(fc->u));
		evbuffer_add_buffer(bufferevent_get_output(fc->c),
		    bufferevent_get_input(fc->u));
		backpressure(fc);
	} else if (fc->st == FC_HEAD) {
		/* bytes between responses: the guest's connection is not
		 * used again */
		u_free(fc);
	}
}

static void
u_write(struct bufferevent *bev, void *arg)
{
	struct fc *fc = arg;

	if (fc->c_blocked &&
	    evbuffer_get_length(bufferevent_get_output(bev)) <= FC_HIGH / 2) {
		fc->c_blocked = 0;
		if (fc->st == FC_RELAY || fc->st == FC_TUNNEL ||
		    fc->st == FC_HEAD)
			bufferevent_enable(fc->c, EV_READ);
	}
}

static void
u_event(struct bufferevent *bev, short what, void *arg)
{
	struct fc *fc = arg;
	int err = EVUTIL_SOCKET_ERROR();
	char msg[160];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		(void)setsockopt(bufferevent_getfd(fc->u), IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one));
		send_request(fc);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (fc->st == FC_CONNECT) {
		snprintf(msg, sizeof(msg), "sandgate: %s port %u in the "
		    "sandbox (%s)", err == ECONNREFUSED ? "nothing listens on" :
		    "cannot reach", fc->rt ? (unsigned)fc->rt->e.port : 0u,
		    evutil_socket_error_to_string(err));
		respond(fc, 502, NULL, msg, 0);	/* frees the upstream */
		return;
	}
	if (fc->st == FC_TUNNEL) {
		u_free(fc);
		fc_close(fc);
		return;
	}
	if (fc->st == FC_RELAY) {
		/* the rest of what it sent first */
		relay_response(fc);
		if (fc->st != FC_RELAY)
			return;
		if (fc->resp_head_done && fc->respb.kind == SG_HTTP_BODY_CLOSE) {
			fc->respb.done = 1;
			fc->close_after = 1;
			audit(fc);
			fc_close(fc);
			return;
		}
		respond(fc, 502, NULL, "sandgate: the sandbox closed the "
		    "connection before its response was complete", 0);
		return;
	}
	/* between requests: the next one connects again */
	u_free(fc);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fc *fc = arg;

	(void)fd;
	(void)what;
	switch (fc->st) {
	case FC_HEAD:
		if (fc->head_bytes) {
			snprintf(fc->method, sizeof(fc->method), "-");
			snprintf(fc->path, sizeof(fc->path), "-");
			respond(fc, 408, NULL, "sandgate: the request took too "
			    "long to arrive", 0);
			return;
		}
		fc_free(fc);	/* an idle kept-alive connection */
		return;
	case FC_CONNECT:
		respond(fc, 504, NULL, "sandgate: the sandbox did not accept "
		    "the connection in time", 0);
		return;
	case FC_RELAY:
		if (!fc->resp_head_done) {
			respond(fc, 504, NULL, "sandgate: the sandbox did not "
			    "answer in time", 0);
			return;
		}
		fc_close(fc);
		return;
	default:
		audit(fc);
		fc_free(fc);	/* handshake, a quiet tunnel, a stuck close */
		return;
	}
}

void
fc_route_gone(struct fr_route *rt)
{
	struct fc *fc;

	/* unexposed, or its token's hash changed: what it carries ends */
	for (fc = all; fc != NULL; fc = fc->next)
		if (fc->rt == rt && fc->st != FC_CLOSING)
			fc_close(fc);
}

void
fc_accept(struct fr *fr, int fd, const struct sockaddr *sa, int salen)
{
	const struct sg_xf_config *cfg = fr_cfg(fr);
	struct fc *fc;
	SSL *ssl;

	if (fr_conns(fr) >= cfg->max_total) {
		close(fd);
		return;
	}
	fc = calloc(1, sizeof(*fc));
	if (fc == NULL) {
		close(fd);
		return;
	}
	fc->fr = fr;
	fc->next = all;
	if (all != NULL)
		all->prev = fc;
	all = fc;
	fr_conn_count(fr, 1);
	if (sa->sa_family == AF_INET && (size_t)salen >= sizeof(struct sockaddr_in))
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    fc->peer, sizeof(fc->peer));
	else if (sa->sa_family == AF_INET6 &&
	    (size_t)salen >= sizeof(struct sockaddr_in6))
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    fc->peer, sizeof(fc->peer));
	else
		snprintf(fc->peer, sizeof(fc->peer), "?");
	sg_http_head_init(&fc->req, SG_HTTP_REQUEST, false);
	fc->reqb.done = 1;
	fc->timer = evtimer_new(fr_base(fr), on_timer, fc);
	ssl = SSL_new(fr_ctx(fr));
	if (fc->timer == NULL || ssl == NULL) {
		SSL_free(ssl);
		close(fd);
		fc_free(fc);
		return;
	}
	fc->c = bufferevent_openssl_socket_new(fr_base(fr), fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (fc->c == NULL) {
		SSL_free(ssl);
		close(fd);
		fc_free(fc);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(fc->c, 1);
	bufferevent_setcb(fc->c, c_read, c_write, c_event, fc);
	bufferevent_setwatermark(fc->c, EV_READ, 0, FC_HIGH);
	bufferevent_enable(fc->c, EV_READ | EV_WRITE);
	fc->st = FC_TLS;
	timer_set(fc, cfg->head_ms);
}
