/* sg_vm: sandbox virtual machines on libvirt.
 *
 * libvirt is the source of truth for which sandboxes exist: each sandbox is
 * a transient domain named "sandgate-<id>" that carries a <metadata>
 * element in the namespace SG_VM_XMLNS (token, sandbox name, image,
 * transport, created, expires, owner pid). There is no other database;
 * sg_vm_list() reads it back from the running domains.
 *
 * On disk a sandbox owns one folder, <state_dir>/sandboxes/<id>/, holding
 *   disk.qcow2   qcow2 overlay backed by the image's read-only rootfs.qcow2
 *   console.log  the guest's serial console
 *   agent.sock   the virtio-serial agent channel (transport virtio-serial)
 * The folder is root-owned, mode 0710, group = the group QEMU runs as
 * (read from libvirt's DAC security model), so QEMU can reach its files and
 * no other local user can (agent.sock is a root shell in the guest).
 * Domains run with a static DAC label and relabel='no': the overlay is
 * chowned to QEMU's user by us, and the image files (kernel, initrd,
 * rootfs.qcow2) must be world-readable; libvirt never chowns them.
 *
 * Images live in a folder with image.conf (inih):
 *   [image]
 *   kernel = vmlinuz          ; relative to the folder, or absolute
 *   initrd = initrd.img
 *   rootfs = rootfs.qcow2
 *   cmdline = console=ttyS0 ...
 * Other keys and sections are ignored (image builders record build facts).
 *
 * Errors: functions return 0 (or a count) or a negative errno and fill
 * ret_ out-parameters only on success. Where a function takes
 * char **ret_err (NULL allowed), a failure sets it to a one-line message
 * for users, which the caller frees (NULL when out of memory).
 * Not thread-safe: one struct sg_vm_host per thread. */
#ifndef SG_VM_H
#define SG_VM_H

#include <stddef.h>
#include <stdint.h>

#define SG_VM_XMLNS "https://sandgate.invalid/xmlns/sandbox/1"
#define SG_VM_XMLNS_PREFIX "sandgate"
#define SG_VM_DOMAIN_PREFIX "sandgate-"
#define SG_VM_AGENT_CHANNEL "org.sandgate.agent.0"
#define SG_VM_VSOCK_PORT 1024u

#define SG_VM_ID_LEN 12          /* lowercase hex characters */
#define SG_VM_NAME_MAX 32        /* [a-z0-9][a-z0-9-]{0,31} */
#define SG_VM_TOKEN_MAX 64       /* [a-z0-9][a-z0-9_-]{0,63} */
#define SG_VM_IMAGE_MAX 64       /* [a-z0-9][a-z0-9._-]{0,63} */

enum sg_vm_domain_type {
	SG_VM_QEMU = 0,          /* TCG: software emulation */
	SG_VM_KVM = 1,
};

enum sg_vm_transport {
	SG_VM_VIRTIO_SERIAL = 0,
	SG_VM_VSOCK = 1,
};

/* A volume a sandbox mounts: a disk after its own (vdb, vdc, ...) with a
 * serial the agent finds it by (CONFIG "volume"). */
#define SG_VM_VOLUMES_MAX 8
#define SG_VM_VOLUME_FILE "volume.img"
struct sg_vm_volume {
	const char *file;        /* absolute: .../volumes/TOKEN/VOL/volume.img */
	const char *serial;      /* [a-z0-9]{1,20} */
	int ro;                  /* attached read-only */
};

/* What sg_vm_create() builds. All strings are borrowed. */
struct sg_vm_spec {
	const char *id;          /* 12 lowercase hex, random, made by the caller */
	const char *token;       /* token name; "" for a pool member */
	const char *name;        /* sandbox name, "" for an ephemeral sandbox */
	const char *image_dir;   /* folder with image.conf (absolute path) */
	const char *image;       /* image name, recorded in the metadata */
	unsigned memory_mb;      /* 64..1048576 */
	unsigned vcpus;          /* 1..256 */
	unsigned disk_gb;        /* virtual size of the overlay; 0: the base's */
	int domain_type;         /* enum sg_vm_domain_type */
	int transport;           /* enum sg_vm_transport */
	const char *state_dir;   /* absolute path; sandboxes/ is made inside */
	int64_t created;         /* unix seconds */
	int64_t expires;         /* unix seconds */
	int owner_pid;           /* pid of the sandgated that made it */
	const char *tap;         /* the host's tap for the guest's NIC, made by
	                          * the caller ([a-z0-9-]{1,15}); NULL: no NIC */
	const struct sg_vm_volume *volumes;	/* nvolumes, at most
	                                 * SG_VM_VOLUMES_MAX; sg_vm_create()
	                                 * hands each file to QEMU (see
	                                 * sg_vm_volume_hand) */
	size_t nvolumes;
	int reuse_disk;          /* its folder and disk exist (a hibernated
	                          * sandbox whose memory is lost): boot from
	                          * them, and keep them on failure */
};

