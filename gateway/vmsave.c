/* sg_vm, hibernation: a sandbox's memory and devices saved into its
 * folder by libvirt, and restored (vm.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "common/buf.h"
#include "common/text.h"
#include "gateway/vm.h"
#include "gateway/vmint.h"

#define HIB_MAX 4096		/* bytes of a record */
#define SAVE_JOB_WAIT_MS 600000	/* a save a sandgated before us began
				 * (as long as sandgated lets one take) */

/* "<dir>/<file>" of sandbox id into a new string (NULL: out of memory). */
static char *hib_path(const char *state_dir, const char *id, const char *file)
{
	return vm_sb_path(state_dir, id, file);
}

/* Writes v's metadata element into the file path (through path.tmp). */
static int hib_write_file(const char *path, const struct sg_vm_info *v)
{
	struct sg_buf *b = sg_buf_new(HIB_MAX);
	char tmp[4096];
	int fd = -1, r;

	if (!b)
		return -ENOMEM;
	r = vm_put_metadata(b, v, 0);
	if (r >= 0)
		r = sg_buf_put(b, "\n", 1);
	if (r < 0)
		goto out;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (write(fd, sg_buf_data(b), sg_buf_len(b)) != (ssize_t)sg_buf_len(b) ||
	    fsync(fd) < 0)
		r = -(errno ? errno : EIO);
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
out:
	sg_buf_free(b);
	return r < 0 ? r : 0;
}

int sg_vm_hibernated_write(const char *state_dir, const struct sg_vm_info *v)
{
	char *path;
	int r;

	if (!vm_valid_path(state_dir) || !sg_vm_valid_id(v->id))
		return -EINVAL;
	path = hib_path(state_dir, v->id, SG_VM_HIB_FILE);
	if (!path)
		return -ENOMEM;
	r = hib_write_file(path, v);
	free(path);
	return r;
}

int sg_vm_hibernated_read(const char *state_dir, const char *id, struct sg_vm_info *ret,
			  int64_t *ret_saved)
{
	char *path = NULL, *save = NULL, buf[HIB_MAX + 1];
	struct sg_vm_info v;
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	if (!vm_valid_path(state_dir) || !sg_vm_valid_id(id))
		return -EINVAL;
	path = hib_path(state_dir, id, SG_VM_HIB_FILE);
	save = hib_path(state_dir, id, SG_VM_SAVE_FILE);
	if (!path || !save) {
		r = -ENOMEM;
		goto out;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ENOENT ? -ENOENT : -errno;
		goto out;
	}
	n = read(fd, buf, HIB_MAX + 1);
	close(fd);
	if (n <= 0 || n > HIB_MAX) {
		r = -EINVAL;
		goto out;
	}
	buf[n] = '\0';
	if (buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	memset(&v, 0, sizeof(v));
	r = sg_vm_metadata_parse(buf, &v);
	if (r < 0)
		goto out;
	snprintf(v.id, sizeof(v.id), "%s", id);
	v.running = 0;
	snprintf(v.state, sizeof(v.state), "hibernated");
	*ret = v;
	if (ret_saved)
		*ret_saved = stat(save, &st) == 0 ? (int64_t)st.st_mtime : 0;
out:
	free(path);
	free(save);
	return r;
}

int sg_vm_hibernated_list(const char *state_dir, struct sg_vm_info **ret,
			  int64_t **ret_saved, size_t *ret_n)
{
	char *sbdir = vm_sb_path(state_dir, NULL, NULL);
	struct sg_vm_info *v = NULL, *nv, one;
	int64_t *sv = NULL, *nsv, saved;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	*ret = NULL;
	*ret_saved = NULL;
	*ret_n = 0;
	if (!sbdir)
		return -ENOMEM;
	d = opendir(sbdir);
	free(sbdir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		if (!sg_vm_valid_id(de->d_name) ||
		    sg_vm_hibernated_read(state_dir, de->d_name, &one, &saved) < 0)
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (nv)
			v = nv;
		nsv = nv ? realloc(sv, (n + 1) * sizeof(*sv)) : NULL;
		if (!nsv) {
			closedir(d);
			free(v);
			free(sv);
			return -ENOMEM;
		}
		sv = nsv;
		v[n] = one;
		sv[n++] = saved;
	}
	closedir(d);
	*ret = v;
	*ret_saved = sv;
	*ret_n = n;
	return 0;
}

void sg_vm_hibernated_forget(const char *state_dir, const char *id)
{
	static const char *const files[] = { SG_VM_SAVE_FILE, SG_VM_SAVE_FILE ".tmp",
	    SG_VM_HIB_FILE, SG_VM_HIB_FILE ".tmp" };
	size_t i;
	char *p;

	for (i = 0; i < sizeof(files) / sizeof(*files); i++) {
		p = hib_path(state_dir, id, files[i]);
		if (p)
			(void)unlink(p);
		free(p);
	}
}

/* The metadata of the live domain of sandbox id into *v. */
static int live_info(virDomainPtr dom, const char *id, struct sg_vm_info *v, char **ret_err)
{
	char *md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, SG_VM_XMLNS,
					VIR_DOMAIN_AFFECT_LIVE);
	int r;

	if (!md)
		return sg_fail(ret_err, vm_lv_code() == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO,
			       "cannot read the metadata of sandbox %s: %s", id, vm_lv_msg());
	memset(v, 0, sizeof(*v));
	r = sg_vm_metadata_parse(md, v);
	free(md);
	if (r < 0)
		return sg_fail(ret_err, r, "sandbox %s carries metadata sandgate cannot read", id);
	snprintf(v->id, sizeof(v->id), "%s", id);
	return 0;
}

