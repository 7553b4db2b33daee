/* sandgate-proxy from the monitor's side (mon.h, pxctl.h): started as its
 * own user, fed the secrets and every sandbox's policy, restarted when it
 * dies, and found again through its rendezvous socket by the monitor of
 * a sandgated that restarted, so that guests' connections go on. Nothing
 * here waits: READY and the feed are events of the loop, with deadlines. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/confine.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/pxfeed.h"
#include "gateway/mon.h"
#include "gateway/pxctl.h"
#include "gateway/tokens.h"

#define PX_READY_MS		15000
#define PX_RESTART_MS		1000
#define PX_BIND_RETRY_MS	200
#define PX_QUEUE_MAX		(16u << 20)

static void
rdv_path(struct mon *m, char *buf, size_t size)
{
	snprintf(buf, size, "%s/proxy.sock", m->run_dir);
}

/* The feed failed, or the proxy broke it: a proxy that does not read
 * its feed or is gone is killed; reaping (or, for one we adopted, the
 * next timer) starts a new one, and the new one gets everything again. */
static void
proxy_end(struct mon *m)
{
	if (m->px_pid > 0)
		kill(m->px_pid, SIGKILL);
	if (m->px_fd >= 0)
		close(m->px_fd);
	m->px_fd = -1;
	m->px_ready = 0;
	sg_mpq_free(m->pxq);
	m->pxq = NULL;
	if (!m->px_child) {
		m->px_pid = 0;
		m->px_restart_ms = sg_mono_ms() + PX_RESTART_MS;
	}
}

void
mon_proxy_failed(struct mon *m, const char *what, int r)
{
	sg_err("cannot hand %s to sandgate-proxy: %s: restarting it", what,
	    strerror(-r));
	proxy_end(m);
}

int
mon_proxy_need_ca(struct mon *m)
{
	return m->cfg->proxy_port != 0 && m->px_ca == NULL;
}

void
mon_proxy_sandbox(struct mon *m, struct sbx *s)
{
	int r;

	/* a pool member has no token: the proxy hears of it once claimed */
	if (m->px_fd < 0 || !m->px_ready || !s->has_net || s->pool)
		return;
	r = sg_pxc_send_sandbox(m->px_fd, m->pxq, m->msg, s->id, s->token,
	    s->na.guest, s->allow_ent, s->nallow, s->ph_name, s->ph_value,
	    s->nph);
	if (r == -EINVAL || (r == -ENOBUFS && sg_buf_len(m->msg) == 0))
		sg_warn("sandbox %s: its policy does not fit a message to the "
		    "proxy (a shorter allow_net will): it has no HTTP(S)",
		    s->id);
	else if (r < 0)
		mon_proxy_failed(m, "a sandbox's policy", r);
}

void
mon_proxy_drop(struct mon *m, const char *id)
{
	int r;

	if (m->px_fd < 0 || !m->px_ready)
		return;
	r = sg_pxc_send_drop(m->px_fd, m->pxq, m->msg, id);
	if (r < 0)
		mon_proxy_failed(m, "a sandbox's end", r);
}

/* t: tokens with their values (a reload), or NULL to read the file again
 * (the monitor keeps no values). */
void
mon_proxy_tokens(struct mon *m, const struct sg_tokens *t)
{
	struct sg_tokens *fresh = NULL;
	char *err = NULL;
	int r;

	if (m->px_fd < 0 || !m->px_ready)
		return;
	if (t == NULL) {
		r = sg_tokens_load(m->cfg->tokens, &fresh, &err);
		if (r < 0) {
			sg_err("%s: the proxy has no secrets until it is fixed",
			    err ? err : strerror(-r));
			free(err);
			return;
		}
		t = fresh;
	}
	r = sg_pxc_send_tokens(m->px_fd, m->pxq, m->msg, t);
	sg_tokens_free(fresh);
	if (r < 0)
		mon_proxy_failed(m, "the secrets", r);
}

