/* sg_mon: the privileged monitor, see monitor.h, mon.h and
 * docs/architecture.md.
 *
 * One poll loop: the SSH listener, the control socket and its
 * connections, a signalfd, an inotify watch on the tokens file's
 * directory, the jobs' completions, one socket per worker, per shim and
 * the proxy's feed. Deadlines set the poll timeout; nothing sleeps and
 * nothing slow runs here (jobs.h). When sandgated stops, its workers,
 * shims and proxy go on; the next monitor finds them again. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/confine.h"
#include "common/log.h"
#include "common/util.h"
#include "common/mpipe.h"
#include "gateway/audit.h"
#include "gateway/hostkey.h"
#include "gateway/jobs.h"
#include "gateway/kvmprobe.h"
#include "gateway/mon.h"
#include "gateway/monitor.h"
#include "gateway/notify.h"
#include "gateway/tokens.h"
#include "gateway/vm.h"

#define MON_JOB_THREADS	8

int64_t
mon_now(void)
{
	return (int64_t)time(NULL);
}

/* The libvirt connection, for jobs (any thread): made again when it
 * died (libvirtd restarted). Handles replaced stay allocated until the
 * monitor exits, as another job may still use one. */
/* An empty network namespace (only a loopback, down) held open for the
 * workers, which join it before their first byte (monwork.c): one is
 * made here, once, by a child that leaves it at once, rather than one
 * per connection (a new namespace costs milliseconds; joining, none). */
