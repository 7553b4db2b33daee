/* sg_hub: agent connections shared by many SSH connections, see hub.h.
 *
 * Per sandbox the hub holds the agent stream, does the handshake (HELLO
 * until the matching HELLO_ACK, then CONFIG) and keeps a table mapping
 * agent channel ids to (link, link channel id). A link is one worker's
 * SSH connection: it sends HELLO and CONFIG, which the hub answers itself
 * once the agent is ready, then channel frames, which are checked and
 * relayed with the channel id rewritten.
 *
 * Memory: the agent never sends more channel data than the worker granted
 * (credits pass through unchanged), so what the hub queues toward a link
 * is bounded by that link's channels' windows; the same holds toward the
 * agent. Control frames are bounded by the buffers' hard maxima: a link
 * that overflows its buffer is dropped, an agent that does is too. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/proto.h"
#include "gateway/hub.h"
#include "common/allow.h"
#include "netpolicy/resolver.h"
#include "common/mpipe.h"

#define HUB_MAX_SANDBOXES	1024
#define HUB_MAX_LINKS		2048
#define LINK_MAX_CHANNELS	32
#define LINK_OUT_MAX		(16u << 20)	/* 32 x 256 KiB windows + frames */
#define AGENT_OUT_MAX		(16u << 20)
#define HELLO_INTERVAL_MS	250

enum hs_state { HS_CONNECT, HS_HELLO, HS_CONFIG, HS_READY, HS_DOWN };

struct hsbx;

struct hlink {
	struct hlink *next;
	struct hsbx *s;
	int fd;
	struct sg_buf *in, *out;
	int hello_pending;	/* HELLO seen, not yet answered */
	uint64_t hello_nonce;
	int dead;
};

/* One agent channel: which link and link channel it belongs to. */
struct hmap {
	struct hmap *next;
	uint32_t aid, wid;
	struct hlink *l;	/* NULL once the link is gone */
	int w_closed, a_closed;
};

struct hsbx {
	struct hsbx *next;
	char *id;
	int fd;
	uint32_t cid;		/* vsock: connect here; 0: fd given */
	enum hs_state st;
	struct sg_buf *in, *out;
	struct sg_config *cfg;
	uint64_t nonce;
	int64_t next_hello_ms, deadline_ms;
	uint32_t next_aid;
	struct hmap *maps;
	int dead;
	char *why;
};

struct hub {
	struct np_res *res;
	int mon_fd;
	struct sg_buf *msg;
	struct hsbx *sbxs;
	struct hlink *links;
	unsigned nsbx, nlinks;
	int quit;
};

static struct hub *the_hub;	/* for the resolver's callbacks */

/* The resolver wants the firewall opened for an answer: ask the monitor,
 * which checks it against its own copy of the policy. */
static int
res_allow(void *arg, const char *id, uint32_t seq, const char *name,
    const struct np_dns_rr *rr, size_t n)
{
	struct hub *h = the_hub;
	size_t i;

	(void)arg;
	if (h == NULL)
		return -ENOTCONN;
	sg_buf_reset(h->msg);
	if (sg_buf_put_u8(h->msg, SG_MP_HUB_ALLOW) < 0 ||
	    sg_mp_put_str(h->msg, id) < 0 ||
	    sg_buf_put_u32(h->msg, seq) < 0 ||
	    sg_mp_put_str(h->msg, name) < 0 ||
	    sg_buf_put_u32(h->msg, (uint32_t)n) < 0)
		return -ENOBUFS;
	for (i = 0; i < n; i++)
		if (sg_buf_put(h->msg, &rr[i].addr, 4) < 0 ||
		    sg_buf_put_u32(h->msg, rr[i].ttl) < 0)
			return -ENOBUFS;
	return sg_mp_send(h->mon_fd, h->msg, -1);
}

static void
res_refused(void *arg, const char *id, const char *name, const char *why)
{
	struct hub *h = the_hub;

	(void)arg;
	if (h == NULL)
		return;
	sg_buf_reset(h->msg);
	if (sg_buf_put_u8(h->msg, SG_MP_HUB_REFUSED) == 0 &&
	    sg_mp_put_str(h->msg, id) == 0 &&
	    sg_mp_put_str(h->msg, name) == 0 &&
	    sg_mp_put_str(h->msg, why) == 0)
		(void)sg_mp_send(h->mon_fd, h->msg, -1);
}

