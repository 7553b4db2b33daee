/* ag_chan: see chan.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent/chan.h"
#include "agent/conf.h"
#include "agent/poll.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/proto.h"

#define CHAN_MAX_ADDRS		8
#define CHAN_MSG_MAX		256
#define CHAN_CHILD_NOFILE	1024	/* what programs expect by default */

enum chan_state {
	CH_STARTING,	/* exec, name lookup or connect in progress */
	CH_OPEN,	/* started; OPEN_OK is (to be) sent */
	CH_FAILED,	/* OPEN_FAIL is to be sent */
};

/* What a child that could not start writes to its status pipe. */
struct chan_status {
	int32_t stage;	/* CHAN_STAGE_* */
	int32_t err;
};

enum {
	CHAN_STAGE_SETUP = 1,
	CHAN_STAGE_EXEC = 2,
};

/* One address from the name lookup child (family 0: failure, with the
 * getaddrinfo error in scope). */
struct chan_addr {
	uint8_t family;
	uint8_t pad[3];
	uint32_t scope;
	uint8_t addr[16];
};

struct ag_chan {
	uint32_t id;
	uint8_t kind;		/* enum sg_open_kind */
	int pty;
	int state;
	int err;		/* CH_FAILED: errno for OPEN_FAIL */
	char msg[CHAN_MSG_MAX];
	char *what;		/* for messages: the program or host:port */

	pid_t pid;		/* the process (and its process group) */
	pid_t helper;		/* TCP: the name lookup child */
	int reaped;
	int status;

	int start_fd, start_idx;	/* exec status or lookup pipe */
	int in_fd, in_idx;		/* stdin pipe (pipes only) */
	int out_fd, out_idx;		/* stdout pipe, pty master, socket */
	int err_fd, err_idx;		/* stderr pipe */
	int wr_idx;			/* POLLOUT on the shared pty/socket */

	/* TCP */
	struct chan_addr addrs[CHAN_MAX_ADDRS];
	size_t naddrs, next_addr;
	uint16_t port;
	int connecting;

	/* flow control */
	uint32_t credit;	/* bytes we may still send the host */
	struct sg_buf *inbuf;	/* stdin not yet written */
	uint32_t window;	/* bytes the host may still send us */
	uint32_t ungranted;	/* written to the process, not re-granted */

	int in_eof;		/* the host sent EOF on stdin */
	int in_done;		/* stdin closed (or ^D / shutdown sent) */
	int in_broken;		/* the process no longer reads stdin */
	int out_eof, err_eof;
	int ok_sent, out_eof_sent, err_eof_sent, exit_sent;
	int close_sent, close_rcvd;
};

static const char *const chan_sftp_servers[] = {
	"/usr/lib/openssh/sftp-server",
	"/usr/lib/sftp-server",
	"/usr/libexec/sftp-server",
	"/usr/libexec/openssh/sftp-server",
};

/* Signals the process group a channel's child leads; a child that has
 * not reached setsid() yet is still in ours, so it is signalled alone. */
static void
chan_kill_group(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0 && errno == ESRCH)
		kill(pid, sig);
}

