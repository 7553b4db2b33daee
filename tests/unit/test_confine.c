/* Unit tests of common/confine.c: the system call filter (allowed,
 * denied with an errno, conditional on an argument, forbidden: the
 * report, the stderr line, the exit status), the resource limits, and
 * the report's decoding.
 *
 * A filter cannot be taken back, so every case that installs one (or
 * sets limits) runs in a child of its own. The child never calls cmocka:
 * a failed assertion there would jump back into a copy of the runner. It
 * exits with a number naming the step that failed, and the parent checks
 * its status, the report on a SOCK_SEQPACKET pair (as the monitor gets
 * it) and what it wrote on stderr. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <seccomp.h>

#include "common/confine.h"

#define N(a)	(sizeof(a) / sizeof((a)[0]))

/* The name the children give the filter, as it appears on stderr. */
#define WHO	"test-confine"

/* The uid and gid the limits case drops to when run as root, who is
 * exempt from RLIMIT_NPROC. */
#define NOBODY	65534

/* Exit statuses of the child: a part it could not check; a forbidden
 * call that returned. */
#define CHILD_SKIPPED	77
#define CHILD_RAN	20

/* What a child needs after its filter is in: a few calls of its own, the
 * C library's memory management, and the exit (always allowed). A name
 * this architecture lacks ("open" on some) is skipped, not an error. */
#define BASE_RULES \
	SG_CF("read"), SG_CF("close"), SG_CF("brk"), SG_CF("munmap"), \
	SG_CF("madvise"), SG_CF("getpid"), \
	SG_CF_DENY("openat", EACCES), SG_CF_DENY("open", EACCES), \
	SG_CF_IF("mmap", 2, ~(uint64_t)(PROT_READ | PROT_WRITE), 0)

static const struct sg_confine_rule base_rules[] = { BASE_RULES };

struct run {
	int status;		/* from waitpid */
	uint8_t report[64];
	ssize_t report_len;	/* 0: none */
	char err[1024];		/* the child's stderr */
};

typedef int (*child_fn)(int report_fd, const void *arg);

/* Runs fn(report_fd, arg) in a child whose stderr is captured, and
 * collects its exit status, what it sent on its report socket, and what
 * it wrote on stderr. */
static void
run_child(child_fn fn, const void *arg, struct run *out)
{
	int sp[2], ep[2];
	size_t k = 0;
	ssize_t n;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sp), 0);
	assert_int_equal(pipe2(ep, O_CLOEXEC), 0);
	/* nothing buffered may be written twice */
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a child that hangs is ended, rather than the suite */
		alarm(20);
		close(sp[0]);
		close(ep[0]);
		if (dup2(ep[1], STDERR_FILENO) < 0)
			_exit(2);
		_exit(fn(sp[1], arg));
	}
	close(sp[1]);
	close(ep[1]);
	assert_int_equal(waitpid(pid, &out->status, 0), pid);
	/* the child is gone: its report, if any, is queued, then EOF */
	out->report_len = recv(sp[0], out->report, sizeof(out->report),
	    MSG_DONTWAIT);
	assert_true(out->report_len >= 0);
	while (k < sizeof(out->err) - 1) {
		n = read(ep[0], out->err + k, sizeof(out->err) - 1 - k);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		k += (size_t)n;
	}
	out->err[k] = '\0';
	close(sp[0]);
	close(ep[0]);
}

/* Fails the test unless the child exited with status want. */
static void
expect_exit(const struct run *r, int want)
{
	if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == want)
		return;
	if (want == SG_CONFINE_EXIT && WIFEXITED(r->status) &&
	    WEXITSTATUS(r->status) == CHILD_RAN)
		fail_msg("a call outside the allow-list ran: is the filter's "
		    "default action SCMP_ACT_TRAP (common/confine.c)?");
	if (WIFEXITED(r->status))
		fail_msg("the child exited with %d, not %d; its stderr: %s",
		    WEXITSTATUS(r->status), want, r->err);
	if (WIFSIGNALED(r->status))
		fail_msg("the child died of signal %d (expected exit %d); its "
		    "stderr: %s", WTERMSIG(r->status), want, r->err);
	fail_msg("the child ended with status 0x%x", r->status);
}