/* One sandbox found by sg_vm_list(): a plain record. */
struct sg_vm_info {
	char id[SG_VM_ID_LEN + 1];
	char token[SG_VM_TOKEN_MAX + 1];
	char name[SG_VM_NAME_MAX + 1];   /* "" for an ephemeral sandbox */
	char image[SG_VM_IMAGE_MAX + 1];
	int transport;                   /* enum sg_vm_transport */
	int64_t created;
	int64_t expires;
	int owner_pid;
	int running;                     /* 1 when libvirt says running */
	char state[16];                  /* "running", "paused", "shutdown", ... */
};

struct sg_vm_host;
struct sg_vm_image;

/* Validators: return 1 when s is a well-formed id / sandbox name / token
 * name / image name (see the sizes above), 0 otherwise (NULL included). */
int sg_vm_valid_id(const char *s);
int sg_vm_valid_name(const char *s);
int sg_vm_valid_token(const char *s);
int sg_vm_valid_image(const char *s);

/* "virtio-serial" / "vsock" (NULL for other values), and back (-EINVAL). */
const char *sg_vm_transport_name(int transport);
int sg_vm_transport_from_name(const char *s);

/* Opens a libvirt connection to uri (e.g. "qemu:///system") and reads the
 * user and group QEMU runs as. Installs a libvirt error handler that keeps
 * libvirt from printing to stderr (messages come back through ret_err).
 * Returns 0 and *ret (free with sg_vm_host_free), or a negative errno. */
int sg_vm_connect(const char *uri, struct sg_vm_host **ret, char **ret_err);
void sg_vm_host_free(struct sg_vm_host *h);
/* Returns 1 while the connection to libvirtd is usable, 0 after it broke
 * (libvirtd restarted): free the host and connect again. */
int sg_vm_host_alive(struct sg_vm_host *h);

/* Reads <image_dir>/image.conf and checks that the kernel, initrd and
 * rootfs it names are regular files. Relative paths are resolved against
 * image_dir, which is itself made absolute. Returns 0 and *ret (free with
 * sg_vm_image_free), or a negative errno. */
int sg_vm_image_load(const char *image_dir, struct sg_vm_image **ret, char **ret_err);
void sg_vm_image_free(struct sg_vm_image *img);
/* Absolute paths and the kernel command line of a loaded image. */
const char *sg_vm_image_kernel(const struct sg_vm_image *img);
const char *sg_vm_image_initrd(const struct sg_vm_image *img);
const char *sg_vm_image_rootfs(const struct sg_vm_image *img);
const char *sg_vm_image_cmdline(const struct sg_vm_image *img);

/* Builds the libvirt domain XML for s and img (pure: no libvirt, no
 * files). Every value is validated and XML-escaped. With qemu_uid and
 * qemu_gid >= 0, QEMU runs as that user with libvirt's relabelling off
 * (a static DAC <seclabel>): the shared image files are only read, never
 * chowned; -1 and -1 leave the user to libvirt. Returns 0 and *ret_xml
 * (NUL-terminated, caller frees), -EINVAL for a bad spec, or -ENOMEM. */
int sg_vm_domain_xml(const struct sg_vm_spec *s, const struct sg_vm_image *img,
		     long qemu_uid, long qemu_gid, char **ret_xml);

/* Builds the <sandgate:sandbox .../> metadata element for s (pure).
 * Returns 0 and *ret_xml, -EINVAL or -ENOMEM. */
int sg_vm_metadata_xml(const struct sg_vm_spec *s, char **ret_xml);

/* Parses a metadata element as virDomainGetMetadata() returns it: one
 * element "sandbox", attributes only, the five predefined XML entities
 * decoded. libvirt strips the namespace declaration (it found the element
 * by SG_VM_XMLNS); a prefixed name or an xmlns attribute must declare ours.
 * Fills the metadata fields of *ret (id, running and state untouched).
 * Returns 0 or -EINVAL for anything else. */
int sg_vm_metadata_parse(const char *xml, struct sg_vm_info *ret);

/* Finds the CID libvirt assigned in a live domain XML
 * (<vsock ...><cid auto='yes' address='N'/>). Returns 0 and *ret_cid, or
 * -ENOENT when there is none, -EINVAL when malformed. */
int sg_vm_parse_vsock_cid(const char *domain_xml, uint32_t *ret_cid);

