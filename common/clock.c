/* sg_clock: see clock.h. */
#include "config.h"

#include <time.h>

#include "common/clock.h"

int64_t
sg_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