const struct np_res_ops sg_hub_res_ops = {
	.allow = res_allow,
	.refused = res_refused,
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
tell_monitor(struct hub *h, const char *id, uint8_t state, const char *why)
{
	sg_buf_reset(h->msg);
	if (sg_buf_put_u8(h->msg, SG_MP_HUB_STATUS) == 0 &&
	    sg_mp_put_str(h->msg, id) == 0 &&
	    sg_buf_put_u8(h->msg, state) == 0 &&
	    sg_mp_put_str(h->msg, why) == 0)
		sg_mp_send(h->mon_fd, h->msg, -1);
}

/* --- links --- */

static void
link_kill(struct hlink *l)
{
	struct hmap *m;

	if (l->dead)
		return;
	l->dead = 1;
	/* Every channel of the link ends: the agent stops its processes. */
	if (l->s != NULL) {
		for (m = l->s->maps; m != NULL; m = m->next) {
			if (m->l != l)
				continue;
			m->l = NULL;
			if (!m->w_closed && !l->s->dead) {
				m->w_closed = 1;
				if (sg_proto_put_close(l->s->out, m->aid) < 0)
					l->s->dead = 1;
			}
		}
	}
}

static void
link_free(struct hlink *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	sg_buf_free(l->in);
	sg_buf_free(l->out);
	free(l);
}

/* Queues a frame toward a link, with its channel id replaced. */
static void
link_put(struct hlink *l, const struct sg_msg *m, uint32_t chan)
{
	if (l->dead)
		return;
	if (sg_proto_put_frame(l->out, m->type, m->stream, chan, m->payload,
	    m->len) < 0) {
		sg_warn("hub: a worker stopped reading its link: dropping it");
		link_kill(l);
	}
}

static void
link_answer_hello(struct hlink *l)
{
	if (!l->hello_pending || l->s == NULL || l->s->st != HS_READY)
		return;
	l->hello_pending = 0;
	if (sg_proto_put_hello_ack(l->out, SG_PROTO_VERSION, l->hello_nonce,
	    "sandgate-hub") < 0)
		link_kill(l);
}

static struct hmap *
map_by_wid(struct hsbx *s, struct hlink *l, uint32_t wid)
{
	struct hmap *m;

	for (m = s->maps; m != NULL; m = m->next)
		if (m->l == l && m->wid == wid && !m->w_closed)
			return m;
	return NULL;
}

static unsigned
link_channels(struct hsbx *s, struct hlink *l)
{
	struct hmap *m;
	unsigned n = 0;

	for (m = s->maps; m != NULL; m = m->next)
		if (m->l == l)
			n++;
	return n;
}

/* Frees mappings that both ends closed. */
static void
maps_reap(struct hsbx *s)
{
	struct hmap **pp = &s->maps, *m;

	while ((m = *pp) != NULL) {
		if (m->a_closed && (m->w_closed || m->l == NULL)) {
			*pp = m->next;
			free(m);
			continue;
		}
		pp = &m->next;
	}
}

/* One frame from a worker's link. Returns -1 to drop the link. */
static int
link_frame(struct hlink *l, const struct sg_msg *m)
{
	struct hsbx *s = l->s;
	struct hmap *mp;
	uint64_t u64;
	uint16_t vmin, vmax;

	switch (m->type) {
	case SG_MSG_HELLO:
		if (sg_proto_get_hello(m, &vmin, &vmax, &u64) < 0 ||
		    vmin > SG_PROTO_VERSION || vmax < SG_PROTO_VERSION)
			return -1;
		l->hello_pending = 1;
		l->hello_nonce = u64;
		link_answer_hello(l);
		return 0;
	case SG_MSG_CONFIG:
		/* The sandbox's configuration came from the monitor. */
		return sg_proto_put_config_ack(l->out, 0, "") < 0 ? -1 : 0;
	case SG_MSG_PING:
		if (sg_proto_get_u64(m, &u64) < 0)
			return -1;
		return sg_proto_put_ping(l->out, SG_MSG_PONG, u64) < 0 ? -1 : 0;
	case SG_MSG_PONG:
		return 0;
	default:
		break;
	}
	if (s == NULL || s->st != HS_READY)
		return -1;	/* channel traffic before the handshake */
	if (m->type == SG_MSG_OPEN) {
		struct sg_open *o = NULL;

		/* Decoded to check it, relayed as it came. */
		if (sg_proto_get_open(m, &o) < 0)
			return -1;
		sg_open_free(o);
		if (map_by_wid(s, l, m->chan) != NULL ||
		    link_channels(s, l) >= LINK_MAX_CHANNELS)
			return -1;
		mp = calloc(1, sizeof(*mp));
		if (mp == NULL)
			return -1;
		if (++s->next_aid == 0)
			s->next_aid = 1;
		mp->aid = s->next_aid;
		mp->wid = m->chan;
		mp->l = l;
		mp->next = s->maps;
		s->maps = mp;
	} else {
		mp = map_by_wid(s, l, m->chan);
		if (mp == NULL) {
			/* CLOSE crossing the agent's: harmless. */
			return m->type == SG_MSG_CLOSE ? 0 : -1;
		}
		switch (m->type) {
		case SG_MSG_DATA:
		case SG_MSG_EOF:
		case SG_MSG_CREDIT:
		case SG_MSG_RESIZE:
		case SG_MSG_SIGNAL:
			break;
		case SG_MSG_CLOSE:
			mp->w_closed = 1;
			break;
		default:
			return -1;	/* agent-to-host types from a worker */
		}
	}
	if (sg_proto_put_frame(s->out, m->type, m->stream, mp->aid, m->payload,
	    m->len) < 0) {
		sg_warn("hub: sandbox %s: the agent stopped reading", s->id);
		s->dead = 1;
		return 0;
	}
	return 0;
}

static void
link_read(struct hlink *l)
{
	struct sg_msg m;
	ssize_t n;
	int r;

	n = sg_buf_read_fd(l->in, l->fd, 0);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		link_kill(l);
		return;
	}
	for (;;) {
		r = sg_proto_peek(sg_buf_data(l->in), sg_buf_len(l->in), &m);
		if (r == 0)
			break;
		if (r < 0 || link_frame(l, &m) < 0) {
			sg_warn("hub: sandbox %s: a worker sent a bad frame "
			    "(%s): dropping its link", l->s ? l->s->id : "-",
			    sg_proto_type_name(m.type));
			link_kill(l);
			return;
		}
		sg_buf_consume(l->in, SG_PROTO_HDR_LEN + m.len);
	}
}

