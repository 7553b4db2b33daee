/* sg_bridge: the authenticated half of a worker (worker.h).
 *
 * Once the client has authenticated, the worker hands its SSH session over.
 * The bridge asks the monitor for a sandbox (SG_MP_START), receives one end
 * of a link to the sandbox's shim (SG_MP_STARTED), and from then on bridges
 * SSH session channels and direct-tcpip forwards to agent channels on that
 * link, in one libssh event loop (docs/architecture.md). Notices (the
 * lifetime warning, why the sandbox ended) come from the shim on the link;
 * exit statuses and signals go back to the client on each channel. */
#ifndef SG_BRIDGE_H
#define SG_BRIDGE_H

#include <libssh/libssh.h>

struct sg_bridge_params {
	ssh_session session;	/* authenticated, still blocking */
	int mon_fd;		/* SOCK_SEQPACKET to the monitor */
	const char *user;	/* the SSH user name that authenticated */
	const char *token;	/* the token name the monitor accepted */
	const char *peer;	/* "ADDR port PORT" for logs */
};

/* Runs the authenticated connection to its end. Never returns: exits the
 * process with 0 after a normal close and 1 after an error. Owns the
 * session and mon_fd; the strings are only read, and the process ends
 * before anyone could free them. */
void sg_bridge_run(const struct sg_bridge_params *p) __attribute__((noreturn));

#endif
