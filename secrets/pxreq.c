/* px_conn, the request: the head checked and rewritten for the
 * upstream, the body scanned and relayed. See pxconn.h. */
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
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/allow.h"
#include "secrets/proxy.h"
#include "secrets/pxconn.h"
#include "secrets/rewrite.h"
#include "secrets/scan.h"

int
pxc_host_allowed(const struct sg_allow *a, const struct px_conn *cn)
{
	unsigned char buf[16];

	if (cn->rq.host_kind == SG_HTTP_HOST_NAME)
		return sg_allow_name_port(a, cn->host, cn->port);
	if (cn->rq.host_kind == SG_HTTP_HOST_IPV4 &&
	    inet_pton(AF_INET, cn->host, buf) == 1)
		return sg_allow_addr_port(a, AF_INET, buf, cn->port);
	return 0;
}

/* Why placeholder i may not go to this host, or NULL when it may. */
static const char *
secret_refusal(struct px_conn *cn, size_t i, const struct px_secret **ret)
{
	const struct px_secret *s;

	s = px_secret_find(cn->px, cn->sbx->token, cn->sbx->ph_name[i]);
	*ret = s;
	if (s == NULL)
		return "its token no longer has this secret";
	if (s->hosts == NULL || !pxc_host_allowed(s->hosts, cn))
		return "the host is not approved for this secret "
		    "(secret.NAME.hosts)";
	if (!cn->tls && !s->allow_http)
		return "secrets are not sent over plain HTTP unless "
		    "secret.NAME.allow_http = yes";
	if (!s->has_value)
		return "the gateway has no usable value for this secret (env: "
		    "or file: not found, or a value shorter than 8 bytes or "
		    "with control characters: see the gateway's log)";
	return NULL;
}

int
pxc_scan_verdict(struct px_conn *cn, struct sp_scan *scan, const char *where,
    int final, char *why, size_t whysz)
{
	const struct px_secret *s;
	unsigned enc = 0;
	size_t idx = 0, i;
	uint64_t m;
	const char *r;

	if (sp_scan_result(scan, &idx, &enc) == SP_SCAN_CLEAN)
		return 0;
	m = sp_scan_matched(scan);
	for (i = 0; i < cn->sbx->nph && i < 64; i++) {
		if (!(m & (UINT64_C(1) << i)))
			continue;
		r = secret_refusal(cn, i, &s);
		if (r == NULL)
			continue;
		px_audit(cn->px, "secret_alert", "sandbox", cn->sbx->id,
		    "host", cn->host, "secret", cn->sbx->ph_name[i],
		    "where", where, "reason", r, "encoding",
		    i == idx ? sp_scan_encoding_name(enc) : NULL, NULL);
		sg_warn("sandbox %s: placeholder of secret %s in %s to %s: "
		    "blocked (%s)", cn->sbx->id, cn->sbx->ph_name[i],
		    cn->tunnel ? "a WebSocket message" : "a request", cn->host, r);
		snprintf(why, whysz, "it carries the placeholder of secret %s, "
		    "and %s", cn->sbx->ph_name[i], r);
		return 1;
	}
	/* between reads a placeholder may still be arriving: only one seen
	 * whole counts then (the held-back bytes keep it from going out) */
	if (final ? sp_scan_foreign(scan) : sp_scan_foreign_seen(scan)) {
		px_audit(cn->px, "secret_alert", "sandbox", cn->sbx->id,
		    "host", cn->host, "secret", "(unknown)", "where", where,
		    "reason", "a placeholder that is not this sandbox's", NULL);
		sg_warn("sandbox %s: unknown placeholder in %s to %s: blocked",
		    cn->sbx->id, cn->tunnel ? "a WebSocket message" : "a request",
		    cn->host);
		snprintf(why, whysz, "it carries a placeholder "
		    "(SANDGATE_SECRET_...) that is not one of this sandbox's");
		return 1;
	}
	return 0;
}

/* pxc_scan_verdict for a request: a refusal is answered with 403.
 * Returns -1 when the request ended. */
static int
scan_check(struct px_conn *cn, const char *where, int final)
{
	char why[512];

	if (pxc_scan_verdict(cn, cn->scan, where, final, why, sizeof(why)) == 0)
		return 0;
	pxc_respond(cn, 403, "request to %s blocked: %s", cn->host, why);
	return -1;
}

static int
is_field(const struct px_conn *cn, const uint8_t *b, size_t f, const char *name)
{
	const struct sg_http_field *fl = &cn->rq.fields[f];

	return fl->name.len == strlen(name) &&
	    strncasecmp((const char *)b + fl->name.off, name, fl->name.len) == 0;
}

/* Fills the pair lists: every placeholder whose secret may go to this
 * host, by where it may be put. */
