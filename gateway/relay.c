/* sg_relay: see relay.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proto.h"
#include "gateway/relay.h"

#define LINK_MAX_CHANNELS	32
#define LINK_OUT_MAX		(16u << 20)	/* 32 x 256 KiB windows + frames */
#define AGENT_OUT_MAX		(16u << 20)
#define HELLO_INTERVAL_MS	250
/* A ready agent that sends part of a frame and no more for this long is
 * taken as broken: an agent writes whole frames, and the guest is not
 * left to hold its sessions with half a message. */
#define PARTIAL_FRAME_MS	10000

enum ag_state { AG_IDLE, AG_CONNECT, AG_HELLO, AG_CONFIG, AG_READY, AG_DOWN };

struct rlink {
	struct rlink *next;
	int fd;
	struct sg_buf *in, *out;
	int hello_pending;	/* HELLO seen, not yet answered */
	uint64_t hello_nonce;
	uint16_t version;	/* the link's, from its HELLO */
	int dead;		/* closed once out is written (or at once) */
};

/* One agent channel: which link and link channel it belongs to. */
struct rmap {
	struct rmap *next;
	uint32_t aid, wid;
	struct rlink *l;	/* NULL once the link is gone */
	int w_closed, a_closed;
};

struct sg_relay {
	struct sg_relay_ops ops;
	void *arg;
	char *id;
	uint32_t boot_ms;
	int fd;
	uint32_t cid;		/* vsock: connect here */
	enum ag_state st;
	struct sg_buf *in, *out;
	struct sg_config *cfg;
	uint64_t nonce;
	uint16_t version;	/* the agent's: POWEROFF from 2 on */
	int64_t next_hello_ms, deadline_ms;
	int64_t partial_ms;	/* AG_READY: since when part of a frame waits */
	uint32_t next_aid;
	struct rmap *maps;
	struct rlink *links;
	unsigned nlinks;
	unsigned reported_links;
	int ending;		/* links end; no new ones */
	char *down_why;		/* set when the agent went down, reported once */
	/* what the last sg_relay_pollfds put where */
	void **who;
	size_t nwho, whocap;
};

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The agent connection failed or ended: reported once, from the loop. */
static void
agent_down(struct sg_relay *r, const char *why)
{
	if (r->st == AG_DOWN)
		return;
	r->st = AG_DOWN;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	sg_buf_reset(r->out);
	if (r->down_why == NULL)
		r->down_why = strdup(why);
	sg_warn("shim: sandbox %s: %s", r->id, why);
}

/* --- links --- */

static void
link_kill(struct sg_relay *r, struct rlink *l)
{
	struct rmap *m;

	if (l->dead)
		return;
	l->dead = 1;
	/* Every channel of the link ends: the agent stops its processes. */
	for (m = r->maps; m != NULL; m = m->next) {
		if (m->l != l)
			continue;
		m->l = NULL;
		if (!m->w_closed && r->st == AG_READY) {
			m->w_closed = 1;
			if (sg_proto_put_close(r->out, m->aid) < 0)
				agent_down(r, "the guest agent stopped reading");
		}
	}
}

static void
link_free(struct rlink *l)
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
link_put(struct sg_relay *r, struct rlink *l, const struct sg_msg *m,
    uint32_t chan)
{
	if (l->dead)
		return;
	if (sg_proto_put_frame(l->out, m->type, m->stream, chan, m->payload,
	    m->len) < 0) {
		sg_warn("shim: sandbox %s: a worker stopped reading its link: "
		    "dropping it", r->id);
		link_kill(r, l);
	}
}

static void
link_answer_hello(struct sg_relay *r, struct rlink *l)
{
	if (!l->hello_pending || r->st != AG_READY || l->dead)
		return;
	l->hello_pending = 0;
	if (sg_proto_put_hello_ack(l->out, l->version, l->hello_nonce,
	    "sandgate-shim") < 0)
		link_kill(r, l);
}

static struct rmap *
map_by_wid(struct sg_relay *r, struct rlink *l, uint32_t wid)
{
	struct rmap *m;

	for (m = r->maps; m != NULL; m = m->next)
		if (m->l == l && m->wid == wid && !m->w_closed)
			return m;
	return NULL;
}

static unsigned
link_channels(struct sg_relay *r, struct rlink *l)
{
	struct rmap *m;
	unsigned n = 0;

	for (m = r->maps; m != NULL; m = m->next)
		if (m->l == l)
			n++;
	return n;
}