static void
chan_closefd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void
chan_fail(struct ag_chan *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
chan_fail(struct ag_chan *c, int err, const char *fmt, ...)
{
	va_list ap;

	c->state = CH_FAILED;
	c->err = err > 0 && err <= 4095 ? err : EIO;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
}

static int
chan_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* The descriptor stdin goes to: the pipe, or the shared pty/socket. */
static int
chan_stdin_fd(const struct ag_chan *c)
{
	return c->in_fd >= 0 ? c->in_fd : (c->pty || c->kind == SG_OPEN_TCP ?
	    c->out_fd : -1);
}

/* Reports a failure to start through the status pipe and exits; runs in
 * the child only. */
static void __attribute__((noreturn))
chan_child_fail(int status_fd, int stage, int err)
{
	struct chan_status st = { stage, err };
	ssize_t w;

	w = write(status_fd, &st, sizeof(st));
	(void)w;
	_exit(127);
}

/* The child side of a spawn: a new session (with the pty as controlling
 * terminal), stdio on fds, default signals, home as working directory,
 * then exec. Never returns. */
static void __attribute__((noreturn))
chan_child(int status_fd, int pty, int fd0, int fd1, int fd2,
    const char *path, char *const argv[], char **env, const char *home)
{
	extern char **environ;
	struct rlimit rl;
	sigset_t none;
	int sig;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (setsid() < 0)
		chan_child_fail(status_fd, CHAN_STAGE_SETUP, errno);
	if (pty && ioctl(fd0, TIOCSCTTY, 0) < 0)
		chan_child_fail(status_fd, CHAN_STAGE_SETUP, errno);
	if (dup2(fd0, 0) < 0 || dup2(fd1, 1) < 0 || dup2(fd2, 2) < 0)
		chan_child_fail(status_fd, CHAN_STAGE_SETUP, errno);
	/* The agent raised its own limit for many channels; programs that
	 * use select() expect the usual one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > CHAN_CHILD_NOFILE) {
		rl.rlim_cur = CHAN_CHILD_NOFILE;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (chdir(home) < 0 && chdir("/") < 0)
		chan_child_fail(status_fd, CHAN_STAGE_SETUP, errno);
	environ = env;
	execvp(path, argv);
	chan_child_fail(status_fd, CHAN_STAGE_EXEC, errno);
}

/* Starts path with argv in a new process, with a pty (rows x cols) or
 * three pipes. Returns 0 (the channel is then CH_STARTING until the
 * status pipe says how exec went) or -errno. */
static int
chan_spawn(struct ag_chan *c, const char *path, char *const argv[],
    char **env, const char *home, uint16_t rows, uint16_t cols)
{
	int st[2] = { -1, -1 }, in[2] = { -1, -1 }, out[2] = { -1, -1 };
	int err[2] = { -1, -1 }, master = -1, slave = -1;
	struct winsize ws;
	pid_t pid;
	int r;

	if (pipe2(st, O_CLOEXEC) < 0)
		goto fail_errno;
	if (c->pty) {
		memset(&ws, 0, sizeof(ws));
		ws.ws_row = rows != 0 ? rows : 24;
		ws.ws_col = cols != 0 ? cols : 80;
		/* openpty has no flags argument: mark the ends close-on-exec
		 * at once (the agent has no other threads to race with). */
		if (openpty(&master, &slave, NULL, NULL, &ws) < 0)
			goto fail_errno;
		if (fcntl(master, F_SETFD, FD_CLOEXEC) < 0 ||
		    fcntl(slave, F_SETFD, FD_CLOEXEC) < 0)
			goto fail_errno;
	} else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0) {
		goto fail_errno;
	}
	pid = fork();
	if (pid < 0)
		goto fail_errno;
	if (pid == 0) {
		if (c->pty)
			chan_child(st[1], 1, slave, slave, slave, path, argv,
			    env, home);
		chan_child(st[1], 0, in[0], out[1], err[1], path, argv, env,
		    home);
	}
	c->pid = pid;
	close(st[1]);
	c->start_fd = st[0];
	if (c->pty) {
		close(slave);
		c->out_fd = master;
		/* A pty has one output stream: no EOF 2 is ever sent. */
		c->err_eof = 1;
		c->err_eof_sent = 1;
	} else {
		close(in[0]);
		close(out[1]);
		close(err[1]);
		c->in_fd = in[1];
		c->out_fd = out[0];
		c->err_fd = err[0];
	}
	if (chan_set_nonblock(c->start_fd) < 0 || chan_set_nonblock(c->out_fd) < 0 ||
	    (c->in_fd >= 0 && chan_set_nonblock(c->in_fd) < 0) ||
	    (c->err_fd >= 0 && chan_set_nonblock(c->err_fd) < 0)) {
		/* Cannot happen for fresh pipes; the loop must not block. */
		r = -errno;
		chan_kill_group(pid, SIGKILL);
		return r;
	}
	return 0;
fail_errno:
	r = -errno;
	chan_closefd(&st[0]);
	chan_closefd(&st[1]);
	chan_closefd(&in[0]);
	chan_closefd(&in[1]);
	chan_closefd(&out[0]);
	chan_closefd(&out[1]);
	chan_closefd(&err[0]);
	chan_closefd(&err[1]);
	chan_closefd(&master);
	chan_closefd(&slave);
	return r;
}

/* Reads the status pipe of a starting process: EOF means exec worked. */
static void
chan_exec_status(struct ag_chan *c)
{
	struct chan_status st;
	ssize_t n;

	n = read(c->start_fd, &st, sizeof(st));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	chan_closefd(&c->start_fd);
	if (n == (ssize_t)sizeof(st)) {
		if (st.stage == CHAN_STAGE_EXEC)
			chan_fail(c, st.err, "cannot execute %s: %s", c->what,
			    strerror(st.err));
		else
			chan_fail(c, st.err, "cannot set up the process for "
			    "%s: %s", c->what, strerror(st.err));
		return;
	}
	c->state = CH_OPEN;
}

/* Child side of a TCP name lookup: writes the addresses (or the error) to
 * fd in one write and exits. */
static void __attribute__((noreturn))
chan_lookup_child(int fd, const char *host)
{
	struct chan_addr a[CHAN_MAX_ADDRS];
	struct addrinfo hints, *res = NULL, *ai;
	size_t n = 0;
	ssize_t w;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	memset(a, 0, sizeof(a));
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0) {
		a[0].scope = (uint32_t)r;
		n = 1;
	}
	for (ai = r == 0 ? res : NULL; ai != NULL && n < CHAN_MAX_ADDRS;
	    ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *s = (const void *)ai->ai_addr;

			a[n].family = 4;
			memcpy(a[n].addr, &s->sin_addr, 4);
			n++;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *s = (const void *)ai->ai_addr;

			a[n].family = 6;
			a[n].scope = s->sin6_scope_id;
			memcpy(a[n].addr, &s->sin6_addr, 16);
			n++;
		}
	}
	if (n == 0) {
		a[0].scope = (uint32_t)EAI_NONAME;
		n = 1;
	}
	w = write(fd, a, n * sizeof(a[0]));
	(void)w;
	_exit(0);
}

