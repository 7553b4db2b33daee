/* The monitor's sandbox table (mon.h): lifetimes, idle ends, destruction
 * (a job), adoption of what libvirt runs, and each sandbox's policy. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/allow.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/strv.h"
#include "common/util.h"
#include "gateway/audit.h"
#include "gateway/jobs.h"
#include "gateway/mon.h"
#include "gateway/pxctl.h"
#include "gateway/tokens.h"
#include "gateway/vm.h"

#define DNS_RETRY_MS	2000

struct sbx *
mon_sbx_find(struct mon *m, const char *id)
{
	struct sbx *s;

	for (s = m->sbxs; s != NULL; s = s->next)
		if (s->state != SB_DESTROYING && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

unsigned
mon_sbx_count_token(struct mon *m, const char *token)
{
	struct sbx *s;
	unsigned n = 0;

	for (s = m->sbxs; s != NULL; s = s->next)
		if (s->state != SB_DESTROYING && strcmp(s->token, token) == 0)
			n++;
	return n;
}

void
mon_sbx_free(struct sbx *s)
{
	if (s == NULL)
		return;
	if (s->shim_fd >= 0)
		close(s->shim_fd);
	if (s->agent_fd >= 0)
		close(s->agent_fd);
	sg_mpq_free(s->shimq);
	free(s->token);
	free(s->name);
	free(s->image);
	free(s->image_dir);
	free(s->reason);
	sg_allow_free(s->allow);
	sg_strv_free(s->allow_ent, s->nallow);
	sg_strv_free(s->ph_name, s->nph);
	sg_strv_free(s->ph_value, s->nph);
	sg_strv_free(s->env, s->nenv);
	free(s->ex);
	free(s);
}

/* --- destruction --- */

#define DESTROY_GRACE_MS 10000	/* a guest's sync of its volumes */

struct destroy_job {
	struct mon *m;
	struct sbx *s;
	char id[16];
	int grace;		/* its guest syncs and powers off: wait a bit */
	int gone;		/* grace: what the wait gave */
	int r;
	char *err;
};

static void
destroy_run(void *arg)
{
	struct destroy_job *j = arg;
	struct sg_vm_host *h = NULL;

	j->r = mon_vm(j->m, &h, &j->err);
	if (j->r == 0 && j->grace)
		j->gone = sg_vm_wait_gone(h, j->id, DESTROY_GRACE_MS);
	if (j->r == 0)
		j->r = sg_vm_destroy(h, j->id, j->m->cfg->state_dir, &j->err);
}

