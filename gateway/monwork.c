/* Workers (mon.h, worker.c): one per TCP connection, forked here, boxed
 * before they read a byte; their requests, each valid in one state, and
 * their ends. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/confine.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "gateway/mon.h"
#include "gateway/srclimit.h"
#include "gateway/worker.h"

void
mon_close_except(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0U, 0);
}

/* A worker that does not take a message at once does not read its
 * socket: it is ended (the monitor never waits for one). */
int
mon_worker_send(struct mon *m, struct mworker *w, const struct sg_buf *b,
    int fd)
{
	int r;

	(void)m;
	if (w->fd < 0)
		return -ENOTCONN;
	r = sg_mp_send(w->fd, b, fd);
	if (r == -EAGAIN || r == -ENOBUFS) {
		sg_warn("%s: worker %ld does not read its requests: ending it",
		    w->peer, (long)w->pid);
		kill(w->pid, SIGKILL);
	}
	return r;
}

/* --- the control interface: one command at a time --- */

#define CTL_QUEUE_MAX	(4u << 20)	/* a command's output, framed */
#define CTL_STUCK_MS	30000		/* a worker that takes none of it */

static void
ctl_call_free(struct mon *m, struct mworker *w)
{
	if (w->call == NULL)
		return;
	mon_call_clear(m, w->call);
	free(w->call);
	w->call = NULL;
}

/* A command's output goes through a queue: it may be far more than the
 * socket takes at once, and the worker reads it as its client does. */
static int
ctl_send(struct mon *m, struct mworker *w)
{
	int r = sg_mpq_send(w->ctlq, w->fd, m->msg, -1);

	if (r == -ENOBUFS) {
		sg_warn("%s: worker %ld does not read its command's output: "
		    "ending it", w->peer, (long)w->pid);
		kill(w->pid, SIGKILL);
	}
	return r;
}

void
mon_worker_flush(struct mon *m, struct mworker *w)
{
	int r;

	(void)m;
	if (w->ctlq == NULL || w->fd < 0 || sg_mpq_pending(w->ctlq) == 0)
		return;
	r = sg_mpq_flush(w->ctlq, w->fd);
	if (r == -EAGAIN && sg_mono_ms() - sg_mpq_since(w->ctlq) >
	    CTL_STUCK_MS) {
		sg_warn("%s: worker %ld does not read its command's output: "
		    "ending it", w->peer, (long)w->pid);
		kill(w->pid, SIGKILL);
	}
}

static int
send_stream(struct mon *m, struct mworker *w, uint8_t stream,
    const struct sg_buf *b)
{
	const uint8_t *p = sg_buf_data(b);
	size_t left = sg_buf_len(b), k;
	char chunk[SG_MP_MAX_STR + 1];

	while (left > 0) {
		k = left < sizeof(chunk) - 1 ? left : sizeof(chunk) - 1;
		memcpy(chunk, p, k);
		chunk[k] = '\0';
		sg_buf_reset(m->msg);
		if (sg_buf_put_u8(m->msg, SG_MP_CTL_OUT) < 0 ||
		    sg_buf_put_u8(m->msg, stream) < 0 ||
		    sg_mp_put_str(m->msg, chunk) < 0 ||
		    ctl_send(m, w) < 0)
			return -EIO;
		p += k;
		left -= k;
	}
	return 0;
}

/* The command is done: its output, then its status, to the worker. */
static void
ctl_call_done(struct mon *m, struct mon_call *c)
{
	struct mworker *w = c->owner;

	if (send_stream(m, w, 1, c->out) == 0 &&
	    send_stream(m, w, 2, c->err) == 0) {
		sg_buf_reset(m->msg);
		if (sg_buf_put_u8(m->msg, SG_MP_CTL_DONE) == 0 &&
		    sg_buf_put_u8(m->msg, (uint8_t)c->status) == 0)
			(void)ctl_send(m, w);
	}
	/* freed on the next request or when the worker goes: the caller
	 * of this callback may still hold c */
}

