/* The volume commands of the control interface (mon.h, monapi.h,
 * docs/control.md): `volume create VOL SIZE [--from SNAP]`, `volume ls`,
 * `volume rm VOL`, and what `create NAME --volume VOL:/path[:ro]` may
 * mount.
 *
 * A volume is a folder of its token's, STATE_DIR/volumes/TOKEN/VOL,
 * holding volume.img (a sparse raw file with an ext4 filesystem, made by
 * sg_vm_volume_create in a job off the loop) and volume.conf. It outlives
 * every sandbox that mounts it. One sandbox at a time may write it, or
 * any number read it; which sandboxes mount what is known from the
 * sandboxes themselves (recorded with their policy), so it survives a
 * restart of sandgated. Each token may keep [sandbox] max_volumes of
 * them, volume_quota_gb of size together. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "gateway/audit.h"
#include "gateway/ctlargs.h"
#include "gateway/jobs.h"
#include "gateway/mon.h"
#include "gateway/tokens.h"
#include "gateway/vm.h"

#define VOL_WAIT_MS (15 * 60 * 1000)	/* a copy of a large snapshot */
#define VOL_LIST_MAX 1000

struct vol_job {
	struct mon *m;
	char serial[16];		/* the waiting call's wait_id */
	char token[80];
	char vol[40];
	char from[40];
	char *dest, *from_dir, *note;
	uint64_t bytes;
	int domain_type;
	int r;
	char *err;
};

static unsigned vol_serial;

/* One volume as ls shows it. */
struct vol_info {
	char name[40];
	char token[80];
	char from[40];
	int64_t created;
	uint64_t size, used;
};

static int
vol_dir(struct mon *m, const char *token, const char *vol, char *out,
    size_t size)
{
	return mon_store_path(m, "volumes", token, vol, out, size);
}

