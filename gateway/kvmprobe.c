/* sg_kvm: the KVM usability probe, see kvmprobe.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/text.h"
#include "gateway/kvmprobe.h"

#define QEMU_SYSTEM "qemu-system-x86_64"
#define ERR_MAX 4096

/* The probe guest: a boot sector loaded by the BIOS at 0x7c00 in real mode
 * (source in the comments, GNU as syntax; assembled with as --32). */
static const uint8_t boot_code[] = {
	/* .code16 */
	0xfa,                                     /* cli */
	0x31, 0xc0,                               /* xor %ax,%ax */
	0x8e, 0xd8,                               /* mov %ax,%ds */
	0x8e, 0xc0,                               /* mov %ax,%es */
	0x8e, 0xd0,                               /* mov %ax,%ss */
	0xbc, 0x00, 0x7c,                         /* mov $0x7c00,%sp */
	/* wait for two timer ticks of the BIOS (counter at 0x46c): the
	 * guest gets interrupts */
	0xfb,                                     /* sti */
	0xb9, 0x02, 0x00,                         /* mov $2,%cx */
	0x8b, 0x16, 0x6c, 0x04,                   /* mov 0x46c,%dx */
	0xf4,                                     /* 1: hlt */
	0xa1, 0x6c, 0x04,                         /* mov 0x46c,%ax */
	0x39, 0xd0,                               /* cmp %dx,%ax */
	0x74, 0xf8,                               /* je 1b */
	0x89, 0xc2,                               /* mov %ax,%dx */
	0xe2, 0xf4,                               /* loop 1b */
	/* A20 on; page tables at 0x1000 (PML4), 0x2000 (PDPT), 0x3000 (PD)
	 * identity-mapping the first 2 MiB with one large page */
	0xfa,                                     /* cli */
	0xe4, 0x92,                               /* in $0x92,%al */
	0x0c, 0x02,                               /* or $2,%al */
	0xe6, 0x92,                               /* out %al,$0x92 */
	0xbf, 0x00, 0x10,                         /* mov $0x1000,%di */
	0xb9, 0x00, 0x18,                         /* mov $0x1800,%cx */
	0x31, 0xc0,                               /* xor %ax,%ax */
	0xfc,                                     /* cld */
	0xf3, 0xab,                               /* rep stosw */
	0xc7, 0x06, 0x00, 0x10, 0x03, 0x20,       /* movw $0x2003,0x1000 */
	0xc7, 0x06, 0x00, 0x20, 0x03, 0x30,       /* movw $0x3003,0x2000 */
	0xc7, 0x06, 0x00, 0x30, 0x83, 0x00,       /* movw $0x0083,0x3000 */
	/* straight to long mode: PAE, CR3, EFER.LME, then PE and PG */
	0x66, 0x0f, 0x01, 0x16, 0xa8, 0x7c,       /* lgdtl gdtr (0x7ca8) */
	0x0f, 0x20, 0xe0,                         /* mov %cr4,%eax */
	0x66, 0x83, 0xc8, 0x20,                   /* or $0x20,%eax */
	0x0f, 0x22, 0xe0,                         /* mov %eax,%cr4 */
	0x66, 0xb8, 0x00, 0x10, 0x00, 0x00,       /* mov $0x1000,%eax */
	0x0f, 0x22, 0xd8,                         /* mov %eax,%cr3 */
	0x66, 0xb9, 0x80, 0x00, 0x00, 0xc0,       /* mov $0xc0000080,%ecx */
	0x0f, 0x32,                               /* rdmsr */
	0x66, 0x0d, 0x00, 0x01, 0x00, 0x00,       /* or $0x100,%eax */
	0x0f, 0x30,                               /* wrmsr */
	0x0f, 0x20, 0xc0,                         /* mov %cr0,%eax */
	0x66, 0x0d, 0x01, 0x00, 0x00, 0x80,       /* or $0x80000001,%eax */
	0x0f, 0x22, 0xc0,                         /* mov %eax,%cr0 */
	0xea, 0x7e, 0x7c, 0x08, 0x00,             /* ljmp $0x08,$lm (0x7c7e) */
	/* .code64, lm: count down 2^26 without a VM exit, then exit QEMU */
	0x48, 0xc7, 0xc1, 0x00, 0x00, 0x00, 0x04, /* mov $0x4000000,%rcx */
	0x48, 0xff, 0xc9,                         /* 3: dec %rcx */
	0x75, 0xfb,                               /* jnz 3b */
	0xb0, 0x31,                               /* mov $0x31,%al */
	0xe6, 0xf4,                               /* out %al,$0xf4 */
	0xf4,                                     /* 2: hlt */
	0xeb, 0xfd,                               /* jmp 2b */
	/* padding to 0x98 (gdt, 8-byte aligned) */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* gdt (0x7c98): null descriptor, 64-bit code segment */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x9a, 0x20, 0x00,
	/* gdtr (0x7ca8): limit 15, base 0x7c98 */
	0x0f, 0x00, 0x98, 0x7c, 0x00, 0x00,
};

_Static_assert(sizeof(boot_code) == 0xae, "boot sector layout changed: fix the offsets");


/* Returns the first line of QEMU's output that is not a warning, in place. */
static const char *first_error_line(char *buf)
{
	char *line = buf, *nl;

	while (*line) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (*line && !strstr(line, "warning:"))
			return line;
		if (!nl)
			break;
		line = nl + 1;
	}
	return "";
}

