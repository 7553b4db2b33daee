/* sg_confine: see confine.h. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <seccomp.h>

#include "common/confine.h"

static volatile sig_atomic_t report_fd = -1;
static const char *report_who = "sandgate";

#if defined(__SANITIZE_ADDRESS__)
#define SG_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SG_SANITIZED 1
#endif
#endif

/* What every filter allows: the report and the way out. */
static const char *const always[] = {
	"rt_sigreturn", "exit_group", "exit", "sendto", "write",
};

#ifdef SG_SANITIZED
/* ASan, UBSan and LeakSanitizer at run time and at exit (a report maps
 * the process, LeakSanitizer stops the world with a traced clone). Only
 * in sanitizer builds; the release filters are the rules alone. */
static const char *const sanitizer[] = {
	"mmap", "munmap", "mprotect", "madvise", "sigaltstack", "prctl",
	"sched_yield", "sched_getaffinity", "gettid", "getpid", "readlink",
	"openat", "open", "close", "read", "pread64", "fstat", "newfstatat",
	"getdents64", "clone", "clone3", "ptrace", "wait4", "rt_sigaction",
	"rt_sigprocmask", "futex", "uname", "pipe2", "kill", "tgkill",
	"getrlimit", "prlimit64", "lseek", "dup", "dup2", "setrlimit",
};
#endif

/* async-signal-safe: fixed buffers, send, write, _exit */
static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	uint8_t m[SG_CONFINE_REPORT_LEN];
	uint32_t nr = (uint32_t)si->si_syscall, arch = (uint32_t)si->si_arch;
	char line[160], num[12];
	size_t k = 0, i, j;
	int fd = report_fd;

	(void)sig;
	(void)uc;
	m[0] = SG_CONFINE_REPORT;
	for (i = 0; i < 4; i++) {
		m[1 + i] = (uint8_t)(nr >> (24 - 8 * i));
		m[5 + i] = (uint8_t)(arch >> (24 - 8 * i));
	}
	if (fd >= 0)
		(void)send(fd, m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL);
	for (i = 0; report_who[i] != '\0' && k < 64; i++)
		line[k++] = report_who[i];
	{
		static const char msg[] = ": forbidden system call ";

		memcpy(line + k, msg, sizeof(msg) - 1);
		k += sizeof(msg) - 1;
	}
	i = 0;
	do {
		num[i++] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr > 0 && i < sizeof(num));
	for (j = 0; j < i; j++)
		line[k++] = num[i - 1 - j];
	{
		static const char msg[] = ": stopped by its filter\n";

		memcpy(line + k, msg, sizeof(msg) - 1);
		k += sizeof(msg) - 1;
	}
	if (write(STDERR_FILENO, line, k) < 0)
		_exit(SG_CONFINE_EXIT);	/* nothing else to do */
	_exit(SG_CONFINE_EXIT);
}

static int
set_limit(int resource, rlim_t v)
{
	struct rlimit rl = { v, v };

	return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

int
sg_confine_limits(rlim_t nofile, int no_files, const char **what)
{
	int r;

	*what = "RLIMIT_CORE";
	if ((r = set_limit(RLIMIT_CORE, 0)) < 0)
		return r;
	*what = "RLIMIT_NPROC";
	if ((r = set_limit(RLIMIT_NPROC, 0)) < 0)
		return r;
	*what = "RLIMIT_NOFILE";
	if ((r = set_limit(RLIMIT_NOFILE, nofile)) < 0)
		return r;
	if (no_files) {
		*what = "RLIMIT_FSIZE";
		signal(SIGXFSZ, SIG_IGN);
		if ((r = set_limit(RLIMIT_FSIZE, 0)) < 0)
			return r;
	}
	*what = NULL;
	return 0;
}

void
sg_confine_report_to(int fd)
{
	report_fd = fd;
}

static int
named(const struct sg_confine_rule *rules, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(rules[i].name, name) == 0)
			return 1;
	return 0;
}

