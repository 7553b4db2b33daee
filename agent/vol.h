/* ag_vol: the volumes a sandbox mounts (CONFIG "volume", docs/protocol.md).
 *
 * The host attaches each volume as a virtio disk with a serial and sends
 * "SERIAL ro|rw PATH"; the agent finds the disk whose serial matches in
 * sysfs and mounts its ext4 filesystem on PATH (read-only volumes with
 * noload: a read-only disk cannot replay a journal, so a read-write
 * volume is frozen, its journal written out, before the guest powers
 * off). Mounting again what
 * is already mounted there is success, so a second CONFIG (a new shim)
 * changes nothing. */
#ifndef AG_VOL_H
#define AG_VOL_H

#include <stddef.h>

#define AG_VOL_SYS_BLOCK	"/sys/block"
#define AG_VOL_WAIT_MS		5000	/* for the disk to show up */
#define AG_VOL_MAX		8	/* volumes of a sandbox */

/* Splits a CONFIG "volume" value: serial [a-z0-9]{1,20}, ro or rw, an
 * absolute path with no empty, "." or ".." component. Returns 0 (ro set,
 * serial and path copied into the buffers) or -EINVAL. */
int ag_vol_parse(const char *value, char *serial, size_t serialsz, int *ro,
    char *path, size_t pathsz);

/* Finds the block device under sys_block (/sys/block) whose serial file
 * holds serial, writing "/dev/NAME" into dev. Returns 0 or -ENOENT. */
int ag_vol_find(const char *sys_block, const char *serial, char *dev,
    size_t devsz);

/* Grows the ext4 filesystem mounted on dir to the whole of the block
 * device dev (an online resize, what resize2fs does for a mounted
 * filesystem); already full size is a no-op. Failures are logged. */
void ag_vol_grow(const char *dev, const char *dir);

/* Before the machine powers off: freezes each read-write volume mounted,
 * which writes its journal out into the filesystem (a later read-only
 * mount, which cannot replay a journal, sees everything). */
void ag_vol_quiesce(void);

/* Mounts the volume value describes, waiting up to AG_VOL_WAIT_MS for its
 * disk, and grows a read-write one to its disk. Returns 0 or -errno with a
 * message in msg. */
int ag_vol_mount(const char *value, char *msg, size_t msglen);

#endif