int
mon_vol_file(struct mon *m, const char *token, const char *vol, char *buf,
    size_t size)
{
	char dir[4096];
	int n;

	if (vol_dir(m, token, vol, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(buf, size, "%s/" SG_VM_VOLUME_FILE, dir);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Reads a volume folder's file and volume.conf into *vi (name set). */
static int
vol_read(const char *dir, struct vol_info *vi)
{
	char path[4096], line[512], *v;
	struct stat st;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/" SG_VM_VOLUME_FILE, dir) >=
	    (int)sizeof(path) || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	vi->size = (uint64_t)st.st_size;
	vi->used = (uint64_t)st.st_blocks * 512;
	snprintf(path, sizeof(path), "%s/volume.conf", dir);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		v = strchr(line, '=');
		if (v == NULL)
			continue;
		for (*v++ = '\0'; *v == ' '; v++)
			;
		if (strncmp(line, "from ", 5) == 0 &&
		    sg_ctla_valid_snapshot(v))
			snprintf(vi->from, sizeof(vi->from), "%s", v);
		else if (strncmp(line, "created ", 8) == 0)
			vi->created = strtoll(v, NULL, 10);
	}
	fclose(f);
	return 0;
}

struct vol_acc {
	struct vol_info *list;
	size_t k, max;
	const char *token;
};

static int
vol_one(const char *dir, const char *name, void *arg)
{
	struct vol_acc *a = arg;
	struct vol_info *vi = &a->list[a->k];

	if (a->k >= a->max)
		return -1;
	memset(vi, 0, sizeof(*vi));
	snprintf(vi->name, sizeof(vi->name), "%.32s", name);
	snprintf(vi->token, sizeof(vi->token), "%s", a->token);
	if (vol_read(dir, vi) < 0)
		return -1;
	a->k++;
	return 0;
}

/* Adds token's volumes (sorted by name) to the struct vol_acc arg. */
static void
vol_list_more(struct mon *m, const char *token, void *arg)
{
	struct vol_acc *a = arg;

	a->token = token;
	(void)mon_store_each(m, "volumes", token, vol_one, a);
}

/* 1 while a job makes token's vol. */
static int
vol_busy(struct mon *m, const char *token, const char *vol)
{
	return mon_store_busy(m->voljobs, m->nvoljobs, token, vol);
}

static void
busy_set(struct mon *m, const char *token, const char *vol, uint64_t bytes,
    int on)
{
	size_t i;

	mon_store_busy_set(m->voljobs, &m->nvoljobs, token, vol, NULL, on);
	for (i = 0; on && i < m->nvoljobs; i++)
		if (strcmp(m->voljobs[i].token, token) == 0 &&
		    strcmp(m->voljobs[i].snap, vol) == 0)
			m->voljobs[i].bytes = bytes;
}

/* Adds the volumes of token being made to *n and *bytes: the quotas count
 * them, or parallel creates would each see room. */
static void
in_flight(struct mon *m, const char *token, unsigned *n, uint64_t *bytes)
{
	size_t i;

	for (i = 0; i < m->nvoljobs; i++)
		if (strcmp(m->voljobs[i].token, token) == 0) {
			(*n)++;
			*bytes += m->voljobs[i].bytes;
		}
}

/* The sandboxes (but skip) that mount token's vol: the one that writes
 * it (or NULL) and how many read it. A sandbox being destroyed counts:
 * its QEMU holds the file until its job is done. */
static void
vol_users(struct mon *m, const struct sbx *skip, const char *token,
    const char *vol, struct sbx **ret_writer, unsigned *ret_readers,
    struct sbx **ret_reader)
{
	struct sbx *s;
	size_t i;

	*ret_writer = NULL;
	*ret_readers = 0;
	if (ret_reader != NULL)
		*ret_reader = NULL;
	for (s = m->sbxs; s != NULL; s = s->next) {
		if (s == skip || strcmp(s->token, token) != 0)
			continue;
		for (i = 0; i < s->nvols; i++) {
			if (strcmp(s->vols[i].name, vol) != 0)
				continue;
			if (!s->vols[i].ro) {
				*ret_writer = s;
			} else {
				(*ret_readers)++;
				if (ret_reader != NULL)
					*ret_reader = s;
			}
		}
	}
}

static const char *
sbx_label(const struct sbx *s)
{
	return s->name != NULL && s->name[0] ? s->name : s->id;
}

void
mon_vol_serial(size_t i, char *buf, size_t size)
{
	snprintf(buf, size, "sgvol%zu", i);
}

int
mon_vol_record_parse(struct sbx *s, const char *line)
{
	char name[40], mode[4], path[SG_CTLA_MOUNT_MAX + 1];
	struct mon_vol *v;

	if (s->nvols >= SG_CTLA_VOLUMES_MAX ||
	    sscanf(line, "volume %39s %3s %200s", name, mode, path) != 3 ||
	    !sg_ctla_valid_volume(name) || !sg_ctla_valid_mount(path) ||
	    (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0))
		return -EINVAL;
	v = &s->vols[s->nvols++];
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->ro = mode[1] == 'o';
	return 0;
}

int
mon_vol_writes(const struct sbx *s)
{
	size_t i;

	for (i = 0; i < s->nvols; i++)
		if (!s->vols[i].ro)
			return 1;
	return 0;
}

int
mon_vol_check(struct mon *m, const char *token, const struct sg_ctla_vol *vols,
    size_t n, const char **ret_kind, char *why, size_t whysz)
{
	struct sbx *w, *r1;
	char dir[4096];
	struct vol_info vi;
	unsigned nr;
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&vi, 0, sizeof(vi));
		if (!sg_ctla_valid_volume(vols[i].name) ||
		    vol_dir(m, token, vols[i].name, dir, sizeof(dir)) < 0 ||
		    vol_busy(m, token, vols[i].name) || vol_read(dir, &vi) < 0) {
			*ret_kind = "not_found";
			snprintf(why, whysz, "no volume %s (see volume ls)",
			    vols[i].name);
			return -1;
		}
		vol_users(m, NULL, token, vols[i].name, &w, &nr, &r1);
		if (w != NULL) {
			*ret_kind = "refused";
			snprintf(why, whysz, "volume %s is mounted read-write by "
			    "sandbox %s%s: one sandbox at a time writes a volume",
			    vols[i].name, sbx_label(w), w->state == SB_DESTROYING ?
			    " (being destroyed: try again in a moment)" : "");
			return -1;
		}
		if (!vols[i].ro && nr > 0) {
			*ret_kind = "refused";
			snprintf(why, whysz, "volume %s is mounted read-only by "
			    "sandbox %s%s: mount it with :ro, or once no sandbox "
			    "reads it", vols[i].name, sbx_label(r1),
			    nr > 1 ? " and others" : "");
			return -1;
		}
	}
	return 0;
}

void
mon_vol_release(struct mon *m, struct sbx *s)
{
	struct sbx *w;
	char file[4096], *err = NULL;
	unsigned nr;
	size_t i;

	for (i = 0; i < s->nvols; i++) {
		vol_users(m, s, s->token, s->vols[i].name, &w, &nr, NULL);
		if (w != NULL || nr > 0 ||
		    mon_vol_file(m, s->token, s->vols[i].name, file,
		    sizeof(file)) < 0)
			continue;
		if (sg_vm_volume_hand(NULL, file, 0, m->vm_type, &err) < 0 &&
		    err != NULL)
			sg_warn("volume %s of token %s: %s", s->vols[i].name,
			    s->token, err);
		free(err);
		err = NULL;
	}
}

