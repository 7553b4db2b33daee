/* sg_vm, its files: images (image.conf and what it names), the
 * sandbox's folder, its overlay disk, and what QEMU's user may reach
 * (vmint.h, vm.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ini.h"
#include "common/text.h"
#include "gateway/conf.h"
#include "gateway/vm.h"
#include "gateway/vmint.h"

#ifndef SG_QEMU_IMG
#define SG_QEMU_IMG "/usr/bin/qemu-img"
#endif

/* ---- images ---- */

void sg_vm_image_free(struct sg_vm_image *img)
{
	if (!img)
		return;
	free(img->dir);
	free(img->kernel);
	free(img->initrd);
	free(img->rootfs);
	free(img->cmdline);
	free(img);
}

const char *sg_vm_image_kernel(const struct sg_vm_image *img) { return img->kernel; }
const char *sg_vm_image_initrd(const struct sg_vm_image *img) { return img->initrd; }
const char *sg_vm_image_rootfs(const struct sg_vm_image *img) { return img->rootfs; }
const char *sg_vm_image_cmdline(const struct sg_vm_image *img) { return img->cmdline; }

/* inih callback for image.conf: keeps the four keys of [image]. */
static int image_on_key(void *user, unsigned line, const char *section, const char *key,
			const char *value, char **ret_msg)
{
	struct sg_vm_image *img = user;
	char **slot;
	size_t i;

	(void)line;
	if (strcmp(section, "image") != 0)
		return 0;
	if (strcmp(key, "kernel") == 0)
		slot = &img->kernel;
	else if (strcmp(key, "initrd") == 0)
		slot = &img->initrd;
	else if (strcmp(key, "rootfs") == 0)
		slot = &img->rootfs;
	else if (strcmp(key, "cmdline") == 0)
		slot = &img->cmdline;
	else
		return 0;   /* build facts (name, built, kernel_version, ...) */
	if (*slot)
		return sg_ini_msg(ret_msg, "%s is set twice", key);
	for (i = 0; value[i]; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			return sg_ini_msg(ret_msg, "%s contains a control character", key);
	if (slot != &img->cmdline && value[0] == '\0')
		return sg_ini_msg(ret_msg, "%s is empty", key);
	if (slot == &img->cmdline && strlen(value) > 2048)
		return sg_ini_msg(ret_msg, "cmdline is longer than 2048 bytes");
	if (slot != &img->cmdline && value[0] != '/') {
		if (asprintf(slot, "%s/%s", img->dir, value) < 0) {
			*slot = NULL;
			*ret_msg = NULL;
			return -ENOMEM;
		}
	} else {
		*slot = strdup(value);
		if (!*slot) {
			*ret_msg = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/* Checks that path (named key in conf) is a regular file; sets ret_err. */
static int image_file_check(const char *conf, const char *key, const char *path,
			    char **ret_err)
{
	struct stat st;

	if (!vm_valid_path(path))
		return sg_fail(ret_err, -EINVAL, "%s: %s: the path is too long or contains "
				"control characters", conf, key);
	if (stat(path, &st) < 0)
		return sg_fail(ret_err, -errno, "%s: %s = %s: %s (rebuild the image)", conf,
				key, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sg_fail(ret_err, -EINVAL, "%s: %s = %s is not a regular file", conf, key,
				path);
	return 0;
}

int sg_vm_image_load(const char *image_dir, struct sg_vm_image **ret, char **ret_err)
{
	static const struct sg_ini_ops ops = { .on_key = image_on_key };
	struct sg_vm_image *img = NULL;
	char *conf = NULL;
	FILE *f = NULL;
	int r;

	img = calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	img->dir = realpath(image_dir, NULL);
	if (!img->dir) {
		r = sg_fail(ret_err, -errno, "cannot open the image folder %s: %s (build the "
			     "image, or fix image_dir in sandgate.conf)", image_dir, strerror(errno));
		goto fail;
	}
	if (!vm_valid_path(img->dir)) {
		r = sg_fail(ret_err, -EINVAL, "image folder %s: the path is too long or contains "
			     "control characters", image_dir);
		goto fail;
	}
	if (asprintf(&conf, "%s/image.conf", img->dir) < 0) {
		conf = NULL;
		r = -ENOMEM;
		goto fail;
	}
	r = sg_ini_open(conf, &f, ret_err);
	if (r < 0)
		goto fail;
	r = sg_ini_parse(f, conf, &ops, img, ret_err);
	if (r < 0)
		goto fail;
	if (!img->kernel || !img->initrd || !img->rootfs) {
		r = sg_fail(ret_err, -EINVAL, "%s: [image] needs kernel, initrd and rootfs "
			     "(rebuild the image)", conf);
		goto fail;
	}
	if (!img->cmdline) {
		img->cmdline = strdup("console=ttyS0");
		if (!img->cmdline) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = image_file_check(conf, "kernel", img->kernel, ret_err);
	if (r >= 0)
		r = image_file_check(conf, "initrd", img->initrd, ret_err);
	if (r >= 0)
		r = image_file_check(conf, "rootfs", img->rootfs, ret_err);
	if (r < 0)
		goto fail;
	fclose(f);
	free(conf);
	*ret = img;
	return 0;
fail:
	if (f)
		fclose(f);
	free(conf);
	sg_vm_image_free(img);
	return r;
}

/* ---- files ---- */

/* Returns 1 when q may use st with the permission bit perm (S_IXOTH or
 * S_IROTH), by the usual rule: owner bits for the owner, else group bits
 * for a member, else the other bits. */
static int qemu_may(const struct qemu_id *q, const struct stat *st, mode_t perm)
{
	int i;

	if (q->uid == 0)
		return 1;
	if (st->st_uid == q->uid)
		return (st->st_mode & (perm << 6)) != 0;
	if (st->st_gid == q->gid)
		return (st->st_mode & (perm << 3)) != 0;
	for (i = 0; i < q->ngroups; i++)
		if (st->st_gid == q->groups[i])
			return (st->st_mode & (perm << 3)) != 0;
	return (st->st_mode & perm) != 0;
}

/* Checks that QEMU can search every directory from / down to and
 * including dir, so it can open the files libvirt hands it; what names
 * the setting for the message. */
int vm_qemu_can_reach(const struct qemu_id *q, const char *dir, const char *what,
			  char **ret_err)
{
	char *p = strdup(dir);
	struct stat st;
	size_t i, n;
	int r = 0;

	if (!p)
		return -ENOMEM;
	n = strlen(p);
	/* each prefix of dir that ends a component, then "/" itself */
	for (i = 1; i <= n + 1; i++) {
		const char *path = p;
		char save = 0;

		if (i == n + 1) {
			path = "/";
		} else if ((i < n && p[i] != '/') || p[i - 1] == '/') {
			continue;
		} else {
			save = p[i];
			p[i] = '\0';
		}
		if (stat(path, &st) < 0) {
			r = sg_fail(ret_err, -errno, "cannot use the %s %s: %s", what, path,
				     strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode) && !qemu_may(q, &st, S_IXOTH)) {
			r = sg_fail(ret_err, -EACCES, "QEMU runs as uid %u and cannot enter %s "
				     "(mode %04o) to reach the %s %s: run chmod o+x %s, or choose "
				     "another %s", (unsigned)q->uid, path,
				     (unsigned)(st.st_mode & 07777), what, dir, path, what);
			goto out;
		}
		if (path == p)
			p[i] = save;
	}
out:
	free(p);
	return r;
}

/* Checks that QEMU may read the file path. */
int vm_qemu_can_read(const struct qemu_id *q, const char *path, char **ret_err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return sg_fail(ret_err, -errno, "cannot use %s: %s", path, strerror(errno));
	if (qemu_may(q, &st, S_IROTH))
		return 0;
	return sg_fail(ret_err, -EACCES, "QEMU runs as uid %u and cannot read %s (mode %04o): "
			"run chmod a+r %s", (unsigned)q->uid, path, (unsigned)(st.st_mode & 07777),
			path);
}

/* Makes (or fixes) directory path: ours, mode 0710, group gid. With excl,
 * an existing directory is -EEXIST. */
int vm_make_dir(const char *path, gid_t gid, int excl)
{
	struct stat st;
	int fd, r = 0;

	if (mkdir(path, 0700) < 0) {
		if (errno != EEXIST || excl)
			return -errno;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st.st_uid != geteuid()) {
		r = -EPERM;
		goto out;
	}
	if (st.st_gid != gid && fchown(fd, (uid_t)-1, gid) < 0) {
		r = -errno;
		goto out;
	}
	if ((st.st_mode & 07777) != 0710 && fchmod(fd, 0710) < 0)
		r = -errno;
out:
	close(fd);
	return r;
}

/* Removes <state_dir>/sandboxes/<id> and the files in it (not following
 * symlinks; subdirectories are not ours and make this fail with
 * -ENOTEMPTY). A missing folder is success. */
int vm_remove_sandbox_dir(const char *state_dir, const char *id)
{
	char *parent = vm_sb_path(state_dir, NULL, NULL);
	struct dirent *de;
	DIR *d = NULL;
	int pfd = -1, fd = -1, r = 0;

	if (!parent)
		return -ENOMEM;
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		r = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	fd = openat(pfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		goto out;
	}
	fd = -1;
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	}
	if (errno && r == 0)
		r = -errno;
	if (unlinkat(pfd, id, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
out:
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	free(parent);
	return r;
}

/* Runs the program argv[0] (absolute, of the Debian package pkg) with
 * argv, no shell, and waits for it; exit status 0 is success.
 * On failure the first line of its complaint goes into *ret_err after
 * what ("cannot create the sandbox disk X"); -ENOSPC when the disk is
 * full. */
static int run_tool(const char *const *argv, const char *pkg, const char *what,
		    char **ret_err)
{
	char errbuf[2048], *nl;
	size_t n = 0, got = 0;
	int pfd[2] = { -1, -1 }, status, r = 0;
	sigset_t all;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return sg_fail(ret_err, -errno, "cannot run %s: %s", argv[0], strerror(errno));
	pid = fork();
	if (pid < 0) {
		r = sg_fail(ret_err, -errno, "cannot run %s: %s", argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(pfd[1], 2) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	for (;;) {
		ssize_t k = read(pfd[0], errbuf + got, sizeof(errbuf) - 1 - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got == sizeof(errbuf) - 1) {
			/* keep draining so the tool never blocks on us */
			char sink[512];

			while ((k = read(pfd[0], sink, sizeof(sink))) > 0 || (k < 0 && errno == EINTR))
				;
			break;
		}
	}
	errbuf[got] = '\0';
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		goto out;
	/* the first line of its complaint */
	for (n = 0; n < got && (errbuf[n] == '\n' || errbuf[n] == ' '); n++)
		;
	nl = strchr(errbuf + n, '\n');
	if (nl)
		*nl = '\0';
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127 && !errbuf[n])
		r = sg_fail(ret_err, -ENOENT, "cannot run %s: install the Debian package %s",
			     argv[0], pkg);
	else
		r = sg_fail(ret_err, strstr(errbuf + n, "No space left") ? -ENOSPC : -EIO,
			     "%s: %s", what, errbuf[n] ? errbuf + n : "it failed");
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return r;
}

static int run_qemu_img(const char *const *argv, const char *what, char **ret_err)
{
	return run_tool(argv, "qemu-utils", what, ret_err);
}

/* Runs qemu-img to create overlay backed by base (both absolute), with
 * virtual size disk_gb GiB (0: the base's). No shell. */
int vm_make_overlay(const char *base, const char *overlay, unsigned disk_gb,
			char **ret_err)
{
	char size[32], *what = NULL;
	const char *argv[12];
	int argc = 0, r;

	argv[argc++] = SG_QEMU_IMG;
	argv[argc++] = "create";
	argv[argc++] = "-q";
	argv[argc++] = "-f";
	argv[argc++] = "qcow2";
	argv[argc++] = "-F";
	argv[argc++] = "qcow2";
	argv[argc++] = "-b";
	argv[argc++] = base;
	argv[argc++] = overlay;
	if (disk_gb) {
		snprintf(size, sizeof(size), "%uG", disk_gb);
		argv[argc++] = size;
	}
	argv[argc] = NULL;
	if (asprintf(&what, "cannot create the sandbox disk %s", overlay) < 0)
		return -ENOMEM;
	r = run_qemu_img(argv, what, ret_err);
	free(what);
	return r;
}

int vm_flatten(const char *disk, const char *out, char **ret_err)
{
	/* -U: QEMU holds the disk (its guest is paused: nothing moves) */
	const char *argv[] = { SG_QEMU_IMG, "convert", "-q", "-U", "-f", "qcow2",
	    "-O", "qcow2", disk, out, NULL };
	char *what = NULL;
	int r;

	if (asprintf(&what, "cannot copy the disk %s", disk) < 0)
		return -ENOMEM;
	r = run_qemu_img(argv, what, ret_err);
	free(what);
	return r;
}

/* Puts src into the folder dir under the same base name: a hard link
 * (an image rebuilt later replaces its files by renaming, so the link
 * keeps what the snapshot was made on), else a copy. */
static int keep_file(const char *src, const char *dir, char **ret_err)
{
	const char *base = strrchr(src, '/');
	char dst[PATH_MAX], buf[65536];
	int in = -1, out = -1, r = 0;
	ssize_t n;

	base = base ? base + 1 : src;
	if (snprintf(dst, sizeof(dst), "%s/%s", dir, base) >= (int)sizeof(dst))
		return sg_fail(ret_err, -ENAMETOOLONG, "%s/%s: path too long", dir, base);
	if (link(src, dst) == 0)
		return 0;
	in = open(src, O_RDONLY | O_CLOEXEC);
	out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (in < 0 || out < 0) {
		r = sg_fail(ret_err, -errno, "cannot copy %s into %s: %s", src, dir,
			    strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = sg_fail(ret_err, errno == ENOSPC ? -ENOSPC : -EIO,
				    "cannot copy %s into %s: %s", src, dir, strerror(errno));
			goto out;
		}
	if (n < 0)
		r = sg_fail(ret_err, -EIO, "cannot read %s: %s", src, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && r == 0)
		r = sg_fail(ret_err, -EIO, "cannot copy %s into %s: %s", src, dir,
			    strerror(errno));
	return r;
}

/* 1 when line sets key ("key =" or "key=", after spaces). */
static int is_key(const char *line, const char *key)
{
	size_t n = strlen(key);

	line += strspn(line, " \t");
	if (strncmp(line, key, n) != 0)
		return 0;
	line += n;
	line += strspn(line, " \t");
	return *line == '=';
}

int vm_snapshot_files(const struct sg_vm_image *img, const char *dir, const char *note,
		      char **ret_err)
{
	char path[PATH_MAX], line[4096];
	const char *kbase = strrchr(img->kernel, '/'), *ibase = strrchr(img->initrd, '/');
	FILE *in = NULL, *out = NULL;
	int r;

	if ((r = keep_file(img->kernel, dir, ret_err)) < 0 ||
	    (r = keep_file(img->initrd, dir, ret_err)) < 0)
		return r;
	/* image.conf as the image has it, but for the rootfs line (the
	 * snapshot's own disk) and a few lines of what it was made from */
	snprintf(path, sizeof(path), "%s/image.conf", img->dir);
	in = fopen(path, "re");
	if (!in)
		return sg_fail(ret_err, -errno, "cannot read %s: %s", path, strerror(errno));
	if (snprintf(path, sizeof(path), "%s/image.conf", dir) >= (int)sizeof(path)) {
		fclose(in);
		return sg_fail(ret_err, -ENAMETOOLONG, "%s: path too long", dir);
	}
	out = fopen(path, "wxe");
	if (!out) {
		r = sg_fail(ret_err, -errno, "cannot write %s: %s", path, strerror(errno));
		fclose(in);
		return r;
	}
	/* the files by their names in dir; the rest of [image] as it was */
	while (fgets(line, sizeof(line), in))
		if (!is_key(line, "kernel") && !is_key(line, "initrd") &&
		    !is_key(line, "rootfs"))
			fputs(line, out);
	fprintf(out, "kernel = %s\ninitrd = %s\nrootfs = rootfs.qcow2\n%s",
		kbase ? kbase + 1 : img->kernel, ibase ? ibase + 1 : img->initrd, note);
	r = ferror(in) ? -EIO : 0;
	fclose(in);
	if (fflush(out) != 0 || fsync(fileno(out)) < 0 || ferror(out))
		r = -(errno ? errno : EIO);
	if (fclose(out) != 0 && r == 0)
		r = -errno;
	if (r < 0)
		return sg_fail(ret_err, r, "cannot write %s: %s", path, strerror(-r));
	return 0;
}

/* ---- folders of snapshots and volumes ---- */

/* Removes the folder dir and the files in it (no deeper). */
int vm_remove_flat_dir(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	char p[PATH_MAX];
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >= (int)sizeof(p) ||
		    unlink(p) < 0)
			r = -EIO;
	}
	closedir(d);
	if (rmdir(dir) < 0 && r == 0)
		r = -errno;
	return r;
}

/* Makes the folders above dest that do not exist (0750, QEMU's group). */
int vm_make_parents(const char *dest, gid_t gid)
{
	char p[PATH_MAX];
	char *sl;
	int r;

	if (snprintf(p, sizeof(p), "%s", dest) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	sl = strrchr(p, '/');
	if (!sl || sl == p)
		return -EINVAL;
	*sl = '\0';
	sl = strrchr(p, '/');
	if (sl && sl != p) {
		*sl = '\0';
		r = vm_make_dir(p, gid, 0);	/* snapshots/, volumes/ */
		*sl = '/';
		if (r < 0)
			return r;
	}
	return vm_make_dir(p, gid, 0);		/* snapshots/TOKEN */
}


/* Makes dest.tmp (in *ret_tmp, to free), where a snapshot or a volume is
 * made before vm_tmp_done() renames it into place: the folders above
 * first, and what a sandgated that died left there removed. */
int vm_tmp_begin(const char *dest, gid_t gid, char **ret_tmp, char **ret_err)
{
	char *tmp = NULL;
	int r;

	if (asprintf(&tmp, "%s.tmp", dest) < 0)
		return -ENOMEM;
	r = vm_make_parents(dest, gid);
	if (r < 0) {
		r = sg_fail(ret_err, r, "cannot create the folder of %s: %s", dest,
			    strerror(-r));
		goto fail;
	}
	(void)vm_remove_flat_dir(tmp);
	r = vm_make_dir(tmp, gid, 1);
	if (r < 0) {
		r = sg_fail(ret_err, r, "cannot create %s: %s", tmp, strerror(-r));
		goto fail;
	}
	*ret_tmp = tmp;
	return 0;
fail:
	free(tmp);
	return r;
}

int vm_tmp_done(const char *tmp, const char *dest, const char *what, char **ret_err)
{
	int r;

	if (rename(tmp, dest) == 0)
		return 0;
	r = errno == EEXIST || errno == ENOTEMPTY ? -EEXIST : -errno;
	return sg_fail(ret_err, r, "cannot put the %s in place at %s: %s", what, dest,
		       strerror(-r));
}

/* ---- volumes ---- */

#ifndef SG_MKFS_EXT4
#define SG_MKFS_EXT4 "/sbin/mkfs.ext4"
#endif

/* A blank ext4 filesystem of bytes in the new sparse file path. */
static int volume_blank(const char *path, uint64_t bytes, const char *label, char **ret_err)
{
	/* lazy_*_init keeps the file sparse: the guest's kernel zeroes the
	 * inode tables as it goes; no discard: the file is all holes */
	char lab[17];
	const char *argv[] = { SG_MKFS_EXT4, "-q", "-F", "-m", "0", "-L", lab, "-E",
	    "lazy_itable_init=1,lazy_journal_init=1,nodiscard", path, NULL };
	int fd, r = 0;

	snprintf(lab, sizeof(lab), "%.16s", label);	/* ext4 keeps 16 */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sg_fail(ret_err, -errno, "cannot create %s: %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)bytes) < 0)
		r = sg_fail(ret_err, -errno, "cannot size %s: %s", path, strerror(errno));
	close(fd);
	if (r == 0)
		r = run_tool(argv, "e2fsprogs", "cannot make the volume's filesystem", ret_err);
	return r;
}

/* The disk of the snapshot folder from, copied into the new file path,
 * which is then bytes long. Its filesystem was written by a guest: the
 * host never parses it (no e2fsck or resize2fs as root on it); the guest
 * that mounts the volume replays its journal and grows it (agent/vol.c). */
static int volume_from(const char *path, const char *from, uint64_t bytes, char **ret_err)
{
	char *src = NULL;
	const char *conv[] = { SG_QEMU_IMG, "convert", "-q", "-f", "qcow2", "-O", "raw",
	    NULL, path, NULL };
	struct stat st;
	int r;

	if (asprintf(&src, "%s/rootfs.qcow2", from) < 0)
		return -ENOMEM;
	conv[7] = src;
	r = run_qemu_img(conv, "cannot copy the snapshot's disk", ret_err);
	free(src);
	if (r < 0)
		return r;
	if (stat(path, &st) < 0)
		return sg_fail(ret_err, -errno, "cannot read %s: %s", path, strerror(errno));
	if ((uint64_t)st.st_size > bytes)
		return sg_fail(ret_err, -EFBIG, "the snapshot's disk is %llu MiB: make the "
			       "volume at least that large",
			       (unsigned long long)((uint64_t)st.st_size >> 20));
	if ((uint64_t)st.st_size < bytes && truncate(path, (off_t)bytes) < 0)
		return sg_fail(ret_err, -errno, "cannot size %s: %s", path, strerror(errno));
	return 0;
}

static int write_note(const char *path, const char *note, char **ret_err)
{
	size_t n = strlen(note);
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return sg_fail(ret_err, -errno, "cannot create %s: %s", path, strerror(errno));
	if (write(fd, note, n) != (ssize_t)n || fsync(fd) < 0)
		r = -(errno ? errno : EIO);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		return sg_fail(ret_err, r, "cannot write %s: %s", path, strerror(-r));
	return 0;
}

int sg_vm_volume_create(struct sg_vm_host *h, const struct sg_vm_vol_spec *s, char **ret_err)
{
	const struct qemu_id *q;
	char *tmp = NULL, *file = NULL, *conf = NULL;
	struct stat st;
	int r, made = 0;

	if (!h || !vm_valid_path(s->dest) || (s->from && !vm_valid_path(s->from)) ||
	    !s->label || !s->label[0] || !s->note ||
	    strspn(s->label, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s->label) ||
	    s->bytes < (16ull << 20) || s->bytes % (1u << 20) != 0)
		return sg_fail(ret_err, -EINVAL, "invalid volume request");
	q = &h->qemu[s->domain_type == SG_VM_KVM ? 1 : 0];
	if (stat(s->dest, &st) == 0)
		return sg_fail(ret_err, -EEXIST, "%s exists", s->dest);
	if (asprintf(&file, "%s.tmp/" SG_VM_VOLUME_FILE, s->dest) < 0 ||
	    asprintf(&conf, "%s.tmp/volume.conf", s->dest) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = vm_tmp_begin(s->dest, q->gid, &tmp, ret_err);
	if (r < 0)
		goto out;
	made = 1;
	r = s->from ? volume_from(file, s->from, s->bytes, ret_err) :
	    volume_blank(file, s->bytes, s->label, ret_err);
	if (r < 0)
		goto out;
	if (chown(file, 0, 0) < 0 || chmod(file, 0600) < 0) {
		r = sg_fail(ret_err, -errno, "cannot keep %s to root: %s", file, strerror(errno));
		goto out;
	}
	r = write_note(conf, s->note, ret_err);
	if (r < 0)
		goto out;
	r = vm_tmp_done(tmp, s->dest, "volume", ret_err);
	if (r < 0)
		goto out;
	made = 0;
out:
	if (made)
		(void)vm_remove_flat_dir(tmp);
	free(tmp);
	free(file);
	free(conf);
	return r;
}

int sg_vm_volume_hand(struct sg_vm_host *h, const char *file, int how, int domain_type,
		      char **ret_err)
{
	const struct qemu_id *q;
	uid_t uid = 0;
	gid_t gid = 0;
	mode_t mode = 0600;
	int fd, r = 0;

	if ((!h && how != 0) || !vm_valid_path(file) || how < 0 || how > 2)
		return sg_fail(ret_err, -EINVAL, "invalid volume file");
	q = h ? &h->qemu[domain_type == SG_VM_KVM ? 1 : 0] : NULL;
	if (how == 2) {
		uid = q->uid;
		gid = q->gid;
	} else if (how == 1) {
		gid = q->gid;
		mode = 0640;
	}
	fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sg_fail(ret_err, -errno, "cannot open the volume %s: %s", file,
			       strerror(errno));
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
		r = sg_fail(ret_err, -errno, "cannot hand the volume %s to QEMU: %s", file,
			    strerror(errno));
	close(fd);
	return r;
}

int sg_vm_folder_remove(const char *dest, char **ret_err)
{
	int r;

	if (!vm_valid_path(dest))
		return sg_fail(ret_err, -EINVAL, "invalid path %s", dest);
	r = vm_remove_flat_dir(dest);
	if (r < 0)
		return sg_fail(ret_err, r, "cannot remove %s: %s", dest, strerror(-r));
	return 0;
}