/* Tries the next address of a TCP channel until a connect is in progress
 * or done; fails the channel when none is left. */
static void
chan_connect_next(struct ag_chan *c, int last_err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	chan_closefd(&c->out_fd);
	c->connecting = 0;
	while (c->next_addr < c->naddrs) {
		const struct chan_addr *a = &c->addrs[c->next_addr++];

		memset(&ss, 0, sizeof(ss));
		if (a->family == 4) {
			struct sockaddr_in *s = (struct sockaddr_in *)&ss;

			s->sin_family = AF_INET;
			s->sin_port = htons(c->port);
			memcpy(&s->sin_addr, a->addr, 4);
			len = sizeof(*s);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

			s->sin6_family = AF_INET6;
			s->sin6_port = htons(c->port);
			s->sin6_scope_id = a->scope;
			memcpy(&s->sin6_addr, a->addr, 16);
			len = sizeof(*s);
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last_err = errno;
			continue;
		}
		if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
			c->out_fd = fd;
			c->state = CH_OPEN;
			return;
		}
		if (errno == EINPROGRESS) {
			c->out_fd = fd;
			c->connecting = 1;
			return;
		}
		last_err = errno;
		close(fd);
	}
	chan_fail(c, last_err, "cannot connect to %s: %s", c->what,
	    strerror(last_err));
}

/* Reads the name lookup's answer and starts connecting. */
static void
chan_lookup_result(struct ag_chan *c)
{
	ssize_t n;
	size_t i;

	n = read(c->start_fd, c->addrs, sizeof(c->addrs));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	chan_closefd(&c->start_fd);
	if (n <= 0 || n % (ssize_t)sizeof(c->addrs[0]) != 0) {
		chan_fail(c, EHOSTUNREACH, "cannot look up %s: the lookup "
		    "failed", c->what);
		return;
	}
	c->naddrs = (size_t)n / sizeof(c->addrs[0]);
	if (c->addrs[0].family == 0) {
		chan_fail(c, EHOSTUNREACH, "cannot look up %s: %s", c->what,
		    gai_strerror((int)c->addrs[0].scope));
		return;
	}
	for (i = 0; i < c->naddrs; i++)
		if (c->addrs[i].family != 4 && c->addrs[i].family != 6)
			c->naddrs = i;	/* not from our child: stop there */
	chan_connect_next(c, EHOSTUNREACH);
}

