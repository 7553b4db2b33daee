/* The control socket (mon.h; sandgatectl, docs/protocol.md "Control
 * socket"): root only, one request line, one answer, then the connection
 * closes. Each connection is a small state machine on the loop with a
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
#define CTL_OUT_MAX	(1u << 20)
#define CTL_WAIT_MS	120000	/* for a kill to be done */

int
mon_ctl_open(struct mon *m)
{
	const char *path = m->cfg->control_socket;
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
	if (r < 0 || listen(fd, 64) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	m->ctl_fd = fd;
	return 0;
}

static void
ctl_list(struct mon *m, struct sg_buf *b)
{
	int64_t now = mon_now();
	struct sbx *s;

	sg_buf_putf(b, "%-12s  %-16s  %-12s  %-10s  %8s  %-9s  %s\n", "ID",
	    "TOKEN", "NAME", "IMAGE", "LEFT", "STATE", "DROPPED");
	for (s = m->sbxs; s != NULL; s = s->next) {
		uint64_t pk = 0, by = 0;
		char dropped[64] = "-";
		const char *state;

		if (s->state == SB_DESTROYING)
			continue;
		if (s->has_net && sg_net_counters(m->net, s->id, &pk, &by) == 0)
			snprintf(dropped, sizeof(dropped), "%llu",
			    (unsigned long long)pk);
		if (s->state == SB_CREATING || s->wait_ca)
			state = "starting";
		else if (s->shim_fd < 0)
			state = "restarting";
		else if (!s->shim_ready)
			state = "booting";
		else if (s->nconn > 0)
			state = "connected";
		else
			state = "idle";
		sg_buf_putf(b, "%-12s  %-16s  %-12s  %-10s  %7llds  %-9s  %s\n",
		    s->id, s->token, s->name[0] ? s->name : "-", s->image,
		    (long long)(s->expires - now), state, dropped);
	}
	sg_buf_put(b, "ok\n", 3);
}

static void
ctl_handle(struct mon *m, struct ctlconn *c)
{
	char *sp, *arg, *line = c->line;
	struct sbx *s;

	sp = strchr(line, '\n');
	*sp = '\0';
	arg = strchr(line, ' ');
	if (arg != NULL)
		*arg++ = '\0';
	if (strcmp(line, "list") == 0 && arg == NULL) {
		ctl_list(m, c->out);
	} else if (strcmp(line, "kill") == 0 && arg != NULL) {
		s = mon_sbx_find(m, arg);
		if (s == NULL) {
			sg_buf_putf(c->out, "error: no sandbox %.64s (see "
			    "sandgatectl list)\n", arg);
			return;
		}
		mon_sbx_destroy(m, s, "killed by administrator",
		    SG_NOTICE_KILLED, "killed");
		/* "ok" once it is gone (the job removes it) */
		snprintf(c->wait_id, sizeof(c->wait_id), "%s", s->id);
		c->deadline_ms = sg_mono_ms() + CTL_WAIT_MS;
		return;
	} else if (strcmp(line, "extend") == 0 && arg != NULL) {
		char *dur = strchr(arg, ' ');
		uint64_t secs;

		if (dur != NULL)
			*dur++ = '\0';
		if (dur == NULL || sg_util_parse_duration(dur, &secs) < 0 ||
		    secs == 0) {
			sg_buf_putf(c->out, "error: usage: extend ID DURATION "
			    "(e.g. 30m, 2h)\n");
			return;
		}
		s = mon_sbx_find(m, arg);
		if (s == NULL) {
			sg_buf_putf(c->out, "error: no sandbox %.64s (see "
			    "sandgatectl list)\n", arg);
			return;
		}
		if (mon_sbx_set_expires(m, s, s->expires + (int64_t)secs) < 0)
			sg_warn("sandbox %s: could not record the new expiry "
			    "in libvirt", s->id);
		sg_info("sandbox %s extended by %llus", s->id,
		    (unsigned long long)secs);
		sg_audit("sandbox_extended", "sandbox", s->id, "by", dur, NULL);
		sg_buf_putf(c->out, "ok sandbox %s now ends in %lld s\n", s->id,
		    (long long)(s->expires - mon_now()));
	} else {
		sg_buf_putf(c->out, "error: unknown request (list, kill ID, "
		    "extend ID DURATION)\n");
	}
}

static void
ctl_free(struct ctlconn *c)
{
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
			ctl_free(c);
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
		    cred.uid != 0) {
			sg_buf_putf(c->out, "error: the control socket is for "
			    "root only\n");
			c->done = 1;
		}
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

	if (!c->done && (revents & (POLLIN | POLLHUP | POLLERR))) {
		n = recv(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len,
		    0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			c->deadline_ms = 0;	/* gone: reaped */
			return;
		}
		if (n > 0) {
			c->len += (size_t)n;
			c->line[c->len] = '\0';
			if (memchr(c->line, '\n', c->len) != NULL) {
				ctl_handle(m, c);
				c->done = c->wait_id[0] == '\0';
			} else if (c->len == sizeof(c->line) - 1) {
				sg_buf_putf(c->out, "error: request too long\n");
				c->done = 1;
			}
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

void
mon_ctl_destroyed(struct mon *m, const char *id)
{
	struct ctlconn *c;

	for (c = m->ctls; c != NULL; c = c->next)
		if (c->wait_id[0] != '\0' && strcmp(c->wait_id, id) == 0) {
			c->wait_id[0] = '\0';
			sg_buf_putf(c->out, "ok\n");
			c->done = 1;
		}
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
			ctl_free(c);
			continue;
		}
		pp = &c->next;
	}
}