static void
destroy_done(void *arg, int cancelled)
{
	struct destroy_job *j = arg;
	struct mon *m = j->m;
	struct sbx *s = j->s, **pp;

	if (j->grace && m->ngrace > 0)
		m->ngrace--;
	if (cancelled)
		goto out;
	if (j->grace && j->gone == 0)
		sg_info("sandbox %s: its guest synced its volumes and powered "
		    "off", s->id);
	else if (j->grace)
		sg_warn("sandbox %s: its guest did not power off in %d s: "
		    "stopped, what it had not written to its volumes is lost",
		    s->id, DESTROY_GRACE_MS / 1000);
	if (j->r < 0)
		sg_warn("sandbox %s: could not destroy it cleanly: %s", s->id,
		    j->err ? j->err : strerror(-j->r));
	if (s->reason == NULL)
		s->reason = strdup("?");
	if (s->has_net)
		sg_net_del(m->net, s->id);
	mon_vol_release(m, s);
	sg_info("sandbox %s destroyed (%s)", s->id, s->reason);
	sg_audit("sandbox_destroyed", "sandbox", s->id, "token", s->pool ?
	    NULL : s->token, "reason", s->reason, NULL);
	mon_api_gone(m, s->id);
	for (pp = &m->sbxs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	mon_sbx_free(s);
out:
	free(j->err);
	free(j);
}

/* Queues the job that removes the domain and the files of s, which is
 * SB_DESTROYING; its completion forgets s. */
void
mon_sbx_destroy_job(struct mon *m, struct sbx *s)
{
	struct destroy_job *j = calloc(1, sizeof(*j));

	if (j != NULL) {
		j->m = m;
		j->s = s;
		j->grace = s->poweroff_sent;
		snprintf(j->id, sizeof(j->id), "%s", s->id);
	}
	if (j == NULL || sg_jobs_submit(m->jobs, destroy_run, destroy_done,
	    j) < 0) {
		/* no job: the next sandgated finds it and sweeps it */
		sg_err("sandbox %s: cannot queue its destruction: out of "
		    "memory", s->id);
		free(j);
	}
}

void
mon_sbx_destroy(struct mon *m, struct sbx *s, const char *reason,
    uint8_t kind, const char *text)
{
	struct mworker *w;

	if (s->state == SB_DESTROYING)
		return;
	/* a member lost on its own (not killed, not a restart's, not
	 * expired): the pool waits before it boots the next */
	if (s->pool && strcmp(reason, "killed by administrator") != 0 &&
	    strcmp(reason, "pool member left by a restart") != 0 &&
	    strcmp(reason, "max_lifetime") != 0) {
		mon_pool_failed(m, s);
	}
	mon_lcount_add(&m->stats.destroyed, reason);
	if (!s->shim_ready && s->create_ms != 0 &&
	    strcmp(reason, "agent not ready") == 0)
		m->stats.start_fail_boot++;
	s->create_ms = 0;
	s->reason = strdup(reason);
	/* the sessions hear why from the shim, which then ends; what a
	 * sandbox wrote to a volume must reach the disk: its agent syncs
	 * and powers off (one message: the shim must not end between two),
	 * and the job waits for that a moment */
	if (s->shim_fd >= 0) {
		int off = s->shim_ready && mon_vol_writes(s) &&
		    m->ngrace < MON_GRACE_MAX;

		if (s->shim_ready && mon_vol_writes(s) && !off)
			sg_warn("sandbox %s: %u destroys wait for their guests "
			    "already: its guest is not given time to sync its "
			    "volumes", s->id, m->ngrace);
		sg_buf_reset(m->msg);
		if (sg_buf_put_u8(m->msg, off ? SG_MP_SHIM_POWEROFF :
		    SG_MP_SHIM_DROP) == 0 &&
		    sg_buf_put_u8(m->msg, kind) == 0 &&
		    sg_mp_put_str(m->msg, text) == 0 &&
		    mon_shim_send(m, s, m->msg, -1) >= 0 && off) {
			s->poweroff_sent = 1;
			m->ngrace++;
		}
	}
	mon_start_fail_waiting(m, s, text);
	for (w = m->workers; w != NULL; w = w->next)
		if (w->sbx == s)
			w->sbx = NULL;
	if (s->has_net)
		mon_proxy_drop(m, s->id);
	mon_front_drop(m, s);
	s->state = SB_DESTROYING;
	/* a domain being made is removed once its job is done */
	if (!s->creating)
		mon_sbx_destroy_job(m, s);
}

/* --- policy --- */

/* One "opt KEY N" line of the record: what the sandbox was made with. */
static void
sbx_record_opt(struct sbx *s, const char *line)
{
	uint64_t v;
	const char *sp = strchr(line, ' ');

	/* a snapshot's folder, where its kernel is (monsnap.c) */
	if (strncmp(line, "image_dir /", 11) == 0 && s->image_dir == NULL) {
		s->image_dir = strdup(line + 10);
		return;
	}
	/* a port it exposes (monfront.c) */
	if (strncmp(line, "expose ", 7) == 0) {
		if (mon_front_record_parse(s, line) < 0)
			sg_warn("sandbox %s: a recorded exposed port is not "
			    "valid: %.80s", s->id, line);
		return;
	}
	/* a volume it mounts (monvol.c) */
	if (strncmp(line, "volume ", 7) == 0) {
		if (mon_vol_record_parse(s, line) < 0)
			sg_warn("sandbox %s: a recorded volume is not valid: %.80s",
			    s->id, line);
		return;
	}
	if (sp == NULL || sg_util_parse_uint(sp + 1, 1, UINT32_MAX, &v) < 0)
		return;
	if (strncmp(line, "memory_mb ", 10) == 0)
		s->memory_mb = (unsigned)v;
	else if (strncmp(line, "vcpus ", 6) == 0)
		s->vcpus = (unsigned)v;
	else if (strncmp(line, "idle_timeout ", 13) == 0)
		s->idle_s = v;
}

/* Splits the recorded lines of an adopted sandbox: "secret NAME PH"
 * lines are its placeholders, "env KEY=VALUE" its environment, "opt KEY
 * N" its settings, the others its allow_net. */
static int
sbx_split_record(struct sbx *s)
{
	size_t i, k = 0;
	char *sp, *sp2;

	s->ph_name = calloc(s->nallow + 1, sizeof(char *));
	s->ph_value = calloc(s->nallow + 1, sizeof(char *));
	s->env = calloc(s->nallow + 1, sizeof(char *));
	if (s->ph_name == NULL || s->ph_value == NULL || s->env == NULL)
		return -ENOMEM;
	for (i = 0; i < s->nallow; i++) {
		if (strncmp(s->allow_ent[i], "env ", 4) == 0) {
			s->env[s->nenv] = strdup(s->allow_ent[i] + 4);
			if (s->env[s->nenv] != NULL)
				s->nenv++;
			free(s->allow_ent[i]);
			continue;
		}
		if (strncmp(s->allow_ent[i], "opt ", 4) == 0) {
			sbx_record_opt(s, s->allow_ent[i] + 4);
			free(s->allow_ent[i]);
			continue;
		}
		if (strncmp(s->allow_ent[i], "secret ", 7) != 0) {
			s->allow_ent[k++] = s->allow_ent[i];
			continue;
		}
		sp = s->allow_ent[i] + 7;
		sp2 = strchr(sp, ' ');
		if (sp2 != NULL && strlen(sp2 + 1) == SG_PXC_PH_LEN) {
			s->ph_name[s->nph] = strndup(sp, (size_t)(sp2 - sp));
			s->ph_value[s->nph] = strdup(sp2 + 1);
			if (s->ph_name[s->nph] == NULL ||
			    s->ph_value[s->nph] == NULL) {
				free(s->ph_name[s->nph]);
				free(s->ph_value[s->nph]);
				free(s->allow_ent[i]);
				s->nallow = k;
				return -ENOMEM;
			}
			s->nph++;
		}
		free(s->allow_ent[i]);
	}
	s->nallow = k;
	return 0;
}

/* New placeholders for each secret of the token, and the lines that
 * record them. */
static int
want_secret(const struct mon_sbx_opts *o, const char *name)
{
	size_t i;

	if (o == NULL || !o->has_secrets)
		return 1;
	for (i = 0; i < o->nsecrets; i++)
		if (strcmp(o->secrets[i], name) == 0)
			return 1;
	return 0;
}

/* The lines that record what it was made with (after its placeholders). */
static int
sbx_record_lines(const struct sbx *s, char ***ret, size_t *ret_n)
{
	char **v = calloc(s->nenv + s->nvols + s->nex + 5, sizeof(char *));
	size_t n = 0, i;

	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < s->nenv; i++)
		if (asprintf(&v[n++], "env %s", s->env[i]) < 0)
			goto nomem;
	if (asprintf(&v[n++], "opt memory_mb %u", s->memory_mb) < 0 ||
	    asprintf(&v[n++], "opt vcpus %u", s->vcpus) < 0)
		goto nomem;
	if (s->idle_s != 0 && asprintf(&v[n++], "opt idle_timeout %llu",
	    (unsigned long long)s->idle_s) < 0)
		goto nomem;
	if (s->image_dir != NULL && asprintf(&v[n++], "opt image_dir %s",
	    s->image_dir) < 0)
		goto nomem;
	for (i = 0; i < s->nvols; i++)
		if (asprintf(&v[n++], "opt volume %s %s %s", s->vols[i].name,
		    s->vols[i].ro ? "ro" : "rw", s->vols[i].path) < 0)
			goto nomem;
	if (mon_front_record_lines(s, v, &n) < 0)
		goto nomem;
	*ret = v;
	*ret_n = n;
	return 0;
nomem:
	v[n - 1] = NULL;
	sg_strv_free(v, n - 1);
	return -ENOMEM;
}

