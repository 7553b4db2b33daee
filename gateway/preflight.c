/* sg_preflight: the checks of `sandgated -t`. See preflight.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "common/pxfeed.h"
#include "common/util.h"
#include "gateway/conf.h"
#include "gateway/preflight.h"
#include "gateway/tokens.h"
#include "gateway/vm.h"

#define SHIM_DEFAULT SG_LIBEXECDIR "/sandgate-shim"

/* The exit status of access_as()'s child when it could not become the
 * user. */
#define AS_USER_FAILED 255

struct pf {
	const struct sg_conf *c;
	FILE *out;
	unsigned n;
};

/* Writes one problem about key k: where the key is set and its value,
 * then the message. */
static void problem(struct pf *p, enum sg_conf_key k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct pf *p, enum sg_conf_key k, const char *fmt, ...)
{
	const char *v = sg_conf_str(p->c, k);
	unsigned line = sg_conf_line(p->c, k);
	va_list ap;

	if (line)
		fprintf(p->out, "%s:%u: %s = %s: ", sg_conf_file(p->c), line,
			sg_conf_key_name(k), v ? v : "");
	else
		fprintf(p->out, "%s: %s = %s (the default): ", sg_conf_file(p->c),
			sg_conf_key_name(k), v ? v : "");
	va_start(ap, fmt);
	vfprintf(p->out, fmt, ap);
	va_end(ap);
	fputc('\n', p->out);
	p->n++;
}

/* Writes one problem that names its own place (the tokens file's). */
static void problem_line(struct pf *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem_line(struct pf *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(p->out, fmt, ap);
	va_end(ap);
	fputc('\n', p->out);
	p->n++;
}


/* Checks that the directory dir (of key k, called what) exists, or that
 * sandgated can make it as `mkdir -p` does: its nearest existing
 * ancestor is a directory. As root, also that the directory (or that
 * ancestor) is writable: a read-only file system stops the start. */
static void check_dir(struct pf *p, enum sg_conf_key k, const char *dir, const char *what)
{
	char anc[PATH_MAX];
	struct stat st;
	char *sl;

	if (snprintf(anc, sizeof(anc), "%s", dir) >= (int)sizeof(anc)) {
		problem(p, k, "the path of %s is too long", what);
		return;
	}
	while (stat(anc, &st) < 0) {
		if ((errno != ENOENT && errno != ENOTDIR) || strcmp(anc, "/") == 0) {
			problem(p, k, "cannot look at %s: %s", anc, strerror(errno));
			return;
		}
		sl = strrchr(anc, '/');
		if (sl == anc)
			sl[1] = '\0';
		else
			*sl = '\0';
	}
	if (!S_ISDIR(st.st_mode)) {
		if (strcmp(anc, dir) == 0)
			problem(p, k, "%s %s is not a directory: remove it or choose another path",
				what, dir);
		else
			problem(p, k, "cannot make %s %s: %s is not a directory", what, dir, anc);
		return;
	}
	if (geteuid() == 0 && access(anc, W_OK) < 0)
		problem(p, k, "cannot write in %s (%s): sandgated makes %s there",
			anc, strerror(errno), strcmp(anc, dir) == 0 ? "files" : what);
}

/* A host key must import; an absent one is made at start, with its
 * directory. */
static void check_host_key(struct pf *p)
{
	const char *path = sg_conf_str(p->c, SG_CONF_HOST_KEY);
	char dir[PATH_MAX];
	ssh_key key = NULL;
	int fd;

	if (access(path, F_OK) != 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			problem(p, SG_CONF_HOST_KEY, "cannot look at it: %s", strerror(errno));
		else if (sg_util_parent_dir(path, dir, sizeof(dir)) == 0)
			check_dir(p, SG_CONF_HOST_KEY, dir, "the host key's directory");
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		problem(p, SG_CONF_HOST_KEY, "cannot read it: %s%s", strerror(errno),
			errno == EACCES ? " (run sandgated -t as root)" : "");
		return;
	}
	close(fd);
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
		problem(p, SG_CONF_HOST_KEY, "not a private key sandgated can read (an "
			"unencrypted OpenSSH or PEM key): fix the path, or remove the file to "
			"have a new key made at the next start");
		return;
	}
	ssh_key_free(key);
}

