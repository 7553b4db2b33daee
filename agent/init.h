/* ag_init: what the agent does first when it is PID 1 in the guest.
 *
 * Mounts the API filesystems, loads the kernel modules the image lists in
 * /etc/sandgate/modules, mounts the scratch disk and brings up loopback.
 * Every step logs its failure and goes on: a guest with a missing module
 * may still be usable, and PID 1 must not exit. */
#ifndef AG_INIT_H
#define AG_INIT_H

#define AG_INIT_MODULES_FILE	"/etc/sandgate/modules"
#define AG_INIT_DISK		"/dev/vda"
#define AG_INIT_DISK_MOUNT	"/root"

/* Runs the whole early init sequence. */
void ag_init_system(void);

/* Loads every module listed in path (one absolute .ko path per line;
 * blank lines and lines starting with '#' are skipped) in order with
 * finit_module. A module already loaded is fine. Returns the number of
 * modules that failed, or a negative errno when path cannot be read. */
int ag_init_load_modules(const char *path);

/* Makes sure descriptors 0, 1 and 2 are open (on /dev/null) so that
 * later descriptors never land on them. */
void ag_init_std_fds(void);

/* Logs, syncs and powers the guest off; for PID 1's fatal errors. */
void ag_init_poweroff(const char *why) __attribute__((noreturn));

#endif
