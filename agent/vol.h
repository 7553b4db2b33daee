/* ag_vol: the volumes a sandbox mounts (CONFIG "volume", docs/protocol.md).
 *
 * The host attaches each volume as a virtio disk with a serial and sends
 * "SERIAL ro|rw PATH"; the agent finds the disk whose serial matches in
 * sysfs and mounts its ext4 filesystem on PATH (read-only volumes with
 * noload: a read-only disk cannot replay a journal). Mounting again what
 * is already mounted there is success, so a second CONFIG (a new shim)
 * changes nothing. */
#ifndef AG_VOL_H
#define AG_VOL_H

#include <stddef.h>

#define AG_VOL_SYS_BLOCK	"/sys/block"
#define AG_VOL_WAIT_MS		5000	/* for the disk to show up */

/* Splits a CONFIG "volume" value: serial [a-z0-9]{1,20}, ro or rw, an
 * absolute path with no empty, "." or ".." component. Returns 0 (ro set,
 * serial and path copied into the buffers) or -EINVAL. */
int ag_vol_parse(const char *value, char *serial, size_t serialsz, int *ro,
    char *path, size_t pathsz);

/* Finds the block device under sys_block (/sys/block) whose serial file
 * holds serial, writing "/dev/NAME" into dev. Returns 0 or -ENOENT. */
int ag_vol_find(const char *sys_block, const char *serial, char *dev,
    size_t devsz);

/* Mounts the volume value describes, waiting up to AG_VOL_WAIT_MS for its
 * disk. Returns 0 or -errno with a message in msg. */
int ag_vol_mount(const char *value, char *msg, size_t msglen);

#endif