/* --- sandboxes --- */

static struct hsbx *
sbx_find(struct hub *h, const char *id)
{
	struct hsbx *s;

	for (s = h->sbxs; s != NULL; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* With tell: the agent connection failed; the monitor hears why and
 * answers with DROP once it has told the sandbox's workers, so the links
 * stay open until then. Without: DROP itself; the links close (their
 * workers tell the clients) and the sandbox is freed. */
static void
sbx_down(struct hub *h, struct hsbx *s, const char *why, int tell)
{
	struct hlink *l;

	if (tell) {
		if (s->st == HS_DOWN)
			return;
		tell_monitor(h, s->id, SG_MP_HUB_DOWN, why);
		s->st = HS_DOWN;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return;
	}
	for (l = h->links; l != NULL; l = l->next)
		if (l->s == s) {
			l->dead = 1;
			l->s = NULL;
		}
	s->dead = 2;	/* freed by the loop */
}

static void
sbx_free(struct hsbx *s)
{
	struct hmap *m;

	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	while ((m = s->maps) != NULL) {
		s->maps = m->next;
		free(m);
	}
	sg_buf_free(s->in);
	sg_buf_free(s->out);
	sg_config_free(s->cfg);
	free(s->id);
	free(s->why);
	free(s);
}

static void
sbx_send_hello(struct hsbx *s)
{
	if (sg_proto_put_hello(s->out, s->nonce) < 0)
		s->dead = 1;
	s->next_hello_ms = now_ms() + HELLO_INTERVAL_MS;
}

static void
sbx_try_vsock(struct hsbx *s)
{
	struct sockaddr_vm sv;
	struct timeval tv = { 0, 200000 };
	int fd;

	s->next_hello_ms = now_ms() + HELLO_INTERVAL_MS;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&sv, 0, sizeof(sv));
	sv.svm_family = AF_VSOCK;
	sv.svm_cid = s->cid;
	sv.svm_port = SG_PROTO_VSOCK_PORT;
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sv, sizeof(sv)) < 0) {
		close(fd);
		return;
	}
	set_nonblock(fd);
	s->fd = fd;
	s->st = HS_HELLO;
	sbx_send_hello(s);
}