static int
ctl_request(struct mon *m, struct mworker *w, const uint8_t *p, size_t n)
{
	struct sg_cur c;
	char *line = NULL;
	uint8_t longer;

	if (w->call != NULL && w->call->status < 0)
		return -EPROTO;		/* one at a time */
	ctl_call_free(m, w);
	sg_cur_init(&c, p, n);
	longer = sg_cur_u8(&c);
	if (sg_mp_get_str(&c, SG_MP_MAX_STR, &line) < 0 || c.err ||
	    c.n != 0 || longer > 1) {
		free(line);
		return -EPROTO;
	}
	if (w->ctlq == NULL && (w->ctlq = sg_mpq_new(CTL_QUEUE_MAX)) == NULL) {
		free(line);
		return -ENOMEM;
	}
	w->call = malloc(sizeof(*w->call));
	if (w->call == NULL || mon_call_init(w->call, w->token, ctl_call_done,
	    w) < 0) {
		free(w->call);
		w->call = NULL;
		free(line);
		return -ENOMEM;
	}
	snprintf(w->call->source, sizeof(w->call->source), "%s", w->addr);
	/* only the command's name: its arguments may hold --env values */
	sg_info("%s: control command %.*s (token %s)", w->peer,
	    (int)strspn(line, "abcdefghijklmnopqrstuvwxyz") > 16 ? 16 :
	    (int)strspn(line, "abcdefghijklmnopqrstuvwxyz"), line, w->token);
	mon_api_run(m, w->call, line, strlen(line), longer);
	free(line);
	return 0;
}

static void
worker_gone(struct mon *m, struct mworker *w)
{
	struct mworker **pp;
	struct sbx *s = w->sbx;

	ctl_call_free(m, w);
	/* A fresh sandbox ends with its connection; a named one counts
	 * its connections through its shim. */
	if (s != NULL && s->name[0] == '\0' && s->state != SB_DESTROYING)
		mon_sbx_destroy(m, s, "disconnected", SG_NOTICE_FAILED,
		    "its connection ended");
	if (w->fd >= 0)
		close(w->fd);
	for (pp = &m->workers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	m->nworkers--;
	sg_mpq_free(w->ctlq);
	free(w->token);
	free(w->user);
	free(w);
}

void
mon_worker_reaped(struct mon *m, struct mworker *w, int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL &&
	    WTERMSIG(status) != SIGALRM)
		sg_warn("%s: worker %ld died of signal %d", w->peer,
		    (long)w->pid, WTERMSIG(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == SG_CONFINE_EXIT &&
	    !w->filtered)
		sg_warn("%s: worker %ld was stopped by its system call filter",
		    w->peer, (long)w->pid);
	worker_gone(m, w);
}

/* One request from a worker. A request its state does not allow, or a
 * malformed one, ends the worker: it is not to be trusted any more. */
void
mon_worker_read(struct mon *m, struct mworker *w)
{
	const uint8_t *p;
	ssize_t n;
	uint8_t type;
	int fd, r = -EPROTO;

	n = sg_mp_recv(w->fd, m->msg, &fd);
	if (n == -EAGAIN)
		return;
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		close(w->fd);
		w->fd = -1;	/* reaped by SIGCHLD, or now if already */
		return;
	}
	type = sg_buf_data(m->msg)[0];
	p = sg_buf_data(m->msg) + 1;
	{
		char who[32];

		snprintf(who, sizeof(who), "worker %ld", (long)w->pid);
		r = mon_child_note(&w->logl, who, sg_buf_data(m->msg),
		    (size_t)n);
		if (r == 0)
			return;
		if (r < 0) {
			w->filtered = r == -2;
			kill(w->pid, SIGKILL);
			close(w->fd);
			w->fd = -1;
			return;
		}
		r = -EPROTO;
	}
	switch (type) {
	case SG_MP_AUTH_PASSWORD:
	case SG_MP_AUTH_KEY:
		if (w->state == W_PREAUTH)
			r = mon_handle_auth(m, w, type, p, (size_t)n - 1);
		break;
	case SG_MP_START:
		if (w->state == W_AUTHED)
			r = mon_handle_start(m, w, p, (size_t)n - 1);
		break;
	case SG_MP_CTL:
		if (w->state == W_AUTHED && w->control)
			r = ctl_request(m, w, p, (size_t)n - 1);
		break;
	default:
		break;
	}
	if (r < 0) {
		sg_warn("%s: worker %ld sent a request its state does not allow "
		    "(type %u): ending it", w->peer, (long)w->pid, type);
		kill(w->pid, SIGKILL);
		close(w->fd);
		w->fd = -1;
	}
}

