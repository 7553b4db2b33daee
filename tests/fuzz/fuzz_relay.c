/* libFuzzer harness for the shim's relay (gateway/relay.c).
 *
 * The relay parses frames from two untrusted sides: the guest agent (the
 * guest may be compromised) and the workers' links (a worker may be). The
 * harness plays both over real socketpairs and drives the relay as shim.c
 * does: sg_relay_pollfds, poll without waiting, sg_relay_events, until
 * nothing moves. Its event callback reacts as the shim's does: POWEROFF
 * once the agent is ready, an ending NOTICE once it is down.
 *
 * An input is a script of steps, each an op byte (modulo OP_COUNT) and
 * its arguments; missing argument bytes read as 0 and a data step takes
 * at most what is left:
 *   OP_AGENT      u16 n, n bytes       the agent writes them
 *   OP_LINK       u8 i, u16 n, n bytes link i's worker writes them
 *   OP_ACK        u8 v                 the agent answers the relay's HELLO
 *                                      (its nonce is random: read here)
 *                                      with version v & 3, the nonce
 *                                      wrong when v & 4
 *   OP_NEW_LINK                        a worker connects (link 0 exists)
 *   OP_HUP_LINK   u8 i                 link i's worker closes its end
 *   OP_HUP_AGENT                       the agent closes its end
 *   OP_NOTICE     u8 kind, u8 end, u8 n, n bytes of text
 *   OP_POWEROFF   u8 seconds
 *   OP_STALL      u8 w                 the agent (w & 0x80) or link w
 *                                      stops reading, or reads again
 *   OP_FLOOD      u8 w, u8 chan, u8 k  the agent (w & 0x80) or link w
 *                                      sends 4k + 1 DATA frames of the
 *                                      largest size on chan, as fast as
 *                                      the relay takes them (4 at most
 *                                      unless a reader it could fill is
 *                                      stalled: then its hard limits)
 *
 * What the relay writes is checked: every frame is well formed and of a
 * type that may go that way; on the agent, OPEN takes the next id and
 * other channel frames only ids it opened; on a link, channel frames
 * carry only ids that link's worker opened (a frame on the wrong link
 * would show one worker another's session). Its events must come in an
 * order that can happen. The sanitizers check the rest, leaks included.
 *
 * `SG_FUZZ_RELAY_SEEDS=DIR tests/fuzz/fuzz_relay` writes the seed scripts
 * (tests/fuzz/corpus/relay) into DIR with the sg_proto encoders, and
 * exits; with SG_FUZZ_VERBOSE set, the relay's log lines are shown. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/proto.h"
#include "gateway/relay.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

#define H_MAX_LINKS	8	/* links one input may open */
#define H_MAX_WIDS	64	/* OPEN ids remembered per link */
#define H_MAX_STEPS	2000	/* bounds the time one input takes */
#define H_MAX_ROUNDS	16	/* poll rounds after one step */
#define H_RX_MAX	(2 * SG_PROTO_MAX_FRAME)
#define H_TX_MAX	(2 * SG_PROTO_MAX_FRAME + 65536)

