/* The control socket (mon.h; sandgatectl, docs/protocol.md "Control
 * socket"): root only, one command line (monapi.c runs it), one framed
 * answer, then the connection closes. Each connection is a small state machine on the loop with a
 * deadline: a client that sends nothing, or does not read, holds no one
 * up. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/util.h"
#include "gateway/audit.h"
#include "gateway/mon.h"

#define CTL_DEADLINE_MS	5000
#define CTL_OUT_MAX	(2u << 20)
#define CTL_WAIT_MS	200000	/* for a create or kill to be done */

int
mon_unix_listen(const char *path, int backlog, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(path);
	old = umask(0077);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, backlog) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int
mon_ctl_open(struct mon *m)
{
	return mon_unix_listen(m->cfg->control_socket, 64, &m->ctl_fd);
}

/* The answer, framed: "out N\n" N bytes, "err N\n" N bytes, "exit S\n". */
static void
ctl_done(struct mon *m, struct mon_call *call)
{
	struct ctlconn *c = call->owner;

	(void)m;
	sg_buf_reset(c->out);
	sg_buf_putf(c->out, "out %zu\n", sg_buf_len(call->out));
	sg_buf_put(c->out, sg_buf_data(call->out), sg_buf_len(call->out));
	sg_buf_putf(c->out, "err %zu\n", sg_buf_len(call->err));
	sg_buf_put(c->out, sg_buf_data(call->err), sg_buf_len(call->err));
	sg_buf_putf(c->out, "exit %d\n", call->status);
	c->running = 0;
	c->done = 1;
	c->deadline_ms = sg_mono_ms() + CTL_DEADLINE_MS;
}

/* A refusal before any command runs (not root, a line too long). */
static void
ctl_refuse(struct ctlconn *c, const char *msg)
{
	char text[256];
	int n = snprintf(text, sizeof(text), "sandgated: %s", msg);

	sg_buf_reset(c->out);
	sg_buf_putf(c->out, "out 0\nerr %d\n%sexit 1\n", n, text);
	c->done = 1;
}

static void
ctl_handle(struct mon *m, struct ctlconn *c)
{
	char *nl = memchr(c->line, '\n', c->len);

	if (mon_call_init(&c->call, NULL, ctl_done, c) < 0) {
		ctl_refuse(c, "the gateway is out of memory\n");
		return;
	}
	c->running = 1;
	/* create and kill may wait for the sandbox (a create up to its
	 * boot timeout and more) */
	c->deadline_ms = sg_mono_ms() + CTL_WAIT_MS +
	    (int64_t)m->cfg->boot_timeout_s * 1000;
	mon_api_run(m, &c->call, c->line, (size_t)(nl - c->line), 0);
}

static void
ctl_free(struct mon *m, struct ctlconn *c)
{
	if (c->call.out != NULL)
		mon_call_clear(m, &c->call);
	close(c->fd);
	sg_buf_free(c->out);
	free(c);
}

void
mon_ctl_accept(struct mon *m)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct ctlconn *c;
	int fd, i;

	for (i = 0; i < 16; i++) {
		fd = accept4(m->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		c = m->nctls < MON_MAX_CTL ? calloc(1, sizeof(*c)) : NULL;
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->out = sg_buf_new(CTL_OUT_MAX);
		c->deadline_ms = sg_mono_ms() + CTL_DEADLINE_MS;
		if (c->out == NULL) {
			ctl_free(m, c);
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
		    cred.uid != 0)
			ctl_refuse(c, "the control socket is for root only\n");
		c->next = m->ctls;
		m->ctls = c;
		m->nctls++;
	}
}

/* Reads the request, answers, writes the answer out. */
void
mon_ctl_io(struct mon *m, struct ctlconn *c, short revents)
{
	ssize_t n;

	if (c->running && (revents & (POLLHUP | POLLERR))) {
		/* gone while its command waits: forgotten (the command's
		 * effect stands), not polled again and again */
		c->deadline_ms = 0;
		return;
	}
	if (!c->done && !c->running &&
	    (revents & (POLLIN | POLLHUP | POLLERR))) {
		n = recv(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len,
		    0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			c->deadline_ms = 0;	/* gone: reaped */
			return;
		}
		if (n > 0) {
			c->len += (size_t)n;
			c->line[c->len] = '\0';
			if (memchr(c->line, '\n', c->len) != NULL)
				ctl_handle(m, c);
			else if (c->len == sizeof(c->line) - 1)
				ctl_refuse(c, "the command is longer than 8192 "
				    "bytes\n");
		}
	}
	if (c->done && sg_buf_len(c->out) > 0) {
		n = send(c->fd, sg_buf_data(c->out), sg_buf_len(c->out),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			sg_buf_consume(c->out, (size_t)n);
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			c->deadline_ms = 0;
	}
	if (c->done && sg_buf_len(c->out) == 0)
		c->deadline_ms = 0;
}

/* Frees the finished connections and those past their deadline. */
void
mon_ctl_reap(struct mon *m)
{
	struct ctlconn **pp = &m->ctls, *c;
	int64_t now = sg_mono_ms();

	while ((c = *pp) != NULL) {
		if (now >= c->deadline_ms) {
			*pp = c->next;
			m->nctls--;
			ctl_free(m, c);
			continue;
		}
		pp = &c->next;
	}
}
