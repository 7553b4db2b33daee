/* ag_vol: see vol.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>

#include "agent/vol.h"
#include "common/clock.h"
#include "common/log.h"

int
ag_vol_parse(const char *value, char *serial, size_t serialsz, int *ro,
    char *path, size_t pathsz)
{
	const char *sp1 = strchr(value, ' '), *sp2, *c, *e;
	size_t n;

	if (sp1 == NULL || (sp2 = strchr(sp1 + 1, ' ')) == NULL)
		return -EINVAL;
	n = (size_t)(sp1 - value);
	if (n == 0 || n > 20 || n >= serialsz ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
		return -EINVAL;
	if (sp2 - sp1 != 3 || (memcmp(sp1 + 1, "ro", 2) != 0 &&
	    memcmp(sp1 + 1, "rw", 2) != 0))
		return -EINVAL;
	c = sp2 + 1;
	if (c[0] != '/' || c[1] == '\0' || strlen(c) >= pathsz)
		return -EINVAL;
	for (c = c + 1;; c = e + 1) {
		e = strchr(c, '/');
		n = e != NULL ? (size_t)(e - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (e == NULL)
			break;
	}
	memcpy(serial, value, (size_t)(sp1 - value));
	serial[sp1 - value] = '\0';
	*ro = sp1[2] == 'o';
	snprintf(path, pathsz, "%s", sp2 + 1);
	return 0;
}

int
ag_vol_find(const char *sys_block, const char *serial, char *dev,
    size_t devsz)
{
	char p[512], got[64];
	struct dirent *e;
	DIR *d = opendir(sys_block);
	ssize_t n;
	int fd, found = 0;

	if (d == NULL)
		return -ENOENT;
	while (!found && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || snprintf(p, sizeof(p), "%s/%s/serial",
		    sys_block, e->d_name) >= (int)sizeof(p))
			continue;
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, got, sizeof(got) - 1);
		close(fd);
		if (n <= 0)
			continue;
		got[n] = '\0';
		got[strcspn(got, "\n")] = '\0';
		if (strcmp(got, serial) == 0 && snprintf(dev, devsz, "/dev/%s",
		    e->d_name) < (int)devsz)
			found = 1;
	}
	closedir(d);
	return found ? 0 : -ENOENT;
}

#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif

void
ag_vol_grow(const char *dev, const char *dir)
{
	struct statfs sf;
	uint64_t bytes, blocks;
	int dfd = -1, fd = -1;

	dfd = open(dev, O_RDONLY | O_CLOEXEC);
	if (dfd < 0 || ioctl(dfd, BLKGETSIZE64, &bytes) < 0) {
		sg_warn("cannot read the size of %s: %s", dev, strerror(errno));
		goto out;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstatfs(fd, &sf) < 0 || sf.f_bsize <= 0) {
		sg_warn("cannot read the filesystem on %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	blocks = bytes / (uint64_t)sf.f_bsize;
	if (ioctl(fd, EXT4_IOC_RESIZE_FS, &blocks) < 0)
		sg_warn("cannot grow the filesystem on %s to %llu MiB: %s", dir,
		    (unsigned long long)(bytes >> 20), strerror(errno));
	else
		sg_debug("filesystem on %s spans %llu MiB", dir,
		    (unsigned long long)(bytes >> 20));
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
}

/* The read-write volumes mounted, for ag_vol_quiesce. */
static char vol_rw[AG_VOL_MAX][512];
static size_t nvol_rw;

void
ag_vol_quiesce(void)
{
	size_t i;
	int fd;

	for (i = 0; i < nvol_rw; i++) {
		fd = open(vol_rw[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, FIFREEZE, 0) < 0)
			sg_warn("cannot freeze the volume on %s: %s", vol_rw[i],
			    strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

static int
mkdir_p(const char *path)
{
	char buf[512];
	size_t n = strlen(path), i;

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = i < n ? '/' : '\0';
	}
	return 0;
}

int
ag_vol_mount(const char *value, char *msg, size_t msglen)
{
	char serial[32], path[512], dev[300];
	struct stat dst, pst;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int64_t until = sg_mono_ms() + AG_VOL_WAIT_MS;
	int ro, r;

	if (ag_vol_parse(value, serial, sizeof(serial), &ro, path,
	    sizeof(path)) < 0) {
		snprintf(msg, msglen, "volume \"%.80s\" is not SERIAL ro|rw PATH",
		    value);
		return -EINVAL;
	}
	while ((r = ag_vol_find(AG_VOL_SYS_BLOCK, serial, dev, sizeof(dev))) < 0 &&
	    sg_mono_ms() < until)
		nanosleep(&ts, NULL);
	if (r < 0) {
		snprintf(msg, msglen, "volume %s: no disk with that serial", serial);
		return r;
	}
	r = mkdir_p(path);
	if (r < 0) {
		snprintf(msg, msglen, "volume %s: cannot create %s: %s", serial,
		    path, strerror(-r));
		return r;
	}
	if (stat(dev, &dst) == 0 && stat(path, &pst) == 0 &&
	    pst.st_dev == dst.st_rdev) {
		sg_debug("volume %s is mounted on %s already", serial, path);
		return 0;
	}
	if (mount(dev, path, "ext4", MS_NOATIME | (ro ? MS_RDONLY : 0),
	    ro ? "noload" : NULL) < 0) {
		r = -errno;
		snprintf(msg, msglen, "volume %s: cannot mount %s on %s: %s",
		    serial, dev, path, strerror(-r));
		return r;
	}
	sg_info("volume %s (%s) mounted on %s%s", serial, dev, path,
	    ro ? ", read-only" : "");
	/* one made from a snapshot is as large as the snapshot's disk until
	 * its first read-write mount grows it to the volume's size */
	if (!ro) {
		ag_vol_grow(dev, path);
		if (nvol_rw < AG_VOL_MAX)
			snprintf(vol_rw[nvol_rw++], sizeof(vol_rw[0]), "%s", path);
	}
	return 0;
}
