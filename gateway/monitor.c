/* sg_mon: the privileged monitor, see monitor.h and docs/architecture.md.
 *
 * One poll loop: the SSH listener, the control socket, a signalfd, an
 * inotify watch on the tokens file's directory, and one SOCK_SEQPACKET per
 * worker. Deadlines (lifetime warnings and ends, adopted sandboxes whose
 * owner may be gone) set the poll timeout; nothing sleeps. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/log.h"
#include "gateway/audit.h"
#include "gateway/kvmprobe.h"
#include "gateway/monitor.h"
#include "gateway/sbxnet.h"
#include "gateway/pxctl.h"
#include "common/pxfeed.h"
#include "common/allow.h"
#include "netpolicy/resolver.h"
#include "common/strv.h"
#include "gateway/hub.h"
#include "common/mpipe.h"
#include "gateway/privsep.h"
#include "gateway/tokens.h"
#include "common/util.h"
#include "gateway/vm.h"
#include "gateway/worker.h"

#define MAX_WORKERS		512
#define MAX_PREAUTH		64	/* connections not yet authenticated */
#define MAX_PREAUTH_PER_ADDR	10
#define LOGIN_GRACE_S		60
#define MAX_FAILREC		256
#define AUTH_DELAY_CAP_MS	30000
#define FAIL_FORGET_MS		(10 * 60 * 1000)
#define WARN_BEFORE_S		60
#define OWNER_CHECK_MS		2000

enum wstate { W_PREAUTH, W_AUTHED, W_RUNNING };

struct sbx;

struct mworker {
	struct mworker *next;
	pid_t pid;
	int fd;
	enum wstate state;
	char addr[INET6_ADDRSTRLEN];
	char peer[INET6_ADDRSTRLEN + 32];
	char *token;
	char *user;
	struct sbx *sbx;
};

struct sbx {
	struct sbx *next;
	char id[16];
	char *token, *name, *image;
	int64_t created, expires;
	int warned;
	pid_t owner_pid;		/* ephemeral: its worker (from metadata if adopted) */
	unsigned nconn;			/* workers attached now */
	int64_t idle_since;		/* named, nconn == 0: when the last left */
	int ready;			/* the hub reported the agent ready */
	int attached;			/* handed to the current hub */
	struct sg_allow *allow;		/* its token's allow_net when made */
	char **allow_ent;		/* the same as text, for the hub */
	size_t nallow;
	int dns_pending;		/* its DNS could not be handed over yet */
	int has_net;			/* tap, rules and DNS (na) set up */
	struct sg_net_addr na;
	char **ph_name, **ph_value;	/* secret placeholders, recorded */
	size_t nph;
};

struct failrec {
	char addr[INET6_ADDRSTRLEN];
	unsigned fails;
	int64_t next_ok_ms, last_ms;
};

struct mon {
	const struct sg_mon_cfg *cfg;
	struct sg_tokens *tokens;
	struct sg_vm_host *vm;
	struct sg_net *net;
	ssh_bind bind;
	int listen_fd, ctl_fd, sig_fd, ino_fd;
	char *tokens_dir, *tokens_base;
	struct mworker *workers;
	unsigned nworkers;
	struct sbx *sbxs;
	struct failrec fails[MAX_FAILREC];
	struct sg_buf *msg;
	int vm_type, transport;
	uid_t uid;
	gid_t gid;
	char *empty_dir;
	int64_t next_owner_check_ms;
	pid_t hub_pid;
	int hub_fd;
	int64_t hub_restart_ms;
	pid_t px_pid;			/* sandgate-proxy */
	int px_fd, px_listen;
	char *px_ca;			/* the CA guests trust (PEM) */
	int64_t px_restart_ms;
	int quit;
};


static int ensure_libvirt(struct mon *m, char **ret_err);
static int hub_attach(struct mon *m, struct sbx *s, char **ret_err);
static void proxy_failed(struct mon *m, const char *what, int r);
static void hub_dns(struct mon *m, struct sbx *s);

/* --- sandboxes --- */

static struct sbx *
sbx_find(struct mon *m, const char *id)
{
	struct sbx *s;

	for (s = m->sbxs; s != NULL; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static unsigned
sbx_count_token(struct mon *m, const char *token)
{
	struct sbx *s;
	unsigned n = 0;

	for (s = m->sbxs; s != NULL; s = s->next)
		if (strcmp(s->token, token) == 0)
			n++;
	return n;
}

static void
sbx_free(struct sbx *s)
{
	if (s == NULL)
		return;
	free(s->token);
	free(s->name);
	free(s->image);
	sg_allow_free(s->allow);
	sg_strv_free(s->allow_ent, s->nallow);
	sg_strv_free(s->ph_name, s->nph);
	sg_strv_free(s->ph_value, s->nph);
	free(s);
}

static void
send_notice(struct mworker *w, uint8_t kind, const char *text)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX);

	if (w == NULL || w->fd < 0 || b == NULL)
		goto out;
	if (sg_buf_put_u8(b, SG_MP_NOTICE) == 0 && sg_buf_put_u8(b, kind) == 0 &&
	    sg_mp_put_str(b, text) == 0)
		sg_mp_send(w->fd, b, -1);
out:
	sg_buf_free(b);
}

static void
notify_sandbox(struct mon *m, struct sbx *s, uint8_t kind, const char *text)
{
	struct mworker *w;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->sbx == s)
			send_notice(w, kind, text);
}

static void
hub_drop(struct mon *m, const char *id)
{
	sg_buf_reset(m->msg);
	if (m->hub_fd >= 0 && sg_buf_put_u8(m->msg, SG_MP_HUB_DROP) == 0 &&
	    sg_mp_put_str(m->msg, id) == 0)
		sg_mp_send(m->hub_fd, m->msg, -1);
}