static void
build_pairs(struct px_conn *cn)
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
mark_used(struct px_conn *cn, uint64_t bits, const size_t *idx)
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
conn_only_persistence(const struct px_conn *cn, const uint8_t *b)
{
	const struct sg_http_head *h = &cn->rq;
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
build_head(struct px_conn *cn, const uint8_t *b)
{
	const struct sg_http_head *h = &cn->rq;
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
		const struct sg_http_field *fl = &h->fields[f];

		if (h->expect_continue && is_field(cn, b, f, "expect"))
			continue;
		if (cn->sub_body && (is_field(cn, b, f, "content-length") ||
		    is_field(cn, b, f, "transfer-encoding")))
			continue;
		if (hop && (is_field(cn, b, f, "connection") ||
		    is_field(cn, b, f, "keep-alive") ||
		    is_field(cn, b, f, "proxy-connection")))
			continue;
		/* toward a host approved for a secret, the proxy owns the
		 * response's encoding: nothing compressed that it did not
		 * choose, no pieces of a body a guest could join */
		if (cn->sensitive && (is_field(cn, b, f, "accept-encoding") ||
		    is_field(cn, b, f, "range") ||
		    is_field(cn, b, f, "if-range") || is_field(cn, b, f, "te")))
			continue;
		/* WebSocket frames are read by the proxy: no extension, so
		 * no permessage-deflate */
		if ((h->upgrade & SG_HTTP_UPGRADE_WEBSOCKET) &&
		    is_field(cn, b, f, "sec-websocket-extensions"))
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
	if (cn->sensitive && sg_buf_put(o, "Accept-Encoding: identity\r\n",
	    27) < 0)
		return -ENOBUFS;
	if (!cn->sub_body && sg_buf_put(o, "\r\n", 2) < 0)
		return -ENOBUFS;
	return 0;
}

/* Whether the request's host is approved for any of the sandbox's
 * secrets (whether or not one is put in this time). */
static int
host_sensitive(struct px_conn *cn)
{
	const struct px_secret *s;
	size_t i;

	for (i = 0; i < cn->sbx->nph; i++) {
		s = px_secret_find(cn->px, cn->sbx->token, cn->sbx->ph_name[i]);
		if (s != NULL && s->hosts != NULL &&
		    pxc_host_allowed(s->hosts, cn))
			return 1;
	}
	return 0;
}

/* Checks a complete request head and prepares what goes upstream.
 * Returns 1 when the request goes on (rq_start next, once the head's
 * bytes are drained), 0 when it was answered here. */
static int
head_done(struct px_conn *cn, const uint8_t *b)
{
	const struct sg_http_head *h = &cn->rq;
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
		if (h->host_kind != SG_HTTP_HOST_NAME ||
		    strcmp(h->host, cn->sni) != 0) {
			pxc_respond(cn, 421, "Host %s does not match the TLS server "
			    "name %s", h->host, cn->sni);
			return 0;
		}
		if (h->scheme == SG_HTTP_SCHEME_HTTP) {
			pxc_respond(cn, 400, "an http:// URL sent over TLS");
			return 0;
		}
	} else if (h->scheme == SG_HTTP_SCHEME_HTTPS) {
		pxc_respond(cn, 400, "an https:// URL sent without TLS");
		return 0;
	}
	if (h->port != 0 && h->port != cn->port) {
		pxc_respond(cn, 421, "Host names port %u, but the connection is to "
		    "port %u", (unsigned)h->port, (unsigned)cn->port);
		return 0;
	}
	if (h->host_kind == SG_HTTP_HOST_IPV6) {
		pxc_respond(cn, 403, "%s: IPv6 destinations are not reached from "
		    "sandboxes", h->host);
		return 0;
	}
	if (h->upgrade & SG_HTTP_UPGRADE_H2C) {
		pxc_respond(cn, 400, "Upgrade: h2c refused: sandgate-proxy speaks "
		    "HTTP/1.1 only");
		return 0;
	}
	if (h->upgrade & SG_HTTP_UPGRADE_OTHER) {
		pxc_respond(cn, 501, "Upgrade to a protocol other than WebSocket "
		    "refused");
		return 0;
	}
	if (!pxc_host_allowed(cn->sbx->allow, cn)) {
		pxc_respond(cn, 403, "%s (port %u) is not on this sandbox's "
		    "allow_net: ask an administrator to add it",
		    cn->host, (unsigned)cn->port);
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
	cn->sensitive = host_sensitive(cn);
	cn->sub_body = cn->nbp > 0 && h->body != SG_HTTP_BODY_NONE &&
	    !(h->body == SG_HTTP_BODY_LENGTH && h->content_length == 0);
	if (cn->sub_body && h->body == SG_HTTP_BODY_LENGTH &&
	    h->content_length > PX_SUB_MAX) {
		pxc_respond(cn, 413, "bodies where secrets are substituted are "
		    "limited to %u bytes", PX_SUB_MAX);
		return 0;
	}
	r = build_head(cn, b);
	if (r < 0) {
		pxc_respond(cn, 431, "the request head is too large once secrets "
		    "are put in");
		return 0;
	}
	cn->ws = (h->upgrade & SG_HTTP_UPGRADE_WEBSOCKET) != 0;
	cn->rqb.kind = h->body;
	cn->rqb.left = h->content_length;
	sg_http_chunked_init(&cn->rqb.ch);
	cn->rqb.done = h->body == SG_HTTP_BODY_NONE ||
	    (h->body == SG_HTTP_BODY_LENGTH && h->content_length == 0);
	if (h->expect_continue)
		evbuffer_add_printf(bufferevent_get_output(cn->c),
		    "HTTP/1.1 100 Continue\r\n\r\n");
	return 1;
}

/* Sends the checked request on: over the kept upstream connection when
 * it is for the same host, else over a new one. */
static void
rq_start(struct px_conn *cn)
{
	if (!(cn->u != NULL && cn->u_ok && cn->u_keep &&
	    strcmp(cn->uhost, cn->host) == 0 &&
	    evbuffer_get_length(bufferevent_get_input(cn->u)) == 0)) {
		pxc_pool_put(cn);	/* kept for its host, or closed */
		(void)pxc_pool_get(cn);
	}
	if (cn->u != NULL && cn->u_ok) {
		cn->u_keep = 0;
		cn->u_reused = 1;
		if (!cn->sub_body) {
			bufferevent_write(cn->u, sg_buf_data(cn->head),
			    sg_buf_len(cn->head));
			cn->head_sent = 1;
		}
		pxc_rq_pump(cn);
		return;
	}
	pxc_up_open(cn);
}

void
pxc_head_try(struct px_conn *cn)
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
		struct timeval tv = pxc_tv(px_cfg(cn->px)->head_ms);

		evtimer_add(cn->ev, &tv);
	}
	take = len < SG_HTTP_HEAD_MAX ? len : SG_HTTP_HEAD_MAX;
	b = evbuffer_pullup(in, (ssize_t)take);
	/* the parser goes on where it stopped: a head sent byte by byte
	 * costs linear time */
	if (!cn->rq_parsing) {
		sg_http_head_init(&cn->rq, SG_HTTP_REQUEST, false);
		cn->rq_parsing = 1;
	}
	r = sg_http_head_parse(&cn->rq, b, take);
	if (r == -EAGAIN) {
		if (take >= SG_HTTP_HEAD_MAX)
			pxc_respond(cn, 431, "request head over %u bytes",
			    SG_HTTP_HEAD_MAX);
		return;
	}
	evtimer_del(cn->ev);
	cn->in_req = 1;
	cn->rq_parsing = 0;
	if (r < 0) {
		pxc_respond(cn, cn->rq.error_status, "%s",
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
forward(struct px_conn *cn, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(cn->u);

	if (n == 0)
		return;
	if (cn->rqb.kind == SG_HTTP_BODY_CHUNKED)
		evbuffer_add_printf(out, "%zx\r\n", n);
	evbuffer_remove_buffer(cn->hold, out, n);
	if (cn->rqb.kind == SG_HTTP_BODY_CHUNKED)
		evbuffer_add(out, "\r\n", 2);
}

/* Data of the request body, decoded. Returns -1 when the request
 * ended (refused). */
static int
rq_data(struct px_conn *cn, const uint8_t *d, size_t n)
{
	size_t len;

	sp_scan_feed(cn->scan, d, n);
	if (scan_check(cn, "body", 0) < 0)
		return -1;
	evbuffer_add(cn->hold, d, n);
	len = evbuffer_get_length(cn->hold);
	if (cn->sub_body) {
		if (len > PX_SUB_MAX) {
			pxc_respond(cn, 413, "bodies where secrets are substituted "
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
rq_end(struct px_conn *cn)
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
		if (cn->rqb.kind == SG_HTTP_BODY_CHUNKED)
			evbuffer_add(bufferevent_get_output(cn->u), "0\r\n\r\n", 5);
		return 0;
	}
	/* the secrets may have been reloaded since the head: pairs from
	 * the table in force now (the old values are gone) */
	cn->nhp = cn->nqp = cn->nbp = 0;
	build_pairs(cn);
	o = sg_buf_new(2 * (size_t)PX_SUB_MAX);
	if (o == NULL) {
		pxc_respond(cn, 502, "out of memory");
		return -1;
	}
	sg_buf_set_wipe(o, 1);
	b = evbuffer_pullup(cn->hold, -1);
	r = sp_rw_replace(o, b, len, cn->bp, cn->nbp, &bits);
	evbuffer_drain(cn->hold, len);
	if (r < 0 || sg_buf_putf(cn->head, "Content-Length: %zu\r\n\r\n",
	    sg_buf_len(o)) < 0) {
		sg_buf_free(o);
		pxc_respond(cn, 413, "the request is too large once secrets are "
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
void
pxc_rq_pump(struct px_conn *cn)
{
	struct evbuffer *in;
	struct sg_http_chunk_out co;
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
		if (cn->rqb.kind == SG_HTTP_BODY_LENGTH) {
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
		r = sg_http_chunked_feed(&cn->rqb.ch, b, take, &co);
		if (r < 0) {
			pxc_respond(cn, 400, "%s", cn->rqb.ch.error_reason ?
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
		pxc_rs_pump(cn);
}

/* --- freeing --- */

void
pxc_rq_reset(struct px_conn *cn)
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
	pxc_rs_reset(cn);
}
