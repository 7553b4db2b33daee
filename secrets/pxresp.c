/* px_conn, the response: heads and bodies relayed with every secret
 * value the proxy can find turned back into its placeholder. See
 * pxconn.h.
 *
 * Every head (the status line, 1xx and 101 heads included) has its
 * reason phrase, field names and values redacted one by one. A body is
 * redacted as a stream (redact.h) and re-framed (chunked for HTTP/1.1
 * guests, else to the close), since values and placeholders differ in
 * length. For a request to a host approved for a secret the proxy asked
 * for no compression and no range (pxreq.c): a body that comes back
 * compressed anyway is decoded here (coding.h), one that cannot be is
 * refused with 502, and so is a 206. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/buf.h"
#include "common/log.h"
#include "secrets/coding.h"
#include "secrets/proxy.h"
#include "secrets/pxconn.h"
#include "secrets/redact.h"

#define PX_DEC_PORTION	(16u << 10)	/* decoded bytes taken at once */

/* head_write flags */
#define HW_FINAL	0x1u	/* the final head: framing as the proxy says */
#define HW_DECODED	0x2u	/* the body's coding is removed */

void
pxc_rs_reset(struct px_conn *cn)
{
	sp_coding_free(cn->dec);
	cn->dec = NULL;
	cn->rs_redact = 0;
}

void
pxc_rs_free(struct px_conn *cn)
{
	pxc_rs_reset(cn);
	sp_redact_free(cn->red);
	sp_redact_free(cn->red1);
	cn->red = cn->red1 = NULL;
	pxc_ws_free(cn->wsr);
	cn->wsr = NULL;
}

int
pxc_red_setup(struct px_conn *cn)
{
	struct sp_redact_set *set = NULL;
	int r;

	if ((r = px_sbx_redact_set(cn->px, cn->sbx, &set)) < 0)
		return r;
	if (cn->red != NULL && sp_redact_stream_set(cn->red) == set)
		return 0;
	sp_redact_free(cn->red);
	sp_redact_free(cn->red1);
	cn->red = cn->red1 = NULL;
	cn->redacted = cn->reported = 0;
	if (set == NULL)
		return 0;	/* no value to look for */
	if ((r = sp_redact_new(set, &cn->red)) < 0 ||
	    (r = sp_redact_new(set, &cn->red1)) < 0) {
		sp_redact_free(cn->red);
		cn->red = NULL;
		return r;
	}
	return 0;
}

void
pxc_red_audit(struct px_conn *cn, const char *where)
{
	const struct sp_redact_set *set;
	char names[1024];
	const char *ph;
	size_t i, j, len, o = 0;

	/* once per secret and connection: an upstream that echoes it does
	 * so in every answer, and the event says so the first time */
	cn->redacted &= ~cn->reported;
	if (cn->redacted == 0 || cn->red == NULL)
		return;
	cn->reported |= cn->redacted;
	set = sp_redact_stream_set(cn->red);
	names[0] = '\0';
	for (i = 0; i < 64; i++) {
		if (!(cn->redacted & (UINT64_C(1) << i)))
			continue;
		ph = sp_redact_set_placeholder(set, i, &len);
		if (ph == NULL)
			break;
		for (j = 0; j < cn->sbx->nph; j++)
			if (strlen(cn->sbx->ph_value[j]) == len &&
			    memcmp(cn->sbx->ph_value[j], ph, len) == 0)
				break;
		if (j == cn->sbx->nph || o >= sizeof(names))
			continue;
		o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s",
		    o ? "," : "", cn->sbx->ph_name[j]);
	}
	cn->redacted = 0;
	if (o >= sizeof(names))
		names[sizeof(names) - 1] = '\0';
	sg_info("sandbox %s: %s sent back the value of %s in %s: replaced "
	    "by the placeholder", cn->sbx->id, cn->host, names, where);
	px_audit(cn->px, "secret_redacted", "sandbox", cn->sbx->id,
	    "host", cn->host, "secrets", names, "where", where, NULL);
}

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

/* Body bytes, decoded of every coding, on their way to the guest:
 * redacted when they must be. -1: the output failed (the connection
 * must end, never a response with a part left out). */