/* One frame from an agent. Returns -1 when the agent broke the protocol. */
static int
agent_frame(struct hub *h, struct hsbx *s, const struct sg_msg *m)
{
	struct hmap *mp;
	struct hlink *l;
	uint64_t u64;
	uint32_t u32, pid;
	uint16_t ver;
	const char *str;
	size_t slen;
	uint8_t a, b, c;

	if (s->st == HS_HELLO) {
		if (m->type == SG_MSG_HELLO_ACK &&
		    sg_proto_get_hello_ack(m, &ver, &u64) == 0 &&
		    u64 == s->nonce) {
			if (ver != SG_PROTO_VERSION)
				return -1;
			if (sg_proto_put_config(s->out, s->cfg) < 0)
				return -1;
			s->st = HS_CONFIG;
		}
		return 0;
	}
	if (s->st == HS_CONFIG) {
		if (m->type != SG_MSG_CONFIG_ACK)
			return 0;
		if (sg_proto_get_config_ack(m, &u32, &str, &slen) < 0 || u32 != 0)
			return -1;
		s->st = HS_READY;
		sg_info("hub: sandbox %s: agent ready", s->id);
		tell_monitor(h, s->id, SG_MP_HUB_READY, "ready");
		for (l = h->links; l != NULL; l = l->next)
			if (l->s == s)
				link_answer_hello(l);
		return 0;
	}
	switch (m->type) {
	case SG_MSG_PING:
		if (sg_proto_get_u64(m, &u64) < 0)
			return -1;
		return sg_proto_put_ping(s->out, SG_MSG_PONG, u64) < 0 ? -1 : 0;
	case SG_MSG_PONG:
	case SG_MSG_HELLO_ACK:
	case SG_MSG_CONFIG_ACK:
		return 0;
	case SG_MSG_OPEN_OK:
		if (sg_proto_get_open_ok(m, &u32, &pid) < 0)
			return -1;
		break;
	case SG_MSG_OPEN_FAIL:
		if (sg_proto_get_open_fail(m, &u32, &str, &slen) < 0)
			return -1;
		break;
	case SG_MSG_EXIT:
		if (sg_proto_get_exit(m, &a, &b, &c) < 0)
			return -1;
		break;
	case SG_MSG_CREDIT:
		if (sg_proto_get_u32(m, &u32) < 0)
			return -1;
		break;
	case SG_MSG_DATA:
	case SG_MSG_EOF:
	case SG_MSG_CLOSE:
		break;	/* sg_proto_peek checked their shape */
	default:
		return -1;	/* host-to-agent types from the agent */
	}
	for (mp = s->maps; mp != NULL; mp = mp->next)
		if (mp->aid == m->chan && !mp->a_closed)
			break;
	if (mp == NULL)
		return m->chan < s->next_aid + 1 ? 0 : -1;
	if (m->type == SG_MSG_CLOSE || m->type == SG_MSG_OPEN_FAIL)
		mp->a_closed = 1;
	if (mp->l != NULL && !mp->w_closed)
		link_put(mp->l, m, mp->wid);
	else if (m->type == SG_MSG_OPEN_FAIL)
		mp->w_closed = 1;
	if (m->type == SG_MSG_OPEN_FAIL && mp->l != NULL)
		mp->w_closed = 1;	/* the id is free on both sides */
	return 0;
}

static void
agent_read(struct hub *h, struct hsbx *s)
{
	struct sg_msg m;
	ssize_t n;
	int r;

	n = sg_buf_read_fd(s->in, s->fd, 0);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		sbx_down(h, s, s->st == HS_READY ? "the sandbox stopped" :
		    "the sandbox stopped while booting", 1);
		return;
	}
	for (;;) {
		r = sg_proto_peek(sg_buf_data(s->in), sg_buf_len(s->in), &m);
		if (s->st == HS_HELLO && (r < 0 ||
		    (r == 1 && m.type != SG_MSG_HELLO_ACK))) {
			/* Bytes from before this connection: skip. */
			sg_buf_consume(s->in, r < 0 ? 1 : SG_PROTO_HDR_LEN + m.len);
			continue;
		}
		if (r == 0)
			break;
		if (r < 0 || agent_frame(h, s, &m) < 0) {
			sg_warn("hub: sandbox %s: the guest agent broke the "
			    "protocol (%s)", s->id, sg_proto_type_name(m.type));
			sbx_down(h, s, "the guest agent broke the protocol", 1);
			return;
		}
		sg_buf_consume(s->in, SG_PROTO_HDR_LEN + m.len);
	}
}

