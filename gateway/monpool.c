/* monpool: the warm pool ([sandbox] warm_pool).
 *
 * A member is a sandbox of the default shape (the configured image,
 * memory and vCPUs) with no token yet: its token and name are "" in its
 * metadata and here, its network policy allows nothing and the proxy
 * does not know it. It boots like any sandbox, with a shim; once its
 * agent answers, the shim goes and a job pauses the domain (SB_POOLING),
 * and it waits paused, costing memory but no CPU (SB_POOLED).
 *
 * A start of the default shape takes one (monstart.c): its owner and
 * times go into its metadata, its token's policy replaces the empty one
 * (one nftables transaction), it is resumed, and a new shim gives its
 * agent the whole CONFIG (identity, network, environment, CA, the host's
 * clock and fresh entropy) before the user's first byte, as after a
 * resume from hibernation.
 *
 * The pool boots one member at a time, and only while no one's sandbox
 * is starting: a refill never takes a job thread or a boot's CPU from a
 * start. A member that fails holds the refill back for a while. A member
 * found at start (a restart) is removed: its agent connection went with
 * the sandgated that made it, and the pool boots a new one. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "gateway/jobs.h"
#include "gateway/mon.h"
#include "gateway/tokens.h"
#include "gateway/vm.h"

/* --- the targets --- */

/* The image entry i of [sandbox] warm_pool keeps members of. */
static const char *
entry_image(const struct mon *m, size_t i)
{
	return m->cfg->pool[i].image[0] ? m->cfg->pool[i].image : m->cfg->image;
}

/* Members kept of image (entries that name the same image add up). */
static unsigned
target_of(const struct mon *m, const char *image)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < m->cfg->npool; i++)
		if (strcmp(entry_image(m, i), image) == 0)
			n += m->cfg->pool[i].n;
	return n;
}

void
mon_pool_count(struct mon *m, const char *image, unsigned *ret_booting,
    unsigned *ret_ready)
{
	struct sbx *s;

	*ret_booting = *ret_ready = 0;
	for (s = m->sbxs; s != NULL; s = s->next) {
		if (!s->pool || s->state == SB_DESTROYING ||
		    (image != NULL && strcmp(s->image, image) != 0))
			continue;
		if (s->state == SB_POOLED)
			(*ret_ready)++;
		else
			(*ret_booting)++;
	}
}

size_t
mon_pool_images(struct mon *m, const char **ret, size_t max)
{
	size_t i, k, n = 0;

	for (i = 0; i < m->cfg->npool && n < max; i++) {
		for (k = 0; k < n; k++)
			if (strcmp(ret[k], entry_image(m, i)) == 0)
				break;
		if (k == n)
			ret[n++] = entry_image(m, i);
	}
	return n;
}

unsigned
mon_pool_target(struct mon *m, const char *image)
{
	return target_of(m, image);
}

/* No refill of image for a while (every entry that names it). */
static void
backoff(struct mon *m, const char *image)
{
	size_t i;

	for (i = 0; i < m->cfg->npool && i < SG_POOLSPEC_IMAGES; i++)
		if (strcmp(entry_image(m, i), image) == 0)
			m->pool_next_ms[i] = sg_mono_ms() + MON_POOL_BACKOFF_MS;
}

void
mon_pool_failed(struct mon *m, const struct sbx *s)
{
	m->stats.pool_failed++;
	backoff(m, s->image);
}

/* --- a start takes a member --- */

/* The image of a start of a member's shape (the configured memory and
 * vCPUs, no snapshot, no volume), or NULL. */
static const char *
shape_image(struct mon *m, const struct sg_token *tok,
    const struct mon_sbx_opts *o)
{
	const char *image = o->image;
	unsigned mem = o->memory_mb, cpus = o->vcpus;

	if (tok != NULL) {
		if (image == NULL)
			image = sg_tokens_image(tok);
		if (mem == 0)
			mem = sg_tokens_memory_mb(tok);
		if (cpus == 0)
			cpus = sg_tokens_vcpus(tok);
	}
	if (o->image_dir != NULL || o->nvols != 0 ||
	    (mem != 0 && mem != m->cfg->memory_mb) ||
	    (cpus != 0 && cpus != m->cfg->vcpus))
		return NULL;
	return image != NULL ? image : m->cfg->image;
}

struct sbx *
mon_pool_take(struct mon *m, const struct sg_token *tok,
    const struct mon_sbx_opts *o)
{
	const char *image = shape_image(m, tok, o);
	struct sbx *s, *best = NULL;

	if (image == NULL || target_of(m, image) == 0)
		return NULL;
	/* the one that waited longest */
	for (s = m->sbxs; s != NULL; s = s->next)
		if (s->pool && s->state == SB_POOLED &&
		    strcmp(s->image, image) == 0 &&
		    (best == NULL || s->created < best->created))
			best = s;
	if (best == NULL) {
		m->stats.pool_missed++;
		sg_info("warm pool: no member of image %s ready, a cold start "
		    "(the pool refills after it)", image);
		return NULL;
	}
	return best;	/* counted as claimed when its job is done */
}