static int
body_out(struct px_conn *cn, const uint8_t *d, size_t n, int final)
{
	struct sg_buf *o;
	int r;

	if (!cn->rs_redact) {
		emit(cn, d, n);
		return 0;
	}
	o = sg_buf_new(SIZE_MAX);
	if (o == NULL)
		return -1;
	sg_buf_set_wipe(o, 1);
	r = sp_redact_feed(cn->red, d, n, final, o);
	if (r >= 0)
		emit(cn, sg_buf_data(o), sg_buf_len(o));
	sg_buf_free(o);
	cn->redacted |= sp_redact_found(cn->red);
	return r < 0 ? -1 : 0;
}

/* Decoded bytes to the guest while it keeps up. Returns 1 when the
 * guest is behind (the decoder may have more), 0 when the decoder needs
 * input, -1 when the body cannot be decoded. */
static int
dec_drain(struct px_conn *cn)
{
	uint8_t buf[PX_DEC_PORTION];
	size_t made;
	int r, ret = 0;

	for (;;) {
		if (evbuffer_get_length(bufferevent_get_output(cn->c)) > PX_HIGH) {
			ret = 1;
			break;
		}
		r = sp_coding_get(cn->dec, buf, sizeof(buf), &made);
		if (r < 0) {
			sg_info("sandbox %s: %s sent a body that is not valid "
			    "compressed data: the answer is cut short",
			    cn->sbx->id, cn->host);
			ret = -1;
			break;
		}
		if (made == 0)
			break;
		if (body_out(cn, buf, made, 0) < 0) {
			ret = -1;
			break;
		}
	}
	explicit_bzero(buf, sizeof(buf));	/* it held the body */
	return ret;
}

/* Body data after the transfer coding: to the decoder, or on. */
static int
rs_data(struct px_conn *cn, const uint8_t *d, size_t n)
{
	if (cn->dec != NULL)
		return sp_coding_put(cn->dec, d, n) < 0 ? -1 : 0;
	return body_out(cn, d, n, 0);
}

static int
rs_is_field(const struct sg_http_head *h, const uint8_t *b, size_t f,
    const char *name)
{
	return h->fields[f].name.len == strlen(name) &&
	    strncasecmp((const char *)b + h->fields[f].name.off, name,
	    h->fields[f].name.len) == 0;
}

/* p[0..n) redacted (one part) onto o; the values found are noted. */
static int
head_part(struct px_conn *cn, struct sg_buf *o, const uint8_t *p, size_t n)
{
	int r;

	if (cn->red1 == NULL)
		return sg_buf_put(o, p, n) < 0 ? -ENOBUFS : 0;
	r = sp_redact_once(cn->red1, p, n, o);
	cn->redacted |= sp_redact_found(cn->red1);
	return r < 0 ? -ENOBUFS : 0;
}


/* Writes a response head to the guest with the values redacted: the
 * status line's reason phrase and every field. With HW_FINAL the
 * framing is the proxy's (cn->rs_chunked, cn->rs_close, the guest's
 * keep-alive); with HW_DECODED the content coding is gone. */
