/* ag_sess: see sess.h. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "agent/chan.h"
#include "agent/conf.h"
#include "agent/poll.h"
#include "agent/sess.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/proto.h"

#define SESS_IN_MAX		(2 * SG_PROTO_MAX_FRAME)
#define SESS_KILL_GRACE_MS	1000	/* SIGHUP, then SIGKILL this later */
#define SESS_DOOM_MAX		4096
#define SESS_AGENT_VERSION	"sandgate-agent " PACKAGE_VERSION

/* A process group sent SIGHUP at CLOSE, to SIGKILL at a deadline. */
struct sess_doom {
	pid_t pgid;
	int64_t at;
	struct sess_doom *next;
};

struct ag_sess {
	struct ag_conf *conf;
	int fd;
	int fd_idx;
	int64_t paused_until;
	struct sg_buf *in;
	struct sg_buf *out;
	size_t out_partial;	/* bytes of the head frame not yet written */
	int synced;		/* a HELLO was accepted on this stream */
	struct ag_chan **chans;	/* SG_PROTO_MAX_CHANNELS slots */
	size_t nchans;
	struct sess_doom *doomed;
	size_t ndoomed;
	int broken;		/* a protocol error since the last run */
	int64_t poweroff_at;	/* POWEROFF's deadline (monotonic ms), or 0 */
};

