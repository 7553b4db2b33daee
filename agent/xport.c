/* ag_xport: see xport.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "common/clock.h"
#include "agent/poll.h"
#include "agent/xport.h"
#include "common/log.h"

#define XPORT_SYSFS		"/sys/class/virtio-ports"
#define XPORT_FAST_MS		5	/* retry while the guest boots */
#define XPORT_FAST_FOR_MS	10000
#define XPORT_SLOW_MS		500
#define XPORT_HUP_MS		20	/* host side of the port not open: */
#define XPORT_HUP_MAX_MS	200	/* look again, backing off to this */
#define XPORT_RECONNECT_MS	100

struct ag_xport {
	char *port_path;	/* --port */
	int port_is_socket;	/* --port names a unix socket: reconnect */
	int search;		/* looking for the virtio port */
	int64_t search_start;
	int search_warned;
	int perm_fd;		/* virtio port or --port device: never closed */
	int conn_fd;		/* accepted or connected socket, or -1 */
	int conn_is_port;	/* conn_fd came from --port (reconnect) */
	int vsock_fd;		/* listeners, or -1 */
	int unix_fd;
	int vsock_idx, unix_idx;
	int64_t retry_at;	/* next search or reconnect, or NEVER */
	int64_t hup_at;		/* when the port last had no host */
	int64_t hup_ms;		/* how long to leave it alone then */
};

/* Listens on a unix socket at path, replacing a stale socket file. */
static int
xport_listen_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Listens on vsock port AG_XPORT_VSOCK_PORT, any CID. Returns the fd or
 * -errno (EAFNOSUPPORT without a vsock transport). */
static int
xport_listen_vsock(void)
{
	struct sockaddr_vm sa;
	int fd, r;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.svm_family = AF_VSOCK;
	sa.svm_cid = VMADDR_CID_ANY;
	sa.svm_port = AG_XPORT_VSOCK_PORT;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Connects to the unix socket at path without blocking for long (a
 * listening peer answers at once). */
static int
xport_connect_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Looks through sysfs for the port named AG_XPORT_PORT_NAME and opens
 * its device. Returns the fd, -ENOENT when it is not there (yet), or
 * -errno. */
static int
xport_find_vport(void)
{
	char path[PATH_MAX], name[128];
	struct dirent *de;
	ssize_t n;
	DIR *d;
	int fd, r = -ENOENT;

	d = opendir(XPORT_SYSFS);
	if (d == NULL)
		return -ENOENT;
	for (de = readdir(d); de != NULL; de = readdir(d)) {
		if (strncmp(de->d_name, "vport", 5) != 0)
			continue;
		if (snprintf(path, sizeof(path), XPORT_SYSFS "/%s/name",
		    de->d_name) >= (int)sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (n <= 0)
			continue;	/* the host has not named it yet */
		name[n] = '\0';
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, AG_XPORT_PORT_NAME) != 0)
			continue;
		if (snprintf(path, sizeof(path), "/dev/%s", de->d_name) >=
		    (int)sizeof(path))
			continue;
		fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		sg_info("using virtio-serial port %s (%s)", path, name);
		r = fd;
		break;
	}
	closedir(d);
	return r;
}

/* Opens the --port path: a socket is connected to, anything else opened
 * for reading and writing. */