static int
sbx_new_placeholders(struct sbx *s, const struct sg_token *tok,
    const struct mon_sbx_opts *o, char ***ret_lines)
{
	size_t n = tok ? sg_tokens_secret_count(tok) : 0, i, k = 0;
	char **lines;

	s->ph_name = calloc(n + 1, sizeof(char *));
	s->ph_value = calloc(n + 1, sizeof(char *));
	lines = calloc(n + 1, sizeof(char *));
	if (s->ph_name == NULL || s->ph_value == NULL || lines == NULL) {
		free(lines);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		char ph[SG_PXC_PH_LEN + 1];

		if (!want_secret(o, sg_tokens_secret_name(tok, i)))
			continue;
		if (sg_pxc_placeholder(ph, sizeof(ph)) < 0 ||
		    (s->ph_name[k] = strdup(sg_tokens_secret_name(tok, i))) == NULL ||
		    (s->ph_value[k] = strdup(ph)) == NULL ||
		    asprintf(&lines[k], "secret %s %s", s->ph_name[k], ph) < 0) {
			free(s->ph_name[k]);
			free(s->ph_value[k]);
			s->ph_name[k] = s->ph_value[k] = NULL;
			sg_strv_free(lines, k);
			return -ENOMEM;
		}
		s->nph++;
		k++;
	}
	*ret_lines = lines;
	return 0;
}

