/* The control commands (monapi.h, docs/control.md). Each acts on the
 * caller's token only; root sees every token. Output is a table or, with
 * --json, one JSON document whose shapes scripts and the SDKs rely on. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/allow.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/util.h"
#include "gateway/audit.h"
#include "gateway/ctlargs.h"
#include "gateway/mon.h"
#include "gateway/tokens.h"

#define CALL_OUT_MAX	(1u << 20)
#define CALL_WAIT_MS	180000	/* a kill that hears nothing; a create waits
				 * this much past the boot timeout */

/* --- calls --- */

int
mon_call_init(struct mon_call *c, const char *token,
    void (*done)(struct mon *, struct mon_call *), void *owner)
{
	memset(c, 0, sizeof(*c));
	c->status = -1;
	c->done = done;
	c->owner = owner;
	c->out = sg_buf_new(CALL_OUT_MAX);
	c->err = sg_buf_new(64 * 1024);
	if (token != NULL)
		c->token = strdup(token);
	if (c->out == NULL || c->err == NULL || (token != NULL &&
	    c->token == NULL)) {
		sg_buf_free(c->out);
		sg_buf_free(c->err);
		free(c->token);
		memset(c, 0, sizeof(*c));
		return -ENOMEM;
	}
	return 0;
}

static void
call_unwait(struct mon *m, struct mon_call *c)
{
	struct mon_call **pp;

	for (pp = &m->calls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->next = NULL;
	c->wait = CALL_NONE;
}

void
mon_call_clear(struct mon *m, struct mon_call *c)
{
	if (c->wait != CALL_NONE)
		call_unwait(m, c);
	sg_buf_free(c->out);
	sg_buf_free(c->err);
	free(c->token);
	memset(c, 0, sizeof(*c));
}

static void
call_finish(struct mon *m, struct mon_call *c, int status)
{
	if (c->wait != CALL_NONE)
		call_unwait(m, c);
	c->status = status;
	if (c->done != NULL)
		c->done(m, c);
}

void
mon_call_finish(struct mon *m, struct mon_call *c, int status)
{
	call_finish(m, c, status);
}

void
mon_call_wait(struct mon *m, struct mon_call *c, enum mon_call_wait wait,
    const char *id, int64_t ms)
{
	c->wait = wait;
	snprintf(c->wait_id, sizeof(c->wait_id), "%s", id);
	c->deadline_ms = sg_mono_ms() + ms;
	c->next = m->calls;
	m->calls = c;
}

/* --- errors --- */

static void call_fail(struct mon *m, struct mon_call *c, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void vcall_fail(struct mon *m, struct mon_call *c, const char *code,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/* Ends c with an error: code "usage" is status 2, the others 1. */
static void
vcall_fail(struct mon *m, struct mon_call *c, const char *code,
    const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	sg_buf_reset(c->out);
	if (c->json) {
		sg_buf_putf(c->err, "{\"error\": {\"code\": \"%s\", "
		    "\"message\": ", code);
		sg_json_str(c->err, msg);
		sg_buf_putf(c->err, "}}\n");
	} else {
		sg_buf_putf(c->err, "sandgate: %s\n", msg);
	}
	call_finish(m, c, strcmp(code, "usage") == 0 ? 2 : 1);
}

static void
call_fail(struct mon *m, struct mon_call *c, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcall_fail(m, c, code, fmt, ap);
	va_end(ap);
}

void
mon_call_fail(struct mon *m, struct mon_call *c, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcall_fail(m, c, code, fmt, ap);
	va_end(ap);
}

/* --- sandboxes --- */


static uint64_t
sbx_dropped(struct mon *m, const struct sbx *s)
{
	uint64_t pk = 0, by = 0;

	if (s->has_net && sg_net_counters(m->net, s->id, &pk, &by) == 0)
		return pk;
	return 0;
}

void
mon_api_sbx_json(struct mon *m, struct sg_buf *b, struct sbx *s)
{
	int64_t now = mon_now();
	int named = s->name[0] != '\0', by_idle;
	int64_t end = mon_sbx_end(m, s, &by_idle);

	sg_buf_putf(b, "{\"id\": \"%s\", \"name\": ", s->id);
	sg_json_str(b, named ? s->name : NULL);
	sg_buf_putf(b, ", \"token\": ");
	sg_json_str(b, s->pool ? NULL : s->token);	/* null: the warm pool's */
	sg_buf_putf(b, ", \"image\": ");
	sg_json_str(b, s->image);
	sg_buf_putf(b, ", \"state\": \"%s\", \"memory_mb\": %u, \"vcpus\": %u, "
	    "\"created\": %lld, \"ends\": %lld, \"ends_in\": %lld, "
	    "\"left\": %lld, \"idle_ends\": ", mon_sbx_state_name(s), s->memory_mb,
	    s->vcpus, (long long)s->created, (long long)s->expires,
	    (long long)(s->expires > now ? s->expires - now : 0),
	    (long long)(end > now ? end - now : 0));
	if (by_idle)
		sg_buf_putf(b, "%lld", (long long)end);
	else
		sg_buf_putf(b, "null");
	sg_buf_putf(b, ", \"idle_timeout\": ");
	if (named)
		sg_buf_putf(b, "%llu", (unsigned long long)mon_sbx_idle(m, s));
	else
		sg_buf_putf(b, "null");
	sg_buf_putf(b, ", \"idle_since\": ");
	if (named && s->nconn == 0)
		sg_buf_putf(b, "%lld", (long long)s->idle_since);
	else
		sg_buf_putf(b, "null");
	sg_buf_putf(b, ", \"connections\": %u, \"allow_net\": ", s->nconn);
	sg_json_strv(b, s->allow_ent, s->nallow);
	sg_buf_putf(b, ", \"secrets\": ");
	sg_json_strv(b, s->ph_name, s->nph);
	sg_buf_putf(b, ", \"volumes\": [");
	for (size_t i = 0; i < s->nvols; i++) {
		sg_buf_putf(b, "%s{\"volume\": ", i ? ", " : "");
		sg_json_str(b, s->vols[i].name);
		sg_buf_putf(b, ", \"path\": ");
		sg_json_str(b, s->vols[i].path);
		sg_buf_putf(b, ", \"ro\": %s}", s->vols[i].ro ? "true" : "false");
	}
	sg_buf_putf(b, "], \"exposed\": [");
	for (size_t i = 0; i < s->nex; i++) {
		char url[512];

		sg_buf_putf(b, "%s{\"port\": %u, \"public\": %s, \"url\": ",
		    i ? ", " : "", (unsigned)s->ex[i].port,
		    s->ex[i].public ? "true" : "false");
		sg_json_str(b, mon_front_url(m, s, s->ex[i].port, url,
		    sizeof(url)) == 0 ? url : NULL);
		sg_buf_putf(b, "}");
	}
	sg_buf_putf(b, "], \"dropped\": %llu}",
	    (unsigned long long)sbx_dropped(m, s));
}

/* "8000,3000(public)" or "-". */
static void
ports_text(const struct sbx *s, char *out, size_t size)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < s->nex && n < size; i++)
		n += (size_t)snprintf(out + n, size - n, "%s%u%s", i ? "," : "",
		    (unsigned)s->ex[i].port, s->ex[i].public ? "(public)" : "");
	if (s->nex == 0)
		snprintf(out, size, "-");
}

static void
table_head(struct sg_buf *b)
{
	sg_buf_putf(b, "%-12s  %-16s  %-12s  %-10s  %8s  %-10s  %7s  %6s  "
	    "%5s  %4s  %s\n", "ID", "TOKEN", "NAME", "IMAGE", "LEFT", "STATE",
	    "DROPPED", "MEMORY", "VCPUS", "CONN", "EXPOSED");
}

/* Time until s ends, as a duration ("9m59s"). */
static void
left(struct mon *m, struct sbx *s, char *out, size_t size, int *ret_idle)
{
	int64_t now = mon_now(), end = mon_sbx_end(m, s, ret_idle);

	if (sg_util_format_duration((uint64_t)(end > now ? end - now : 0), out,
	    size) < 0)
		snprintf(out, size, "?");
}

static void
table_row(struct mon *m, struct sg_buf *b, struct sbx *s)
{
	char dur[SG_UTIL_DURATION_BUFSZ], ports[160];

	left(m, s, dur, sizeof(dur), NULL);
	ports_text(s, ports, sizeof(ports));
	sg_buf_putf(b, "%-12s  %-16s  %-12s  %-10s  %8s  %-10s  %7llu  %6u  "
	    "%5u  %4u  %s\n", s->id, s->pool ? "(warm pool)" : s->token,
	    s->name[0] ? s->name : "-",
	    s->image, dur, mon_sbx_state_name(s), (unsigned long long)sbx_dropped(m, s),
	    s->memory_mb, s->vcpus, s->nconn, ports);
}

static void
sbx_text(struct mon *m, struct sg_buf *b, struct sbx *s)
{
	char dur[SG_UTIL_DURATION_BUFSZ];
	int by_idle;
	size_t i;

	sg_buf_putf(b, "id:          %s\nname:        %s\ntoken:       %s\n"
	    "image:       %s\nstate:       %s\nmemory_mb:   %u\nvcpus:       %u\n",
	    s->id, s->name[0] ? s->name : "-", s->pool ? "(warm pool)" :
	    s->token, s->image,
	    mon_sbx_state_name(s), s->memory_mb, s->vcpus);
	left(m, s, dur, sizeof(dur), &by_idle);
	sg_buf_putf(b, "ends in:     %s (%s)\nconnections: %u\nallow_net:   ",
	    dur, by_idle ? "idle_timeout: no connection" : "max_lifetime",
	    s->nconn);
	for (i = 0; i < s->nallow; i++)
		sg_buf_putf(b, "%s%s", i ? ", " : "", s->allow_ent[i]);
	sg_buf_putf(b, "%s\nsecrets:     ", s->nallow ? "" : "(none)");
	for (i = 0; i < s->nph; i++)
		sg_buf_putf(b, "%s%s", i ? ", " : "", s->ph_name[i]);
	sg_buf_putf(b, "%s\nvolumes:     ", s->nph ? "" : "(none)");
	for (i = 0; i < s->nvols; i++)
		sg_buf_putf(b, "%s%s:%s%s", i ? ", " : "", s->vols[i].name,
		    s->vols[i].path, s->vols[i].ro ? ":ro" : "");
	sg_buf_putf(b, "%s\nexposed:     ", s->nvols ? "" : "(none)");
	for (i = 0; i < s->nex; i++) {
		char url[512];

		sg_buf_putf(b, "%s%u %s%s", i ? "\n             " : "",
		    (unsigned)s->ex[i].port, mon_front_url(m, s, s->ex[i].port,
		    url, sizeof(url)) == 0 ? url : "?",
		    s->ex[i].public ? " (public)" : "");
	}
	sg_buf_putf(b, "%s\n", s->nex ? "" : "(none)");
}

static int
visible(const struct sbx *s)
{
	return s->state != SB_DESTROYING;
}

/* The sandbox a request names: a token holder's by name; root's by id,
 * by name with --token, or by a name only one token has. */
static struct sbx *
lookup(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	const char *tok = c->token != NULL ? c->token : q->token;
	struct sbx *s, *found = NULL;
	unsigned n = 0;

	for (s = m->sbxs; s != NULL; s = s->next) {
		if (!visible(s))
			continue;
		if (tok != NULL && strcmp(s->token, tok) == 0 &&
		    strcmp(s->name, q->name) == 0)
			return s;
		if (c->token == NULL && tok == NULL) {
			if (strcmp(s->id, q->name) == 0)
				return s;
			if (strcmp(s->name, q->name) == 0) {
				found = s;
				n++;
			}
		}
	}
	if (c->token == NULL && tok != NULL) {
		s = mon_sbx_find(m, q->name);
		if (s != NULL && strcmp(s->token, tok) == 0)
			return s;
	}
	if (n > 1) {
		call_fail(m, c, "refused", "%u tokens have a sandbox %s: add "
		    "--token T, or give its id", n, q->name);
		return NULL;
	}
	if (found == NULL)
		call_fail(m, c, "not_found", "no sandbox %s (see ls)", q->name);
	return found;
}

/* --- the token's limits --- */

struct limits {
	const struct sg_token *tok;
	unsigned max_sandboxes, memory_mb, vcpus;
	uint64_t lifetime_s, idle_s;
	const char *image;		/* NULL: any installed image */
};

static void
limits_of(struct mon *m, const struct sg_token *tok, struct limits *l)
{
	const struct sg_mon_cfg *cfg = m->cfg;

	l->tok = tok;
	l->max_sandboxes = sg_tokens_max_sandboxes(tok) ?
	    sg_tokens_max_sandboxes(tok) : cfg->max_sandboxes;
	l->memory_mb = sg_tokens_memory_mb(tok) ? sg_tokens_memory_mb(tok) :
	    cfg->memory_mb;
	l->vcpus = sg_tokens_vcpus(tok) ? sg_tokens_vcpus(tok) : cfg->vcpus;
	l->lifetime_s = sg_tokens_max_lifetime(tok) ?
	    sg_tokens_max_lifetime(tok) : cfg->max_lifetime_s;
	l->idle_s = sg_tokens_idle_timeout(tok) ?
	    sg_tokens_idle_timeout(tok) : cfg->idle_timeout_s;
	l->image = sg_tokens_image(tok);
}

struct mon_call *
mon_call_job(struct mon *m, const char *serial)
{
	struct mon_call *c;

	for (c = m->calls; c != NULL; c = c->next)
		if (c->wait == CALL_WAIT_JOB && strcmp(c->wait_id, serial) == 0)
			return c;
	return NULL;
}

/* lookup() for commands that act on a sandbox's guest or times: a warm
 * pool member (root finds it by its id) has neither yet. */
static struct sbx *
lookup_owned(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	struct sbx *s = lookup(m, c, q);

	if (s != NULL && s->pool) {
		call_fail(m, c, "refused", "sandbox %s is a warm pool member: "
		    "only info and kill apply to it until a start takes it",
		    s->id);
		return NULL;
	}
	return s;
}

struct sbx *
mon_api_lookup(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	return lookup_owned(m, c, q);
}

static const struct sg_token *
caller_token(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	const char *name = c->token != NULL ? c->token : q->token;
	const struct sg_token *tok = sg_tokens_find(m->tokens, name);

	if (tok == NULL)
		call_fail(m, c, c->token != NULL ? "refused" : "not_found",
		    c->token != NULL ? "the token was revoked" :
		    "no token %s (see sandgatectl token list)", name);
	return tok;
}

const struct sg_token *
mon_api_token(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	if (c->token == NULL && q->token == NULL) {
		call_fail(m, c, "usage", "root must say for which token "
		    "(--token T)");
		return NULL;
	}
	return caller_token(m, c, q);
}

/* --- commands --- */

static void
cmd_help(struct mon *m, struct mon_call *c)
{
	const char *name, *usage, *summary;
	size_t i;

	if (!c->json) {
		sg_buf_putf(c->out, "%s", sg_ctla_help_text(c->token == NULL));
		call_finish(m, c, 0);
		return;
	}
	sg_buf_putf(c->out, "{\"commands\": [");
	for (i = 0; i < sg_ctla_ncommands(); i++) {
		sg_ctla_command(i, c->token == NULL, &name, &usage, &summary);
		sg_buf_putf(c->out, "%s{\"name\": ", i ? ", " : "");
		sg_json_str(c->out, name);
		sg_buf_putf(c->out, ", \"usage\": ");
		sg_json_str(c->out, usage);
		sg_buf_putf(c->out, ", \"summary\": ");
		sg_json_str(c->out, summary);
		sg_buf_putf(c->out, "}");
	}
	sg_buf_putf(c->out, "]}\n");
	call_finish(m, c, 0);
}

static void
cmd_whoami(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	const struct sg_token *tok;
	unsigned n = 0, mem = 0, cpus = 0;
	struct limits l;
	struct sbx *s;
	size_t i;

	if (c->token == NULL && q->token == NULL) {
		if (c->json)
			sg_buf_putf(c->out, "{\"token\": null, \"root\": true}\n");
		else
			sg_buf_putf(c->out, "root (every token; whoami --token T "
			    "shows one)\n");
		call_finish(m, c, 0);
		return;
	}
	if ((tok = caller_token(m, c, q)) == NULL)
		return;
	limits_of(m, tok, &l);
	for (s = m->sbxs; s != NULL; s = s->next)
		if (visible(s) && strcmp(s->token, sg_tokens_name(tok)) == 0) {
			n++;
			mem += s->memory_mb;
			cpus += s->vcpus;
		}
	if (c->json) {
		sg_buf_putf(c->out, "{\"token\": ");
		sg_json_str(c->out, sg_tokens_name(tok));
		sg_buf_putf(c->out, ", \"limits\": {\"max_sandboxes\": %u, "
		    "\"memory_mb\": %u, \"vcpus\": %u, \"max_lifetime\": %llu, "
		    "\"idle_timeout\": %llu, \"image\": ", l.max_sandboxes,
		    l.memory_mb, l.vcpus, (unsigned long long)l.lifetime_s,
		    (unsigned long long)l.idle_s);
		sg_json_str(c->out, l.image);
		sg_buf_putf(c->out, ", \"allow_net\": [");
		for (i = 0; i < sg_tokens_allow_net_count(tok); i++) {
			sg_buf_putf(c->out, "%s", i ? ", " : "");
			sg_json_str(c->out, sg_tokens_allow_net_at(tok, i));
		}
		sg_buf_putf(c->out, "], \"secrets\": [");
		for (i = 0; i < sg_tokens_secret_count(tok); i++) {
			sg_buf_putf(c->out, "%s", i ? ", " : "");
			sg_json_str(c->out, sg_tokens_secret_name(tok, i));
		}
		sg_buf_putf(c->out, "]}, \"usage\": {\"sandboxes\": %u, "
		    "\"memory_mb\": %u, \"vcpus\": %u}}\n", n, mem, cpus);
	} else {
		char life[32], idle[32];

		(void)sg_util_format_duration(l.lifetime_s, life, sizeof(life));
		(void)sg_util_format_duration(l.idle_s, idle, sizeof(idle));
		sg_buf_putf(c->out, "token:        %s\nsandboxes:    %u of %u\n"
		    "memory_mb:    %u in use; up to %u each\n"
		    "vcpus:        %u in use; up to %u each\n"
		    "max_lifetime: %s\nidle_timeout: %s\nimage:        %s\n"
		    "allow_net:    %s\nsecrets:      ", sg_tokens_name(tok), n,
		    l.max_sandboxes, mem, l.memory_mb, cpus, l.vcpus, life, idle,
		    l.image ? l.image : "(any installed)",
		    sg_tokens_allow_net(tok) ? sg_tokens_allow_net(tok) :
		    "(none: no egress)");
		for (i = 0; i < sg_tokens_secret_count(tok); i++)
			sg_buf_putf(c->out, "%s%s", i ? ", " : "",
			    sg_tokens_secret_name(tok, i));
		sg_buf_putf(c->out, "%s\n", i ? "" : "(none)");
	}
	call_finish(m, c, 0);
}

static void
cmd_ls(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	const char *tok = c->token != NULL ? c->token : q->token;
	struct sbx *s;
	int first = 1;

	if (c->json)
		sg_buf_putf(c->out, "{\"sandboxes\": [");
	else
		table_head(c->out);
	for (s = m->sbxs; s != NULL; s = s->next) {
		if (!visible(s) || (tok != NULL && strcmp(s->token, tok) != 0))
			continue;
		if (c->json) {
			sg_buf_putf(c->out, "%s", first ? "" : ", ");
			mon_api_sbx_json(m, c->out, s);
		} else {
			table_row(m, c->out, s);
		}
		first = 0;
	}
	if (c->json)
		sg_buf_putf(c->out, "]}\n");
	call_finish(m, c, 0);
}

static void
answer_sbx(struct mon *m, struct mon_call *c, struct sbx *s)
{
	if (c->json) {
		mon_api_sbx_json(m, c->out, s);
		sg_buf_putf(c->out, "\n");
	} else {
		sbx_text(m, c->out, s);
	}
	call_finish(m, c, 0);
}

static void
cmd_info(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	struct sbx *s = lookup(m, c, q);

	if (s != NULL)
		answer_sbx(m, c, s);
}

static void
cmd_extend(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	struct sbx *s = lookup_owned(m, c, q);
	const struct sg_token *tok;
	int64_t to, cap;
	struct limits l;
	char d[32];

	if (s == NULL)
		return;
	to = s->expires + (int64_t)q->duration_s;
	if (c->token != NULL) {
		if ((tok = caller_token(m, c, q)) == NULL)
			return;
		limits_of(m, tok, &l);
		cap = mon_now() + (int64_t)l.lifetime_s;
		if (to > cap) {
			(void)sg_util_format_duration(l.lifetime_s, d, sizeof(d));
			call_fail(m, c, "limit", "%s would end more than "
			    "max_lifetime (%s) from now: extend it by less",
			    q->name, d);
			return;
		}
	}
	if (s->state == SB_HIBERNATED) {
		s->expires = to;	/* its domain comes back with it */
		mon_hib_extend(m, s);
	} else if (mon_sbx_set_expires(m, s, to) < 0) {
		sg_warn("sandbox %s: could not record the new expiry in "
		    "libvirt", s->id);
	}
	(void)sg_util_format_duration(q->duration_s, d, sizeof(d));
	sg_info("sandbox %s extended by %s (%s)", s->id, d,
	    c->token ? c->token : "root");
	sg_audit("sandbox_extended", "sandbox", s->id, "by", d, "caller",
	    c->token ? c->token : "root", NULL);
	if (!c->json) {
		(void)sg_util_format_duration((uint64_t)(s->expires - mon_now()),
		    d, sizeof(d));
		sg_buf_putf(c->out, "%s now ends in %s\n", s->name[0] ? s->name :
		    s->id, d);
		call_finish(m, c, 0);
		return;
	}
	answer_sbx(m, c, s);
}

static void
killed_json(struct sg_buf *b, const struct sbx *s, int first)
{
	sg_buf_putf(b, "%s{\"id\": \"%s\", \"name\": ", first ? "" : ", ",
	    s->id);
	sg_json_str(b, s->name[0] ? s->name : NULL);
	sg_buf_putf(b, "}");
}

static void
kill_one(struct mon *m, struct mon_call *c, struct sbx *s)
{
	sg_audit("sandbox_killed", "sandbox", s->id, "caller",
	    c->token ? c->token : "root", NULL);
	if (c->token != NULL)
		mon_sbx_destroy(m, s, "killed by its token", SG_NOTICE_FAILED,
		    "it was killed by its token (kill)");
	else
		mon_sbx_destroy(m, s, "killed by administrator",
		    SG_NOTICE_KILLED, "killed");
}

static void
cmd_kill(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	struct sbx *s, *nx;
	int first = 1;

	if (q->name == NULL) {
		/* root: every sandbox of a token, answered once each is on
		 * its way out */
		if (c->json)
			sg_buf_putf(c->out, "{\"killed\": [");
		for (s = m->sbxs; s != NULL; s = nx) {
			nx = s->next;
			if (!visible(s) || strcmp(s->token, q->token) != 0)
				continue;
			if (c->json)
				killed_json(c->out, s, first);
			else
				sg_buf_putf(c->out, "killing %s (%s)\n", s->id,
				    s->name[0] ? s->name : "-");
			first = 0;
			kill_one(m, c, s);
		}
		if (c->json)
			sg_buf_putf(c->out, "]}\n");
		call_finish(m, c, 0);
		return;
	}
	s = lookup(m, c, q);
	if (s == NULL)
		return;
	if (c->json) {
		sg_buf_putf(c->out, "{\"killed\": [");
		killed_json(c->out, s, 1);
		sg_buf_putf(c->out, "]}\n");
	} else {
		sg_buf_putf(c->out, "killed %s (%s)\n", s->name[0] ? s->name :
		    "-", s->id);
	}
	/* answered once it is gone (its job forgets it) */
	c->wait = CALL_WAIT_GONE;
	snprintf(c->wait_id, sizeof(c->wait_id), "%s", s->id);
	c->deadline_ms = sg_mono_ms() + CALL_WAIT_MS;
	c->next = m->calls;
	m->calls = c;
	kill_one(m, c, s);
}

static int
has_image(struct mon *m, const char *image)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/image.conf", m->cfg->image_dir,
	    image);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int
