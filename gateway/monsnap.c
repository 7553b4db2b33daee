/* The snapshot commands of the control interface (mon.h, monapi.h,
 * docs/control.md): `snapshot SANDBOX SNAP`, `snapshot ls`, `snapshot rm
 * SNAP`, and where `create NAME --snapshot SNAP` finds its disk.
 *
 * A snapshot is an image folder of its token's, STATE_DIR/snapshots/
 * TOKEN/SNAP: the sandbox's disk copied whole while its guest is paused
 * (sg_vm_snapshot, a job off the loop), with the kernel and initrd it
 * booted, so it keeps working when its image is rebuilt. Each token may
 * keep [sandbox] max_snapshots of them, snapshot_quota_gb together. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "gateway/audit.h"
#include "gateway/ctlargs.h"
#include "gateway/jobs.h"
#include "gateway/mon.h"
#include "gateway/tokens.h"
#include "gateway/vm.h"

#define SNAP_WAIT_MS (15 * 60 * 1000)	/* a large disk on a slow one */
#define SNAP_LIST_MAX 1000

struct snap_job {
	struct mon *m;
	char serial[16];		/* the waiting call's wait_id */
	char sbx_id[16];
	char sbx_name[64];
	char token[80];
	char snap[40];
	char image[80];
	char *dest, *image_dir, *note;
	int domain_type;
	int offline;			/* of a hibernated sandbox */
	int r;
	char *err;
	uint64_t bytes;			/* its disk, once made */
};

static unsigned snap_serial;

/* One snapshot as ls shows it. */
struct snap_info {
	char name[40];
	char token[80];
	char image[80];
	char from[64];
	int64_t created;
	uint64_t bytes;
};

static int
snap_dir(struct mon *m, const char *token, const char *snap, char *out,
    size_t size)
{
	return mon_store_path(m, "snapshots", token, snap, out, size);
}

/* Reads a snapshot folder's image.conf and disk into *si (name set). */
static int
snap_read(const char *dir, struct snap_info *si)
{
	char path[4096], line[512], *v;
	struct stat st;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/rootfs.qcow2", dir) >=
	    (int)sizeof(path) || stat(path, &st) < 0)
		return -ENOENT;
	si->bytes = (uint64_t)st.st_blocks * 512;
	snprintf(path, sizeof(path), "%s/image.conf", dir);
	f = fopen(path, "re");
	if (f == NULL)
		return -ENOENT;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		v = strchr(line, '=');
		if (v == NULL)
			continue;
		for (*v++ = '\0'; *v == ' '; v++)
			;
		if (strncmp(line, "name ", 5) == 0 || strcmp(line, "name") == 0)
			snprintf(si->image, sizeof(si->image), "%s", v);
		else if (strncmp(line, "snapshot_of ", 12) == 0)
			snprintf(si->from, sizeof(si->from), "%s", v);
		else if (strncmp(line, "snapshot_created ", 17) == 0)
			si->created = strtoll(v, NULL, 10);
	}
	fclose(f);
	return si->image[0] ? 0 : -EINVAL;
}

struct snap_acc {
	struct snap_info *list;
	size_t k, max;
	const char *token;
};

static int
snap_one(const char *dir, const char *name, void *arg)
{
	struct snap_acc *a = arg;
	struct snap_info *si = &a->list[a->k];

	if (a->k >= a->max)
		return -1;
	memset(si, 0, sizeof(*si));
	snprintf(si->name, sizeof(si->name), "%.32s", name);
	snprintf(si->token, sizeof(si->token), "%s", a->token);
	if (snap_read(dir, si) < 0)
		return -1;
	a->k++;
	return 0;
}

/* Adds token's snapshots (sorted by name) to the struct snap_acc arg. */
static void
snap_list_more(struct mon *m, const char *token, void *arg)
{
	struct snap_acc *a = arg;

	a->token = token;
	(void)mon_store_each(m, "snapshots", token, snap_one, a);
}

/* 1 while a job makes token's snap. */
static int
snap_busy(struct mon *m, const char *token, const char *snap)
{
	return mon_store_busy(m->snapjobs, m->nsnapjobs, token, snap);
}

/* 1 while a job copies sandbox id's disk (one at a time: each pauses
 * the guest and resumes it). */
int
mon_snap_copying(struct mon *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->nsnapjobs; i++)
		if (strcmp(m->snapjobs[i].sbx_id, id) == 0)
			return 1;
	return 0;
}

static void
busy_set(struct mon *m, const char *token, const char *snap, const char *id,
    int on)
{
	mon_store_busy_set(m->snapjobs, &m->nsnapjobs, token, snap, id, on);
}

