/* The monitor's side of the shims (mon.h, shim.c): one per sandbox,
 * started here with a uid no other live sandbox has, found again through
 * its rendezvous socket by the next monitor, and started again when it
 * dies while its sandbox lives. */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/allow.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/util.h"
#include "common/proto.h"
#include "gateway/audit.h"
#include "gateway/jobs.h"
#include "gateway/mon.h"
#include "gateway/pxctl.h"
#include "gateway/tokens.h"
#include "gateway/vm.h"
#include "netpolicy/resolver.h"

#define SHIM_QUEUE_MAX	(4u << 20)

void
mon_shim_path(struct mon *m, const char *id, char *buf, size_t size)
{
	snprintf(buf, size, "%s/shim/%s.sock", m->run_dir, id);
}

/* --- uids --- */

/* Is a process of uid running (a shim of ours, or anything else)? */
static int
uid_in_use(struct mon *m, uid_t uid)
{
	char path[300], line[256];
	struct dirent *de;
	struct sbx *s;
	DIR *d;
	FILE *f;
	int used = 0;

	for (s = m->sbxs; s != NULL; s = s->next)
		if (s->uid == uid && (s->shim_fd >= 0 || s->shim_pid > 0))
			return 1;
	d = opendir("/proc");
	if (d == NULL)
		return 0;
	while (!used && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned long ru, eu;

			if (sscanf(line, "Uid: %lu %lu", &ru, &eu) == 2) {
				used = ru == uid || eu == uid;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return used;
}

/* A uid of [gateway] uid_range that no process has now. */
static int
uid_pick(struct mon *m, uid_t *ret)
{
	uint32_t first = m->cfg->uid_first, n = m->cfg->uid_last - first + 1;
	uint32_t i, u;

	for (i = 0; i < n && i < 65536; i++) {
		u = first + (m->uid_next + i) % n;
		if (!uid_in_use(m, u)) {
			m->uid_next = (m->uid_next + i + 1) % n;
			*ret = u;
			return 0;
		}
	}
	return -EUSERS;
}

static int
uid_ours(struct mon *m, uid_t uid)
{
	return uid >= m->cfg->uid_first && uid <= m->cfg->uid_last;
}

/* --- sending --- */

int
mon_shim_send(struct mon *m, struct sbx *s, const struct sg_buf *b, int fd)
{
	int r;

	if (s->shim_fd < 0)
		return -ENOTCONN;
	r = sg_mpq_send(s->shimq, s->shim_fd, b, fd);
	if (r < 0)
		mon_shim_gone(m, s, r == -ENOBUFS ? "it does not read its "
		    "requests" : "its socket closed");
	return r;
}

void
mon_shim_flush(struct mon *m, struct sbx *s)
{
	int r;

	if (s->shim_fd < 0 || sg_mpq_pending(s->shimq) == 0)
		return;
	r = sg_mpq_flush(s->shimq, s->shim_fd);
	if (r < 0 && r != -EAGAIN)
		mon_shim_gone(m, s, "its socket closed");
	else if (r == -EAGAIN &&
	    sg_mono_ms() - sg_mpq_since(s->shimq) > MON_PEER_STUCK_MS)
		mon_shim_gone(m, s, "it does not read its requests");
}

/* Hands the shim the sandbox's DNS service: its allow_net and the two
 * sockets on its host-side address. Without it the guest's names do not
 * resolve (and nothing else opens). */
void
mon_shim_dns(struct mon *m, struct sbx *s)
{
	size_t i;
	char *err = NULL;
	int u = -1, t = -1, r;

	if (!s->has_net || s->shim_fd < 0)
		return;
	r = sg_net_dns_sockets(&s->na, &u, &t, &err);
	if (r < 0) {
		/* e.g. a shim that just died still holds the address for a
		 * moment: the timers try again */
		if (!s->dns_pending)
			sg_warn("sandbox %s: %s (trying again)", s->id,
			    err ? err : strerror(-r));
		free(err);
		s->dns_pending = 1;
		return;
	}
	s->dns_pending = 0;
	/* The list the sandbox was made with: the token's may have
	 * changed since. */
	sg_buf_reset(m->msg);
	r = sg_buf_put_u8(m->msg, SG_MP_SHIM_DNS);
	if (r == 0)
		r = sg_buf_put_u32(m->msg, (uint32_t)s->nallow);
	for (i = 0; r == 0 && i < s->nallow; i++)
		r = sg_mp_put_str(m->msg, s->allow_ent[i]);
	if (r == 0)
		r = mon_shim_send(m, s, m->msg, u);
	if (r == 0) {
		sg_buf_reset(m->msg);
		if (sg_buf_put_u8(m->msg, SG_MP_SHIM_DNS_TCP) == 0)
			r = mon_shim_send(m, s, m->msg, t);
	}
	if (r < 0)
		sg_warn("sandbox %s: cannot hand its DNS to its shim: %s", s->id,
		    strerror(-r));
	close(u);
	close(t);
}

/* --- start --- */

/* The agent's CONFIG: network, CA, names, the locked environment. */
static int
shim_config(struct mon *m, struct sbx *s, struct sg_config **ret)
{
	char hostname[64], idenv[64], hostip[INET_ADDRSTRLEN] = "";
	char guestip[INET_ADDRSTRLEN] = "", guestcidr[INET_ADDRSTRLEN + 4] = "";
	struct sg_config *c = sg_config_new();
	size_t i;
	int r = 0;

	if (c == NULL)
		return -ENOMEM;
	snprintf(hostname, sizeof(hostname), "sandbox-%s", s->id);
	snprintf(idenv, sizeof(idenv), "SANDGATE_SANDBOX_ID=%s", s->id);
	if (s->has_net) {
		struct in_addr a;

		a.s_addr = htonl(s->na.host);
		inet_ntop(AF_INET, &a, hostip, sizeof(hostip));
		a.s_addr = htonl(s->na.guest);
		inet_ntop(AF_INET, &a, guestip, sizeof(guestip));
		snprintf(guestcidr, sizeof(guestcidr), "%s/%u", guestip,
		    s->na.prefix);
		r = sg_config_add(c, "ip", guestcidr);
		if (r == 0)
			r = sg_config_add(c, "gateway", hostip);
		if (r == 0)
			r = sg_config_add(c, "dns", hostip);
		if (r == 0 && m->px_ca != NULL)
			r = sg_config_add(c, "ca", m->px_ca);
	}
	/* the host's clock and fresh entropy: a resumed guest's are the
	 * ones it had when it was saved */
	{
		struct timespec ts;
		uint8_t rnd[32];
		char tv[48], hex[2 * sizeof(rnd) + 1];

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(tv, sizeof(tv), "%lld.%09ld", (long long)ts.tv_sec,
		    ts.tv_nsec);
		if (r == 0)
			r = sg_config_add(c, "time", tv);
		if (r == 0 && sg_util_random(rnd, sizeof(rnd)) == 0 &&
		    sg_util_hex_encode(rnd, sizeof(rnd), hex, sizeof(hex)) == 0)
			r = sg_config_add(c, "entropy", hex);
		explicit_bzero(rnd, sizeof(rnd));
		explicit_bzero(hex, sizeof(hex));
	}
	if (r == 0)
		r = sg_config_add(c, "hostname", hostname);
	if (r == 0)
		r = sg_config_add(c, "sandbox_id", s->id);
	if (r == 0)
		r = sg_config_add(c, "image", s->image);
	if (r == 0)
		r = sg_config_add(c, "env", idenv);
	/* what create --env asked for */
	for (i = 0; r == 0 && i < s->nenv; i++)
		r = sg_config_add(c, "env", s->env[i]);
	/* its volumes: the disk with this serial, mounted there */
	for (i = 0; r == 0 && i < s->nvols; i++) {
		char serial[16], v[SG_CTLA_MOUNT_MAX + 32];

		mon_vol_serial(i, serial, sizeof(serial));
		snprintf(v, sizeof(v), "%s %s %s", serial, s->vols[i].ro ? "ro" :
		    "rw", s->vols[i].path);
		r = sg_config_add(c, "volume", v);
	}
	/* each secret's placeholder, in the locked environment */
	for (i = 0; r == 0 && i < s->nph; i++) {
		char ev[SG_PXC_PH_LEN + 160];

		snprintf(ev, sizeof(ev), "%s=%s", s->ph_name[i], s->ph_value[i]);
		r = sg_config_add(c, "env", ev);
	}
	if (r < 0) {
		sg_config_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* Binds (as root, in a root-only directory) the socket a later monitor
 * finds the shim on; the shim listens on it once it is its own uid. */
static int
rdv_bind(struct mon *m, const char *id, int *ret_fd)
{
	char dir[PATH_MAX], path[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/shim", m->run_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	mon_shim_path(m, id, path, sizeof(path));
	return mon_rdv_bind(path, ret_fd);
}

/* Starts the sandbox's shim with the agent connection (taken; -1 for
 * vsock: the shim connects to s->cid), and queues its start request. */
int
mon_shim_spawn(struct mon *m, struct sbx *s, int agent_fd, char **ret_err)
{
	struct sg_mp_shim_init si;
	struct sg_config *cfg = NULL;
	char *ov_names[256];
	uint8_t ov_addr[256][4];
	int sp[2] = { -1, -1 }, rdv = -1, r;
	size_t i;
	uid_t uid;
	pid_t pid;

	*ret_err = NULL;
	memset(&si, 0, sizeof(si));
	r = uid_pick(m, &uid);
	if (r < 0) {
		*ret_err = strdup("every uid of [gateway] uid_range is in use: "
		    "widen the range");
		goto fail;
	}
	r = shim_config(m, s, &cfg);
	if (r < 0)
		goto fail;
	r = rdv_bind(m, s->id, &rdv);
	if (r < 0) {
		if (asprintf(ret_err, "cannot create the shim's socket in %s/shim: "
		    "%s", m->run_dir, strerror(-r)) < 0)
			*ret_err = NULL;
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = -errno;
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto fail;
	}
	if (pid == 0) {
		char *const argv[] = { (char *)"sandgate-shim", s->id, NULL };
		char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		    NULL };
		sigset_t none;
		int a, b;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		a = fcntl(sp[1], F_DUPFD, 10);
		b = fcntl(rdv, F_DUPFD, 10);
		if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0)
			_exit(127);
		close_range(5, ~0U, 0);
		execve(m->cfg->shim_program, argv, envp);
		_exit(127);
	}
	close(sp[1]);
	sp[1] = -1;
	close(rdv);
	rdv = -1;
	if (fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK) < 0 ||
	    (s->shimq = sg_mpq_new(SHIM_QUEUE_MAX)) == NULL) {
		kill(pid, SIGKILL);
		r = -ENOMEM;
		goto fail;
	}
	s->shim_fd = sp[0];
	sp[0] = -1;
	s->shim_pid = pid;
	s->shim_child = 1;
	s->uid = uid;
	s->shim_ready = 0;
	s->shim_known = 0;
	s->shim_restart_ms = 0;
	si.id = s->id;
	si.uid = uid;
	si.gid = uid;
	si.root = m->empty_dir;
	si.boot_ms = (uint32_t)(m->cfg->boot_timeout_s * 1000);
	si.cid = agent_fd >= 0 ? 0 : s->cid;
	si.ephemeral = s->name[0] == '\0';
	si.expires = s->expires;
	si.dns = (char *)(m->cfg->dns != NULL ? m->cfg->dns : "");
	for (i = 0; i < m->cfg->nov && i < 256; i++) {
		ov_names[i] = (char *)m->cfg->ov[i].name;
		memcpy(ov_addr[i], &m->cfg->ov[i].addr, 4);
	}
	si.nov = i;
	si.ov_name = ov_names;
	si.ov_addr = ov_addr;
	si.cfg = cfg;
	sg_buf_reset(m->msg);
	r = sg_mp_put_shim_init(m->msg, &si);
	sg_config_free(cfg);
	cfg = NULL;
	if (r < 0) {
		if (asprintf(ret_err, "the sandbox's configuration does not "
		    "fit one message (%u bytes): fewer secrets or a shorter "
		    "extra CA will", SG_MP_MAX) < 0)
			*ret_err = NULL;
		kill(pid, SIGKILL);
		goto fail;
	}
	r = mon_shim_send(m, s, m->msg, agent_fd);
	if (agent_fd >= 0)
		close(agent_fd);
	agent_fd = -1;
	if (r < 0) {
		*ret_err = strdup("the sandbox's shim exited at once");
		return r;
	}
	sg_info("sandbox %s: shim started (pid %ld, uid %u)", s->id, (long)pid,
	    (unsigned)uid);
	mon_shim_dns(m, s);
	return 0;
fail:
	if (*ret_err == NULL && asprintf(ret_err, "cannot start the sandbox's "
	    "shim: %s", strerror(-r)) < 0)
		*ret_err = NULL;
	if (agent_fd >= 0)
		close(agent_fd);
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	if (rdv >= 0)
		close(rdv);
	sg_config_free(cfg);
	return r < 0 ? r : -EIO;
}

/* --- requests from a shim (a guest may have taken it over) --- */

/* The resolver asks to open the firewall for a DNS answer; the monitor
 * decides on its own copy of the sandbox's policy and says yes or no. */
static int
shim_allow(struct mon *m, struct sbx *s, struct sg_cur *c)
{
	uint8_t addrs[4 * 16];
	uint32_t ttls[16], seq, n, i;
	char *name = NULL, *err = NULL;
	const uint8_t *a;
	int r = -EPROTO, ok = 0;

	seq = sg_cur_u32(c);
	if (c->err || sg_mp_get_str(c, 1100, &name) < 0)
		goto out;
	n = sg_cur_u32(c);
	if (c->err || n == 0 || n > 16)
		goto out;
	for (i = 0; i < n; i++) {
		a = sg_cur_bytes(c, 4);
		ttls[i] = sg_cur_u32(c);
		if (c->err || a == NULL)
			goto out;
		memcpy(addrs + 4 * i, a, 4);
	}
	if (c->n != 0)
		goto out;
	r = 0;
	if (s->has_net) {
		if (sg_net_allow(m->net, s->id, s->allow, name, addrs, ttls, n,
		    &err) == 0) {
			ok = 1;
		} else {
			sg_warn("sandbox %s: DNS answer for %s not allowed: %s",
			    s->id, name, err ? err : "refused");
			m->stats.dns_blocked++;
			sg_audit("dns_blocked", "sandbox", s->id, "token", s->token,
			    "name", name, "reason", err ? err : "refused", NULL);
		}
		free(err);
	}
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_SHIM_ALLOWED) == 0 &&
	    sg_buf_put_u32(m->msg, seq) == 0 &&
	    sg_buf_put_u8(m->msg, (uint8_t)ok) == 0)
		(void)mon_shim_send(m, s, m->msg, -1);
out:
	free(name);
	return r;
}

