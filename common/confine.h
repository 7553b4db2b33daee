/* sg_confine: the box around each process that reads untrusted bytes
 * (the SSH worker, the shim, the proxy), in the manner of OpenSSH's
 * sandbox-seccomp-filter: resource limits, and a seccomp allow-list built
 * with libseccomp and installed before the first untrusted byte is read.
 *
 * A system call outside the list is never executed: the kernel raises
 * SIGSYS, whose handler (installed here, async-signal-safe) sends the
 * report message below on the report socket (the process's socket to the
 * monitor), writes one line to stderr and exits with SG_CONFINE_EXIT.
 * The monitor logs the report with the call's number and name. */
#ifndef SG_CONFINE_H
#define SG_CONFINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

/* The report: SG_CONFINE_REPORT, u32 system call number, u32 audit arch
 * (both big-endian). One datagram on a SOCK_SEQPACKET socket; the type is
 * reserved in the monitor messages (mpipe.h) and the proxy feed
 * (pxfeed.h) alike. */
#define SG_CONFINE_REPORT	126
#define SG_CONFINE_REPORT_LEN	9
/* The exit status of a process stopped by its filter. */
#define SG_CONFINE_EXIT		159

enum sg_confine_action {
	SG_CF_ALLOW,		/* the call runs */
	SG_CF_FAIL,		/* the call fails with errno `err`, the
				 * process goes on (for calls a library
				 * makes and copes without, e.g. open) */
};

/* One rule. With arg >= 0 it applies only when
 * (argument[arg] & mask) == value, and with also > 0 only when, as well,
 * (argument[also - 1] & mask2) == value2; several rules for one call are
 * alternatives. A call no rule names stops the process. */
struct sg_confine_rule {
	const char *name;	/* as libseccomp names it: "openat" */
	enum sg_confine_action action;
	int err;		/* SG_CF_FAIL */
	int arg;		/* -1: any arguments */
	uint64_t mask;
	uint64_t value;
	int also;		/* 0: no second condition; else index + 1 */
	uint64_t mask2;
	uint64_t value2;
};

#define SG_CF(n)		{ (n), SG_CF_ALLOW, 0, -1, 0, 0, 0, 0, 0 }
#define SG_CF_IF(n, i, m, v)	{ (n), SG_CF_ALLOW, 0, (i), (m), (v), 0, 0, 0 }
#define SG_CF_DENY(n, e)	{ (n), SG_CF_FAIL, (e), -1, 0, 0, 0, 0, 0 }
#define SG_CF_IF2(n, i, m, v, j, m2, v2) \
	{ (n), SG_CF_ALLOW, 0, (i), (m), (v), (j) + 1, (m2), (v2) }

/* What every boxed process needs besides its I/O: memory that is never
 * executable, randomness, locks, clocks and sleeps, its signal mask, its
 * pid, fstat. (Include <sys/mman.h>.) Used inside a rule list. */
#define SG_CF_BASE \
	SG_CF("brk"), SG_CF("munmap"), SG_CF("mremap"), SG_CF("madvise"), \
	SG_CF_IF("mmap", 2, ~(uint64_t)(PROT_READ | PROT_WRITE), 0), \
	SG_CF_IF("mprotect", 2, ~(uint64_t)(PROT_READ | PROT_WRITE), 0), \
	SG_CF("getrandom"), SG_CF("futex"), \
	SG_CF("clock_gettime"), SG_CF("gettimeofday"), SG_CF("time"), \
	SG_CF("nanosleep"), SG_CF("clock_nanosleep"), \
	SG_CF("restart_syscall"), SG_CF("rt_sigprocmask"), \
	SG_CF("getpid"), SG_CF("fstat"), SG_CF("newfstatat"), \
	SG_CF("stat"), SG_CF("lstat"), SG_CF("statx"), \
	/* glibc's qsort asks how much memory there is */ \
	SG_CF("sysinfo")

/* Sets RLIMIT_CORE 0, RLIMIT_NPROC 0 (no fork, no threads),
 * RLIMIT_NOFILE nofile and, when no_files, RLIMIT_FSIZE 0 (a write to a
 * regular file fails; SIGXFSZ is ignored so that it fails rather than
 * kills). Returns 0, or -errno with *what naming the limit. */
int sg_confine_limits(rlim_t nofile, int no_files, const char **what);

/* Installs the filter: rules, plus what the SIGSYS handler and exit need
 * (rt_sigreturn, exit_group, exit, sendto, write: always allowed whole; a
 * rule naming one is -EINVAL). A name this architecture does not have
 * ("open" on arm64) is skipped; a misspelt one too, so each list is
 * exercised by the integration tests. Where rules conflict for one call,
 * libseccomp keeps the first.
 * who names the process in the stderr line. report_fd may be -1 (and be
 * set later). Returns 0, or -errno with *err an allocated message. */
int sg_confine_filter(const char *who, const struct sg_confine_rule *rules,
    size_t n, int report_fd, char **err);

/* Where a violation is reported from now on (-1: nowhere). */
void sg_confine_report_to(int fd);

/* Decodes a report (type byte included). Returns 0, or -EPROTO. */
int sg_confine_report_parse(const uint8_t *p, size_t n, uint32_t *nr,
    uint32_t *arch);

/* The name of system call nr on arch ("unknown" if libseccomp does not
 * know it). Returns buf. */
const char *sg_confine_syscall_name(uint32_t nr, uint32_t arch, char *buf,
    size_t len);

#endif
