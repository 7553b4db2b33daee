/* ag_poll: see poll.h. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "agent/poll.h"

struct ag_poll {
	struct pollfd *fds;
	size_t n, cap;
	int64_t deadline;
};


int
ag_poll_new(struct ag_poll **ret)
{
	struct ag_poll *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->deadline = AG_POLL_NEVER;
	*ret = p;
	return 0;
}

void
ag_poll_free(struct ag_poll *p)
{
	if (p == NULL)
		return;
	free(p->fds);
	free(p);
}

void
ag_poll_reset(struct ag_poll *p)
{
	p->n = 0;
	p->deadline = AG_POLL_NEVER;
}

int
ag_poll_add(struct ag_poll *p, int fd, short events)
{
	struct pollfd *nf;
	size_t ncap;

	if (fd < 0 || events == 0)
		return -1;
	if (p->n == p->cap) {
		ncap = p->cap ? p->cap * 2 : 64;
		nf = realloc(p->fds, ncap * sizeof(*nf));
		if (nf == NULL)
			return -ENOMEM;
		p->fds = nf;
		p->cap = ncap;
	}
	p->fds[p->n].fd = fd;
	p->fds[p->n].events = events;
	p->fds[p->n].revents = 0;
	return (int)p->n++;
}

void
ag_poll_deadline(struct ag_poll *p, int64_t at)
{
	if (at < p->deadline)
		p->deadline = at;
}

int
ag_poll_wait(struct ag_poll *p)
{
	int64_t now, left;
	int timeout = -1;

	if (p->deadline != AG_POLL_NEVER) {
		now = sg_mono_ms();
		left = p->deadline > now ? p->deadline - now : 0;
		timeout = left > 60000 ? 60000 : (int)left;
	}
	if (poll(p->fds, p->n, timeout) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

short
ag_poll_revents(const struct ag_poll *p, int idx)
{
	if (idx < 0 || (size_t)idx >= p->n)
		return 0;
	return p->fds[idx].revents;
}