/* The sandbox's network: its token's allow_net (none if the token is
 * gone) or the narrower list of o, then tap and rules, new or (adopt) as
 * recorded. */
int
mon_sbx_net_setup(struct mon *m, struct sbx *s, int mode,
    const struct mon_sbx_opts *o, char **ret_err)
{
	const struct sg_token *tok = s->pool ? NULL :
	    sg_tokens_find(m->tokens, s->token);
	size_t n = tok ? sg_tokens_allow_net_count(tok) : 0, i, nx = 0;
	char **rec = NULL, **lines = NULL, **extra = NULL;
	int adopt = mode == MON_NET_ADOPT, r;

	*ret_err = NULL;
	if (m->net == NULL)
		return 0;
	if (mode == MON_NET_CLAIM) {
		/* a pool member's empty policy makes way for its token's */
		sg_allow_free(s->allow);
		s->allow = NULL;
		sg_strv_free(s->allow_ent, s->nallow);
		s->allow_ent = NULL;
		s->nallow = 0;
		sg_strv_free(s->ph_name, s->nph);
		sg_strv_free(s->ph_value, s->nph);
		s->ph_name = s->ph_value = NULL;
		s->nph = 0;
	}
	/* An adopted sandbox keeps the policy it was made with, not what
	 * its token says now, and its placeholders. */
	if (adopt && sg_net_recorded_allow(m->net, s->id, &s->allow_ent,
	    &s->nallow) == 0) {
		n = 0;
		if ((r = sbx_split_record(s)) < 0)
			return r;
	}
	if (!adopt && o != NULL && o->has_allow)
		n = o->nallow;
	if (n > 0) {
		s->allow_ent = calloc(n, sizeof(*s->allow_ent));
		if (s->allow_ent == NULL)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			s->allow_ent[i] = strdup(o != NULL && o->has_allow ?
			    o->allow[i] : sg_tokens_allow_net_at(tok, i));
			if (s->allow_ent[i] == NULL)
				return -ENOMEM;
			s->nallow++;
		}
	}
	if (!adopt && (r = sbx_new_placeholders(s, tok, o, &lines)) < 0)
		return r;
	if (!adopt && (r = sbx_record_lines(s, &extra, &nx)) < 0)
		goto out;
	r = sg_allow_parse((const char *const *)s->allow_ent, s->nallow,
	    &s->allow, ret_err);
	if (r < 0)
		goto out;
	/* recorded: allow_net, then the placeholders, then the settings */
	rec = calloc(s->nallow + s->nph + nx + 1, sizeof(char *));
	if (rec == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s->nallow; i++)
		rec[i] = s->allow_ent[i];
	for (i = 0; lines != NULL && i < s->nph; i++)
		rec[s->nallow + i] = lines[i];
	for (i = 0; i < nx; i++)
		rec[s->nallow + (lines != NULL ? s->nph : 0) + i] = extra[i];
	if (mode == MON_NET_CLAIM)
		r = sg_net_update(m->net, s->id, s->allow,
		    (const char *const *)rec, s->nallow + (lines != NULL ?
		    s->nph : 0) + nx, ret_err);
	else
		r = sg_net_add(m->net, s->id, s->allow,
		    (const char *const *)rec, s->nallow + (lines != NULL ?
		    s->nph : 0) + nx, adopt, &s->na, ret_err);
	if (r == 0) {
		s->has_net = 1;
		mon_proxy_sandbox(m, s);
		if (s->nex > 0)
			mon_front_sandbox(m, s);
	}