static int
empty_netns(int *ret_fd)
{
	char path[64];
	int p[2], fd, r = 0, status;
	pid_t pid;
	char c = 0;

	*ret_fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		close(p[0]);
		c = unshare(CLONE_NEWNET) < 0 ? (char)errno : 0;
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		/* held until the parent has the namespace open and closes
		 * its end */
		_exit(read(p[1], &c, 1) < 0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		r = -EIO;
	else if (c != 0)
		r = -(int)(unsigned char)c;
	if (r == 0) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", (long)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = -errno;
		else
			*ret_fd = fd;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return r;
}

#define CHILD_LOG_BURST		50
#define CHILD_LOG_PER_S		10

int
mon_child_note(struct mon_loglimit *l, const char *who, const uint8_t *p,
    size_t n)
{
	char text[SG_MP_LOG_MAX + 1], name[64];
	uint32_t nr, arch;
	int64_t now;
	int level;

	if (n > 0 && p[0] == SG_CONFINE_REPORT) {
		if (sg_confine_report_parse(p, n, &nr, &arch) < 0) {
			sg_err("%s: a malformed filter report: ending it", who);
			return -1;
		}
		sg_err("%s: forbidden system call %u (%s): stopped by its "
		    "filter", who, (unsigned)nr,
		    sg_confine_syscall_name(nr, arch, name, sizeof(name)));
		return -2;
	}
	if (n == 0 || p[0] != SG_MP_LOG)
		return 1;
	if (sg_mp_parse_log(p + 1, n - 1, &level, text) < 0) {
		sg_err("%s: a malformed log line: ending it", who);
		return -1;
	}
	now = sg_mono_ms();
	if (l->at_ms == 0) {
		l->at_ms = now;
		l->tokens = CHILD_LOG_BURST;
	} else if (now - l->at_ms >= 1000 / CHILD_LOG_PER_S) {
		int64_t add = (now - l->at_ms) * CHILD_LOG_PER_S / 1000;

		l->tokens = add >= CHILD_LOG_BURST || l->tokens + add >=
		    CHILD_LOG_BURST ? CHILD_LOG_BURST : l->tokens + (unsigned)add;
		l->at_ms += add * 1000 / CHILD_LOG_PER_S;
	}
	if (l->tokens == 0) {
		l->dropped++;
		return 0;
	}
	l->tokens--;
	if (l->dropped > 0) {
		sg_warn("%s: %u log lines dropped (too many)", who, l->dropped);
		l->dropped = 0;
	}
	sg_log(level, "%s: %s", who, text);
	return 0;
}

int
mon_vm(struct mon *m, struct sg_vm_host **ret, char **ret_err)
{
	struct sg_vm_host *h = NULL, **t;
	int r = 0;

	pthread_mutex_lock(&m->vm_lock);
	if (m->vm != NULL && sg_vm_host_alive(m->vm)) {
		*ret = m->vm;
		goto out;
	}
	r = sg_vm_connect(m->cfg->libvirt_uri, &h, ret_err);
	if (r < 0)
		goto out;
	if (m->vm != NULL) {
		t = realloc(m->vm_old, (m->nvm_old + 1) * sizeof(*t));
		if (t == NULL) {
			sg_vm_host_free(h);
			r = -ENOMEM;
			goto out;
		}
		m->vm_old = t;
		m->vm_old[m->nvm_old++] = m->vm;
		sg_info("connected to libvirt again");
	}
	m->vm = h;
	*ret = h;
out:
	pthread_mutex_unlock(&m->vm_lock);
	return r;
}

/* A rendezvous socket at path (replacing a stale one), bound, not yet
 * listening: the shim or proxy it is handed to listens on it. */
int
mon_rdv_bind(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* --- set-up --- */

static int
open_listener(const char *listen_spec, int *ret_fd)
{
	struct addrinfo hints, *res = NULL;
	char host[256], *port;
	const char *h;
	int fd = -1, one = 1, r;

	if (strlen(listen_spec) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%s", listen_spec);
	port = strrchr(host, ':');
	if (port == NULL)
		return -EINVAL;
	*port++ = '\0';
	h = host;
	if (host[0] == '[') {
		size_t l = strlen(host);

		if (l < 2 || host[l - 1] != ']')
			return -EINVAL;
		host[l - 1] = '\0';
		h = host + 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	r = getaddrinfo(h, port, &hints, &res);
	if (r != 0)
		return -EINVAL;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		goto out;
	}
	*ret_fd = fd;
	r = 0;
out:
	freeaddrinfo(res);
	return r;
}

static int
mkdir_parents(const char *path, mode_t mode)
{
	char tmp[PATH_MAX], *p;

	if (strlen(path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}


/* Loads the host key (made at the first start) and says its
 * fingerprint, which users compare with what ssh shows them. */
static int
load_host_key(struct mon *m)
{
	const char *path = m->cfg->host_key;
	ssh_key key = NULL;
	char fp[128], *err = NULL;
	int created, r;

	r = sg_hostkey_load(path, &key, &created, &err);
	if (r < 0) {
		sg_err("%s", err ? err : strerror(-r));
		free(err);
		return r;
	}
	if (sg_hostkey_fingerprint(key, fp, sizeof(fp)) < 0)
		snprintf(fp, sizeof(fp), "(unknown)");
	sg_info("%s host key %s %s (%s; public key in %s.pub)",
	    created ? "created a new" : "using the", fp,
	    sg_hostkey_type(key), path, path);
	m->bind = ssh_bind_new();
	if (m->bind == NULL ||
	    ssh_bind_options_set(m->bind, SSH_BIND_OPTIONS_IMPORT_KEY, key) < 0) {
		sg_err("cannot set up the SSH server");
		ssh_key_free(key);
		return -EIO;
	}
	/* The bind now owns the key. */
	return 0;
}

static int
choose_vm_type(struct mon *m)
{
	char *reason = NULL;
	const char *dt = m->cfg->domain_type;
	int r;

	if (strcmp(dt, "kvm") == 0) {
		m->vm_type = SG_VM_KVM;
		return 0;
	}
	if (strcmp(dt, "qemu") == 0) {
		m->vm_type = SG_VM_QEMU;
		sg_warn("domain_type = qemu: guests run under software emulation (TCG)");
		return 0;
	}
	r = sg_kvm_usable(5000, &reason);
	if (r == 1) {
		m->vm_type = SG_VM_KVM;
		sg_info("KVM runs guests here: using domain type kvm");
	} else {
		m->vm_type = SG_VM_QEMU;
		sg_warn("KVM cannot run guests here (%s): using software "
		    "emulation (TCG), which is much slower",
		    reason ? reason : "probe failed");
	}
	free(reason);
	return 0;
}

static int
choose_transport(struct mon *m)
{
	const char *t = m->cfg->transport;

	if (strcmp(t, "vsock") == 0) {
		m->transport = SG_VM_VSOCK;
	} else if (strcmp(t, "virtio-serial") == 0) {
		m->transport = SG_VM_VIRTIO_SERIAL;
	} else if (access("/dev/vhost-vsock", R_OK | W_OK) == 0) {
		m->transport = SG_VM_VSOCK;
	} else {
		m->transport = SG_VM_VIRTIO_SERIAL;
		sg_info("no /dev/vhost-vsock: talking to agents over virtio-serial");
	}
	return 0;
}

static void
reload_tokens(struct mon *m, const char *why)
{
	struct sg_tokens *t = NULL;
	char *err = NULL;
	int r;

	r = sg_tokens_load(m->cfg->tokens, &t, &err);
	if (r < 0) {
		sg_err("%s; keeping the tokens loaded before (%s)",
		    err ? err : strerror(-r), why);
		free(err);
		return;
	}
	/* Secret values are the proxy's alone: the monitor keeps names. */
	mon_proxy_tokens(m, t);
	sg_tokens_forget_secrets(t);
	sg_tokens_free(m->tokens);
	m->tokens = t;
	/* a token's hash may have changed, a token may be gone */
	mon_front_tokens(m);
	sg_info("tokens reloaded from %s (%s): %zu tokens", m->cfg->tokens,
	    why, sg_tokens_count(t));
}

/* One line for `systemctl status`. */
static const char *
mon_status(struct mon *m)
{
	static char line[128];
	unsigned n = 0;
	struct sbx *s;

	for (s = m->sbxs; s != NULL; s = s->next)
		n++;
	snprintf(line, sizeof(line), "%u sandboxes, %u connections", n,
	    m->nworkers);
	return line;
}

/* SIGHUP: the tokens file again, and a new audit log file (logrotate
 * renamed the old one), as sshd and syslog daemons do. */
static void
hangup(struct mon *m)
{
	int r;

	sg_notify_reloading();
	reload_tokens(m, "SIGHUP");
	r = sg_audit_reopen();
	if (r < 0)
		sg_err("cannot reopen the audit log %s: %s; still writing to the "
		    "file opened before", m->cfg->audit_log, strerror(-r));
	sg_notify_ready(mon_status(m));
}

static void
inotify_read(struct mon *m)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	int hit = 0;
	char *p;

	for (;;) {
		n = read(m->ino_fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->len > 0 && strcmp(ev->name, m->tokens_base) == 0)
				hit = 1;
		}
	}
	if (hit)
		reload_tokens(m, "file changed");
}

/* Takes an exclusive lock on path (made if needed), kept until exit. */
static int
lock_file(const char *path, const char *what, int *ret_fd)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		sg_err("cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		sg_err("another sandgated (pid %s) uses %s: stop it, or give "
		    "this one its own %s", n > 0 ? strtok(buf, "\n") : "?",
		    what, what);
		close(fd);
		return -EBUSY;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		/* the lock is what counts, not the pid in it */
	}
	*ret_fd = fd;
	return 0;
}

static int
setup(struct mon *m)
{
	const struct sg_mon_cfg *cfg = m->cfg;
	struct passwd *pw;
	char *err = NULL, dir[PATH_MAX];
	sigset_t mask;
	int r, fd;

	pw = getpwnam(cfg->user);
	if (pw == NULL) {
		sg_err("user %s does not exist: create it with 'useradd --system "
		    "--no-create-home --shell /usr/sbin/nologin %s', or set "
		    "[gateway] user in %s", cfg->user, cfg->user, cfg->config_path);
		return -ENOENT;
	}
	m->uid = pw->pw_uid;
	m->gid = pw->pw_gid;
	if (cfg->uid_first <= pw->pw_uid && pw->pw_uid <= cfg->uid_last) {
		sg_err("[gateway] uid_range %u-%u holds the uid of user %s: the "
		    "range is for sandboxes alone", cfg->uid_first,
		    cfg->uid_last, cfg->user);
		return -EINVAL;
	}
	r = sg_tokens_load(cfg->tokens, &m->tokens, &err);
	if (r < 0) {
		sg_err("%s", err ? err : strerror(-r));
		free(err);
		return r;
	}
	r = mkdir_parents(cfg->state_dir, 0755);
	if (r < 0) {
		sg_err("cannot create state_dir %s: %s", cfg->state_dir,
		    strerror(-r));
		return r;
	}
	/* rendezvous sockets live beside the control socket (root only) */
	if (sg_util_parent_dir(cfg->control_socket, dir, sizeof(dir)) < 0 ||
	    (m->run_dir = strdup(dir)) == NULL)
		return -ENOMEM;
	mkdir_parents(m->run_dir, 0755);
	snprintf(dir, sizeof(dir), "%s/sandgated.lock", cfg->state_dir);
	r = lock_file(dir, "state_dir", &m->lock_fd);
	if (r < 0)
		return r;
	/* one table, one sandgated: nftables is the host's */
	r = mkdir_parents(SG_RUNSTATEDIR "/sandgate", 0755);
	snprintf(dir, sizeof(dir), SG_RUNSTATEDIR "/sandgate/table-%s.lock",
	    cfg->nft_table);
	if (r == 0)
		r = lock_file(dir, "[network] table", &fd);
	if (r < 0)
		return r;
	m->table_lock_fd = fd;
	r = empty_netns(&m->netns_fd);
	if (r < 0) {
		sg_err("cannot make a network namespace for the workers: %s "
		    "(sandgated needs CAP_SYS_ADMIN and a kernel with network "
		    "namespaces)", strerror(-r));
		return r;
	}
	if (asprintf(&m->empty_dir, "%s/empty", cfg->state_dir) < 0)
		return -ENOMEM;
	if (mkdir(m->empty_dir, 0755) < 0 && errno != EEXIST) {
		sg_err("cannot create %s: %s", m->empty_dir, strerror(errno));
		return -errno;
	}
	if (sg_util_parent_dir(cfg->audit_log, dir, sizeof(dir)) == 0)
		mkdir_parents(dir, 0750);
	r = sg_audit_open(cfg->audit_log);
	if (r < 0) {
		sg_err("cannot open the audit log %s: %s", cfg->audit_log,
		    strerror(-r));
		return r;
	}
	if (access(cfg->shim_program, X_OK) < 0) {
		sg_err("[gateway] shim_program %s: %s", cfg->shim_program,
		    strerror(errno));
		return -ENOENT;
	}
	r = load_host_key(m);
	if (r < 0)
		return r;
	choose_vm_type(m);
	choose_transport(m);
	r = mon_front_setup(m);
	if (r < 0)
		return r;
	{
		struct sg_net_cfg nc;

		memset(&nc, 0, sizeof(nc));
		nc.pool_net = cfg->pool_net;
		nc.pool_prefix = cfg->pool_prefix;
		nc.table = cfg->nft_table;
		nc.state_dir = cfg->state_dir;
		nc.ov = cfg->ov;
		nc.nov = cfg->nov;
		nc.proxy_port = cfg->proxy_port;
		nc.has_front = cfg->expose_port != 0;
		nc.front_uid = (uint32_t)m->fr_uid;
		r = sg_net_open(&nc, &m->net, &err);
		if (r < 0) {
			sg_err("%s (sandboxes are only started with their "
			    "network policy in place)", err ? err : strerror(-r));
			free(err);
			return r;
		}
		sg_info("network policy: nftables table inet %s, pool "
		    "%u.%u.%u.%u/%u", cfg->nft_table, cfg->pool_net >> 24,
		    (cfg->pool_net >> 16) & 255, (cfg->pool_net >> 8) & 255,
		    cfg->pool_net & 255, cfg->pool_prefix);
	}
	r = sg_jobs_new(MON_JOB_THREADS, &m->jobs);
	if (r < 0)
		return r;
	r = mon_proxy_setup(m);
	if (r < 0)
		return r;
	mon_front_launch(m);
	sg_tokens_forget_secrets(m->tokens);
	/* Adoption first, in one go: no START is served before it, and no
	 * domain is being made while leftovers are swept. */
	mon_sbx_adopt(m);
	if (m->adopting) {
		struct pollfd p = { .fd = sg_jobs_fd(m->jobs), .events = POLLIN };

		while (m->adopting && poll(&p, 1, 60000) > 0)
			sg_jobs_complete(m->jobs);
	}
	r = open_listener(cfg->listen, &m->listen_fd);
	if (r < 0) {
		sg_err("cannot listen on %s: %s (check [gateway] listen in %s)",
		    cfg->listen, strerror(-r), cfg->config_path);
		return r;
	}
	r = mon_ctl_open(m);
	if (r < 0) {
		sg_err("cannot create the control socket %s: %s",
		    cfg->control_socket, strerror(-r));
		return r;
	}
	r = mon_metrics_open(m);
	if (r < 0)
		return r;
	mon_snap_sweep(m);
	mon_vol_sweep(m);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	m->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->sig_fd < 0)
		return -errno;
	m->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (m->ino_fd >= 0 && sg_util_parent_dir(cfg->tokens, dir, sizeof(dir)) == 0) {
		m->tokens_base = strdup(strrchr(cfg->tokens, '/') + 1);
		if (m->tokens_base == NULL ||
		    inotify_add_watch(m->ino_fd, dir, IN_CLOSE_WRITE |
		    IN_MOVED_TO | IN_CREATE | IN_DELETE) < 0) {
			sg_warn("cannot watch %s for changes: reload with SIGHUP",
			    dir);
			close(m->ino_fd);
			m->ino_fd = -1;
		}
	}
	sg_info("listening on %s (%zu tokens, image %s, %s)", cfg->listen,
	    sg_tokens_count(m->tokens), cfg->image,
	    m->vm_type == SG_VM_KVM ? "kvm" : "qemu/TCG");
	return 0;
}