int sg_kvm_probe_accel(const char *accel, int timeout_ms, char **ret_reason)
{
	uint8_t sector[512] = { 0 };
	char errbuf[ERR_MAX], accel_arg[64];
	const char *argv[20], *msg;
	size_t got = 0;
	int mfd = -1, pfd[2] = { -1, -1 }, argc = 0, status = 0, r, timed_out = 0;
	int64_t deadline;
	pid_t pid = -1;

	if (!accel || strlen(accel) > 32 || strchr(accel, ',') || timeout_ms <= 0)
		return sg_fail(ret_reason, -EINVAL, "invalid probe arguments");
	memcpy(sector, boot_code, sizeof(boot_code));
	sector[510] = 0x55;
	sector[511] = 0xaa;

	/* the disk image lives in memory: no temporary file to leave behind */
	mfd = memfd_create("sandgate-kvmprobe", MFD_CLOEXEC);
	if (mfd < 0)
		return sg_fail(ret_reason, -errno, "cannot create the probe disk: %s", strerror(errno));
	if (write(mfd, sector, sizeof(sector)) != (ssize_t)sizeof(sector)) {
		r = sg_fail(ret_reason, -EIO, "cannot write the probe disk");
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		r = sg_fail(ret_reason, -errno, "cannot run %s: %s", QEMU_SYSTEM, strerror(errno));
		goto out;
	}
	snprintf(accel_arg, sizeof(accel_arg), "%s", accel);
	argv[argc++] = QEMU_SYSTEM;
	argv[argc++] = "-accel";
	argv[argc++] = accel_arg;
	argv[argc++] = "-M";
	argv[argc++] = "pc";
	argv[argc++] = "-m";
	argv[argc++] = "16";
	argv[argc++] = "-nodefaults";
	argv[argc++] = "-no-user-config";
	argv[argc++] = "-nographic";
	argv[argc++] = "-display";
	argv[argc++] = "none";
	argv[argc++] = "-device";
	argv[argc++] = "isa-debug-exit,iobase=0xf4,iosize=0x04";
	argv[argc++] = "-drive";
	argv[argc++] = "file=/dev/fd/3,format=raw,if=ide";
	argv[argc] = NULL;

	pid = fork();
	if (pid < 0) {
		r = sg_fail(ret_reason, -errno, "cannot run %s: %s", QEMU_SYSTEM, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		sigset_t none;
		int nul = open("/dev/null", O_RDWR);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* dup2 clears FD_CLOEXEC on the copies (but not when the
		 * descriptor is already in place) */
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0)
			_exit(127);
		if (mfd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(mfd, 3) < 0)
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;

	deadline = sg_mono_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - sg_mono_ms();
		pid_t w;

		if (pfd[0] >= 0) {
			struct pollfd p = { .fd = pfd[0], .events = POLLIN };
			int k = poll(&p, 1, left > 50 ? 50 : (left > 0 ? (int)left : 0));

			if (k > 0) {
				char sink[512];
				ssize_t n;

				if (got < sizeof(errbuf) - 1)
					n = read(pfd[0], errbuf + got, sizeof(errbuf) - 1 - got);
				else
					n = read(pfd[0], sink, sizeof(sink));
				if (n > 0 && got < sizeof(errbuf) - 1)
					got += (size_t)n;
				else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
					close(pfd[0]);
					pfd[0] = -1;
				}
			}
		} else {
			poll(NULL, 0, left > 10 ? 10 : (left > 0 ? (int)left : 0));
		}
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			r = sg_fail(ret_reason, -errno, "cannot wait for %s: %s", QEMU_SYSTEM,
				   strerror(errno));
			pid = -1;
			goto out;
		}
		if (sg_mono_ms() >= deadline) {
			timed_out = 1;
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
	}
	pid = -1;
	errbuf[got] = '\0';
	msg = first_error_line(errbuf);

	if (timed_out)
		r = sg_fail(ret_reason, 0, "a test guest under %s did not finish within %d ms "
			   "(it runs guests too slowly or not at all here)", accel, timeout_ms);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == SG_KVM_PROBE_EXIT)
		r = 1;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !*msg)
		r = sg_fail(ret_reason, 0, "cannot run %s: install the Debian package "
			   "qemu-system-x86", QEMU_SYSTEM);
	else if (WIFEXITED(status))
		r = sg_fail(ret_reason, 0, "a test guest under %s failed: %s exited with status "
			   "%d%s%s", accel, QEMU_SYSTEM, WEXITSTATUS(status), *msg ? ": " : "", msg);
	else
		r = sg_fail(ret_reason, 0, "a test guest under %s failed: %s was killed by "
			   "signal %d", accel, QEMU_SYSTEM,
			   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (mfd >= 0)
		close(mfd);
	return r;
}

int sg_kvm_usable(int timeout_ms, char **ret_reason)
{
	int fd, v;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return sg_fail(ret_reason, 0, "cannot open /dev/kvm: %s (no KVM here: enable "
			      "virtualisation, load kvm_intel or kvm_amd, or check the device's "
			      "permissions)", strerror(errno));
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (v != KVM_API_VERSION)
		return sg_fail(ret_reason, 0, "/dev/kvm speaks API version %d, not %d", v,
			      KVM_API_VERSION);
	return sg_kvm_probe_accel("kvm", timeout_ms, ret_reason);
}