out:
	free(rec);
	sg_strv_free(lines, lines != NULL ? s->nph : 0);
	sg_strv_free(extra, nx);
	return r;
}

/* Its record written again from what it holds now: allow_net, the
 * placeholders, the settings (a port exposed or unexposed). */
int
mon_sbx_rerecord(struct mon *m, struct sbx *s)
{
	char **rec = NULL, **extra = NULL, *err = NULL;
	size_t nx = 0, i, k = 0;
	int r;

	if (m->net == NULL || !s->has_net)
		return 0;
	if ((r = sbx_record_lines(s, &extra, &nx)) < 0)
		return r;
	rec = calloc(s->nallow + s->nph + nx + 1, sizeof(char *));
	if (rec == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s->nallow; i++)
		rec[k++] = s->allow_ent[i];
	for (i = 0; i < s->nph; i++) {
		if (asprintf(&rec[k], "secret %s %s", s->ph_name[i],
		    s->ph_value[i]) < 0) {
			rec[k] = NULL;
			r = -ENOMEM;
			goto out;
		}
		k++;
	}
	for (i = 0; i < nx; i++)
		rec[k++] = extra[i];
	r = sg_net_rerecord(m->net, s->id, (const char *const *)rec, k, &err);
	if (r < 0)
		sg_err("%s", err ? err : strerror(-r));
	free(err);
out:
	if (rec != NULL)
		for (i = s->nallow; i < s->nallow + s->nph; i++)
			free(rec[i]);
	free(rec);
	sg_strv_free(extra, nx);
	return r;
}

/* A named sandbox's idle timeout: its token's, or the global one. */
uint64_t
mon_sbx_idle(struct mon *m, struct sbx *s)
{
	const struct sg_token *tok = sg_tokens_find(m->tokens, s->token);

	if (s->idle_s != 0)
		return s->idle_s;
	if (tok != NULL && sg_tokens_idle_timeout(tok) != 0)
		return sg_tokens_idle_timeout(tok);
	return m->cfg->idle_timeout_s;
}

const char *
mon_sbx_state_name(const struct sbx *s)
{
	if (s->pool && s->state != SB_DESTROYING)
		return s->state == SB_POOLED ? "pooled" : "pooling";
	if (s->state == SB_HIBERNATING)
		return "hibernating";
	if (s->state == SB_HIBERNATED)
		return "hibernated";
	if (s->state == SB_RESUMING)
		return "resuming";
	if (s->state == SB_CREATING || s->wait_ca)
		return "starting";
	if (s->shim_fd < 0)
		return "restarting";
	if (!s->shim_ready)
		return "booting";
	return s->nconn > 0 ? "connected" : "idle";
}