/* One frame from a worker's link. Returns -1 to drop the link. */
static int
link_frame(struct sg_relay *r, struct rlink *l, const struct sg_msg *m)
{
	struct rmap *mp;
	uint64_t u64;
	uint16_t vmin, vmax;

	switch (m->type) {
	case SG_MSG_HELLO:
		if (sg_proto_get_hello(m, &vmin, &vmax, &u64) < 0 ||
		    (l->version = sg_proto_version_pick(vmin, vmax)) == 0)
			return -1;
		l->hello_pending = 1;
		l->hello_nonce = u64;
		link_answer_hello(r, l);
		return 0;
	case SG_MSG_PING:
		if (sg_proto_get_u64(m, &u64) < 0)
			return -1;
		return sg_proto_put_ping(l->out, SG_MSG_PONG, u64) < 0 ? -1 : 0;
	case SG_MSG_PONG:
		return 0;
	default:
		break;
	}
	if (r->st != AG_READY || l->hello_pending)
		return -1;	/* channel traffic before the handshake */
	if (m->type == SG_MSG_OPEN) {
		struct sg_open *o = NULL;

		/* Decoded to check it, relayed as it came. */
		if (sg_proto_get_open(m, &o) < 0)
			return -1;
		sg_open_free(o);
		if (map_by_wid(r, l, m->chan) != NULL ||
		    link_channels(r, l) >= LINK_MAX_CHANNELS)
			return -1;
		mp = calloc(1, sizeof(*mp));
		if (mp == NULL)
			return -1;
		if (++r->next_aid == 0)
			r->next_aid = 1;
		mp->aid = r->next_aid;
		mp->wid = m->chan;
		mp->l = l;
		mp->next = r->maps;
		r->maps = mp;
	} else {
		mp = map_by_wid(r, l, m->chan);
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
			return -1;	/* agent-to-host types, CONFIG, NOTICE */
		}
	}
	if (sg_proto_put_frame(r->out, m->type, m->stream, mp->aid, m->payload,
	    m->len) < 0)
		agent_down(r, "the guest agent stopped reading");
	return 0;
}

static void
link_read(struct sg_relay *r, struct rlink *l)
{
	struct sg_msg m;
	ssize_t n;
	int k;

	n = sg_buf_read_fd(l->in, l->fd, 0);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		link_kill(r, l);
		return;
	}
	for (;;) {
		k = sg_proto_peek(sg_buf_data(l->in), sg_buf_len(l->in), &m);
		if (k == 0)
			break;
		if (k < 0 || link_frame(r, l, &m) < 0) {
			sg_warn("shim: sandbox %s: a worker sent a bad frame "
			    "(%s): dropping its link", r->id,
			    k < 0 ? "malformed" : sg_proto_type_name(m.type));
			link_kill(r, l);
			return;
		}
		sg_buf_consume(l->in, SG_PROTO_HDR_LEN + m.len);
		if (l->dead)
			return;
	}
}

/* --- the agent --- */

static void
send_hello(struct sg_relay *r)
{
	if (sg_proto_put_hello(r->out, r->nonce) < 0)
		agent_down(r, "the guest agent stopped reading");
	r->next_hello_ms = sg_mono_ms() + HELLO_INTERVAL_MS;
}

static void
try_vsock(struct sg_relay *r)
{
	struct sockaddr_vm sv;
	struct timeval tv = { 0, 200000 };
	int fd;

	r->next_hello_ms = sg_mono_ms() + HELLO_INTERVAL_MS;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&sv, 0, sizeof(sv));
	sv.svm_family = AF_VSOCK;
	sv.svm_cid = r->cid;
	sv.svm_port = SG_PROTO_VSOCK_PORT;
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sv, sizeof(sv)) < 0) {
		close(fd);
		return;
	}
	set_nonblock(fd);
	r->fd = fd;
	r->st = AG_HELLO;
	send_hello(r);
}

/* CONFIG with the clock of now: the guest's clock is set from it. */
static int
send_config(struct sg_relay *r)
{
	struct timespec ts;
	char tbuf[64];
	int k;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tbuf, sizeof(tbuf), "%lld.%09ld", (long long)ts.tv_sec,
	    ts.tv_nsec);
	if ((k = sg_config_add(r->cfg, "time", tbuf)) < 0)
		return k;
	return sg_proto_put_config(r->out, r->cfg);
}

