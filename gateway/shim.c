/* sandgate-shim: one sandbox's agent connection, DNS resolver and links
 * (docs/architecture.md, "Shim").
 *
 * sandgated's monitor starts one shim per sandbox, as root, with its own
 * socket on descriptor 3 and, on descriptor 4, a unix socket bound (not
 * listening) at <run dir>/shim/<id>.sock. The shim reads SHIM_INIT (its
 * uid, its chroot, the agent's CONFIG and connection, the DNS settings),
 * creates the resolver (c-ares reads resolv.conf now), then chroots,
 * becomes the sandbox's own uid, and only then reads a guest byte. It
 * listens on descriptor 4 so that the credentials a connecting monitor
 * sees are the shim's: a monitor that restarted finds it there and the
 * shim goes on with the new one (SO_PEERCRED: root only).
 *
 * The shim lives as long as its sandbox. Without a monitor it still ends
 * its sandbox when the lifetime is over or an ephemeral sandbox loses
 * its last connection: it tells the links why and asks the agent to
 * power off. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/allow.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/confine.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/proto.h"
#include "common/util.h"
#include "gateway/privsep.h"
#include "gateway/relay.h"
#include "netpolicy/resolver.h"

#define SHIM_MON_FD		3
#define SHIM_RDV_FD		4
#define SHIM_INIT_WAIT_MS	10000
#define SHIM_MON_QUEUE		(1u << 20)
#define WARN_BEFORE_S		60
#define POWEROFF_GRACE_S	30	/* the agent's own deadline, after ours */
#define ALLOW_WAIT_MS		10000	/* a DNS answer waits this long for a monitor */
#define MAX_PENDING		64
#define MAX_OVERRIDES		256
#define DRAIN_MS		5000	/* an ending shim waits for the agent to read */
#define MON_READ_BATCH		64	/* monitor messages read in one pass */

struct pending {
	uint32_t seq;
	int64_t since;
	int sent;
	struct sg_buf *msg;	/* the SHIM_ALLOW request */
};

struct shim {
	struct sg_mp_shim_init init;
	struct sg_relay *relay;
	struct np_res *res;
	int mon_fd;			/* -1: no monitor now */
	struct sg_mpq *monq;
	int rdv_fd;
	struct sg_buf *msg;
	int64_t expires;
	int warned, expired;
	int had_link;
	int64_t idle_since_ms;
	int ending;			/* links end; exit once they are gone */
	int powered_off;
	struct pending pend[MAX_PENDING];
	size_t npend;
	uint8_t agent;			/* enum sg_mp_agent */
	char *why;
	int quit;
	int64_t drain_since_ms;	/* ending: when it began to wait for the
				 * agent to take what is left (0: not yet) */
};

static struct shim *the_shim;	/* for the resolver's callbacks */

/* --- to the monitor --- */

static void
mon_lost(struct shim *s, const char *why)
{
	size_t i;

	if (s->mon_fd < 0)
		return;
	sg_info("shim: sandbox %s: %s; going on without a monitor",
	    s->init.id, why);
	close(s->mon_fd);
	s->mon_fd = -1;
	sg_confine_report_to(-1);
	sg_mpq_free(s->monq);
	s->monq = NULL;
	for (i = 0; i < s->npend; i++)
		s->pend[i].sent = 0;	/* again to the next monitor */
}

static void
mon_send(struct shim *s, const struct sg_buf *b)
{
	int r;

	if (s->mon_fd < 0)
		return;
	r = sg_mpq_send(s->monq, s->mon_fd, b, -1);
	if (r < 0)
		mon_lost(s, r == -ENOBUFS ? "the monitor does not read" :
		    "the monitor went away");
}

static void
send_state(struct shim *s)
{
	struct sg_mp_shim_state st;
	int64_t now = sg_mono_ms();

	if (s->mon_fd < 0)
		return;
	memset(&st, 0, sizeof(st));
	st.id = s->init.id;
	st.agent = s->agent;
	st.links = s->relay != NULL ? sg_relay_links(s->relay) : 0;
	st.idle_s = st.links == 0 && now > s->idle_since_ms ?
	    (uint32_t)((now - s->idle_since_ms) / 1000) : 0;
	st.ephemeral = s->init.ephemeral;
	st.expires = s->expires;
	st.why = s->why;
	sg_buf_reset(s->msg);
	if (sg_mp_put_shim_state(s->msg, &st) == 0)
		mon_send(s, s->msg);
}

