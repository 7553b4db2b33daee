/* Hibernation (mon.h, docs/control.md): a named sandbox saved to disk
 * with its memory, by `hibernate NAME` or once it has been idle for
 * hibernate_after, and resumed by the next connection with its processes
 * and files.
 *
 * A hibernating sandbox's shim ends its sessions and goes; a job has
 * libvirt save the guest into the sandbox's folder (sg_vm_hibernate) and
 * its domain ends. Its network, its record and its folder stay, so it
 * outlives sandgated (adopted from the folder at start, mon_hib_adopt)
 * and libvirtd. A connection to it resumes it (monstart.c: the create job
 * with resume set): libvirt restores the guest, or, when its memory is
 * lost or does not restore, it boots again from its disk; then a new shim
 * gives its agent a new CONFIG (the clock, fresh entropy) and the
 * connection is linked. Its lifetime keeps counting while it sleeps, and
 * max_hibernated bounds the sleep. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/proto.h"
#include "common/util.h"
#include "gateway/audit.h"
#include "gateway/ctlargs.h"
#include "gateway/jobs.h"
#include "gateway/mon.h"
#include "gateway/tokens.h"
#include "gateway/vm.h"

#define HIB_WAIT_MS (10 * 60 * 1000)	/* a large guest's memory */

struct hib_job {
	struct mon *m;
	struct sbx *s;
	char id[16];
	char serial[16];		/* a waiting call's wait_id, or "" */
	char *why;
	int r;
	char *err;
};

static unsigned hib_serial;

static const char *
label(const struct sbx *s)
{
	return s->name[0] ? s->name : s->id;
}

uint64_t
mon_hib_after(struct mon *m, const struct sbx *s)
{
	const struct sg_token *tok = sg_tokens_find(m->tokens, s->token);

	if (tok != NULL && sg_tokens_hibernate_after(tok) != 0)
		return sg_tokens_hibernate_after(tok);
	return m->cfg->hibernate_after_s;
}

/* 0 when state_dir has room for s's memory (its size and a margin), else
 * -ENOSPC and why: the save would fail after its sessions ended. */
static int
has_room(struct mon *m, const struct sbx *s, char *why, size_t whysz)
{
	struct statvfs sv;
	uint64_t need = ((uint64_t)s->memory_mb + 64) << 20, have;

	if (statvfs(m->cfg->state_dir, &sv) < 0)
		return 0;	/* the save will tell */
	have = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (have >= need)
		return 0;
	snprintf(why, whysz, "the gateway is out of disk space (%llu MiB free, "
	    "its memory takes up to %u MiB)", (unsigned long long)(have >> 20),
	    s->memory_mb);
	return -ENOSPC;
}

static int
has_waiting(struct mon *m, const struct sbx *s)
{
	struct mworker *w;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->state == W_WAITING && w->sbx == s)
			return 1;
	return 0;
}

static void
hib_run(void *arg)
{
	struct hib_job *j = arg;
	struct sg_vm_host *h = NULL;

	j->r = mon_vm(j->m, &h, &j->err);
	if (j->r == 0)
		j->r = sg_vm_hibernate(h, j->id, j->m->cfg->state_dir, &j->err);
}