/* Loads the image folder image_dir/name as a sandbox start does. Returns
 * 0, or a negative errno and *ret_err (NULL after -ENOMEM). */
static int load_image(const struct sg_conf *c, const char *name, char **ret_err)
{
	struct sg_vm_image *img = NULL;
	char *dir = NULL;
	int r;

	*ret_err = NULL;
	if (asprintf(&dir, "%s/%s", sg_conf_str(c, SG_CONF_IMAGE_DIR), name) < 0)
		return -ENOMEM;
	r = sg_vm_image_load(dir, &img, ret_err);
	sg_vm_image_free(img);
	free(dir);
	return r;
}

static void check_image(struct pf *p)
{
	char *err = NULL;
	int r = load_image(p->c, sg_conf_str(p->c, SG_CONF_IMAGE), &err);

	if (r < 0)
		problem(p, SG_CONF_IMAGE, "%s", err ? err : strerror(-r));
	free(err);
}

/* The images tokens name, other than the default (checked already). */
static void check_token_images(struct pf *p, const struct sg_tokens *t)
{
	const char *def = sg_conf_str(p->c, SG_CONF_IMAGE), *img;
	const struct sg_token *tok;
	char *err;
	size_t i;
	int r;

	for (i = 0; i < sg_tokens_count(t); i++) {
		tok = sg_tokens_at(t, i);
		img = sg_tokens_image(tok);
		if (!img || strcmp(img, def) == 0)
			continue;
		r = load_image(p->c, img, &err);
		if (r < 0)
			problem_line(p, "%s:%u: [%s] image = %s: %s", sg_tokens_file(t),
				     sg_tokens_line(tok), sg_tokens_name(tok), img,
				     err ? err : strerror(-r));
		free(err);
	}
}

/* The tokens file must load, as at start (a missing one stops it). */
static void check_tokens(struct pf *p)
{
	const char *path = sg_conf_str(p->c, SG_CONF_TOKENS);
	struct sg_tokens *t = NULL;
	char *err = NULL;
	size_t len = strlen(path);
	int r;

	r = sg_tokens_load(path, &t, &err);
	if (r == -ENOENT)
		problem(p, SG_CONF_TOKENS, "the tokens file does not exist: create it with "
			"'sandgatectl token create NAME', or set the path");
	else if (r < 0 && err && strncmp(err, path, len) == 0 && err[len] == ':')
		problem_line(p, "%s", err);     /* FILE:LINE: from the loader */
	else if (r < 0)
		problem(p, SG_CONF_TOKENS, "%s", err ? err : strerror(-r));
	else
		check_token_images(p, t);
	free(err);
	sg_tokens_free(t);
}

static void check_audit_log(struct pf *p)
{
	const char *path = sg_conf_str(p->c, SG_CONF_AUDIT_LOG);
	char dir[PATH_MAX];
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			problem(p, SG_CONF_AUDIT_LOG, "cannot look at it: %s", strerror(errno));
		else if (sg_util_parent_dir(path, dir, sizeof(dir)) == 0)
			check_dir(p, SG_CONF_AUDIT_LOG, dir, "the audit log's directory");
		return;
	}
	if (S_ISDIR(st.st_mode))
		problem(p, SG_CONF_AUDIT_LOG, "is a directory: give the path of a file");
	else if (geteuid() == 0 && access(path, W_OK) < 0)
		problem(p, SG_CONF_AUDIT_LOG, "cannot write to it: %s", strerror(errno));
}

static void check_control_socket(struct pf *p)
{
	char dir[PATH_MAX];

	if (sg_util_parent_dir(sg_conf_str(p->c, SG_CONF_CONTROL_SOCKET), dir, sizeof(dir)) == 0)
		check_dir(p, SG_CONF_CONTROL_SOCKET, dir, "the control socket's directory");
}

/* [gateway] user runs the workers; control_user is an SSH user name
 * only, not a user of this system. */
