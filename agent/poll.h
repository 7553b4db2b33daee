/* ag_poll: the agent's one event loop wait, a poll() set rebuilt every
 * turn plus the nearest deadline.
 *
 * Each turn the owners of descriptors add them (and remember the index
 * they got back), call ag_poll_wait, then look at their revents. Rebuilding
 * is cheap at the agent's scale (a few thousand descriptors at most) and
 * keeps "who wants what" in one place: the state of each channel. */
#ifndef AG_POLL_H
#define AG_POLL_H

#include <stdint.h>

struct ag_poll;

#define AG_POLL_NEVER	INT64_MAX

int ag_poll_new(struct ag_poll **ret);
void ag_poll_free(struct ag_poll *p);
/* Empties the set and forgets the deadline. */
void ag_poll_reset(struct ag_poll *p);
/* Adds fd with events; returns its index (for ag_poll_revents), or -1
 * when fd is negative or events is 0 (ag_poll_revents(-1) is 0), or
 * -ENOMEM. */
int ag_poll_add(struct ag_poll *p, int fd, short events);
/* Wakes the next wait no later than at (CLOCK_MONOTONIC ms). */
void ag_poll_deadline(struct ag_poll *p, int64_t at);
/* Waits for an event or the deadline. Returns 0 or -errno (EINTR is
 * returned as 0). */
int ag_poll_wait(struct ag_poll *p);
short ag_poll_revents(const struct ag_poll *p, int idx);

#endif