static int
add_rule(scmp_filter_ctx ctx, const struct sg_confine_rule *r)
{
	struct scmp_arg_cmp cmp[2];
	uint32_t action;
	int nr;

	nr = seccomp_syscall_resolve_name(r->name);
	if (nr == __NR_SCMP_ERROR)
		return 0;	/* not on this architecture: nothing to allow */
	action = r->action == SG_CF_FAIL ? SCMP_ACT_ERRNO((uint32_t)r->err) :
	    SCMP_ACT_ALLOW;
	if (r->arg < 0)
		return seccomp_rule_add(ctx, action, nr, 0);
	cmp[0].arg = (unsigned)r->arg;
	cmp[0].op = SCMP_CMP_MASKED_EQ;
	cmp[0].datum_a = r->mask;
	cmp[0].datum_b = r->value;
	if (r->also <= 0)
		return seccomp_rule_add_array(ctx, action, nr, 1, cmp);
	cmp[1].arg = (unsigned)(r->also - 1);
	cmp[1].op = SCMP_CMP_MASKED_EQ;
	cmp[1].datum_a = r->mask2;
	cmp[1].datum_b = r->value2;
	return seccomp_rule_add_array(ctx, action, nr, 2, cmp);
}

int
sg_confine_filter(const char *who, const struct sg_confine_rule *rules,
    size_t n, int fd, char **err)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	const char *bad = NULL;
	size_t i;
	int r;

	*err = NULL;
	report_who = who;
	report_fd = fd;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		r = -errno;
		bad = "the SIGSYS handler";
		goto fail_noctx;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (ctx == NULL) {
		r = -ENOMEM;
		bad = "seccomp_init";
		goto fail_noctx;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0) {
		bad = "the foreign-architecture action";
		goto fail;
	}
	for (i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
		struct sg_confine_rule a = SG_CF(always[i]);

		/* the handler needs them whole: a rule may not narrow them */
		if (named(rules, n, always[i])) {
			r = -EINVAL;
			bad = always[i];
			goto fail;
		}
		if ((r = add_rule(ctx, &a)) < 0) {
			bad = always[i];
			goto fail;
		}
	}
#ifdef SG_SANITIZED
	for (i = 0; i < sizeof(sanitizer) / sizeof(sanitizer[0]); i++) {
		struct sg_confine_rule a = SG_CF(sanitizer[i]);

		if (named(rules, n, sanitizer[i]))
			continue;
		if ((r = add_rule(ctx, &a)) < 0 && r != -EEXIST) {
			bad = sanitizer[i];
			goto fail;
		}
	}
#endif
	for (i = 0; i < n; i++)
		if ((r = add_rule(ctx, &rules[i])) < 0) {
			bad = rules[i].name;
			goto fail;
		}
	r = seccomp_load(ctx);
	if (r < 0) {
		bad = "seccomp_load";
		goto fail;
	}
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
fail_noctx:
	if (asprintf(err, "%s: cannot install the system call filter (%s): %s",
	    who, bad, strerror(-r)) < 0)
		*err = NULL;
	return r;
}

int
sg_confine_report_parse(const uint8_t *p, size_t n, uint32_t *nr,
    uint32_t *arch)
{
	size_t i;

	if (n != SG_CONFINE_REPORT_LEN || p[0] != SG_CONFINE_REPORT)
		return -EPROTO;
	*nr = 0;
	*arch = 0;
	for (i = 0; i < 4; i++) {
		*nr = (*nr << 8) | p[1 + i];
		*arch = (*arch << 8) | p[5 + i];
	}
	return 0;
}

const char *
sg_confine_syscall_name(uint32_t nr, uint32_t arch, char *buf, size_t len)
{
	char *name;

	name = seccomp_syscall_resolve_num_arch(arch, (int)nr);
	snprintf(buf, len, "%s", name != NULL ? name : "unknown");
	free(name);
	return buf;
}