token_has_secret(const struct sg_token *tok, const char *name)
{
	size_t i;

	for (i = 0; i < sg_tokens_secret_count(tok); i++)
		if (strcmp(sg_tokens_secret_name(tok, i), name) == 0)
			return 1;
	return 0;
}

/* Each --allow-net entry must lie inside the token's allow_net. */
static int
check_allow(struct mon *m, struct mon_call *c, const struct sg_token *tok,
    const struct sg_ctla *q)
{
	struct sg_allow *outer = NULL, *one = NULL;
	const char **ents;
	char *msg = NULL;
	size_t i, n = sg_tokens_allow_net_count(tok);
	int ok = 0;

	ents = calloc(n + 1, sizeof(*ents));
	if (ents == NULL) {
		call_fail(m, c, "unavailable", "the gateway is out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		ents[i] = sg_tokens_allow_net_at(tok, i);
	if (sg_allow_parse(ents, n, &outer, &msg) < 0) {
		call_fail(m, c, "refused", "the token's allow_net is not valid: "
		    "ask an administrator");
		goto out;
	}
	for (i = 0; i < q->nallow; i++) {
		const char *e = q->allow[i];

		free(msg);
		msg = NULL;
		if (sg_allow_parse(&e, 1, &one, &msg) < 0) {
			call_fail(m, c, "usage", "--allow-net: %s", msg ? msg : e);
			goto out;
		}
		if (!sg_allow_within(one, outer)) {
			call_fail(m, c, "refused", "--allow-net %s is outside the "
			    "token's allow_net (see whoami)", e);
			goto out;
		}
		sg_allow_free(one);
		one = NULL;
	}
	ok = 1;
out:
	free(msg);
	sg_allow_free(one);
	sg_allow_free(outer);
	free(ents);
	return ok ? 0 : -1;
}

static void
cmd_create(struct mon *m, struct mon_call *c, const struct sg_ctla *q,
    const char *source)
{
	const struct sg_token *tok;
	struct mon_sbx_opts o;
	struct limits l;
	struct sbx *s;
	char reason[600], d[32], snapdir[4096], snapimg[80];
	const char *kind = NULL;
	size_t i, k;

	if ((tok = caller_token(m, c, q)) == NULL)
		return;
	limits_of(m, tok, &l);
	/* a snapshot of the token's own: its folder is the image */
	if (q->from_snap != NULL && mon_snap_find(m, sg_tokens_name(tok),
	    q->from_snap, snapdir, sizeof(snapdir), snapimg,
	    sizeof(snapimg)) < 0) {
		call_fail(m, c, "not_found", "no snapshot %s (see snapshot ls)",
		    q->from_snap);
		return;
	}
	if (strcmp(q->name, m->cfg->control_user) == 0) {
		call_fail(m, c, "usage", "%s is the control interface's user "
		    "name: choose another name", q->name);
		return;
	}
	for (s = m->sbxs; s != NULL; s = s->next)
		if (visible(s) && strcmp(s->token, sg_tokens_name(tok)) == 0 &&
		    strcmp(s->name, q->name) == 0) {
			call_fail(m, c, "exists", "sandbox %s exists already "
			    "(ssh %s@host joins it; kill %s ends it)", q->name,
			    q->name, q->name);
			return;
		}
	if (!m->adopted) {
		call_fail(m, c, "unavailable", "%s", m->vm_err ? "the gateway "
		    "cannot reach libvirt: try again later" : "the gateway is "
		    "starting: try again in a few seconds");
		return;
	}
	if (q->from_snap != NULL && l.image != NULL && strcmp(snapimg, l.image)) {
		call_fail(m, c, "refused", "snapshot %s was made of image %s; "
		    "the token may use image %s only", q->from_snap, snapimg,
		    l.image);
		return;
	}
	if (q->image != NULL && l.image != NULL && strcmp(q->image, l.image)) {
		call_fail(m, c, "refused", "the token may use image %s only",
		    l.image);
		return;
	}
	if (q->image != NULL && !has_image(m, q->image)) {
		call_fail(m, c, "not_found", "no image %s on this gateway",
		    q->image);
		return;
	}
	if (q->memory_mb != 0 && q->memory_mb < 768) {
		call_fail(m, c, "usage", "--memory %u: at least 768",
		    q->memory_mb);
		return;
	}
	if (q->memory_mb > l.memory_mb) {
		call_fail(m, c, "limit", "--memory %u: the token allows %u",
		    q->memory_mb, l.memory_mb);
		return;
	}
	if (q->vcpus > l.vcpus) {
		call_fail(m, c, "limit", "--vcpus %u: the token allows %u",
		    q->vcpus, l.vcpus);
		return;
	}
	if (q->has_lifetime && q->lifetime_s > l.lifetime_s) {
		(void)sg_util_format_duration(l.lifetime_s, d, sizeof(d));
		call_fail(m, c, "limit", "--lifetime: the token allows %s", d);
		return;
	}
	if (q->has_idle && q->idle_s > (q->has_lifetime ? q->lifetime_s :
	    l.lifetime_s)) {
		call_fail(m, c, "limit", "--idle-timeout: at most the lifetime");
		return;
	}
	if (q->has_allow && check_allow(m, c, tok, q) < 0)
		return;
	for (i = 0; i < q->nsecrets; i++)
		if (!token_has_secret(tok, q->secrets[i])) {
			call_fail(m, c, "refused", "--secret %s: the token has no "
			    "such secret (see whoami)", q->secrets[i]);
			return;
		}
	for (i = 0; i < q->nenv; i++)
		for (k = 0; k < sg_tokens_secret_count(tok); k++) {
			const char *sn = sg_tokens_secret_name(tok, k);
			size_t sl = strlen(sn);

			if (strncmp(q->env[i], sn, sl) == 0 &&
			    q->env[i][sl] == '=') {
				call_fail(m, c, "refused", "--env %s: that is "
				    "the name of a secret's placeholder", sn);
				return;
			}
		}
	if (q->nvols > 0 && mon_vol_check(m, sg_tokens_name(tok), q->vols,
	    q->nvols, &kind, reason, sizeof(reason)) < 0) {
		call_fail(m, c, kind, "%s", reason);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.token = sg_tokens_name(tok);
	o.name = q->name;
	o.source = source;
	o.peer = source;
	o.image = q->from_snap != NULL ? snapimg : q->image;
	o.image_dir = q->from_snap != NULL ? snapdir : NULL;
	o.memory_mb = q->memory_mb;
	o.vcpus = q->vcpus;
	o.lifetime_s = q->has_lifetime ? q->lifetime_s : 0;
	o.idle_s = q->has_idle ? q->idle_s : 0;
	o.has_allow = q->has_allow;
	o.allow = q->allow;
	o.nallow = q->nallow;
	o.has_secrets = q->has_secrets;
	o.secrets = q->secrets;
	o.nsecrets = q->nsecrets;
	o.env = q->env;
	o.nenv = q->nenv;
	o.vols = q->vols;
	o.nvols = q->nvols;
	reason[0] = '\0';
	if (mon_sbx_create(m, &o, &s, reason, sizeof(reason)) < 0) {
		call_fail(m, c, strstr(reason, "max_sandboxes") ? "limit" :
		    "unavailable", "%s", reason);
		return;
	}
	/* answered once its agent answers, or it fails (the shim's boot
	 * deadline comes first: this is a backstop) */
	c->wait = CALL_WAIT_READY;
	snprintf(c->wait_id, sizeof(c->wait_id), "%s", s->id);
	c->deadline_ms = sg_mono_ms() + CALL_WAIT_MS +
	    (int64_t)m->cfg->boot_timeout_s * 1000;
	c->next = m->calls;
	m->calls = c;
}

void
mon_api_run(struct mon *m, struct mon_call *c, const char *line, size_t len,
    int longer)
{
	struct sg_ctla *q = NULL;
	char **argv = NULL, *err = NULL;
	size_t argc = 0;
	int r;

	c->json = memmem(line, len, "--json", 6) != NULL;
	if (c->token != NULL && sg_tokens_find(m->tokens, c->token) == NULL) {
		call_fail(m, c, "refused", "the token was revoked");
		return;
	}
	if (longer) {
		call_fail(m, c, "usage", "the command is longer than %d bytes",
		    SG_CTLA_LINE_MAX);
		return;
	}
	r = sg_ctla_split(line, len, &argv, &argc, &err);
	if (r == 0)
		r = sg_ctla_parse(argc, argv, c->token == NULL, &q, &err);
	if (r < 0) {
		if (r == -ENOMEM)
			call_fail(m, c, "unavailable", "the gateway is out of "
			    "memory");
		else
			call_fail(m, c, "usage", "%s", err ? err : "bad command");
		goto out;
	}
	c->json = q->json;
	switch (q->cmd) {
	case SG_CTLA_HELP:
		cmd_help(m, c);
		break;
	case SG_CTLA_WHOAMI:
		cmd_whoami(m, c, q);
		break;
	case SG_CTLA_LS:
		cmd_ls(m, c, q);
		break;
	case SG_CTLA_CREATE:
		cmd_create(m, c, q, c->source[0] ? c->source : "root");
		break;
	case SG_CTLA_INFO:
		cmd_info(m, c, q);
		break;
	case SG_CTLA_EXTEND:
		cmd_extend(m, c, q);
		break;
	case SG_CTLA_KILL:
		cmd_kill(m, c, q);
		break;
	case SG_CTLA_SNAPSHOT:
	case SG_CTLA_SNAPSHOT_LS:
	case SG_CTLA_SNAPSHOT_RM:
		mon_snap_cmd(m, c, q, c->source[0] ? c->source : "root");
		break;
	case SG_CTLA_VOLUME_CREATE:
	case SG_CTLA_VOLUME_LS:
	case SG_CTLA_VOLUME_RM:
		mon_vol_cmd(m, c, q);
		break;
	case SG_CTLA_HIBERNATE:
		mon_hib_cmd(m, c, q);
		break;
	case SG_CTLA_EXPOSE:
	case SG_CTLA_UNEXPOSE:
		mon_front_cmd(m, c, q);
		break;
	}
out:
	free(err);
	sg_ctla_free(q);
	sg_ctla_free_words(argv, argc);
}

/* --- events --- */

void
mon_api_ready(struct mon *m, struct sbx *s)
{
	struct mon_call *c, *nx;

	for (c = m->calls; c != NULL; c = nx) {
		nx = c->next;
		if (c->wait == CALL_WAIT_READY && strcmp(c->wait_id, s->id) == 0) {
			call_unwait(m, c);
			if (c->json) {
				answer_sbx(m, c, s);
				continue;
			}
			sg_buf_putf(c->out, "%s is ready (id %s, image %s, %u MiB, "
			    "%u vCPU): ssh %s@HOST joins it\n", s->name, s->id,
			    s->image, s->memory_mb, s->vcpus, s->name);
			call_finish(m, c, 0);
		}
	}
}

void
mon_api_failed(struct mon *m, struct sbx *s, const char *why)
{
	struct mon_call *c, *nx;

	for (c = m->calls; c != NULL; c = nx) {
		nx = c->next;
		if (c->wait == CALL_WAIT_READY && strcmp(c->wait_id, s->id) == 0)
			call_fail(m, c, "failed", "sandbox %s could not be "
			    "started: %s", s->name, why);
	}
}

void
mon_api_gone(struct mon *m, const char *id)
{
	struct mon_call *c, *nx;

	for (c = m->calls; c != NULL; c = nx) {
		nx = c->next;
		if (c->wait == CALL_WAIT_GONE && strcmp(c->wait_id, id) == 0)
			call_finish(m, c, 0);
	}
}

int64_t
mon_api_timers(struct mon *m)
{
	struct mon_call *c, *nx;
	int64_t now = sg_mono_ms(), next = 60000;

	for (c = m->calls; c != NULL; c = nx) {
		nx = c->next;
		if (now >= c->deadline_ms)
			call_fail(m, c, "unavailable", "no answer in time: see "
			    "ls for the sandbox's state");
		else if (c->deadline_ms - now < next)
			next = c->deadline_ms - now;
	}
	return next;
}