static int
shim_state(struct mon *m, struct sbx *s, const uint8_t *p, size_t n)
{
	struct sg_mp_shim_state st;
	char text[1100];
	unsigned before;
	int r, was_known;

	r = sg_mp_parse_shim_state(p, n, &st);
	if (r < 0)
		return r;
	if (st.version != SG_MP_SHIM_VERSION || strcmp(st.id, s->id) != 0) {
		sg_mp_shim_state_clear(&st);
		return -EPROTO;
	}
	if (s->state == SB_HIBERNATING || s->state == SB_HIBERNATED ||
	    s->state == SB_POOLING || s->state == SB_POOLED) {
		/* the shim of a sandbox being saved or paused for the warm
		 * pool, on its way out: its agent going away is not a
		 * failure */
		sg_mp_shim_state_clear(&st);
		return 0;
	}
	was_known = s->shim_known;
	before = s->nconn;
	if (!was_known && !s->shim_child)
		sg_info("sandbox %s: its shim (pid %ld) is back in touch: %u "
		    "connections", s->id, (long)s->shim_pid, st.links);
	s->shim_known = 1;
	if (st.links > 0)
		s->had_conn = 1;
	/* idle from when the last connection left, as the shim saw it */
	if (st.links == 0 && before > 0)
		s->idle_since = mon_now();
	else if (st.links == 0 && !was_known)
		s->idle_since = mon_now() - (int64_t)st.idle_s;
	s->nconn = st.links;
	if (st.agent == SG_MP_AGENT_READY && !s->shim_ready) {
		s->shim_ready = 1;
		if (s->create_ms != 0)
			sg_metrics_hist_add(&m->stats.start_hist,
			    (double)(sg_mono_ms() - s->create_ms) / 1000.0);
		s->create_ms = 0;
		mon_api_ready(m, s);
		if (s->pool && s->state == SB_RUNNING) {
			/* booted for the warm pool: paused until claimed */
			mon_pool_ready(m, s);
			sg_mp_shim_state_clear(&st);
			return 0;
		}
	}
	if (st.agent == SG_MP_AGENT_DOWN) {
		snprintf(text, sizeof(text), "%s", st.why);
		mon_sbx_destroy(m, s, s->shim_ready ? "stopped" :
		    "agent not ready", SG_NOTICE_FAILED, text);
	} else if (s->name[0] == '\0' && st.links == 0 &&
	    (before > 0 || (!was_known && !s->shim_child))) {
		/* a fresh sandbox ends with its connection (also when that
		 * ended while no monitor ran) */
		mon_sbx_destroy(m, s, "disconnected", SG_NOTICE_FAILED,
		    "its connection ended");
	}
	sg_mp_shim_state_clear(&st);
	return 0;
}

