/* px_conn, WebSocket: the relay after a 101. See pxconn.h.
 *
 * Both directions are read as frames (wsframe.h); the proxy agreed on no
 * extension, so payloads are plain. From the upstream, the payload of
 * every message and control frame is redacted (redact.h) and sent on in
 * frames of the proxy's own: a message may leave in other fragments
 * than it came in (RFC 6455 5.4 lets an intermediary do so when no
 * extension is in use), a control frame whose redacted payload passes
 * 125 bytes is cut at a character. From the guest, frames go on as they
 * came (still masked), each payload scanned for placeholders on the way
 * with the last PX_HOLD bytes of a frame held until it ends: a
 * placeholder this host may not receive, or another sandbox's, ends
 * the relay with close code 1008 and an audit event. A frame that
 * breaks the protocol ends it with 1002. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/buf.h"
#include "common/log.h"
#include "secrets/proxy.h"
#include "secrets/pxconn.h"
#include "secrets/redact.h"
#include "secrets/scan.h"
#include "secrets/wsframe.h"

#define WS_TAKE		65536	/* payload bytes handled at once */

/* One direction's frame being read. */
struct ws_in {
	struct sp_ws_seq seq;
	struct sp_ws_frame f;
	int in_frame;		/* its header was read */
	uint64_t left;		/* payload bytes still to come */
	uint64_t off;		/* payload bytes read (the mask offset) */
};

struct px_ws {
	struct ws_in up;	/* upstream -> guest */
	int up_started;		/* a fragment of this message was sent */
	struct ws_in gu;	/* guest -> upstream */
	size_t held;		/* guest payload bytes scanned, not sent */
	struct sp_scan *cscan;	/* the guest's control frames: cn->scan
				 * follows its message across them */
	int done;		/* closed by the proxy */
};

int
pxc_ws_start(struct px_conn *cn)
{
	struct px_ws *w = calloc(1, sizeof(*w));

	if (w == NULL || sp_scan_new((const char *const *)cn->sbx->ph_value,
	    cn->sbx->nph, &w->cscan) < 0) {
		free(w);
		return -ENOMEM;
	}
	cn->wsr = w;
	cn->tunnel = 1;
	sp_scan_reset(cn->scan);
	evbuffer_drain(cn->hold, evbuffer_get_length(cn->hold));
	return 0;
}

void
pxc_ws_free(struct px_ws *w)
{
	if (w == NULL)
		return;
	sp_scan_free(w->cscan);
	free(w);
}

/* Ends the relay: a close frame to the guest (code, reason), the
 * upstream connection dropped, the guest's connection closed once the
 * frame is written. */
static void
ws_fail(struct px_conn *cn, uint16_t code, const char *reason)
{
	uint8_t h[SP_WS_HEAD_MAX], p[SP_WS_CONTROL_MAX];
	size_t hn, pn;

	cn->wsr->done = 1;
	if (cn->c != NULL) {
		pn = sp_ws_close_payload(p, code, reason, strlen(reason));
		hn = sp_ws_head(h, 1, SP_WS_CLOSE, pn, NULL);
		bufferevent_write(cn->c, h, hn);
		bufferevent_write(cn->c, p, pn);
	}
	pxc_close(cn);
}

/* Writes one frame to the guest. */
static void
to_guest(struct px_conn *cn, int fin, unsigned op, const void *p, size_t n)
{
	uint8_t h[SP_WS_HEAD_MAX];
	size_t hn = sp_ws_head(h, fin, op, n, NULL);

	bufferevent_write(cn->c, h, hn);
	if (n > 0)
		bufferevent_write(cn->c, p, n);
}

/* A control frame from the upstream, its whole payload p[0..n): redacted,
 * cut to 125 bytes. */
static int
up_control(struct px_conn *cn, unsigned op, const uint8_t *p, size_t n)
{
	struct sg_buf *o = NULL;
	const uint8_t *d = p;
	size_t dn = n, skip = 0;
	int r = 0;

	if (cn->red1 != NULL) {
		o = sg_buf_new(SP_WS_CONTROL_MAX * 64);
		if (o == NULL)
			return -1;
		sg_buf_set_wipe(o, 1);
		/* a close frame's status code is not text */
		skip = op == SP_WS_CLOSE && n >= 2 ? 2 : 0;
		if (sg_buf_put(o, p, skip) < 0 ||
		    sp_redact_once(cn->red1, p + skip, n - skip, o) < 0)
			r = -1;
		cn->redacted |= sp_redact_found(cn->red1);
		d = sg_buf_data(o);
		dn = sg_buf_len(o);
	}
	if (r == 0) {
		if (dn > SP_WS_CONTROL_MAX)
			dn = skip + sp_ws_utf8_cut(d + skip, dn - skip,
			    SP_WS_CONTROL_MAX - skip);
		to_guest(cn, 1, op, d, dn);
	}
	sg_buf_free(o);
	return r;
}