/* READY: the proxy (new, or adopted) is in use from now on. */
static int
proxy_ready(struct mon *m, int fd)
{
	struct sbx *s;
	char *ca = NULL;
	int r;

	r = sg_pxc_ready(sg_buf_data(m->msg), sg_buf_len(m->msg), &ca);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	free(m->px_ca);
	m->px_ca = ca;
	if (fd >= 0) {
		/* an adopted proxy hands back its listening socket: the
		 * next proxy takes it over without a gap */
		if (m->px_listen >= 0)
			close(m->px_listen);
		m->px_listen = fd;
	}
	m->px_ready = 1;
	m->px_was_ready = 1;
	m->px_fails = 0;
	m->px_deadline_ms = 0;
	/* sandboxes that waited for the CA get their shims now */
	for (s = m->sbxs; s != NULL; s = s->next) {
		char *err = NULL;
		int afd = s->agent_fd;

		if (!s->wait_ca || s->state != SB_RUNNING)
			continue;
		s->wait_ca = 0;
		s->agent_fd = -1;
		if (mon_shim_spawn(m, s, afd, &err) < 0) {
			mon_sbx_destroy(m, s, "could not be started",
			    SG_NOTICE_FAILED, err ? err :
			    "cannot start the sandbox's shim");
			free(err);
			continue;
		}
		mon_start_links(m, s);
	}
	mon_proxy_tokens(m, NULL);
	for (s = m->sbxs; s != NULL && m->px_fd >= 0; s = s->next)
		if (s->state != SB_DESTROYING)
			mon_proxy_sandbox(m, s);
	/* START drops the policies of sandboxes not sent since READY: not
	 * before the sandboxes are known (libvirt may be unreachable at a
	 * restart; an adopted proxy would lose every policy) */
	m->px_start_due = 1;
	mon_proxy_start(m);
	if (m->px_fd >= 0)
		sg_info("sandgate-proxy %s (pid %ld) on port %u",
		    m->px_child ? "started" : "adopted", (long)m->px_pid,
		    (unsigned)m->cfg->proxy_port);
	return 0;
}

/* Sends START once the proxy is ready and the sandboxes adopted. */
void
mon_proxy_start(struct mon *m)
{
	int r;

	if (!m->px_start_due || !m->adopted || m->px_fd < 0 || !m->px_ready)
		return;
	m->px_start_due = 0;
	if ((r = sg_pxc_send_start(m->px_fd, m->pxq, m->msg)) < 0)
		mon_proxy_failed(m, "the start", r);
}

/* An audit event of the proxy: written, and counted for /metrics. */
static int
proxy_audit(struct mon *m, const uint8_t *p, size_t n)
{
	struct sg_pxc_note note;
	int r = sg_pxc_audit(p, n, &note);

	if (r < 0)
		return r;
	if (strcmp(note.event, "proxy_request") == 0) {
		mon_lcount_add(&m->stats.px_decisions, note.decision[0] ?
		    note.decision : "none");
		if (strcmp(note.decision, "allowed") == 0)
			m->stats.secret_subst += note.nsecrets;
	} else if (strcmp(note.event, "secret_alert") == 0) {
		m->stats.secret_alerts++;
	} else if (strcmp(note.event, "secret_redacted") == 0) {
		m->stats.secret_redacted++;
	}
	return 0;
}