int sg_vm_hibernate(struct sg_vm_host *h, const char *id, const char *state_dir,
		    char **ret_err)
{
	char *hib = NULL, *save = NULL, *tmp = NULL;
	virDomainPtr dom = NULL;
	struct sg_vm_info v;
	int r;

	if (!vm_valid_path(state_dir) || !sg_vm_valid_id(id))
		return sg_fail(ret_err, -EINVAL, "invalid hibernation request");
	r = vm_lookup(h, id, &dom, ret_err);
	if (r < 0)
		return r;
	hib = hib_path(state_dir, id, SG_VM_HIB_FILE);
	save = hib_path(state_dir, id, SG_VM_SAVE_FILE);
	if (!hib || !save || asprintf(&tmp, "%s.tmp", save) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = live_info(dom, id, &v, ret_err);
	if (r < 0)
		goto out;
	/* the record first: a sandgated that dies during the save finds it */
	r = hib_write_file(hib, &v);
	if (r < 0) {
		r = sg_fail(ret_err, r, "cannot write %s: %s", hib, strerror(-r));
		goto out;
	}
	if (virDomainSave(dom, tmp) < 0) {
		const char *msg = vm_lv_msg();

		r = sg_fail(ret_err, strstr(msg, "No space left") ? -ENOSPC : -EIO,
			    "libvirt could not save sandbox %s: %s", id, msg);
		(void)unlink(tmp);
		(void)unlink(hib);
		/* a failed save leaves the guest running, or paused */
		(void)virDomainResume(dom);
		goto out;
	}
	if (rename(tmp, save) < 0) {
		r = sg_fail(ret_err, -errno, "cannot put %s in place: %s", save, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (dom)
		virDomainFree(dom);
	free(hib);
	free(save);
	free(tmp);
	return r;
}

int sg_vm_restore(struct sg_vm_host *h, const char *id, const char *state_dir,
		  int64_t expires, char **ret_err)
{
	char *save = NULL, *err2 = NULL;
	struct stat st;
	int r;

	if (!vm_valid_path(state_dir) || !sg_vm_valid_id(id))
		return sg_fail(ret_err, -EINVAL, "invalid resume request");
	if (!h || !h->conn)
		return sg_fail(ret_err, -ENOTCONN, "not connected to libvirt");
	save = hib_path(state_dir, id, SG_VM_SAVE_FILE);
	if (!save)
		return -ENOMEM;
	if (stat(save, &st) < 0) {
		r = sg_fail(ret_err, -ENOENT, "sandbox %s has no saved memory", id);
		goto out;
	}
	if (virDomainRestore(h->conn, save) < 0) {
		int code = vm_lv_code();

		/* libvirt or the host at fault: the save may be fine, keep it */
		if (code == VIR_ERR_SYSTEM_ERROR || code == VIR_ERR_RPC ||
		    code == VIR_ERR_NO_CONNECT || code == VIR_ERR_NO_MEMORY ||
		    code == VIR_ERR_OPERATION_TIMEOUT)
			r = -EAGAIN;
		else if (strstr(vm_lv_msg(), "already exists"))
			r = -EEXIST;
		else
			r = -EIO;
		r = sg_fail(ret_err, r, "libvirt could not restore sandbox %s: %s", id,
			    vm_lv_msg());
		goto out;
	}
	sg_vm_hibernated_forget(state_dir, id);
	/* the metadata is what it was when saved: extend may have moved it */
	if (sg_vm_set_expires(h, id, expires, &err2) < 0)
		free(err2);
	r = 0;
out:
	free(save);
	return r;
}

/* At start, for a sandbox whose folder holds a record: a save that a
 * sandgated before us began may still run in libvirtd; wait for it. Then
 * a domain that runs on failed its save (its files go); one that is gone
 * is hibernated (a save libvirt finished is put in place). Returns 1 when
 * the folder is a hibernated sandbox's, 0 when its domain runs. */
int vm_hibernated_settle(struct sg_vm_host *h, const char *state_dir, const char *id)
{
	virDomainJobInfo ji;
	virDomainPtr dom = NULL;
	char *save = NULL, *tmp = NULL;
	struct stat st;
	int waited = 0, r = 1;

	while (vm_lookup(h, id, &dom, NULL) == 0) {
		memset(&ji, 0, sizeof(ji));
		if (virDomainGetJobInfo(dom, &ji) < 0 || ji.type == VIR_DOMAIN_JOB_NONE ||
		    waited >= SAVE_JOB_WAIT_MS) {
			virDomainFree(dom);
			sg_vm_hibernated_forget(state_dir, id);
			return 0;
		}
		virDomainFree(dom);
		dom = NULL;
		usleep(100 * 1000);
		waited += 100;
	}
	save = hib_path(state_dir, id, SG_VM_SAVE_FILE);
	if (save && asprintf(&tmp, "%s.tmp", save) >= 0 && stat(save, &st) < 0 &&
	    stat(tmp, &st) == 0)
		(void)rename(tmp, save);	/* a truncated one fails to restore */
	free(save);
	free(tmp);
	return r;
}

int vm_has_hib(const char *sbdir, const char *id)
{
	char p[4096];
	struct stat st;

	return snprintf(p, sizeof(p), "%s/%s/" SG_VM_HIB_FILE, sbdir, id) < (int)sizeof(p) &&
	       lstat(p, &st) == 0 && S_ISREG(st.st_mode);
}