static void
put_info_json(struct mon *m, struct sg_buf *b, const struct vol_info *vi)
{
	struct sbx *s;
	size_t i;
	int first = 1;

	sg_buf_putf(b, "{\"name\": ");
	sg_json_str(b, vi->name);
	sg_buf_putf(b, ", \"token\": ");
	sg_json_str(b, vi->token);
	sg_buf_putf(b, ", \"size\": %llu, \"used\": %llu, \"created\": %lld, "
	    "\"from\": ", (unsigned long long)vi->size,
	    (unsigned long long)vi->used, (long long)vi->created);
	sg_json_str(b, vi->from[0] ? vi->from : NULL);
	sg_buf_putf(b, ", \"mounts\": [");
	for (s = m->sbxs; s != NULL; s = s->next) {
		if (s->state == SB_DESTROYING || strcmp(s->token, vi->token))
			continue;
		for (i = 0; i < s->nvols; i++) {
			if (strcmp(s->vols[i].name, vi->name) != 0)
				continue;
			sg_buf_putf(b, "%s{\"sandbox\": ", first ? "" : ", ");
			sg_json_str(b, sbx_label(s));
			sg_buf_putf(b, ", \"path\": ");
			sg_json_str(b, s->vols[i].path);
			sg_buf_putf(b, ", \"ro\": %s}", s->vols[i].ro ? "true" :
			    "false");
			first = 0;
		}
	}
	sg_buf_putf(b, "]}");
}

/* "NAME:/path[:ro], ..." of the sandboxes that mount vi, or "-". */
static void
put_mounts_text(struct mon *m, struct sg_buf *b, const struct vol_info *vi)
{
	struct sbx *s;
	size_t i;
	int first = 1;

	for (s = m->sbxs; s != NULL; s = s->next) {
		if (s->state == SB_DESTROYING || strcmp(s->token, vi->token))
			continue;
		for (i = 0; i < s->nvols; i++)
			if (strcmp(s->vols[i].name, vi->name) == 0) {
				sg_buf_putf(b, "%s%s:%s%s", first ? "" : ",",
				    sbx_label(s), s->vols[i].path,
				    s->vols[i].ro ? ":ro" : "");
				first = 0;
			}
	}
	if (first)
		sg_buf_putf(b, "-");
}

static uint64_t
quota_used(struct mon *m, const char *token, unsigned *ret_n)
{
	static struct vol_info list[VOL_LIST_MAX];
	struct vol_acc a = { list, 0, VOL_LIST_MAX, NULL };
	uint64_t sum = 0;
	size_t n, i;

	vol_list_more(m, token, &a);
	n = a.k;
	for (i = 0; i < n; i++)
		sum += list[i].size;
	*ret_n = (unsigned)n;
	return sum;
}

/* --- volume create VOL SIZE [--from SNAP] --- */

static void
vol_run(void *arg)
{
	struct vol_job *j = arg;
	struct sg_vm_vol_spec sp;
	struct sg_vm_host *h = NULL;

	j->r = mon_vm(j->m, &h, &j->err);
	if (j->r < 0)
		return;
	memset(&sp, 0, sizeof(sp));
	sp.dest = j->dest;
	sp.bytes = j->bytes;
	sp.from = j->from_dir;
	sp.label = j->vol;
	sp.domain_type = j->domain_type;
	sp.note = j->note;
	j->r = sg_vm_volume_create(h, &sp, &j->err);
}