/* --- the resolver's callbacks --- */

static int
res_allow(void *arg, const char *id, uint32_t seq, const char *name,
    const struct np_dns_rr *rr, size_t n)
{
	struct shim *s = the_shim;
	struct pending *p;
	size_t i;

	(void)arg;
	(void)id;
	if (s->npend >= MAX_PENDING)
		return -ENOBUFS;
	p = &s->pend[s->npend];
	memset(p, 0, sizeof(*p));
	p->msg = sg_buf_new(SG_MP_MAX);
	if (p->msg == NULL)
		return -ENOMEM;
	if (sg_buf_put_u8(p->msg, SG_MP_SHIM_ALLOW) < 0 ||
	    sg_buf_put_u32(p->msg, seq) < 0 ||
	    sg_mp_put_str(p->msg, name) < 0 ||
	    sg_buf_put_u32(p->msg, (uint32_t)n) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (sg_buf_put(p->msg, &rr[i].addr, 4) < 0 ||
		    sg_buf_put_u32(p->msg, rr[i].ttl) < 0)
			goto fail;
	p->seq = seq;
	p->since = sg_mono_ms();
	s->npend++;
	if (s->mon_fd >= 0) {
		p->sent = 1;
		mon_send(s, p->msg);
	}
	return 0;
fail:
	sg_buf_free(p->msg);
	p->msg = NULL;
	return -ENOBUFS;
}

static void
res_refused(void *arg, const char *id, const char *name, const char *why)
{
	struct shim *s = the_shim;

	(void)arg;
	(void)id;
	sg_buf_reset(s->msg);
	if (sg_buf_put_u8(s->msg, SG_MP_SHIM_REFUSED) == 0 &&
	    sg_mp_put_str(s->msg, name) == 0 &&
	    sg_mp_put_str(s->msg, why) == 0)
		mon_send(s, s->msg);
}

static const struct np_res_ops shim_res_ops = {
	.allow = res_allow,
	.refused = res_refused,
};

static void
pending_done(struct shim *s, size_t i, int ok)
{
	uint32_t seq = s->pend[i].seq;

	sg_buf_free(s->pend[i].msg);
	s->pend[i] = s->pend[--s->npend];
	np_res_allowed(s->res, s->init.id, seq, ok);
}

/* --- the relay's events --- */

static void
agent_deadline(struct shim *s)
{
	int64_t left = s->expires - (int64_t)time(NULL);

	if (left < 0)
		left = 0;
	/* the agent's own deadline, a last resort behind ours and the
	 * monitor's: it powers off even with neither left */
	(void)sg_relay_poweroff(s->relay, (uint32_t)(left > UINT32_MAX -
	    POWEROFF_GRACE_S ? UINT32_MAX : left + POWEROFF_GRACE_S));
}

static void
relay_event(void *arg, enum sg_relay_event ev, const char *why)
{
	struct shim *s = arg;
	char text[1200];

	switch (ev) {
	case SG_RELAY_READY:
		s->agent = SG_MP_AGENT_READY;
		agent_deadline(s);
		break;
	case SG_RELAY_DOWN:
		s->agent = SG_MP_AGENT_DOWN;
		free(s->why);
		s->why = strdup(why != NULL ? why : "the agent connection ended");
		snprintf(text, sizeof(text), "%s", s->why != NULL ? s->why :
		    "the agent connection ended");
		sg_relay_notice(s->relay, SG_NOTICE_FAILED, text, 1);
		/* without a monitor nobody else will: the VM is gone or
		 * useless, end here (the next monitor sweeps the rest) */
		if (s->mon_fd < 0)
			s->ending = 1;
		break;
	case SG_RELAY_LINKS:
		if (sg_relay_links(s->relay) > 0)
			s->had_link = 1;
		else
			s->idle_since_ms = sg_mono_ms();
		break;
	}
	send_state(s);
}

static const struct sg_relay_ops shim_relay_ops = {
	.event = relay_event,
};

/* Ends the sandbox from here: the monitor is not there to. */
static void
end_alone(struct shim *s, uint8_t kind, const char *text, const char *log)
{
	if (s->ending)
		return;
	sg_info("shim: sandbox %s: %s: powering it off", s->init.id, log);
	sg_relay_notice(s->relay, kind, text, 1);
	if (!s->powered_off && sg_relay_poweroff(s->relay, 0) == 0)
		s->powered_off = 1;
	s->ending = 1;
}

/* Lifetime warnings and ends, the last link of an ephemeral sandbox, DNS
 * answers that waited too long. Returns the milliseconds until the next. */
static int64_t
run_timers(struct shim *s)
{
	int64_t now = (int64_t)time(NULL), ms = sg_mono_ms(), next = 60000;
	char text[200];
	size_t i;

	if (!s->warned && now >= s->expires - WARN_BEFORE_S && !s->ending) {
		char dur[SG_UTIL_DURATION_BUFSZ];

		if (sg_util_format_duration((uint64_t)(s->expires > now ?
		    s->expires - now : 0), dur, sizeof(dur)) < 0)
			snprintf(dur, sizeof(dur), "?");
		snprintf(text, sizeof(text), "sandgate: sandbox %s will be "
		    "destroyed in %s (maximum lifetime reached)", s->init.id,
		    dur);
		sg_relay_notice(s->relay, SG_NOTICE_WARN, text, 0);
		s->warned = 1;
	}
	if (!s->expired && now >= s->expires) {
		s->expired = 1;
		if (s->mon_fd < 0)
			end_alone(s, SG_NOTICE_EXPIRED, "expired",
			    "its lifetime is over");
		else	/* the monitor destroys it; the sessions end now */
			sg_relay_notice(s->relay, SG_NOTICE_EXPIRED, "expired", 1);
	}
	if (s->mon_fd < 0 && s->init.ephemeral && s->had_link &&
	    sg_relay_links(s->relay) == 0)
		end_alone(s, SG_NOTICE_FAILED, "its connection ended",
		    "its connection ended");
	if (s->mon_fd < 0 && s->agent == SG_MP_AGENT_DOWN)
		s->ending = 1;
	for (i = 0; i < s->npend;) {
		if (ms - s->pend[i].since >= ALLOW_WAIT_MS) {
			pending_done(s, i, 0);
			continue;
		}
		if (s->pend[i].since + ALLOW_WAIT_MS - ms < next)
			next = s->pend[i].since + ALLOW_WAIT_MS - ms;
		i++;
	}
	if (!s->warned && (s->expires - WARN_BEFORE_S - now) * 1000 < next)
		next = (s->expires - WARN_BEFORE_S - now) * 1000;
	if (!s->expired && (s->expires - now) * 1000 < next)
		next = (s->expires - now) * 1000;
	/* what waits for the agent (a POWEROFF) goes first, for a while */
	if (s->ending && sg_relay_links(s->relay) == 0) {
		if (!sg_relay_pending(s->relay) || (s->drain_since_ms != 0 &&
		    ms - s->drain_since_ms >= DRAIN_MS))
			s->quit = 1;
		else if (s->drain_since_ms == 0)
			s->drain_since_ms = ms;
		if (next > 100)
			next = 100;
	}
	return next < 0 ? 0 : next;
}

/* --- the monitor's requests --- */

static int
mon_dns(struct shim *s, struct sg_cur *c, int fd)
{
	struct sg_allow *allow = NULL;
	char **ent = NULL, *msg = NULL;
	uint32_t n, i;
	int r = -EPROTO;

	n = sg_cur_u32(c);
	if (fd < 0 || c->err || n > 4096)
		goto out;
	ent = calloc((size_t)n + 1, sizeof(*ent));
	if (ent == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if (sg_mp_get_str(c, 1024, &ent[i]) < 0)
			goto out;
	if (c->n != 0)
		goto out;
	r = 0;
	if (sg_allow_parse((const char *const *)ent, n, &allow, &msg) < 0) {
		/* the monitor checked it: a mismatch is a bug, not fatal */
		sg_warn("shim: sandbox %s: %s", s->init.id, msg ? msg :
		    "bad allow_net");
		goto out;
	}
	np_res_del(s->res, s->init.id);
	r = np_res_add(s->res, s->init.id, fd, -1, allow);
	fd = -1;
	allow = NULL;
	if (r < 0)
		sg_warn("shim: sandbox %s: no DNS service: %s", s->init.id,
		    strerror(-r));
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	for (i = 0; ent != NULL && ent[i] != NULL; i++)
		free(ent[i]);
	free(ent);
	sg_allow_free(allow);
	free(msg);
	return r;
}

/* Handles one message from the monitor. Returns 1 when one was read (the
 * caller reads on: DROP and POWEROFF come together, and an ending shim
 * must not quit between them), 0 when none waits or the monitor is gone. */
static int
mon_read(struct shim *s)
{
	struct sg_cur c;
	char *text = NULL;
	uint32_t seq;
	uint8_t kind, ok;
	size_t i;
	ssize_t n;
	int fd, r = 0;

	n = sg_mp_recv(s->mon_fd, s->msg, &fd);
	if (n == -EAGAIN)
		return 0;
	if (n == -EMSGSIZE) {
		sg_warn("shim: sandbox %s: a request from the monitor arrived "
		    "incomplete (out of descriptors?): ignored", s->init.id);
		return 1;
	}
	if (n <= 0) {
		mon_lost(s, "the monitor went away");
		return 0;
	}
	sg_cur_init(&c, sg_buf_data(s->msg) + 1, (size_t)n - 1);
	switch (sg_buf_data(s->msg)[0]) {
	case SG_MP_SHIM_LINK:
		if (fd < 0 || c.n != 0) {
			r = -EPROTO;
			break;
		}
		r = sg_relay_add_link(s->relay, fd);
		fd = -1;
		if (r < 0)
			sg_warn("shim: sandbox %s: a connection refused: %s",
			    s->init.id, strerror(-r));
		r = 0;
		break;
	case SG_MP_SHIM_DROP:
	case SG_MP_SHIM_POWEROFF:
		kind = sg_cur_u8(&c);
		if (c.err || kind < SG_NOTICE_WARN || kind > SG_NOTICE_FAILED ||
		    sg_mp_get_str(&c, 1024, &text) < 0 || c.n != 0) {
			r = -EPROTO;
			break;
		}
		sg_info("shim: sandbox %s: ending (%s)", s->init.id, text);
		sg_relay_notice(s->relay, kind, text, 1);
		/* and its guest syncs and powers off (before the shim goes:
		 * what waits for the agent is written first) */
		if (sg_buf_data(s->msg)[0] == SG_MP_SHIM_POWEROFF &&
		    !s->powered_off && sg_relay_poweroff(s->relay, 0) == 0)
			s->powered_off = 1;
		s->ending = 1;
		free(text);
		break;
	case SG_MP_SHIM_DNS:
		r = mon_dns(s, &c, fd);
		fd = -1;
		break;
	case SG_MP_SHIM_DNS_TCP:
		if (fd < 0 || c.n != 0) {
			r = -EPROTO;
			break;
		}
		if (np_res_set_tcp(s->res, s->init.id, fd) < 0)
			sg_warn("shim: sandbox %s: no DNS over TCP", s->init.id);
		fd = -1;
		break;
	case SG_MP_SHIM_ALLOWED:
		seq = sg_cur_u32(&c);
		ok = sg_cur_u8(&c);
		if (c.err || c.n != 0 || ok > 1) {
			r = -EPROTO;
			break;
		}
		for (i = 0; i < s->npend; i++)
			if (s->pend[i].seq == seq) {
				pending_done(s, i, ok);
				break;
			}
		break;
	case SG_MP_SHIM_EXPIRES:
		s->expires = (int64_t)sg_cur_u64(&c);
		if (c.err || c.n != 0) {
			r = -EPROTO;
			break;
		}
		s->warned = s->expired = 0;
		if (s->agent == SG_MP_AGENT_READY)
			agent_deadline(s);
		send_state(s);
		break;
	default:
		r = -EPROTO;
		break;
	}
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		sg_err("shim: sandbox %s: bad request from the monitor (type "
		    "%u)", s->init.id, sg_buf_data(s->msg)[0]);
		mon_lost(s, "it sent a bad request");
		return 0;
	}
	return 1;
}

/* A monitor (a new sandgated) connects: root only. It takes over from
 * the one before, hears the state and the DNS answers still waiting. */
static void
rdv_accept(struct shim *s)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	size_t i;
	int fd;

	fd = accept4(s->rdv_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    cred.uid != 0) {
		close(fd);
		return;
	}
	if (s->mon_fd >= 0)
		mon_lost(s, "a new monitor connected");
	s->monq = sg_mpq_new(SHIM_MON_QUEUE);
	if (s->monq == NULL) {
		close(fd);
		return;
	}
	s->mon_fd = fd;
	sg_confine_report_to(fd);
	sg_info("shim: sandbox %s: a monitor connected (pid %ld)", s->init.id,
	    (long)cred.pid);
	send_state(s);
	for (i = 0; i < s->npend && s->mon_fd >= 0; i++) {
		s->pend[i].sent = 1;
		mon_send(s, s->pend[i].msg);
	}
}