static void
hib_done(void *arg, int cancelled)
{
	struct hib_job *j = arg;
	struct mon *m = j->m;
	struct sbx *s = j->s;
	struct mon_call *c;
	char reason[600];

	if (m->nhib > 0)
		m->nhib--;
	if (cancelled)
		goto out;
	c = j->serial[0] ? mon_call_job(m, j->serial) : NULL;
	s->creating = 0;
	if (s->state == SB_DESTROYING) {
		/* killed while it was being saved */
		mon_sbx_destroy_job(m, s);
		if (c != NULL)
			mon_call_fail(m, c, "failed", "sandbox %s was destroyed "
			    "while it was being hibernated", label(s));
		goto out;
	}
	if (j->r < 0) {
		/* the guest runs on; its sessions ended: a new shim */
		sg_warn("sandbox %s could not be hibernated: %s", s->id,
		    j->err ? j->err : strerror(-j->r));
		s->state = SB_RUNNING;
		s->idle_since = mon_now();	/* not again at once */
		mon_shim_restart(m, s);
		if (c != NULL)
			mon_call_fail(m, c, "failed", "sandbox %s could not be "
			    "hibernated: %s; it runs on", label(s),
			    j->r == -ENOSPC ? "the gateway is out of disk space" :
			    "the gateway's log says why");
		goto out;
	}
	s->state = SB_HIBERNATED;
	s->hibernated_at = mon_now();
	mon_hib_extend(m, s);	/* extended while it was being saved */
	sg_info("sandbox %s hibernated (%s)", s->id, j->why);
	sg_audit("sandbox_hibernated", "sandbox", s->id, "token", s->token,
	    "reason", j->why, NULL);
	m->stats.hibernated++;
	if (c != NULL) {
		if (c->json) {
			mon_api_sbx_json(m, c->out, s);
			sg_buf_putf(c->out, "\n");
		} else {
			sg_buf_putf(c->out, "%s is hibernated: ssh %s@HOST resumes "
			    "it\n", label(s), label(s));
		}
		mon_call_finish(m, c, 0);
	}
	/* someone connected while it was being saved */
	if (has_waiting(m, s) &&
	    mon_sbx_resume(m, s, reason, sizeof(reason)) < 0)
		mon_start_fail_waiting(m, s, reason);
out:
	free(j->why);
	free(j->err);
	free(j);
}

int
mon_sbx_hibernate(struct mon *m, struct sbx *s, const char *why,
    struct mon_call *c)
{
	struct hib_job *j;
	struct mworker *w;
	char text[300];

	if (m->nhib >= MON_HIB_MAX)
		return -EBUSY;
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->why = strdup(why)) == NULL) {
		free(j);
		return -ENOMEM;
	}
	j->m = m;
	j->s = s;
	snprintf(j->id, sizeof(j->id), "%s", s->id);
	if (c != NULL)
		snprintf(j->serial, sizeof(j->serial), "h%u", ++hib_serial);
	if (sg_jobs_submit(m->jobs, hib_run, hib_done, j) < 0) {
		free(j->why);
		free(j);
		return -ENOMEM;
	}
	m->nhib++;
	/* its sessions end (they hear why) and its shim goes */
	snprintf(text, sizeof(text), "sandbox %s was hibernated (%s): ssh "
	    "%s@HOST resumes it", label(s), why, label(s));
	if (s->shim_fd >= 0) {
		sg_buf_reset(m->msg);
		if (sg_buf_put_u8(m->msg, SG_MP_SHIM_DROP) == 0 &&
		    sg_buf_put_u8(m->msg, SG_NOTICE_FAILED) == 0 &&
		    sg_mp_put_str(m->msg, text) == 0)
			(void)mon_shim_send(m, s, m->msg, -1);
	}
	for (w = m->workers; w != NULL; w = w->next)
		if (w->sbx == s)
			w->sbx = NULL;
	sg_info("sandbox %s: hibernating (%s)", s->id, why);
	s->state = SB_HIBERNATING;
	s->creating = 1;
	s->shim_ready = 0;
	s->nconn = 0;
	if (c != NULL)
		mon_call_wait(m, c, CALL_WAIT_JOB, j->serial, HIB_WAIT_MS);
	return 0;
}

void
mon_hib_cmd(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	struct sbx *s = mon_api_lookup(m, c, q);
	char why[200];
	int r;

	if (s == NULL)
		return;
	if (s->name[0] == '\0') {
		mon_call_fail(m, c, "refused", "sandbox %s is a sandbox@ one: "
		    "only a named sandbox is hibernated", s->id);
		return;
	}
	if (s->state == SB_HIBERNATED || s->state == SB_HIBERNATING) {
		mon_call_fail(m, c, "refused", "sandbox %s is %s already",
		    label(s), mon_sbx_state_name(s));
		return;
	}
	if (s->state != SB_RUNNING || !s->shim_ready || s->shim_fd < 0 ||
	    mon_snap_copying(m, s->id)) {
		mon_call_fail(m, c, "refused", "sandbox %s is %s: try again "
		    "once it runs", label(s), mon_snap_copying(m, s->id) ?
		    "being snapshotted" : mon_sbx_state_name(s));
		return;
	}
	if (has_room(m, s, why, sizeof(why)) < 0) {
		mon_call_fail(m, c, "failed", "sandbox %s cannot be hibernated: "
		    "%s; it runs on", label(s), why);
		return;
	}
	r = mon_sbx_hibernate(m, s, c->token ? "hibernate by its token" :
	    "hibernate by administrator", c);
	if (r == -EBUSY)
		mon_call_fail(m, c, "unavailable", "%u sandboxes are being "
		    "hibernated: try again in a moment", m->nhib);
	else if (r < 0)
		mon_call_fail(m, c, "unavailable", "the gateway is out of memory");
}