/* Payload bytes of a data frame from the upstream, redacted, sent as a
 * fragment of the guest's message (nothing when all is held back). */
static int
up_payload(struct px_conn *cn, const uint8_t *p, size_t n, int end_of_msg)
{
	struct px_ws *w = cn->wsr;
	struct sg_buf *o = NULL;
	const uint8_t *d = p;
	size_t dn = n;
	unsigned op;
	int r = 0;

	if (cn->red != NULL) {
		o = sg_buf_new(SIZE_MAX);
		if (o == NULL)
			return -1;
		sg_buf_set_wipe(o, 1);
		r = sp_redact_feed(cn->red, p, n, end_of_msg, o);
		cn->redacted |= sp_redact_found(cn->red);
		d = sg_buf_data(o);
		dn = sg_buf_len(o);
	}
	if (r >= 0 && (dn > 0 || end_of_msg)) {
		op = w->up_started ? SP_WS_CONT : w->up.seq.msg_opcode;
		to_guest(cn, end_of_msg, op, d, dn);
		w->up_started = !end_of_msg;
	}
	sg_buf_free(o);
	return r < 0 ? -1 : 0;
}

/* Frames from the upstream to the guest while the guest keeps up (or
 * all that came, at the upstream's end). Returns -1 when the relay
 * ended. */
static int
pump_up(struct px_conn *cn, int eof)
{
	struct px_ws *w = cn->wsr;
	struct ws_in *u = &w->up;
	struct evbuffer *in = bufferevent_get_input(cn->u);
	const char *why = NULL;
	size_t len, take;
	uint8_t *b;
	int r;

	for (;;) {
		if (!eof && evbuffer_get_length(bufferevent_get_output(cn->c)) >
		    PX_HIGH)
			return 0;
		len = evbuffer_get_length(in);
		if (!u->in_frame) {
			take = len < SP_WS_HEAD_MAX ? len : SP_WS_HEAD_MAX;
			b = evbuffer_pullup(in, (ssize_t)take);
			r = sp_ws_parse(b, take, 0, &u->f, &why);
			if (r == -EAGAIN)
				return 0;
			if (r < 0 || sp_ws_seq_next(&u->seq, &u->f, &why) < 0) {
				sg_info("sandbox %s: %s sent a bad WebSocket frame "
				    "(%s): closed", cn->sbx->id, cn->host, why);
				ws_fail(cn, SP_WS_CLOSE_PROTOCOL, "the server "
				    "broke the WebSocket protocol");
				return -1;
			}
			if (sp_ws_is_control(u->f.opcode)) {
				/* at most 125 bytes: handled whole */
				if (len < u->f.head_len + u->f.len)
					return 0;
				b = evbuffer_pullup(in, (ssize_t)(u->f.head_len +
				    u->f.len));
				if (up_control(cn, u->f.opcode, b + u->f.head_len,
				    (size_t)u->f.len) < 0) {
					pxc_free(cn);	/* never a frame left out */
					return -1;
				}
				evbuffer_drain(in, u->f.head_len + u->f.len);
				continue;
			}
			evbuffer_drain(in, u->f.head_len);
			len -= u->f.head_len;
			if (u->f.opcode != SP_WS_CONT) {
				/* a new message: a new redaction stream */
				if (cn->red != NULL)
					sp_redact_reset(cn->red);
				w->up_started = 0;
			}
			u->in_frame = 1;
			u->left = u->f.len;
			u->off = 0;
		}
		take = u->left < len ? (size_t)u->left : len;
		if (take > WS_TAKE)
			take = WS_TAKE;
		if (take == 0 && u->left > 0)
			return 0;
		b = take ? evbuffer_pullup(in, (ssize_t)take) : NULL;
		if (up_payload(cn, b, take, u->f.fin && take == u->left) < 0) {
			pxc_free(cn);
			return -1;
		}
		evbuffer_drain(in, take);
		u->left -= take;
		u->off += take;
		if (u->left == 0)
			u->in_frame = 0;
	}
}

/* Checks the guest's payload so far (scan: cn->scan for messages,
 * cscan for control frames); ends the relay when it must. */
static int
gu_verdict(struct px_conn *cn, struct sp_scan *scan, int final)
{
	char why[512];

	if (pxc_scan_verdict(cn, scan, "websocket", final, why,
	    sizeof(why)) == 0)
		return 0;
	ws_fail(cn, SP_WS_CLOSE_POLICY, "sandgate-proxy: the message carries "
	    "a placeholder this host may not receive");
	return -1;
}

/* Frames from the guest to the upstream while the upstream keeps up (or
 * all that came, at the guest's end). Returns -1 when the relay ended. */