/* In the child: installs rules; on failure prints why on stderr. */
static int
install(const struct sg_confine_rule *rules, size_t n, int fd)
{
	char *err = NULL;
	int r;

	r = sg_confine_filter(WHO, rules, n, fd, &err);
	if (r < 0)
		dprintf(STDERR_FILENO, "%s\n", err != NULL ? err : "(no message)");
	free(err);
	return r;
}

/* (a) allowed calls run, denied ones fail with their errno, mmap without
 * PROT_EXEC is let through, and nothing is reported */
static int
child_allowed(int fd, const void *arg)
{
	static const struct sg_confine_rule rules[] = {
		BASE_RULES,
		SG_CF("no_such_call_anywhere"),
	};
	long pid = syscall(SYS_getpid);
	void *p;
	int o;

	(void)arg;
	if (install(rules, N(rules), fd) < 0)
		return 10;
	if (syscall(SYS_getpid) != pid)
		return 11;
	errno = 0;
	o = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (o != -1 || errno != EACCES)
		return 12;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return 13;
	memset(p, 0x5a, 4096);
	if (munmap(p, 4096) < 0)
		return 14;
	p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, 4096) < 0)
		return 15;
	return 0;
}

static void
test_allowed_and_denied(void **state)
{
	struct run r;

	(void)state;
	run_child(child_allowed, NULL, &r);
	expect_exit(&r, 0);
	assert_int_equal(r.report_len, 0);
	assert_string_equal(r.err, "");
}

/* A call no rule names: the number to make, its name, its arguments
 * (harmless should the filter let it run). */
struct forbidden {
	long nr;
	const char *name;
	long a0, a1, a2;
};

/* (b) a forbidden call is never made: the child is stopped */
static int
child_forbidden(int fd, const void *arg)
{
	const struct forbidden *f = arg;

	if (install(base_rules, N(base_rules), fd) < 0)
		return 10;
	syscall(f->nr, f->a0, f->a1, f->a2);
	return CHILD_RAN;
}

/* Checks a run stopped by its filter in system call nr: exit status,
 * the report, the stderr line. */
static void
expect_stopped(const struct run *r, long nr, const char *name)
{
	uint32_t got_nr = 0, arch = 0;
	char buf[64], line[160];

	expect_exit(r, SG_CONFINE_EXIT);
	assert_int_equal(r->report_len, SG_CONFINE_REPORT_LEN);
	assert_int_equal(r->report[0], SG_CONFINE_REPORT);
	assert_int_equal(sg_confine_report_parse(r->report,
	    (size_t)r->report_len, &got_nr, &arch), 0);
	assert_int_equal(got_nr, nr);
	/* the kernel's audit arch of the call: this process's own */
	assert_int_equal(arch, seccomp_arch_native());
	assert_string_equal(sg_confine_syscall_name(got_nr, arch, buf,
	    sizeof(buf)), name);
	snprintf(line, sizeof(line), WHO ": forbidden system call %ld: "
	    "stopped by its filter\n", nr);
	assert_string_equal(r->err, line);
}

static void
test_forbidden(void **state)
{
	static const struct forbidden calls[] = {
		{ SYS_getppid, "getppid", 0, 0, 0 },
		{ SYS_socket, "socket", AF_UNIX, SOCK_STREAM, 0 },
		{ SYS_getuid, "getuid", 0, 0, 0 },
		/* a NULL path: EFAULT, were it let through */
		{ SYS_execve, "execve", 0, 0, 0 },
	};
	struct run r;
	size_t i;

	(void)state;
	for (i = 0; i < N(calls); i++) {
		run_child(child_forbidden, &calls[i], &r);
		expect_stopped(&r, calls[i].nr, calls[i].name);
	}
}

/* (c) executable memory is refused by the argument condition; the
 * report socket is given after the filter */
