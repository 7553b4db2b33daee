/* sg_pxc: starting sandgate-proxy and feeding it. See pxctl.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/text.h"
#include "common/buf.h"
#include "common/secretval.h"
#include "common/log.h"
#include "gateway/audit.h"
#include "common/mpipe.h"
#include "gateway/pxctl.h"
#include "gateway/tokens.h"
#include "common/util.h"
#include "gateway/vm.h"
#include "netpolicy/resolver.h"
#include "common/pxfeed.h"

_Static_assert(SG_TOKENS_SECRETS_MAX <= SG_FEED_MAX_SECRETS,
    "every secret of a token must fit the feed");
/* the largest SANDBOX a valid tokens file can make fits one message */
_Static_assert(1 + 4 + SG_VM_ID_LEN + 4 + SG_TOKENS_NAME_MAX + 4 + 4 +
    SG_TOKENS_ALLOW_MAX * 4 + SG_TOKENS_ALLOW_BYTES_MAX + 4 +
    SG_TOKENS_SECRETS_MAX * (4 + SG_TOKENS_NAME_MAX + 4 + SG_PXC_PH_LEN) <=
    SG_MP_MAX, "a sandbox's policy must fit one feed message");

int
sg_pxc_listen(uint16_t port, int *ret_fd, char **ret_err)
{
	struct sockaddr_in sin;
	int fd, one = 1, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sg_fail(ret_err, -errno, "socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	if (r < 0 || listen(fd, 1024) < 0) {
		r = -errno;
		close(fd);
		return sg_fail(ret_err, r, "cannot listen on port %u for the "
		    "proxy ([proxy] port): %s", (unsigned)port, strerror(-r));
	}
	*ret_fd = fd;
	return 0;
}

/* Reads an extra_ca file (root may read it; the proxy gets the text). */
static int
read_small(const char *path, size_t max, char **ret, char **ret_err)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sg_fail(ret_err, -errno, "cannot read %s: %s", path,
		    strerror(errno));
	buf = malloc(max + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, buf + len, max + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > max)
			break;
	}
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && len > max)
		r = -EFBIG;
	if (r < 0) {
		explicit_bzero(buf, len);
		free(buf);
		return sg_fail(ret_err, r, "cannot read %s: %s", path,
		    r == -EFBIG ? "larger than the limit" : strerror(-r));
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

static int
send_config(int fd, const struct sg_pxc_cfg *c, char **ret_err)
{
	struct sg_feed_config fc;
	struct sg_feed_resolve *res = NULL;
	char addrs[SG_FEED_MAX_RESOLVE][INET_ADDRSTRLEN];
	struct sg_buf *b = NULL;
	char *ca = NULL;
	size_t i;
	int r;

	memset(&fc, 0, sizeof(fc));
	if (c->extra_ca != NULL &&
	    (r = read_small(c->extra_ca, SG_FEED_MAX_STR, &ca, ret_err)) < 0)
		return r;
	res = calloc(c->nov ? c->nov : 1, sizeof(*res));
	b = sg_buf_new(SG_MP_MAX);
	if (res == NULL || b == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < c->nov && i < SG_FEED_MAX_RESOLVE; i++) {
		inet_ntop(AF_INET, &c->ov[i].addr, addrs[i], sizeof(addrs[i]));
		res[i].name = (char *)c->ov[i].name;
		res[i].addr = addrs[i];
	}
	fc.max_conns = c->max_conns;
	fc.idle_ms = 60000;
	fc.head_ms = 30000;
	fc.upstream_ms = 30000;
	fc.pool_net = c->pool_net;
	fc.pool_prefix = (uint8_t)c->pool_prefix;
	fc.nresolve = i;
	fc.resolve = res;
	fc.dns = (char *)(c->dns ? c->dns : "");
	fc.extra_ca = ca ? ca : (char *)"";
	r = sg_feed_put_config(b, &fc);
	if (r < 0) {
		r = sg_fail(ret_err, r, "the proxy's configuration is too large "
		    "for one message (resolve overrides and extra_ca together "
		    "must stay under %u bytes)", SG_MP_MAX);
		goto out;
	}
	r = sg_mp_send(fd, b, -1);
	if (r < 0)
		r = sg_fail(ret_err, r, "cannot write to the proxy: %s",
		    strerror(-r));
out:
	free(ca);
	free(res);
	sg_buf_free(b);
	return r;
}

int
sg_pxc_ready(const uint8_t *p, size_t n, char **ret_ca)
{
	if (n == 0 || p[0] != SG_FEED_READY)
		return -EPROTO;
	return sg_feed_get_ready(p + 1, n - 1, ret_ca);
}

/* What the child of sg_pxc_spawn() reports when it cannot run the
 * program: the step and errno, on the close-on-exec pipe. */
enum { SPAWN_FDS = 1, SPAWN_USER, SPAWN_EXEC };

static void __attribute__((noreturn))
spawn_fail(int efd, int step)
{
	int msg[2] = { step, errno };

	(void)!write(efd, msg, sizeof(msg));
	_exit(step == SPAWN_EXEC ? 127 : 126);
}

/* In the forked child: async-signal-safe calls only (the monitor has
 * threads). fds: listener, feed, rendezvous (they become 3, 4, 5) and
 * the error pipe. jenv: "JOURNAL_STREAM=..." or "". */
static void __attribute__((noreturn))
spawn_child(const struct sg_pxc_cfg *c, const struct passwd *pw,
    const char *ca_dir, const char *jenv, const int fds[4])
{
	char *argv[] = { (char *)"sandgate-proxy", (char *)"--ca-dir",
	    (char *)ca_dir, NULL, NULL };
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	    NULL, NULL };
	sigset_t none;
	int a, f, v, e;

	if (c->debug)
		argv[3] = (char *)"--debug";
	/* its log lines keep their priority under journald (sg_log) */
	if (jenv[0] != '\0')
		envp[1] = (char *)jenv;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	a = fcntl(fds[0], F_DUPFD, 10);
	f = fcntl(fds[1], F_DUPFD, 10);
	v = fcntl(fds[2], F_DUPFD, 10);
	e = fcntl(fds[3], F_DUPFD_CLOEXEC, 10);
	if (e < 0)
		_exit(126);
	if (a < 0 || f < 0 || v < 0 || dup2(a, 3) < 0 ||
	    dup2(f, 4) < 0 || dup2(v, 5) < 0)
		spawn_fail(e, SPAWN_FDS);
	if (e != 6 && (dup3(e, 6, O_CLOEXEC) < 0))
		spawn_fail(e, SPAWN_FDS);
	close_range(7, ~0U, 0);
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0 || setuid(0) == 0)
		spawn_fail(6, SPAWN_USER);
	execve(c->program, argv, envp);
	spawn_fail(6, SPAWN_EXEC);
}