static void
vol_done(void *arg, int cancelled)
{
	struct vol_job *j = arg;
	struct mon *m = j->m;
	struct mon_call *c = cancelled ? NULL : mon_call_job(m, j->serial);
	struct vol_info vi;

	busy_set(m, j->token, j->vol, 0, 0);
	if (cancelled)
		goto out;
	if (j->r < 0) {
		sg_warn("volume %s of token %s could not be made: %s", j->vol,
		    j->token, j->err ? j->err : strerror(-j->r));
		if (c != NULL)
			mon_call_fail(m, c, j->r == -EFBIG ? "usage" : "failed",
			    "volume %s could not be made: %s", j->vol,
			    j->r == -ENOSPC ? "the gateway is out of disk space" :
			    j->r == -EFBIG && j->err ? j->err :
			    j->r == -EEXIST ? "a volume of that name exists" :
			    "the gateway's log says why");
		goto out;
	}
	memset(&vi, 0, sizeof(vi));
	snprintf(vi.name, sizeof(vi.name), "%s", j->vol);
	snprintf(vi.token, sizeof(vi.token), "%s", j->token);
	(void)vol_read(j->dest, &vi);
	sg_info("volume %s of token %s made (%llu MiB%s%s)", j->vol, j->token,
	    (unsigned long long)(vi.size >> 20), j->from[0] ? ", from "
	    "snapshot " : "", j->from);
	sg_audit("volume_created", "token", j->token, "volume", j->vol,
	    "from", j->from[0] ? j->from : NULL, NULL);
	if (c == NULL)
		goto out;
	if (c->json) {
		put_info_json(m, c->out, &vi);
		sg_buf_putf(c->out, "\n");
	} else {
		sg_buf_putf(c->out, "volume %s made (%llu MiB): create NAME "
		    "--volume %s:/PATH mounts it\n", j->vol,
		    (unsigned long long)(vi.size >> 20), j->vol);
	}
	mon_call_finish(m, c, 0);
out:
	free(j->dest);
	free(j->from_dir);
	free(j->note);
	free(j->err);
	free(j);
}