void
mon_shim_read(struct mon *m, struct sbx *s)
{
	struct sg_cur c;
	char *name = NULL, *why = NULL;
	ssize_t n;
	int fd, i, r = 0;

	for (i = 0; i < 32 && s->shim_fd >= 0; i++) {
		n = sg_mp_recv(s->shim_fd, m->msg, &fd);
		if (n == -EAGAIN)
			return;
		if (fd >= 0)
			close(fd);
		if (n <= 0) {
			mon_shim_gone(m, s, "it exited");
			return;
		}
		{
			char who[48];

			snprintf(who, sizeof(who), "shim of sandbox %s", s->id);
			r = mon_child_note(&s->shim_logl, who, sg_buf_data(m->msg),
			    (size_t)n);
			if (r == 0)
				continue;
			if (r < 0) {
				if (s->shim_pid > 0)
					kill(s->shim_pid, SIGKILL);
				mon_shim_gone(m, s, r == -2 ? "its system call "
				    "filter stopped it" : "it sent a bad request");
				return;
			}
			r = 0;
		}
		sg_cur_init(&c, sg_buf_data(m->msg) + 1, (size_t)n - 1);
		switch (sg_buf_data(m->msg)[0]) {
		case SG_MP_SHIM_STATE:
			r = shim_state(m, s, sg_buf_data(m->msg) + 1,
			    (size_t)n - 1);
			break;
		case SG_MP_SHIM_ALLOW:
			r = shim_allow(m, s, &c);
			break;
		case SG_MP_SHIM_REFUSED:
			if (sg_mp_get_str(&c, 1100, &name) < 0 ||
			    sg_mp_get_str(&c, 256, &why) < 0 || c.n != 0) {
				r = -EPROTO;
			} else {
				m->stats.dns_refused++;
				sg_audit("dns_refused", "sandbox", s->id, "token",
				    s->token, "name", name, "reason", why, NULL);
			}
			free(name);
			free(why);
			name = why = NULL;
			break;
		default:
			r = -EPROTO;
			break;
		}
		if (r < 0) {
			/* a shim that breaks the requests is not ours any
			 * more: its sandbox's guest may have taken it */
			sg_err("sandbox %s: its shim sent a bad request: ending "
			    "it", s->id);
			if (s->shim_pid > 0)
				kill(s->shim_pid, SIGKILL);
			mon_shim_gone(m, s, "it sent a bad request");
			return;
		}
		if (s->state == SB_DESTROYING)
			return;
	}
}