static int
xport_open_port(struct ag_xport *x, int64_t now)
{
	struct stat st;
	int fd;

	if (stat(x->port_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		x->port_is_socket = 1;
		fd = xport_connect_unix(x->port_path);
		if (fd < 0) {
			x->retry_at = now + XPORT_RECONNECT_MS;
			return 0;
		}
		x->conn_fd = fd;
		x->conn_is_port = 1;
		x->retry_at = AG_POLL_NEVER;
		return 1;
	}
	fd = open(x->port_path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		/* Not there yet: a socket that is still to be made. */
		x->retry_at = now + XPORT_RECONNECT_MS;
		return 0;
	}
	x->perm_fd = fd;
	x->retry_at = AG_POLL_NEVER;
	return 1;
}

int
ag_xport_new(const struct ag_xport_opts *o, struct ag_xport **ret)
{
	struct ag_xport *x;
	int64_t now = sg_mono_ms();
	int r;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	x->perm_fd = x->conn_fd = x->vsock_fd = x->unix_fd = -1;
	x->retry_at = AG_POLL_NEVER;
	if (o->port_path != NULL) {
		x->port_path = strdup(o->port_path);
		if (x->port_path == NULL) {
			r = -ENOMEM;
			goto fail;
		}
		r = xport_open_port(x, now);
		if (r < 0) {
			sg_err("cannot open %s: %s", o->port_path, strerror(-r));
			goto fail;
		}
	}
	if (o->listen_unix != NULL) {
		r = xport_listen_unix(o->listen_unix);
		if (r < 0) {
			sg_err("cannot listen on %s: %s", o->listen_unix,
			    strerror(-r));
			goto fail;
		}
		x->unix_fd = r;
	}
	if (o->search) {
		x->search = 1;
		x->search_start = now;
		x->retry_at = now;
		r = xport_listen_vsock();
		if (r >= 0) {
			x->vsock_fd = r;
			sg_info("listening on vsock port %u", AG_XPORT_VSOCK_PORT);
		} else {
			sg_debug("no vsock: %s", strerror(-r));
		}
	}
	*ret = x;
	return 0;
fail:
	ag_xport_free(x);
	return r;
}

void
ag_xport_free(struct ag_xport *x)
{
	if (x == NULL)
		return;
	if (x->perm_fd >= 0)
		close(x->perm_fd);
	if (x->conn_fd >= 0)
		close(x->conn_fd);
	if (x->vsock_fd >= 0)
		close(x->vsock_fd);
	if (x->unix_fd >= 0)
		close(x->unix_fd);
	free(x->port_path);
	free(x);
}

int
ag_xport_current(const struct ag_xport *x)
{
	return x->conn_fd >= 0 ? x->conn_fd : x->perm_fd;
}

int
ag_xport_poll(struct ag_xport *x, struct ag_poll *p)
{
	x->vsock_idx = ag_poll_add(p, x->vsock_fd, POLLIN);
	x->unix_idx = ag_poll_add(p, x->unix_fd, POLLIN);
	if (x->vsock_idx == -ENOMEM || x->unix_idx == -ENOMEM)
		return -ENOMEM;
	ag_poll_deadline(p, x->retry_at);
	return 0;
}

/* Accepts one connection on a listener; it replaces the current one. */
static int
xport_accept(struct ag_xport *x, int lfd, const char *what)
{
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return 0;	/* gone already, or out of descriptors */
	if (x->conn_fd >= 0) {
		sg_info("new %s connection replaces the previous one", what);
		close(x->conn_fd);
	} else {
		sg_info("host connected over %s", what);
	}
	x->conn_fd = fd;
	x->conn_is_port = 0;
	return 1;
}

int
ag_xport_run(struct ag_xport *x, struct ag_poll *p, int64_t now)
{
	int changed = 0, r;

	if (ag_poll_revents(p, x->vsock_idx) & POLLIN)
		changed |= xport_accept(x, x->vsock_fd, "vsock");
	if (ag_poll_revents(p, x->unix_idx) & POLLIN)
		changed |= xport_accept(x, x->unix_fd, "unix socket");
	if (now < x->retry_at)
		return changed;
	if (x->port_path != NULL) {
		r = xport_open_port(x, now);
		return r < 0 ? r : changed | r;
	}
	if (!x->search || x->perm_fd >= 0)
		return changed;
	r = xport_find_vport();
	if (r >= 0) {
		x->perm_fd = r;
		x->retry_at = AG_POLL_NEVER;
		return changed | (x->conn_fd < 0);
	}
	/* Look often while the guest boots, unless the host already came
	 * over vsock. */
	if (now - x->search_start < XPORT_FAST_FOR_MS && x->conn_fd < 0) {
		x->retry_at = now + XPORT_FAST_MS;
	} else {
		if (!x->search_warned && x->vsock_fd < 0)
			sg_warn("no virtio-serial port named %s yet; still "
			    "looking (is the guest's virtio_console module in "
			    "the image?)", AG_XPORT_PORT_NAME);
		x->search_warned = 1;
		x->retry_at = now + XPORT_SLOW_MS;
	}
	return changed;
}

int
ag_xport_close_conn(struct ag_xport *x, int fd, int64_t now)
{
	if (fd < 0 || fd != x->conn_fd)
		return 0;
	close(x->conn_fd);
	x->conn_fd = -1;
	if (x->conn_is_port)
		x->retry_at = now + XPORT_RECONNECT_MS;
	sg_info("host connection closed");
	return 1;
}

int
ag_xport_lost(struct ag_xport *x, int fd, int64_t now, int64_t *ret_resume)
{
	if (ag_xport_close_conn(x, fd, now))
		return 1;
	/* The virtio port reports end of file for as long as no host is
	 * connected: look again soon after a real session ended, then less
	 * and less often. */
	if (x->hup_ms == 0 || now - x->hup_at > 5 * XPORT_HUP_MAX_MS)
		x->hup_ms = XPORT_HUP_MS;
	else
		x->hup_ms = x->hup_ms * 2 < XPORT_HUP_MAX_MS ?
		    x->hup_ms * 2 : XPORT_HUP_MAX_MS;
	x->hup_at = now;
	*ret_resume = now + x->hup_ms;
	return 0;
}