/* Our children only, each by its pid: a job's qemu-img is its own to
 * wait for. */
static void
reap_children(struct mon *m)
{
	struct mworker *w, *wn;
	struct sbx *s;
	int st;

	if (m->px_pid > 0 && m->px_child &&
	    waitpid(m->px_pid, &st, WNOHANG) == m->px_pid)
		mon_proxy_reaped(m, st);
	if (m->fr_pid > 0 && m->fr_child &&
	    waitpid(m->fr_pid, &st, WNOHANG) == m->fr_pid)
		mon_front_reaped(m, st);
again:
	for (s = m->sbxs; s != NULL; s = s->next)
		if (s->shim_child && s->shim_pid > 0 &&
		    waitpid(s->shim_pid, &st, WNOHANG) == s->shim_pid) {
			mon_shim_reaped(m, s->shim_pid, st);
			goto again;	/* the list may have changed */
		}
	for (w = m->workers; w != NULL; w = wn) {
		wn = w->next;
		if (waitpid(w->pid, &st, WNOHANG) == w->pid)
			mon_worker_reaped(m, w, st);
	}
}

static void
handle_signals(struct mon *m)
{
	struct signalfd_siginfo si;
	int chld = 0;

	while (read(m->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			chld = 1;
			break;
		case SIGHUP:
			hangup(m);
			break;
		default:
			m->quit = 1;
			break;
		}
	}
	if (chld)
		reap_children(m);
}

