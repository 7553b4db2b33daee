/* sg_notify: tells systemd how sandgated is doing (sd_notify(3)).
 *
 * Under systemd with Type=notify, NOTIFY_SOCKET names where these go;
 * elsewhere every call does nothing. Messages: READY once the service
 * listens, RELOADING and READY around a SIGHUP, STOPPING on the way out,
 * STATUS (one line for `systemctl status`), and WATCHDOG keep-alives when
 * the unit sets WatchdogSec. */
#ifndef SG_NOTIFY_H
#define SG_NOTIFY_H

#include <stdint.h>

/* Reads the watchdog setting (WATCHDOG_USEC for this pid). Call once at
 * start, before any thread. */
void sg_notify_init(void);

/* READY=1 with a STATUS line. */
void sg_notify_ready(const char *status);
/* RELOADING=1 (MONOTONIC_USEC as systemd 253 wants it). */
void sg_notify_reloading(void);
/* STOPPING=1. */
void sg_notify_stopping(void);
/* STATUS=text, only when it differs from the last one sent. */
void sg_notify_status(const char *status);

/* With a watchdog: sends WATCHDOG=1 when half its period has passed since
 * the last one, and returns the milliseconds until the next is due; -1
 * without a watchdog. Call from the main loop each round. */
int64_t sg_notify_watchdog(int64_t now_ms);

#endif
