/* The control commands (docs/control.md): whoami, ls, create, info,
 * extend, kill, help, run in the monitor for root's control socket
 * (monctl.c) and for a token holder's `ssh sandgate@host COMMAND`
 * (monwork.c, worker side ctlsess.c). Private to the monitor (mon.h).
 *
 * A call is owned by whoever asked; it ends with out, err and status
 * set and its done callback run. create and kill wait (for the agent to
 * answer, for the domain to be gone) while the loop serves everyone
 * else; their owner may go first and clears the call. */
#ifndef SG_MONAPI_H
#define SG_MONAPI_H

#include <stddef.h>
#include <stdint.h>

struct mon;
struct sbx;
struct sg_buf;

enum mon_call_wait {
	CALL_NONE,
	CALL_WAIT_READY,	/* create: its agent answers */
	CALL_WAIT_GONE,		/* kill: it is destroyed */
	CALL_WAIT_JOB,		/* snapshot: its job ends (wait_id: a serial) */
};

struct mon_call {
	struct mon_call *next;		/* on m->calls while it waits */
	char *token;			/* the caller's token; NULL: root */
	char source[64];		/* the caller's address, for the audit */
	struct sg_buf *out, *err;
	int status;			/* exit status; -1 while it runs */
	int json;
	enum mon_call_wait wait;
	char wait_id[16];
	int64_t deadline_ms;
	void (*done)(struct mon *m, struct mon_call *c);
	void *owner;
};

/* Sets c up for a caller (token NULL: root). Returns 0 or -ENOMEM. */
int mon_call_init(struct mon_call *c, const char *token,
    void (*done)(struct mon *, struct mon_call *), void *owner);
/* Forgets c (also while it waits); its done callback is not run. */
void mon_call_clear(struct mon *m, struct mon_call *c);

/* Runs one command string (len bytes; longer: the caller cut it). Its
 * done callback runs now or once what it waits for happens. */
void mon_api_run(struct mon *m, struct mon_call *c, const char *line,
    size_t len, int longer);

/* For the commands kept in files of their own (monsnap.c). */
struct sg_ctla;
struct sg_token;
void mon_call_fail(struct mon *m, struct mon_call *c, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void mon_call_finish(struct mon *m, struct mon_call *c, int status);
/* The call that waits for the job of serial (CALL_WAIT_JOB), or NULL
 * (its client left). */
struct mon_call *mon_call_job(struct mon *m, const char *serial);
/* The SANDBOX document of s (docs/control.md) into b. */
void mon_api_sbx_json(struct mon *m, struct sg_buf *b, struct sbx *s);
/* Puts c on the waiting list until wait/id happens or ms pass. */
void mon_call_wait(struct mon *m, struct mon_call *c, enum mon_call_wait wait,
    const char *id, int64_t ms);
/* The caller's sandbox q->name (root: an id, or a name with --token or
 * of one token only); NULL after failing c. */
struct sbx *mon_api_lookup(struct mon *m, struct mon_call *c,
    const struct sg_ctla *q);
/* The caller's token (root: --token); NULL after failing c. */
const struct sg_token *mon_api_token(struct mon *m, struct mon_call *c,
    const struct sg_ctla *q);

/* Events the waiting calls hear of. */
void mon_api_ready(struct mon *m, struct sbx *s);
void mon_api_failed(struct mon *m, struct sbx *s, const char *why);
void mon_api_gone(struct mon *m, const char *id);
/* Ends the calls past their deadline; returns ms to the next one. */
int64_t mon_api_timers(struct mon *m);

#endif