static int
child_mmap_exec(int fd, const void *arg)
{
	void *p;

	(void)arg;
	if (install(base_rules, N(base_rules), -1) < 0)
		return 10;
	sg_confine_report_to(fd);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return 11;
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	return CHILD_RAN;
}

static void
test_mmap_exec(void **state)
{
	struct run r;

	(void)state;
	run_child(child_mmap_exec, NULL, &r);
	expect_stopped(&r, SYS_mmap, "mmap");
}

/* two conditions: both must hold (getpriority(PRIO_PROCESS, 0) passes,
 * getpriority(PRIO_PROCESS, 1) and getpriority(PRIO_USER, 0) do not) */
static int
child_two_conditions(int fd, const void *arg)
{
	static const struct sg_confine_rule rules[] = {
		BASE_RULES,
		SG_CF_IF2("getpriority", 0, ~0u, PRIO_PROCESS, 1, ~0u, 0),
	};
	int which = *(const int *)arg;

	if (install(rules, N(rules), fd) < 0)
		return 10;
	errno = 0;
	if (syscall(SYS_getpriority, PRIO_PROCESS, 0) < 0 && errno != 0)
		return 11;
	if (which == 1)
		syscall(SYS_getpriority, PRIO_PROCESS, 1);
	else
		syscall(SYS_getpriority, PRIO_USER, 0);
	return CHILD_RAN;
}

static void
test_two_conditions(void **state)
{
	struct run r;
	int which;

	(void)state;
	which = 1;
	run_child(child_two_conditions, &which, &r);
	expect_stopped(&r, SYS_getpriority, "getpriority");
	which = 2;
	run_child(child_two_conditions, &which, &r);
	expect_stopped(&r, SYS_getpriority, "getpriority");
}

/* without a report socket the child is stopped all the same */
static int
child_no_report(int fd, const void *arg)
{
	(void)arg;
	(void)fd;
	if (install(base_rules, N(base_rules), -1) < 0)
		return 10;
	syscall(SYS_getppid);
	return CHILD_RAN;
}

static void
test_no_report_fd(void **state)
{
	struct run r;

	(void)state;
	run_child(child_no_report, NULL, &r);
	expect_exit(&r, SG_CONFINE_EXIT);
	assert_int_equal(r.report_len, 0);
	assert_non_null(strstr(r.err, "forbidden system call"));
}

/* a filter that cannot be built is refused with a message naming the
 * rule, and nothing is installed */
static int
child_bad_rules(int fd, const void *arg)
{
	static const struct sg_confine_rule rules[] = {
		BASE_RULES,
		/* system calls have six arguments, 0..5 */
		SG_CF_IF("getppid", 6, 1, 0),
	};
	char *err = NULL;
	int r;

	(void)arg;
	r = sg_confine_filter(WHO, rules, N(rules), fd, &err);
	if (r != -EINVAL)
		return 30;
	if (err == NULL || strcmp(err, WHO ": cannot install the system call "
	    "filter (getppid): Invalid argument") != 0) {
		dprintf(STDERR_FILENO, "%s\n", err != NULL ? err : "(none)");
		return 31;
	}
	free(err);
	/* no filter: a call outside the list runs */
	if (syscall(SYS_getppid) < 0)
		return 32;
	return 0;
}

static void
test_bad_rules(void **state)
{
	struct run r;

	(void)state;
	run_child(child_bad_rules, NULL, &r);
	expect_exit(&r, 0);
	assert_int_equal(r.report_len, 0);
}

/* (d) the limits: no core, no new process, a few descriptors, no byte
 * written to a file */