static void check_user(struct pf *p)
{
	const char *user = sg_conf_str(p->c, SG_CONF_USER);
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		problem(p, SG_CONF_USER, "no such user: create it (useradd --system "
			"--no-create-home --shell /usr/sbin/nologin %s), or name another", user);
		return;
	}
	if (sg_conf_uid_first(p->c) <= pw->pw_uid && pw->pw_uid <= sg_conf_uid_last(p->c))
		problem(p, SG_CONF_UID_RANGE, "holds uid %u of [gateway] user %s: the range is "
			"for sandboxes alone, choose one without it", (unsigned)pw->pw_uid, user);
}

static void check_shim(struct pf *p)
{
	char path[PATH_MAX];

	if (sg_preflight_shim_program(p->c, path, sizeof(path)) < 0)
		problem(p, SG_CONF_SHIM_PROGRAM, "the path is too long");
	else if (access(path, X_OK) < 0)
		problem(p, SG_CONF_SHIM_PROGRAM, "cannot execute %s: %s (install sandgate-shim "
			"there, or set the path)", path, strerror(errno));
}

/* Checks in a child, as uid and gid with no supplementary groups (as the
 * proxy runs), that path is executable. Returns 0, -errno of access(2),
 * or -ECHILD when the child could not become the user. */
static int access_as(uid_t uid, gid_t gid, const char *path)
{
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(AS_USER_FAILED);
		_exit(access(path, X_OK) == 0 ? 0 : errno > 0 && errno < AS_USER_FAILED ?
		      errno : EACCES);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) == AS_USER_FAILED)
		return -ECHILD;
	return -WEXITSTATUS(st);
}

/* The proxy's program, run by root as [proxy] user (pw may be NULL: no
 * such user, reported already). */
static void check_proxy_program(struct pf *p, const struct passwd *pw)
{
	const char *prog = sg_conf_str(p->c, SG_CONF_PROXY_PROGRAM);
	int r;

	if (access(prog, X_OK) < 0) {
		problem(p, SG_CONF_PROXY_PROGRAM, "cannot execute %s: %s (install sandgate-proxy "
			"there, set the path, or set [proxy] port = 0 to run no proxy)", prog,
			strerror(errno));
		return;
	}
	if (!pw || pw->pw_uid == 0 || geteuid() != 0)
		return;
	r = access_as(pw->pw_uid, pw->pw_gid, prog);
	if (r == -ECHILD)
		problem(p, SG_CONF_PROXY_PROGRAM, "cannot become user %s to check that it may "
			"run %s", pw->pw_name, prog);
	else if (r < 0)
		problem(p, SG_CONF_PROXY_PROGRAM, "%s is not executable by user %s: %s (the "
			"proxy runs as [proxy] user: let it search every directory on the path "
			"and execute the file, e.g. chmod o+x)", prog, pw->pw_name, strerror(-r));
}