int
ag_sess_new(struct ag_conf *conf, struct ag_sess **ret)
{
	struct ag_sess *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->conf = conf;
	s->fd = -1;
	s->fd_idx = -1;
	s->in = sg_buf_new(SESS_IN_MAX);
	s->out = sg_buf_new(AG_SESS_OUT_MAX);
	s->chans = calloc(SG_PROTO_MAX_CHANNELS, sizeof(*s->chans));
	if (s->in == NULL || s->out == NULL || s->chans == NULL) {
		ag_sess_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

/* Ends every channel: SIGKILL to its process group, then free. */
static void
sess_drop_channels(struct ag_sess *s)
{
	size_t i;

	for (i = 0; i < s->nchans; i++) {
		ag_chan_kill(s->chans[i]);
		ag_chan_free(s->chans[i]);
		s->chans[i] = NULL;
	}
	s->nchans = 0;
}

void
ag_sess_kill_all(struct ag_sess *s)
{
	struct sess_doom *d;

	for (d = s->doomed; d != NULL; d = d->next)
		kill(-d->pgid, SIGKILL);
	sess_drop_channels(s);
}

void
ag_sess_free(struct ag_sess *s)
{
	struct sess_doom *d;

	if (s == NULL)
		return;
	if (s->chans != NULL)
		ag_sess_kill_all(s);
	while (s->doomed != NULL) {
		d = s->doomed;
		s->doomed = d->next;
		free(d);
	}
	free(s->chans);
	sg_buf_free(s->in);
	sg_buf_free(s->out);
	free(s);
}

/* A new stream: nothing buffered belongs to it. */
static void
sess_restart(struct ag_sess *s)
{
	sg_buf_reset(s->in);
	sg_buf_reset(s->out);
	s->out_partial = 0;
	s->synced = 0;
}

void
ag_sess_attach(struct ag_sess *s, int fd)
{
	s->fd = fd;
	s->paused_until = 0;
	sess_restart(s);
}

void
ag_sess_pause(struct ag_sess *s, int64_t at)
{
	s->paused_until = at;
	sess_restart(s);
}

static struct ag_chan *
sess_find(const struct ag_sess *s, uint32_t id, size_t *ret_i)
{
	size_t i;

	for (i = 0; i < s->nchans; i++)
		if (ag_chan_id(s->chans[i]) == id) {
			if (ret_i != NULL)
				*ret_i = i;
			return s->chans[i];
		}
	return NULL;
}

int
ag_sess_poll(struct ag_sess *s, struct ag_poll *p, int64_t now)
{
	int out_room = sg_buf_len(s->out) < AG_SESS_OUT_HWM;
	struct sess_doom *d;
	short ev = 0;
	size_t i;
	int r;

	for (i = 0; i < s->nchans; i++) {
		r = ag_chan_poll(s->chans[i], p, out_room);
		if (r < 0)
			return r;
	}
	for (d = s->doomed; d != NULL; d = d->next)
		ag_poll_deadline(p, d->at);
	if (s->poweroff_at != 0)
		ag_poll_deadline(p, s->poweroff_at);
	s->fd_idx = -1;
	if (s->fd < 0)
		return 0;
	if (now < s->paused_until) {
		ag_poll_deadline(p, s->paused_until);
		return 0;
	}
	if (sg_buf_len(s->out) < AG_SESS_IN_STOP)
		ev |= POLLIN;
	if (sg_buf_len(s->out) > 0)
		ev |= POLLOUT;
	s->fd_idx = ag_poll_add(p, s->fd, ev);
	return s->fd_idx == -ENOMEM ? -ENOMEM : 0;
}

/* Keeps only the rest of a frame the peer already got part of, so the
 * peer's framing survives a HELLO on a live stream. */
static int
sess_drop_output(struct ag_sess *s)
{
	uint8_t keep[SG_PROTO_MAX_FRAME];
	size_t n = s->out_partial;

	memcpy(keep, sg_buf_data(s->out), n);
	sg_buf_reset(s->out);
	return sg_buf_put(s->out, keep, n);
}

/* The host broke the protocol: forget everything of this stream, as a
 * HELLO would, and wait for the next HELLO. */
static void
sess_protocol_error(struct ag_sess *s)
{
	sess_drop_channels(s);
	if (sess_drop_output(s) < 0)
		sg_buf_reset(s->out);	/* cannot happen: it shrinks */
	s->synced = 0;
	s->broken = 1;
}

/* HELLO: everything of the previous host ends; answer with our version. */
static int
sess_hello(struct ag_sess *s, const struct sg_msg *m)
{
	uint16_t vmin, vmax, ver;
	uint64_t nonce;
	int r;

	r = sg_proto_get_hello(m, &vmin, &vmax, &nonce);
	if (r < 0)
		return r;
	if (s->nchans > 0)
		sg_info("HELLO: ending %zu channels of the previous session",
		    s->nchans);
	sess_drop_channels(s);
	r = sess_drop_output(s);
	if (r < 0)
		return r;
	ver = sg_proto_version_pick(vmin, vmax);
	r = sg_proto_put_hello_ack(s->out, ver ? ver : SG_PROTO_VERSION, nonce,
	    SESS_AGENT_VERSION);
	if (r < 0)
		return r;
	if (ver == 0) {
		sg_warn("the host speaks protocol versions %u..%u; this agent "
		    "speaks %u..%u: update the image", vmin, vmax,
		    SG_PROTO_VERSION_MIN, SG_PROTO_VERSION);
		s->synced = 0;
		return 0;
	}
	if (!s->synced)
		sg_info("host said HELLO (at %lld ms since boot)",
		    (long long)sg_mono_ms());
	s->synced = 1;
	return 0;
}

static int
sess_config(struct ag_sess *s, const struct sg_msg *m)
{
	struct sg_config *cfg = NULL;
	char msg[512];
	int r;

	r = sg_proto_get_config(m, &cfg);
	if (r == -ENOMEM)
		return sg_proto_put_config_ack(s->out, ENOMEM,
		    "out of memory reading the configuration");
	if (r < 0)
		return r;
	r = ag_conf_apply(s->conf, cfg, msg, sizeof(msg));
	sg_config_free(cfg);
	if (r < 0 && -r <= 4095)
		return sg_proto_put_config_ack(s->out, (uint32_t)-r, msg);
	return sg_proto_put_config_ack(s->out, r < 0 ? EIO : 0, r < 0 ? msg : "");
}

static int
sess_open(struct ag_sess *s, const struct sg_msg *m)
{
	struct sg_open *o = NULL;
	struct ag_chan *c = NULL;
	int r;

	if (sess_find(s, m->chan, NULL) != NULL) {
		sg_warn("protocol error: OPEN of channel %u, which is open",
		    m->chan);
		return -EPROTO;
	}
	if (s->nchans >= SG_PROTO_MAX_CHANNELS)
		return sg_proto_put_open_fail(s->out, m->chan, EMFILE,
		    "too many channels open in this sandbox");
	r = sg_proto_get_open(m, &o);
	if (r == -ENOMEM)
		return sg_proto_put_open_fail(s->out, m->chan, ENOMEM,
		    "the guest is out of memory");
	if (r < 0) {
		sg_warn("protocol error: malformed OPEN for channel %u",
		    m->chan);
		return r;
	}
	r = ag_chan_open(m->chan, o, s->conf, &c);
	sg_open_free(o);
	if (r < 0)
		return sg_proto_put_open_fail(s->out, m->chan, ENOMEM,
		    "the guest is out of memory");
	s->chans[s->nchans++] = c;
	return 0;
}

/* The host closed a channel: a process still running gets SIGHUP now and
 * SIGKILL after a grace period. */
static void
sess_close(struct ag_sess *s, struct ag_chan *c)
{
	struct sess_doom *d;
	pid_t pgid;

	ag_chan_close(c, &pgid);
	if (pgid <= 0)
		return;
	d = s->ndoomed < SESS_DOOM_MAX ? malloc(sizeof(*d)) : NULL;
	if (d == NULL) {
		kill(-pgid, SIGKILL);
		return;
	}
	d->pgid = pgid;
	d->at = sg_mono_ms() + SESS_KILL_GRACE_MS;
	d->next = s->doomed;
	s->doomed = d;
	s->ndoomed++;
}

/* Handles one frame of a synced stream. Returns 0, -EPROTO (the host
 * broke the protocol: resynchronize) or -ENOMEM. */
static int
sess_dispatch(struct ag_sess *s, const struct sg_msg *m)
{
	struct ag_chan *c = NULL;
	uint16_t rows, cols, xpix, ypix;
	uint64_t cookie;
	uint32_t n;
	uint8_t signo;
	int r;

	switch (m->type) {
	case SG_MSG_HELLO:
		return sess_hello(s, m);
	case SG_MSG_CONFIG:
		return sess_config(s, m);
	case SG_MSG_PING:
		r = sg_proto_get_u64(m, &cookie);
		return r < 0 ? r : sg_proto_put_ping(s->out, SG_MSG_PONG, cookie);
	case SG_MSG_PONG:
		return 0;
	case SG_MSG_POWEROFF: {
		uint32_t secs;

		r = sg_proto_get_poweroff(m, &secs);
		if (r < 0)
			return r;
		/* the host's deadline for this machine (its lifetime),
		 * kept across reconnections: a later one replaces it */
		s->poweroff_at = sg_mono_ms() + (int64_t)secs * 1000;
		if (s->poweroff_at == 0)
			s->poweroff_at = 1;
		sg_info("the host asks for a power-off in %u s", secs);
		return 0;
	}
	case SG_MSG_OPEN:
		return sess_open(s, m);
	case SG_MSG_DATA:
	case SG_MSG_EOF:
	case SG_MSG_CREDIT:
	case SG_MSG_RESIZE:
	case SG_MSG_SIGNAL:
	case SG_MSG_CLOSE:
		c = sess_find(s, m->chan, NULL);
		if (c == NULL) {
			sg_debug("%s for unknown channel %u ignored",
			    sg_proto_type_name(m->type), m->chan);
			return 0;
		}
		break;
	default:
		sg_warn("protocol error: the host sent %s",
		    sg_proto_type_name(m->type));
		return -EPROTO;
	}
	switch (m->type) {
	case SG_MSG_DATA:
		r = ag_chan_data(c, m->stream, m->payload, m->len);
		if (r < 0)
			sg_warn("protocol error: DATA for channel %u beyond "
			    "its credit or after EOF", m->chan);
		return r;
	case SG_MSG_EOF:
		return ag_chan_eof(c, m->stream);
	case SG_MSG_CREDIT:
		r = sg_proto_get_u32(m, &n);
		if (r == 0)
			ag_chan_credit(c, n);
		return r;
	case SG_MSG_RESIZE:
		r = sg_proto_get_resize(m, &rows, &cols, &xpix, &ypix);
		if (r == 0)
			ag_chan_resize(c, rows, cols, xpix, ypix);
		return r;
	case SG_MSG_SIGNAL:
		r = sg_proto_get_signal(m, &signo);
		if (r == 0)
			ag_chan_signal(c, signo);
		return r;
	default:	/* SG_MSG_CLOSE */
		sess_close(s, c);
		return 0;
	}
}

/* Handles the whole frames in the input buffer, as long as the output
 * buffer has room for their answers. */
static void
sess_input(struct ag_sess *s)
{
	struct sg_msg m;
	size_t off, len;
	int r;

	while (sg_buf_len(s->out) < AG_SESS_IN_STOP) {
		len = sg_buf_len(s->in);
		if (len == 0)
			break;
		if (!s->synced) {
			off = sg_proto_find_hello(sg_buf_data(s->in), len);
			sg_buf_consume(s->in, off);
			if (off == len)
				break;
			len -= off;
		}
		r = sg_proto_peek(sg_buf_data(s->in), len, &m);
		if (r == 0)
			break;
		if (r < 0) {
			if (s->synced) {
				sg_warn("protocol error: bad frame header; "
				    "waiting for HELLO");
				sess_protocol_error(s);
			}
			sg_buf_consume(s->in, 1);
			continue;
		}
		if (!s->synced && m.type != SG_MSG_HELLO) {
			sg_buf_consume(s->in, 1);
			continue;
		}
		r = sess_dispatch(s, &m);
		sg_buf_consume(s->in, SG_PROTO_HDR_LEN + m.len);
		if (r == -ENOMEM) {
			/* Powering off over a passing shortage would be
			 * worse: start over, as after a protocol error. */
			sg_err("out of memory handling %s; waiting for HELLO",
			    sg_proto_type_name(m.type));
			sess_protocol_error(s);
		} else if (r < 0 && s->synced) {
			sg_warn("protocol error in %s (%s); waiting for HELLO",
			    sg_proto_type_name(m.type), strerror(-r));
			sess_protocol_error(s);
		}
	}
}

/* Notes which frame the peer is in the middle of after n more bytes of
 * the output buffer were written. */
static void
sess_track_written(struct ag_sess *s, size_t n)
{
	const uint8_t *p = sg_buf_data(s->out);
	size_t off, k, flen;

	k = s->out_partial < n ? s->out_partial : n;
	s->out_partial -= k;
	off = k;
	while (off < n) {
		/* The buffer holds whole frames: this header is complete. */
		flen = SG_PROTO_HDR_LEN + ((size_t)p[off + 8] << 24 |
		    (size_t)p[off + 9] << 16 | (size_t)p[off + 10] << 8 |
		    p[off + 11]);
		if (n - off >= flen) {
			off += flen;
		} else {
			s->out_partial = flen - (n - off);
			off = n;
		}
	}
}

/* Writes what the stream takes of the output buffer. Returns 0 or
 * -EPIPE. */
static int
sess_flush(struct ag_sess *s, int64_t now)
{
	ssize_t w;

	if (s->fd < 0 || now < s->paused_until)
		return 0;
	while (sg_buf_len(s->out) > 0) {
		w = write(s->fd, sg_buf_data(s->out), sg_buf_len(s->out));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w <= 0) {
			sg_debug("write to the host: %s",
			    w < 0 ? strerror(errno) : "nothing written");
			return -EPIPE;
		}
		sess_track_written(s, (size_t)w);
		sg_buf_consume(s->out, (size_t)w);
	}
	return 0;
}

int
ag_sess_run(struct ag_sess *s, struct ag_poll *p, int64_t now)
{
	short rev = ag_poll_revents(p, s->fd_idx);
	struct sess_doom **dp, *d;
	int result = 0;
	ssize_t n;
	size_t i;

	for (i = 0; i < s->nchans; i++)
		ag_chan_io(s->chans[i], p, s->out, AG_SESS_OUT_HWM);
	if (rev & (POLLIN | POLLHUP | POLLERR)) {
		n = sg_buf_read_fd(s->in, s->fd, 0);
		if (n == 0 || (n < 0 && n != -EAGAIN && n != -ENOBUFS &&
		    n != -EINTR))
			result = -EPIPE;
		if (n > 0)
			sess_input(s);
	} else if (sg_buf_len(s->in) > 0) {
		/* Frames held back while the output buffer was full. */
		sess_input(s);
	}
	for (i = 0; i < s->nchans;) {
		if (!ag_chan_progress(s->chans[i], s->out, AG_SESS_OUT_HWM)) {
			i++;
			continue;
		}
		ag_chan_free(s->chans[i]);
		s->chans[i] = s->chans[--s->nchans];
		s->chans[s->nchans] = NULL;
	}
	for (dp = &s->doomed; *dp != NULL;) {
		d = *dp;
		if (d->at > now) {
			dp = &d->next;
			continue;
		}
		kill(-d->pgid, SIGKILL);
		*dp = d->next;
		free(d);
		s->ndoomed--;
	}
	if (result == 0)
		result = sess_flush(s, now);
	if (result == 0 && s->broken)
		result = -EPROTO;
	s->broken = 0;
	if (s->poweroff_at != 0 && now >= s->poweroff_at)
		result = -ETIME;
	return result;
}

void
ag_sess_reaped(struct ag_sess *s, pid_t pid, int status)
{
	size_t i;

	for (i = 0; i < s->nchans; i++)
		if (ag_chan_reaped(s->chans[i], pid, status))
			return;
}