/* Starts a TCP channel: numeric hosts (and localhost) connect at once;
 * names are looked up in a child so a slow resolver never stalls the
 * agent's loop. */
static int
chan_open_tcp(struct ag_chan *c, const struct sg_open *o)
{
	struct addrinfo hints, *res = NULL, *ai;
	int p[2];
	pid_t pid;

	c->port = o->port;
	if (asprintf(&c->what, "%s port %u", o->host, (unsigned)o->port) < 0) {
		c->what = NULL;
		return -ENOMEM;
	}
	if (strcmp(o->host, "localhost") == 0) {
		c->addrs[0].family = 4;
		memcpy(c->addrs[0].addr, "\x7f\0\0\x01", 4);
		c->addrs[1].family = 6;
		c->addrs[1].addr[15] = 1;
		c->naddrs = 2;
		chan_connect_next(c, ECONNREFUSED);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(o->host, NULL, &hints, &res) == 0) {
		for (ai = res; ai != NULL && c->naddrs < CHAN_MAX_ADDRS;
		    ai = ai->ai_next) {
			struct chan_addr *a = &c->addrs[c->naddrs];

			if (ai->ai_family == AF_INET) {
				a->family = 4;
				memcpy(a->addr, &((struct sockaddr_in *)
				    (void *)ai->ai_addr)->sin_addr, 4);
				c->naddrs++;
			} else if (ai->ai_family == AF_INET6) {
				struct sockaddr_in6 *s6 = (void *)ai->ai_addr;

				a->family = 6;
				a->scope = s6->sin6_scope_id;
				memcpy(a->addr, &s6->sin6_addr, 16);
				c->naddrs++;
			}
		}
		freeaddrinfo(res);
		chan_connect_next(c, EHOSTUNREACH);
		return 0;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		/* Hold no other channel's pipe open while the lookup runs. */
		close_range(3, (unsigned)p[1] - 1, 0);
		close_range((unsigned)p[1] + 1, ~0u, 0);
		chan_lookup_child(p[1], o->host);
	}
	close(p[1]);
	c->helper = pid;
	c->start_fd = p[0];
	if (chan_set_nonblock(c->start_fd) < 0)
		return -errno;
	return 0;
}

/* Finds the sftp server of this image. */
static const char *
chan_find_sftp(void)
{
	size_t i;

	for (i = 0; i < sizeof(chan_sftp_servers) / sizeof(chan_sftp_servers[0]); i++)
		if (access(chan_sftp_servers[i], X_OK) == 0)
			return chan_sftp_servers[i];
	return NULL;
}

/* Starts a process or subsystem channel. Failures that the host should
 * see become CH_FAILED; only -ENOMEM is returned. */
static int
chan_open_process(struct ag_chan *c, const struct sg_open *o,
    const struct ag_conf *conf)
{
	const char *shell = ag_conf_shell(conf), *path, *base;
	char *argv3[4] = { NULL, NULL, NULL, NULL };
	char *const *argv;
	char *login = NULL;
	char **env = NULL;
	int r;

	if (o->kind == SG_OPEN_SUBSYSTEM) {
		if (strcmp(o->subsystem, "sftp") != 0) {
			chan_fail(c, ENOENT, "unknown subsystem \"%s\"",
			    o->subsystem);
			return 0;
		}
		path = chan_find_sftp();
		if (path == NULL) {
			chan_fail(c, ENOENT, "this image has no sftp-server");
			return 0;
		}
		argv3[0] = (char *)path;
		argv = argv3;
	} else if (o->argc > 0) {
		path = o->argv[0];
		argv = o->argv;
	} else if (o->cmd != NULL) {
		path = shell;
		argv3[0] = (char *)shell;
		argv3[1] = (char *)"-c";
		argv3[2] = o->cmd;
		argv = argv3;
	} else {
		/* A login shell: argv[0] is "-" and the shell's name. */
		path = shell;
		base = strrchr(shell, '/');
		base = base != NULL ? base + 1 : shell;
		if (asprintf(&login, "-%s", base) < 0) {
			login = NULL;
			return -ENOMEM;
		}
		argv3[0] = login;
		argv = argv3;
	}
	c->what = strdup(path);
	if (c->what == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = ag_conf_env(conf, o->env, o->envc, c->pty ? o->term : NULL, &env);
	if (r == -E2BIG) {
		chan_fail(c, E2BIG, "too many environment variables");
		r = 0;
		goto out;
	}
	if (r < 0)
		goto out;
	r = chan_spawn(c, path, argv, env, ag_conf_home(conf), o->rows,
	    o->cols);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		chan_fail(c, -r, "cannot start %s: %s", path, strerror(-r));
		r = 0;
	}
out:
	ag_conf_env_free(env);
	free(login);
	return r;
}