static void check_extra_ca(struct pf *p)
{
	const char *path = sg_conf_str(p->c, SG_CONF_EXTRA_CA);
	struct stat st;
	int fd;

	if (!path)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		problem(p, SG_CONF_EXTRA_CA, "cannot read it: %s", strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		problem(p, SG_CONF_EXTRA_CA, "not a regular file: give a PEM file of CA "
			"certificates");
	else if (st.st_size > SG_FEED_MAX_STR)
		problem(p, SG_CONF_EXTRA_CA, "larger than %u bytes, which the proxy takes: keep "
			"only the certificates it needs", (unsigned)SG_FEED_MAX_STR);
	close(fd);
}

/* The proxy, when it runs ([proxy] port not 0). */
static void check_proxy(struct pf *p)
{
	const char *user = sg_conf_str(p->c, SG_CONF_PROXY_USER);
	struct passwd *pw, copy;

	if (sg_conf_num(p->c, SG_CONF_PROXY_PORT) == 0)
		return;
	pw = getpwnam(user);
	if (!pw)
		problem(p, SG_CONF_PROXY_USER, "no such user: create it (useradd --system "
			"--no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin %s), "
			"or set [proxy] port = 0 to run no proxy", user);
	else if (pw->pw_uid == 0)
		problem(p, SG_CONF_PROXY_USER, "is root: the proxy reads what guests send and "
			"runs as a user of its own; create one (useradd --system "
			"--no-create-home --shell /usr/sbin/nologin sandgate-proxy)");
	if (pw) {
		copy = *pw;     /* getpwnam's storage is shared */
		pw = &copy;
	}
	check_proxy_program(p, pw);
	check_extra_ca(p);
}

int sg_preflight_shim_program(const struct sg_conf *c, char *buf, size_t size)
{
	const char *conf = sg_conf_str(c, SG_CONF_SHIM_PROGRAM);
	char self[PATH_MAX], beside[PATH_MAX];
	const char *sl;
	ssize_t n;

	if (strlen(conf) >= size)
		return -ENAMETOOLONG;
	memcpy(buf, conf, strlen(conf) + 1);
	if (strcmp(conf, SHIM_DEFAULT) != 0 || access(conf, X_OK) == 0)
		return 0;
	/* not installed (a build tree): the shim built beside sandgated */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 0;
	self[n] = '\0';
	sl = strrchr(self, '/');
	if (!sl || snprintf(beside, sizeof(beside), "%.*s/sandgate-shim", (int)(sl - self),
			     self) >= (int)sizeof(beside))
		return 0;
	if (strlen(beside) < size && access(beside, X_OK) == 0)
		memcpy(buf, beside, strlen(beside) + 1);
	return 0;
}

/* The ports sandgated will listen on must not be one another's: SSH
 * ([gateway] listen), the proxy (0.0.0.0:[proxy] port) and, when it is
 * an address, the metrics endpoint. The metrics socket's directory must
 * be one sandgated can make. */
static void check_ports(struct pf *p)
{
	const char *metrics = sg_conf_str(p->c, SG_CONF_METRICS);
	const char *lhost = sg_conf_listen_host(p->c), *colon;
	unsigned lport = sg_conf_listen_port(p->c);
	unsigned pport = (unsigned)sg_conf_num(p->c, SG_CONF_PROXY_PORT);
	char dir[PATH_MAX], mhost[64];
	unsigned long mport;
	int v6;

	if (pport != 0 && pport == lport)
		problem(p, SG_CONF_PROXY_PORT, "is also the port of [gateway] listen "
			"(the proxy listens on every address): choose another");
	if (!metrics || strcmp(metrics, "off") == 0)
		return;
	if (metrics[0] == '/') {
		if (sg_util_parent_dir(metrics, dir, sizeof(dir)) == 0)
			check_dir(p, SG_CONF_METRICS, dir, "the metrics socket's directory");
		return;
	}
	colon = strrchr(metrics, ':');
	v6 = metrics[0] == '[';
	if (!colon || (size_t)(colon - metrics) - 2 * (size_t)v6 >= sizeof(mhost))
		return;	/* the configuration checked its form */
	snprintf(mhost, sizeof(mhost), "%.*s", (int)((colon - metrics) - 2 * v6),
		 metrics + v6);
	mport = strtoul(colon + 1, NULL, 10);
	if (mport == pport)
		problem(p, SG_CONF_METRICS, "is the proxy's port ([proxy] port): "
			"choose another");
	else if (mport == lport && (strcmp(mhost, lhost) == 0 ||
		 strcmp(lhost, "0.0.0.0") == 0 || strcmp(lhost, "::") == 0 ||
		 strcmp(mhost, "0.0.0.0") == 0 || strcmp(mhost, "::") == 0))
		problem(p, SG_CONF_METRICS, "is also where [gateway] listen takes SSH "
			"clients: choose another port");
}

unsigned sg_preflight_run(const struct sg_conf *c, FILE *out)
{
	struct pf p = { .c = c, .out = out, .n = 0 };

	check_host_key(&p);
	check_tokens(&p);
	check_dir(&p, SG_CONF_STATE_DIR, sg_conf_str(c, SG_CONF_STATE_DIR), "state_dir");
	check_control_socket(&p);
	check_audit_log(&p);
	check_user(&p);
	check_shim(&p);
	check_image(&p);
	check_proxy(&p);
	check_ports(&p);
	fflush(out);
	return p.n;
}