/* --- a shim ends --- */

void
mon_shim_gone(struct mon *m, struct sbx *s, const char *why)
{
	char path[PATH_MAX];
	int64_t ms = sg_mono_ms();

	if (s->shim_fd < 0)
		return;
	close(s->shim_fd);
	s->shim_fd = -1;
	sg_mpq_free(s->shimq);
	s->shimq = NULL;
	/* make sure it is gone (a child is reaped by the loop) */
	if (s->shim_pid > 0 && strcmp(why, "it exited") != 0)
		kill(s->shim_pid, SIGKILL);
	if (!s->shim_child)
		s->shim_pid = 0;
	mon_shim_path(m, s->id, path, sizeof(path));
	(void)unlink(path);
	if (s->state == SB_POOLING)
		mon_pool_shim_gone(m, s);
	if (s->state == SB_DESTROYING || s->state == SB_HIBERNATING ||
	    s->state == SB_HIBERNATED || s->state == SB_RESUMING ||
	    s->state == SB_POOLING || s->state == SB_POOLED)
		return;
	sg_warn("sandbox %s: its shim ended (%s); its sessions ended", s->id,
	    why);
	s->shim_ready = 0;
	s->nconn = 0;
	if (s->name[0] == '\0') {
		mon_sbx_destroy(m, s, "disconnected", SG_NOTICE_FAILED,
		    "its connection ended");
		return;
	}
	/* a named sandbox gets a new shim, unless they keep failing (a
	 * guest that crashes its shim on purpose) */
	if (ms - s->restarts_since_ms > 60000) {
		s->restarts_since_ms = ms;
		s->restarts = 0;
	}
	if (++s->restarts > MON_SHIM_RESTARTS) {
		mon_sbx_destroy(m, s, "shim failed", SG_NOTICE_FAILED,
		    "its shim kept failing");
		return;
	}
	s->idle_since = mon_now();
	s->shim_restart_ms = ms + MON_SHIM_RESTART_MS;
}

