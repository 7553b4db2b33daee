/* px_conn, the response: heads and bodies relayed with secret values
 * turned back into placeholders. See pxconn.h. */
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
#include "netpolicy/allow.h"
#include "secrets/proxy.h"
#include "secrets/pxconn.h"
#include "secrets/rewrite.h"
#include "secrets/scan.h"

#define PX_RW_MIN	8		/* shorter values are not looked for in responses */

/* --- the response --- */

static void
emit(struct px_conn *cn, const void *p, size_t n)
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
rs_data(struct px_conn *cn, const uint8_t *d, size_t n, int final)
{
	struct sg_buf *o;
	int r;

	if (cn->rw == NULL) {
		emit(cn, d, n);
		return 0;
	}
	o = sg_buf_new(SIZE_MAX);
	if (o == NULL) {
		pxc_free(cn);	/* never a response with a part left out */
		return -1;
	}
	sg_buf_set_wipe(o, 1);
	r = sp_rw_stream_feed(cn->rw, d, n, final, o);
	if (r >= 0)
		emit(cn, sg_buf_data(o), sg_buf_len(o));
	sg_buf_free(o);
	if (r < 0) {
		pxc_free(cn);
		return -1;
	}
	return 0;
}

/* The values of the sandbox's secrets, to be replaced by placeholders
 * in responses. */
static int
rw_pairs(struct px_conn *cn, struct sp_rw_pair *p)
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
rs_head_out(struct px_conn *cn, const uint8_t *b)
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
exchange_end(struct px_conn *cn)
{
	struct timeval idle = pxc_tv(px_cfg(cn->px)->idle_ms);
	int keep = cn->keep && cn->rq_done && !cn->c_eof;

	cn->u_keep = cn->up_persist && cn->rs.keep_alive && cn->rq_done &&
	    !cn->u_eof;
	if (!keep) {
		pxc_pool_put(cn);	/* the client goes; its upstream may stay */
		pxc_close(cn);
		return;
	}
	if (!cn->u_keep && cn->u != NULL) {
		bufferevent_free(cn->u);
		cn->u = NULL;
		cn->u_ok = 0;
	}
	pxc_rq_reset(cn);
	bufferevent_set_timeouts(cn->c, &idle, &idle);
	bufferevent_enable(cn->c, EV_READ);
	pxc_head_try(cn);
}

/* The client is behind: the upstream is not read (and its silence not
 * timed) until c_write finds the client's output drained. The client's
 * write timeout bounds the wait. */
static void
rs_wait_client(struct px_conn *cn)
{
	bufferevent_disable(cn->u, EV_READ);
}

void
pxc_rs_pump(struct px_conn *cn)
{
	struct evbuffer *in;
	struct sp_http_chunk_out co;
	size_t len, take;
	uint8_t *b;
	int r;

	if (cn->u == NULL || cn->closing)
		return;
	if (cn->tunnel) {
		pxc_ws_pump(cn);
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
			if (pxc_up_retry(cn))
				return;
			pxc_respond(cn, 502, "%s (%s) closed the connection without "
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
				pxc_respond(cn, 502, "%s sent a response head over "
				    "%u bytes", cn->host, SP_HTTP_HEAD_MAX);
			else if (cn->u_eof)
				pxc_respond(cn, 502, "%s (%s) closed the connection "
				    "in the middle of its answer", cn->host,
				    cn->uaddr);
			return;
		}
		cn->rs_parsing = 0;	/* a head ended: the next is new */
		if (r < 0) {
			pxc_respond(cn, 502, "%s sent a malformed response: %s",
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
				pxc_respond(cn, 502, "%s switched protocols without "
				    "a WebSocket upgrade", cn->host);
				return;
			}
			bufferevent_write(cn->c, b, cn->rs.head_len);
			evbuffer_drain(in, cn->rs.head_len);
			pxc_audit(cn, "allowed", 101, NULL);
			cn->rs_head = 1;
			cn->tunnel = 1;
			bufferevent_set_timeouts(cn->c, NULL, NULL);
			bufferevent_set_timeouts(cn->u, NULL, NULL);
			pxc_ws_pump(cn);
			return;
		}
		if (cn->rs.status < 200) {
			bufferevent_write(cn->c, b, cn->rs.head_len);
			evbuffer_drain(in, cn->rs.head_len);
			cn->rs_interim = 1;
			continue;
		}
		if (rs_head_out(cn, b) < 0) {
			pxc_respond(cn, 502, "out of memory");
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
		pxc_audit(cn, "allowed", cn->rs.status, NULL);
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
			pxc_close(cn);
			return;
		}
		if (len == 0)
			return;
		take = len < 65536 ? len : 65536;
		b = evbuffer_pullup(in, (ssize_t)take);
		if (cn->rsb.kind == SP_HTTP_BODY_CHUNKED) {
			r = sp_http_chunked_feed(&cn->rsb.ch, b, take, &co);
			if (r < 0) {
				pxc_free(cn);	/* cannot tell the client now */
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
