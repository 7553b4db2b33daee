/* sg_clock: the monotonic clock, for deadlines and durations.
 *
 * Wall-clock time (time(NULL)) is for timestamps people read; every
 * timeout and "how long since" uses this clock, which never jumps. */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC (since an arbitrary start). */
int64_t sg_mono_ms(void);

#endif