static int
child_limits(int fd, const void *arg)
{
	char path[] = "/tmp/sg-test-confine.XXXXXX";
	const char *what = "unset";
	struct rlimit rl;
	int tfd, nproc = 1;
	pid_t pid;

	(void)fd;
	(void)arg;
	tfd = mkostemp(path, O_CLOEXEC);
	if (tfd < 0)
		return 30;
	unlink(path);
	/* root is exempt from RLIMIT_NPROC: check it as nobody */
	if (geteuid() == 0 && (setgroups(0, NULL) < 0 ||
	    setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) < 0))
		nproc = 0;
	if (sg_confine_limits(16, 1, &what) < 0)
		return 31;
	if (what != NULL)
		return 32;
	if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0 ||
	    rl.rlim_max != 0)
		return 33;
	if (getrlimit(RLIMIT_NPROC, &rl) < 0 || rl.rlim_cur != 0 ||
	    rl.rlim_max != 0)
		return 34;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != 16 ||
	    rl.rlim_max != 16)
		return 35;
	if (getrlimit(RLIMIT_FSIZE, &rl) < 0 || rl.rlim_cur != 0 ||
	    rl.rlim_max != 0)
		return 36;
	/* fails rather than kills (SIGXFSZ is ignored) */
	errno = 0;
	if (write(tfd, "x", 1) != -1 || errno != EFBIG)
		return 37;
	/* no descriptor at 16 or above */
	errno = 0;
	if (fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 16) != -1 || errno != EINVAL)
		return 38;
	close(tfd);
	if (!nproc)
		return CHILD_SKIPPED;
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0) {
		waitpid(pid, NULL, 0);
		return 39;
	}
	if (errno != EAGAIN)
		return 40;
	return 0;
}

static void
test_limits(void **state)
{
	struct run r;

	(void)state;
	run_child(child_limits, NULL, &r);
	if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == CHILD_SKIPPED) {
		print_message("RLIMIT_NPROC not checked: cannot become uid %d\n",
		    NOBODY);
		return;
	}
	expect_exit(&r, 0);
	assert_int_equal(r.report_len, 0);
}

/* (e) the report as the monitor decodes it */
static void
test_report_parse(void **state)
{
	uint8_t m[16] = { SG_CONFINE_REPORT, 1, 2, 3, 4, 0xc0, 0, 0, 0x3e };
	uint32_t nr = 7, arch = 7;
	char buf[64];

	(void)state;
	assert_int_equal(sg_confine_report_parse(m, 9, &nr, &arch), 0);
	assert_int_equal(nr, 0x01020304);
	assert_int_equal(arch, 0xc000003e);
	/* wrong length or type: refused, outputs untouched */
	nr = 7;
	arch = 7;
	assert_int_equal(sg_confine_report_parse(m, 8, &nr, &arch), -EPROTO);
	assert_int_equal(sg_confine_report_parse(m, 10, &nr, &arch), -EPROTO);
	assert_int_equal(sg_confine_report_parse(m, 1, &nr, &arch), -EPROTO);
	assert_int_equal(sg_confine_report_parse(m, 0, &nr, &arch), -EPROTO);
	m[0] = 125;	/* SG_MP_LOG */
	assert_int_equal(sg_confine_report_parse(m, 9, &nr, &arch), -EPROTO);
	m[0] = 0;
	assert_int_equal(sg_confine_report_parse(m, 9, &nr, &arch), -EPROTO);
	assert_int_equal(nr, 7);
	assert_int_equal(arch, 7);

	/* names, for the monitor's log line */
	assert_string_equal(sg_confine_syscall_name(SYS_getppid,
	    seccomp_arch_native(), buf, sizeof(buf)), "getppid");
	assert_string_equal(sg_confine_syscall_name(SYS_openat,
	    seccomp_arch_native(), buf, sizeof(buf)), "openat");
	assert_string_equal(sg_confine_syscall_name(99999,
	    seccomp_arch_native(), buf, sizeof(buf)), "unknown");
	/* an architecture libseccomp does not know */
	assert_string_equal(sg_confine_syscall_name(SYS_getppid, 0x7fff1234,
	    buf, sizeof(buf)), "unknown");
	/* cut to the buffer, still terminated */
	assert_string_equal(sg_confine_syscall_name(SYS_getppid,
	    seccomp_arch_native(), buf, 4), "get");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_and_denied),
		cmocka_unit_test(test_forbidden),
		cmocka_unit_test(test_mmap_exec),
		cmocka_unit_test(test_two_conditions),
		cmocka_unit_test(test_no_report_fd),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_report_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