/* --- a member gets ready --- */

struct pause_job {
	struct mon *m;
	struct sbx *s;		/* kept by s->creating */
	char id[16];
	int r;
	char *err;
};

static void
pooled(struct mon *m, struct sbx *s)
{
	s->state = SB_POOLED;
	m->stats.pool_booted++;
	sg_info("warm pool: sandbox %s of image %s ready (paused)", s->id,
	    s->image);
}

static void
pause_run(void *arg)
{
	struct pause_job *j = arg;
	struct sg_vm_host *h = NULL;

	j->r = mon_vm(j->m, &h, &j->err);
	if (j->r == 0)
		j->r = sg_vm_pause(h, j->id, &j->err);
}

static void
pause_done(void *arg, int cancelled)
{
	struct pause_job *j = arg;
	struct mon *m = j->m;
	struct sbx *s = j->s;

	if (cancelled)
		goto out;
	s->creating = 0;
	if (s->state == SB_DESTROYING) {
		/* killed meanwhile: now it can go */
		mon_sbx_destroy_job(m, s);
		goto out;
	}
	if (j->r < 0) {
		sg_warn("warm pool: cannot pause sandbox %s: %s", s->id,
		    j->err ? j->err : strerror(-j->r));
		mon_sbx_destroy(m, s, "pool member failed", SG_NOTICE_FAILED,
		    "it could not be paused");
		goto out;
	}
	s->pool_paused = 1;
	if (s->shim_fd < 0)
		pooled(m, s);
	/* else once its shim is gone (mon_pool_shim_gone) */
out:
	free(j->err);
	free(j);
}

void
mon_pool_ready(struct mon *m, struct sbx *s)
{
	struct pause_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		mon_sbx_destroy(m, s, "pool member failed", SG_NOTICE_FAILED,
		    "out of memory");
		return;
	}
	j->m = m;
	j->s = s;
	snprintf(j->id, sizeof(j->id), "%s", s->id);
	if (sg_jobs_submit(m->jobs, pause_run, pause_done, j) < 0) {
		free(j);
		mon_sbx_destroy(m, s, "pool member failed", SG_NOTICE_FAILED,
		    "out of memory");
		return;
	}
	s->state = SB_POOLING;
	s->creating = 1;
	s->shim_ready = 0;
	s->pool_paused = 0;
	/* its shim ends (no session is linked to a member); a claim gives
	 * it a new one, which says HELLO and the whole CONFIG again */
	if (s->shim_fd >= 0) {
		sg_buf_reset(m->msg);
		if (sg_buf_put_u8(m->msg, SG_MP_SHIM_DROP) < 0 ||
		    sg_buf_put_u8(m->msg, SG_NOTICE_FAILED) < 0 ||
		    sg_mp_put_str(m->msg, "pooled") < 0 ||
		    mon_shim_send(m, s, m->msg, -1) < 0)
			mon_shim_gone(m, s, "pooled");
	}
}

void
mon_pool_shim_gone(struct mon *m, struct sbx *s)
{
	if (s->state == SB_POOLING && s->pool_paused)
		pooled(m, s);
}

/* --- refill --- */

int64_t
mon_pool_refill(struct mon *m, int64_t next)
{
	struct mon_sbx_opts o;
	unsigned booting, ready;
	int64_t ms = sg_mono_ms();
	const char *image = NULL;
	char reason[600];
	struct sbx *s;
	size_t i;

	if (m->cfg->npool == 0 || !m->adopted || m->quit)
		return next;
	/* one member at a time */
	mon_pool_count(m, NULL, &booting, &ready);
	if (booting > 0)
		return next;
	/* the first image short of members, unless it failed a moment ago */
	for (i = 0; i < m->cfg->npool && i < SG_POOLSPEC_IMAGES; i++) {
		mon_pool_count(m, entry_image(m, i), &booting, &ready);
		if (ready >= target_of(m, entry_image(m, i)))
			continue;
		if (ms < m->pool_next_ms[i]) {
			if (m->pool_next_ms[i] - ms < next)
				next = m->pool_next_ms[i] - ms;
			continue;
		}
		image = entry_image(m, i);
		break;
	}
	if (image == NULL)
		return next;
	/* never ahead of someone's start: looked at again in a second */
	for (s = m->sbxs; s != NULL; s = s->next)
		if (!s->pool && (s->state == SB_CREATING ||
		    s->state == SB_RESUMING || s->create_ms != 0))
			return next < 1000 ? next : 1000;
	memset(&o, 0, sizeof(o));
	o.pool = 1;
	o.token = "";
	o.name = "";
	o.image = image;
	o.source = "warm pool";
	o.peer = "warm pool";
	reason[0] = '\0';
	if (mon_sbx_create(m, &o, &s, reason, sizeof(reason)) < 0) {
		sg_warn("warm pool: cannot boot a member of image %s: %s "
		    "(trying again in %d s)", image, reason,
		    MON_POOL_BACKOFF_MS / 1000);
		m->stats.pool_failed++;
		backoff(m, image);
	}
	return next;
}
