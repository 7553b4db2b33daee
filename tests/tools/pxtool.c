/* pxtool: runs sandgate-proxy the way sandgated's monitor will, for tests
 * and benchmarks: it opens the listening socket and the policy feed,
 * starts the proxy, feeds it a policy from the command line and prints
 * the audit events the proxy sends back.
 *
 *   pxtool --proxy PATH --listen ADDR:PORT --ca-dir DIR
 *          [--resolve NAME:ADDR]... [--extra-ca FILE] [--max-conns N]
 *          [--head-ms MS] [--idle-ms MS] [--pool A.B.C.D/N]
 *          [--secret TOKEN:NAME:VALUE:HOSTS[:IN[:http]]]...
 *          [--reload-secret TOKEN:NAME:VALUE:HOSTS[:IN[:http]]]...
 *          [--sandbox ID:TOKEN:GUESTADDR:ALLOW,...[:SECRETNAME=PLACEHOLDER,...]]...
 *          [--ready-file FILE] [--user NAME]
 *
 * ADDR:PORT is A.B.C.D:PORT or [IPV6]:PORT. The proxy runs as
 * `PATH --ca-dir DIR` with descriptor 3 the listening TCP socket and 4
 * its end of a SOCK_SEQPACKET socketpair (the feed); 0-2 are inherited,
 * nothing else is. The proxy refuses to run as root: with --user, pxtool
 * (as root) creates DIR if needed, hands it to NAME (owner, mode 0700)
 * and runs the proxy as NAME with no supplementary groups, as sandgated
 * does; DIR's parents must let NAME through. pxtool sends CONFIG
 * (max_conns 64 or --max-conns, idle 60 s or --idle-ms, head 30 s or
 * --head-ms, upstream 15 s, the
 * --resolve list, the system's DNS, the --extra-ca file's contents),
 * waits for READY, sends TOKENS_BEGIN, one SECRET per --secret,
 * TOKENS_END, one SANDBOX per --sandbox and START, and then
 * writes the CA certificate from READY to the --ready-file (atomically,
 * so a test that sees the file knows the whole policy was sent). After
 * that it prints each AUDIT as one line on stdout,
 *   audit EVENT KEY=VALUE KEY=VALUE ...
 * on SIGUSR1 sends the --reload-secret list in place of the secrets
 * (TOKENS_BEGIN, SECRET..., TOKENS_END: a reload of the tokens file),
 * forwards SIGTERM and SIGINT to the proxy, and exits with the proxy's
 * status when it ends (128 + N for a proxy killed by signal N).
 *
 * In --secret, VALUE and HOSTS cannot hold ':'; IN defaults to "header";
 * a sixth field "http" allows the secret over plain HTTP; a VALUE of "-"
 * stands for a secret without a value (has_value 0). In --sandbox, ALLOW
 * entries may carry ports (host:443); the last ':' field is taken as the
 * placeholder list when it holds a '='. GUESTADDR is the guest's IPv4
 * address.
 *
 * Exit status: the proxy's; 1 when pxtool itself fails (the message on
 * stderr), 2 on usage errors. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mpipe.h"
#include "common/util.h"
#include "common/pxfeed.h"

#define PX_MAX_SECRETS	1024
#define PX_MAX_SANDBOXES	1024

struct px_opts {
	const char *proxy;
	const char *listen;
	const char *ca_dir;
	const char *ready_file;
	const char *user;
	uid_t uid;
	gid_t gid;
	struct sg_feed_config config;
	size_t nsecret;
	struct sg_feed_secret secret[PX_MAX_SECRETS];
	size_t nreload;		/* sent instead on SIGUSR1 (a reload) */
	struct sg_feed_secret reload[PX_MAX_SECRETS];
	size_t nsandbox;
	struct sg_feed_sandbox sandbox[PX_MAX_SANDBOXES];
};

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pxtool --proxy PATH --listen ADDR:PORT --ca-dir DIR\n"
	    "  [--resolve NAME:ADDR]... [--extra-ca FILE] [--max-conns N]\n"
	    "  [--head-ms MS] [--idle-ms MS] [--pool A.B.C.D/N]\n"
	    "  [--secret TOKEN:NAME:VALUE:HOSTS[:IN[:http]]]...\n"
	    "  [--reload-secret TOKEN:NAME:VALUE:HOSTS[:IN[:http]]]...\n"
	    "  [--sandbox ID:TOKEN:GUESTADDR:ALLOW,...[:SECRETNAME=PLACEHOLDER,...]]...\n"
	    "  [--ready-file FILE] [--user NAME]\n");
	exit(2);
}

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("pxtool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
bad_arg(const char *opt, const char *arg, const char *why)
{
	fprintf(stderr, "pxtool: %s %s: %s\n", opt, arg, why);
	usage();
}

/* A timeout option's milliseconds, 100 to 600000. */
static uint32_t
ms_arg(const char *opt, const char *arg)
{
	uint64_t v;

	if (sg_util_parse_uint(arg, 100, 600000, &v) < 0)
		bad_arg(opt, arg, "want milliseconds from 100 to 600000");
	return (uint32_t)v;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xreallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n, size);

	if (q == NULL)
		die("out of memory");
	return q;
}