/* 0 once the program runs (the pipe closed on exec), or the reason the
 * child could not run it; the child is reaped then. */
static int
spawn_result(int efd, const struct sg_pxc_cfg *c, pid_t pid, char **ret_err)
{
	int msg[2];
	ssize_t n;

	do
		n = read(efd, msg, sizeof(msg));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	waitpid(pid, NULL, 0);
	if (n != (ssize_t)sizeof(msg))
		return sg_fail(ret_err, -EIO, "its child failed before it "
		    "could say why");
	switch (msg[0]) {
	case SPAWN_USER:
		return sg_fail(ret_err, -msg[1], "cannot become user %s: %s",
		    c->user, strerror(msg[1]));
	case SPAWN_EXEC:
		return sg_fail(ret_err, -msg[1], "cannot run %s as user %s: %s "
		    "(the program and every directory above it must be "
		    "readable and searchable by %s; check [proxy] program)",
		    c->program, c->user, strerror(msg[1]), c->user);
	default:
		return sg_fail(ret_err, -msg[1], "cannot set up its descriptors: "
		    "%s", strerror(msg[1]));
	}
}

int
sg_pxc_spawn(const struct sg_pxc_cfg *c, int listen_fd, int rdv_fd,
    pid_t *ret_pid, int *ret_fd, char **ret_err)
{
	char dir[4096];
	struct passwd *pw;
	char jenv[128] = "";
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	int sp[2], ep[2], r;
	pid_t pid;

	if (js != NULL)
		snprintf(jenv, sizeof(jenv), "JOURNAL_STREAM=%s", js);
	pw = getpwnam(c->user);
	if (pw == NULL || pw->pw_uid == 0)
		return sg_fail(ret_err, -ENOENT, "[proxy] user %s %s: create it "
		    "(useradd --system --no-create-home --home-dir /nonexistent "
		    "--shell /usr/sbin/nologin %s)", c->user,
		    pw == NULL ? "does not exist" : "is root", c->user);
	if (access(c->program, X_OK) < 0)
		return sg_fail(ret_err, -errno, "[proxy] program %s: %s",
		    c->program, strerror(errno));
	snprintf(dir, sizeof(dir), "%s/proxy", c->state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return sg_fail(ret_err, -errno, "cannot create %s: %s", dir,
		    strerror(errno));
	/* the CA key is the proxy user's alone */
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    chown(dir, pw->pw_uid, pw->pw_gid) < 0 || chmod(dir, 0700) < 0)
		return sg_fail(ret_err, -EACCES, "cannot hand %s to user %s: %s",
		    dir, c->user, strerror(errno));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return sg_fail(ret_err, -errno, "socketpair: %s", strerror(errno));
	/* the child's reason, should it fail before the program runs: the
	 * pipe closes on exec (posix_spawn's way) */
	if (pipe2(ep, O_CLOEXEC) < 0) {
		r = -errno;
		close(sp[0]);
		close(sp[1]);
		return sg_fail(ret_err, r, "pipe: %s", strerror(-r));
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sp[0]);
		close(sp[1]);
		close(ep[0]);
		close(ep[1]);
		return sg_fail(ret_err, r, "fork: %s", strerror(-r));
	}
	if (pid == 0)
		spawn_child(c, pw, dir, jenv, (int[]){ listen_fd, sp[1],
		    rdv_fd, ep[1] });
	close(sp[1]);
	close(ep[1]);
	r = spawn_result(ep[0], c, pid, ret_err);
	close(ep[0]);
	if (r < 0) {
		close(sp[0]);
		return r;
	}
	/* CONFIG goes into an empty socket: it never waits; READY comes
	 * back on the monitor's loop (sg_pxc_ready) */
	r = send_config(sp[0], c, ret_err);
	if (r == 0 && fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) |
	    O_NONBLOCK) < 0)
		r = -errno;
	if (r < 0) {
		close(sp[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	*ret_pid = pid;
	*ret_fd = sp[0];
	return 0;
}

/* The value of a secret: the literal, the variable or the file's
 * contents (one trailing newline dropped). */
static int
resolve_value(const struct sg_token *tok, size_t i, char **ret, size_t *ret_len)
{
	const char *src = sg_tokens_secret_source(tok, i);
	const char *v;
	char *buf = NULL, *err = NULL;
	const char *why = NULL;
	size_t len;
	int r;

	switch (sg_tokens_secret_kind(tok, i)) {
	case SG_TOKENS_SECRET_VALUE:
		v = src;
		break;
	case SG_TOKENS_SECRET_ENV:
		v = getenv(src);
		if (v == NULL) {
			sg_warn("token %s: secret %s: the variable %s is not set "
			    "in sandgated's environment; requests using it are "
			    "refused", sg_tokens_name(tok),
			    sg_tokens_secret_name(tok, i), src);
			return -ENOENT;
		}
		break;
	default:
		r = read_small(src, SG_FEED_MAX_VALUE, &buf, &err);
		if (r < 0) {
			sg_warn("token %s: secret %s: %s; requests using it are "
			    "refused", sg_tokens_name(tok),
			    sg_tokens_secret_name(tok, i), err ? err : "?");
			free(err);
			return r;
		}
		len = strlen(buf);
		if (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
		v = buf;
		break;
	}
	len = strlen(v);
	if (!sg_secret_value_ok(v, len, &why)) {
		sg_warn("token %s: secret %s: the value (%s%s) is %s; requests "
		    "using it are refused", sg_tokens_name(tok),
		    sg_tokens_secret_name(tok, i),
		    sg_tokens_secret_kind(tok, i) == SG_TOKENS_SECRET_ENV ?
		    "env:" : "file:", src, why);
		if (buf != NULL) {
			explicit_bzero(buf, len);
			free(buf);
		}
		return -EINVAL;
	}
	if (buf == NULL && (buf = strdup(v)) == NULL)
		return -ENOMEM;
	*ret = buf;
	*ret_len = len;
	return 0;
}

int
sg_pxc_send_tokens(int fd, struct sg_mpq *q, struct sg_buf *msg,
    const struct sg_tokens *t)
{
	struct sg_feed_secret fs;
	const struct sg_token *tok;
	size_t i, j;
	int r;

	sg_buf_set_wipe(msg, 1);
	if ((r = sg_feed_put_tokens_begin(msg)) < 0 ||
	    (r = sg_mpq_send(q, fd, msg, -1)) < 0)
		return r;
	for (i = 0; i < sg_tokens_count(t); i++) {
		tok = sg_tokens_at(t, i);
		for (j = 0; j < sg_tokens_secret_count(tok); j++) {
			memset(&fs, 0, sizeof(fs));
			fs.token = (char *)sg_tokens_name(tok);
			fs.name = (char *)sg_tokens_secret_name(tok, j);
			fs.hosts = (char *)(sg_tokens_secret_hosts(tok, j) ?
			    sg_tokens_secret_hosts(tok, j) : "");
			fs.in = (char *)(sg_tokens_secret_in(tok, j) ?
			    sg_tokens_secret_in(tok, j) : "");
			fs.allow_http = sg_tokens_secret_allow_http(tok, j);
			fs.has_value = resolve_value(tok, j, &fs.value,
			    &fs.value_len) == 0;
			if (!fs.has_value)
				fs.value = (char *)"";
			r = sg_feed_put_secret(msg, &fs);
			if (fs.has_value) {
				explicit_bzero(fs.value, fs.value_len);
				free(fs.value);
			}
			if (r == 0)
				r = sg_mpq_send(q, fd, msg, -1);
			/* the message held the value */
			explicit_bzero((void *)sg_buf_data(msg), sg_buf_len(msg));
			if (r < 0)
				return r;
		}
	}
	if ((r = sg_feed_put_tokens_end(msg)) < 0)
		return r;
	return sg_mpq_send(q, fd, msg, -1);
}

int
sg_pxc_send_sandbox(int fd, struct sg_mpq *q, struct sg_buf *msg,
    const char *id,
    const char *token, uint32_t addr, char *const *allow, size_t nallow,
    char *const *ph_name, char *const *ph_value, size_t nph)
{
	struct sg_feed_placeholder ph[SG_FEED_MAX_SECRETS];
	struct sg_feed_sandbox s;
	size_t i;
	int r;

	if (nph > SG_FEED_MAX_SECRETS)
		return -EINVAL;	/* the tokens file never allows it */
	for (i = 0; i < nph; i++) {
		ph[i].name = ph_name[i];
		ph[i].value = ph_value[i];
	}
	memset(&s, 0, sizeof(s));
	s.id = (char *)id;
	s.token = (char *)token;
	s.addr = addr;
	s.nallow = nallow;
	s.allow = (char **)allow;
	s.nph = nph;
	s.ph = ph;
	if ((r = sg_feed_put_sandbox(msg, &s)) < 0)
		return r;
	return sg_mpq_send(q, fd, msg, -1);
}

int
sg_pxc_send_drop(int fd, struct sg_mpq *q, struct sg_buf *msg, const char *id)
{
	int r;

	if ((r = sg_feed_put_drop(msg, id)) < 0)
		return r;
	return sg_mpq_send(q, fd, msg, -1);
}

int
sg_pxc_send_start(int fd, struct sg_mpq *q, struct sg_buf *msg)
{
	int r;

	if ((r = sg_feed_put_start(msg)) < 0)
		return r;
	return sg_mpq_send(q, fd, msg, -1);
}

int
sg_pxc_send_resync(int fd, struct sg_mpq *q, struct sg_buf *msg)
{
	int r;

	if ((r = sg_feed_put_resync(msg)) < 0)
		return r;
	return sg_mpq_send(q, fd, msg, -1);
}

int
sg_pxc_placeholder(char *out, size_t outsz)
{
	uint8_t rnd[16];
	int r;

	if (outsz < SG_PXC_PH_LEN + 1)
		return -ENOBUFS;
	memcpy(out, SG_FEED_PH_PREFIX, SG_FEED_PH_PREFIX_LEN);
	r = sg_util_random(rnd, sizeof(rnd));
	if (r == 0)
		r = sg_util_hex_encode(rnd, sizeof(rnd), out +
		    SG_FEED_PH_PREFIX_LEN, outsz - SG_FEED_PH_PREFIX_LEN);
	return r < 0 ? r : 0;
}

int
sg_pxc_audit(const uint8_t *p, size_t n, struct sg_pxc_note *note)
{
	const char *kv[2 * SG_FEED_MAX_AUDIT + 3];
	struct sg_feed_audit a;
	size_t i, k = 0;
	const char *v;
	int r;

	if ((r = sg_feed_get_audit(p, n, &a)) < 0)
		return r;
	memset(note, 0, sizeof(*note));
	snprintf(note->event, sizeof(note->event), "%s", a.event);
	kv[k++] = "source";
	kv[k++] = "proxy";
	for (i = 0; i < a.n; i++) {
		kv[k++] = a.key[i];
		kv[k++] = a.value[i];
		if (strcmp(a.key[i], "decision") == 0)
			snprintf(note->decision, sizeof(note->decision), "%s",
			    a.value[i]);
		else if (strcmp(a.key[i], "secrets") == 0 &&
		    a.value[i][0] != '\0')
			for (v = a.value[i], note->nsecrets = 1; *v; v++)
				note->nsecrets += *v == ',';
	}
	kv[k] = NULL;
	sg_audit_pairs(a.event, kv);
	sg_feed_audit_clear(&a);
	return 0;
}