/* Destroys a sandbox's domain and files and forgets it. */
static void
sbx_destroy(struct mon *m, struct sbx *s, const char *reason)
{
	struct sbx **pp;

	char *err = NULL;
	int r;

	if (m->vm == NULL && ensure_libvirt(m, &err) < 0) {
		sg_warn("sandbox %s: %s", s->id, err ? err : "libvirt unreachable");
		free(err);
		err = NULL;
	}
	r = sg_vm_destroy(m->vm, s->id, m->cfg->state_dir, &err);
	if (r < 0)
		sg_warn("sandbox %s: could not destroy it cleanly: %s", s->id,
		    err ? err : strerror(-r));
	free(err);
	if (s->has_net)
		sg_net_del(m->net, s->id);
	sg_info("sandbox %s destroyed (%s)", s->id, reason);
	sg_audit("sandbox_destroyed", "sandbox", s->id, "token", s->token,
	    "reason", reason, NULL);
	{
		struct mworker *w;

		for (w = m->workers; w != NULL; w = w->next)
			if (w->sbx == s)
				w->sbx = NULL;
	}
	hub_drop(m, s->id);
	if (m->px_fd >= 0 && s->has_net &&
	    (r = sg_pxc_send_drop(m->px_fd, m->msg, s->id)) < 0)
		proxy_failed(m, "a sandbox's end", r);
	for (pp = &m->sbxs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	sbx_free(s);
}

/* Is pid a live process of this same program (a worker that survived a
 * restart)? Compares /proc/PID/exe with ours. */
static int
owner_alive(pid_t pid)
{
	char p[64], a[PATH_MAX], b[PATH_MAX];
	ssize_t na, nb;

	if (pid <= 1 || kill(pid, 0) < 0)
		return 0;
	snprintf(p, sizeof(p), "/proc/%ld/exe", (long)pid);
	na = readlink(p, a, sizeof(a) - 1);
	nb = readlink("/proc/self/exe", b, sizeof(b) - 1);
	if (na <= 0 || nb <= 0)
		return 0;
	a[na] = b[nb] = '\0';
	return strcmp(a, b) == 0;
}

/* The sandbox's network: its token's allow_net (none if the token is
 * gone), then tap and rules, new or (adopt) as recorded. */
/* Splits the recorded lines of an adopted sandbox: "secret NAME PH"
 * lines are its placeholders, the others its allow_net. */
static int
sbx_split_record(struct sbx *s)
{
	size_t i, k = 0;
	char *sp, *sp2;

	s->ph_name = calloc(s->nallow + 1, sizeof(char *));
	s->ph_value = calloc(s->nallow + 1, sizeof(char *));
	if (s->ph_name == NULL || s->ph_value == NULL)
		return -ENOMEM;
	for (i = 0; i < s->nallow; i++) {
		if (strncmp(s->allow_ent[i], "secret ", 7) != 0) {
			s->allow_ent[k++] = s->allow_ent[i];
			continue;
		}
		sp = s->allow_ent[i] + 7;
		sp2 = strchr(sp, ' ');
		if (sp2 != NULL && strlen(sp2 + 1) == SG_PXC_PH_LEN) {
			s->ph_name[s->nph] = strndup(sp, (size_t)(sp2 - sp));
			s->ph_value[s->nph] = strdup(sp2 + 1);
			if (s->ph_name[s->nph] == NULL ||
			    s->ph_value[s->nph] == NULL) {
				free(s->ph_name[s->nph]);
				free(s->ph_value[s->nph]);
				free(s->allow_ent[i]);
				s->nallow = k;
				return -ENOMEM;
			}
			s->nph++;
		}
		free(s->allow_ent[i]);
	}
	s->nallow = k;
	return 0;
}

/* New placeholders for each secret of the token, and the lines that
 * record them. */
static int
sbx_new_placeholders(struct sbx *s, const struct sg_token *tok,
    char ***ret_lines)
{
	size_t n = tok ? sg_tokens_secret_count(tok) : 0, i;
	char **lines;

	s->ph_name = calloc(n + 1, sizeof(char *));
	s->ph_value = calloc(n + 1, sizeof(char *));
	lines = calloc(n + 1, sizeof(char *));
	if (s->ph_name == NULL || s->ph_value == NULL || lines == NULL) {
		free(lines);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		char ph[SG_PXC_PH_LEN + 1];

		if (sg_pxc_placeholder(ph, sizeof(ph)) < 0 ||
		    (s->ph_name[i] = strdup(sg_tokens_secret_name(tok, i))) == NULL ||
		    (s->ph_value[i] = strdup(ph)) == NULL ||
		    asprintf(&lines[i], "secret %s %s", s->ph_name[i], ph) < 0) {
			free(s->ph_name[i]);
			free(s->ph_value[i]);
			sg_strv_free(lines, i);
			return -ENOMEM;
		}
		s->nph++;
	}
	*ret_lines = lines;
	return 0;
}

/* The feed to the proxy failed: a proxy that does not read it (a send
 * waits 2 s at most) or is gone is killed; reaping restarts it, and the
 * new one gets everything again. */
static void
proxy_failed(struct mon *m, const char *what, int r)
{
	sg_err("cannot hand %s to sandgate-proxy: %s: restarting it", what,
	    strerror(-r));
	if (m->px_pid > 0)
		kill(m->px_pid, SIGKILL);
	if (m->px_fd >= 0)
		close(m->px_fd);
	m->px_fd = -1;
}

static void
proxy_sandbox(struct mon *m, struct sbx *s)
{
	int r;

	if (m->px_fd < 0 || !s->has_net)
		return;
	r = sg_pxc_send_sandbox(m->px_fd, m->msg, s->id, s->token, s->na.guest,
	    s->allow_ent, s->nallow, s->ph_name, s->ph_value, s->nph);
	if (r == -ENOBUFS || r == -EINVAL)
		sg_warn("sandbox %s: its policy does not fit a message to the "
		    "proxy (a shorter allow_net will): it has no HTTP(S)",
		    s->id);
	else if (r < 0)
		proxy_failed(m, "a sandbox's policy", r);
}

static int
sbx_net_setup(struct mon *m, struct sbx *s, int adopt, char **ret_err)
{
	const struct sg_token *tok = sg_tokens_find(m->tokens, s->token);
	size_t n = tok ? sg_tokens_allow_net_count(tok) : 0, i;
	char **rec = NULL, **lines = NULL;
	int r;

	*ret_err = NULL;
	if (m->net == NULL)
		return 0;
	/* An adopted sandbox keeps the policy it was made with, not what
	 * its token says now, and its placeholders. */
	if (adopt && sg_net_recorded_allow(m->net, s->id, &s->allow_ent,
	    &s->nallow) == 0) {
		n = 0;
		if ((r = sbx_split_record(s)) < 0)
			return r;
	}
	if (n > 0) {
		s->allow_ent = calloc(n, sizeof(*s->allow_ent));
		if (s->allow_ent == NULL)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			s->allow_ent[i] = strdup(sg_tokens_allow_net_at(tok, i));
			if (s->allow_ent[i] == NULL)
				return -ENOMEM;
			s->nallow++;
		}
	}
	if (!adopt && (r = sbx_new_placeholders(s, tok, &lines)) < 0)
		return r;
	r = sg_allow_parse((const char *const *)s->allow_ent, s->nallow,
	    &s->allow, ret_err);
	if (r < 0)
		goto out;
	/* recorded: allow_net, then the placeholders */
	rec = calloc(s->nallow + s->nph + 1, sizeof(char *));
	if (rec == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s->nallow; i++)
		rec[i] = s->allow_ent[i];
	for (i = 0; lines != NULL && i < s->nph; i++)
		rec[s->nallow + i] = lines[i];
	r = sg_net_add(m->net, s->id, s->allow, (const char *const *)rec,
	    s->nallow + (lines != NULL ? s->nph : 0), adopt, &s->na, ret_err);
	if (r == 0) {
		s->has_net = 1;
		proxy_sandbox(m, s);
	}
out:
	free(rec);
	sg_strv_free(lines, lines != NULL ? s->nph : 0);
	return r;
}

static int
sbx_alive(void *arg, const char *id)
{
	return sbx_find(arg, id) != NULL;
}

static void
adopt_sandboxes(struct mon *m)
{
	struct sg_vm_info *info = NULL;
	size_t n = 0, i;
	int r;

	char *err = NULL;

	r = sg_vm_list(m->vm, &info, &n, &err);
	if (r < 0) {
		sg_warn("cannot list running sandboxes: %s",
		    err ? err : strerror(-r));
		free(err);
		return;
	}
	for (i = 0; i < n; i++) {
		struct sg_vm_info *v = &info[i];
		struct sbx *s;

		if (sbx_find(m, v->id) != NULL)
			continue;
		/* Another sandgated on this host (its own state_dir) may run
		 * sandboxes too: adopt only those whose files are ours. */
		{
			char dir[PATH_MAX];
			struct stat st;

			snprintf(dir, sizeof(dir), "%s/sandboxes/%s",
			    m->cfg->state_dir, v->id);
			if (stat(dir, &st) < 0)
				continue;
		}
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			break;
		snprintf(s->id, sizeof(s->id), "%s", v->id);
		s->token = strdup(v->token);
		s->name = strdup(v->name);
		s->image = strdup(v->image);
		if (s->token == NULL || s->name == NULL || s->image == NULL) {
			sbx_free(s);
			break;
		}
		s->created = v->created;
		s->expires = v->expires;
		s->owner_pid = v->owner_pid;
		s->idle_since = time(NULL);
		s->next = m->sbxs;
		m->sbxs = s;
		if (sbx_net_setup(m, s, 1, &err) < 0) {
			/* Fail closed: whatever is left of its network goes. */
			sg_warn("sandbox %s: its network: %s; it has none now",
			    s->id, err ? err : "cannot set it up");
			free(err);
			err = NULL;
			if (m->net != NULL)
				sg_net_del(m->net, s->id);
		}
		sg_info("sandbox %s adopted (token %s, expires in %llds)", s->id,
		    s->token, (long long)(s->expires - time(NULL)));
		if (m->hub_fd >= 0 && hub_attach(m, s, &err) < 0) {
			sg_warn("sandbox %s: cannot reach its agent: %s", s->id,
			    err ? err : "unknown error");
			free(err);
			err = NULL;
		}
		sg_audit("sandbox_adopted", "sandbox", s->id, "token", s->token,
		    NULL);
	}
	sg_vm_info_free(info);
	if (m->net != NULL)
		sg_net_sweep(m->net, sbx_alive, m);
	r = sg_vm_cleanup_leftovers(m->vm, m->cfg->state_dir, &err);
	if (r < 0)
		sg_warn("cannot remove leftovers of old sandboxes: %s",
		    err ? err : strerror(-r));
	free(err);
}

