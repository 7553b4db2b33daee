/* Private to the sg_vm module, which vm.h describes. It is three files
 * along its seams:
 *   vmxml.c   pure: names, paths, the domain XML writer and the strict
 *             reader of what libvirt gives back (fuzzed: fuzz_vmxml);
 *   vmdisk.c  files: images, the sandbox folder, the overlay disk, what
 *             QEMU's user may reach;
 *   vm.c      libvirt: the connection and each sandbox's lifecycle. */
#ifndef SG_VMINT_H
#define SG_VMINT_H

#include <stddef.h>
#include <sys/types.h>

#include <libvirt/libvirt.h>

#include "gateway/vm.h"

struct sg_buf;

#define XML_MAX (256u * 1024)      /* generated XML and what we accept back */

/* The user QEMU runs as (from libvirt's DAC baselabel) and its groups;
 * have_dac is 0 when libvirt has no DAC model (QEMU keeps our ids). */
struct qemu_id {
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int ngroups;
	int have_dac;
};

struct sg_vm_host {
	virConnectPtr conn;
	char *uri;
	/* who QEMU runs as, per domain type: [0] qemu, [1] kvm */
	struct qemu_id qemu[2];
};

struct sg_vm_image {
	char *dir;
	char *kernel;
	char *initrd;
	char *rootfs;
	char *cmdline;
};

/* vm.c */
/* libvirt's last error: its message (never NULL) and code. */
const char *vm_lv_msg(void);
int vm_lv_code(void);
/* The domain of sandbox id: 0 and *ret (virDomainFree it), -ENOENT when
 * there is none, or another negative errno and *ret_err. */
int vm_lookup(struct sg_vm_host *h, const char *id, virDomainPtr *ret, char **ret_err);

/* vmsave.c */
/* At start, for a folder with a hibernation record: waits for a save
 * under way, then keeps it hibernated (1) or, its domain running, drops
 * the save's files (0). */
int vm_hibernated_settle(struct sg_vm_host *h, const char *state_dir, const char *id);
/* 1 when the folder sbdir/id holds SG_VM_HIB_FILE. */
int vm_has_hib(const char *sbdir, const char *id);

/* vmxml.c */
/* 1 when p is an absolute path without control characters. */
int vm_valid_path(const char *p);
/* Checks a whole spec; 0 or -EINVAL and *ret_err. */
int vm_spec_check(const struct sg_vm_spec *s, char **ret_err);
/* "<state_dir>/sandboxes" or "<state_dir>/sandboxes/<id>[/<file>]" into
 * a new string. Returns NULL when out of memory. */
char *vm_sb_path(const char *state_dir, const char *id, const char *file);
/* The metadata element of v into b, with its namespace declaration when
 * with_ns (in a domain XML) or without (virDomainSetMetadata). */
int vm_put_metadata(struct sg_buf *b, const struct sg_vm_info *v, int with_ns);
/* b's bytes as a new NUL-terminated string. */
int vm_buf_to_str(struct sg_buf *b, char **ret);

/* vmdisk.c */
/* 0 when QEMU's user q may search every directory down to dir (what
 * names it in messages), else -EACCES and *ret_err. */
int vm_qemu_can_reach(const struct qemu_id *q, const char *dir, const char *what,
		      char **ret_err);
/* 0 when QEMU's user q may read path. */
int vm_qemu_can_read(const struct qemu_id *q, const char *path, char **ret_err);
/* Makes path (mode 0750, group gid; excl: it must not exist). */
int vm_make_dir(const char *path, gid_t gid, int excl);
/* Removes a sandbox's folder and what is in it; 0 when there is none. */
int vm_remove_sandbox_dir(const char *state_dir, const char *id);
/* A qcow2 overlay of base, disk_gb in size, made by qemu-img. */
int vm_make_overlay(const char *base, const char *overlay, unsigned disk_gb,
		    char **ret_err);
/* Copies the whole chain of the qcow2 disk (in use by QEMU, its guest
 * paused) into one qcow2 file out, with no backing file. */
int vm_flatten(const char *disk, const char *out, char **ret_err);
/* Makes the folder dir an image folder beside its rootfs.qcow2: img's
 * kernel and initrd (hard links, else copies) and its image.conf with
 * those names and note (lines "key = value\n") at the end. */
int vm_snapshot_files(const struct sg_vm_image *img, const char *dir, const char *note,
		      char **ret_err);
/* Removes the folder dir and the files in it (no deeper); 0 when there
 * is none. */
int vm_remove_flat_dir(const char *dir);
/* Makes the two folders above dest (KIND/ and KIND/TOKEN/, as
 * vm_make_dir with group gid) that do not exist. */
int vm_make_parents(const char *dest, gid_t gid);
/* dest.tmp made (*ret_tmp) after the folders above it, to be renamed
 * into place as what ("snapshot") by vm_tmp_done; -EEXIST when dest is
 * there already. */
int vm_tmp_begin(const char *dest, gid_t gid, char **ret_tmp, char **ret_err);
int vm_tmp_done(const char *tmp, const char *dest, const char *what, char **ret_err);

#endif