/* --- start --- */

/* Reads SHIM_INIT (as root: the monitor is trusted) and the agent
 * connection that comes with it. */
static int
read_init(struct shim *s, int *ret_agent_fd)
{
	struct pollfd p = { .fd = SHIM_MON_FD, .events = POLLIN };
	ssize_t n;
	int fd = -1, r;

	r = poll(&p, 1, SHIM_INIT_WAIT_MS);
	if (r <= 0)
		return -ETIMEDOUT;
	n = sg_mp_recv(SHIM_MON_FD, s->msg, &fd);
	if (n <= 0)
		return n < 0 ? (int)n : -EPIPE;
	if (sg_buf_data(s->msg)[0] != SG_MP_SHIM_INIT) {
		r = -EPROTO;
		goto fail;
	}
	r = sg_mp_parse_shim_init(sg_buf_data(s->msg) + 1, (size_t)n - 1,
	    &s->init);
	if (r < 0)
		goto fail;
	if ((fd < 0) == (s->init.cid == 0) || s->init.uid == 0 ||
	    s->init.gid == 0 || s->init.root[0] != '/') {
		r = -EPROTO;
		goto fail;
	}
	*ret_agent_fd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return r;
}

/* --- the box (confine.h) --- */

/* What the relay, the DNS resolver (c-ares, its upstream queries) and the
 * monitor requests call once the guest's bytes flow: I/O on the
 * descriptors it holds, accept on its rendezvous and DNS listeners, new
 * sockets for upstream DNS (IPv4, IPv6) and the agent (vsock) only,
 * memory, time. No open (EACCES: it is chrooted anyway), fork, exec,
 * kill or ptrace. */
