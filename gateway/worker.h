/* sg_worker: one SSH connection, in a process of its own without root.
 *
 * The monitor forks a worker per accepted TCP connection. The worker does
 * the SSH handshake, asks the monitor to check the credentials the client
 * presents, asks it for a sandbox, and then bridges the SSH session
 * channels to channels of the guest agent's connection (docs/architecture.md).
 * This module is the part before authentication; bridge.h is the rest. */
#ifndef SG_WORKER_H
#define SG_WORKER_H

#include <sys/types.h>

#include <libssh/server.h>

struct sg_worker_params {
	int client_fd;		/* the accepted TCP connection */
	int mon_fd;		/* SOCK_SEQPACKET to the monitor */
	ssh_bind bind;		/* holds the host key */
	uid_t uid;		/* unprivileged identity to switch to */
	gid_t gid;
	const char *chroot_dir;	/* empty root-owned dir, or NULL */
	unsigned kex_timeout_s;	/* until key exchange completes */
	unsigned login_grace_s;	/* whole pre-auth phase */
	unsigned max_auth_tries;
	const char *peer;	/* "ADDR port PORT" for logs */
	const char *control_user; /* this user name runs control commands */
};

/* Runs the connection to its end. Never returns: exits the process with
 * 0 after a normal close and 1 after an error. Owns every fd in p. */
void sg_worker_run(const struct sg_worker_params *p) __attribute__((noreturn));

#endif