/* One frame from the agent. Returns -1 when the agent broke the protocol. */
static int
agent_frame(struct sg_relay *r, const struct sg_msg *m)
{
	struct rmap *mp;
	struct rlink *l;
	uint64_t u64;
	uint32_t u32, pid;
	uint16_t ver;
	const char *str;
	size_t slen;
	uint8_t a, b, c;

	if (r->st == AG_HELLO) {
		if (m->type == SG_MSG_HELLO_ACK &&
		    sg_proto_get_hello_ack(m, &ver, &u64) == 0 &&
		    u64 == r->nonce) {
			if (ver < SG_PROTO_VERSION_MIN || ver > SG_PROTO_VERSION ||
			    send_config(r) < 0)
				return -1;
			r->version = ver;
			r->st = AG_CONFIG;
		}
		return 0;
	}
	if (r->st == AG_CONFIG) {
		if (m->type != SG_MSG_CONFIG_ACK)
			return 0;
		if (sg_proto_get_config_ack(m, &u32, &str, &slen) < 0)
			return -1;
		if (u32 != 0) {
			/* a volume that does not mount, say: the client's why */
			char why[600];

			snprintf(why, sizeof(why), "the sandbox could not be set "
			    "up: %.*s", (int)(slen > 400 ? 400 : slen), str);
			agent_down(r, why);
			return 0;
		}
		r->st = AG_READY;
		sg_config_free(r->cfg);
		r->cfg = NULL;
		sg_info("shim: sandbox %s: agent ready", r->id);
		r->ops.event(r->arg, SG_RELAY_READY, NULL);
		for (l = r->links; l != NULL; l = l->next)
			link_answer_hello(r, l);
		return 0;
	}
	switch (m->type) {
	case SG_MSG_PING:
		if (sg_proto_get_u64(m, &u64) < 0)
			return -1;
		return sg_proto_put_ping(r->out, SG_MSG_PONG, u64) < 0 ? -1 : 0;
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
		return -1;	/* host-to-agent types, NOTICE */
	}
	for (mp = r->maps; mp != NULL; mp = mp->next)
		if (mp->aid == m->chan && !mp->a_closed)
			break;
	if (mp == NULL)
		return m->chan <= r->next_aid ? 0 : -1;
	if (m->type == SG_MSG_CLOSE || m->type == SG_MSG_OPEN_FAIL)
		mp->a_closed = 1;
	if (mp->l != NULL && !mp->w_closed)
		link_put(r, mp->l, m, mp->wid);
	if (m->type == SG_MSG_OPEN_FAIL)
		mp->w_closed = 1;	/* the id is free on both sides */
	return 0;
}

static void
agent_read(struct sg_relay *r)
{
	struct sg_msg m;
	ssize_t n;
	int k, progressed = 0;

	n = sg_buf_read_fd(r->in, r->fd, 0);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		agent_down(r, r->st == AG_READY ? "the sandbox stopped" :
		    "the sandbox stopped while booting");
		return;
	}
	for (;;) {
		k = sg_proto_peek(sg_buf_data(r->in), sg_buf_len(r->in), &m);
		if (r->st == AG_HELLO && (k < 0 ||
		    (k == 1 && m.type != SG_MSG_HELLO_ACK))) {
			/* Bytes from before this connection: skip. */
			sg_buf_consume(r->in, k < 0 ? 1 : SG_PROTO_HDR_LEN + m.len);
			continue;
		}
		if (k == 0)
			break;
		if (k < 0 || agent_frame(r, &m) < 0) {
			sg_warn("shim: sandbox %s: the guest agent broke the "
			    "protocol (%s)", r->id, k < 0 ? "malformed frame" :
			    sg_proto_type_name(m.type));
			agent_down(r, "the guest agent broke the protocol");
			return;
		}
		if (r->st == AG_DOWN)
			return;
		sg_buf_consume(r->in, SG_PROTO_HDR_LEN + m.len);
		progressed = 1;
	}
	/* the timer runs from the last whole frame: a stream of large
	 * frames may never leave the buffer empty */
	if (sg_buf_len(r->in) == 0)
		r->partial_ms = 0;
	else if (r->partial_ms == 0 || progressed)
		r->partial_ms = sg_mono_ms();
}

/* --- the relay --- */