/* A refused connection is logged at most once a second (a flood must not
 * flood the log too); the next line says how many went unlogged. */
static void __attribute__((format(printf, 2, 3)))
refused(struct mon *m, const char *fmt, ...)
{
	char line[512];
	int64_t now = sg_mono_ms();
	va_list ap;

	m->stats.preauth_refused++;
	if (m->refused_ms != 0 && now - m->refused_ms < 1000) {
		m->refused_quiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (m->refused_quiet > 0)
		sg_warn("%s (and %u more refused in the last %lld ms)", line,
		    m->refused_quiet, (long long)(now - m->refused_ms));
	else
		sg_warn("%s", line);
	m->refused_ms = now;
	m->refused_quiet = 0;
}

void
mon_accept_client(struct mon *m)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct mworker *w;
	int fd, sp[2];
	char port[NI_MAXSERV] = "?";
	pid_t pid;

	fd = accept4(m->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (m->nworkers >= MON_MAX_WORKERS) {
		refused(m, "refusing a connection: %u connections already open",
		    m->nworkers);
		close(fd);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		close(fd);
		return;
	}
	if (getnameinfo((struct sockaddr *)&ss, sl, w->addr, sizeof(w->addr),
	    port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(w->addr, sizeof(w->addr), "?");
	/* Like sshd's MaxStartups and PerSourceMaxStartups: unauthenticated
	 * connections are cheap to open and each costs a process. */
	if (sg_srclimit_block((struct sockaddr *)&ss, m->cfg->block_v4,
	    m->cfg->block_v6, w->block, sizeof(w->block)) < 0)
		snprintf(w->block, sizeof(w->block), "%s", w->addr);
	{
		struct mworker *o;
		unsigned total = 0, same = 0, rnd = 0;

		for (o = m->workers; o != NULL; o = o->next) {
			if (o->state != W_PREAUTH)
				continue;
			total++;
			if (strcmp(o->block, w->block) == 0)
				same++;
		}
		if (same >= m->cfg->per_source_max) {
			refused(m, "refusing a connection from %s: %u connections "
			    "from %s are still authenticating "
			    "([gateway] per_source_max_startups)", w->addr,
			    same, w->block);
			free(w);
			close(fd);
			return;
		}
		if (total >= m->cfg->startups_start &&
		    getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(rnd))
			rnd = (unsigned)sg_mono_ms();
		if (sg_srclimit_drop(m->cfg->startups_start,
		    m->cfg->startups_rate, m->cfg->startups_full, total, rnd)) {
			refused(m, "refusing a connection from %s: %u connections "
			    "are still authenticating ([gateway] max_startups)",
			    w->addr, total);
			free(w);
			close(fd);
			return;
		}
	}
	snprintf(w->peer, sizeof(w->peer), "%s port %s", w->addr, port);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		free(w);
		close(fd);
		return;
	}
	pid = fork();
	if (pid < 0) {
		sg_warn("cannot fork a worker: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		close(fd);
		free(w);
		return;
	}
	if (pid == 0) {
		struct sg_worker_params p;
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* no network of its own: the empty namespace (monitor.c) */
		if (setns(m->netns_fd, CLONE_NEWNET) < 0) {
			sg_err("%s: cannot enter the workers' network "
			    "namespace: %s", w->peer, strerror(errno));
			_exit(1);
		}
		mon_close_except(fd, sp[1]);
		memset(&p, 0, sizeof(p));
		p.client_fd = fd;
		p.mon_fd = sp[1];
		p.bind = m->bind;
		p.uid = m->uid;
		p.gid = m->gid;
		p.chroot_dir = m->empty_dir;
		p.kex_timeout_s = m->cfg->kex_timeout_s;
		p.login_grace_s = m->cfg->login_grace_s;
		p.max_auth_tries = 6;
		p.peer = w->peer;
		p.control_user = m->cfg->control_user;
		sg_worker_run(&p);
	}
	close(fd);
	close(sp[1]);
	/* the monitor's end never waits (mon_worker_send) */
	fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK);
	w->pid = pid;
	w->fd = sp[0];
	w->next = m->workers;
	m->workers = w;
	m->nworkers++;
	sg_info("connection from %s (worker %ld)", w->peer, (long)pid);
}