enum pk { PK_SIG, PK_LISTEN, PK_CTL, PK_INO, PK_JOBS, PK_PX, PK_FR, PK_WORKER,
	PK_SHIM, PK_CTLCONN, PK_METRICS, PK_MCONN };

struct pslot {
	enum pk kind;
	void *who;
};

static void
mon_free(struct mon *m)
{
	struct mworker *w, *wn;
	struct ctlconn *c;
	size_t i;

	sg_jobs_free(m->jobs);
	mon_metrics_close(m);
	if (m->ctl_fd >= 0) {
		close(m->ctl_fd);
		unlink(m->cfg->control_socket);
	}
	while ((c = m->ctls) != NULL) {
		m->ctls = c->next;
		if (c->call.out != NULL)
			mon_call_clear(m, &c->call);
		close(c->fd);
		sg_buf_free(c->out);
		free(c);
	}
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->sig_fd >= 0)
		close(m->sig_fd);
	if (m->ino_fd >= 0)
		close(m->ino_fd);
	/* the proxy and the shims go on; the next monitor finds them */
	if (m->px_fd >= 0)
		close(m->px_fd);
	sg_mpq_free(m->pxq);
	if (m->px_listen >= 0)
		close(m->px_listen);
	free(m->px_ca);
	/* the front goes on too */
	if (m->fr_fd >= 0)
		close(m->fr_fd);
	sg_mpq_free(m->frq);
	if (m->fr_listen >= 0)
		close(m->fr_listen);
	OPENSSL_cleanse(m->fr_key, sizeof(m->fr_key));
	for (w = m->workers; w != NULL; w = wn) {
		wn = w->next;
		if (w->fd >= 0)
			close(w->fd);
		if (w->call != NULL) {
			mon_call_clear(m, w->call);
			free(w->call);
		}
		sg_mpq_free(w->ctlq);
		free(w->token);
		free(w->user);
		free(w);
	}
	while (m->sbxs != NULL) {
		struct sbx *s = m->sbxs;

		m->sbxs = s->next;
		mon_sbx_free(s);
	}
	sg_net_close(m->net);
	sg_tokens_free(m->tokens);
	sg_vm_host_free(m->vm);
	for (i = 0; i < m->nvm_old; i++)
		sg_vm_host_free(m->vm_old[i]);
	free(m->vm_old);
	if (m->bind != NULL)
		ssh_bind_free(m->bind);
	sg_audit_close();
	sg_buf_free(m->msg);
	free(m->tokens_base);
	free(m->empty_dir);
	if (m->netns_fd >= 0)
		close(m->netns_fd);
	free(m->run_dir);
	free(m->vm_err);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	if (m->table_lock_fd >= 0)
		close(m->table_lock_fd);
	pthread_mutex_destroy(&m->vm_lock);
}

