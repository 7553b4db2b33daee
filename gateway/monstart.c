/* A worker's START (mon.h): the token's named sandbox, or a new one made
 * by a job off the loop, and a link from the worker to the sandbox's
 * shim. Starts run in parallel; a worker whose sandbox is not ready waits
 * (W_WAITING) while the loop serves everyone else. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/util.h"
#include "gateway/audit.h"
#include "gateway/jobs.h"
#include "gateway/mon.h"
#include "gateway/tokens.h"
#include "gateway/vm.h"

static void
start_fail(struct mon *m, struct mworker *w, const char *reason)
{
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_START_FAIL) == 0 &&
	    sg_mp_put_str(m->msg, reason) == 0)
		(void)mon_worker_send(m, w, m->msg, -1);
	sg_warn("%s: sandbox could not be started: %s", w->peer, reason);
	w->state = W_RUNNING;
	w->sbx = NULL;
}

/* A link from w to s's shim: one end to the shim, the other to w. */
static void
link_worker(struct mon *m, struct mworker *w, struct sbx *s)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		start_fail(m, w, "the gateway is out of file descriptors: try "
		    "again");
		return;
	}
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_SHIM_LINK) < 0 ||
	    mon_shim_send(m, s, m->msg, sp[0]) < 0) {
		close(sp[0]);
		close(sp[1]);
		start_fail(m, w, "cannot reach the sandbox's shim: try again");
		return;
	}
	close(sp[0]);
	w->state = W_RUNNING;
	w->sbx = s;
	s->had_conn = 1;
	sg_buf_reset(m->msg);
	if (sg_buf_put_u8(m->msg, SG_MP_STARTED) < 0 ||
	    sg_mp_put_str(m->msg, s->id) < 0 ||
	    sg_mp_put_str(m->msg, s->image) < 0 ||
	    sg_buf_put_u64(m->msg, (uint64_t)s->expires) < 0 ||
	    sg_buf_put_u32(m->msg, (uint32_t)(m->cfg->boot_timeout_s * 1000)) < 0 ||
	    mon_worker_send(m, w, m->msg, sp[1]) < 0)
		sg_warn("%s: could not hand the sandbox to the worker", w->peer);
	close(sp[1]);
}

void
mon_start_links(struct mon *m, struct sbx *s)
{
	struct mworker *w;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->state == W_WAITING && w->sbx == s)
			link_worker(m, w, s);
}

void
mon_start_fail_waiting(struct mon *m, struct sbx *s, const char *why)
{
	struct mworker *w;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->state == W_WAITING && w->sbx == s)
			start_fail(m, w, why);
	mon_api_failed(m, s, why);
}

/* --- a new sandbox --- */

/* What the client hears of a start that failed on the host: the detail
 * (host paths, what the operator should fix) is the log's; the client
 * gets the kind of failure and the sandbox id to quote to the operator. */
static void
client_reason(const char *id, int r, char *out, size_t size)
{
	const char *why;

	switch (r) {
	case -ENOENT:
		why = "its image is not installed on this gateway";
		break;
	case -ETIMEDOUT:
		why = "it did not boot in time";
		break;
	case -ENOSPC:
	case -EDQUOT:
		why = "the gateway is out of disk space";
		break;
	case -ENOMEM:
		why = "the gateway is out of memory";
		break;
	case -ECONNREFUSED:
	case -ENOTCONN:
		why = "the gateway cannot reach libvirt";
		break;
	case -EAGAIN:
		why = "libvirt could not resume it now: try again in a moment";
		break;
	default:
		why = "the gateway could not start it";
		break;
	}
	snprintf(out, size, "%s (sandbox %s: the gateway's log has the "
	    "details)", why, id);
}

struct create_job {
	struct mon *m;
	struct sbx *s;
	struct sg_vm_spec spec;
	char imgdir[PATH_MAX];
	char tap[16];
	int transport;
	struct sg_vm_volume vols[SG_VM_VOLUMES_MAX];
	char vfile[SG_VM_VOLUMES_MAX][PATH_MAX];
	char vserial[SG_VM_VOLUMES_MAX][8];
	int resume;			/* a hibernated sandbox: restore it */
	int claim;			/* a paused pool member: claim it */
	char *claim_err;		/* why it could not be: booted cold */
	/* results */
	int r;
	char *err;
	int cold;			/* resume: booted from its disk;
					 * claim: its member was gone */
	int made;			/* resume: its domain runs again */
	char *restore_err;		/* why its memory was not restored */
	int agent_fd;
	uint32_t cid;
};

