/* sandgate-agent: the guest side of sandgate, PID 1 in the sandbox VM.
 *
 * As PID 1 it first does the work of an init (agent/init.c), then serves
 * the host over virtio-serial or vsock (agent/xport.c) with the protocol
 * session (agent/sess.c). It reaps every child, and never exits: a fatal
 * error powers the guest off. Run as an ordinary process (tests) it skips
 * the init steps and leaves the machine's settings alone. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "agent/conf.h"
#include "agent/init.h"
#include "agent/poll.h"
#include "agent/sess.h"
#include "agent/xport.h"
#include "common/log.h"

struct agent {
	int pid1;
	int sigfd;
	struct ag_conf *conf;
	struct ag_xport *xport;
	struct ag_sess *sess;
	struct ag_poll *poll;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: sandgate-agent [--port PATH] [--listen-unix PATH] [--debug]\n"
	    "       sandgate-agent --version\n"
	    "Runs as PID 1 in a sandgate guest; see sandgate-agent(8).\n");
}

/* 1 when word is one of init's arguments: the kernel passes the words of
 * its command line that it does not know (and that have no '.' or '=')
 * to init, so "sandgate_debug" there turns on debug logging. */
static int
cmdline_has(int argc, char **argv, const char *word)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], word) == 0)
			return 1;
	return 0;
}

/* Raises the descriptor limit to its maximum: each channel holds up to
 * four descriptors. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* SIGCHLD (and, when not PID 1, SIGTERM/SIGINT/SIGHUP) go to a signalfd;
 * SIGPIPE is ignored (a closed stream shows as EPIPE). */
static int
setup_signals(struct agent *a)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (!a->pid1) {
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGHUP);
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return a->sigfd < 0 ? -errno : 0;
}

/* Drains the signalfd and reaps every exited child. Returns 1 when the
 * agent was asked to stop (not PID 1), else 0. */
static int
handle_signals(struct agent *a)
{
	struct signalfd_siginfo si;
	int stop = 0, status;
	pid_t pid;

	while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo != SIGCHLD)
			stop = 1;
	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		ag_sess_reaped(a->sess, pid, status);
	}
	return stop;
}

static int
run(struct agent *a)
{
	int64_t now, resume;
	int sig_idx, r, fd;

	ag_sess_attach(a->sess, ag_xport_current(a->xport));
	for (;;) {
		now = sg_mono_ms();
		ag_poll_reset(a->poll);
		sig_idx = ag_poll_add(a->poll, a->sigfd, POLLIN);
		if (sig_idx < 0)
			return sig_idx;
		r = ag_xport_poll(a->xport, a->poll);
		if (r == 0)
			r = ag_sess_poll(a->sess, a->poll, now);
		if (r < 0)
			return r;
		r = ag_poll_wait(a->poll);
		if (r < 0)
			return r;
		now = sg_mono_ms();
		if ((ag_poll_revents(a->poll, sig_idx) & POLLIN) &&
		    handle_signals(a))
			return 0;
		r = ag_sess_run(a->sess, a->poll, now);
		if (r == -ETIME) {
			/* the sandbox's lifetime is over and the host could
			 * not end it itself (its shim or sandgated asked) */
			ag_sess_kill_all(a->sess);
			if (a->pid1)
				ag_init_poweroff("the host's power-off deadline "
				    "passed");
			sg_info("the host's power-off deadline passed: exiting");
			return 0;
		}
		if (r == -EPIPE) {
			fd = ag_xport_current(a->xport);
			if (ag_xport_lost(a->xport, fd, now, &resume))
				ag_sess_attach(a->sess,
				    ag_xport_current(a->xport));
			else
				ag_sess_pause(a->sess, resume);
		} else if (r == -EPROTO) {
			fd = ag_xport_current(a->xport);
			if (ag_xport_close_conn(a->xport, fd, now))
				ag_sess_attach(a->sess,
				    ag_xport_current(a->xport));
		} else if (r < 0) {
			return r;
		}
		r = ag_xport_run(a->xport, a->poll, now);
		if (r < 0)
			return r;
		if (r > 0)
			ag_sess_attach(a->sess, ag_xport_current(a->xport));
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "listen-unix", required_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ag_xport_opts xo = { NULL, NULL, 0 };
	struct agent a = { .sigfd = -1 };
	int debug = 0, c, r;
	int64_t start;

	start = sg_mono_ms();
	a.pid1 = getpid() == 1;
	/* The kernel passes unknown command-line words to init as
	 * arguments; PID 1 must not stop over them. */
	while (!a.pid1) {
		c = getopt_long(argc, argv, "p:l:dVh", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'p':
			xo.port_path = optarg;
			break;
		case 'l':
			xo.listen_unix = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'V':
			printf("sandgate-agent %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!a.pid1 && optind < argc) {
		usage(stderr);
		return 2;
	}
	if (a.pid1 && cmdline_has(argc, argv, "sandgate_debug"))
		debug = 1;
	sg_log_init("sandgate-agent", debug ? SG_LOG_DEBUG : SG_LOG_INFO);
	if (a.pid1) {
		ag_init_system();
	} else {
		ag_init_std_fds();
		/* Orphans of our processes come back to us, as in the guest. */
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	}
	xo.search = xo.port_path == NULL && xo.listen_unix == NULL;
	raise_nofile();
	r = setup_signals(&a);
	if (r < 0) {
		sg_err("cannot set up signals: %s", strerror(-r));
		goto fail;
	}
	r = ag_conf_new(a.pid1, &a.conf);
	if (r == 0)
		r = ag_poll_new(&a.poll);
	if (r == 0)
		r = ag_sess_new(a.conf, &a.sess);
	if (r < 0) {
		sg_err("cannot start: %s", strerror(-r));
		goto fail;
	}
	r = ag_xport_new(&xo, &a.xport);
	if (r < 0)
		goto fail;
	sg_info("sandgate-agent %s ready%s", PACKAGE_VERSION,
	    a.pid1 ? " (PID 1)" : "");
	sg_debug("started at %lld ms, ready at %lld ms (CLOCK_MONOTONIC)",
	    (long long)start, (long long)sg_mono_ms());
	r = run(&a);
	if (r < 0)
		sg_err("main loop: %s", strerror(-r));
fail:
	if (a.pid1)
		ag_init_poweroff("the agent cannot continue");
	ag_sess_free(a.sess);
	ag_xport_free(a.xport);
	ag_poll_free(a.poll);
	ag_conf_free(a.conf);
	if (a.sigfd >= 0)
		close(a.sigfd);
	return r < 0 ? 1 : 0;
}