/* Forks; the parent exits when the child writes one byte to *ret_fd
 * (status 0) or closes it without (status 1). The child leaves the
 * terminal's session and the working directory, as daemon(3) does. */
static int
detach_begin(int *ret_fd)
{
	int p[2];
	ssize_t n;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0) {
		sg_err("cannot detach: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		sg_err("cannot detach: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -EAGAIN;
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0 || chdir("/") < 0) {
		sg_err("cannot detach: %s", strerror(errno));
		close(p[1]);
		return -EIO;
	}
	*ret_fd = p[1];
	return 0;
}

int
sg_mon_run(const struct sg_mon_cfg *cfg)
{
	int ready_fd = -1;
	struct mon m;
	struct pollfd *pfd = NULL;
	struct pslot *slot = NULL;
	struct mworker *w;
	struct ctlconn *c;
	struct mconn *mc;
	struct sbx *s, *sn;
	size_t np, cap = 0, i;
	int64_t timeout;
	sigset_t mask;
	int r;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.listen_fd = m.ctl_fd = m.sig_fd = m.ino_fd = -1;
	m.lock_fd = m.table_lock_fd = m.netns_fd = -1;
	m.px_fd = m.px_listen = -1;
	m.fr_fd = m.fr_listen = -1;
	m.metrics_fd = -1;
	m.started = mon_now();
	pthread_mutex_init(&m.vm_lock, NULL);
	m.msg = sg_buf_new(SG_MP_MAX);
	if (m.msg == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/* Signals are taken by signalfd: blocked in every thread. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sg_notify_init();
	/* Detached, the process that sets up is the one that runs: the job
	 * threads, the proxy and the shims are its own (a fork after setup
	 * would leave them to a parent that exits), and the lock holds its
	 * pid. The parent waits to exit until setup is done: 0 once the
	 * service listens, 1 after it printed why it could not. */
	if (cfg->detach && (r = detach_begin(&ready_fd)) < 0)
		goto out;
	r = setup(&m);
	if (r < 0)
		goto out;
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "", 1);
		close(ready_fd);
		ready_fd = -1;
	}
	sg_notify_ready(mon_status(&m));
	while (!m.quit) {
		timeout = mon_sbx_timers(&m);
		{
			int64_t t = mon_api_timers(&m);

			if (t < timeout)
				timeout = t;
			t = sg_notify_watchdog(sg_mono_ms());
			if (t >= 0 && t < timeout)
				timeout = t;
			t = mon_metrics_timers(&m);
			if (t < timeout)
				timeout = t;
		}
		sg_notify_status(mon_status(&m));
		mon_proxy_poll(&m, &timeout);
		mon_front_poll(&m, &timeout);
		if (!m.adopted) {
			mon_sbx_adopt(&m);
			if (!m.adopting && timeout > 1000)
				timeout = 1000;
		}
		mon_proxy_flush(&m);
		mon_front_flush(&m);
		for (s = m.sbxs; s != NULL; s = sn) {
			sn = s->next;
			mon_shim_flush(&m, s);
		}
		mon_ctl_reap(&m);
		/* the poll set, rebuilt each round */
		np = 8 + m.nworkers + m.nctls + m.nmconns;
		for (s = m.sbxs; s != NULL; s = s->next)
			np++;
		if (np > cap) {
			free(pfd);
			free(slot);
			cap = np + 32;
			pfd = calloc(cap, sizeof(*pfd));
			slot = calloc(cap, sizeof(*slot));
			if (pfd == NULL || slot == NULL) {
				r = -ENOMEM;
				goto out;
			}
		}
		np = 0;
#define ADD(f, ev, k, wh) do { \
	pfd[np] = (struct pollfd){ .fd = (f), .events = (ev) }; \
	slot[np].kind = (k); \
	slot[np].who = (wh); \
	np++; \
} while (0)
		ADD(m.sig_fd, POLLIN, PK_SIG, NULL);
		ADD(m.listen_fd, POLLIN, PK_LISTEN, NULL);
		ADD(m.ctl_fd, POLLIN, PK_CTL, NULL);
		ADD(m.ino_fd, POLLIN, PK_INO, NULL);
		ADD(sg_jobs_fd(m.jobs), POLLIN, PK_JOBS, NULL);
		ADD(m.px_fd, POLLIN | (m.pxq != NULL &&
		    sg_mpq_pending(m.pxq) ? POLLOUT : 0), PK_PX, NULL);
		ADD(m.fr_fd, POLLIN | (m.frq != NULL &&
		    sg_mpq_pending(m.frq) ? POLLOUT : 0), PK_FR, NULL);
		for (w = m.workers; w != NULL; w = w->next)
			if (w->fd >= 0)
				ADD(w->fd, POLLIN | (w->ctlq != NULL &&
				    sg_mpq_pending(w->ctlq) ? POLLOUT : 0),
				    PK_WORKER, w);
		for (s = m.sbxs; s != NULL; s = s->next)
			if (s->shim_fd >= 0)
				ADD(s->shim_fd, POLLIN | (sg_mpq_pending(s->shimq) ?
				    POLLOUT : 0), PK_SHIM, s);
		for (c = m.ctls; c != NULL; c = c->next)
			ADD(c->fd, c->done ? POLLOUT : c->running ? 0 :
			    POLLIN, PK_CTLCONN, c);
		ADD(m.metrics_fd, POLLIN, PK_METRICS, NULL);
		for (mc = m.mconns; mc != NULL; mc = mon_metrics_next(mc))
			ADD(mon_metrics_fd(mc), mon_metrics_events(mc), PK_MCONN,
			    mc);