int64_t
mon_sbx_end(struct mon *m, struct sbx *s, int *ret_idle)
{
	int64_t end = s->expires, idle;

	if (ret_idle != NULL)
		*ret_idle = 0;
	if (s->state == SB_HIBERNATED) {
		idle = s->hibernated_at + (int64_t)m->cfg->max_hibernated_s;
		return idle < end ? idle : end;
	}
	/* one hibernated before its idle end is not ended by it */
	if (s->name[0] != '\0' && s->nconn == 0 && s->shim_known &&
	    (mon_hib_after(m, s) == 0 ||
	    mon_hib_after(m, s) >= mon_sbx_idle(m, s))) {
		idle = s->idle_since + (int64_t)mon_sbx_idle(m, s);
		if (idle < end) {
			end = idle;
			if (ret_idle != NULL)
				*ret_idle = 1;
		}
	}
	return end;
}

/* --- the new expiry of an extended sandbox, recorded in libvirt --- */

struct expires_job {
	struct mon *m;
	char id[16];
	int64_t expires;
	int r;
	char *err;
};

static void
expires_run(void *arg)
{
	struct expires_job *j = arg;
	struct sg_vm_host *h = NULL;

	j->r = mon_vm(j->m, &h, &j->err);
	if (j->r == 0)
		j->r = sg_vm_set_expires(h, j->id, j->expires, &j->err);
}

static void
expires_done(void *arg, int cancelled)
{
	struct expires_job *j = arg;

	if (!cancelled && j->r < 0)
		sg_warn("sandbox %s: could not record the new expiry in "
		    "libvirt (a restart of sandgated would use the old one): %s",
		    j->id, j->err ? j->err : strerror(-j->r));
	free(j->err);
	free(j);
}

int
mon_sbx_set_expires(struct mon *m, struct sbx *s, int64_t expires)
{
	struct expires_job *j;

	s->expires = expires;
	/* its create job writes the metadata now (a claim rewrites all of
	 * it, a restore puts back what was saved): create_done writes the
	 * new expiry once that is done */
	if (s->state == SB_CREATING || s->state == SB_RESUMING)
		return 0;
	sg_buf_reset(m->msg);
	if (s->shim_fd >= 0 && sg_buf_put_u8(m->msg, SG_MP_SHIM_EXPIRES) == 0 &&
	    sg_buf_put_u64(m->msg, (uint64_t)expires) == 0)
		(void)mon_shim_send(m, s, m->msg, -1);
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->m = m;
	j->expires = expires;
	snprintf(j->id, sizeof(j->id), "%s", s->id);
	if (sg_jobs_submit(m->jobs, expires_run, expires_done, j) < 0) {
		free(j);
		return -ENOMEM;
	}
	return 0;
}

/* --- timers --- */

/* Lifetime ends, idle named sandboxes, shims to start again, DNS to hand
 * over. Returns the milliseconds until the next thing to do. */
int64_t
mon_sbx_timers(struct mon *m)
{
	int64_t now = mon_now(), next = 60000, ms = sg_mono_ms();
	struct sbx *s, *nx;

	for (s = m->sbxs; s != NULL; s = nx) {
		nx = s->next;
		if (s->state == SB_HIBERNATED) {
			next = mon_hib_timers(m, s, now, next);
			continue;
		}
		if (s->state != SB_RUNNING)
			continue;
		if (now >= s->expires) {
			mon_sbx_destroy(m, s, "max_lifetime", SG_NOTICE_EXPIRED,
			    "expired");
			continue;
		}
		/* idle for hibernate_after: saved, before idle_timeout ends it */
		next = mon_hib_timers(m, s, now, next);
		if (s->state != SB_RUNNING)
			continue;
		if (s->name[0] != '\0' && s->nconn == 0 && s->shim_known &&
		    now >= s->idle_since + (int64_t)mon_sbx_idle(m, s)) {
			mon_sbx_destroy(m, s, "idle_timeout", SG_NOTICE_FAILED,
			    "idle");
			continue;
		}
		if (s->shim_restart_ms != 0) {
			if (ms >= s->shim_restart_ms)
				mon_shim_restart(m, s);
			else if (s->shim_restart_ms - ms < next)
				next = s->shim_restart_ms - ms;
		}
		if (s->dns_pending && s->shim_fd >= 0) {
			mon_shim_dns(m, s);
			if (s->dns_pending && DNS_RETRY_MS < next)
				next = DNS_RETRY_MS;
		}
		if ((s->expires - now) * 1000 < next)
			next = (s->expires - now) * 1000;
		if (s->name[0] != '\0' && s->nconn == 0 && s->shim_known &&
		    (s->idle_since + (int64_t)mon_sbx_idle(m, s) - now) * 1000 < next)
			next = (s->idle_since + (int64_t)mon_sbx_idle(m, s) - now) * 1000;
	}
	next = mon_pool_refill(m, next);
	return next < 0 ? 0 : next;
}