static void
cmd_volume_create(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	const struct sg_token *tok = mon_api_token(m, c, q);
	struct vol_job *j = NULL;
	const char *token;
	char dest[4096], snapdir[4096], snapimg[80];
	uint64_t used, quota = m->cfg->volume_quota_gb << 30;
	struct stat st;
	unsigned n;

	if (tok == NULL)
		return;
	token = sg_tokens_name(tok);
	if (m->cfg->max_volumes == 0) {
		mon_call_fail(m, c, "refused", "volumes are off on this gateway "
		    "(max_volumes = 0)");
		return;
	}
	if (vol_dir(m, token, q->vol, dest, sizeof(dest)) < 0) {
		mon_call_fail(m, c, "usage", "the volume's path is too long");
		return;
	}
	if (stat(dest, &st) == 0 || vol_busy(m, token, q->vol)) {
		mon_call_fail(m, c, "exists", "volume %s exists: volume rm %s "
		    "first, or choose another name", q->vol, q->vol);
		return;
	}
	if (q->from_snap != NULL && mon_snap_find(m, token, q->from_snap,
	    snapdir, sizeof(snapdir), snapimg, sizeof(snapimg)) < 0) {
		mon_call_fail(m, c, "not_found", "no snapshot %s (see snapshot "
		    "ls)", q->from_snap);
		return;
	}
	used = quota_used(m, token, &n);
	in_flight(m, token, &n, &used);
	if (n >= m->cfg->max_volumes) {
		mon_call_fail(m, c, "limit", "token %s has %u volumes "
		    "(max_volumes = %u): volume rm one first", token, n,
		    m->cfg->max_volumes);
		return;
	}
	if (used + q->vol_bytes > quota) {
		mon_call_fail(m, c, "limit", "volume %s would take token %s's "
		    "volumes to %llu MiB (volume_quota_gb = %llu): make it "
		    "smaller, or volume rm one first", q->vol, token,
		    (unsigned long long)((used + q->vol_bytes) >> 20),
		    (unsigned long long)m->cfg->volume_quota_gb);
		return;
	}
	if (m->nvoljobs >= MON_SNAPJOBS_MAX) {
		mon_call_fail(m, c, "unavailable", "%zu volumes are being made: "
		    "try again in a moment", m->nvoljobs);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		goto nomem;
	j->m = m;
	snprintf(j->serial, sizeof(j->serial), "v%u", ++vol_serial);
	snprintf(j->token, sizeof(j->token), "%s", token);
	snprintf(j->vol, sizeof(j->vol), "%s", q->vol);
	if (q->from_snap != NULL)
		snprintf(j->from, sizeof(j->from), "%s", q->from_snap);
	j->bytes = q->vol_bytes;
	j->domain_type = m->vm_type;
	j->dest = strdup(dest);
	if (q->from_snap != NULL && (j->from_dir = strdup(snapdir)) == NULL)
		goto nomem;
	if (asprintf(&j->note, "name = %s\ntoken = %s\ncreated = %lld\n%s%s%s",
	    q->vol, token, (long long)mon_now(), j->from[0] ? "from = " : "",
	    j->from, j->from[0] ? "\n" : "") < 0)
		j->note = NULL;
	if (j->dest == NULL || j->note == NULL)
		goto nomem;
	if (sg_jobs_submit(m->jobs, vol_run, vol_done, j) < 0)
		goto nomem;
	busy_set(m, j->token, j->vol, j->bytes, 1);
	mon_call_wait(m, c, CALL_WAIT_JOB, j->serial, VOL_WAIT_MS);
	return;
nomem:
	if (j != NULL) {
		free(j->dest);
		free(j->from_dir);
		free(j->note);
		free(j);
	}
	mon_call_fail(m, c, "unavailable", "the gateway is out of memory");
}

/* --- volume ls --- */

static void
cmd_volume_ls(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	static struct vol_info list[VOL_LIST_MAX];
	struct vol_acc a = { list, 0, VOL_LIST_MAX, NULL };
	struct sg_buf *b = c->out;
	size_t n, k;
	uint64_t total = 0;

	if (mon_store_tokens(m, c, q, vol_list_more, &a) < 0)
		return;
	n = a.k;
	for (k = 0; k < n; k++)
		total += list[k].size;
	if (c->json) {
		sg_buf_putf(b, "{\"volumes\": [");
		for (k = 0; k < n; k++) {
			if (k > 0)
				sg_buf_putf(b, ", ");
			put_info_json(m, b, &list[k]);
		}
		sg_buf_putf(b, "], \"max_volumes\": %u, \"volume_quota_gb\": "
		    "%llu, \"total\": %llu}\n", m->cfg->max_volumes,
		    (unsigned long long)m->cfg->volume_quota_gb,
		    (unsigned long long)total);
	} else {
		sg_buf_putf(b, "%-32s  %-16s  %8s  %8s  %-20s  %-16s  %s\n",
		    "VOLUME", "TOKEN", "SIZE", "USED", "CREATED", "FROM",
		    "MOUNTED");
		for (k = 0; k < n; k++) {
			char when[32] = "?";
			time_t tt = (time_t)list[k].created;
			struct tm tm;

			if (gmtime_r(&tt, &tm) != NULL)
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			sg_buf_putf(b, "%-32s  %-16s  %7lluM  %7lluM  %-20s  %-16s  ",
			    list[k].name, list[k].token,
			    (unsigned long long)(list[k].size >> 20),
			    (unsigned long long)(list[k].used >> 20), when,
			    list[k].from[0] ? list[k].from : "-");
			put_mounts_text(m, b, &list[k]);
			sg_buf_putf(b, "\n");
		}
	}
	mon_call_finish(m, c, 0);
}

/* --- volume rm VOL --- */

static void
cmd_volume_rm(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	const struct sg_token *tok = mon_api_token(m, c, q);
	const char *token;
	char dest[4096], *err = NULL;
	struct sbx *w, *r1;
	struct stat st;
	unsigned nr;
	int r;

	if (tok == NULL)
		return;
	token = sg_tokens_name(tok);
	if (vol_dir(m, token, q->vol, dest, sizeof(dest)) < 0 ||
	    stat(dest, &st) < 0) {
		mon_call_fail(m, c, "not_found", "no volume %s (see volume ls)",
		    q->vol);
		return;
	}
	if (vol_busy(m, token, q->vol)) {
		mon_call_fail(m, c, "refused", "volume %s is being made: try "
		    "again once it is", q->vol);
		return;
	}
	vol_users(m, NULL, token, q->vol, &w, &nr, &r1);
	if (w != NULL || nr > 0) {
		mon_call_fail(m, c, "refused", "volume %s is mounted by sandbox "
		    "%s%s: kill it first", q->vol, sbx_label(w ? w : r1),
		    nr + (w != NULL) > 1 ? " and others" : "");
		return;
	}
	r = sg_vm_folder_remove(dest, &err);
	if (r < 0) {
		sg_warn("volume %s of token %s: %s", q->vol, token,
		    err ? err : strerror(-r));
		free(err);
		mon_call_fail(m, c, "failed", "volume %s could not be removed: "
		    "the gateway's log says why", q->vol);
		return;
	}
	sg_info("volume %s of token %s removed", q->vol, token);
	sg_audit("volume_removed", "token", token, "volume", q->vol, NULL);
	if (c->json) {
		sg_buf_putf(c->out, "{\"removed\": ");
		sg_json_str(c->out, q->vol);
		sg_buf_putf(c->out, "}\n");
	} else {
		sg_buf_putf(c->out, "volume %s removed\n", q->vol);
	}
	mon_call_finish(m, c, 0);
}

void
mon_vol_cmd(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	switch (q->cmd) {
	case SG_CTLA_VOLUME_CREATE:
		cmd_volume_create(m, c, q);
		break;
	case SG_CTLA_VOLUME_LS:
		cmd_volume_ls(m, c, q);
		break;
	default:
		cmd_volume_rm(m, c, q);
		break;
	}
}

void
mon_vol_sweep(struct mon *m)
{
	mon_store_sweep(m, "volumes", sg_vm_folder_remove, "a volume");
}