static void
put_info_json(struct sg_buf *b, const struct snap_info *si)
{
	sg_buf_putf(b, "{\"name\": ");
	sg_json_str(b, si->name);
	sg_buf_putf(b, ", \"token\": ");
	sg_json_str(b, si->token);
	sg_buf_putf(b, ", \"image\": ");
	sg_json_str(b, si->image);
	sg_buf_putf(b, ", \"from\": ");
	sg_json_str(b, si->from[0] ? si->from : NULL);
	sg_buf_putf(b, ", \"created\": %lld, \"size\": %llu}",
	    (long long)si->created, (unsigned long long)si->bytes);
}

/* --- snapshot SANDBOX SNAP --- */

static void
snap_run(void *arg)
{
	struct snap_job *j = arg;
	struct sg_vm_snap_spec sp;
	struct sg_vm_host *h = NULL;

	j->r = mon_vm(j->m, &h, &j->err);
	if (j->r < 0)
		return;
	memset(&sp, 0, sizeof(sp));
	sp.id = j->sbx_id;
	sp.state_dir = j->m->cfg->state_dir;
	sp.image_dir = j->image_dir;
	sp.domain_type = j->domain_type;
	sp.dest = j->dest;
	sp.note = j->note;
	sp.offline = j->offline;
	j->r = sg_vm_snapshot(h, &sp, &j->err);
}

static uint64_t
used_bytes(struct mon *m, const char *token, unsigned *ret_n)
{
	static struct snap_info list[SNAP_LIST_MAX];
	struct snap_acc a = { list, 0, SNAP_LIST_MAX, NULL };
	uint64_t sum = 0;
	size_t n, i;

	snap_list_more(m, token, &a);
	n = a.k;
	for (i = 0; i < n; i++)
		sum += list[i].bytes;
	if (ret_n != NULL)
		*ret_n = (unsigned)n;
	return sum;
}

static void
snap_done(void *arg, int cancelled)
{
	struct snap_job *j = arg;
	struct mon *m = j->m;
	struct mon_call *c = cancelled ? NULL : mon_call_job(m, j->serial);
	uint64_t quota = m->cfg->snapshot_quota_gb << 30, used;
	struct snap_info si;
	char *err = NULL;

	busy_set(m, j->token, j->snap, j->sbx_id, 0);
	if (cancelled)
		goto out;
	if (j->r < 0) {
		sg_warn("snapshot %s of sandbox %s (token %s) failed: %s", j->snap,
		    j->sbx_id, j->token, j->err ? j->err : strerror(-j->r));
		/* killed while its disk was copied: whatever failed, that is why */
		if (mon_sbx_find(m, j->sbx_id) == NULL)
			j->r = -ENOENT;
		if (c != NULL)
			mon_call_fail(m, c, j->r == -EEXIST ? "exists" : "failed",
			    "snapshot %s of %s failed: %s", j->snap, j->sbx_name,
			    j->r == -ENOSPC ? "the gateway is out of disk space" :
			    j->r == -ENOENT ? "the sandbox is gone" :
			    j->r == -EEXIST ? "a snapshot of that name exists" :
			    "the gateway's log says why");
		goto out;
	}
	/* over the quota once made: it goes again */
	used = used_bytes(m, j->token, NULL);
	if (used > quota) {
		(void)sg_vm_folder_remove(j->dest, &err);
		free(err);
		if (c != NULL)
			mon_call_fail(m, c, "limit", "snapshot %s would take token "
			    "%s to %llu MiB of snapshots (snapshot_quota_gb = %llu): "
			    "snapshot rm one first", j->snap, j->token,
			    (unsigned long long)(used >> 20),
			    (unsigned long long)m->cfg->snapshot_quota_gb);
		goto out;
	}
	memset(&si, 0, sizeof(si));
	snprintf(si.name, sizeof(si.name), "%s", j->snap);
	snprintf(si.token, sizeof(si.token), "%s", j->token);
	(void)snap_read(j->dest, &si);
	sg_info("snapshot %s of sandbox %s made for token %s (%llu MiB)",
	    j->snap, j->sbx_id, j->token, (unsigned long long)(si.bytes >> 20));
	sg_audit("snapshot_created", "token", j->token, "snapshot", j->snap,
	    "sandbox", j->sbx_id, NULL);
	if (c == NULL)
		goto out;
	if (c->json) {
		put_info_json(c->out, &si);
		sg_buf_putf(c->out, "\n");
	} else {
		sg_buf_putf(c->out, "snapshot %s of %s made (%llu MiB): create "
		    "NAME --snapshot %s starts from it\n", j->snap, j->sbx_name,
		    (unsigned long long)(si.bytes >> 20), j->snap);
	}
	mon_call_finish(m, c, 0);
out:
	free(j->dest);
	free(j->image_dir);
	free(j->note);
	free(j->err);
	free(j);
}