/* --- adoption --- */

struct adopt_job {
	struct mon *m;
	struct sg_vm_info *info;
	size_t n;
	struct sg_vm_info *hib;		/* hibernated ones (monhib.c) */
	int64_t *saved;
	size_t nhib;
	int r, cleaned;
	char *err, *clean_err;
	int *unpaused;		/* per info: 1 resumed, -1 could not be */
};

static void
adopt_run(void *arg)
{
	struct adopt_job *j = arg;
	struct sg_vm_host *h = NULL;

	j->r = mon_vm(j->m, &h, &j->err);
	/* before any sandbox is started (no START is served until this
	 * is done): a folder of a domain being made is not a leftover; and
	 * before the listing: a save a sandgated before us began is waited
	 * for (its domain ends), so that it is found hibernated */
	if (j->r == 0)
		j->cleaned = sg_vm_cleanup_leftovers(h, j->m->cfg->state_dir,
		    &j->clean_err);
	if (j->r == 0)
		j->r = sg_vm_list(h, &j->info, &j->n, &j->err);
	/* a token's sandbox left paused (a snapshot's copy, a claim or a
	 * start that a dead sandgated did not finish) runs on: resumed
	 * here, before any command can touch it */
	if (j->r == 0 && j->n > 0 &&
	    (j->unpaused = calloc(j->n, sizeof(int))) != NULL) {
		size_t i;

		for (i = 0; i < j->n; i++) {
			char dir[PATH_MAX];
			struct stat st;

			snprintf(dir, sizeof(dir), "%s/sandboxes/%s",
			    j->m->cfg->state_dir, j->info[i].id);
			if (j->info[i].token[0] == '\0' ||
			    strcmp(j->info[i].state, "paused") != 0 ||
			    stat(dir, &st) < 0)
				continue;
			j->unpaused[i] = sg_vm_unpause(h, j->info[i].id,
			    NULL) == 0 ? 1 : -1;
		}
	}
	if (j->r == 0)
		(void)sg_vm_hibernated_list(j->m->cfg->state_dir, &j->hib,
		    &j->saved, &j->nhib);
}

static int
sbx_alive(void *arg, const char *id)
{
	return mon_sbx_find(arg, id) != NULL;
}

struct sbx *
mon_sbx_adopt_info(struct mon *m, const struct sg_vm_info *v,
    enum sbx_state state)
{
	char *err = NULL;
	struct sbx *s;

	if (mon_sbx_find(m, v->id) != NULL)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->shim_fd = -1;
	s->agent_fd = -1;
	snprintf(s->id, sizeof(s->id), "%s", v->id);
	s->token = strdup(v->token);
	s->name = strdup(v->name);
	s->image = strdup(v->image);
	if (s->token == NULL || s->name == NULL || s->image == NULL) {
		mon_sbx_free(s);
		return NULL;
	}
	s->state = state;
	s->pool = v->token[0] == '\0';	/* a warm pool member */
	s->created = v->created;
	s->expires = v->expires;
	s->idle_since = mon_now();
	s->next = m->sbxs;
	m->sbxs = s;
	if (mon_sbx_net_setup(m, s, MON_NET_ADOPT, NULL, &err) < 0) {
		/* Fail closed: whatever is left of its network goes. */
		sg_warn("sandbox %s: its network: %s; it has none now",
		    s->id, err ? err : "cannot set it up");
		free(err);
		if (m->net != NULL)
			sg_net_del(m->net, s->id);
	}
	return s;
}

