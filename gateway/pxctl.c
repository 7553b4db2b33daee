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
#include "gateway/spawn.h"
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
	    (r = sg_util_read_small(c->extra_ca, SG_FEED_MAX_STR, &ca, ret_err)) < 0)
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

int
sg_pxc_spawn(const struct sg_pxc_cfg *c, int listen_fd, int rdv_fd,
    pid_t *ret_pid, int *ret_fd, char **ret_err)
{
	char dir[4096];
	char *argv[] = { (char *)"sandgate-proxy", (char *)"--ca-dir", dir,
	    NULL, NULL };
	struct sg_spawn sp = { c->program, c->user, "proxy", argv, listen_fd,
	    rdv_fd };
	struct passwd *pw;
	struct stat st;
	int fd, r;
	pid_t pid;

	if (c->debug)
		argv[3] = (char *)"--debug";
	pw = getpwnam(c->user);
	if (pw == NULL || pw->pw_uid == 0)
		return sg_fail(ret_err, -ENOENT, "[proxy] user %s %s: create it "
		    "(useradd --system --no-create-home --home-dir /nonexistent "
		    "--shell /usr/sbin/nologin %s)", c->user,
		    pw == NULL ? "does not exist" : "is root", c->user);
	snprintf(dir, sizeof(dir), "%s/proxy", c->state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return sg_fail(ret_err, -errno, "cannot create %s: %s", dir,
		    strerror(errno));
	/* the CA key is the proxy user's alone */
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    chown(dir, pw->pw_uid, pw->pw_gid) < 0 || chmod(dir, 0700) < 0)
		return sg_fail(ret_err, -EACCES, "cannot hand %s to user %s: %s",
		    dir, c->user, strerror(errno));
	r = sg_spawn_helper(&sp, &pid, &fd, ret_err);
	if (r < 0)
		return r;
	/* CONFIG goes into an empty socket: it never waits; READY comes
	 * back on the monitor's loop (sg_pxc_ready) */
	r = send_config(fd, c, ret_err);
	if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	*ret_pid = pid;
	*ret_fd = fd;
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
		r = sg_util_read_small(src, SG_FEED_MAX_VALUE, &buf, &err);
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