static const struct sg_confine_rule shim_rules[] = {
	SG_CF("read"), SG_CF("readv"), SG_CF("writev"),
	SG_CF("recvfrom"), SG_CF("recvmsg"), SG_CF("sendmsg"),
	SG_CF("sendmmsg"), SG_CF("recvmmsg"),
	SG_CF("poll"), SG_CF("ppoll"), SG_CF("close"), SG_CF("shutdown"),
	SG_CF("accept4"), SG_CF("accept"), SG_CF("listen"),
	SG_CF_IF("socket", 0, ~0u, AF_INET), SG_CF_IF("socket", 0, ~0u, AF_INET6),
	SG_CF_IF("socket", 0, ~0u, AF_VSOCK),
	SG_CF("connect"), SG_CF("bind"), SG_CF("getsockopt"),
	SG_CF("setsockopt"), SG_CF("getsockname"), SG_CF("getpeername"),
	SG_CF_IF("fcntl", 1, ~0u, F_GETFL), SG_CF_IF("fcntl", 1, ~0u, F_SETFL),
	SG_CF_IF("fcntl", 1, ~0u, F_GETFD), SG_CF_IF("fcntl", 1, ~0u, F_SETFD),
	SG_CF_IF("ioctl", 1, ~0u, FIONBIO), SG_CF_IF("ioctl", 1, ~0u, FIONREAD),
	SG_CF_BASE,
	SG_CF_DENY("openat", EACCES), SG_CF_DENY("open", EACCES),
	SG_CF_DENY("uname", EPERM),
};