/* A named sandbox's idle timeout: its token's, or the global one. */
static uint64_t
sbx_idle(struct mon *m, struct sbx *s)
{
	const struct sg_token *tok = sg_tokens_find(m->tokens, s->token);

	if (tok != NULL && sg_tokens_idle_timeout(tok) != 0)
		return sg_tokens_idle_timeout(tok);
	return m->cfg->idle_timeout_s;
}

/* Lifetime warnings and ends, idle named sandboxes, and adopted sandboxes
 * whose connection is gone. Returns the milliseconds until the next thing to do. */
static int64_t
run_timers(struct mon *m)
{
	int64_t now = time(NULL), next = 60000, nowms = sg_mono_ms();
	struct sbx *s, *nx;
	int check_owners = nowms >= m->next_owner_check_ms;

	if (check_owners)
		m->next_owner_check_ms = nowms + OWNER_CHECK_MS;
	for (s = m->sbxs; s != NULL; s = nx) {
		nx = s->next;
		if (now >= s->expires) {
			notify_sandbox(m, s, SG_MP_NOTICE_EXPIRED, "expired");
			sbx_destroy(m, s, "max_lifetime");
			continue;
		}
		if (s->name[0] != '\0' && s->nconn == 0 &&
		    now >= s->idle_since + (int64_t)sbx_idle(m, s)) {
			sbx_destroy(m, s, "idle_timeout");
			continue;
		}
		if (!s->warned && now >= s->expires - WARN_BEFORE_S) {
			char text[160];

			snprintf(text, sizeof(text),
			    "sandgate: sandbox %s will be destroyed in %lld s "
			    "(maximum lifetime reached)", s->id,
			    (long long)(s->expires - now));
			notify_sandbox(m, s, SG_MP_NOTICE_WARN, text);
			s->warned = 1;
		}
		if (s->dns_pending && check_owners && s->attached &&
		    m->hub_fd >= 0)
			hub_dns(m, s);
		if (s->dns_pending && OWNER_CHECK_MS < next)
			next = OWNER_CHECK_MS;
		if (s->nconn == 0 && check_owners && s->name[0] == '\0' &&
		    !owner_alive(s->owner_pid)) {
			sbx_destroy(m, s, "disconnected");
			continue;
		}
		if (!s->warned && (s->expires - WARN_BEFORE_S - now) * 1000 < next)
			next = (s->expires - WARN_BEFORE_S - now) * 1000;
		if ((s->expires - now) * 1000 < next)
			next = (s->expires - now) * 1000;
		if (s->nconn == 0 && s->name[0] == '\0' && OWNER_CHECK_MS < next)
			next = OWNER_CHECK_MS;
		if (s->nconn == 0 && s->name[0] != '\0' &&
		    (s->idle_since + (int64_t)sbx_idle(m, s) - now) * 1000 < next)
			next = (s->idle_since + (int64_t)sbx_idle(m, s) - now) * 1000;
	}
	return next < 0 ? 0 : next;
}

/* --- authentication: per-address delays --- */

static struct failrec *
failrec_get(struct mon *m, const char *addr, int create)
{
	struct failrec *f, *oldest = &m->fails[0];
	int64_t now = sg_mono_ms();
	size_t i;

	for (i = 0; i < MAX_FAILREC; i++) {
		f = &m->fails[i];
		if (f->addr[0] != '\0' && now - f->last_ms > FAIL_FORGET_MS)
			memset(f, 0, sizeof(*f));
		if (strcmp(f->addr, addr) == 0 && f->addr[0] != '\0')
			return f;
		if (f->last_ms < oldest->last_ms)
			oldest = f;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
	return oldest;
}

static int
valid_user(const char *u)
{
	size_t i, n = strlen(u);

	if (n == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++) {
		char c = u[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (c == '-' && i > 0)))
			return 0;
	}
	return 1;
}

static void
reply_auth(struct mon *m, struct mworker *w, int ok, uint32_t delay,
    const char *token)
{
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_AUTH_RESULT) < 0 ||
	    sg_buf_put_u8(m->msg, ok ? 1 : 0) < 0 ||
	    sg_buf_put_u32(m->msg, delay) < 0 ||
	    sg_mp_put_str(m->msg, ok && token != NULL ? token : "") < 0)
		return;
	sg_mp_send(w->fd, m->msg, -1);
}

/* Checks one credential from a worker. Failures from one address are
 * delayed, doubling per failure up to AUTH_DELAY_CAP_MS; an attempt that
 * comes before the address's next allowed time fails unchecked. */
static int
handle_auth(struct mon *m, struct mworker *w, uint8_t type,
    const uint8_t *p, size_t n)
{
	struct sg_mp_auth a;
	const char *token = NULL, *user;
	struct failrec *f;
	int64_t now = sg_mono_ms();
	uint32_t delay = 0;
	int r, ok = 0, counts;

	r = sg_mp_parse_auth(type, p, n, &a);
	if (r < 0)
		return r;
	user = a.user;
	counts = type == SG_MP_AUTH_PASSWORD || a.verified;	/* key queries are not attempts */
	f = failrec_get(m, w->addr, 0);
	if (counts && f != NULL && now < f->next_ok_ms) {
		delay = (uint32_t)(f->next_ok_ms - now);
		ok = 0;
	} else if (!valid_user(user)) {
		ok = 0;
	} else if (type == SG_MP_AUTH_PASSWORD) {
		ok = sg_tokens_check_secret(m->tokens, a.secret, &token) == 0 &&
		    token != NULL;
	} else {
		ok = sg_tokens_check_key(m->tokens, a.keytype, a.blob, &token) == 0 &&
		    token != NULL;
	}
	if (ok && counts) {
		w->token = strdup(token);
		w->user = strdup(user);
		if (w->token == NULL || w->user == NULL) {
			r = -ENOMEM;
			goto out;
		}
		w->state = W_AUTHED;
		sg_info("%s: user %s authenticated with token %s (%s)", w->peer,
		    user, token, type == SG_MP_AUTH_PASSWORD ? "secret" : a.keytype);
		sg_audit("login", "token", token, "source", w->addr, "user",
		    user, "method", type == SG_MP_AUTH_PASSWORD ? "token" :
		    "publickey", NULL);
	} else if (!ok && counts) {
		f = failrec_get(m, w->addr, 1);
		if (delay == 0) {
			unsigned shift = f->fails < 5 ? f->fails : 5;

			delay = (uint32_t)(m->cfg->auth_delay_ms << shift);
			if (delay > AUTH_DELAY_CAP_MS)
				delay = AUTH_DELAY_CAP_MS;
			f->fails++;
			f->next_ok_ms = now + delay;
		}
		f->last_ms = now;
		sg_info("%s: authentication failed for user %s", w->peer,
		    valid_user(user) ? user : "(invalid name)");
		sg_audit("login_failed", "source", w->addr, "user", user,
		    "method", type == SG_MP_AUTH_PASSWORD ? "token" : "publickey",
		    NULL);
	}
	/* a key query tells the unauthenticated worker yes or no, never
	 * which token the key is under */
	reply_auth(m, w, ok, delay, ok && counts ? token : NULL);
	r = 0;
out:
	sg_mp_auth_clear(&a);
	return r;
}