#undef ADD
		if (m.ctls != NULL && timeout > 1000)
			timeout = 1000;	/* their deadlines */
		if (((m.pxq != NULL && sg_mpq_pending(m.pxq)) ||
		    (m.frq != NULL && sg_mpq_pending(m.frq))) && timeout > 500)
			timeout = 500;
		if (poll(pfd, np, (int)(timeout > 60000 ? 60000 : timeout)) < 0 &&
		    errno != EINTR) {
			r = -errno;
			sg_err("poll: %s", strerror(errno));
			goto out;
		}
		for (i = 0; i < np; i++) {
			short rev = pfd[i].revents;

			if (rev == 0)
				continue;
			switch (slot[i].kind) {
			case PK_SIG:
				handle_signals(&m);
				break;
			case PK_LISTEN:
				mon_accept_client(&m);
				break;
			case PK_CTL:
				mon_ctl_accept(&m);
				break;
			case PK_INO:
				inotify_read(&m);
				break;
			case PK_JOBS:
				sg_jobs_complete(m.jobs);
				break;
			case PK_PX:
				if (m.px_fd == pfd[i].fd) {
					if (rev & POLLOUT)
						mon_proxy_flush(&m);
					if (m.px_fd >= 0 && (rev & ~POLLOUT))
						mon_proxy_read(&m);
				}
				break;
			case PK_FR:
				if (m.fr_fd == pfd[i].fd) {
					if (rev & POLLOUT)
						mon_front_flush(&m);
					if (m.fr_fd >= 0 && (rev & ~POLLOUT))
						mon_front_read(&m);
				}
				break;
			case PK_WORKER:
				/* still there? handlers above may have ended it */
				for (w = m.workers; w != NULL; w = w->next)
					if (w == slot[i].who && w->fd == pfd[i].fd)
						break;
				if (w != NULL && (pfd[i].revents & POLLOUT))
					mon_worker_flush(&m, w);
				if (w != NULL && (pfd[i].revents & ~POLLOUT))
					mon_worker_read(&m, w);
				break;
			case PK_SHIM:
				for (s = m.sbxs; s != NULL; s = s->next)
					if (s == slot[i].who && s->shim_fd == pfd[i].fd)
						break;
				if (s == NULL)
					break;
				if (rev & POLLOUT)
					mon_shim_flush(&m, s);
				if (s->shim_fd >= 0 && (rev & ~POLLOUT))
					mon_shim_read(&m, s);
				break;
			case PK_METRICS:
				mon_metrics_accept(&m);
				break;
			case PK_MCONN:
				for (mc = m.mconns; mc != NULL;
				    mc = mon_metrics_next(mc))
					if (mc == slot[i].who &&
					    mon_metrics_fd(mc) == pfd[i].fd)
						break;
				if (mc != NULL)
					mon_metrics_io(&m, mc, rev);
				break;
			case PK_CTLCONN:
				for (c = m.ctls; c != NULL; c = c->next)
					if (c == slot[i].who && c->fd == pfd[i].fd)
						break;
				if (c != NULL)
					mon_ctl_io(&m, c, rev);
				break;
			}
		}
	}
	sg_notify_stopping();
	sg_info("stopping; %u connections and their sandboxes go on and are "
	    "adopted at the next start", m.nworkers);
	r = 0;
out:
	if (ready_fd >= 0)
		close(ready_fd);	/* the waiting parent exits 1 */
	mon_free(&m);
	free(pfd);
	free(slot);
	return r;
}