void
mon_shim_reaped(struct mon *m, pid_t pid, int status)
{
	struct sbx *s;

	for (s = m->sbxs; s != NULL; s = s->next) {
		if (!s->shim_child || s->shim_pid != pid)
			continue;
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			sg_warn("sandbox %s: its shim (pid %ld) died of signal %d",
			    s->id, (long)pid, WTERMSIG(status));
		s->shim_pid = 0;
		s->shim_child = 0;
		mon_shim_gone(m, s, "it exited");
		return;
	}
}

/* --- after a restart --- */

/* Connects to <run_dir>/shim/<id>.sock: 0 and a connected socket whose
 * peer is a shim of ours (a uid of the range), or -errno. */
static int
rdv_connect(struct mon *m, const char *id, int *ret_fd, struct ucred *ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t cl = sizeof(*ret);
	int fd, r;

	mon_shim_path(m, id, sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ret, &cl) < 0 ||
	    !uid_ours(m, ret->uid) || ret->pid <= 1) {
		close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	return 0;
}

int
mon_shim_adopt(struct mon *m, struct sbx *s)
{
	struct ucred cred;
	char path[PATH_MAX];
	int fd, r;

	r = rdv_connect(m, s->id, &fd, &cred);
	if (r < 0) {
		mon_shim_path(m, s->id, path, sizeof(path));
		if (r != -ENOENT)
			(void)unlink(path);
		return r;
	}
	s->shimq = sg_mpq_new(SHIM_QUEUE_MAX);
	if (s->shimq == NULL) {
		close(fd);
		return -ENOMEM;
	}
	s->shim_fd = fd;
	s->shim_pid = cred.pid;
	s->shim_child = 0;
	s->uid = cred.uid;
	s->shim_known = 0;
	sg_info("sandbox %s: shim adopted (pid %ld, uid %u)", s->id,
	    (long)cred.pid, (unsigned)cred.uid);
	return 0;
}