int
sg_relay_new(const struct sg_relay_ops *ops, void *arg, const char *id,
    uint32_t boot_ms, struct sg_relay **ret)
{
	struct sg_relay *r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->ops = *ops;
	r->arg = arg;
	r->fd = -1;
	r->boot_ms = boot_ms;
	r->id = strdup(id);
	r->in = sg_buf_new(2 * SG_PROTO_MAX_FRAME);
	r->out = sg_buf_new(AGENT_OUT_MAX);
	if (r->id == NULL || r->in == NULL || r->out == NULL) {
		sg_relay_free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

void
sg_relay_free(struct sg_relay *r)
{
	struct rlink *l;
	struct rmap *m;

	if (r == NULL)
		return;
	while ((l = r->links) != NULL) {
		r->links = l->next;
		link_free(l);
	}
	while ((m = r->maps) != NULL) {
		r->maps = m->next;
		free(m);
	}
	if (r->fd >= 0)
		close(r->fd);
	sg_buf_free(r->in);
	sg_buf_free(r->out);
	sg_config_free(r->cfg);
	free(r->down_why);
	free(r->who);
	free(r->id);
	free(r);
}

int
sg_relay_attach(struct sg_relay *r, int fd, uint32_t cid,
    struct sg_config *cfg)
{
	if (r->st != AG_IDLE || (fd < 0 && cid == 0)) {
		if (fd >= 0)
			close(fd);
		sg_config_free(cfg);
		return -EINVAL;
	}
	r->cfg = cfg;
	if (getrandom(&r->nonce, sizeof(r->nonce), 0) != sizeof(r->nonce)) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	r->deadline_ms = sg_mono_ms() + r->boot_ms;
	if (fd >= 0) {
		set_nonblock(fd);
		r->fd = fd;
		r->st = AG_HELLO;
		send_hello(r);
	} else {
		r->cid = cid;
		r->st = AG_CONNECT;
		try_vsock(r);
	}
	return 0;
}

int
sg_relay_add_link(struct sg_relay *r, int fd)
{
	struct rlink *l;

	if (r->ending || r->st == AG_DOWN) {
		close(fd);
		return -ESHUTDOWN;
	}
	if (r->nlinks >= SG_RELAY_MAX_LINKS) {
		close(fd);
		return -EUSERS;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		close(fd);
		return -ENOMEM;
	}
	l->fd = fd;
	l->in = sg_buf_new(2 * SG_PROTO_MAX_FRAME);
	l->out = sg_buf_new(LINK_OUT_MAX);
	if (l->in == NULL || l->out == NULL) {
		link_free(l);
		return -ENOMEM;
	}
	set_nonblock(fd);
	l->next = r->links;
	r->links = l;
	r->nlinks++;
	return 0;
}

unsigned
sg_relay_links(const struct sg_relay *r)
{
	return r->nlinks;
}

int
sg_relay_is_ready(const struct sg_relay *r)
{
	return r->st == AG_READY;
}

int
sg_relay_is_down(const struct sg_relay *r)
{
	return r->st == AG_DOWN;
}

void
sg_relay_notice(struct sg_relay *r, uint8_t kind, const char *text, int end)
{
	struct rlink *l;

	for (l = r->links; l != NULL; l = l->next) {
		if (l->dead)
			continue;
		if (sg_proto_put_notice(l->out, kind, text) < 0) {
			link_kill(r, l);
			continue;
		}
		if (end)
			link_kill(r, l);	/* closed once written */
	}
	if (end)
		r->ending = 1;
}

int
sg_relay_pending(const struct sg_relay *r)
{
	return r->fd >= 0 && r->st != AG_DOWN && sg_buf_len(r->out) > 0;
}

int
sg_relay_poweroff(struct sg_relay *r, uint32_t seconds)
{
	if (r->fd < 0 || r->st < AG_READY || r->st == AG_DOWN)
		return -ENOTCONN;
	if (r->version < 2)
		return -EOPNOTSUPP;	/* an image older than POWEROFF */
	if (sg_proto_put_poweroff(r->out, seconds) < 0) {
		agent_down(r, "the guest agent stopped reading");
		return -ENOBUFS;
	}
	return 0;
}

/* Frees links that are done, mappings both ends closed, and reports
 * what changed. */
static void
relay_reap(struct sg_relay *r)
{
	struct rlink **lp = &r->links, *l;
	struct rmap **mp = &r->maps, *m;

	while ((l = *lp) != NULL) {
		if (l->dead && (sg_buf_len(l->out) == 0 || l->fd < 0)) {
			*lp = l->next;
			r->nlinks--;
			link_free(l);
			continue;
		}
		lp = &l->next;
	}
	while ((m = *mp) != NULL) {
		if ((m->a_closed || r->st == AG_DOWN) &&
		    (m->w_closed || m->l == NULL)) {
			*mp = m->next;
			free(m);
			continue;
		}
		mp = &m->next;
	}
	if (r->down_why != NULL) {
		char *why = r->down_why;

		r->down_why = NULL;
		r->ops.event(r->arg, SG_RELAY_DOWN, why);
		free(why);
	}
	if (r->nlinks != r->reported_links) {
		r->reported_links = r->nlinks;
		r->ops.event(r->arg, SG_RELAY_LINKS, NULL);
	}
}

static int
who_add(struct sg_relay *r, void *w)
{
	if (r->nwho == r->whocap) {
		size_t cap = r->whocap ? 2 * r->whocap : 16;
		void **t = realloc(r->who, cap * sizeof(*t));

		if (t == NULL)
			return -ENOMEM;
		r->who = t;
		r->whocap = cap;
	}
	r->who[r->nwho++] = w;
	return 0;
}

size_t
sg_relay_pollfds(struct sg_relay *r, struct pollfd *pfd, size_t max,
    int64_t *ret_timeout_ms)
{
	int64_t now = sg_mono_ms();
	struct rlink *l;
	size_t n = 0;

	/* Deadlines: HELLO resends, vsock retries, the boot timeout. */
	if (r->st >= AG_CONNECT && r->st < AG_READY) {
		if (now >= r->deadline_ms) {
			agent_down(r, "the guest agent did not answer in time");
		} else {
			if (now >= r->next_hello_ms) {
				if (r->st == AG_CONNECT)
					try_vsock(r);
				else if (r->st == AG_HELLO)
					send_hello(r);
			}
			/* Waiting for CONFIG_ACK nothing is resent: the last
			 * HELLO's next_hello_ms is past and, taken here, would
			 * have the caller poll without sleeping (100% CPU) until
			 * the agent answers or the boot deadline. */
			if (r->st != AG_CONFIG &&
			    r->next_hello_ms - now < *ret_timeout_ms)
				*ret_timeout_ms = r->next_hello_ms - now;
			if (r->deadline_ms - now < *ret_timeout_ms)
				*ret_timeout_ms = r->deadline_ms - now;
		}
	}
	if (r->st == AG_READY && r->partial_ms != 0) {
		if (now - r->partial_ms >= PARTIAL_FRAME_MS) {
			sg_warn("shim: sandbox %s: the guest agent sent part of "
			    "a message and stopped", r->id);
			agent_down(r, "the guest agent broke the protocol");
		} else if (r->partial_ms + PARTIAL_FRAME_MS - now <
		    *ret_timeout_ms) {
			*ret_timeout_ms = r->partial_ms + PARTIAL_FRAME_MS - now;
		}
	}
	/* Flush what is queued. */
	if (r->fd >= 0 && sg_buf_len(r->out) > 0) {
		ssize_t k = sg_buf_write_fd(r->out, r->fd);

		if (k < 0 && k != -EAGAIN)
			agent_down(r, "the sandbox stopped");
	}
	for (l = r->links; l != NULL; l = l->next) {
		if (sg_buf_len(l->out) > 0) {
			ssize_t k = sg_buf_write_fd(l->out, l->fd);

			if (k < 0 && k != -EAGAIN) {
				link_kill(r, l);
				sg_buf_reset(l->out);
			}
		}
	}
	relay_reap(r);
	if (*ret_timeout_ms < 0)
		*ret_timeout_ms = 0;
	r->nwho = 0;
	if (r->fd >= 0) {
		if (n < max)
			pfd[n] = (struct pollfd){ .fd = r->fd, .events = POLLIN |
			    (sg_buf_len(r->out) ? POLLOUT : 0) };
		n++;
		if (who_add(r, r) < 0)
			return 0;
	}
	for (l = r->links; l != NULL; l = l->next) {
		if (n < max)
			pfd[n] = (struct pollfd){ .fd = l->fd, .events =
			    (l->dead ? 0 : POLLIN) |
			    (sg_buf_len(l->out) ? POLLOUT : 0) };
		n++;
		if (who_add(r, l) < 0)
			return 0;
	}
	return n;
}

void
sg_relay_events(struct sg_relay *r, const struct pollfd *pfd, size_t n)
{
	struct rlink *l;
	size_t i;

	if (n > r->nwho)
		n = r->nwho;
	for (i = 0; i < n; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (r->who[i] == (void *)r) {
			if (r->fd == pfd[i].fd && r->st != AG_DOWN)
				agent_read(r);
			continue;
		}
		/* a link of the same poll round: still there, same fd */
		for (l = r->links; l != NULL; l = l->next)
			if ((void *)l == r->who[i] && l->fd == pfd[i].fd &&
			    !l->dead)
				link_read(r, l);
	}
	r->nwho = 0;
}