void
mon_proxy_read(struct mon *m)
{
	ssize_t n;
	int fd, i, r;

	for (i = 0; i < 64 && m->px_fd >= 0; i++) {
		n = sg_mp_recv(m->px_fd, m->msg, &fd);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			if (fd >= 0)
				close(fd);
			close(m->px_fd);
			m->px_fd = -1;
			m->px_ready = 0;
			sg_mpq_free(m->pxq);
			m->pxq = NULL;
			if (!m->px_child) {
				sg_err("the adopted sandgate-proxy went away: "
				    "starting a new one");
				m->px_pid = 0;
				m->px_restart_ms = sg_mono_ms() + PX_RESTART_MS;
			}
			return;	/* a child is restarted when reaped */
		}
		if (sg_buf_data(m->msg)[0] == SG_CONFINE_REPORT) {
			struct mon_loglimit l = { 0, 0, 0 };

			if (fd >= 0)
				close(fd);
			(void)mon_child_note(&l, "sandgate-proxy",
			    sg_buf_data(m->msg), (size_t)n);
			proxy_end(m);	/* restarted as after a crash */
			return;
		}
		if (sg_buf_data(m->msg)[0] == SG_FEED_AUDIT) {
			/* (an adopted proxy may finish a request before it
			 * reads our RESYNC) */
			r = proxy_audit(m, sg_buf_data(m->msg) + 1,
			    (size_t)n - 1);
		} else if (!m->px_ready) {
			r = proxy_ready(m, fd);
			fd = -1;
		} else {
			r = -EPROTO;
		}
		if (fd >= 0)
			close(fd);
		if (r < 0) {
			sg_err("sandgate-proxy sent a bad message: restarting it");
			mon_proxy_failed(m, "a bad message", -EPROTO);
			return;
		}
	}
}

void
mon_proxy_flush(struct mon *m)
{
	int r;

	if (m->px_fd < 0 || m->pxq == NULL || sg_mpq_pending(m->pxq) == 0)
		return;
	r = sg_mpq_flush(m->pxq, m->px_fd);
	if (r < 0 && r != -EAGAIN)
		mon_proxy_failed(m, "the feed", r);
	else if (r == -EAGAIN &&
	    sg_mono_ms() - sg_mpq_since(m->pxq) > MON_PEER_STUCK_MS)
		mon_proxy_failed(m, "the feed", -ETIMEDOUT);
}

/* --- start and adoption --- */

static int
rdv_bind(struct mon *m, int *ret_fd)
{
	char path[PATH_MAX];

	rdv_path(m, path, sizeof(path));
	return mon_rdv_bind(path, ret_fd);
}

static void
proxy_spawn(struct mon *m)
{
	struct sg_pxc_cfg pc;
	char *err = NULL;
	int r, rdv = -1;

	m->px_restart_ms = 0;
	if (m->px_listen < 0) {
		r = sg_pxc_listen(m->cfg->proxy_port, &m->px_listen, &err);
		if (r == -EADDRINUSE) {
			/* the proxy of the sandgated before us is ending */
			free(err);
			m->px_restart_ms = sg_mono_ms() + PX_BIND_RETRY_MS;
			return;
		}
		if (r < 0) {
			sg_err("%s", err ? err : strerror(-r));
			free(err);
			m->px_restart_ms = sg_mono_ms() + 5000;
			return;
		}
	}
	r = rdv_bind(m, &rdv);
	if (r < 0) {
		sg_err("cannot create %s/proxy.sock: %s", m->run_dir,
		    strerror(-r));
		m->px_restart_ms = sg_mono_ms() + 5000;
		return;
	}
	memset(&pc, 0, sizeof(pc));
	pc.program = m->cfg->proxy_program;
	pc.user = m->cfg->proxy_user;
	pc.state_dir = m->cfg->state_dir;
	pc.extra_ca = m->cfg->extra_ca;
	pc.dns = m->cfg->dns;
	pc.max_conns = m->cfg->proxy_max_conns;
	pc.pool_net = m->cfg->pool_net;
	pc.pool_prefix = m->cfg->pool_prefix;
	pc.ov = m->cfg->ov;
	pc.nov = m->cfg->nov;
	pc.debug = sg_log_level() >= SG_LOG_DEBUG;
	r = sg_pxc_spawn(&pc, m->px_listen, rdv, &m->px_pid, &m->px_fd, &err);
	close(rdv);
	if (r < 0) {
		sg_err("cannot start sandgate-proxy: %s", err ? err : strerror(-r));
		free(err);
		m->px_restart_ms = sg_mono_ms() + 5000;
		return;
	}
	m->pxq = sg_mpq_new(PX_QUEUE_MAX);
	if (m->pxq == NULL) {
		mon_proxy_failed(m, "the start", -ENOMEM);
		return;
	}
	m->px_child = 1;
	m->px_ready = 0;
	m->px_deadline_ms = sg_mono_ms() + PX_READY_MS;
}

