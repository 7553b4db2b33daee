/* ag_xport: where the host's byte stream comes from.
 *
 * In the guest: the virtio-serial port named org.sandgate.agent.0, opened
 * once and kept open for the agent's whole life (closing and reopening it
 * stalls host-to-guest data), and, where AF_VSOCK works, a listener on
 * vsock port AG_XPORT_VSOCK_PORT. For tests: a path given with --port (a
 * device, FIFO or file opened once, or a unix socket connected to and
 * reconnected when it drops) or a unix socket listened on (--listen-unix).
 *
 * A connection accepted on a listener replaces the previous one and is
 * used until it ends; then the permanent port (if any) is used again. The
 * session only ever sees one descriptor at a time (ag_xport_current). */
#ifndef AG_XPORT_H
#define AG_XPORT_H

#include <stdint.h>

struct ag_poll;
struct ag_xport;

#define AG_XPORT_PORT_NAME	"org.sandgate.agent.0"
#define AG_XPORT_VSOCK_PORT	1024u

struct ag_xport_opts {
	const char *port_path;		/* --port, or NULL to search */
	const char *listen_unix;	/* --listen-unix, or NULL */
	int search;			/* look for the virtio port and vsock */
};

int ag_xport_new(const struct ag_xport_opts *o, struct ag_xport **ret);
void ag_xport_free(struct ag_xport *x);

/* Adds the listeners and the next retry deadline to the poll set. */
int ag_xport_poll(struct ag_xport *x, struct ag_poll *p);
/* Accepts new connections and retries the port search after a poll.
 * Returns 1 when ag_xport_current changed, 0 when not, or -errno for a
 * fatal error. */
int ag_xport_run(struct ag_xport *x, struct ag_poll *p, int64_t now);
/* The descriptor the session should use now, or -1. */
int ag_xport_current(const struct ag_xport *x);
/* Closes fd if it is a connection (vsock, unix socket): 1 when it was
 * and ag_xport_current changed, 0 for the permanent port (kept open). */
int ag_xport_close_conn(struct ag_xport *x, int fd, int64_t now);
/* The session's descriptor fd reached end of file or failed. Returns 1
 * when ag_xport_current changed, or 0 when the same descriptor stays (the
 * virtio port: the host side is not connected) and the session should
 * leave it alone until *ret_resume. */
int ag_xport_lost(struct ag_xport *x, int fd, int64_t now,
    int64_t *ret_resume);

#endif