int
ag_chan_open(uint32_t id, const struct sg_open *o, const struct ag_conf *conf,
    struct ag_chan **ret)
{
	struct ag_chan *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->id = id;
	c->kind = o->kind;
	c->pty = (o->flags & SG_OPEN_F_PTY) != 0;
	c->state = CH_STARTING;
	c->start_fd = c->in_fd = c->out_fd = c->err_fd = -1;
	c->credit = o->credit;
	c->inbuf = sg_buf_new(AG_CHAN_WINDOW);
	if (c->inbuf == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if (o->kind == SG_OPEN_TCP) {
		c->err_eof = 1;	/* one stream each way */
		r = chan_open_tcp(c, o);
		if (r == -ENOMEM)
			goto fail;
		if (r < 0)
			chan_fail(c, -r, "cannot connect to %s: %s",
			    c->what != NULL ? c->what : o->host, strerror(-r));
	} else {
		r = chan_open_process(c, o, conf);
		if (r < 0)
			goto fail;
	}
	*ret = c;
	return 0;
fail:
	ag_chan_free(c);
	return r;
}

void
ag_chan_free(struct ag_chan *c)
{
	if (c == NULL)
		return;
	chan_closefd(&c->start_fd);
	chan_closefd(&c->in_fd);
	chan_closefd(&c->out_fd);
	chan_closefd(&c->err_fd);
	sg_buf_free(c->inbuf);
	free(c->what);
	free(c);
}

void
ag_chan_kill(struct ag_chan *c)
{
	if (c->pid > 0 && !c->reaped)
		chan_kill_group(c->pid, SIGKILL);
	if (c->helper > 0)
		kill(c->helper, SIGKILL);
}

uint32_t
ag_chan_id(const struct ag_chan *c)
{
	return c->id;
}

int
ag_chan_poll(struct ag_chan *c, struct ag_poll *p, int out_room)
{
	int can_send = out_room && c->credit > 0 && c->ok_sent;
	int sfd = chan_stdin_fd(c);
	short wev = 0;

	c->start_idx = c->in_idx = c->out_idx = c->err_idx = c->wr_idx = -1;
	if (c->close_rcvd || c->close_sent)
		return 0;
	if (c->state == CH_STARTING) {
		c->start_idx = ag_poll_add(p, c->start_fd, POLLIN);
		if (c->connecting)
			c->wr_idx = ag_poll_add(p, c->out_fd, POLLOUT);
		return c->start_idx == -ENOMEM || c->wr_idx == -ENOMEM ?
		    -ENOMEM : 0;
	}
	if (c->state != CH_OPEN)
		return 0;
	if (can_send && !c->out_eof)
		c->out_idx = ag_poll_add(p, c->out_fd, POLLIN);
	if (can_send && !c->err_eof)
		c->err_idx = ag_poll_add(p, c->err_fd, POLLIN);
	if (!c->in_broken && (sg_buf_len(c->inbuf) > 0 ||
	    (c->pty && c->in_eof && !c->in_done)))
		wev = POLLOUT;
	if (sfd == c->in_fd)
		c->in_idx = ag_poll_add(p, sfd, wev);
	else
		c->wr_idx = ag_poll_add(p, sfd, wev);
	if (c->out_idx == -ENOMEM || c->err_idx == -ENOMEM ||
	    c->in_idx == -ENOMEM || c->wr_idx == -ENOMEM)
		return -ENOMEM;
	return 0;
}

/* The process stopped reading stdin: drop what is buffered and re-grant
 * it, and everything that still arrives, so the host is never stuck. */
static void
chan_stdin_broken(struct ag_chan *c)
{
	c->in_broken = 1;
	c->ungranted += (uint32_t)sg_buf_len(c->inbuf);
	sg_buf_reset(c->inbuf);
	chan_closefd(&c->in_fd);
}

/* Writes buffered stdin to the process. */
static void
chan_write_stdin(struct ag_chan *c)
{
	int fd = chan_stdin_fd(c);
	ssize_t n;

	if (fd < 0 || c->in_broken || sg_buf_len(c->inbuf) == 0)
		return;
	n = sg_buf_write_fd(c->inbuf, fd);
	if (n > 0) {
		c->ungranted += (uint32_t)n;
		return;
	}
	if (n == -EAGAIN || n == 0)
		return;
	chan_stdin_broken(c);
}

/* The host has sent EOF and all stdin is written: tell the process. */
static void
chan_close_stdin(struct ag_chan *c)
{
	ssize_t w;

	if (c->in_done || !c->in_eof || sg_buf_len(c->inbuf) > 0)
		return;
	if (c->in_broken) {
		c->in_done = 1;
		return;
	}
	if (c->in_fd >= 0) {
		chan_closefd(&c->in_fd);
	} else if (c->kind == SG_OPEN_TCP) {
		if (c->out_fd >= 0)
			shutdown(c->out_fd, SHUT_WR);
	} else if (c->pty && c->out_fd >= 0) {
		/* A pty has no end of input: send the EOF character, as
		 * sshd does, for a reader in canonical mode. */
		w = write(c->out_fd, "\x04", 1);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
	}
	c->in_done = 1;
}

/* Marks a stream finished and closes its descriptor when it is not
 * shared with stdin. */
static void
chan_stream_eof(struct ag_chan *c, uint8_t stream)
{
	if (stream == SG_STREAM_STDERR) {
		c->err_eof = 1;
		chan_closefd(&c->err_fd);
		return;
	}
	c->out_eof = 1;
	if (c->kind == SG_OPEN_TCP)
		return;	/* the socket still takes data the other way */
	if (c->pty) {
		c->in_broken = 1;
		sg_buf_reset(c->inbuf);
		/* Closing the master hangs the terminal up: a process that
		 * closed its stdio but has not exited yet would die of
		 * SIGHUP. Keep it until the process is reaped. */
		if (!c->reaped)
			return;
	}
	chan_closefd(&c->out_fd);
}

/* Reads once from a stream of the process within the host's credit and
 * sends it as DATA. Returns the bytes sent, 0 when nothing was there, or
 * -1 at end of stream. */
static ssize_t
chan_read_stream(struct ag_chan *c, uint8_t stream, struct sg_buf *out,
    size_t out_hwm)
{
	static uint8_t tmp[SG_PROTO_DATA_CHUNK];
	int fd = stream == SG_STREAM_STDERR ? c->err_fd : c->out_fd;
	size_t want = SG_PROTO_DATA_CHUNK;
	ssize_t n;

	if (fd < 0 || c->credit == 0 || sg_buf_len(out) >= out_hwm)
		return 0;
	if (want > c->credit)
		want = c->credit;
	n = read(fd, tmp, want);
	if (n > 0) {
		/* The output buffer has room past its high-water mark for
		 * this one frame, by construction of the session. */
		if (sg_proto_put_data(out, c->id, stream, tmp, (size_t)n) < 0) {
			sg_err("channel %u: output buffer overflow; data lost",
			    c->id);
			return 0;
		}
		c->credit -= (uint32_t)n;
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0 && errno != EIO)	/* EIO: the pty's other side is gone */
		sg_debug("channel %u: read: %s", c->id, strerror(errno));
	if (n < 0 && c->kind == SG_OPEN_TCP)
		chan_stdin_broken(c);
	chan_stream_eof(c, stream);
	return -1;
}

/* A connect in progress finished: use it or try the next address. */
static void
chan_connect_done(struct ag_chan *c)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->out_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0) {
		c->connecting = 0;
		c->state = CH_OPEN;
		return;
	}
	chan_connect_next(c, err);
}