/* --- the monitor's requests --- */

static int
mon_agent(struct hub *h, struct sg_cur *c, int fd)
{
	struct hsbx *s = NULL;
	char *id = NULL, *k = NULL, *v = NULL;
	uint32_t boot_ms, cid, n, i;
	int r = -EPROTO;

	if (sg_mp_get_str(c, 64, &id) < 0)
		goto fail;
	boot_ms = sg_cur_u32(c);
	cid = sg_cur_u32(c);
	n = sg_cur_u32(c);
	if (c->err || n > 256 || (fd < 0) == (cid == 0))
		goto fail;
	if (sbx_find(h, id) != NULL || h->nsbx >= HUB_MAX_SANDBOXES) {
		r = -EEXIST;
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto fail;
	s->fd = -1;
	s->in = sg_buf_new(2 * SG_PROTO_MAX_FRAME);
	s->out = sg_buf_new(AGENT_OUT_MAX);
	s->cfg = sg_config_new();
	if (s->in == NULL || s->out == NULL || s->cfg == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (sg_mp_get_str(c, 64, &k) < 0 || sg_mp_get_str(c, 16384, &v) < 0 ||
		    sg_config_add(s->cfg, k, v) < 0)
			goto fail;
		free(k);
		free(v);
		k = v = NULL;
	}
	{
		struct timespec ts;
		char tbuf[64];

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(tbuf, sizeof(tbuf), "%lld.%09ld", (long long)ts.tv_sec,
		    ts.tv_nsec);
		if (sg_config_add(s->cfg, "time", tbuf) < 0)
			goto fail;
	}
	if (getrandom(&s->nonce, sizeof(s->nonce), 0) != sizeof(s->nonce))
		goto fail;
	s->id = id;
	id = NULL;
	s->cid = cid;
	s->deadline_ms = now_ms() + boot_ms;
	if (fd >= 0) {
		set_nonblock(fd);
		s->fd = fd;
		fd = -1;
		s->st = HS_HELLO;
		sbx_send_hello(s);
	} else {
		s->st = HS_CONNECT;
		sbx_try_vsock(s);
	}
	s->next = h->sbxs;
	h->sbxs = s;
	h->nsbx++;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(id);
	free(k);
	free(v);
	sbx_free(s);
	return r;
}

static int
mon_link(struct hub *h, struct sg_cur *c, int fd)
{
	struct hlink *l = NULL;
	struct hsbx *s;
	char *id = NULL;

	if (fd < 0 || sg_mp_get_str(c, 64, &id) < 0)
		goto fail;
	s = sbx_find(h, id);
	if (s == NULL || s->dead || h->nlinks >= HUB_MAX_LINKS)
		goto fail;	/* the worker sees its link close */
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		goto fail;
	l->in = sg_buf_new(2 * SG_PROTO_MAX_FRAME);
	l->out = sg_buf_new(LINK_OUT_MAX);
	if (l->in == NULL || l->out == NULL)
		goto fail;
	set_nonblock(fd);
	l->fd = fd;
	l->s = s;
	l->next = h->links;
	h->links = l;
	h->nlinks++;
	free(id);
	return 0;
fail:
	if (l != NULL) {
		l->fd = -1;
		link_free(l);
	}
	if (fd >= 0)
		close(fd);
	free(id);
	return 0;
}

/* A sandbox's DNS service: its allow_net list and UDP socket. */
static int
mon_dns(struct hub *h, struct sg_cur *c, int fd)
{
	struct sg_allow *allow = NULL;
	char *id = NULL, **ent = NULL, *msg = NULL;
	uint32_t n, i = 0;
	int r = -EPROTO;

	if (fd < 0 || sg_mp_get_str(c, 64, &id) < 0)
		goto out;
	n = sg_cur_u32(c);
	if (c->err || n > 4096)
		goto out;
	ent = calloc(n + 1, sizeof(*ent));
	if (ent == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if (sg_mp_get_str(c, 1024, &ent[i]) < 0)
			goto out;
	if (sg_allow_parse((const char *const *)ent, n, &allow, &msg) < 0) {
		/* the monitor checked it: a mismatch is a bug, not fatal */
		sg_warn("hub: sandbox %s: %s", id, msg ? msg : "bad allow_net");
		r = 0;
		goto out;
	}
	r = np_res_add(h->res, id, fd, -1, allow);
	fd = -1;
	allow = NULL;
	if (r < 0)
		sg_warn("hub: sandbox %s: no DNS service: %s", id, strerror(-r));
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ent != NULL) {
		for (i = 0; ent[i] != NULL; i++)
			free(ent[i]);
		free(ent);
	}
	sg_allow_free(allow);
	free(msg);
	free(id);
	return r;
}

static void
mon_read(struct hub *h)
{
	struct sg_cur c;
	struct hsbx *s;
	char *id = NULL;
	ssize_t n;
	int fd, r = 0;

	n = sg_mp_recv(h->mon_fd, h->msg, &fd);
	if (n == -EAGAIN)
		return;
	if (n == -EMSGSIZE) {
		/* Cut short, or its descriptor dropped because we have none
		 * left: lose this one request, not every session. */
		sg_warn("hub: a request from the monitor arrived incomplete "
		    "(out of file descriptors?): ignored");
		return;
	}
	if (n <= 0) {
		h->quit = 1;	/* the monitor is gone: so are we */
		return;
	}
	sg_cur_init(&c, sg_buf_data(h->msg) + 1, (size_t)n - 1);
	switch (sg_buf_data(h->msg)[0]) {
	case SG_MP_HUB_AGENT:
		r = mon_agent(h, &c, fd);
		if (r == -EEXIST)
			r = 0;
		break;
	case SG_MP_HUB_LINK:
		r = mon_link(h, &c, fd);
		break;
	case SG_MP_HUB_DROP:
		if (fd >= 0)
			close(fd);
		if (sg_mp_get_str(&c, 64, &id) < 0) {
			r = -EPROTO;
			break;
		}
		s = sbx_find(h, id);
		if (s != NULL)
			sbx_down(h, s, "destroyed", 0);
		np_res_del(h->res, id);
		free(id);
		break;
	case SG_MP_HUB_DNS:
		r = mon_dns(h, &c, fd);
		break;
	case SG_MP_HUB_DNS_TCP:
		if (fd < 0 || sg_mp_get_str(&c, 64, &id) < 0) {
			if (fd >= 0)
				close(fd);
			r = -EPROTO;
			break;
		}
		if (np_res_set_tcp(h->res, id, fd) < 0)
			sg_warn("hub: sandbox %s: no DNS over TCP", id);
		free(id);
		break;
	case SG_MP_HUB_ALLOWED: {
		uint32_t seq;
		uint8_t ok;

		if (fd >= 0)
			close(fd);
		if (sg_mp_get_str(&c, 64, &id) < 0) {
			r = -EPROTO;
			break;
		}
		seq = sg_cur_u32(&c);
		ok = sg_cur_u8(&c);
		if (c.err)
			r = -EPROTO;
		else
			np_res_allowed(h->res, id, seq, ok);
		free(id);
		break;
	}
	default:
		if (fd >= 0)
			close(fd);
		r = -EPROTO;
	}
	if (r < 0) {
		sg_err("hub: bad request from the monitor: exiting");
		h->quit = 1;
	}
}

/* --- loop --- */

static void
reap(struct hub *h)
{
	struct hlink **lp = &h->links, *l;
	struct hsbx **sp = &h->sbxs, *s;

	while ((l = *lp) != NULL) {
		if (l->dead && (sg_buf_len(l->out) == 0 || l->s == NULL)) {
			link_kill(l);
			*lp = l->next;
			h->nlinks--;
			link_free(l);
			continue;
		}
		lp = &l->next;
	}
	while ((s = *sp) != NULL) {
		if (s->dead == 1) {
			sbx_down(h, s, "the guest agent stopped reading", 1);
			s->dead = 0;
		}
		if (s->dead == 2) {
			for (l = h->links; l != NULL; l = l->next)
				if (l->s == s)
					l->s = NULL;
			*sp = s->next;
			h->nsbx--;
			sbx_free(s);
			continue;
		}
		maps_reap(s);
		sp = &s->next;
	}
}

void
sg_hub_run(int mon_fd, struct np_res *res)
{
	struct hub h;
	struct pollfd *pfd, *rpfd = NULL;
	struct hsbx *s;
	struct hlink *l;
	void **who;
	size_t np, i, cap = HUB_MAX_SANDBOXES + HUB_MAX_LINKS + 1;
	size_t nr, rcap = 0;
	int64_t now, timeout;

	memset(&h, 0, sizeof(h));
	h.mon_fd = mon_fd;
	h.res = res;
	the_hub = &h;
	h.msg = sg_buf_new(SG_MP_MAX);
	pfd = calloc(cap, sizeof(*pfd));
	who = calloc(cap, sizeof(*who));
	if (h.msg == NULL || pfd == NULL || who == NULL)
		_exit(1);
	signal(SIGPIPE, SIG_IGN);
	set_nonblock(mon_fd);
	sg_info("hub: running");
	while (!h.quit) {
		now = now_ms();
		timeout = 60000;
		/* Deadlines: HELLO resends, vsock retries, boot timeouts. */
		for (s = h.sbxs; s != NULL; s = s->next) {
			if (s->dead || s->st == HS_READY || s->st == HS_DOWN)
				continue;
			if (now >= s->deadline_ms) {
				sbx_down(&h, s, "the guest agent did not answer in time", 1);
				continue;
			}
			if (now >= s->next_hello_ms) {
				if (s->st == HS_CONNECT)
					sbx_try_vsock(s);
				else if (s->st == HS_HELLO)
					sbx_send_hello(s);
			}
			if (s->next_hello_ms - now < timeout)
				timeout = s->next_hello_ms - now;
			if (s->deadline_ms - now < timeout)
				timeout = s->deadline_ms - now;
		}
		/* Flush what is queued. */
		for (s = h.sbxs; s != NULL; s = s->next)
			if (s->fd >= 0 && !s->dead && sg_buf_len(s->out) > 0) {
				ssize_t n = sg_buf_write_fd(s->out, s->fd);

				if (n < 0 && n != -EAGAIN)
					sbx_down(&h, s, "the sandbox stopped", 1);
			}
		for (l = h.links; l != NULL; l = l->next)
			if (sg_buf_len(l->out) > 0 &&
			    sg_buf_write_fd(l->out, l->fd) == -EPIPE)
				link_kill(l);
		reap(&h);
		np = 0;
		pfd[np] = (struct pollfd){ .fd = h.mon_fd, .events = POLLIN };
		who[np++] = NULL;
		for (s = h.sbxs; s != NULL && np < cap; s = s->next) {
			if (s->fd < 0)
				continue;
			pfd[np] = (struct pollfd){ .fd = s->fd, .events = POLLIN |
			    (sg_buf_len(s->out) ? POLLOUT : 0) };
			who[np++] = s;
		}
		for (l = h.links; l != NULL && np < cap; l = l->next) {
			pfd[np] = (struct pollfd){ .fd = l->fd, .events =
			    (l->dead ? 0 : POLLIN) |
			    (sg_buf_len(l->out) ? POLLOUT : 0) };
			who[np++] = l;
		}
		/* The DNS resolver's sockets follow ours in one poll; the
		 * array grows (and the resolver fills it again) only when
		 * they no longer fit. */
		if (rcap < np) {
			struct pollfd *t = realloc(rpfd, np * sizeof(*t));

			if (t == NULL)
				break;
			rpfd = t;
			rcap = np;
		}
		nr = np_res_pollfds(h.res, rpfd + np, rcap - np);
		if (np + nr > rcap) {
			struct pollfd *t = realloc(rpfd, (np + nr) * sizeof(*t));

			if (t == NULL)
				break;
			rpfd = t;
			rcap = np + nr;
			nr = np_res_pollfds(h.res, rpfd + np, nr);
		}
		memcpy(rpfd, pfd, np * sizeof(*pfd));
		if (np_res_timeout_ms(h.res) < timeout)
			timeout = np_res_timeout_ms(h.res);
		if (poll(rpfd, np + nr, (int)(timeout < 0 ? 0 : timeout)) < 0 &&
		    errno != EINTR)
			break;
		memcpy(pfd, rpfd, np * sizeof(*pfd));
		if (pfd[0].revents)
			mon_read(&h);
		np_res_events(h.res, rpfd + np, nr);
		/* Entries may have been freed by mon_read; look them up. */
		for (i = 1; i < np; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			for (s = h.sbxs; s != NULL; s = s->next)
				if ((void *)s == who[i] && s->fd == pfd[i].fd &&
				    !s->dead)
					agent_read(&h, s);
			for (l = h.links; l != NULL; l = l->next)
				if ((void *)l == who[i] && l->fd == pfd[i].fd &&
				    !l->dead)
					link_read(l);
		}
	}
	sg_info("hub: the monitor went away: exiting");
	_exit(0);
}