static void
create_run(void *arg)
{
	struct create_job *j = arg;
	struct sg_vm_host *h = NULL;

	j->r = mon_vm(j->m, &h, &j->err);
	if (j->r < 0)
		return;
	if (j->resume) {
		/* its memory, else (lost, corrupted) a boot from its disk;
		 * a libvirt that failed is tried again at the next connection */
		j->r = sg_vm_restore(h, j->spec.id, j->spec.state_dir,
		    j->spec.expires, &j->restore_err);
		if (j->r == -ENOENT || j->r == -EIO) {
			j->cold = 1;
			j->spec.reuse_disk = 1;
			j->r = sg_vm_create(h, &j->spec, &j->err);
			if (j->r == 0)
				sg_vm_hibernated_forget(j->spec.state_dir,
				    j->spec.id);
		} else if (j->r == -EEXIST) {
			/* a restore a sandgated before us began: it runs */
			sg_vm_hibernated_forget(j->spec.state_dir, j->spec.id);
			j->r = 0;
		}
		if (j->r < 0)
			return;
		j->made = 1;
	} else if (j->claim) {
		/* its new owner in its metadata, then it runs again */
		j->r = sg_vm_claim(h, j->spec.id, j->spec.token, j->spec.name,
		    j->spec.created, j->spec.expires, &j->claim_err);
		if (j->r < 0) {
			/* its QEMU died while it waited, or libvirt could not
			 * resume it: it goes, and the same sandbox (id, tap,
			 * policy) boots cold; a domain libvirt cannot stop
			 * either keeps its folder, and the sandbox fails */
			char *e2 = NULL;
			int r2 = sg_vm_destroy(h, j->spec.id, j->spec.state_dir,
			    &e2);

			free(e2);
			if (r2 < 0) {
				j->err = j->claim_err;
				j->claim_err = NULL;
				return;
			}
			j->cold = 1;
			j->r = sg_vm_create(h, &j->spec, &j->err);
		}
	} else {
		j->r = sg_vm_create(h, &j->spec, &j->err);
	}
	if (j->r < 0)
		return;
	if (j->transport == SG_VM_VSOCK)
		j->r = sg_vm_agent_cid(h, j->spec.id, &j->cid, &j->err);
	else
		j->r = sg_vm_connect_agent(h, j->spec.id, j->spec.state_dir,
		    j->transport, &j->agent_fd, &j->err);
	if (j->r < 0 && !j->resume) {
		char *e2 = NULL;

		(void)sg_vm_destroy(h, j->spec.id, j->spec.state_dir, &e2);
		free(e2);
	}
}

static void
create_free(struct create_job *j)
{
	if (j->agent_fd >= 0)
		close(j->agent_fd);
	free(j->err);
	free(j->restore_err);
	free(j->claim_err);
	free(j);
}