/* Creates and starts the sandbox s: the folder, the overlay, the transient
 * domain. On failure everything made is removed again. Returns 0,
 * -EEXIST when the id is in use, or another negative errno. */
int sg_vm_create(struct sg_vm_host *h, const struct sg_vm_spec *s, char **ret_err);

/* Writes the path of the sandbox's virtio-serial socket into buf
 * (size bytes). Returns 0, -EINVAL for a bad id, -ENAMETOOLONG. */
int sg_vm_agent_path(const char *state_dir, const char *id, char *buf, size_t size);

/* Reads the vsock CID libvirt gave sandbox id (transport vsock). Returns
 * 0 and *ret_cid, or a negative errno (-ENOENT: no such sandbox). */
int sg_vm_agent_cid(struct sg_vm_host *h, const char *id, uint32_t *ret_cid, char **ret_err);

/* Connects to the agent of sandbox id: AF_UNIX to agent.sock for
 * virtio-serial, AF_VSOCK to the domain's CID, port SG_VM_VSOCK_PORT, for
 * vsock. Only the connection: the caller does the protocol handshake.
 * Returns 0 and *ret_fd (blocking, SOCK_CLOEXEC, the caller closes it),
 * or a negative errno (-ENOENT: no such sandbox, -ECONNREFUSED, ...). */
int sg_vm_connect_agent(struct sg_vm_host *h, const char *id, const char *state_dir,
			int transport, int *ret_fd, char **ret_err);

/* Stops the domain of sandbox id if it runs and removes its folder.
 * Idempotent: a sandbox that is already gone is not an error. Returns 0 or
 * a negative errno; when libvirt could not stop a domain that exists, its
 * folder stays (the next start adopts it, and its sweep removes a folder
 * whose domain is gone). */
int sg_vm_destroy(struct sg_vm_host *h, const char *id, const char *state_dir,
		  char **ret_err);

/* Lists every running domain named "sandgate-<id>" that carries our
 * metadata, in libvirt's order. Domains without (or with unreadable)
 * metadata are skipped. Returns 0 with *ret (an array, free with
 * sg_vm_info_free; NULL when *ret_n is 0) and *ret_n, or a negative errno. */
int sg_vm_list(struct sg_vm_host *h, struct sg_vm_info **ret, size_t *ret_n,
	       char **ret_err);
void sg_vm_info_free(struct sg_vm_info *v);

/* Hibernation (vmsave.c): the sandbox's memory and device state saved
 * into its folder by libvirt (virDomainSave: its domain ends, its disk
 * stays), beside what libvirt's metadata held (its <sandbox/> element, in
 * SG_VM_HIB_FILE), so that it outlives sandgated and libvirtd. */
#define SG_VM_SAVE_FILE "memory.save"
#define SG_VM_HIB_FILE "hibernated.xml"

/* Saves sandbox id: SG_VM_HIB_FILE first, then memory into
 * SG_VM_SAVE_FILE ".tmp", renamed once complete. On failure the save's
 * files are removed and the domain runs on (-ENOSPC: the disk is full;
 * -ENOENT: no such sandbox). */
int sg_vm_hibernate(struct sg_vm_host *h, const char *id, const char *state_dir,
		    char **ret_err);
/* Restores sandbox id from its SG_VM_SAVE_FILE (a new transient domain
 * with the same guest, its expiry set to expires), then removes the
 * save's files. -ENOENT when there is no complete save, -EIO when
 * libvirt refuses it (a corrupted or truncated file), -EAGAIN when
 * libvirt or the host failed (try again later), -EEXIST when the domain
 * runs already; the files are left (for sg_vm_create(reuse_disk), a
 * later try, or sg_vm_destroy). */
int sg_vm_restore(struct sg_vm_host *h, const char *id, const char *state_dir,
		  int64_t expires, char **ret_err);
/* Removes the save's files of sandbox id (after a boot from its disk). */
void sg_vm_hibernated_forget(const char *state_dir, const char *id);
/* Reads the record of a hibernated sandbox (the metadata fields of *ret;
 * running 0, state "hibernated") and when it was saved (*ret_saved: the
 * save's mtime, 0 when its memory is not there). -ENOENT when it has none. */
int sg_vm_hibernated_read(const char *state_dir, const char *id, struct sg_vm_info *ret,
			  int64_t *ret_saved);
/* Rewrites its record (a new expiry while it sleeps). */
int sg_vm_hibernated_write(const char *state_dir, const struct sg_vm_info *v);
/* The hibernated sandboxes in state_dir (folders with SG_VM_HIB_FILE),
 * as sg_vm_list gives running ones, and when each was saved (as
 * sg_vm_hibernated_read's *ret_saved). Free both arrays. */