void
ag_chan_io(struct ag_chan *c, struct ag_poll *p, struct sg_buf *out,
    size_t out_hwm)
{
	const short rd = POLLIN | POLLHUP | POLLERR;
	const short wr = POLLOUT | POLLHUP | POLLERR;

	if (c->state == CH_STARTING) {
		if (ag_poll_revents(p, c->start_idx) & rd) {
			if (c->kind == SG_OPEN_TCP)
				chan_lookup_result(c);
			else
				chan_exec_status(c);
		}
		if (c->connecting && (ag_poll_revents(p, c->wr_idx) & wr))
			chan_connect_done(c);
		return;
	}
	if (c->state != CH_OPEN)
		return;
	if ((ag_poll_revents(p, c->in_idx) & wr) ||
	    (ag_poll_revents(p, c->wr_idx) & wr)) {
		chan_write_stdin(c);
		chan_close_stdin(c);
	}
	if (ag_poll_revents(p, c->out_idx) & rd)
		chan_read_stream(c, SG_STREAM_STDOUT, out, out_hwm);
	if (ag_poll_revents(p, c->err_idx) & rd)
		chan_read_stream(c, SG_STREAM_STDERR, out, out_hwm);
}

/* The frames that end a process channel, in order. Returns 0 when all
 * that can be sent now was, -ENOBUFS to retry later. */