/* Rendezvous sockets of sandboxes that are gone: a shim still there is
 * told to end; the file goes. */
void
mon_shim_sweep(struct mon *m)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], id[16];
	struct dirent *de;
	struct ucred cred;
	size_t len;
	DIR *d;
	int fd;

	snprintf(dir, sizeof(dir), "%s/shim", m->run_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len != 12 + 5 || strcmp(de->d_name + 12, ".sock") != 0)
			continue;
		memcpy(id, de->d_name, 12);
		id[12] = '\0';
		if (!sg_vm_valid_id(id) || mon_sbx_find(m, id) != NULL)
			continue;
		if (rdv_connect(m, id, &fd, &cred) == 0) {
			sg_buf_reset(m->msg);
			if (sg_buf_put_u8(m->msg, SG_MP_SHIM_DROP) == 0 &&
			    sg_buf_put_u8(m->msg, SG_NOTICE_FAILED) == 0 &&
			    sg_mp_put_str(m->msg, "the sandbox is gone") == 0)
				(void)sg_mp_send(fd, m->msg, -1);
			close(fd);
			sg_info("sandbox %s is gone: its shim (pid %ld) ends", id,
			    (long)cred.pid);
		}
		mon_shim_path(m, id, path, sizeof(path));
		(void)unlink(path);
	}
	closedir(d);
}

