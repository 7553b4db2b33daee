/* sg_spawn: starting a helper of the monitor; see spawn.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/text.h"
#include "gateway/spawn.h"

/* What the child reports when it cannot run the program: the step and
 * errno, on the close-on-exec pipe. */
enum { SPAWN_FDS = 1, SPAWN_USER, SPAWN_EXEC };

static void __attribute__((noreturn))
spawn_fail(int efd, int step)
{
	int msg[2] = { step, errno };

	(void)!write(efd, msg, sizeof(msg));
	_exit(step == SPAWN_EXEC ? 127 : 126);
}

/* In the forked child: async-signal-safe calls only (the monitor has
 * threads). fds: listener, feed, rendezvous or -1 (they become 3, 4, 5)
 * and the error pipe. jenv: "JOURNAL_STREAM=..." or "". */
static void __attribute__((noreturn))
spawn_child(const struct sg_spawn *sp, const struct passwd *pw,
    const char *jenv, const int fds[4])
{
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	    NULL, NULL };
	sigset_t none;
	int a, f, v = -1, e;

	/* its log lines keep their priority under journald (sg_log) */
	if (jenv[0] != '\0')
		envp[1] = (char *)jenv;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	a = fcntl(fds[0], F_DUPFD, 10);
	f = fcntl(fds[1], F_DUPFD, 10);
	if (fds[2] >= 0)
		v = fcntl(fds[2], F_DUPFD, 10);
	e = fcntl(fds[3], F_DUPFD_CLOEXEC, 10);
	if (e < 0)
		_exit(126);
	if (a < 0 || f < 0 || (fds[2] >= 0 && v < 0) || dup2(a, 3) < 0 ||
	    dup2(f, 4) < 0 || (v >= 0 && dup2(v, 5) < 0))
		spawn_fail(e, SPAWN_FDS);
	if (e != 6 && (dup3(e, 6, O_CLOEXEC) < 0))
		spawn_fail(e, SPAWN_FDS);
	if (v < 0)
		close(5);
	close_range(7, ~0U, 0);
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0 || setuid(0) == 0)
		spawn_fail(6, SPAWN_USER);
	execve(sp->program, sp->argv, envp);
	spawn_fail(6, SPAWN_EXEC);
}

/* 0 once the program runs (the pipe closed on exec), or the reason the
 * child could not run it; the child is reaped then. */
static int
spawn_result(int efd, const struct sg_spawn *sp, pid_t pid, char **ret_err)
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
		    sp->user, strerror(msg[1]));
	case SPAWN_EXEC:
		return sg_fail(ret_err, -msg[1], "cannot run %s as user %s: %s "
		    "(the program and every directory above it must be "
		    "readable and searchable by %s; check [%s] program)",
		    sp->program, sp->user, strerror(msg[1]), sp->user,
		    sp->section);
	default:
		return sg_fail(ret_err, -msg[1], "cannot set up its descriptors: "
		    "%s", strerror(msg[1]));
	}
}

int
sg_spawn_helper(const struct sg_spawn *sp, pid_t *ret_pid, int *ret_fd,
    char **ret_err)
{
	struct passwd *pw;
	char jenv[128] = "";
	const char *js = getenv("JOURNAL_STREAM");
	int sv[2], ep[2], r;
	pid_t pid;

	if (js != NULL)
		snprintf(jenv, sizeof(jenv), "JOURNAL_STREAM=%s", js);
	pw = getpwnam(sp->user);
	if (pw == NULL || pw->pw_uid == 0)
		return sg_fail(ret_err, -ENOENT, "[%s] user %s %s: create it "
		    "(useradd --system --no-create-home --home-dir /nonexistent "
		    "--shell /usr/sbin/nologin %s)", sp->section, sp->user,
		    pw == NULL ? "does not exist" : "is root", sp->user);
	if (access(sp->program, X_OK) < 0)
		return sg_fail(ret_err, -errno, "[%s] program %s: %s",
		    sp->section, sp->program, strerror(errno));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return sg_fail(ret_err, -errno, "socketpair: %s", strerror(errno));
	/* the child's reason, should it fail before the program runs: the
	 * pipe closes on exec (posix_spawn's way) */
	if (pipe2(ep, O_CLOEXEC) < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return sg_fail(ret_err, r, "pipe: %s", strerror(-r));
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		close(ep[0]);
		close(ep[1]);
		return sg_fail(ret_err, r, "fork: %s", strerror(-r));
	}
	if (pid == 0)
		spawn_child(sp, pw, jenv, (int[]){ sp->listen_fd, sv[1],
		    sp->rdv_fd, ep[1] });
	close(sv[1]);
	close(ep[1]);
	r = spawn_result(ep[0], sp, pid, ret_err);
	close(ep[0]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	*ret_pid = pid;
	*ret_fd = sv[0];
	return 0;
}