/* --- starting a sandbox --- */

static void
start_fail(struct mon *m, struct mworker *w, const char *reason)
{
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_START_FAIL) == 0 &&
	    sg_mp_put_str(m->msg, reason) == 0)
		sg_mp_send(w->fd, m->msg, -1);
	sg_warn("%s: sandbox could not be started: %s", w->peer, reason);
}

/* Hands a sandbox's agent connection to the hub: a fresh connection to
 * its virtio-serial socket, or its vsock CID for the hub to connect to. */
/* Hands the hub the sandbox's DNS service: its allow_net and the two
 * sockets on its host-side address. Without it the guest's names do not
 * resolve (and nothing else opens). */
static void
hub_dns(struct mon *m, struct sbx *s)
{
	size_t i;
	char *err = NULL;
	int u = -1, t = -1, r;

	r = sg_net_dns_sockets(&s->na, &u, &t, &err);
	if (r < 0) {
		/* e.g. the old hub still holds the address for a moment:
		 * run_timers tries again. */
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
	r = sg_buf_put_u8(m->msg, SG_MP_HUB_DNS);
	if (r == 0)
		r = sg_mp_put_str(m->msg, s->id);
	if (r == 0)
		r = sg_buf_put_u32(m->msg, (uint32_t)s->nallow);
	for (i = 0; r == 0 && i < s->nallow; i++)
		r = sg_mp_put_str(m->msg, s->allow_ent[i]);
	if (r == 0)
		r = sg_mp_send(m->hub_fd, m->msg, u);
	if (r == 0) {
		sg_buf_reset(m->msg);
		if (sg_buf_put_u8(m->msg, SG_MP_HUB_DNS_TCP) == 0 &&
		    sg_mp_put_str(m->msg, s->id) == 0)
			r = sg_mp_send(m->hub_fd, m->msg, t);
	}
	if (r < 0)
		sg_warn("sandbox %s: cannot hand its DNS to the hub: %s", s->id,
		    strerror(-r));
	close(u);
	close(t);
}

static int
hub_attach(struct mon *m, struct sbx *s, char **ret_err)
{
	char hostname[64], idenv[64], hostip[INET_ADDRSTRLEN] = "";
	char guestip[INET_ADDRSTRLEN] = "", guestcidr[INET_ADDRSTRLEN + 4] = "";
	uint32_t cid = 0;
	size_t i;
	int r, fd = -1;

	if (m->hub_fd < 0)
		return -ENOTCONN;
	if (m->transport == SG_VM_VSOCK)
		r = sg_vm_agent_cid(m->vm, s->id, &cid, ret_err);
	else
		r = sg_vm_connect_agent(m->vm, s->id, m->cfg->state_dir,
		    m->transport, &fd, ret_err);
	if (r < 0)
		return r;
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
	}
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_HUB_AGENT) < 0 ||
	    sg_mp_put_str(m->msg, s->id) < 0 ||
	    sg_buf_put_u32(m->msg, (uint32_t)(m->cfg->boot_timeout_s * 1000)) < 0 ||
	    sg_buf_put_u32(m->msg, cid) < 0 ||
	    sg_buf_put_u32(m->msg, (uint32_t)((s->has_net ? 7 : 4) +
	    (s->has_net && m->px_ca != NULL ? 1 : 0) + s->nph)) < 0 ||
	    (s->has_net && (sg_mp_put_str(m->msg, "ip") < 0 ||
	    sg_mp_put_str(m->msg, guestcidr) < 0 ||
	    sg_mp_put_str(m->msg, "gateway") < 0 ||
	    sg_mp_put_str(m->msg, hostip) < 0 ||
	    sg_mp_put_str(m->msg, "dns") < 0 ||
	    sg_mp_put_str(m->msg, hostip) < 0)) ||
	    (s->has_net && m->px_ca != NULL &&
	    (sg_mp_put_str(m->msg, "ca") < 0 ||
	    sg_mp_put_str(m->msg, m->px_ca) < 0)) ||
	    sg_mp_put_str(m->msg, "hostname") < 0 ||
	    sg_mp_put_str(m->msg, hostname) < 0 ||
	    sg_mp_put_str(m->msg, "sandbox_id") < 0 ||
	    sg_mp_put_str(m->msg, s->id) < 0 ||
	    sg_mp_put_str(m->msg, "image") < 0 ||
	    sg_mp_put_str(m->msg, s->image) < 0 ||
	    sg_mp_put_str(m->msg, "env") < 0 ||
	    sg_mp_put_str(m->msg, idenv) < 0)
		r = -ENOBUFS;
	else
		r = 0;
	/* each secret's placeholder, in the locked environment */
	for (i = 0; r == 0 && i < s->nph; i++) {
		char ev[SG_PXC_PH_LEN + 160];

		snprintf(ev, sizeof(ev), "%s=%s", s->ph_name[i], s->ph_value[i]);
		if (sg_mp_put_str(m->msg, "env") < 0 ||
		    sg_mp_put_str(m->msg, ev) < 0)
			r = -ENOBUFS;
	}
	if (r == 0)
		r = sg_mp_send(m->hub_fd, m->msg, fd);
	if (fd >= 0)
		close(fd);
	if (r == 0)
		s->attached = 1;
	if (r == 0 && s->has_net)
		hub_dns(m, s);
	return r;
}