static void
adopt_one(struct mon *m, const struct sg_vm_info *v, int unpaused)
{
	char dir[PATH_MAX];
	struct stat st;
	struct sbx *s;

	/* Another sandgated on this host (its own state_dir) may run
	 * sandboxes too: adopt only those whose files are ours. */
	snprintf(dir, sizeof(dir), "%s/sandboxes/%s", m->cfg->state_dir, v->id);
	if (stat(dir, &st) < 0)
		return;
	s = mon_sbx_adopt_info(m, v, SB_RUNNING);
	if (s == NULL)
		return;
	if (s->pool) {
		/* a warm pool member of a sandgated before us: its agent
		 * connection went with it; the pool boots a new one */
		sg_info("warm pool: sandbox %s of an earlier sandgated (%s): "
		    "removed", s->id, v->state);
		(void)mon_shim_adopt(m, s);
		mon_sbx_destroy(m, s, "pool member left by a restart",
		    SG_NOTICE_FAILED, "the gateway restarted");
		return;
	}
	{
		char dur[SG_UTIL_DURATION_BUFSZ];
		int64_t left = s->expires - mon_now();

		if (sg_util_format_duration((uint64_t)(left > 0 ? left : 0),
		    dur, sizeof(dur)) < 0)
			snprintf(dur, sizeof(dur), "?");
		sg_info("sandbox %s adopted (token %s, ends in %s)", s->id,
		    s->token, dur);
	}
	sg_audit("sandbox_adopted", "sandbox", s->id, "token", s->token, NULL);
	if (unpaused > 0)
		sg_info("sandbox %s was left paused (a snapshot, a claim or a "
		    "start cut short): resumed", s->id);
	else if (unpaused < 0)
		sg_warn("sandbox %s was left paused and cannot be resumed "
		    "(libvirt's log says why): kill it", s->id);
	if (mon_shim_adopt(m, s) == 0)
		return;
	/* No shim: its sessions ended while no monitor ran. A fresh
	 * sandbox ends with them; a named one gets a new shim. */
	if (s->name[0] == '\0')
		mon_sbx_destroy(m, s, "disconnected", SG_NOTICE_FAILED,
		    "its connection ended");
	else
		mon_shim_restart(m, s);
}

static void
adopt_done(void *arg, int cancelled)
{
	struct adopt_job *j = arg;
	struct mon *m = j->m;
	size_t i;

	m->adopting = 0;
	if (cancelled)
		goto out;
	if (j->r < 0) {
		sg_warn("cannot list running sandboxes: %s (trying again)",
		    j->err ? j->err : strerror(-j->r));
		free(m->vm_err);
		m->vm_err = j->err;
		j->err = NULL;
		m->next_adopt_ms = sg_mono_ms() + 5000;
		goto out;
	}
	free(m->vm_err);
	m->vm_err = NULL;
	for (i = 0; i < j->n; i++)
		adopt_one(m, &j->info[i], j->unpaused ? j->unpaused[i] : 0);
	mon_hib_adopt(m, j->hib, j->nhib, j->saved);
	if (m->net != NULL)
		sg_net_sweep(m->net, sbx_alive, m);
	mon_shim_sweep(m);
	if (j->cleaned < 0)
		sg_warn("cannot remove leftovers of old sandboxes: %s",
		    j->clean_err ? j->clean_err : strerror(-j->cleaned));
	m->adopted = 1;
	sg_info("%zu sandboxes running (libvirt)", j->n);
	mon_proxy_start(m);
	mon_front_sandbox(m, NULL);
	mon_front_start(m);
out:
	sg_vm_info_free(j->info);
	free(j->unpaused);
	free(j->hib);
	free(j->saved);
	free(j->err);
	free(j->clean_err);
	free(j);
}

/* Lists libvirt's sandboxes and adopts ours: at start (then in one go,
 * before any connection is served) and, while libvirt is unreachable,
 * again until it works. */
void
mon_sbx_adopt(struct mon *m)
{
	struct adopt_job *j;

	if (m->adopted || m->adopting || sg_mono_ms() < m->next_adopt_ms)
		return;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return;
	j->m = m;
	m->adopting = 1;
	if (sg_jobs_submit(m->jobs, adopt_run, adopt_done, j) < 0) {
		m->adopting = 0;
		free(j);
	}
}