static int
chan_send_end(struct ag_chan *c, struct sg_buf *out)
{
	uint8_t kind, value, core = 0;
	int r;

	if (c->out_eof && !c->out_eof_sent) {
		r = sg_proto_put_eof(out, c->id, SG_STREAM_STDOUT);
		if (r < 0)
			return r;
		c->out_eof_sent = 1;
	}
	if (c->err_eof && c->out_eof_sent && !c->err_eof_sent &&
	    c->kind != SG_OPEN_TCP) {
		r = sg_proto_put_eof(out, c->id, SG_STREAM_STDERR);
		if (r < 0)
			return r;
		c->err_eof_sent = 1;
	}
	if (c->kind == SG_OPEN_TCP) {
		/* Both directions over: the remote closed, and the host's
		 * EOF was passed on (or the socket broke). */
		if (!c->out_eof_sent || !(c->in_done || c->in_broken))
			return 0;
	} else if (c->err_eof && !c->err_eof_sent) {
		return 0;
	} else if (c->reaped && c->out_eof_sent && c->err_eof_sent &&
	    !c->exit_sent) {
		if (WIFSIGNALED(c->status)) {
			kind = SG_EXIT_SIGNAL;
			value = (uint8_t)WTERMSIG(c->status);
			core = WCOREDUMP(c->status) ? 1 : 0;
		} else {
			kind = SG_EXIT_CODE;
			value = (uint8_t)WEXITSTATUS(c->status);
		}
		r = sg_proto_put_exit(out, c->id, kind, value, core);
		if (r < 0)
			return r;
		c->exit_sent = 1;
	}
	if (c->kind != SG_OPEN_TCP && !c->exit_sent)
		return 0;
	if (!c->close_sent) {
		r = sg_proto_put_close(out, c->id);
		if (r < 0)
			return r;
		c->close_sent = 1;
	}
	return 0;
}

