/* ag_init: see init.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "agent/init.h"
#include "common/log.h"
#include "agent/net.h"
#include "agent/vol.h"
#include "agent/poll.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

struct init_mount {
	const char *source, *target, *type;
	unsigned long flags;
	const char *data;
	mode_t mode;
};

static const struct init_mount init_mounts[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0555 },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 0755 },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	    "gid=5,mode=0620,ptmxmode=0666", 0755 },
	{ "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0755 },
	{ "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 01777 },
};

/* 1 when path is a mount point: it is on another filesystem than its
 * parent. An initramfs that hands over to the agent with switch_root has
 * already moved /dev, /proc and /sys onto the new root, and proc, sysfs
 * and devtmpfs would mount a second time over them rather than fail. */
static int
init_is_mounted(const char *path)
{
	char parent[PATH_MAX];
	struct stat st, pst;
	size_t n;

	n = strlen(path);
	if (n == 0 || n >= sizeof(parent))
		return 0;
	memcpy(parent, path, n + 1);
	while (n > 1 && parent[n - 1] != '/')
		n--;
	parent[n > 1 ? n - 1 : 1] = '\0';
	if (stat(path, &st) < 0 || stat(parent, &pst) < 0)
		return 0;
	return st.st_dev != pst.st_dev;
}

/* Mounts one filesystem, creating the mount point. Already mounted
 * (a mount point, or EBUSY) counts as done. */
static void
init_mount_one(const struct init_mount *m)
{
	if (mkdir(m->target, m->mode) < 0 && errno != EEXIST)
		sg_warn("cannot create %s: %s", m->target, strerror(errno));
	if (init_is_mounted(m->target)) {
		sg_debug("%s is already mounted", m->target);
		return;
	}
	if (mount(m->source, m->target, m->type, m->flags, m->data) < 0 &&
	    errno != EBUSY)
		sg_warn("cannot mount %s on %s: %s", m->type, m->target,
		    strerror(errno));
}

/* The /dev links that programs expect and devtmpfs does not make. */
static void
init_dev_links(void)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },
		{ "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" },
		{ "/proc/self/fd/2", "/dev/stderr" },
	};
	size_t i;

	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST)
			sg_warn("cannot link %s: %s", links[i][1],
			    strerror(errno));
	/* devtmpfs's /dev/ptmx (5:2) already resolves to the devpts
	 * instance on /dev/pts; only make it if the node is missing. */
	if (access("/dev/ptmx", F_OK) < 0 &&
	    symlink("pts/ptmx", "/dev/ptmx") < 0)
		sg_warn("cannot link /dev/ptmx: %s", strerror(errno));
}

void
ag_init_std_fds(void)
{
	int fd, i;

	for (i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) >= 0)
			continue;
		fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return;
		if (fd != i) {
			dup2(fd, i);
			close(fd);
		}
	}
}

/* Points stdin at /dev/null and stdout/stderr (the log) at the console;
 * the kernel may have started us without any of them when the initramfs
 * has no /dev/console node. */
static void
init_console(void)
{
	int fd;

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	ag_init_std_fds();
}

/* Loads one module file; returns 0 or -errno. */
static int
init_load_module(const char *path)
{
	size_t n = strlen(path);
	int flags = 0;
	int fd, r = 0;

	if ((n > 3 && strcmp(path + n - 3, ".xz") == 0) ||
	    (n > 3 && strcmp(path + n - 3, ".gz") == 0) ||
	    (n > 4 && strcmp(path + n - 4, ".zst") == 0))
		flags |= MODULE_INIT_COMPRESSED_FILE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", flags) < 0 && errno != EEXIST)
		r = -errno;
	close(fd);
	return r;
}

int
ag_init_load_modules(const char *path)
{
	char line[PATH_MAX + 2];
	int64_t t0;
	FILE *f;
	int failed = 0;
	size_t n;
	char *p;
	int r;

	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		n = strlen(line);
		if (n > 0 && line[n - 1] != '\n' && !feof(f)) {
			sg_warn("%s: line too long, skipped", path);
			/* Skip the rest of the long line. */
			while (fgets(line, sizeof(line), f) != NULL &&
			    line[strlen(line) - 1] != '\n')
				;
			failed++;
			continue;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ' ||
		    line[n - 1] == '\t' || line[n - 1] == '\r'))
			line[--n] = '\0';
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		t0 = sg_mono_ms();
		r = init_load_module(p);
		sg_debug("module %s: %s (%lld ms)", p, r < 0 ? strerror(-r) :
		    "loaded", (long long)(sg_mono_ms() - t0));
		if (r == -ENODEV)
			continue;	/* hardware this guest does not have */
		if (r < 0) {
			sg_warn("cannot load module %s: %s", p, strerror(-r));
			failed++;
		}
	}
	fclose(f);
	return failed;
}

/* Mounts the scratch disk on /root when the image has one and it is not
 * already the root filesystem (an image whose initramfs switched root
 * onto the disk keeps /root on it), and grows it to the disk's size. */
static void
init_mount_disk(void)
{
	struct stat st, rst;

	if (stat(AG_INIT_DISK, &st) < 0 || !S_ISBLK(st.st_mode))
		return;
	if (stat("/", &rst) == 0 && rst.st_dev == st.st_rdev) {
		sg_debug("%s is the root filesystem", AG_INIT_DISK);
		ag_vol_grow(AG_INIT_DISK, "/");
		return;
	}
	if (mkdir(AG_INIT_DISK_MOUNT, 0700) < 0 && errno != EEXIST) {
		sg_warn("cannot create %s: %s", AG_INIT_DISK_MOUNT,
		    strerror(errno));
		return;
	}
	if (mount(AG_INIT_DISK, AG_INIT_DISK_MOUNT, "ext4", MS_NOATIME, NULL) < 0) {
		sg_warn("cannot mount %s on %s: %s", AG_INIT_DISK,
		    AG_INIT_DISK_MOUNT, strerror(errno));
		return;
	}
	ag_vol_grow(AG_INIT_DISK, AG_INIT_DISK_MOUNT);
}

void
ag_init_system(void)
{
	size_t i;
	int r;

	/* Nothing the agent creates should be group or world writable by
	 * accident; modes are explicit where they matter. */
	umask(022);
	for (i = 0; i < sizeof(init_mounts) / sizeof(init_mounts[0]); i++)
		init_mount_one(&init_mounts[i]);
	init_console();
	init_dev_links();
	r = ag_init_load_modules(AG_INIT_MODULES_FILE);
	if (r < 0 && r != -ENOENT)
		sg_warn("cannot read %s: %s", AG_INIT_MODULES_FILE, strerror(-r));
	init_mount_disk();
	r = ag_net_link_up("lo");
	if (r < 0)
		sg_warn("cannot bring up lo: %s", strerror(-r));
}

void
ag_init_poweroff(const char *why)
{
	sg_err("%s; powering off", why);
	sync();
	ag_vol_quiesce();
	reboot(RB_POWER_OFF);
	/* reboot() only returns without the privilege; PID 1 must not
	 * exit, so wait for someone to stop the machine. */
	for (;;)
		pause();
}