/* A proxy that a sandgated before us started, still serving guests:
 * found on its rendezvous socket (its own user's, checked). */
static int
proxy_adopt(struct mon *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct passwd *pw;
	int fd, r;

	pw = getpwnam(m->cfg->proxy_user);
	if (pw == NULL || pw->pw_uid == 0)
		return -ENOENT;
	rdv_path(m, sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    cred.uid != pw->pw_uid || cred.pid <= 1) {
		close(fd);
		return -EPERM;
	}
	m->pxq = sg_mpq_new(PX_QUEUE_MAX);
	if (m->pxq == NULL) {
		close(fd);
		return -ENOMEM;
	}
	m->px_fd = fd;
	m->px_pid = cred.pid;
	m->px_child = 0;
	m->px_ready = 0;
	m->px_deadline_ms = sg_mono_ms() + PX_READY_MS;
	r = sg_pxc_send_resync(m->px_fd, m->pxq, m->msg);
	if (r < 0) {
		mon_proxy_failed(m, "the resync", r);
		return r;
	}
	sg_info("found the sandgate-proxy of the sandgated before (pid %ld)",
	    (long)cred.pid);
	return 0;
}

int
mon_proxy_setup(struct mon *m)
{
	if (m->cfg->proxy_port == 0)
		return 0;
	if (proxy_adopt(m) == 0)
		return 0;
	proxy_spawn(m);
	return 0;
}

/* Deadlines: READY, restarts. */
void
mon_proxy_poll(struct mon *m, int64_t *timeout)
{
	int64_t now = sg_mono_ms();

	if (m->cfg->proxy_port == 0)
		return;
	if (m->px_fd >= 0 && !m->px_ready && m->px_deadline_ms != 0) {
		if (now >= m->px_deadline_ms) {
			sg_err("sandgate-proxy did not get ready within %u s (its "
			    "log lines above say why)", PX_READY_MS / 1000);
			mon_proxy_failed(m, "the start", -ETIMEDOUT);
		} else if (m->px_deadline_ms - now < *timeout) {
			*timeout = m->px_deadline_ms - now;
		}
	}
	if (m->px_fd < 0 && m->px_pid == 0 && m->px_restart_ms != 0) {
		if (now >= m->px_restart_ms)
			proxy_spawn(m);
		if (m->px_restart_ms != 0 && m->px_restart_ms - now < *timeout)
			*timeout = m->px_restart_ms - now > 0 ?
			    m->px_restart_ms - now : 0;
	}
}

void
mon_proxy_reaped(struct mon *m, int status)
{
	int64_t delay = PX_RESTART_MS;
	char how[64];

	/* one that cannot start (its CA unreadable, its program broken)
	 * is tried again less and less often, up to once a minute */
	if (!m->px_was_ready)
		m->px_fails++;
	m->px_was_ready = 0;
	if (m->px_fails > 0)
		delay = m->px_fails >= 7 ? 60000 : PX_RESTART_MS << m->px_fails;
	if (delay > 60000)
		delay = 60000;
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WIFEXITED(status) ? WEXITSTATUS(status) : status);
	sg_err("sandgate-proxy %s: restarting it in %lld s; open HTTP "
	    "connections of sandboxes end", how, (long long)(delay / 1000));
	if (m->px_fd >= 0)
		close(m->px_fd);
	m->px_fd = -1;
	m->px_pid = 0;
	m->px_child = 0;
	m->px_ready = 0;
	sg_mpq_free(m->pxq);
	m->pxq = NULL;
	m->px_restart_ms = sg_mono_ms() + delay;
}