static void
cmd_snapshot(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	struct sbx *s = mon_api_lookup(m, c, q);
	struct snap_job *j = NULL;
	char dest[4096];
	struct stat st;
	unsigned n;
	uint64_t used;

	if (s == NULL)
		return;
	if (s->state != SB_HIBERNATED && (s->state != SB_RUNNING ||
	    !s->shim_ready || s->shim_fd < 0)) {
		mon_call_fail(m, c, "refused", "sandbox %s is %s: a snapshot is "
		    "made of a running or hibernated sandbox",
		    s->name[0] ? s->name : s->id,
		    mon_sbx_state_name(s));
		return;
	}
	if (mon_snap_copying(m, s->id)) {
		mon_call_fail(m, c, "refused", "a snapshot of %s is being made: "
		    "try again once it is", s->name[0] ? s->name : s->id);
		return;
	}
	if (m->cfg->max_snapshots == 0) {
		mon_call_fail(m, c, "refused", "snapshots are off on this "
		    "gateway (max_snapshots = 0)");
		return;
	}
	if (snap_dir(m, s->token, q->snap, dest, sizeof(dest)) < 0) {
		mon_call_fail(m, c, "usage", "the snapshot's path is too long");
		return;
	}
	if (stat(dest, &st) == 0 || snap_busy(m, s->token, q->snap)) {
		mon_call_fail(m, c, "exists", "snapshot %s exists: snapshot rm "
		    "%s first, or choose another name", q->snap, q->snap);
		return;
	}
	used = used_bytes(m, s->token, &n);
	if (n >= m->cfg->max_snapshots) {
		mon_call_fail(m, c, "limit", "token %s has %u snapshots "
		    "(max_snapshots = %u): snapshot rm one first", s->token, n,
		    m->cfg->max_snapshots);
		return;
	}
	if (used >= m->cfg->snapshot_quota_gb << 30) {
		mon_call_fail(m, c, "limit", "token %s's snapshots take %llu MiB "
		    "(snapshot_quota_gb = %llu): snapshot rm one first",
		    s->token, (unsigned long long)(used >> 20),
		    (unsigned long long)m->cfg->snapshot_quota_gb);
		return;
	}
	if (m->nsnapjobs >= MON_SNAPJOBS_MAX) {
		mon_call_fail(m, c, "unavailable", "%zu snapshots are being "
		    "made: try again in a moment", m->nsnapjobs);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		goto nomem;
	j->m = m;
	snprintf(j->serial, sizeof(j->serial), "s%u", ++snap_serial);
	snprintf(j->sbx_id, sizeof(j->sbx_id), "%s", s->id);
	snprintf(j->sbx_name, sizeof(j->sbx_name), "%s",
	    s->name[0] ? s->name : s->id);
	snprintf(j->token, sizeof(j->token), "%s", s->token);
	snprintf(j->snap, sizeof(j->snap), "%s", q->snap);
	snprintf(j->image, sizeof(j->image), "%s", s->image);
	j->domain_type = m->vm_type;
	j->offline = s->state == SB_HIBERNATED;
	j->dest = strdup(dest);
	if (s->image_dir != NULL)
		j->image_dir = strdup(s->image_dir);
	else if (asprintf(&j->image_dir, "%s/%s", m->cfg->image_dir,
	    s->image) < 0)
		j->image_dir = NULL;
	if (asprintf(&j->note, "snapshot_of = %s\nsnapshot_token = %s\n"
	    "snapshot_created = %lld\n", j->sbx_name, s->token,
	    (long long)mon_now()) < 0)
		j->note = NULL;
	if (j->dest == NULL || j->image_dir == NULL || j->note == NULL)
		goto nomem;
	if (sg_jobs_submit(m->jobs, snap_run, snap_done, j) < 0)
		goto nomem;
	busy_set(m, j->token, j->snap, j->sbx_id, 1);
	mon_call_wait(m, c, CALL_WAIT_JOB, j->serial, SNAP_WAIT_MS);
	return;
nomem:
	if (j != NULL) {
		free(j->dest);
		free(j->image_dir);
		free(j->note);
		free(j);
	}
	mon_call_fail(m, c, "unavailable", "the gateway is out of memory");
}

/* --- snapshot ls --- */

static void
cmd_snapshot_ls(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	static struct snap_info list[SNAP_LIST_MAX];
	struct snap_acc a = { list, 0, SNAP_LIST_MAX, NULL };
	struct sg_buf *b = c->out;
	size_t n, k;
	uint64_t used = 0;

	if (mon_store_tokens(m, c, q, snap_list_more, &a) < 0)
		return;
	n = a.k;
	for (k = 0; k < n; k++)
		used += list[k].bytes;
	if (c->json) {
		sg_buf_putf(b, "{\"snapshots\": [");
		for (k = 0; k < n; k++) {
			if (k > 0)
				sg_buf_putf(b, ", ");
			put_info_json(b, &list[k]);
		}
		sg_buf_putf(b, "], \"max_snapshots\": %u, \"snapshot_quota_gb\": "
		    "%llu, \"used\": %llu}\n", m->cfg->max_snapshots,
		    (unsigned long long)m->cfg->snapshot_quota_gb,
		    (unsigned long long)used);
	} else {
		sg_buf_putf(b, "%-32s  %-16s  %-12s  %8s  %-20s  %s\n", "SNAPSHOT",
		    "TOKEN", "IMAGE", "SIZE", "CREATED", "FROM");
		for (k = 0; k < n; k++) {
			char when[32] = "?";
			time_t tt = (time_t)list[k].created;
			struct tm tm;

			if (gmtime_r(&tt, &tm) != NULL)
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			sg_buf_putf(b, "%-32s  %-16s  %-12s  %7lluM  %-20s  %s\n",
			    list[k].name, list[k].token, list[k].image,
			    (unsigned long long)(list[k].bytes >> 20), when,
			    list[k].from[0] ? list[k].from : "-");
		}
	}
	mon_call_finish(m, c, 0);
}

/* --- snapshot rm SNAP --- */

static void
cmd_snapshot_rm(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	const struct sg_token *tok = mon_api_token(m, c, q);
	const char *token;
	char dest[4096], *err = NULL;
	struct stat st;
	int r;

	if (tok == NULL)
		return;
	token = sg_tokens_name(tok);
	if (snap_dir(m, token, q->snap, dest, sizeof(dest)) < 0 ||
	    stat(dest, &st) < 0) {
		mon_call_fail(m, c, "not_found", "no snapshot %s (see snapshot "
		    "ls)", q->snap);
		return;
	}
	if (snap_busy(m, token, q->snap)) {
		mon_call_fail(m, c, "refused", "snapshot %s is being made: try "
		    "again once it is", q->snap);
		return;
	}
	/* sandboxes started from it keep running: QEMU holds its disk */
	r = sg_vm_folder_remove(dest, &err);
	if (r < 0) {
		sg_warn("snapshot %s of token %s: %s", q->snap, token,
		    err ? err : strerror(-r));
		free(err);
		mon_call_fail(m, c, "failed", "snapshot %s could not be removed: "
		    "the gateway's log says why", q->snap);
		return;
	}
	sg_info("snapshot %s of token %s removed", q->snap, token);
	sg_audit("snapshot_removed", "token", token, "snapshot", q->snap, NULL);
	if (c->json) {
		sg_buf_putf(c->out, "{\"removed\": ");
		sg_json_str(c->out, q->snap);
		sg_buf_putf(c->out, "}\n");
	} else {
		sg_buf_putf(c->out, "snapshot %s removed\n", q->snap);
	}
	mon_call_finish(m, c, 0);
}

void
mon_snap_cmd(struct mon *m, struct mon_call *c, const struct sg_ctla *q,
    const char *source)
{
	(void)source;
	switch (q->cmd) {
	case SG_CTLA_SNAPSHOT:
		cmd_snapshot(m, c, q);
		break;
	case SG_CTLA_SNAPSHOT_LS:
		cmd_snapshot_ls(m, c, q);
		break;
	default:
		cmd_snapshot_rm(m, c, q);
		break;
	}
}

void
mon_snap_sweep(struct mon *m)
{
	mon_store_sweep(m, "snapshots", sg_vm_folder_remove, "a snapshot");
}

int
mon_snap_find(struct mon *m, const char *token, const char *snap,
    char *ret_dir, size_t size, char *ret_image, size_t image_size)
{
	struct snap_info si;

	if (!sg_ctla_valid_snapshot(snap) ||
	    snap_dir(m, token, snap, ret_dir, size) < 0)
		return -ENOENT;
	memset(&si, 0, sizeof(si));
	if (snap_read(ret_dir, &si) < 0)
		return -ENOENT;
	snprintf(ret_image, image_size, "%s", si.image);
	return 0;
}