/* Creates a sandbox for w: domain, overlay, agent handed to the hub. */
static int
sbx_create(struct mon *m, struct mworker *w, const struct sg_token *tok,
    const char *name, struct sbx **ret, char *reason, size_t reasonsz)
{
	struct sg_vm_spec spec;
	struct sbx *s = NULL;
	char *err = NULL, imgdir[PATH_MAX];
	uint8_t rnd[6];
	unsigned maxs, mem, cpus;
	uint64_t life;
	int r;

	maxs = sg_tokens_max_sandboxes(tok);
	if (maxs == 0)
		maxs = m->cfg->max_sandboxes;
	if (sbx_count_token(m, w->token) >= maxs) {
		snprintf(reason, reasonsz,
		    "token %s already has %u running sandboxes (max_sandboxes "
		    "= %u): close one, or ask an administrator to raise the "
		    "limit", w->token, sbx_count_token(m, w->token), maxs);
		return -EUSERS;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	if (sg_util_random(rnd, sizeof(rnd)) < 0 ||
	    sg_util_hex_encode(rnd, sizeof(rnd), s->id, sizeof(s->id)) < 0) {
		sbx_free(s);
		return -EIO;
	}
	mem = sg_tokens_memory_mb(tok) ? sg_tokens_memory_mb(tok) : m->cfg->memory_mb;
	cpus = sg_tokens_vcpus(tok) ? sg_tokens_vcpus(tok) : m->cfg->vcpus;
	life = sg_tokens_max_lifetime(tok) ? sg_tokens_max_lifetime(tok) :
	    m->cfg->max_lifetime_s;
	s->token = strdup(w->token);
	s->name = strdup(name);
	s->image = strdup(sg_tokens_image(tok) ? sg_tokens_image(tok) :
	    m->cfg->image);
	if (s->token == NULL || s->name == NULL || s->image == NULL) {
		sbx_free(s);
		return -ENOMEM;
	}
	s->created = time(NULL);
	s->expires = s->created + (int64_t)life;
	snprintf(imgdir, sizeof(imgdir), "%s/%s", m->cfg->image_dir, s->image);
	memset(&spec, 0, sizeof(spec));
	spec.id = s->id;
	spec.token = s->token;
	spec.name = s->name;
	spec.image_dir = imgdir;
	spec.image = s->image;
	spec.memory_mb = mem;
	spec.vcpus = cpus;
	spec.disk_gb = m->cfg->disk_gb;
	spec.domain_type = m->vm_type;
	spec.transport = m->transport;
	spec.state_dir = m->cfg->state_dir;
	spec.created = s->created;
	spec.expires = s->expires;
	spec.owner_pid = w->pid;
	r = sbx_net_setup(m, s, 0, &err);
	if (r < 0) {
		snprintf(reason, reasonsz, "cannot set up the sandbox's network: "
		    "%s", err ? err : strerror(-r));
		free(err);
		sbx_free(s);
		return r;
	}
	spec.tap = s->has_net ? s->na.tap : NULL;
	r = sg_vm_create(m->vm, &spec, &err);
	if (r < 0) {
		snprintf(reason, reasonsz, "%s", err ? err : strerror(-r));
		free(err);
		if (s->has_net)
			sg_net_del(m->net, s->id);
		sbx_free(s);
		return r;
	}
	s->owner_pid = w->pid;
	s->next = m->sbxs;
	m->sbxs = s;
	r = hub_attach(m, s, &err);
	if (r < 0) {
		snprintf(reason, reasonsz, "%s", err ? err :
		    "cannot hand the sandbox to the hub");
		free(err);
		sbx_destroy(m, s, "could not be started");
		return r;
	}
	sg_info("sandbox %s created for token %s (%s, %s%s, image %s, %u MiB, "
	    "%u vCPU)", s->id, s->token, w->peer, name[0] ? "name " : "ephemeral",
	    name, s->image, mem, cpus);
	sg_audit("sandbox_created", "sandbox", s->id, "token", s->token,
	    "name", name[0] ? name : NULL, "source", w->addr, "image",
	    s->image, NULL);
	*ret = s;
	return 0;
}

static int
handle_start(struct mon *m, struct mworker *w, const uint8_t *p, size_t n)
{
	const struct sg_token *tok;
	struct sbx *s = NULL;
	char *user = NULL, *err = NULL, reason[512];
	int r, sp[2];

	r = sg_mp_parse_start(p, n, &user);
	if (r < 0)
		return r;
	if (strcmp(user, w->user) != 0) {
		free(user);
		return -EPROTO;
	}
	free(user);
	w->state = W_RUNNING;
	if (ensure_libvirt(m, &err) < 0) {
		snprintf(reason, sizeof(reason), "%s", err ? err :
		    "cannot reach libvirt");
		free(err);
		start_fail(m, w, reason);
		return 0;
	}
	if (m->hub_fd < 0) {
		start_fail(m, w, "the gateway's hub is restarting: try again in "
		    "a few seconds");
		return 0;
	}
	tok = sg_tokens_find(m->tokens, w->token);
	if (tok == NULL) {
		start_fail(m, w, "the token was revoked");
		return 0;
	}
	/* "sandbox" is a fresh sandbox for this connection; any other name
	 * is the token's sandbox of that name, shared and kept. */
	if (strcmp(w->user, "sandbox") != 0) {
		for (s = m->sbxs; s != NULL; s = s->next)
			if (strcmp(s->token, w->token) == 0 &&
			    strcmp(s->name, w->user) == 0)
				break;
	}
	if (s == NULL) {
		r = sbx_create(m, w, tok, strcmp(w->user, "sandbox") == 0 ?
		    "" : w->user, &s, reason, sizeof(reason));
		if (r < 0) {
			start_fail(m, w, reason);
			return 0;
		}
	}
	if (!s->attached && hub_attach(m, s, &err) < 0) {
		snprintf(reason, sizeof(reason), "%s", err ? err :
		    "cannot reach the sandbox's agent");
		free(err);
		start_fail(m, w, reason);
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_HUB_LINK) < 0 ||
	    sg_mp_put_str(m->msg, s->id) < 0 ||
	    sg_mp_send(m->hub_fd, m->msg, sp[0]) < 0) {
		close(sp[0]);
		close(sp[1]);
		start_fail(m, w, "cannot reach the gateway's hub");
		return 0;
	}
	close(sp[0]);
	w->sbx = s;
	s->nconn++;
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_STARTED) < 0 ||
	    sg_mp_put_str(m->msg, s->id) < 0 ||
	    sg_mp_put_str(m->msg, s->image) < 0 ||
	    sg_buf_put_u64(m->msg, (uint64_t)s->expires) < 0 ||
	    sg_buf_put_u32(m->msg, (uint32_t)(m->cfg->boot_timeout_s * 1000)) < 0 ||
	    sg_mp_send(w->fd, m->msg, sp[1]) < 0)
		sg_warn("%s: could not hand the sandbox to the worker", w->peer);
	close(sp[1]);
	return 0;
}

/* --- workers --- */