static void
create_done(void *arg, int cancelled)
{
	struct create_job *j = arg;
	struct mon *m = j->m;
	struct sbx *s = j->s, **pp;
	char reason[600], *err = NULL;
	int r;

	if (cancelled)
		goto out;
	s->creating = 0;
	if (j->claim && j->cold) {
		sg_warn("sandbox %s: the warm pool member could not be claimed "
		    "(%s): booted cold", s->id, j->claim_err ? j->claim_err :
		    "gone");
		m->stats.pool_missed++;
		mon_pool_failed(m, s);	/* and its image waits a moment */
		j->claim = 0;
	} else if (j->claim && j->r == 0) {
		m->stats.pool_claimed++;
	}
	if (s->state == SB_DESTROYING) {
		/* killed while it was being made: now it can go */
		mon_sbx_destroy_job(m, s);
		goto out;
	}
	if (j->resume && j->r < 0 && !j->made) {
		/* still asleep, its files kept: the next connection tries
		 * again (max_hibernated ends it if none ever succeeds) */
		sg_err("sandbox %s could not be resumed: %s%s%s", s->id,
		    j->restore_err ? j->restore_err : "", j->cold ?
		    "; nor booted from its disk: " : "", j->cold && j->err ?
		    j->err : "");
		s->state = SB_HIBERNATED;
		if (s->expires != j->spec.expires)
			mon_hib_extend(m, s);	/* extended meanwhile */
		client_reason(s->id, j->r, reason, sizeof(reason));
		mon_start_fail_waiting(m, s, reason);
		goto out;
	}
	if (j->resume && j->r < 0) {
		/* it runs again, but its agent was not reached: a new shim
		 * tries, as after a crash of one */
		sg_warn("sandbox %s resumed, its agent not reached yet: %s",
		    s->id, j->err ? j->err : strerror(-j->r));
		s->state = SB_RUNNING;
		if (s->expires != j->spec.expires)
			(void)mon_sbx_set_expires(m, s, s->expires);
		mon_hib_resumed(m, s, j->cold, j->restore_err);
		mon_shim_restart(m, s);
		goto out;
	}
	if (j->r < 0 && j->claim) {
		/* a member libvirt could neither resume nor stop, or whose
		 * agent was not reached: a destroy job removes what is left
		 * (or leaves it to the next start) */
		sg_err("sandbox %s could not be started: the warm pool member "
		    "could not be claimed: %s", s->id, j->err ? j->err :
		    strerror(-j->r));
		m->stats.start_fail_create++;
		client_reason(s->id, j->r, reason, sizeof(reason));
		mon_sbx_destroy(m, s, "could not be started", SG_NOTICE_FAILED,
		    reason);
		goto out;
	}
	if (j->r < 0) {
		sg_err("sandbox %s could not be started: %s", s->id,
		    j->err ? j->err : strerror(-j->r));
		if (s->pool) {
			mon_pool_failed(m, s);
		} else {
			m->stats.start_fail_create++;
		}
		client_reason(s->id, j->r, reason, sizeof(reason));
		mon_start_fail_waiting(m, s, reason);
		mon_vol_release(m, s);	/* what sg_vm_create handed to QEMU */
		if (s->has_net) {
			sg_net_del(m->net, s->id);
			mon_proxy_drop(m, s->id);
		}
		for (pp = &m->sbxs; *pp != NULL; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		mon_sbx_free(s);
		goto out;
	}
	s->state = SB_RUNNING;
	s->cid = j->cid;
	/* extended while it was being made, claimed or resumed (the job
	 * wrote the expiry it was given) */
	if (s->expires != j->spec.expires)
		(void)mon_sbx_set_expires(m, s, s->expires);
	if (j->resume) {
		mon_hib_resumed(m, s, j->cold, j->restore_err);
	} else {
		sg_info("sandbox %s %s (%s)", s->id, j->claim ? "resumed from "
		    "the warm pool" : s->pool ? "started for the warm pool" :
		    "started", m->transport == SG_VM_VSOCK ? "vsock" :
		    "virtio-serial");
	}
	if (mon_proxy_need_ca(m)) {
		/* its guest must trust the proxy's CA, which READY brings */
		s->wait_ca = 1;
		s->agent_fd = j->agent_fd;
		j->agent_fd = -1;
		goto out;
	}
	r = mon_shim_spawn(m, s, j->agent_fd, &err);
	j->agent_fd = -1;
	if (r < 0) {
		snprintf(reason, sizeof(reason), "%s", err ? err :
		    "cannot start the sandbox's shim");
		free(err);
		mon_sbx_destroy(m, s, "could not be started", SG_NOTICE_FAILED,
		    reason);
		goto out;
	}
	mon_start_links(m, s);
out:
	create_free(j);
}

/* A new sandbox: its record (counted from now on), its network on the
 * loop (netlink and nftables calls are quick), its domain in a job. */
/* The job's domain spec, from what s was made with. */
static int
job_fill(struct mon *m, struct sbx *s, struct create_job *j, char *reason,
    size_t reasonsz)
{
	size_t i;

	j->m = m;
	j->s = s;
	j->agent_fd = -1;
	j->transport = m->transport;
	if (s->image_dir != NULL) {
		snprintf(j->imgdir, sizeof(j->imgdir), "%s", s->image_dir);
	} else {
		snprintf(j->imgdir, sizeof(j->imgdir), "%s/%s",
		    m->cfg->image_dir, s->image);
	}
	if (s->has_net)
		snprintf(j->tap, sizeof(j->tap), "%s", s->na.tap);
	/* the job reads these; the strings live as long as s, which only
	 * create_done frees */
	j->spec.id = s->id;
	j->spec.token = s->token;
	j->spec.name = s->name;
	j->spec.image_dir = j->imgdir;
	j->spec.image = s->image;
	j->spec.memory_mb = s->memory_mb;
	j->spec.vcpus = s->vcpus;
	j->spec.disk_gb = m->cfg->disk_gb;
	j->spec.domain_type = m->vm_type;
	j->spec.transport = m->transport;
	j->spec.state_dir = m->cfg->state_dir;
	j->spec.created = s->created;
	j->spec.expires = s->expires;
	j->spec.owner_pid = (int)getpid();
	j->spec.tap = s->has_net ? j->tap : NULL;
	for (i = 0; i < s->nvols; i++) {
		if (mon_vol_file(m, s->token, s->vols[i].name, j->vfile[i],
		    sizeof(j->vfile[i])) < 0) {
			snprintf(reason, reasonsz, "the path of volume %s is too "
			    "long", s->vols[i].name);
			return -ENAMETOOLONG;
		}
		mon_vol_serial(i, j->vserial[i], sizeof(j->vserial[i]));
		j->vols[i].file = j->vfile[i];
		j->vols[i].serial = j->vserial[i];
		j->vols[i].ro = s->vols[i].ro;
	}
	j->spec.volumes = j->vols;
	j->spec.nvolumes = s->nvols;
	return 0;
}

/* What every start of s takes from o: its environment, its times from
 * now (life seconds), and the state of one being made. */
static int
take_opts(struct sbx *s, const struct mon_sbx_opts *o, uint64_t life)
{
	size_t i;

	if (o->nenv > 0) {
		s->env = calloc(o->nenv, sizeof(char *));
		if (s->env == NULL)
			return -ENOMEM;
		for (i = 0; i < o->nenv; i++) {
			if ((s->env[i] = strdup(o->env[i])) == NULL)
				return -ENOMEM;
			s->nenv++;
		}
	}
	s->created = mon_now();
	s->expires = s->created + (int64_t)life;
	s->idle_since = s->created;
	s->state = SB_CREATING;
	s->creating = 1;
	return 0;
}

/* Claims pool member s for o: its owner, times and environment, its
 * token's policy, then a job resumes it. On error s is destroyed. */
static int
claim(struct mon *m, struct sbx *s, const struct mon_sbx_opts *o,
    uint64_t life, struct create_job *j, char *reason, size_t reasonsz)
{
	char *token = strdup(o->token), *name = strdup(o->name), *err = NULL;
	int r = -ENOMEM;

	if (token == NULL || name == NULL)
		goto fail;
	free(s->token);
	free(s->name);
	s->token = token;
	s->name = name;
	token = name = NULL;
	s->pool = 0;
	s->idle_s = o->idle_s;
	if ((r = take_opts(s, o, life)) < 0)
		goto fail;
	r = mon_sbx_net_setup(m, s, MON_NET_CLAIM, o, &err);
	if (r < 0) {
		sg_err("sandbox %s: cannot give it its token's network policy: "
		    "%s", s->id, err ? err : strerror(-r));
		free(err);
		goto fail;
	}
	r = job_fill(m, s, j, reason, reasonsz);
	if (r < 0)
		goto fail;
	j->claim = 1;
	r = sg_jobs_submit(m->jobs, create_run, create_done, j);
	if (r < 0)
		goto fail;
	return 0;
fail:
	free(token);
	free(name);
	if (reason[0] == '\0')
		snprintf(reason, reasonsz, "the gateway could not start it "
		    "(sandbox %s: the gateway's log has the details)", s->id);
	s->creating = 0;
	mon_sbx_destroy(m, s, "could not be started", SG_NOTICE_FAILED, reason);
	return r;
}

int
mon_sbx_create(struct mon *m, const struct mon_sbx_opts *o, struct sbx **ret,
    char *reason, size_t reasonsz)
{
	const struct sg_token *tok = NULL;
	struct create_job *j = NULL;
	struct sbx *s = NULL;
	char *err = NULL;
	uint8_t rnd[6];
	unsigned maxs, n;
	uint64_t life;
	size_t i;
	int r;

	if (!o->pool) {
		tok = sg_tokens_find(m->tokens, o->token);
		if (tok == NULL) {
			snprintf(reason, reasonsz, "the token was revoked");
			return -EACCES;
		}
		maxs = sg_tokens_max_sandboxes(tok);
		if (maxs == 0)
			maxs = m->cfg->max_sandboxes;
		n = mon_sbx_count_token(m, o->token);
		if (n >= maxs) {
			snprintf(reason, reasonsz,
			    "token %s already has %u running sandboxes "
			    "(max_sandboxes = %u): close one, or ask an "
			    "administrator to raise the limit", o->token, n,
			    maxs);
			return -EUSERS;
		}
	}
	life = o->lifetime_s ? o->lifetime_s : tok != NULL &&
	    sg_tokens_max_lifetime(tok) ? sg_tokens_max_lifetime(tok) :
	    m->cfg->max_lifetime_s;
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		snprintf(reason, reasonsz, "the gateway is out of memory");
		return -ENOMEM;
	}
	/* the default shape: a paused member of the warm pool, if one is
	 * ready (its id, disk, tap and address stay) */
	if (!o->pool && (s = mon_pool_take(m, tok, o)) != NULL) {
		r = claim(m, s, o, life, j, reason, reasonsz);
		if (r < 0) {
			free(j);
			return r;
		}
		s->create_ms = sg_mono_ms();
		m->stats.starts++;
		sg_info("sandbox %s created for token %s (%s, %s%s, image %s, "
		    "%u MiB, %u vCPU, from the warm pool)", s->id, s->token,
		    o->peer, o->name[0] ? "name " : "ephemeral", o->name,
		    s->image, s->memory_mb, s->vcpus);
		sg_audit("sandbox_created", "sandbox", s->id, "token", s->token,
		    "name", o->name[0] ? o->name : NULL, "source", o->source,
		    "image", s->image, "from", "warm_pool", NULL);
		*ret = s;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	s->shim_fd = -1;
	s->agent_fd = -1;
	s->pool = o->pool;
	if (sg_util_random(rnd, sizeof(rnd)) < 0 ||
	    sg_util_hex_encode(rnd, sizeof(rnd), s->id, sizeof(s->id)) < 0) {
		r = -EIO;
		goto fail;
	}
	s->memory_mb = o->memory_mb ? o->memory_mb : tok != NULL &&
	    sg_tokens_memory_mb(tok) ? sg_tokens_memory_mb(tok) :
	    m->cfg->memory_mb;
	s->vcpus = o->vcpus ? o->vcpus : tok != NULL && sg_tokens_vcpus(tok) ?
	    sg_tokens_vcpus(tok) : m->cfg->vcpus;
	s->idle_s = o->idle_s;
	s->token = strdup(o->token);
	s->name = strdup(o->name);
	s->image = strdup(o->image ? o->image : tok != NULL &&
	    sg_tokens_image(tok) ? sg_tokens_image(tok) : m->cfg->image);
	if (o->image_dir != NULL && (s->image_dir = strdup(o->image_dir)) == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if (s->token == NULL || s->name == NULL || s->image == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	if (o->nvols > SG_VM_VOLUMES_MAX) {
		r = -EINVAL;
		goto fail;
	}
	for (i = 0; i < o->nvols; i++) {
		snprintf(s->vols[i].name, sizeof(s->vols[i].name), "%s",
		    o->vols[i].name);
		snprintf(s->vols[i].path, sizeof(s->vols[i].path), "%s",
		    o->vols[i].path);
		s->vols[i].ro = o->vols[i].ro;
	}
	s->nvols = o->nvols;
	if ((r = take_opts(s, o, life)) < 0)
		goto fail;
	r = mon_sbx_net_setup(m, s, MON_NET_NEW, o, &err);
	if (r < 0) {
		sg_err("sandbox %s: cannot set up its network: %s", s->id,
		    err ? err : strerror(-r));
		snprintf(reason, reasonsz, "the gateway could not set up its "
		    "network (sandbox %s: the gateway's log has the details)",
		    s->id);
		free(err);
		goto fail;
	}
	r = job_fill(m, s, j, reason, reasonsz);
	if (r < 0)
		goto fail_net;
	r = sg_jobs_submit(m->jobs, create_run, create_done, j);
	if (r < 0) {
		snprintf(reason, reasonsz, "the gateway is out of memory");
fail_net:
		if (s->has_net) {
			sg_net_del(m->net, s->id);
			mon_proxy_drop(m, s->id);
		}
		goto fail;
	}
	s->next = m->sbxs;
	m->sbxs = s;
	if (o->pool) {
		/* not a start of anyone's: not in the start figures */
		sg_info("warm pool: sandbox %s created (image %s, %u MiB, %u "
		    "vCPU), booting", s->id, s->image, s->memory_mb, s->vcpus);
		*ret = s;
		return 0;
	}
	s->create_ms = sg_mono_ms();
	m->stats.starts++;
	sg_info("sandbox %s created for token %s (%s, %s%s, image %s, %u MiB, "
	    "%u vCPU)", s->id, s->token, o->peer, o->name[0] ? "name " :
	    "ephemeral", o->name, s->image, s->memory_mb, s->vcpus);
	sg_audit("sandbox_created", "sandbox", s->id, "token", s->token,
	    "name", o->name[0] ? o->name : NULL, "source", o->source, "image",
	    s->image, NULL);
	*ret = s;
	return 0;
fail:
	if (r == -ENOMEM && reason[0] == '\0')
		snprintf(reason, reasonsz, "the gateway is out of memory");
	free(j);
	mon_sbx_free(s);
	return r;
}

int
mon_handle_start(struct mon *m, struct mworker *w, const uint8_t *p, size_t n)
{
	const struct sg_token *tok;
	struct sbx *s = NULL;
	char *user = NULL, reason[600];
	int r;

	if (w->control)
		return -EPROTO;		/* the control user runs commands only */
	r = sg_mp_parse_start(p, n, &user);
	if (r < 0)
		return r;
	if (strcmp(user, w->user) != 0) {
		free(user);
		return -EPROTO;
	}
	free(user);
	reason[0] = '\0';
	w->state = W_WAITING;
	if (!m->adopted) {
		/* libvirt was unreachable when we last tried (the log has
		 * m->vm_err, which names the host's URI and fixes) */
		start_fail(m, w, "the gateway cannot reach libvirt yet: try "
		    "again in a few seconds");
		return 0;
	}
	tok = sg_tokens_find(m->tokens, w->token);
	if (tok == NULL) {
		start_fail(m, w, "the token was revoked");
		return 0;
	}
	/* "sandbox" is a fresh sandbox for this connection; any other name
	 * is the token's sandbox of that name, shared and kept. */
	if (strcmp(w->user, "sandbox") != 0) {
		for (s = m->sbxs; s != NULL; s = s->next)
			if (s->state != SB_DESTROYING &&
			    strcmp(s->token, w->token) == 0 &&
			    strcmp(s->name, w->user) == 0)
				break;
	}
	if (s != NULL && s->state == SB_HIBERNATED &&
	    mon_sbx_resume(m, s, reason, sizeof(reason)) < 0) {
		start_fail(m, w, reason);
		return 0;
	}
	if (s == NULL) {
		struct mon_sbx_opts o;

		memset(&o, 0, sizeof(o));
		o.token = w->token;
		o.name = strcmp(w->user, "sandbox") == 0 ? "" : w->user;
		o.source = w->addr;
		o.peer = w->peer;
		r = mon_sbx_create(m, &o, &s, reason, sizeof(reason));
		if (r < 0) {
			start_fail(m, w, reason);
			return 0;
		}
	}
	w->sbx = s;
	if (s->state == SB_RUNNING && s->shim_fd >= 0)
		link_worker(m, w, s);
	/* else: linked when the domain runs and its shim is there */
	return 0;
}

int
mon_sbx_resume(struct mon *m, struct sbx *s, char *reason, size_t reasonsz)
{
	struct create_job *j = calloc(1, sizeof(*j));
	int r;

	if (j == NULL) {
		snprintf(reason, reasonsz, "the gateway is out of memory");
		return -ENOMEM;
	}
	if (mon_snap_copying(m, s->id)) {
		free(j);
		snprintf(reason, reasonsz, "a snapshot of sandbox %s is being "
		    "made: try again in a moment", s->name);
		return -EBUSY;
	}
	/* the shim of before it slept, if it is not gone yet */
	if (s->shim_fd >= 0)
		mon_shim_gone(m, s, "replaced");
	r = job_fill(m, s, j, reason, reasonsz);
	if (r == 0) {
		j->resume = 1;
		r = sg_jobs_submit(m->jobs, create_run, create_done, j);
		if (r < 0)
			snprintf(reason, reasonsz, "the gateway is out of memory");
	}
	if (r < 0) {
		free(j);
		return r;
	}
	s->state = SB_RESUMING;
	s->creating = 1;
	s->create_ms = 0;	/* not a start: not in the start histogram */
	sg_info("sandbox %s: resuming", s->id);
	return 0;
}