static int
pump_guest(struct px_conn *cn, int eof)
{
	struct px_ws *w = cn->wsr;
	struct ws_in *g = &w->gu;
	struct evbuffer *in = bufferevent_get_input(cn->c);
	struct evbuffer *out = bufferevent_get_output(cn->u);
	uint8_t buf[WS_TAKE];
	const char *why = NULL;
	size_t len, take, n;
	uint8_t *b;
	int r;

	for (;;) {
		if (!eof && evbuffer_get_length(out) > PX_HIGH)
			return 0;
		len = evbuffer_get_length(in);
		if (!g->in_frame) {
			take = len < SP_WS_HEAD_MAX ? len : SP_WS_HEAD_MAX;
			b = evbuffer_pullup(in, (ssize_t)take);
			r = sp_ws_parse(b, take, 1, &g->f, &why);
			if (r == -EAGAIN)
				return 0;
			if (r < 0 || sp_ws_seq_next(&g->seq, &g->f, &why) < 0) {
				sg_info("sandbox %s: a bad WebSocket frame toward "
				    "%s (%s): closed", cn->sbx->id, cn->host, why);
				ws_fail(cn, SP_WS_CLOSE_PROTOCOL, why);
				return -1;
			}
			if (sp_ws_is_control(g->f.opcode)) {
				if (len < g->f.head_len + g->f.len)
					return 0;
				b = evbuffer_pullup(in, (ssize_t)(g->f.head_len +
				    g->f.len));
				n = (size_t)g->f.len;
				memcpy(buf, b + g->f.head_len, n);
				sp_ws_mask(buf, n, g->f.key, 0);
				/* its own scanner: a message's placeholder cut
				 * by a ping is still seen whole */
				sp_scan_reset(w->cscan);
				sp_scan_feed(w->cscan, buf, n);
				sp_scan_break(w->cscan);
				if (gu_verdict(cn, w->cscan, 1) < 0)
					return -1;
				evbuffer_remove_buffer(in, out, g->f.head_len + n);
				continue;
			}
			if (g->f.opcode != SP_WS_CONT)
				sp_scan_reset(cn->scan);	/* a new message */
			evbuffer_remove_buffer(in, out, g->f.head_len);
			len -= g->f.head_len;
			g->in_frame = 1;
			g->left = g->f.len;
			g->off = 0;
			w->held = 0;
		}
		take = g->left - w->held < len - w->held ?
		    (size_t)(g->left - w->held) : len - w->held;
		if (take > sizeof(buf))
			take = sizeof(buf);
		if (take > 0) {
			/* the held bytes were scanned: the new ones follow */
			b = evbuffer_pullup(in, (ssize_t)(w->held + take));
			memcpy(buf, b + w->held, take);
			sp_ws_mask(buf, take, g->f.key, g->off + w->held);
			sp_scan_feed(cn->scan, buf, take);
			w->held += take;
		}
		if (w->held == g->left) {
			/* the frame's end: the message's end too with fin */
			if (g->f.fin)
				sp_scan_break(cn->scan);
			if (gu_verdict(cn, cn->scan, g->f.fin) < 0)
				return -1;
			evbuffer_remove_buffer(in, out, w->held);
			g->in_frame = 0;
			w->held = 0;
			continue;
		}
		if (gu_verdict(cn, cn->scan, 0) < 0)
			return -1;
		if (w->held > PX_HOLD) {
			n = w->held - PX_HOLD;
			evbuffer_remove_buffer(in, out, n);
			g->left -= n;
			g->off += n;
			w->held -= n;
		}
		if (take == 0)
			return 0;
	}
}

void
pxc_ws_pump(struct px_conn *cn)
{
	if (cn->wsr == NULL || cn->wsr->done || cn->c == NULL || cn->u == NULL)
		return;
	if (pump_guest(cn, 0) < 0)
		return;
	(void)pump_up(cn, 0);
}

static void
u_written_free(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		pxc_free(arg);
}

void
pxc_ws_guest_eof(struct px_conn *cn)
{
	struct timeval tv = pxc_tv(px_cfg(cn->px)->idle_ms);

	/* the whole frames it sent go on (a frame cut short does not) */
	if (cn->wsr != NULL && !cn->wsr->done && pump_guest(cn, 1) < 0)
		return;
	cn->closing = 1;
	bufferevent_free(cn->c);
	cn->c = NULL;
	bufferevent_setwatermark(cn->u, EV_WRITE, 0, 0);
	bufferevent_setcb(cn->u, pxc_drain_read, u_written_free, pxc_free_event,
	    cn);
	bufferevent_set_timeouts(cn->u, NULL, &tv);
	bufferevent_enable(cn->u, EV_READ | EV_WRITE);
	pxc_drain_read(cn->u, cn);	/* reading resumes: a writer is not stuck */
	u_written_free(cn->u, cn);
}

void
pxc_ws_up_eof(struct px_conn *cn)
{
	/* the whole frames it sent go to the guest */
	if (cn->wsr != NULL && !cn->wsr->done && pump_up(cn, 1) < 0)
		return;
	pxc_red_audit(cn, "websocket");
	pxc_close(cn);
}