static void
worker_gone(struct mon *m, struct mworker *w)
{
	struct mworker **pp;
	struct sbx *s = w->sbx;

	if (s != NULL) {
		w->sbx = NULL;
		if (s->nconn > 0)
			s->nconn--;
		if (s->name[0] == '\0')
			sbx_destroy(m, s, "disconnected");
		else if (s->nconn == 0)
			s->idle_since = time(NULL);
	}
	if (w->fd >= 0)
		close(w->fd);
	for (pp = &m->workers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	m->nworkers--;
	free(w->token);
	free(w->user);
	free(w);
}

/* One request from a worker. A request its state does not allow, or a
 * malformed one, ends the worker: it is not to be trusted any more. */
static void
worker_read(struct mon *m, struct mworker *w)
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
	switch (type) {
	case SG_MP_AUTH_PASSWORD:
	case SG_MP_AUTH_KEY:
		if (w->state == W_PREAUTH)
			r = handle_auth(m, w, type, p, (size_t)n - 1);
		break;
	case SG_MP_START:
		if (w->state == W_AUTHED)
			r = handle_start(m, w, p, (size_t)n - 1);
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

static void
close_except(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0U, 0);
}

static void
accept_client(struct mon *m)
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
	if (m->nworkers >= MAX_WORKERS) {
		sg_warn("refusing a connection: %u connections already open",
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
	/* Like sshd's MaxStartups: unauthenticated connections are cheap to
	 * open and each costs a process, so they are capped. */
	{
		struct mworker *o;
		unsigned total = 0, same = 0;

		for (o = m->workers; o != NULL; o = o->next) {
			if (o->state != W_PREAUTH)
				continue;
			total++;
			if (strcmp(o->addr, w->addr) == 0)
				same++;
		}
		if (total >= MAX_PREAUTH || same >= MAX_PREAUTH_PER_ADDR) {
			sg_warn("refusing a connection from %s: %u connections "
			    "from it (%u in all) are still authenticating",
			    w->addr, same, total);
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
		close_except(fd, sp[1]);
		memset(&p, 0, sizeof(p));
		p.client_fd = fd;
		p.mon_fd = sp[1];
		p.bind = m->bind;
		p.uid = m->uid;
		p.gid = m->gid;
		p.chroot_dir = m->empty_dir;
		p.login_grace_s = LOGIN_GRACE_S;
		p.max_auth_tries = 6;
		p.peer = w->peer;
		sg_worker_run(&p);
	}
	close(fd);
	close(sp[1]);
	w->pid = pid;
	w->fd = sp[0];
	w->next = m->workers;
	m->workers = w;
	m->nworkers++;
	sg_info("connection from %s (worker %ld)", w->peer, (long)pid);
}

/* --- the secrets proxy --- */

/* Starts sandgate-proxy and gives it every token's secrets (t, or the
 * tokens file read again: the monitor keeps no values) and every
 * sandbox's policy. */
static int
proxy_start(struct mon *m, const struct sg_tokens *t)
{
	struct sg_tokens *fresh = NULL;
	struct sg_pxc_cfg pc;
	struct sbx *s;
	char *err = NULL, *ca = NULL;
	int r;

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
	r = sg_pxc_spawn(&pc, m->px_listen, &m->px_pid, &m->px_fd, &ca, &err);
	if (r < 0) {
		sg_err("cannot start sandgate-proxy: %s", err ? err : strerror(-r));
		free(err);
		m->px_restart_ms = sg_mono_ms() + 5000;
		return r;
	}
	free(m->px_ca);
	m->px_ca = ca;
	if (t == NULL) {
		r = sg_tokens_load(m->cfg->tokens, &fresh, &err);
		if (r < 0) {
			sg_err("%s: the proxy has no secrets until it is fixed",
			    err ? err : strerror(-r));
			free(err);
		}
		t = fresh;
	}
	if (t != NULL && (r = sg_pxc_send_tokens(m->px_fd, m->msg, t)) < 0)
		proxy_failed(m, "the secrets", r);
	sg_tokens_free(fresh);
	for (s = m->sbxs; s != NULL; s = s->next)
		proxy_sandbox(m, s);
	if (m->px_fd >= 0 && (r = sg_pxc_send_start(m->px_fd, m->msg)) < 0)
		proxy_failed(m, "the start", r);
	sg_info("sandgate-proxy started (pid %ld) on port %u", (long)m->px_pid,
	    (unsigned)m->cfg->proxy_port);
	return 0;
}

static void
proxy_read(struct mon *m)
{
	ssize_t n;
	int fd, i;

	for (i = 0; i < 64; i++) {
		n = sg_mp_recv(m->px_fd, m->msg, &fd);
		if (fd >= 0)
			close(fd);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			close(m->px_fd);
			m->px_fd = -1;	/* restarted when reaped */
			return;
		}
		if (sg_buf_data(m->msg)[0] != SG_FEED_AUDIT ||
		    sg_pxc_audit(sg_buf_data(m->msg) + 1, (size_t)n - 1) < 0) {
			sg_err("sandgate-proxy sent a bad message: restarting it");
			kill(m->px_pid, SIGKILL);
			close(m->px_fd);
			m->px_fd = -1;
			return;
		}
	}
}

/* --- the hub --- */

/* Forks the hub (unprivileged, chrooted) and hands it every sandbox. */
static void
hub_start(struct mon *m)
{
	struct sbx *s;
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		sg_err("cannot create the hub's socket: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		sg_err("cannot fork the hub: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		struct np_res *res = NULL;
		struct rlimit rl;
		char *err = NULL;

		close_except(sp[1], sp[1]);
		/* Every agent connection, worker link and DNS socket is a
		 * descriptor here: take all the kernel allows us. */
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		/* c-ares reads /etc/resolv.conf now, before the chroot. */
		if (np_res_new(&sg_hub_res_ops, NULL, m->cfg->dns, m->cfg->ov,
		    m->cfg->nov, &res, &err) < 0) {
			sg_err("hub: %s", err ? err : "cannot start the resolver");
			_exit(1);
		}
		sg_privsep_drop(m->uid, m->gid, m->empty_dir);
		sg_hub_run(sp[1], res);
	}
	close(sp[1]);
	m->hub_pid = pid;
	m->hub_fd = sp[0];
	sg_info("hub started (pid %ld)", (long)pid);
	for (s = m->sbxs; s != NULL; s = s->next) {
		char *err = NULL;

		s->attached = 0;
		s->ready = 0;
		if (hub_attach(m, s, &err) < 0)
			sg_warn("sandbox %s: cannot reach its agent: %s", s->id,
			    err ? err : "unknown error");
		free(err);
	}
}

/* The hub reports on a sandbox's agent connection. One that never came
 * up, or went down, is destroyed: its VM is gone or useless. */
/* The resolver asks to open the firewall for a DNS answer; the monitor
 * decides on its own copy of the sandbox's policy and says yes or no. */
static int
hub_allow(struct mon *m, struct sg_cur *c)
{
	uint8_t addrs[4 * 16];
	uint32_t ttls[16], seq, n, i;
	char *id = NULL, *name = NULL, *err = NULL;
	const uint8_t *a;
	struct sbx *s;
	int r = -EPROTO, ok = 0;

	if (sg_mp_get_str(c, 64, &id) < 0)
		goto out;
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
	r = 0;
	s = sbx_find(m, id);
	if (s != NULL && s->has_net) {
		if (sg_net_allow(m->net, s->id, s->allow, name, addrs, ttls, n,
		    &err) == 0) {
			ok = 1;
		} else {
			sg_warn("sandbox %s: DNS answer for %s not allowed: %s",
			    s->id, name, err ? err : "refused");
			sg_audit("dns_blocked", "sandbox", s->id, "token", s->token,
			    "name", name, "reason", err ? err : "refused", NULL);
		}
		free(err);
	}
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_HUB_ALLOWED) == 0 &&
	    sg_mp_put_str(m->msg, id) == 0 &&
	    sg_buf_put_u32(m->msg, seq) == 0 &&
	    sg_buf_put_u8(m->msg, (uint8_t)ok) == 0)
		(void)sg_mp_send(m->hub_fd, m->msg, -1);
out:
	free(id);
	free(name);
	return r;
}

static int
hub_read(struct mon *m)
{
	struct sg_cur c;
	struct sbx *s;
	char *id = NULL, *why = NULL;
	uint8_t state;
	ssize_t n;
	int fd;

	n = sg_mp_recv(m->hub_fd, m->msg, &fd);
	if (n == -EAGAIN)
		return -EAGAIN;
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		close(m->hub_fd);
		m->hub_fd = -1;	/* restarted when reaped */
		return -EPIPE;
	}
	sg_cur_init(&c, sg_buf_data(m->msg) + 1, (size_t)n - 1);
	if (sg_buf_data(m->msg)[0] == SG_MP_HUB_ALLOW) {
		if (hub_allow(m, &c) < 0)
			goto bad;
		goto out;
	}
	if (sg_buf_data(m->msg)[0] == SG_MP_HUB_REFUSED) {
		char *name = NULL;

		if (sg_mp_get_str(&c, 64, &id) < 0 ||
		    sg_mp_get_str(&c, 1100, &name) < 0 ||
		    sg_mp_get_str(&c, 256, &why) < 0) {
			free(name);
			goto bad;
		}
		s = sbx_find(m, id);
		sg_audit("dns_refused", "sandbox", id, "token",
		    s ? s->token : NULL, "name", name, "reason", why, NULL);
		free(name);
		goto out;
	}
	if (sg_buf_data(m->msg)[0] != SG_MP_HUB_STATUS ||
	    sg_mp_get_str(&c, 64, &id) < 0)
		goto bad;
	state = sg_cur_u8(&c);
	if (c.err || sg_mp_get_str(&c, 1024, &why) < 0)
		goto bad;
	s = sbx_find(m, id);
	if (s == NULL) {
		hub_drop(m, id);
		goto out;
	}
	if (state == SG_MP_HUB_READY) {
		s->ready = 1;
	} else {
		char text[1100];

		snprintf(text, sizeof(text), "%s", why);
		notify_sandbox(m, s, SG_MP_NOTICE_FAILED, text);
		sbx_destroy(m, s, s->ready ? "stopped" : "agent not ready");
	}
	goto out;
bad:
	sg_err("the hub sent a bad message: restarting it");
	kill(m->hub_pid, SIGKILL);
	free(id);
	free(why);
	return -EPROTO;	/* read nothing more from it */
out:
	free(id);
	free(why);
	return 0;
}

static void
reap_children(struct mon *m)
{
	struct mworker *w;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == m->px_pid) {
			sg_err("sandgate-proxy exited (status %d): restarting it; "
			    "open HTTP connections of sandboxes end", st);
			if (m->px_fd >= 0)
				close(m->px_fd);
			m->px_fd = -1;
			m->px_pid = 0;
			m->px_restart_ms = sg_mono_ms() + 1000;
			continue;
		}
		if (pid == m->hub_pid) {
			sg_err("the hub exited (status %d): restarting it; sessions "
			    "end, sandboxes stay", st);
			if (m->hub_fd >= 0)
				close(m->hub_fd);
			m->hub_fd = -1;
			m->hub_pid = 0;
			m->hub_restart_ms = sg_mono_ms() + 1000;
			continue;
		}
		for (w = m->workers; w != NULL; w = w->next)
			if (w->pid == pid)
				break;
		if (w == NULL)
			continue;
		if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL &&
		    WTERMSIG(st) != SIGALRM)
			sg_warn("%s: worker %ld died of signal %d", w->peer,
			    (long)pid, WTERMSIG(st));
		worker_gone(m, w);
	}
}