int
ag_chan_progress(struct ag_chan *c, struct sg_buf *out, size_t out_hwm)
{
	ssize_t n;

	if (c->state == CH_STARTING && !c->close_rcvd)
		return 0;
	/* OPEN then CLOSE before the start finished: answer the OPEN
	 * (OPEN_OK, the process is ending anyway) and then the CLOSE. */
	if (c->state == CH_FAILED) {
		if (sg_proto_put_open_fail(out, c->id, (uint32_t)c->err,
		    c->msg) < 0)
			return 0;
		sg_debug("channel %u: %s", c->id, c->msg);
		return 1;
	}
	if (!c->ok_sent) {
		if (sg_proto_put_open_ok(out, c->id, AG_CHAN_WINDOW,
		    c->pid > 0 ? (uint32_t)c->pid : 0) < 0)
			return 0;
		c->ok_sent = 1;
		c->window = AG_CHAN_WINDOW;
	}
	if (c->close_rcvd) {
		/* The host is done with the channel: answer, and it is free. */
		if (!c->close_sent && sg_proto_put_close(out, c->id) < 0)
			return 0;
		return 1;
	}
	if (c->ungranted > 0 && (c->ungranted >= AG_CHAN_WINDOW / 4 ||
	    sg_buf_len(c->inbuf) == 0) && !c->close_sent) {
		if (sg_proto_put_credit(out, c->id, c->ungranted) == 0) {
			c->window += c->ungranted;
			c->ungranted = 0;
		}
	}
	chan_close_stdin(c);
	/* A pty's process has exited: send what it left in the pty, but do
	 * not wait for background processes still holding the terminal. */
	if (c->pty && c->reaped && !c->out_eof) {
		do {
			n = chan_read_stream(c, SG_STREAM_STDOUT, out, out_hwm);
		} while (n > 0);
		if (n == 0 && c->credit > 0 && sg_buf_len(out) < out_hwm)
			chan_stream_eof(c, SG_STREAM_STDOUT);
	}
	chan_send_end(c, out);
	return 0;
}

int
ag_chan_reaped(struct ag_chan *c, pid_t pid, int status)
{
	if (pid == c->helper) {
		c->helper = 0;
		return 1;
	}
	if (pid != c->pid || c->reaped)
		return 0;
	c->reaped = 1;
	c->status = status;
	if (c->pty && c->out_eof)
		chan_closefd(&c->out_fd);
	return 1;
}

int
ag_chan_data(struct ag_chan *c, uint8_t stream, const uint8_t *p, size_t n)
{
	if (c->close_sent)
		return 0;	/* crossed our CLOSE */
	if (stream != SG_STREAM_STDIN || c->in_eof || n > c->window)
		return -EPROTO;
	c->window -= (uint32_t)n;
	if (c->in_broken || c->in_done) {
		c->ungranted += (uint32_t)n;
		return 0;
	}
	/* Cannot fail: window + buffered + ungranted <= the buffer's max. */
	if (sg_buf_put(c->inbuf, p, n) < 0)
		return -EPROTO;
	return 0;
}

int
ag_chan_eof(struct ag_chan *c, uint8_t stream)
{
	if (c->close_sent)
		return 0;	/* crossed our CLOSE */
	if (stream != SG_STREAM_STDIN || !c->ok_sent || c->in_eof)
		return -EPROTO;
	c->in_eof = 1;
	return 0;
}

void
ag_chan_credit(struct ag_chan *c, uint32_t n)
{
	uint64_t sum = (uint64_t)c->credit + n;

	c->credit = sum > SG_PROTO_MAX_WINDOW ? SG_PROTO_MAX_WINDOW :
	    (uint32_t)sum;
}

void
ag_chan_resize(struct ag_chan *c, uint16_t rows, uint16_t cols,
    uint16_t xpix, uint16_t ypix)
{
	struct winsize ws = { rows, cols, xpix, ypix };

	if (c->pty && c->out_fd >= 0 && ioctl(c->out_fd, TIOCSWINSZ, &ws) < 0)
		sg_debug("channel %u: resize: %s", c->id, strerror(errno));
}

void
ag_chan_signal(struct ag_chan *c, int signo)
{
	if (c->pid > 0 && !c->reaped && kill(-c->pid, signo) < 0)
		sg_debug("channel %u: signal %d: %s", c->id, signo,
		    strerror(errno));
}

void
ag_chan_close(struct ag_chan *c, pid_t *ret_pgid)
{
	*ret_pgid = 0;
	c->close_rcvd = 1;
	if (c->pid > 0 && !c->reaped) {
		chan_kill_group(c->pid, SIGHUP);
		chan_kill_group(c->pid, SIGCONT);	/* if it was stopped */
		*ret_pgid = c->pid;
	}
	if (c->helper > 0)
		kill(c->helper, SIGKILL);
	chan_closefd(&c->start_fd);
	chan_closefd(&c->in_fd);
	chan_closefd(&c->out_fd);
	chan_closefd(&c->err_fd);
	sg_buf_reset(c->inbuf);
}
