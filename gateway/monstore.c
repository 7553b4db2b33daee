/* What snapshots (monsnap.c) and volumes (monvol.c) share: each is a
 * folder of its token's, STATE_DIR/KIND/TOKEN/NAME, made by a job as
 * NAME.tmp and renamed into place; the names being made are kept in a
 * small table until their job is done (mon.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/ctlargs.h"
#include "gateway/mon.h"
#include "gateway/tokens.h"

int
mon_store_path(struct mon *m, const char *kind, const char *token,
    const char *name, char *out, size_t size)
{
	int n = name ? snprintf(out, size, "%s/%s/%s/%s", m->cfg->state_dir,
	    kind, token, name) : snprintf(out, size, "%s/%s/%s",
	    m->cfg->state_dir, kind, token);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

size_t
mon_store_each(struct mon *m, const char *kind, const char *token,
    int (*fn)(const char *dir, const char *name, void *arg), void *arg)
{
	struct dirent **ents = NULL;
	char dir[4096], one[4096];
	size_t k = 0;
	int n, i;

	if (mon_store_path(m, kind, token, NULL, dir, sizeof(dir)) < 0)
		return 0;
	n = scandir(dir, &ents, NULL, alphasort);
	for (i = 0; i < n; i++) {
		const char *e = ents[i]->d_name;

		/* snapshots and volumes are named alike */
		if (sg_ctla_valid_snapshot(e) &&
		    snprintf(one, sizeof(one), "%s/%s", dir, e) < (int)sizeof(one) &&
		    fn(one, e, arg) == 0)
			k++;
		free(ents[i]);
	}
	free(ents);
	return k;
}

void
mon_store_sweep(struct mon *m, const char *kind,
    int (*rm)(const char *path, char **ret_err), const char *what)
{
	struct dirent *t, *e;
	char dir[4096], one[4096], *err = NULL;
	DIR *top, *d;
	size_t n;

	if (snprintf(dir, sizeof(dir), "%s/%s", m->cfg->state_dir, kind) >=
	    (int)sizeof(dir) || (top = opendir(dir)) == NULL)
		return;
	while ((t = readdir(top)) != NULL) {
		if (t->d_name[0] == '.' ||
		    snprintf(one, sizeof(one), "%s/%s", dir, t->d_name) >=
		    (int)sizeof(one) || (d = opendir(one)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			char tmp[4096];

			n = strlen(e->d_name);
			if (n < 5 || strcmp(e->d_name + n - 4, ".tmp") != 0 ||
			    snprintf(tmp, sizeof(tmp), "%s/%s", one, e->d_name) >=
			    (int)sizeof(tmp))
				continue;
			if (rm(tmp, &err) == 0)
				sg_info("removed %s, %s a sandgated before did not "
				    "finish", tmp, what);
			free(err);
			err = NULL;
		}
		closedir(d);
	}
	closedir(top);
}

int
mon_store_tokens(struct mon *m, struct mon_call *c, const struct sg_ctla *q,
    void (*fn)(struct mon *m, const char *token, void *arg), void *arg)
{
	const char *only = c->token != NULL ? c->token : q->token;
	size_t t;

	if (only != NULL && sg_tokens_find(m->tokens, only) == NULL) {
		mon_call_fail(m, c, c->token ? "refused" : "not_found",
		    c->token ? "the token was revoked" : "no token %s", only);
		return -1;
	}
	for (t = 0; t < sg_tokens_count(m->tokens); t++) {
		const char *name = sg_tokens_name(sg_tokens_at(m->tokens, t));

		if (only == NULL || strcmp(name, only) == 0)
			fn(m, name, arg);
	}
	return 0;
}

/* The entry of token's name in v[0..n), or n. */
static size_t
busy_find(const struct mon_snapjob *v, size_t n, const char *token,
    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].token, token) == 0 &&
		    strcmp(v[i].snap, name) == 0)
			break;
	return i;
}

int
mon_store_busy(const struct mon_snapjob *v, size_t n, const char *token,
    const char *name)
{
	return busy_find(v, n, token, name) < n;
}

void
mon_store_busy_set(struct mon_snapjob *v, size_t *n, const char *token,
    const char *name, const char *id, int on)
{
	size_t i = busy_find(v, *n, token, name);

	if (on && i == *n && i < MON_SNAPJOBS_MAX) {
		snprintf(v[i].token, sizeof(v[i].token), "%s", token);
		snprintf(v[i].snap, sizeof(v[i].snap), "%s", name);
		snprintf(v[i].sbx_id, sizeof(v[i].sbx_id), "%s", id ? id : "");
		(*n)++;
	} else if (!on && i < *n) {
		v[i] = v[*n - 1];
		(*n)--;
	}
}