/* --- tokens file --- */

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
	if (m->px_fd >= 0 && (r = sg_pxc_send_tokens(m->px_fd, m->msg, t)) < 0)
		proxy_failed(m, "the new secrets", r);
	sg_tokens_forget_secrets(t);
	sg_tokens_free(m->tokens);
	m->tokens = t;
	sg_info("tokens reloaded from %s (%s): %zu tokens", m->cfg->tokens,
	    why, sg_tokens_count(t));
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

/* --- control socket (sandgatectl) --- */

static void
ctl_reply(int fd, const char *text)
{
	size_t off = 0, len = strlen(text);
	ssize_t n;

	while (off < len) {
		n = send(fd, text + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

static void
ctl_list(struct mon *m, int fd)
{
	struct sg_buf *b = sg_buf_new(1 << 20);
	int64_t now = time(NULL);
	struct sbx *s;

	if (b == NULL)
		return;
	sg_buf_putf(b, "%-12s  %-16s  %-12s  %-10s  %8s  %-9s  %s\n", "ID",
	    "TOKEN", "NAME", "IMAGE", "LEFT", "STATE", "DROPPED");
	for (s = m->sbxs; s != NULL; s = s->next) {
		uint64_t pk = 0, by = 0;
		char dropped[64] = "-";

		if (s->has_net && sg_net_counters(m->net, s->id, &pk, &by) == 0)
			snprintf(dropped, sizeof(dropped), "%llu",
			    (unsigned long long)pk);
		sg_buf_putf(b, "%-12s  %-16s  %-12s  %-10s  %7llds  %-9s  %s\n",
		    s->id, s->token, s->name[0] ? s->name : "-", s->image,
		    (long long)(s->expires - now),
		    s->nconn ? "connected" : s->name[0] ? "idle" : "adopted",
		    dropped);
	}
	sg_buf_put(b, "ok\n", 4);
	ctl_reply(fd, (const char *)sg_buf_data(b));
	sg_buf_free(b);
}

static void
ctl_handle(struct mon *m, int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct timeval tv = { 2, 0 };
	char line[512], out[600], *sp, *arg;
	struct sbx *s;
	ssize_t n;
	size_t len = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    cred.uid != 0) {
		ctl_reply(fd, "error: the control socket is for root only\n");
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < sizeof(line) - 1) {
		n = recv(fd, line + len, sizeof(line) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		if (memchr(line, '\n', len) != NULL)
			break;
	}
	line[len] = '\0';
	sp = strchr(line, '\n');
	if (sp == NULL) {
		ctl_reply(fd, "error: request too long\n");
		return;
	}
	*sp = '\0';
	arg = strchr(line, ' ');
	if (arg != NULL)
		*arg++ = '\0';
	if (strcmp(line, "list") == 0 && arg == NULL) {
		ctl_list(m, fd);
	} else if (strcmp(line, "kill") == 0 && arg != NULL) {
		s = sbx_find(m, arg);
		if (s == NULL) {
			snprintf(out, sizeof(out), "error: no sandbox %.64s "
			    "(see sandgatectl list)\n", arg);
			ctl_reply(fd, out);
			return;
		}
		notify_sandbox(m, s, SG_MP_NOTICE_KILLED, "killed");
		sbx_destroy(m, s, "killed by administrator");
		ctl_reply(fd, "ok\n");
	} else if (strcmp(line, "extend") == 0 && arg != NULL) {
		char *dur = strchr(arg, ' ');
		uint64_t secs;

		if (dur != NULL)
			*dur++ = '\0';
		if (dur == NULL || sg_util_parse_duration(dur, &secs) < 0 ||
		    secs == 0) {
			ctl_reply(fd, "error: usage: extend ID DURATION "
			    "(e.g. 30m, 2h)\n");
			return;
		}
		s = sbx_find(m, arg);
		if (s == NULL) {
			snprintf(out, sizeof(out), "error: no sandbox %.64s "
			    "(see sandgatectl list)\n", arg);
			ctl_reply(fd, out);
			return;
		}
		s->expires += (int64_t)secs;
		s->warned = 0;
		if (sg_vm_set_expires(m->vm, s->id, s->expires, NULL) < 0)
			sg_warn("sandbox %s: could not record the new expiry "
			    "in libvirt", s->id);
		sg_info("sandbox %s extended by %llus", s->id,
		    (unsigned long long)secs);
		sg_audit("sandbox_extended", "sandbox", s->id, "by", dur, NULL);
		snprintf(out, sizeof(out), "ok sandbox %s now ends in %lld s\n",
		    s->id, (long long)(s->expires - time(NULL)));
		ctl_reply(fd, out);
	} else {
		ctl_reply(fd, "error: unknown request (list, kill ID, "
		    "extend ID DURATION)\n");
	}
}

static void
ctl_accept(struct mon *m)
{
	int fd = accept4(m->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	ctl_handle(m, fd);
	close(fd);
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
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
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
open_control(const char *path, int *ret_fd)
{
	struct sockaddr_un sa;
	int fd, r;
	mode_t old;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	old = umask(077);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
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

static int
parent_dir(const char *path, char *out, size_t outsz)
{
	const char *sl = strrchr(path, '/');

	if (sl == NULL || (size_t)(sl - path) >= outsz)
		return -EINVAL;
	if (sl == path)
		snprintf(out, outsz, "/");
	else
		snprintf(out, outsz, "%.*s", (int)(sl - path), path);
	return 0;
}

/* Loads the host key, creating an ed25519 key (0600) if the file does not
 * exist yet. */
static int
load_host_key(struct mon *m)
{
	const char *path = m->cfg->host_key;
	char dir[PATH_MAX];
	ssh_key key = NULL;
	mode_t old;
	int r;

	if (access(path, F_OK) != 0) {
		if (parent_dir(path, dir, sizeof(dir)) == 0)
			mkdir_parents(dir, 0755);
		if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
			sg_err("cannot generate an ed25519 host key");
			return -EIO;
		}
		old = umask(077);
		r = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, path);
		umask(old);
		if (r != SSH_OK) {
			sg_err("cannot write the host key %s: check that its "
			    "directory is writable by root", path);
			ssh_key_free(key);
			return -EIO;
		}
		sg_info("created a new ed25519 host key in %s", path);
	} else if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL,
	    &key) != SSH_OK) {
		sg_err("cannot read the host key %s: check [gateway] host_key, "
		    "or remove the file to have a new key made", path);
		return -EIO;
	}
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

static int
setup(struct mon *m)
{
	const struct sg_mon_cfg *cfg = m->cfg;
	struct passwd *pw;
	char *err = NULL, dir[PATH_MAX];
	sigset_t mask;
	int r;

	pw = getpwnam(cfg->user);
	if (pw == NULL) {
		sg_err("user %s does not exist: create it with 'useradd --system "
		    "--no-create-home --shell /usr/sbin/nologin %s', or set "
		    "[gateway] user in %s", cfg->user, cfg->user, cfg->config_path);
		return -ENOENT;
	}
	m->uid = pw->pw_uid;
	m->gid = pw->pw_gid;
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
	if (asprintf(&m->empty_dir, "%s/empty", cfg->state_dir) < 0)
		return -ENOMEM;
	if (mkdir(m->empty_dir, 0755) < 0 && errno != EEXIST) {
		sg_err("cannot create %s: %s", m->empty_dir, strerror(errno));
		return -errno;
	}
	if (parent_dir(cfg->audit_log, dir, sizeof(dir)) == 0)
		mkdir_parents(dir, 0750);
	r = sg_audit_open(cfg->audit_log);
	if (r < 0) {
		sg_err("cannot open the audit log %s: %s", cfg->audit_log,
		    strerror(-r));
		return r;
	}
	r = load_host_key(m);
	if (r < 0)
		return r;
	choose_vm_type(m);
	choose_transport(m);
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
	if (cfg->proxy_port != 0) {
		r = sg_pxc_listen(cfg->proxy_port, &m->px_listen, &err);
		if (r == 0)
			r = proxy_start(m, m->tokens);
		if (r < 0) {
			if (err != NULL)
				sg_err("%s", err);
			free(err);
			sg_err("sandboxes are not started without their proxy: "
			    "fix [proxy] in %s, or set [proxy] port = 0 to "
			    "refuse all web traffic from sandboxes",
			    cfg->config_path);
			return r < 0 ? r : -EIO;
		}
	}
	sg_tokens_forget_secrets(m->tokens);
	r = sg_vm_connect(cfg->libvirt_uri, &m->vm, &err);
	if (r < 0) {
		/* Not fatal: sessions get a clear error until it is back. */
		sg_warn("%s", err ? err : strerror(-r));
		free(err);
		err = NULL;
	} else {
		adopt_sandboxes(m);
	}
	r = open_listener(cfg->listen, &m->listen_fd);
	if (r < 0) {
		sg_err("cannot listen on %s: %s (check [gateway] listen in %s)",
		    cfg->listen, strerror(-r), cfg->config_path);
		return r;
	}
	if (parent_dir(cfg->control_socket, dir, sizeof(dir)) == 0)
		mkdir_parents(dir, 0755);
	r = open_control(cfg->control_socket, &m->ctl_fd);
	if (r < 0) {
		sg_err("cannot create the control socket %s: %s",
		    cfg->control_socket, strerror(-r));
		return r;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	m->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->sig_fd < 0)
		return -errno;
	m->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (m->ino_fd >= 0 && parent_dir(cfg->tokens, dir, sizeof(dir)) == 0) {
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
	hub_start(m);
	sg_info("listening on %s (%zu tokens, image %s, %s)", cfg->listen,
	    sg_tokens_count(m->tokens), cfg->image,
	    m->vm_type == SG_VM_KVM ? "kvm" : "qemu/TCG");
	return 0;
}

/* The libvirt connection may be down at start or drop later: reconnect
 * before each sandbox start. Returns 0 when usable. */
static int
ensure_libvirt(struct mon *m, char **ret_err)
{
	if (m->vm != NULL && sg_vm_host_alive(m->vm))
		return 0;
	sg_vm_host_free(m->vm);
	m->vm = NULL;
	if (sg_vm_connect(m->cfg->libvirt_uri, &m->vm, ret_err) < 0)
		return -EIO;
	adopt_sandboxes(m);
	return 0;
}

static void
handle_signals(struct mon *m)
{
	struct signalfd_siginfo si;

	while (read(m->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap_children(m);
			break;
		case SIGHUP:
			reload_tokens(m, "SIGHUP");
			break;
		default:
			m->quit = 1;
			break;
		}
	}
}

int
sg_mon_run(const struct sg_mon_cfg *cfg)
{
	struct mon m;
	struct pollfd *pfd = NULL;
	struct mworker *w, *wn;
	size_t npfd, i;
	int64_t timeout;
	int r;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.listen_fd = m.ctl_fd = m.sig_fd = m.ino_fd = m.hub_fd = -1;
	m.px_fd = m.px_listen = -1;
	m.msg = sg_buf_new(SG_MP_MAX);
	pfd = calloc(MAX_WORKERS + 8, sizeof(*pfd));
	if (m.msg == NULL || pfd == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = setup(&m);
	if (r < 0)
		goto out;
	if (cfg->detach && daemon(0, 1) < 0) {
		r = -errno;
		sg_err("cannot detach: %s", strerror(errno));
		goto out;
	}
	while (!m.quit) {
		timeout = run_timers(&m);
		npfd = 0;
		pfd[npfd++] = (struct pollfd){ .fd = m.sig_fd, .events = POLLIN };
		pfd[npfd++] = (struct pollfd){ .fd = m.listen_fd, .events = POLLIN };
		pfd[npfd++] = (struct pollfd){ .fd = m.ctl_fd, .events = POLLIN };
		pfd[npfd++] = (struct pollfd){ .fd = m.ino_fd, .events = POLLIN };
		pfd[npfd++] = (struct pollfd){ .fd = m.hub_fd, .events = POLLIN };
		pfd[npfd++] = (struct pollfd){ .fd = m.px_fd, .events = POLLIN };
		if (m.px_listen >= 0 && m.px_fd < 0 && m.px_pid == 0 &&
		    sg_mono_ms() >= m.px_restart_ms) {
			proxy_start(&m, NULL);
			continue;
		}
		if (m.px_listen >= 0 && m.px_pid == 0 && timeout > 1000)
			timeout = 1000;
		if (m.hub_fd < 0 && m.hub_pid == 0 && sg_mono_ms() >= m.hub_restart_ms) {
			hub_start(&m);
			continue;
		}
		if (m.hub_pid == 0 && timeout > 1000)
			timeout = 1000;
		for (w = m.workers; w != NULL && npfd < MAX_WORKERS + 8; w = w->next)
			pfd[npfd++] = (struct pollfd){ .fd = w->fd, .events = POLLIN };
		if (poll(pfd, npfd, (int)(timeout > 60000 ? 60000 : timeout)) < 0 &&
		    errno != EINTR) {
			r = -errno;
			sg_err("poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[0].revents)
			handle_signals(&m);
		if (pfd[1].revents)
			accept_client(&m);
		if (pfd[2].revents)
			ctl_accept(&m);
		if (pfd[3].revents)
			inotify_read(&m);
		/* A burst of hub messages (DNS answers to open) is drained a
		 * few at a time, so the hub's queue does not fill up. */
		for (i = 0; i < 32 && pfd[4].revents && m.hub_fd >= 0; i++)
			if (hub_read(&m) == -EAGAIN)
				break;
		if (pfd[5].revents && m.px_fd >= 0)
			proxy_read(&m);
		for (i = 6; i < npfd; i++) {
			if (pfd[i].revents == 0)
				continue;
			for (w = m.workers; w != NULL; w = wn) {
				wn = w->next;
				if (w->fd == pfd[i].fd && w->fd >= 0) {
					worker_read(&m, w);
				}
			}
		}
	}
	sg_info("stopping; %u connections and their sandboxes go on and are "
	    "adopted at the next start", m.nworkers);
	r = 0;
out:
	if (m.ctl_fd >= 0) {
		close(m.ctl_fd);
		unlink(cfg->control_socket);
	}
	if (m.listen_fd >= 0)
		close(m.listen_fd);
	if (m.sig_fd >= 0)
		close(m.sig_fd);
	if (m.ino_fd >= 0)
		close(m.ino_fd);
	if (m.hub_fd >= 0)
		close(m.hub_fd);	/* the hub exits when it sees this */
	if (m.px_fd >= 0)
		close(m.px_fd);		/* and so does the proxy */
	if (m.px_listen >= 0)
		close(m.px_listen);
	free(m.px_ca);
	for (w = m.workers; w != NULL; w = wn) {
		wn = w->next;
		if (w->fd >= 0)
			close(w->fd);
		free(w->token);
		free(w->user);
		free(w);
	}
	while (m.sbxs != NULL) {
		struct sbx *s = m.sbxs;

		m.sbxs = s->next;
		sbx_free(s);
	}
	sg_tokens_free(m.tokens);
	sg_vm_host_free(m.vm);
	if (m.bind != NULL)
		ssh_bind_free(m.bind);
	sg_audit_close();
	sg_buf_free(m.msg);
	free(m.tokens_base);
	free(m.empty_dir);
	free(pfd);
	return r;
}
