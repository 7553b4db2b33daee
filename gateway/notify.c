/* sg_notify: see notify.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "gateway/notify.h"

static int64_t wd_half_ms = -1;	/* half the watchdog period; -1: none */
static int64_t wd_last_ms;
static char last_status[256];

void
sg_notify_init(void)
{
	uint64_t usec = 0;

	/* unset_environment 0: the value stays for a re-exec */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		wd_half_ms = (int64_t)(usec / 2000);
		sg_info("systemd watchdog: a keep-alive every %lld ms",
		    (long long)wd_half_ms);
	}
}

static void
notify_send(const char *msg)
{
	int r = sd_notify(0, msg);

	if (r < 0)
		sg_warn("cannot notify systemd (%s): %s", msg, strerror(-r));
}

static void
set_status(const char *status, char *line, size_t size, const char *head)
{
	snprintf(last_status, sizeof(last_status), "%s", status);
	snprintf(line, size, "%sSTATUS=%s", head, last_status);
}

void
sg_notify_ready(const char *status)
{
	char line[512];

	set_status(status, line, sizeof(line), "READY=1\n");
	notify_send(line);
}

void
sg_notify_reloading(void)
{
	struct timespec ts;
	char line[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(line, sizeof(line), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	notify_send(line);
}

void
sg_notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=stopping");
}

void
sg_notify_status(const char *status)
{
	char line[512];

	if (strcmp(status, last_status) == 0)
		return;
	set_status(status, line, sizeof(line), "");
	notify_send(line);
}

int64_t
sg_notify_watchdog(int64_t now_ms)
{
	if (wd_half_ms < 0)
		return -1;
	if (now_ms - wd_last_ms >= wd_half_ms) {
		notify_send("WATCHDOG=1");
		wd_last_ms = now_ms;
	}
	return wd_last_ms + wd_half_ms - now_ms;
}