/* --- a new shim for a running sandbox --- */

struct cid_job {
	struct mon *m;
	char id[16];
	uint32_t cid;
	int r;
	char *err;
};

static void
cid_run(void *arg)
{
	struct cid_job *j = arg;
	struct sg_vm_host *h = NULL;

	j->r = mon_vm(j->m, &h, &j->err);
	if (j->r == 0)
		j->r = sg_vm_agent_cid(h, j->id, &j->cid, &j->err);
}

static void
restart_with(struct mon *m, struct sbx *s, int fd)
{
	char *err = NULL;

	if (mon_shim_spawn(m, s, fd, &err) < 0) {
		sg_warn("sandbox %s: %s", s->id, err ? err : "cannot start a shim");
		free(err);
		mon_sbx_destroy(m, s, "shim failed", SG_NOTICE_FAILED,
		    "its shim could not be started");
		return;
	}
	mon_start_links(m, s);
}

static void
cid_done(void *arg, int cancelled)
{
	struct cid_job *j = arg;
	struct sbx *s;

	if (cancelled)
		goto out;
	s = mon_sbx_find(j->m, j->id);
	if (s == NULL || s->shim_fd >= 0)
		goto out;
	if (j->r < 0) {
		sg_warn("sandbox %s: cannot find its agent: %s", j->id,
		    j->err ? j->err : strerror(-j->r));
		mon_sbx_destroy(j->m, s, "shim failed", SG_NOTICE_FAILED,
		    "its agent cannot be reached");
		goto out;
	}
	s->cid = j->cid;
	restart_with(j->m, s, -1);
out:
	free(j->err);
	free(j);
}

void
mon_shim_restart(struct mon *m, struct sbx *s)
{
	struct cid_job *j;
	char *err = NULL;
	int fd = -1;

	s->shim_restart_ms = 0;
	if (s->state != SB_RUNNING || s->shim_fd >= 0)
		return;
	if (m->transport == SG_VM_VSOCK) {
		if (s->cid != 0) {
			restart_with(m, s, -1);
			return;
		}
		j = calloc(1, sizeof(*j));
		if (j == NULL)
			return;
		j->m = m;
		snprintf(j->id, sizeof(j->id), "%s", s->id);
		if (sg_jobs_submit(m->jobs, cid_run, cid_done, j) < 0)
			free(j);
		return;
	}
	/* a local unix socket of QEMU's: connect() does not wait */
	if (sg_vm_connect_agent(NULL, s->id, m->cfg->state_dir, m->transport,
	    &fd, &err) < 0) {
		sg_warn("sandbox %s: %s", s->id, err ? err : "no agent socket");
		free(err);
		mon_sbx_destroy(m, s, "shim failed", SG_NOTICE_FAILED,
		    "its agent cannot be reached");
		return;
	}
	restart_with(m, s, fd);
}