static void
confine(struct shim *s)
{
	const char *what;
	char *err = NULL;
	int r;

	/* descriptors: links, the agent, DNS; no processes, no core. No
	 * RLIMIT_FSIZE: while no monitor runs its log lines go to its
	 * stderr, which may be the log file (it opens no file: its filter) */
	r = sg_confine_limits(1024, 0, &what);
	if (r < 0) {
		sg_err("shim: sandbox %s: cannot set %s: %s", s->init.id, what,
		    strerror(-r));
		_exit(1);
	}
	sg_privsep_drop(s->init.uid, s->init.gid, s->init.root);
	/* its log lines go through its monitor while it has one (counted
	 * and rate-limited there), to stderr while none runs */
	s->mon_fd = SHIM_MON_FD;
	sg_mp_log_via(&s->mon_fd);
	r = sg_confine_filter("sandgate-shim", shim_rules,
	    sizeof(shim_rules) / sizeof(shim_rules[0]), SHIM_MON_FD, &err);
	if (r < 0) {
		sg_err("shim: sandbox %s: %s", s->init.id, err ? err :
		    strerror(-r));
		_exit(1);
	}
}

static int
loop(struct shim *s)
{
	struct pollfd *pfd = NULL;
	size_t cap = 0, np, nrel, nres, need;
	int k;
	int64_t timeout;

	while (!s->quit) {
		timeout = run_timers(s);
		if (s->quit)
			break;
		if (s->mon_fd >= 0 && sg_mpq_pending(s->monq) > 0) {
			int r = sg_mpq_flush(s->monq, s->mon_fd);

			if (r < 0 && r != -EAGAIN)
				mon_lost(s, "the monitor went away");
		}
		for (;;) {
			np = 2;
			nrel = sg_relay_pollfds(s->relay, pfd != NULL ? pfd + np :
			    NULL, cap > np ? cap - np : 0, &timeout);
			nres = np_res_pollfds(s->res, pfd != NULL && cap > np +
			    nrel ? pfd + np + nrel : NULL, cap > np + nrel ?
			    cap - np - nrel : 0);
			need = np + nrel + nres;
			if (need <= cap)
				break;
			free(pfd);
			cap = need + 16;
			pfd = calloc(cap, sizeof(*pfd));
			if (pfd == NULL)
				return -ENOMEM;
		}
		pfd[0] = (struct pollfd){ .fd = s->mon_fd, .events = POLLIN |
		    (s->mon_fd >= 0 && sg_mpq_pending(s->monq) ? POLLOUT : 0) };
		pfd[1] = (struct pollfd){ .fd = s->rdv_fd, .events = POLLIN };
		if (np_res_timeout_ms(s->res) < timeout)
			timeout = np_res_timeout_ms(s->res);
		if (poll(pfd, need, (int)(timeout < 0 ? 0 : timeout)) < 0 &&
		    errno != EINTR)
			return -errno;
		if (pfd[1].revents & POLLIN)
			rdv_accept(s);
		if (s->mon_fd >= 0 && pfd[0].fd == s->mon_fd &&
		    (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			for (k = 0; k < MON_READ_BATCH && s->mon_fd >= 0 &&
			    mon_read(s); k++)
				;
		np_res_events(s->res, pfd + np + nrel, nres);
		sg_relay_events(s->relay, pfd + np, nrel);
	}
	free(pfd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct shim s;
	struct np_res_override ov[MAX_OVERRIDES];
	char *err = NULL;
	size_t i;
	int agent_fd = -1, r;

	(void)argc;
	(void)argv;	/* the sandbox id, for ps(1) */
	sg_log_init("sandgate-shim", SG_LOG_INFO);
	memset(&s, 0, sizeof(s));
	s.mon_fd = -1;
	the_shim = &s;
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0 || fcntl(SHIM_MON_FD, F_GETFD) < 0 ||
	    fcntl(SHIM_RDV_FD, F_GETFD) < 0) {
		fprintf(stderr, "sandgate-shim is started by sandgated(8), as "
		    "root, with its sockets on descriptors 3 and 4\n");
		return 2;
	}
	s.msg = sg_buf_new(SG_MP_MAX);
	if (s.msg == NULL)
		return 1;
	r = read_init(&s, &agent_fd);
	if (r < 0) {
		sg_err("shim: no start request from the monitor: %s",
		    strerror(-r));
		return 1;
	}
	for (i = 0; i < s.init.nov && i < MAX_OVERRIDES; i++) {
		ov[i].name = s.init.ov_name[i];
		memcpy(&ov[i].addr, s.init.ov_addr[i], 4);
	}
	/* c-ares reads /etc/resolv.conf now, before the chroot. */
	r = np_res_new(&shim_res_ops, NULL, s.init.dns[0] != '\0' ?
	    s.init.dns : NULL, ov, i, &s.res, &err);
	if (r < 0) {
		sg_err("shim: sandbox %s: %s", s.init.id, err ? err :
		    "cannot start the resolver");
		return 1;
	}
	s.expires = s.init.expires;
	s.idle_since_ms = sg_mono_ms();
	confine(&s);
	/* From here on the guest's bytes. */
	if (listen(SHIM_RDV_FD, 4) < 0) {
		sg_err("shim: sandbox %s: cannot listen for a new monitor: %s",
		    s.init.id, strerror(errno));
		return 1;
	}
	s.rdv_fd = SHIM_RDV_FD;
	fcntl(SHIM_RDV_FD, F_SETFL, fcntl(SHIM_RDV_FD, F_GETFL) | O_NONBLOCK);
	fcntl(SHIM_RDV_FD, F_SETFD, FD_CLOEXEC);
	fcntl(SHIM_MON_FD, F_SETFL, fcntl(SHIM_MON_FD, F_GETFL) | O_NONBLOCK);
	fcntl(SHIM_MON_FD, F_SETFD, FD_CLOEXEC);
	s.mon_fd = SHIM_MON_FD;
	s.monq = sg_mpq_new(SHIM_MON_QUEUE);
	r = sg_relay_new(&shim_relay_ops, &s, s.init.id, s.init.boot_ms,
	    &s.relay);
	if (r < 0 || s.monq == NULL)
		return 1;
	r = sg_relay_attach(s.relay, agent_fd, s.init.cid, s.init.cfg);
	s.init.cfg = NULL;
	if (r < 0) {
		sg_err("shim: sandbox %s: cannot reach its agent: %s",
		    s.init.id, strerror(-r));
		return 1;
	}
	sg_info("shim: sandbox %s: running (uid %u)", s.init.id,
	    (unsigned)s.init.uid);
	send_state(&s);
	r = loop(&s);
	/* what is queued for links and the agent (notices, POWEROFF) goes
	 * out before the process does */
	{
		int64_t t = 0;
		size_t k;

		for (k = 0; k < 3; k++)
			(void)sg_relay_pollfds(s.relay, NULL, 0, &t);
	}
	if (s.mon_fd >= 0)
		(void)sg_mpq_flush(s.monq, s.mon_fd);
	sg_info("shim: sandbox %s: exiting", s.init.id);
	sg_relay_free(s.relay);
	np_res_free(s.res);
	sg_mpq_free(s.monq);
	for (i = 0; i < s.npend; i++)
		sg_buf_free(s.pend[i].msg);
	sg_mp_shim_init_clear(&s.init);
	sg_buf_free(s.msg);
	free(s.why);
	return r < 0 ? 1 : 0;
}