enum {
	OP_AGENT,
	OP_LINK,
	OP_ACK,
	OP_NEW_LINK,
	OP_HUP_LINK,
	OP_HUP_AGENT,
	OP_NOTICE,
	OP_POWEROFF,
	OP_STALL,
	OP_FLOOD,
	OP_COUNT
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One worker's end of a link. */
struct hlink {
	int fd;			/* -1 once the worker closed it */
	int eof;		/* the relay closed its end */
	int stalled;		/* the worker does not read */
	struct sg_buf *rx;	/* from the relay, not yet a whole frame */
	struct sg_buf *tx;	/* written to the relay, not yet a whole frame */
	int tx_lost;		/* a malformed frame: the relay stopped there */
	uint32_t wids[H_MAX_WIDS];	/* ids of the OPENs written */
	size_t nwids;
	int wids_full;		/* more than that: no id check on this link */
};

struct harness {
	struct sg_relay *r;
	int agent_fd;		/* the agent's end, -1 once closed */
	int agent_eof;		/* the relay closed its end */
	int agent_stalled;	/* the agent does not read */
	struct sg_buf *ag_rx;
	uint64_t nonce;		/* from the relay's HELLO */
	int have_nonce;
	uint32_t last_aid;	/* the last id the relay OPENed on the agent */
	struct hlink links[H_MAX_LINKS];
	size_t nlinks;
	int ready, down;	/* events seen */
};

/* --- the relay's events, answered as shim.c answers them --- */

static void
on_event(void *arg, enum sg_relay_event ev, const char *why)
{
	struct harness *h = arg;

	switch (ev) {
	case SG_RELAY_READY:
		CHECK(why == NULL && !h->ready && !h->down);
		CHECK(sg_relay_is_ready(h->r));
		h->ready = 1;
		(void)sg_relay_poweroff(h->r, 3600);
		break;
	case SG_RELAY_DOWN:
		CHECK(why != NULL && !h->down);
		CHECK(sg_relay_is_down(h->r));
		h->down = 1;
		sg_relay_notice(h->r, SG_NOTICE_FAILED, why, 1);
		break;
	case SG_RELAY_LINKS:
		CHECK(why == NULL);
		CHECK(sg_relay_links(h->r) <= SG_RELAY_MAX_LINKS);
		break;
	default:
		CHECK(0);
	}
}

static const struct sg_relay_ops ops = {
	.event = on_event,
};

/* --- what the relay writes --- */

/* A frame the relay sent the agent. */
static void
agent_got(struct harness *h, const struct sg_msg *m)
{
	struct sg_config *cfg = NULL;
	struct sg_open *o = NULL;
	uint16_t vmin, vmax;
	uint64_t u64;
	uint32_t u32;

	switch (m->type) {
	case SG_MSG_HELLO:
		CHECK(m->chan == 0);
		CHECK(sg_proto_get_hello(m, &vmin, &vmax, &u64) == 0);
		CHECK(!h->have_nonce || u64 == h->nonce);
		h->nonce = u64;
		h->have_nonce = 1;
		break;
	case SG_MSG_CONFIG:
		CHECK(m->chan == 0);
		CHECK(sg_proto_get_config(m, &cfg) == 0);
		sg_config_free(cfg);
		break;
	case SG_MSG_PONG:
		CHECK(m->chan == 0 && sg_proto_get_u64(m, &u64) == 0);
		break;
	case SG_MSG_POWEROFF:
		CHECK(m->chan == 0 && sg_proto_get_poweroff(m, &u32) == 0);
		break;
	case SG_MSG_OPEN:
		/* checked by the relay, passed on as the worker wrote it */
		CHECK(sg_proto_get_open(m, &o) == 0);
		sg_open_free(o);
		CHECK(m->chan == h->last_aid + 1);
		h->last_aid = m->chan;
		break;
	case SG_MSG_DATA:
	case SG_MSG_EOF:
	case SG_MSG_CREDIT:
	case SG_MSG_RESIZE:
	case SG_MSG_SIGNAL:
	case SG_MSG_CLOSE:
		CHECK(m->chan >= 1 && m->chan <= h->last_aid);
		break;
	default:
		CHECK(0);	/* agent-to-host types, NOTICE, PING */
	}
}

static int
wid_known(const struct hlink *l, uint32_t wid)
{
	size_t i;

	if (l->wids_full)
		return 1;
	for (i = 0; i < l->nwids; i++)
		if (l->wids[i] == wid)
			return 1;
	return 0;
}

/* A frame the relay sent a worker. */
static void
link_got(struct hlink *l, const struct sg_msg *m)
{
	const char *s;
	uint16_t ver;
	uint64_t u64;
	size_t n;
	uint8_t kind;

	switch (m->type) {
	case SG_MSG_HELLO_ACK:
		CHECK(m->chan == 0 && sg_proto_get_hello_ack(m, &ver, &u64) == 0);
		CHECK(ver >= SG_PROTO_VERSION_MIN && ver <= SG_PROTO_VERSION);
		break;
	case SG_MSG_PONG:
		CHECK(m->chan == 0 && sg_proto_get_u64(m, &u64) == 0);
		break;
	case SG_MSG_NOTICE:
		CHECK(m->chan == 0);
		CHECK(sg_proto_get_notice(m, &kind, &s, &n) == 0);
		break;
	case SG_MSG_OPEN_OK:
	case SG_MSG_OPEN_FAIL:
	case SG_MSG_DATA:
	case SG_MSG_EOF:
	case SG_MSG_CREDIT:
	case SG_MSG_EXIT:
	case SG_MSG_CLOSE:
		CHECK(wid_known(l, m->chan));
		break;
	default:
		CHECK(0);	/* host-to-agent types, PING */
	}
}

/* Reads what fd has into rx and checks each whole frame with got (agent
 * when l is NULL). Returns 1 when bytes came, sets *eof at end of file. */
static int
drain(struct harness *h, struct hlink *l, int fd, struct sg_buf *rx,
    int *eof)
{
	struct sg_msg m;
	uint8_t *dst;
	size_t want;
	ssize_t n;
	int k, any = 0;

	if (fd < 0 || *eof)
		return 0;
	for (;;) {
		want = sg_buf_room(rx) < 16384 ? sg_buf_room(rx) : 16384;
		CHECK(want > 0 && sg_buf_reserve(rx, want, &dst) == 0);
		n = recv(fd, dst, want, MSG_DONTWAIT);
		if (n <= 0) {
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				*eof = 1;	/* a partial frame may be left */
			return any;
		}
		sg_buf_commit(rx, (size_t)n);
		any = 1;
		for (;;) {
			k = sg_proto_peek(sg_buf_data(rx), sg_buf_len(rx), &m);
			CHECK(k >= 0);	/* the relay writes whole, valid frames */
			if (k == 0)
				break;
			if (l == NULL)
				agent_got(h, &m);
			else
				link_got(l, &m);
			sg_buf_consume(rx, SG_PROTO_HDR_LEN + m.len);
		}
	}
}

static int
drain_all(struct harness *h)
{
	size_t i;
	int any;

	any = h->agent_stalled ? 0 :
	    drain(h, NULL, h->agent_fd, h->ag_rx, &h->agent_eof);
	for (i = 0; i < h->nlinks; i++)
		if (!h->links[i].stalled)
			any |= drain(h, &h->links[i], h->links[i].fd,
			    h->links[i].rx, &h->links[i].eof);
	return any;
}

/* Runs the relay until it has nothing more to do (or H_MAX_ROUNDS). */
static void
pump(struct harness *h)
{
	struct pollfd pfd[SG_RELAY_MAX_LINKS + 1];
	size_t n, i;
	int64_t t;
	int round, busy;

	for (round = 0; round < H_MAX_ROUNDS; round++) {
		t = 0;
		n = sg_relay_pollfds(h->r, pfd, sizeof(pfd) / sizeof(pfd[0]),
		    &t);
		CHECK(n <= sizeof(pfd) / sizeof(pfd[0]));
		CHECK(t == 0);
		busy = 0;
		if (n > 0 && poll(pfd, n, 0) > 0) {
			for (i = 0; i < n; i++)
				if ((pfd[i].events & POLLIN) && (pfd[i].revents &
				    (POLLIN | POLLHUP | POLLERR)))
					busy = 1;
		} else {
			for (i = 0; i < n; i++)
				pfd[i].revents = 0;
		}
		sg_relay_events(h->r, pfd, n);
		busy |= drain_all(h);
		if (!busy)
			break;
	}
}

/* --- what the harness writes --- */

/* Sends what the socket takes now; returns how much. */
static size_t
put(int fd, const uint8_t *p, size_t n)
{
	size_t done = 0;
	ssize_t k;

	while (fd >= 0 && done < n) {
		k = send(fd, p + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	return done;
}

/* Remembers the ids of the OPENs a worker wrote on its link. */
static void
link_wrote(struct hlink *l, const uint8_t *p, size_t n)
{
	struct sg_msg m;
	int k;

	if (l->tx_lost || n == 0)
		return;
	if (sg_buf_put(l->tx, p, n) < 0) {
		l->tx_lost = 1;
		l->wids_full = 1;	/* cannot follow: no id checks */
		return;
	}
	for (;;) {
		k = sg_proto_peek(sg_buf_data(l->tx), sg_buf_len(l->tx), &m);
		if (k == 0)
			return;
		if (k < 0) {
			l->tx_lost = 1;	/* the relay drops the link here */
			return;
		}
		if (m.type == SG_MSG_OPEN && !wid_known(l, m.chan)) {
			if (l->nwids < H_MAX_WIDS)
				l->wids[l->nwids++] = m.chan;
			else
				l->wids_full = 1;
		}
		sg_buf_consume(l->tx, SG_PROTO_HDR_LEN + m.len);
	}
}

static int
any_link_stalled(const struct harness *h)
{
	size_t i;

	for (i = 0; i < h->nlinks; i++)
		if (h->links[i].stalled)
			return 1;
	return 0;
}

/* k DATA frames of the largest payload (SG_PROTO_DATA_CHUNK) on chan, from the agent (l NULL)
 * or a worker, written as fast as the relay reads them. */
static void
flood(struct harness *h, struct hlink *l, uint32_t chan, unsigned k,
    struct sg_buf *tmp)
{
	static const uint8_t junk[SG_PROTO_DATA_CHUNK];
	size_t off, n;
	unsigned i, idle = 0;
	int fd = l != NULL ? l->fd : h->agent_fd;

	if (chan == 0)
		return;		/* no DATA there: OP_AGENT and OP_LINK try it */
	/* Past a few frames a flood only costs time (16 MiB buffers) unless
	 * a reader it can fill is stalled: a link for the agent's, the
	 * agent for a worker's. */
	if (l != NULL ? !h->agent_stalled : !any_link_stalled(h))
		k = k < 4 ? k : 4;
	sg_buf_reset(tmp);
	CHECK(sg_proto_put_frame(tmp, SG_MSG_DATA, l != NULL ?
	    SG_STREAM_STDIN : SG_STREAM_STDOUT, chan, junk, sizeof(junk)) == 0);
	for (i = 0; i < k && fd >= 0 && idle < 4; i++) {
		for (off = 0; off < sg_buf_len(tmp) && idle < 4;) {
			n = put(fd, sg_buf_data(tmp) + off, sg_buf_len(tmp) - off);
			if (l != NULL)
				link_wrote(l, sg_buf_data(tmp) + off, n);
			off += n;
			if (off < sg_buf_len(tmp))
				pump(h);	/* the relay reads some */
			idle = n > 0 ? 0 : idle + 1;	/* or no more */
		}
	}
}

static void
new_link(struct harness *h)
{
	struct hlink *l;
	int sp[2];

	if (h->nlinks >= H_MAX_LINKS)
		return;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	l = &h->links[h->nlinks++];
	memset(l, 0, sizeof(*l));
	l->fd = sp[0];
	l->rx = sg_buf_new(H_RX_MAX);
	l->tx = sg_buf_new(H_TX_MAX);
	CHECK(l->rx != NULL && l->tx != NULL);
	/* refused (-ESHUTDOWN once ending): the relay closed sp[1] */
	(void)sg_relay_add_link(h->r, sp[1]);
}

/* A cursor over the script: reads past the end give 0. */
struct script {
	const uint8_t *p;
	size_t n;
};

static uint8_t
get8(struct script *s)
{
	uint8_t v;

	if (s->n == 0)
		return 0;
	v = s->p[0];
	s->p++;
	s->n--;
	return v;
}

static const uint8_t *
get_bytes(struct script *s, size_t want, size_t *ret_n)
{
	const uint8_t *p = s->p;

	if (want > s->n)
		want = s->n;
	s->p += want;
	s->n -= want;
	*ret_n = want;
	return p;
}

static void
step(struct harness *h, struct script *s, struct sg_buf *tmp)
{
	const uint8_t *p;
	struct hlink *l;
	uint8_t ack[2 + 8 + 4];
	char text[256];
	size_t n, len;
	uint8_t kind, end;

	switch (get8(s) % OP_COUNT) {
	case OP_AGENT:
		len = (size_t)get8(s) << 8;
		len |= get8(s);
		p = get_bytes(s, len, &n);
		(void)put(h->agent_fd, p, n);
		break;
	case OP_LINK:
		l = h->nlinks > 0 ? &h->links[get8(s) % h->nlinks] : NULL;
		len = (size_t)get8(s) << 8;
		len |= get8(s);
		p = get_bytes(s, len, &n);
		if (l != NULL)
			link_wrote(l, p, put(l->fd, p, n));
		break;
	case OP_ACK:
		/* by hand: the encoder takes no version out of range */
		kind = get8(s);
		ack[0] = 0;
		ack[1] = kind & 3;
		for (n = 0; n < 8; n++)
			ack[2 + n] = (uint8_t)(h->nonce >> (56 - 8 * n));
		ack[9] ^= (kind & 4) >> 2;	/* the wrong nonce */
		memcpy(ack + 10, "fuzz", 4);
		sg_buf_reset(tmp);
		CHECK(sg_proto_put_frame(tmp, SG_MSG_HELLO_ACK, 0, 0, ack,
		    sizeof(ack)) == 0);
		(void)put(h->agent_fd, sg_buf_data(tmp), sg_buf_len(tmp));
		break;
	case OP_NEW_LINK:
		new_link(h);
		break;
	case OP_HUP_LINK:
		if (h->nlinks == 0)
			break;
		l = &h->links[get8(s) % h->nlinks];
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		break;
	case OP_HUP_AGENT:
		if (h->agent_fd >= 0)
			close(h->agent_fd);
		h->agent_fd = -1;
		break;
	case OP_NOTICE:
		kind = SG_NOTICE_WARN + get8(s) % 4;
		end = get8(s) & 1;
		p = get_bytes(s, get8(s), &n);
		if (n >= sizeof(text))
			n = sizeof(text) - 1;
		memcpy(text, p, n);
		text[n] = '\0';		/* a NUL in the input ends it early */
		sg_relay_notice(h->r, kind, text, end);
		break;
	case OP_POWEROFF:
		(void)sg_relay_poweroff(h->r, get8(s));
		break;
	case OP_STALL:
		kind = get8(s);
		if (kind & 0x80)
			h->agent_stalled = !h->agent_stalled;
		else if (h->nlinks > 0)
			h->links[kind % h->nlinks].stalled ^= 1;
		break;
	case OP_FLOOD:
		kind = get8(s);
		end = get8(s);		/* the channel */
		len = 4 * (size_t)get8(s) + 1;
		flood(h, kind & 0x80 || h->nlinks == 0 ? NULL :
		    &h->links[kind % h->nlinks], end, (unsigned)len, tmp);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sg_buf *tmp;
	struct script s = { data, size };
	struct harness h;
	struct sg_config *cfg;
	int64_t t;
	size_t i;
	int sp[2], k;

	if (tmp == NULL) {
		tmp = sg_buf_new(2 * SG_PROTO_MAX_FRAME);
		CHECK(tmp != NULL);
	}
	memset(&h, 0, sizeof(h));
	h.ag_rx = sg_buf_new(H_RX_MAX);
	CHECK(h.ag_rx != NULL);
	CHECK(sg_relay_new(&ops, &h, "0123456789ab", 600000, &h.r) == 0);
	cfg = sg_config_new();
	CHECK(cfg != NULL);
	CHECK(sg_config_add(cfg, "hostname", "fuzz") == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	h.agent_fd = sp[0];
	CHECK(sg_relay_attach(h.r, sp[1], 0, cfg) == 0);
	new_link(&h);
	pump(&h);	/* the HELLO goes out: its nonce is known from here */

	for (k = 0; k < H_MAX_STEPS && s.n > 0; k++) {
		step(&h, &s, tmp);
		pump(&h);
	}

	/* as the shim ends: what is queued goes out, then everything is
	 * freed (LeakSanitizer checks the relay's share) */
	for (k = 0; k < 3; k++) {
		t = 0;
		(void)sg_relay_pollfds(h.r, NULL, 0, &t);
	}
	(void)drain_all(&h);
	sg_relay_free(h.r);
	if (h.agent_fd >= 0)
		close(h.agent_fd);
	sg_buf_free(h.ag_rx);
	for (i = 0; i < h.nlinks; i++) {
		if (h.links[i].fd >= 0)
			close(h.links[i].fd);
		sg_buf_free(h.links[i].rx);
		sg_buf_free(h.links[i].tx);
	}
	return 0;
}

/* --- the seed scripts --- */

static void
s_op(struct sg_buf *s, uint8_t op)
{
	CHECK(sg_buf_put_u8(s, op) == 0);
}

/* The frames in f as one OP_AGENT (link < 0) or OP_LINK step; f is
 * emptied. */
static void
s_send(struct sg_buf *s, int link, struct sg_buf *f)
{
	CHECK(sg_buf_len(f) <= 0xffff);
	s_op(s, link < 0 ? OP_AGENT : OP_LINK);
	if (link >= 0)
		s_op(s, (uint8_t)link);
	CHECK(sg_buf_put_u16(s, (uint16_t)sg_buf_len(f)) == 0);
	CHECK(sg_buf_put(s, sg_buf_data(f), sg_buf_len(f)) == 0);
	sg_buf_reset(f);
}

/* HELLO_ACK (version 2) and CONFIG_ACK: the agent is ready. */
static void
s_ready(struct sg_buf *s, struct sg_buf *f)
{
	s_op(s, OP_ACK);
	s_op(s, 2);
	CHECK(sg_proto_put_config_ack(f, 0, "ok") == 0);
	s_send(s, -1, f);
}

static void
s_link_hello(struct sg_buf *s, int link, struct sg_buf *f)
{
	CHECK(sg_proto_put_hello(f, 0x1122334455667788ull + (uint64_t)link) == 0);
	s_send(s, link, f);
}

static void
s_open(struct sg_buf *s, int link, uint32_t wid, uint8_t kind,
    const char *what, int pty, struct sg_buf *f)
{
	char *env[] = { "LANG=C.UTF-8", NULL };
	struct sg_open o;

	memset(&o, 0, sizeof(o));
	o.kind = kind;
	o.credit = 256 * 1024;
	o.env = env;
	o.envc = kind == SG_OPEN_TCP ? 0 : 1;	/* a TCP channel has none */
	if (pty) {
		o.flags = SG_OPEN_F_PTY;
		o.rows = 24;
		o.cols = 80;
		o.term = "xterm-256color";
	}
	if (kind == SG_OPEN_PROCESS)
		o.cmd = (char *)what;
	else if (kind == SG_OPEN_SUBSYSTEM)
		o.subsystem = (char *)what;
	else {
		o.host = (char *)what;
		o.port = 8080;
	}
	CHECK(sg_proto_put_open(f, wid, &o) == 0);
	s_send(s, link, f);
}

static void
seed_write(const char *dir, const char *name, const struct sg_buf *s)
{
	char path[4096];
	FILE *fp;

	CHECK(snprintf(path, sizeof(path), "%s/%s", dir, name) <
	    (int)sizeof(path));
	fp = fopen(path, "wbe");
	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	CHECK(fwrite(sg_buf_data(s), 1, sg_buf_len(s), fp) == sg_buf_len(s));
	CHECK(fclose(fp) == 0);
}

static void
write_seeds(const char *dir)
{
	struct sg_buf *s = sg_buf_new(1 << 20), *f = sg_buf_new(1 << 20);

	CHECK(s != NULL && f != NULL);

	/* the handshake */
	s_ready(s, f);
	seed_write(dir, "ready", s);
	sg_buf_reset(s);

	/* a shell on a pty, from OPEN to CLOSE both ways */
	s_ready(s, f);
	s_link_hello(s, 0, f);
	s_open(s, 0, 1, SG_OPEN_PROCESS, NULL, 1, f);
	CHECK(sg_proto_put_open_ok(f, 1, 256 * 1024, 42) == 0);
	CHECK(sg_proto_put_data(f, 1, SG_STREAM_STDOUT, "$ ", 2) == 0);
	CHECK(sg_proto_put_data(f, 1, SG_STREAM_STDERR, "warn\n", 5) == 0);
	s_send(s, -1, f);
	CHECK(sg_proto_put_credit(f, 1, 7) == 0);
	CHECK(sg_proto_put_data(f, 1, SG_STREAM_STDIN, "ls\n", 3) == 0);
	CHECK(sg_proto_put_resize(f, 1, 50, 132, 0, 0) == 0);
	CHECK(sg_proto_put_signal(f, 1, 2) == 0);
	CHECK(sg_proto_put_eof(f, 1, SG_STREAM_STDIN) == 0);
	s_send(s, 0, f);
	CHECK(sg_proto_put_credit(f, 1, 3) == 0);
	CHECK(sg_proto_put_eof(f, 1, SG_STREAM_STDOUT) == 0);
	CHECK(sg_proto_put_eof(f, 1, SG_STREAM_STDERR) == 0);
	CHECK(sg_proto_put_exit(f, 1, SG_EXIT_CODE, 0, 0) == 0);
	CHECK(sg_proto_put_close(f, 1) == 0);
	s_send(s, -1, f);
	CHECK(sg_proto_put_close(f, 1) == 0);
	s_send(s, 0, f);
	seed_write(dir, "session", s);
	sg_buf_reset(s);

	/* a command that cannot start */
	s_ready(s, f);
	s_link_hello(s, 0, f);
	s_open(s, 0, 1, SG_OPEN_PROCESS, "nosuchcmd --flag", 0, f);
	CHECK(sg_proto_put_open_fail(f, 1, ENOENT, "no such file") == 0);
	s_send(s, -1, f);
	seed_write(dir, "open_fail", s);
	sg_buf_reset(s);

	/* two workers, the same channel id on each */
	s_ready(s, f);
	s_op(s, OP_NEW_LINK);
	s_link_hello(s, 0, f);
	s_link_hello(s, 1, f);
	s_open(s, 0, 1, SG_OPEN_PROCESS, "cat", 0, f);
	s_open(s, 1, 1, SG_OPEN_PROCESS, "yes", 0, f);
	CHECK(sg_proto_put_open_ok(f, 1, 65536, 10) == 0);
	CHECK(sg_proto_put_open_ok(f, 2, 65536, 11) == 0);
	CHECK(sg_proto_put_data(f, 1, SG_STREAM_STDOUT, "one", 3) == 0);
	CHECK(sg_proto_put_data(f, 2, SG_STREAM_STDOUT, "two", 3) == 0);
	s_send(s, -1, f);
	s_op(s, OP_HUP_LINK);
	s_op(s, 0);
	CHECK(sg_proto_put_data(f, 1, SG_STREAM_STDOUT, "late", 4) == 0);
	CHECK(sg_proto_put_close(f, 1) == 0);
	CHECK(sg_proto_put_exit(f, 2, SG_EXIT_SIGNAL, 9, 1) == 0);
	CHECK(sg_proto_put_close(f, 2) == 0);
	s_send(s, -1, f);
	seed_write(dir, "two_links", s);
	sg_buf_reset(s);

	/* a TCP forward and sftp on one link */
	s_ready(s, f);
	s_link_hello(s, 0, f);
	s_open(s, 0, 1, SG_OPEN_TCP, "localhost", 0, f);
	s_open(s, 0, 2, SG_OPEN_SUBSYSTEM, "sftp", 0, f);
	CHECK(sg_proto_put_open_ok(f, 1, 65536, 0) == 0);
	CHECK(sg_proto_put_open_ok(f, 2, 65536, 12) == 0);
	CHECK(sg_proto_put_data(f, 1, SG_STREAM_STDOUT, "HTTP/1.0 200", 12) == 0);
	CHECK(sg_proto_put_eof(f, 1, SG_STREAM_STDOUT) == 0);
	s_send(s, -1, f);
	CHECK(sg_proto_put_data(f, 1, SG_STREAM_STDIN, "GET /", 5) == 0);
	CHECK(sg_proto_put_data(f, 2, SG_STREAM_STDIN, "\0\0\0\5\1\0\0\0\3", 9) == 0);
	CHECK(sg_proto_put_close(f, 1) == 0);
	s_send(s, 0, f);
	seed_write(dir, "tcp_sftp", s);
	sg_buf_reset(s);

	/* pings both ways, before and after the handshake */
	CHECK(sg_proto_put_ping(f, SG_MSG_PING, 5) == 0);
	s_send(s, 0, f);
	s_op(s, OP_ACK);
	s_op(s, 2);
	CHECK(sg_proto_put_ping(f, SG_MSG_PING, 6) == 0);
	CHECK(sg_proto_put_config_ack(f, 0, NULL) == 0);
	CHECK(sg_proto_put_ping(f, SG_MSG_PING, 7) == 0);
	CHECK(sg_proto_put_ping(f, SG_MSG_PONG, 8) == 0);
	s_send(s, -1, f);
	CHECK(sg_proto_put_ping(f, SG_MSG_PONG, 9) == 0);
	s_send(s, 0, f);
	seed_write(dir, "ping", s);
	sg_buf_reset(s);

	/* a worker early, old bytes before the agent's answer, version 1,
	 * notices, POWEROFF, the end */
	s_link_hello(s, 0, f);
	CHECK(sg_buf_put(f, "\0\1garbage from a previous boot", 30) == 0);
	CHECK(sg_proto_put_ping(f, SG_MSG_PONG, 1) == 0);
	s_send(s, -1, f);
	s_op(s, OP_ACK);
	s_op(s, 1);
	CHECK(sg_proto_put_config_ack(f, 0, "ok") == 0);
	s_send(s, -1, f);
	s_op(s, OP_NOTICE);
	s_op(s, SG_NOTICE_WARN - 1);
	s_op(s, 0);
	s_op(s, 12);
	CHECK(sg_buf_put(s, "expires\tsoon", 12) == 0);
	s_op(s, OP_POWEROFF);
	s_op(s, 30);
	s_op(s, OP_NOTICE);
	s_op(s, SG_NOTICE_EXPIRED - 1);
	s_op(s, 1);
	s_op(s, 7);
	CHECK(sg_buf_put(s, "expired", 7) == 0);
	s_op(s, OP_NEW_LINK);
	seed_write(dir, "early_link_notice", s);
	sg_buf_reset(s);

	/* the agent fails CONFIG */
	s_op(s, OP_ACK);
	s_op(s, 2);
	CHECK(sg_proto_put_config_ack(f, EIO, "cannot mount /") == 0);
	s_send(s, -1, f);
	seed_write(dir, "config_fail", s);
	sg_buf_reset(s);

	/* a worker that stops reading while its process floods it; then
	 * an agent that stops reading while a worker floods it */
	s_ready(s, f);
	s_link_hello(s, 0, f);
	s_open(s, 0, 1, SG_OPEN_PROCESS, "yes", 0, f);
	CHECK(sg_proto_put_open_ok(f, 1, 256 * 1024, 14) == 0);
	s_send(s, -1, f);
	s_op(s, OP_STALL);
	s_op(s, 0);
	s_op(s, OP_FLOOD);
	s_op(s, 0x80);
	s_op(s, 1);
	s_op(s, 140);
	seed_write(dir, "flood_to_link", s);
	sg_buf_reset(s);
	s_ready(s, f);
	s_link_hello(s, 0, f);
	s_open(s, 0, 1, SG_OPEN_PROCESS, "cat", 0, f);
	CHECK(sg_proto_put_open_ok(f, 1, 256 * 1024, 15) == 0);
	s_send(s, -1, f);
	s_op(s, OP_STALL);
	s_op(s, 0x80);
	s_op(s, OP_FLOOD);
	s_op(s, 0);
	s_op(s, 1);
	s_op(s, 140);
	seed_write(dir, "flood_to_agent", s);
	sg_buf_reset(s);

	/* the agent goes away in a session */
	s_ready(s, f);
	s_link_hello(s, 0, f);
	s_open(s, 0, 1, SG_OPEN_PROCESS, "sleep 100", 1, f);
	CHECK(sg_proto_put_open_ok(f, 1, 65536, 13) == 0);
	s_send(s, -1, f);
	s_op(s, OP_HUP_AGENT);
	seed_write(dir, "agent_gone", s);

	sg_buf_free(s);
	sg_buf_free(f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("SG_FUZZ_RELAY_SEEDS");

	/* as in shim.c: a write to a closed link is an error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	/* the relay's log lines only when asked (to read a crash input) */
	sg_log_init("fuzz_relay", getenv("SG_FUZZ_VERBOSE") != NULL ?
	    SG_LOG_DEBUG : 0);
	if (dir != NULL) {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}