/* Unsigned decimal in [lo, hi]. */
static int
is_ip_literal(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* NAME:ADDR, split at the first ':' (ADDR may be IPv6). */
static void
add_resolve(struct sg_feed_config *c, const char *arg)
{
	const char *colon = strchr(arg, ':');
	struct sg_feed_resolve *r;

	if (colon == NULL || colon == arg || !is_ip_literal(colon + 1))
		bad_arg("--resolve", arg, "want NAME:ADDR with an IP address");
	if (c->nresolve >= SG_FEED_MAX_RESOLVE)
		bad_arg("--resolve", arg, "too many resolve entries");
	c->resolve = xreallocarray(c->resolve, c->nresolve + 1,
	    sizeof(*c->resolve));
	r = &c->resolve[c->nresolve++];
	r->name = xstrndup(arg, (size_t)(colon - arg));
	r->addr = xstrdup(colon + 1);
}

/* Reads the whole file at path (at most SG_FEED_MAX_STR bytes, no NUL). */
static char *
read_small_file(const char *path)
{
	char *buf = malloc(SG_FEED_MAX_STR + 2);
	size_t len = 0;
	ssize_t n;
	int fd;

	if (buf == NULL)
		die("out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("cannot open %s: %s", path, strerror(errno));
	for (;;) {
		n = read(fd, buf + len, SG_FEED_MAX_STR + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("cannot read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > SG_FEED_MAX_STR)
			die("%s is larger than %d bytes", path, SG_FEED_MAX_STR);
	}
	close(fd);
	buf[len] = '\0';
	if (strlen(buf) != len)
		die("%s holds a NUL byte", path);
	return buf;
}

/* Splits s at each sep into a new vector of new strings (*ret_n of
 * them); an empty s gives none. */
static char **
split(const char *s, char sep, size_t *ret_n)
{
	char **v = NULL;
	const char *end;
	size_t n = 0;

	while (*s != '\0') {
		end = strchr(s, sep);
		if (end == NULL)
			end = s + strlen(s);
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrndup(s, (size_t)(end - s));
		s = *end != '\0' ? end + 1 : end;
	}
	*ret_n = n;
	return v;
}

static void
free_vec(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* TOKEN:NAME:VALUE:HOSTS[:IN[:http]] */
static void
add_secret(struct px_opts *o, const char *arg, int reload)
{
	struct sg_feed_secret *s;
	size_t n;
	char **f = split(arg, ':', &n);

	if (n < 4 || n > 6 || f[0][0] == '\0' || f[1][0] == '\0' ||
	    (n == 6 && strcmp(f[5], "http") != 0))
		bad_arg("--secret", arg,
		    "want TOKEN:NAME:VALUE:HOSTS[:IN[:http]]");
	if ((reload ? o->nreload : o->nsecret) >= PX_MAX_SECRETS)
		bad_arg("--secret", arg, "too many secrets");
	s = reload ? &o->reload[o->nreload++] : &o->secret[o->nsecret++];
	s->token = xstrdup(f[0]);
	s->name = xstrdup(f[1]);
	if (strcmp(f[2], "-") == 0) {
		s->has_value = 0;
		s->value = xstrdup("");
	} else {
		s->has_value = 1;
		s->value = xstrdup(f[2]);
	}
	s->value_len = strlen(s->value);
	if (s->value_len > SG_FEED_MAX_VALUE)
		bad_arg("--secret", arg, "value too long");
	s->hosts = xstrdup(f[3]);
	s->in = xstrdup(n >= 5 ? f[4] : "header");
	s->allow_http = n == 6;
	explicit_bzero(f[2], strlen(f[2]));
	free_vec(f, n);
}

/* ID:TOKEN:GUESTADDR:ALLOW,...[:SECRETNAME=PLACEHOLDER,...] */
static void
add_sandbox(struct px_opts *o, const char *arg)
{
	struct sg_feed_sandbox *s;
	struct in_addr in;
	const char *p[3], *rest, *last;
	char *addr, *allow, *phs = NULL, **pv, *eq;
	size_t i, n;

	rest = arg;
	for (i = 0; i < 3; i++) {
		p[i] = rest;
		rest = strchr(rest, ':');
		if (rest == NULL)
			bad_arg("--sandbox", arg,
			    "want ID:TOKEN:GUESTADDR:ALLOW,...[:NAME=PLACEHOLDER,...]");
		rest++;
	}
	if (p[1] - p[0] < 2 || p[2] - p[1] < 2)
		bad_arg("--sandbox", arg, "empty ID or TOKEN");
	if (o->nsandbox >= PX_MAX_SANDBOXES)
		bad_arg("--sandbox", arg, "too many sandboxes");
	s = &o->sandbox[o->nsandbox++];
	s->id = xstrndup(p[0], (size_t)(p[1] - p[0] - 1));
	s->token = xstrndup(p[1], (size_t)(p[2] - p[1] - 1));
	addr = xstrndup(p[2], (size_t)(rest - p[2] - 1));
	if (inet_pton(AF_INET, addr, &in) != 1)
		bad_arg("--sandbox", arg, "GUESTADDR is not an IPv4 address");
	s->addr = ntohl(in.s_addr);
	free(addr);

	last = strrchr(rest, ':');
	if (last != NULL && strchr(last + 1, '=') != NULL) {
		allow = xstrndup(rest, (size_t)(last - rest));
		phs = xstrdup(last + 1);
	} else {
		allow = xstrdup(rest);
	}
	s->allow = split(allow, ',', &s->nallow);
	free(allow);
	if (s->nallow > SG_FEED_MAX_ALLOW)
		bad_arg("--sandbox", arg, "too many allow entries");
	if (phs != NULL) {
		pv = split(phs, ',', &n);
		if (n > SG_FEED_MAX_SECRETS)
			bad_arg("--sandbox", arg, "too many placeholders");
		s->ph = xreallocarray(NULL, n > 0 ? n : 1, sizeof(*s->ph));
		for (i = 0; i < n; i++) {
			eq = strchr(pv[i], '=');
			if (eq == NULL || eq == pv[i])
				bad_arg("--sandbox", arg,
				    "want SECRETNAME=PLACEHOLDER");
			s->ph[i].name = xstrndup(pv[i], (size_t)(eq - pv[i]));
			s->ph[i].value = xstrdup(eq + 1);
		}
		s->nph = n;
		free_vec(pv, n);
		free(phs);
	}
}

/* --pool A.B.C.D/N: the sandboxes' pool, which the proxy never reaches. */
static void
pool_arg(struct sg_feed_config *c, const char *arg)
{
	char buf[32];
	const char *slash = strchr(arg, '/');
	struct in_addr a;
	uint64_t v = 0;

	if (slash == NULL || (size_t)(slash - arg) >= sizeof(buf))
		bad_arg("--pool", arg, "want A.B.C.D/N");
	memcpy(buf, arg, (size_t)(slash - arg));
	buf[slash - arg] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1 ||
	    sg_util_parse_uint(slash + 1, 1, 32, &v) < 0)
		bad_arg("--pool", arg, "want A.B.C.D/N");
	c->pool_net = ntohl(a.s_addr);
	c->pool_prefix = (uint8_t)v;
}

static void
parse_args(int argc, char **argv, struct px_opts *o)
{
	static const struct option longopts[] = {
		{ "proxy", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "ca-dir", required_argument, NULL, 'c' },
		{ "resolve", required_argument, NULL, 'r' },
		{ "extra-ca", required_argument, NULL, 'e' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "pool", required_argument, NULL, 'P' },
		{ "head-ms", required_argument, NULL, 'H' },
		{ "idle-ms", required_argument, NULL, 'i' },
		{ "secret", required_argument, NULL, 's' },
		{ "reload-secret", required_argument, NULL, 'R' },
		{ "sandbox", required_argument, NULL, 'b' },
		{ "ready-file", required_argument, NULL, 'f' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	o->config.max_conns = 64;
	o->config.idle_ms = 60000;
	o->config.head_ms = 30000;
	o->config.upstream_ms = 15000;
	o->config.dns = "";
	o->config.extra_ca = NULL;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			o->proxy = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'c':
			o->ca_dir = optarg;
			break;
		case 'r':
			add_resolve(&o->config, optarg);
			break;
		case 'e':
			free(o->config.extra_ca);
			o->config.extra_ca = read_small_file(optarg);
			break;
		case 'm':
			if (sg_util_parse_uint(optarg, 1, UINT32_MAX, &v) < 0)
				bad_arg("--max-conns", optarg,
				    "want a number from 1");
			o->config.max_conns = (uint32_t)v;
			break;
		case 'H':
			o->config.head_ms = ms_arg("--head-ms", optarg);
			break;
		case 'P':
			pool_arg(&o->config, optarg);
			break;
		case 'i':
			o->config.idle_ms = ms_arg("--idle-ms", optarg);
			break;
		case 's':
			add_secret(o, optarg, 0);
			break;
		case 'R':
			add_secret(o, optarg, 1);
			break;
		case 'b':
			add_sandbox(o, optarg);
			break;
		case 'f':
			o->ready_file = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->proxy == NULL || o->listen == NULL ||
	    o->ca_dir == NULL)
		usage();
	if (o->config.extra_ca == NULL)
		o->config.extra_ca = xstrdup("");
}

/* --user: looks the user up and gives it the CA directory (created if
 * missing), as sandgated does with its proxy directory. */
static void
prepare_user(struct px_opts *o)
{
	struct passwd *pw;
	struct stat st;

	errno = 0;
	pw = getpwnam(o->user);
	if (pw == NULL)
		die("--user %s: %s", o->user, errno != 0 ? strerror(errno) :
		    "no such user (create it, or pick another)");
	if (pw->pw_uid == 0)
		die("--user %s is root: the proxy refuses to run as root",
		    o->user);
	if (geteuid() != 0)
		die("--user needs root: run pxtool as root");
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	if (mkdir(o->ca_dir, 0700) < 0 && errno != EEXIST)
		die("cannot create %s: %s", o->ca_dir, strerror(errno));
	if (lstat(o->ca_dir, &st) < 0)
		die("%s: %s", o->ca_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die("%s is not a directory", o->ca_dir);
	if (chown(o->ca_dir, o->uid, o->gid) < 0 || chmod(o->ca_dir, 0700) < 0)
		die("cannot hand %s to user %s: %s", o->ca_dir, o->user,
		    strerror(errno));
}

/* Binds and listens on ADDR:PORT (A.B.C.D:PORT or [IPV6]:PORT). */
static int
open_listener(const char *spec)
{
	struct addrinfo hints, *ai = NULL;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':');
	size_t hlen;
	int fd, one = 1, r;

	if (colon == NULL || colon == spec || colon[1] == '\0')
		bad_arg("--listen", spec, "want ADDR:PORT");
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hlen < 3 || spec[hlen - 1] != ']')
			bad_arg("--listen", spec, "want [IPV6]:PORT");
		spec++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		bad_arg("--listen", spec, "address too long");
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	r = getaddrinfo(host, colon + 1, &hints, &ai);
	if (r != 0)
		die("--listen %s: %s", host, gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("SO_REUSEADDR: %s", strerror(errno));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
		die("cannot bind %s:%s: %s", host, colon + 1, strerror(errno));
	if (listen(fd, 128) < 0)
		die("listen: %s", strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

/* In the child: the listener on 3, the feed on 4, nothing else above 2,
 * the signal mask of pxtool's parent; then the proxy. Never returns. */
static void
exec_proxy(const struct px_opts *o, int lfd, int feed, const sigset_t *mask)
{
	char *argv[4];
	int l, f;

	/* move both out of the way first: either may already be 3 or 4 */
	l = fcntl(lfd, F_DUPFD_CLOEXEC, 10);
	f = fcntl(feed, F_DUPFD_CLOEXEC, 10);
	if (l < 0 || f < 0 || dup2(l, 3) < 0 || dup2(f, 4) < 0) {
		fprintf(stderr, "pxtool: cannot set up descriptors 3 and 4: %s\n",
		    strerror(errno));
		_exit(127);
	}
	if (close_range(5, UINT_MAX, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		int fd;

		for (fd = 5; fd < (max > 0 ? max : 1024); fd++)
			close(fd);
	}
	sigprocmask(SIG_SETMASK, mask, NULL);
	if (o->user != NULL) {
		if (setgroups(0, NULL) < 0 || setgid(o->gid) < 0 ||
		    setuid(o->uid) < 0) {
			fprintf(stderr, "pxtool: cannot become user %s: %s\n",
			    o->user, strerror(errno));
			_exit(126);
		}
		if (setuid(0) == 0) {
			fprintf(stderr, "pxtool: could become root again after "
			    "switching to user %s\n", o->user);
			_exit(126);
		}
	}
	argv[0] = (char *)o->proxy;
	argv[1] = "--ca-dir";
	argv[2] = (char *)o->ca_dir;
	argv[3] = NULL;
	execv(o->proxy, argv);
	fprintf(stderr, "pxtool: cannot run %s: %s\n", o->proxy,
	    strerror(errno));
	_exit(127);
}

static pid_t proxy_pid = -1;
static int reload_wanted;	/* SIGUSR1 came */

/* The proxy's end: its exit status as ours. */
static void __attribute__((noreturn))
exit_like(int status)
{
	fflush(stdout);
	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		exit(128 + WTERMSIG(status));
	exit(1);
}

/* Reaps the proxy if it has ended (waiting for it when block is set),
 * and then exits with its status. */
static void
reap(int block)
{
	int status;
	pid_t r;

	do {
		r = waitpid(proxy_pid, &status, block ? 0 : WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r == proxy_pid)
		exit_like(status);
	if (r < 0)
		die("waitpid: %s", strerror(errno));
}

/* Handles pending signals from sfd: forwards SIGTERM and SIGINT, and
 * exits (with the proxy's status) once SIGCHLD says it ended. */
static void
handle_signals(int sfd)
{
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		n = read(sfd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			return;
		if (si.ssi_signo == SIGCHLD)
			reap(0);
		else if (si.ssi_signo == SIGUSR1)
			reload_wanted = 1;
		else
			kill(proxy_pid, (int)si.ssi_signo);
	}
}

static void
send_msg(int feed, struct sg_buf *b, int r, const char *what)
{
	if (r == 0)
		r = sg_mp_send(feed, b, -1);
	sg_buf_reset(b);
	if (r < 0) {
		fprintf(stderr, "pxtool: cannot send %s to the proxy: %s\n",
		    what, strerror(-r));
		/* the proxy has probably ended: exit with its status */
		kill(proxy_pid, SIGTERM);
		reap(1);
	}
}

static void
print_audit(const uint8_t *p, size_t n)
{
	struct sg_feed_audit a;
	size_t i;
	int r;

	r = sg_feed_get_audit(p, n, &a);
	if (r < 0) {
		fprintf(stderr, "pxtool: malformed AUDIT from the proxy: %s\n",
		    strerror(-r));
		return;
	}
	printf("audit %s", a.event);
	for (i = 0; i < a.n; i++)
		printf(" %s=%s", a.key[i], a.value[i]);
	putchar('\n');
	fflush(stdout);
	sg_feed_audit_clear(&a);
}

static void send_msg(int feed, struct sg_buf *b, int r, const char *what);

/* What a reload sends: set once the first secrets went. */
static const struct px_opts *reload_opts;
static struct sg_buf *reload_out;

/* SIGUSR1: the --reload-secret list in place of the secrets (as
 * sandgated does when the tokens file changed). */
static void
reload(int feed)
{
	size_t i;

	reload_wanted = 0;
	if (reload_opts == NULL)
		return;		/* not yet: the first ones are still to go */
	send_msg(feed, reload_out, sg_feed_put_tokens_begin(reload_out),
	    "TOKENS_BEGIN");
	for (i = 0; i < reload_opts->nreload; i++)
		send_msg(feed, reload_out, sg_feed_put_secret(reload_out,
		    &reload_opts->reload[i]), "SECRET");
	send_msg(feed, reload_out, sg_feed_put_tokens_end(reload_out),
	    "TOKENS_END");
}

/* Waits for the next message on feed (handling signals meanwhile) and
 * returns its length; 0 once the proxy closed the feed. */
static ssize_t
next_msg(int feed, int sfd, struct sg_buf *in)
{
	struct pollfd pfd[2];
	ssize_t n;
	int fd = -1;

	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = feed;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (pfd[0].revents & POLLIN)
			handle_signals(sfd);
		if (reload_wanted)
			reload(feed);
		if (pfd[1].revents == 0)
			continue;
		n = sg_mp_recv(feed, in, &fd);
		if (fd >= 0)
			close(fd);
		if (n == -EAGAIN)
			continue;
		if (n < 0) {
			fprintf(stderr, "pxtool: feed: %s\n", strerror((int)-n));
			return 0;
		}
		return n;
	}
}

/* Writes pem to path through a temporary file and a rename. */
static void
write_ready_file(const char *path, const char *pem)
{
	size_t len = strlen(pem), off = 0;
	char *tmp;
	ssize_t n;
	int fd;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		die("out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("cannot create %s: %s", tmp, strerror(errno));
	while (off < len) {
		n = write(fd, pem + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("cannot write %s: %s", tmp, strerror(errno));
		off += (size_t)n;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0)
		die("cannot write %s: %s", path, strerror(errno));
	free(tmp);
}

/* Encodes every message once before the proxy starts, so that a policy
 * the feed cannot carry is a usage error rather than a dead proxy. */
static void
preflight(const struct px_opts *o, struct sg_buf *b)
{
	size_t i;
	int r;

	r = sg_feed_put_config(b, &o->config);
	if (r < 0) {
		fprintf(stderr, "pxtool: the CONFIG message cannot be encoded "
		    "(%s): check the --resolve entries and --extra-ca\n",
		    strerror(-r));
		exit(2);
	}
	for (i = 0; i < o->nsecret; i++) {
		r = sg_feed_put_secret(b, &o->secret[i]);
		if (r < 0) {
			fprintf(stderr, "pxtool: --secret %s:%s cannot be "
			    "encoded (%s): a field is too long\n",
			    o->secret[i].token, o->secret[i].name, strerror(-r));
			exit(2);
		}
	}
	for (i = 0; i < o->nsandbox; i++) {
		r = sg_feed_put_sandbox(b, &o->sandbox[i]);
		if (r < 0) {
			fprintf(stderr, "pxtool: --sandbox %s cannot be encoded "
			    "(%s): placeholders are SANDGATE_SECRET_ and 32 "
			    "lowercase hex digits, at most %d of them\n",
			    o->sandbox[i].id, strerror(-r), SG_FEED_MAX_SECRETS);
			exit(2);
		}
	}
	sg_buf_reset(b);
}

int
main(int argc, char **argv)
{
	static struct px_opts o;
	struct sg_buf *out, *in;
	sigset_t mask, old;
	char *pem = NULL;
	const uint8_t *m;
	int lfd, sp[2], sfd, r;
	ssize_t n;
	size_t i;

	parse_args(argc, argv, &o);
	out = sg_buf_new(SG_MP_MAX);
	in = sg_buf_new(SG_MP_MAX);
	if (out == NULL || in == NULL)
		die("out of memory");
	sg_buf_set_wipe(out, 1);
	preflight(&o, out);
	if (o.user != NULL)
		prepare_user(&o);
	lfd = open_listener(o.listen);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		die("socketpair: %s", strerror(errno));

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
		die("sigprocmask: %s", strerror(errno));
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));

	fflush(stdout);
	proxy_pid = fork();
	if (proxy_pid < 0)
		die("fork: %s", strerror(errno));
	if (proxy_pid == 0)
		exec_proxy(&o, lfd, sp[1], &old);
	close(lfd);
	close(sp[1]);

	r = sg_feed_put_config(out, &o.config);
	send_msg(sp[0], out, r, "CONFIG");

	/* READY comes first; AUDIT may come at any time */
	for (;;) {
		n = next_msg(sp[0], sfd, in);
		if (n == 0) {
			fprintf(stderr, "pxtool: the proxy closed the feed "
			    "before READY\n");
			reap(1);
		}
		m = sg_buf_data(in);
		if (m[0] == SG_FEED_AUDIT) {
			print_audit(m + 1, (size_t)n - 1);
			continue;
		}
		if (m[0] != SG_FEED_READY) {
			fprintf(stderr, "pxtool: message type %u from the proxy "
			    "before READY\n", m[0]);
			continue;
		}
		r = sg_feed_get_ready(m + 1, (size_t)n - 1, &pem);
		if (r < 0) {
			fprintf(stderr, "pxtool: malformed READY: %s\n",
			    strerror(-r));
			kill(proxy_pid, SIGTERM);
			reap(1);
		}
		break;
	}

	send_msg(sp[0], out, sg_feed_put_tokens_begin(out), "TOKENS_BEGIN");
	for (i = 0; i < o.nsecret; i++)
		send_msg(sp[0], out, sg_feed_put_secret(out, &o.secret[i]),
		    "SECRET");
	send_msg(sp[0], out, sg_feed_put_tokens_end(out), "TOKENS_END");
	for (i = 0; i < o.nsandbox; i++)
		send_msg(sp[0], out, sg_feed_put_sandbox(out, &o.sandbox[i]),
		    "SANDBOX");
	send_msg(sp[0], out, sg_feed_put_start(out), "START");
	reload_opts = &o;
	reload_out = out;
	if (o.ready_file != NULL)
		write_ready_file(o.ready_file, pem);
	free(pem);

	for (;;) {
		n = next_msg(sp[0], sfd, in);
		if (n == 0)
			break;
		m = sg_buf_data(in);
		if (m[0] == SG_FEED_AUDIT)
			print_audit(m + 1, (size_t)n - 1);
		else
			fprintf(stderr, "pxtool: unexpected message type %u "
			    "from the proxy\n", m[0]);
	}
	/* the feed is closed: wait for the proxy, still forwarding signals */
	close(sp[0]);
	for (;;) {
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		handle_signals(sfd);
	}
}