static int
head_write(struct px_conn *cn, const uint8_t *b, const struct sg_http_head *h,
    unsigned flags)
{
	struct sg_buf *o;
	int r = 0, say_close = 0, reframe = 0;
	size_t f, mark;

	if (flags & HW_FINAL) {
		reframe = cn->rs_chunked || cn->rs_close;
		/* the guest's connection ends after this answer: say so,
		 * whatever the upstream (kept by the proxy) said of its own */
		say_close = cn->rs_close || !cn->rq.keep_alive;
	}
	o = sg_buf_new(SG_HTTP_HEAD_MAX * 8);
	if (o == NULL)
		return -ENOMEM;
	sg_buf_set_wipe(o, 1);
	/* the status line: as received up to the reason phrase */
	if (h->reason.len > 0) {
		if (sg_buf_put(o, b, h->reason.off) < 0 ||
		    head_part(cn, o, b + h->reason.off, h->reason.len) < 0)
			r = -ENOBUFS;
	} else {
		f = 0;
		while (f + 1 < h->head_len && !(b[f] == '\r' && b[f + 1] == '\n'))
			f++;
		if (sg_buf_put(o, b, f) < 0)
			r = -ENOBUFS;
	}
	if (r == 0 && sg_buf_put(o, "\r\n", 2) < 0)
		r = -ENOBUFS;
	for (f = 0; r == 0 && f < h->nfields; f++) {
		const struct sg_http_field *fl = &h->fields[f];

		if (reframe && (rs_is_field(h, b, f, "content-length") ||
		    rs_is_field(h, b, f, "transfer-encoding")))
			continue;
		if ((flags & HW_DECODED) &&
		    (rs_is_field(h, b, f, "content-encoding") ||
		    rs_is_field(h, b, f, "content-length")))
			continue;
		if (say_close && (rs_is_field(h, b, f, "connection") ||
		    rs_is_field(h, b, f, "keep-alive")))
			continue;
		mark = sg_buf_len(o);
		if (head_part(cn, o, b + fl->name.off, fl->name.len) < 0)
			r = -ENOBUFS;
		else if (cn->red1 != NULL && sp_redact_found(cn->red1) != 0) {
			/* a value in a field name: the field is left out (a
			 * placeholder need not be a valid name) */
			sg_buf_truncate(o, mark);
			continue;
		}
		if (r < 0 || sg_buf_put(o, ": ", 2) < 0 ||
		    head_part(cn, o, b + fl->value.off, fl->value.len) < 0 ||
		    sg_buf_put(o, "\r\n", 2) < 0)
			r = -ENOBUFS;
	}
	if (r == 0 && cn->rs_chunked && (flags & HW_FINAL))
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

/* The content coding of the final head h: 0 and *ret_kind, or -ENOTSUP
 * with the coding's name in what. */
static int
head_coding(const struct sg_http_head *h, const uint8_t *b,
    enum sp_coding_kind *ret_kind, char *what, size_t whatsz)
{
	enum sp_coding_kind k, found = SP_CODING_IDENTITY;
	size_t f;
	int r;

	for (f = 0; f < h->nfields; f++) {
		if (!rs_is_field(h, b, f, "content-encoding"))
			continue;
		r = sp_coding_parse((const char *)b + h->fields[f].value.off,
		    h->fields[f].value.len, &k, what, whatsz);
		if (r < 0)
			return r;
		if (k != SP_CODING_IDENTITY && found != SP_CODING_IDENTITY) {
			snprintf(what, whatsz, "%s", sp_coding_name(k));
			return -ENOTSUP;	/* stacked in two fields */
		}
		if (k != SP_CODING_IDENTITY)
			found = k;
	}
	*ret_kind = found;
	return 0;
}

/* Prepares the body of the final head the upstream sent: its coding,
 * its redaction, its framing; then writes the head. Returns 0, or -1
 * when the answer was refused (already answered). */
static int
final_head(struct px_conn *cn, const uint8_t *b)
{
	const struct sg_http_head *h = &cn->rs;
	enum sp_coding_kind kind = SP_CODING_IDENTITY;
	unsigned flags = HW_FINAL;
	char what[64];
	int has_body, coded, r;

	if (cn->sensitive && h->status == 206) {
		pxc_respond(cn, 502, "%s answered with 206 Partial Content to a "
		    "request the proxy sent without Range: pieces of a body "
		    "could be joined into a secret value", cn->host);
		return -1;
	}
	r = head_coding(h, b, &kind, what, sizeof(what));
	if (r < 0 && cn->sensitive) {
		/* the coding's name is the upstream's text: it may hold a
		 * value, so it is never quoted, to the guest or in the log */
		pxc_respond(cn, 502, "%s sent a body in a content coding the "
		    "proxy cannot decode (it reads gzip, deflate, br and zstd) "
		    "to keep secret values out of it", cn->host);
		return -1;
	}
	if (pxc_red_setup(cn) < 0) {
		pxc_respond(cn, 502, "out of memory");
		return -1;
	}
	has_body = h->body == SG_HTTP_BODY_CHUNKED ||
	    h->body == SG_HTTP_BODY_CLOSE ||
	    (h->body == SG_HTTP_BODY_LENGTH && h->content_length > 0);
	coded = r < 0 || kind != SP_CODING_IDENTITY;
	if (coded && cn->sensitive) {
		/* the proxy asked for identity; decoded here all the same */
		flags |= HW_DECODED;
		if (has_body && sp_coding_new(kind, &cn->dec) < 0) {
			pxc_respond(cn, 502, "out of memory");
			return -1;
		}
		coded = 0;
	}
	/* a body in a coding the proxy does not read is not redacted: it
	 * comes from a host approved for no secret */
	cn->rs_redact = cn->red != NULL && has_body && !coded;
	if (cn->rs_redact)
		sp_redact_reset(cn->red);
	if (cn->rs_redact || cn->dec != NULL ||
	    h->body == SG_HTTP_BODY_CHUNKED) {
		/* re-framed: chunked to HTTP/1.1 guests, else till close */
		if (cn->rq.version == 11)
			cn->rs_chunked = 1;
		else
			cn->rs_close = 1;
	}
	if (head_write(cn, b, h, flags) < 0) {
		pxc_respond(cn, 502, "out of memory");
		return -1;
	}
	return 0;
}

static void
exchange_end(struct px_conn *cn)
{
	struct timeval idle = pxc_tv(px_cfg(cn->px)->idle_ms);
	int keep = cn->keep && cn->rq_done && !cn->c_eof;

	pxc_red_audit(cn, "response");
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

/* An interim head (1xx but 100, or the 101 of a WebSocket upgrade),
 * redacted. Returns 0 when it went to the guest. */
static int
interim_head(struct px_conn *cn, const uint8_t *b)
{
	if (head_write(cn, b, &cn->rs, 0) < 0 && !cn->rs_head) {
		pxc_respond(cn, 502, "out of memory");
		return -1;
	}
	return 0;
}

/* The 101 of a WebSocket upgrade: the relay starts. */
static void
ws_switch(struct px_conn *cn, const uint8_t *b)
{
	size_t f;

	if (!cn->ws || !(cn->rs.upgrade & SG_HTTP_UPGRADE_WEBSOCKET)) {
		pxc_respond(cn, 502, "%s switched protocols without a WebSocket "
		    "upgrade", cn->host);
		return;
	}
	for (f = 0; f < cn->rs.nfields; f++)
		if (rs_is_field(&cn->rs, b, f, "sec-websocket-extensions")) {
			pxc_respond(cn, 502, "%s chose a WebSocket extension, "
			    "though the proxy offered none", cn->host);
			return;
		}
	if (pxc_red_setup(cn) < 0 || interim_head(cn, b) < 0) {
		if (!cn->rs_head)
			pxc_respond(cn, 502, "out of memory");
		return;
	}
	evbuffer_drain(bufferevent_get_input(cn->u), cn->rs.head_len);
	pxc_audit(cn, "allowed", 101, NULL);
	pxc_red_audit(cn, "response");
	cn->rs_head = 1;
	if (pxc_ws_start(cn) < 0) {
		pxc_free(cn);
		return;
	}
	bufferevent_set_timeouts(cn->c, NULL, NULL);
	bufferevent_set_timeouts(cn->u, NULL, NULL);
	pxc_ws_pump(cn);
}

/* The body ended (or was cut): what the decoder and the redactor hold
 * goes out, then the exchange ends. Returns 1 when it must wait for the
 * guest to read. */
static int
body_end(struct px_conn *cn)
{
	int r;

	if (cn->dec != NULL) {
		r = dec_drain(cn);
		if (r == 1)
			return 1;
		if (r < 0 || !sp_coding_done(cn->dec)) {
			if (r == 0)
				sg_info("sandbox %s: %s sent a compressed body "
				    "that ends too soon: the answer is cut "
				    "short", cn->sbx->id, cn->host);
			pxc_red_audit(cn, "response");
			pxc_free(cn);
			return 0;
		}
	}
	cn->rs_done = 1;
	if (body_out(cn, NULL, 0, 1) < 0) {
		pxc_free(cn);
		return 0;
	}
	if (cn->rs_chunked)
		evbuffer_add(bufferevent_get_output(cn->c), "0\r\n\r\n", 5);
	exchange_end(cn);
	return 0;
}

void
pxc_rs_pump(struct px_conn *cn)
{
	struct evbuffer *in;
	struct sg_http_chunk_out co;
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
		take = len < SG_HTTP_HEAD_MAX ? len : SG_HTTP_HEAD_MAX;
		b = evbuffer_pullup(in, (ssize_t)take);
		if (!cn->rs_parsing) {
			sg_http_head_init(&cn->rs, SG_HTTP_RESPONSE,
			    cn->rq.method_head);
			cn->rs_parsing = 1;
		}
		r = sg_http_head_parse(&cn->rs, b, take);
		if (r == -EAGAIN) {
			if (take >= SG_HTTP_HEAD_MAX)
				pxc_respond(cn, 502, "%s sent a response head over "
				    "%u bytes", cn->host, SG_HTTP_HEAD_MAX);
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
			ws_switch(cn, b);
			return;
		}
		if (cn->rs.status < 200) {
			if (pxc_red_setup(cn) < 0) {
				pxc_respond(cn, 502, "out of memory");
				return;
			}
			if (interim_head(cn, b) < 0)
				return;
			evbuffer_drain(in, cn->rs.head_len);
			cn->rs_interim = 1;
			continue;
		}
		if (final_head(cn, b) < 0)
			return;
		cn->rs_head = 1;
		cn->keep = cn->rq.keep_alive && cn->rs.keep_alive && !cn->rs_close;
		cn->rsb.kind = cn->rs.body;
		cn->rsb.left = cn->rs.content_length;
		sg_http_chunked_init(&cn->rsb.ch);
		cn->rsb.done = cn->rs.body == SG_HTTP_BODY_NONE ||
		    (cn->rs.body == SG_HTTP_BODY_LENGTH &&
		    cn->rs.content_length == 0);
		pxc_audit(cn, "allowed", cn->rs.status, NULL);
		evbuffer_drain(in, cn->rs.head_len);
	}
	while (!cn->rsb.done) {
		if (evbuffer_get_length(bufferevent_get_output(cn->c)) > PX_HIGH) {
			rs_wait_client(cn);
			return;
		}
		if (cn->dec != NULL) {
			/* what the decoder holds goes first */
			r = dec_drain(cn);
			if (r == 1) {
				rs_wait_client(cn);
				return;
			}
			if (r < 0) {
				pxc_free(cn);
				return;
			}
		}
		len = evbuffer_get_length(in);
		if (len == 0 && cn->u_eof && cn->rsb.kind == SG_HTTP_BODY_CLOSE) {
			cn->rsb.done = 1;	/* a close-delimited body ends */
			break;
		}
		if (len == 0 && cn->u_eof) {
			/* cut short: what came is sent, then the client's
			 * connection ends without a proper end of body */
			if (cn->dec == NULL)
				(void)body_out(cn, NULL, 0, 1);
			else if (dec_drain(cn) == 0)
				(void)body_out(cn, NULL, 0, 1);
			pxc_red_audit(cn, "response");
			cn->rs_done = 1;
			cn->keep = 0;
			pxc_close(cn);
			return;
		}
		if (len == 0)
			return;
		take = len < 65536 ? len : 65536;
		b = evbuffer_pullup(in, (ssize_t)take);
		if (cn->rsb.kind == SG_HTTP_BODY_CHUNKED) {
			r = sg_http_chunked_feed(&cn->rsb.ch, b, take, &co);
			if (r < 0) {
				pxc_free(cn);	/* cannot tell the client now */
				return;
			}
			if (co.data_len > 0 &&
			    rs_data(cn, b + co.data_off, co.data_len) < 0) {
				pxc_free(cn);
				return;
			}
			evbuffer_drain(in, co.used);
			if (r == 1)
				cn->rsb.done = 1;
			continue;
		}
		if (cn->rsb.kind == SG_HTTP_BODY_LENGTH && take > cn->rsb.left)
			take = (size_t)cn->rsb.left;
		if (!cn->rs_redact && cn->dec == NULL && !cn->rs_chunked)
			evbuffer_remove_buffer(in, bufferevent_get_output(cn->c),
			    take);	/* as it came: no copy */
		else {
			if (rs_data(cn, b, take) < 0) {
				pxc_free(cn);
				return;
			}
			evbuffer_drain(in, take);
		}
		if (cn->rsb.kind == SG_HTTP_BODY_LENGTH) {
			cn->rsb.left -= take;
			if (cn->rsb.left == 0)
				cn->rsb.done = 1;
		}
	}
	if (cn->rs_done)
		return;
	if (body_end(cn) == 1)
		rs_wait_client(cn);
}