void
mon_hib_resumed(struct mon *m, struct sbx *s, int cold, const char *why)
{
	int64_t slept = s->hibernated_at ? mon_now() - s->hibernated_at : 0;

	s->idle_since = mon_now();
	s->shim_known = 0;
	m->stats.resumed++;
	if (cold) {
		sg_warn("sandbox %s: its memory could not be restored (%s): "
		    "booted again from its disk", s->id, why ? why : "?");
		sg_audit("sandbox_resumed", "sandbox", s->id, "token", s->token,
		    "memory", "lost", NULL);
		m->stats.resumed_cold++;
	} else {
		sg_info("sandbox %s resumed after %llds hibernated", s->id,
		    (long long)slept);
		sg_audit("sandbox_resumed", "sandbox", s->id, "token", s->token,
		    NULL);
	}
	s->hibernated_at = 0;
}

int64_t
mon_hib_timers(struct mon *m, struct sbx *s, int64_t now, int64_t next)
{
	uint64_t after;
	int64_t at;

	if (s->state == SB_HIBERNATED) {
		if (now >= s->expires) {
			mon_sbx_destroy(m, s, "max_lifetime", SG_NOTICE_EXPIRED,
			    "expired");
			return next;
		}
		at = s->hibernated_at + (int64_t)m->cfg->max_hibernated_s;
		if (now >= at) {
			mon_sbx_destroy(m, s, "max_hibernated", SG_NOTICE_EXPIRED,
			    "hibernated too long");
			return next;
		}
		if (at < s->expires && (at - now) * 1000 < next)
			next = (at - now) * 1000;
		else if ((s->expires - now) * 1000 < next)
			next = (s->expires - now) * 1000;
		return next;
	}
	after = mon_hib_after(m, s);
	if (s->state != SB_RUNNING || after == 0 || s->name[0] == '\0' ||
	    s->nconn > 0 || !s->shim_known || !s->shim_ready ||
	    s->shim_fd < 0 || mon_snap_copying(m, s->id))
		return next;
	at = s->idle_since + (int64_t)after;
	if (now >= at) {
		char why[200] = "out of memory";

		int r = has_room(m, s, why, sizeof(why));

		if (r == 0)
			r = mon_sbx_hibernate(m, s, "hibernate_after", NULL);
		if (r == -EBUSY)
			return next < 1000 ? next : 1000;	/* soon again */
		if (r < 0) {
			/* tried again after as long */
			sg_warn("sandbox %s: cannot hibernate it: %s", s->id, why);
			s->idle_since = now;
		}
		return next;
	}
	return (at - now) * 1000 < next ? (at - now) * 1000 : next;
}

void
mon_hib_extend(struct mon *m, struct sbx *s)
{
	struct sg_vm_info v;
	int64_t saved;

	if (sg_vm_hibernated_read(m->cfg->state_dir, s->id, &v, &saved) < 0)
		return;
	v.expires = s->expires;
	if (sg_vm_hibernated_write(m->cfg->state_dir, &v) < 0)
		sg_warn("sandbox %s: could not record its new expiry (a restart "
		    "of sandgated would use the old one)", s->id);
}

/* One hibernated sandbox found at start: its record and its network. */
static void
adopt_one(struct mon *m, const struct sg_vm_info *v, int64_t saved)
{
	struct sbx *s = mon_sbx_adopt_info(m, v, SB_HIBERNATED);

	if (s == NULL)
		return;
	s->hibernated_at = saved != 0 ? saved : mon_now();
	sg_info("sandbox %s adopted, hibernated (token %s)", s->id, s->token);
	sg_audit("sandbox_adopted", "sandbox", s->id, "token", s->token,
	    "state", "hibernated", NULL);
}

void
mon_hib_adopt(struct mon *m, const struct sg_vm_info *v, size_t n,
    const int64_t *saved)
{
	size_t i;

	for (i = 0; i < n; i++)
		adopt_one(m, &v[i], saved[i]);
}