int sg_vm_hibernated_list(const char *state_dir, struct sg_vm_info **ret,
			  int64_t **ret_saved, size_t *ret_n);

/* Waits up to ms for the domain of sandbox id to end by itself (its
 * guest powered off). Returns 0 once it is gone, -ETIMEDOUT, or another
 * negative errno. */
int sg_vm_wait_gone(struct sg_vm_host *h, const char *id, int ms);

/* Rewrites the expiry time in the live domain's metadata. Returns 0,
 * -ENOENT when the sandbox does not run, or a negative errno. */
int sg_vm_set_expires(struct sg_vm_host *h, const char *id, int64_t expires,
		      char **ret_err);

/* The warm pool ([sandbox] warm_pool): a member is a sandbox with no
 * token yet ("" in its metadata), booted, then paused by sg_vm_pause().
 * sg_vm_claim() gives it to token (name "" for a fresh sandbox) with new
 * times and resumes it; -EINVAL when it has a token already, -ENOENT
 * when it is gone, or another negative errno. */
int sg_vm_pause(struct sg_vm_host *h, const char *id, char **ret_err);
/* Resumes a paused domain (one found paused at start: a snapshot's copy
 * or a claim that a dead sandgated did not finish). */
int sg_vm_unpause(struct sg_vm_host *h, const char *id, char **ret_err);
int sg_vm_claim(struct sg_vm_host *h, const char *id, const char *token,
		const char *name, int64_t created, int64_t expires, char **ret_err);

/* Removes every <state_dir>/sandboxes/<id> folder whose domain no longer
 * exists and that holds no SG_VM_HIB_FILE (a hibernated sandbox's), and
 * the leftovers of a save in the folder of one that runs (folders with
 * other names are left alone). Call it while no
 * sg_vm_create() is under way (at start-up): a folder made a moment
 * before its domain starts looks like a leftover. Returns the number
 * removed, or a negative errno (then nothing is guessed: a libvirt error
 * stops the sweep). */
int sg_vm_cleanup_leftovers(struct sg_vm_host *h, const char *state_dir, char **ret_err);

/* A snapshot: a running sandbox's disk, copied whole (no backing file)
 * while its guest is paused, into the new folder dest with the kernel and
 * initrd of image_dir (the image it runs) and an image.conf naming them,
 * with note (lines "key = value\n") at its end: dest is then an image
 * folder sg_vm_create() can start from, and stays one when the image is
 * rebuilt. Made in dest.tmp and renamed into place; on failure nothing is
 * left and the guest runs on. -EEXIST when dest exists, -ENOENT when
 * there is no such sandbox, -ENOSPC when the disk is full. */
struct sg_vm_snap_spec {
	const char *id;
	const char *state_dir;
	const char *image_dir;
	int domain_type;         /* enum sg_vm_domain_type: whose group reads it */
	const char *dest;        /* STATE_DIR/snapshots/TOKEN/NAME */
	const char *note;
	int offline;             /* hibernated: no domain to pause */
};
int sg_vm_snapshot(struct sg_vm_host *h, const struct sg_vm_snap_spec *s, char **ret_err);
/* Removes a snapshot's or a volume's folder and its files. */
int sg_vm_folder_remove(const char *dest, char **ret_err);

/* A volume: the folder dest (STATE_DIR/volumes/TOKEN/VOL) holding
 * SG_VM_VOLUME_FILE, a sparse raw file of bytes with an ext4 filesystem
 * labelled label (its first 16 bytes), made by mkfs.ext4; or, with from
 * (a snapshot's folder), its disk copied and the file made bytes long,
 * its filesystem left to the guest to grow (-EFBIG when the snapshot's
 * disk is larger). And volume.conf with note. Made in dest.tmp
 * and renamed into place; on failure nothing is left. -EEXIST when dest
 * exists, -ENOSPC when the disk is full. The file is root's (0600) until
 * a sandbox mounts it. */
struct sg_vm_vol_spec {
	const char *dest;
	uint64_t bytes;
	const char *from;
	const char *label;       /* [a-z0-9-]+: the first 16 bytes are kept */
	int domain_type;         /* enum sg_vm_domain_type: whose group */
	const char *note;
};
int sg_vm_volume_create(struct sg_vm_host *h, const struct sg_vm_vol_spec *s,
			char **ret_err);
/* Hands a volume's file to QEMU (how: 2 to write it, owned by QEMU's
 * user, 0600; 1 to read it, root's and QEMU's group's, 0640) or takes it
 * back (0: root's, 0600; h may be NULL), so that QEMU may touch a volume
 * only while a sandbox mounts it. */
int sg_vm_volume_hand(struct sg_vm_host *h, const char *file, int how, int domain_type,
		      char **ret_err);

#endif
