/* The control interface's command line (ctlargs.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/allow.h"
#include "common/text.h"
#include "common/util.h"
#include "gateway/ctlargs.h"

#define NAME_MAX_LEN	64	/* token and secret names */

/* --- words --- */

struct words {
	char **v;
	size_t n;
	char *cur;		/* the word being built */
	size_t len;
	int in_word;
};

static int
word_byte(struct words *w, char c, char **ret_err)
{
	if (w->len >= SG_CTLA_WORD_MAX)
		return sg_fail(ret_err, -EINVAL, "a word is longer than %d "
		    "bytes", SG_CTLA_WORD_MAX);
	if (w->cur == NULL && (w->cur = malloc(SG_CTLA_WORD_MAX + 1)) == NULL)
		return -ENOMEM;
	w->cur[w->len++] = c;
	w->in_word = 1;
	return 0;
}

static int
word_end(struct words *w, char **ret_err)
{
	char *s;

	if (!w->in_word)
		return 0;
	if (w->n >= SG_CTLA_WORDS_MAX)
		return sg_fail(ret_err, -EINVAL, "more than %d words",
		    SG_CTLA_WORDS_MAX);
	s = malloc(w->len + 1);
	if (s == NULL)
		return -ENOMEM;
	if (w->len > 0)
		memcpy(s, w->cur, w->len);
	s[w->len] = '\0';
	w->v[w->n++] = s;
	w->len = 0;
	w->in_word = 0;
	return 0;
}

void
sg_ctla_free_words(char **argv, size_t argc)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

int
sg_ctla_split(const char *line, size_t len, char ***ret_argv,
    size_t *ret_argc, char **ret_err)
{
	struct words w = { 0 };
	enum { PLAIN, SINGLE, DOUBLE } q = PLAIN;
	size_t i;
	int r = 0;

	*ret_err = NULL;
	if (len > SG_CTLA_LINE_MAX)
		return sg_fail(ret_err, -EINVAL, "the command is longer than "
		    "%d bytes", SG_CTLA_LINE_MAX);
	w.v = calloc(SG_CTLA_WORDS_MAX + 1, sizeof(char *));
	if (w.v == NULL)
		return -ENOMEM;
	for (i = 0; i < len && r == 0; i++) {
		unsigned char c = (unsigned char)line[i];
		int sep = c == ' ' || c == '\t' || c == '\n' || c == '\r';

		if ((c < 0x20 && !(sep && q == PLAIN)) || c == 0x7f) {
			r = sg_fail(ret_err, -EINVAL, "byte 0x%02x at offset "
			    "%zu: control bytes are not allowed in commands", c,
			    i);
			break;
		}
		switch (q) {
		case PLAIN:
			if (sep)
				r = word_end(&w, ret_err);
			else if (c == '\'') {
				q = SINGLE;
				w.in_word = 1;
			} else if (c == '"') {
				q = DOUBLE;
				w.in_word = 1;
			} else if (c == '\\') {
				if (i + 1 >= len) {
					r = sg_fail(ret_err, -EINVAL, "the "
					    "command ends in a backslash");
					break;
				}
				i++;
				if (line[i] == '\n')	/* a line continuation */
					break;
				if ((unsigned char)line[i] < 0x20 ||
				    line[i] == 0x7f) {
					r = sg_fail(ret_err, -EINVAL, "byte "
					    "0x%02x at offset %zu: control "
					    "bytes are not allowed in commands",
					    (unsigned char)line[i], i);
					break;
				}
				r = word_byte(&w, line[i], ret_err);
			} else
				r = word_byte(&w, (char)c, ret_err);
			break;
		case SINGLE:
			if (c == '\'')
				q = PLAIN;
			else
				r = word_byte(&w, (char)c, ret_err);
			break;
		case DOUBLE:
			if (c == '"') {
				q = PLAIN;
			} else if (c == '\\' && i + 1 < len &&
			    strchr("\"\\$`\n", line[i + 1]) != NULL) {
				i++;
				if (line[i] != '\n')
					r = word_byte(&w, line[i], ret_err);
			} else
				r = word_byte(&w, (char)c, ret_err);
			break;
		}
	}
	if (r == 0 && q != PLAIN)
		r = sg_fail(ret_err, -EINVAL, "unfinished %s quote",
		    q == SINGLE ? "single" : "double");
	if (r == 0)
		r = word_end(&w, ret_err);
	free(w.cur);
	if (r < 0) {
		sg_ctla_free_words(w.v, w.n);
		return r;
	}
	*ret_argv = w.v;
	*ret_argc = w.n;
	return 0;
}

/* --- commands --- */

static const struct {
	const char *name;
	enum sg_ctla_cmd cmd;
	const char *usage, *root_usage, *summary;
} cmds[] = {
	{ "help", SG_CTLA_HELP, "help", "help", "list the commands" },
	{ "whoami", SG_CTLA_WHOAMI, "whoami", "whoami [--token T]",
	  "the token, its limits and what is in use" },
	{ "ls", SG_CTLA_LS, "ls", "ls [--token T]", "list the sandboxes" },
	{ "create", SG_CTLA_CREATE, "create NAME [--image I] [--memory MB] "
	  "[--vcpus N] [--lifetime D] [--idle-timeout D] [--allow-net LIST] "
	  "[--secret NAME,...] [--env K=V] [--snapshot SNAP] "
	  "[--volume VOL:/path[:ro]]...", "create NAME --token T [OPTIONS]",
	  "make a named sandbox (then: ssh NAME@host)" },
	{ "info", SG_CTLA_INFO, "info NAME", "info ID|NAME [--token T]",
	  "one sandbox" },
	{ "extend", SG_CTLA_EXTEND, "extend NAME DURATION",
	  "extend ID|NAME DURATION [--token T]", "push its end back" },
	{ "kill", SG_CTLA_KILL, "kill NAME", "kill ID|NAME [--token T] | "
	  "kill --token T", "destroy it" },
	{ "hibernate", SG_CTLA_HIBERNATE, "hibernate NAME",
	  "hibernate ID|NAME [--token T]", "save it to disk with its memory "
	  "(ssh NAME@host resumes it)" },
	{ "snapshot", SG_CTLA_SNAPSHOT, "snapshot NAME SNAP | snapshot ls | "
	  "snapshot rm SNAP", "snapshot ID|NAME SNAP [--token T] | snapshot ls "
	  "[--token T] | snapshot rm SNAP [--token T]",
	  "save a sandbox's disk as SNAP (then: create NAME --snapshot SNAP)" },
	{ "volume", SG_CTLA_VOLUME_CREATE, "volume create VOL SIZE [--from SNAP] "
	  "| volume ls | volume rm VOL", "volume create VOL SIZE --token T "
	  "[--from SNAP] | volume ls [--token T] | volume rm VOL [--token T]",
	  "a disk that outlives sandboxes (then: create NAME --volume "
	  "VOL:/path)" },
	{ "expose", SG_CTLA_EXPOSE, "expose NAME PORT [--public] [--ttl D]",
	  "expose ID|NAME PORT [--public] [--ttl D] [--token T]",
	  "an HTTPS URL for a port of the sandbox (private to the token)" },
	{ "unexpose", SG_CTLA_UNEXPOSE, "unexpose NAME PORT",
	  "unexpose ID|NAME PORT [--token T]",
	  "the URL goes, and every link to it" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

size_t
sg_ctla_ncommands(void)
{
	return NCMDS;
}

void
sg_ctla_command(size_t i, int root, const char **ret_name,
    const char **ret_usage, const char **ret_summary)
{
	*ret_name = cmds[i].name;
	*ret_usage = root ? cmds[i].root_usage : cmds[i].usage;
	*ret_summary = cmds[i].summary;
}

const char *
sg_ctla_help_text(int root)
{
	if (root)
		return
		    "commands (add --json to any for one JSON document):\n"
		    "  ls [--token T]                     list the sandboxes\n"
		    "  info ID|NAME [--token T]           one sandbox\n"
		    "  create NAME --token T [OPTIONS]    make a named sandbox\n"
		    "  extend ID|NAME DURATION [--token T]  push its end back\n"
		    "  kill ID|NAME [--token T]           destroy it\n"
		    "  kill --token T                     destroy all of T's\n"
		    "  hibernate ID|NAME [--token T]      save it with its memory\n"
		    "  expose ID|NAME PORT [--public] [--ttl D] [--token T]\n"
		    "  unexpose ID|NAME PORT [--token T]\n"
		    "  whoami [--token T]                 a token's limits and use\n"
		    "  snapshot ID|NAME SNAP [--token T]  save its disk as SNAP\n"
		    "  snapshot ls | snapshot rm SNAP     [--token T]\n"
		    "  volume create VOL SIZE --token T [--from SNAP]\n"
		    "  volume ls | volume rm VOL          [--token T]\n";
	return
	    "commands (add --json to any for one JSON document):\n"
	    "  whoami                  the token, its limits, what is in use\n"
	    "  ls                      the token's sandboxes\n"
	    "  create NAME [OPTIONS]   a named sandbox; then ssh NAME@host\n"
	    "      --image I  --memory MB  --vcpus N  --lifetime D\n"
	    "      --idle-timeout D  --allow-net LIST  --secret NAME,...\n"
	    "      --env KEY=VALUE   (durations: 90s, 30m, 1h30m, 1d)\n"
	    "      --snapshot SNAP  --volume VOL:/path[:ro]\n"
	    "  info NAME               one sandbox\n"
	    "  extend NAME DURATION    push its end back\n"
	    "  kill NAME               destroy it\n"
	    "  hibernate NAME          save it with its memory; ssh resumes it\n"
	    "  expose NAME PORT        an HTTPS URL for a port, private to you\n"
	    "      --public  (anyone with the URL)  --ttl D  (the link's life)\n"
	    "  unexpose NAME PORT      the URL and its links go\n"
	    "  snapshot NAME SNAP      save its disk as SNAP\n"
	    "  snapshot ls | snapshot rm SNAP\n"
	    "  volume create VOL SIZE [--from SNAP]   a disk that lasts (10G)\n"
	    "  volume ls | volume rm VOL\n"
	    "  help                    this list\n"
	    "see sandgate-ssh(7)\n";
}

int
sg_ctla_valid_name(const char *s)
{
	return s != NULL && sg_valid_login(s) && strcmp(s, "sandbox") != 0;
}

static int
valid_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'f') || (s[i] >= '0' &&
		    s[i] <= '9')))
			return 0;
	return i == 12;
}

static int
valid_env_key(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' &&
		    k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return 1;
}

static int
valid_secret_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= NAME_MAX_LEN || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return i > 0;
}

void
sg_ctla_free(struct sg_ctla *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->token);
	free(r->image);
	free(r->snap);
	free(r->from_snap);
	free(r->vol);
	for (size_t i = 0; i < r->nvols; i++) {
		free(r->vols[i].name);
		free(r->vols[i].path);
	}
	free(r->vols);
	sg_ctla_free_words(r->allow, r->nallow);
	sg_ctla_free_words(r->secrets, r->nsecrets);
	sg_ctla_free_words(r->env, r->nenv);
	free(r);
}

/* Appends the comma-separated items of s to *v (at most max in all),
 * trimmed; empty items are skipped. */
static int
add_list(char ***v, size_t *n, size_t max, const char *s, const char *opt,
    char **ret_err)
{
	const char *p = s, *e, *a, *b;
	char **nv;

	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		for (a = p; a < e && *a == ' '; a++)
			;
		for (b = e; b > a && b[-1] == ' '; b--)
			;
		if (b > a) {
			if (*n >= max)
				return sg_fail(ret_err, -EINVAL, "%s: more "
				    "than %zu entries", opt, max);
			nv = realloc(*v, (*n + 2) * sizeof(char *));
			if (nv == NULL)
				return -ENOMEM;
			*v = nv;
			nv[*n] = strndup(a, (size_t)(b - a));
			if (nv[*n] == NULL)
				return -ENOMEM;
			nv[++*n] = NULL;
		}
		if (*e == '\0')
			return 0;
		p = e + 1;
	}
}

static int
opt_uint(const char *opt, const char *v, uint64_t min, uint64_t max,
    unsigned *ret, char **ret_err)
{
	uint64_t x;

	if (sg_util_parse_uint(v, min, max, &x) < 0)
		return sg_fail(ret_err, -EINVAL, "%s '%.40s': write a number "
		    "from %llu to %llu", opt, v, (unsigned long long)min,
		    (unsigned long long)max);
	*ret = (unsigned)x;
	return 0;
}

static int
opt_duration(const char *opt, const char *v, uint64_t *ret, char **ret_err)
{
	if (sg_util_parse_duration(v, ret) < 0 || *ret == 0)
		return sg_fail(ret_err, -EINVAL, "%s '%.40s': write a duration "
		    "such as 90s, 30m, 1h30m or 1d", opt, v);
	return 0;
}

static int
opt_allow(struct sg_ctla *q, const char *v, char **ret_err)
{
	size_t first = q->nallow, i;
	struct sg_allow *a;
	char *msg = NULL;
	int r;

	q->has_allow = 1;
	r = add_list(&q->allow, &q->nallow, SG_CTLA_ALLOW_MAX, v,
	    "--allow-net", ret_err);
	for (i = first; r == 0 && i < q->nallow; i++) {
		const char *e = q->allow[i];

		r = sg_allow_parse(&e, 1, &a, &msg);
		if (r == 0)
			sg_allow_free(a);
		else if (r == -EINVAL) {
			sg_msg(ret_err, "--allow-net: %s", msg ? msg : e);
			free(msg);
		}
	}
	return r;
}

static int
opt_secret(struct sg_ctla *q, const char *v, char **ret_err)
{
	size_t first = q->nsecrets, i;
	int r;

	q->has_secrets = 1;
	r = add_list(&q->secrets, &q->nsecrets, SG_CTLA_SECRETS_MAX, v,
	    "--secret", ret_err);
	for (i = first; r == 0 && i < q->nsecrets; i++)
		if (!valid_secret_name(q->secrets[i]))
			r = sg_fail(ret_err, -EINVAL, "--secret '%.64s': not a "
			    "secret name (see whoami)", q->secrets[i]);
	return r;
}

static int
opt_env(struct sg_ctla *q, const char *v, char **ret_err)
{
	const char *eq = strchr(v, '='), *p;
	char **nv;

	if (eq == NULL || !valid_env_key(v, (size_t)(eq - v)))
		return sg_fail(ret_err, -EINVAL, "--env '%.40s': write KEY=VALUE "
		    "with KEY of letters, digits and _", v);
	if (strncmp(v, "SANDGATE_", 9) == 0)
		return sg_fail(ret_err, -EINVAL, "--env %.*s: SANDGATE_ "
		    "variables are set by sandgate", (int)(eq - v), v);
	if (strlen(eq + 1) > SG_CTLA_ENV_VALUE_MAX)
		return sg_fail(ret_err, -EINVAL, "--env %.*s: the value is "
		    "longer than %d bytes", (int)(eq - v), v,
		    SG_CTLA_ENV_VALUE_MAX);
	for (p = eq + 1; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return sg_fail(ret_err, -EINVAL, "--env %.*s: the value "
			    "holds a control byte", (int)(eq - v), v);
	if (q->nenv >= SG_CTLA_ENV_MAX)
		return sg_fail(ret_err, -EINVAL, "--env: more than %d variables",
		    SG_CTLA_ENV_MAX);
	nv = realloc(q->env, (q->nenv + 2) * sizeof(char *));
	if (nv == NULL)
		return -ENOMEM;
	q->env = nv;
	if ((nv[q->nenv] = strdup(v)) == NULL)
		return -ENOMEM;
	nv[++q->nenv] = NULL;
	return 0;
}

/* create --volume VOL:/path[:ro|:rw] */
static int
opt_volume(struct sg_ctla *q, const char *v, char **ret_err)
{
	const char *c1 = strchr(v, ':'), *c2;
	struct sg_ctla_vol *nv, *o;
	char *name = NULL, *path = NULL;
	size_t i, pl;
	int ro = 0;

	if (c1 == NULL || c1[1] != '/')
		return sg_fail(ret_err, -EINVAL, "--volume '%.64s': write "
		    "VOL:/path or VOL:/path:ro", v);
	c2 = strchr(c1 + 1, ':');
	if (c2 != NULL) {
		if (strcmp(c2, ":ro") == 0)
			ro = 1;
		else if (strcmp(c2, ":rw") != 0)
			return sg_fail(ret_err, -EINVAL, "--volume '%.64s': after "
			    "the path write :ro or :rw, or nothing", v);
	}
	name = strndup(v, (size_t)(c1 - v));
	pl = c2 != NULL ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	path = strndup(c1 + 1, pl);
	if (name == NULL || path == NULL)
		goto nomem;
	if (!sg_ctla_valid_volume(name)) {
		sg_msg(ret_err, "--volume '%.64s': '%.40s' is not a volume name "
		    "(see volume ls)", v, name);
		goto inval;
	}
	if (!sg_ctla_valid_mount(path)) {
		sg_msg(ret_err, "--volume %s: '%.64s' cannot be mounted on: "
		    "write an absolute path of letters, digits and ._@+-, not "
		    "/ and not in a system folder such as /etc or /usr", name,
		    path);
		goto inval;
	}
	for (i = 0; i < q->nvols; i++) {
		o = &q->vols[i];
		pl = strlen(o->path) < strlen(path) ? strlen(o->path) :
		    strlen(path);
		if (strcmp(o->name, name) == 0) {
			sg_msg(ret_err, "--volume %s: given twice (a sandbox "
			    "mounts a volume once)", name);
			goto inval;
		}
		if (strncmp(o->path, path, pl) == 0 && (o->path[pl] == '\0' ||
		    o->path[pl] == '/') && (path[pl] == '\0' || path[pl] == '/')) {
			sg_msg(ret_err, "--volume %s: %s and %s's %s overlap: "
			    "give each volume its own folder", name, path,
			    o->name, o->path);
			goto inval;
		}
	}
	if (q->nvols >= SG_CTLA_VOLUMES_MAX) {
		sg_msg(ret_err, "--volume: more than %d volumes",
		    SG_CTLA_VOLUMES_MAX);
		goto inval;
	}
	nv = realloc(q->vols, (q->nvols + 1) * sizeof(*nv));
	if (nv == NULL)
		goto nomem;
	q->vols = nv;
	nv[q->nvols].name = name;
	nv[q->nvols].path = path;
	nv[q->nvols].ro = ro;
	q->nvols++;
	return 0;
inval:
	free(name);
	free(path);
	return -EINVAL;
nomem:
	free(name);
	free(path);
	return -ENOMEM;
}

/* Options each command takes (besides --json). */
#define O_TOKEN		0x01
#define O_CREATE	0x02
#define O_VOLUME	0x04
#define O_EXPOSE	0x08

static int
set_option(struct sg_ctla *q, const char *opt, const char *v, char **ret_err)
{
	if (strcmp(opt, "--token") == 0) {
		if (q->token != NULL)
			return sg_fail(ret_err, -EINVAL, "--token given twice");
		q->token = strdup(v);
		return q->token ? 0 : -ENOMEM;
	}
	if (strcmp(opt, "--image") == 0) {
		free(q->image);
		q->image = strdup(v);
		return q->image ? 0 : -ENOMEM;
	}
	if (strcmp(opt, "--snapshot") == 0) {
		if (!sg_ctla_valid_snapshot(v))
			return sg_fail(ret_err, -EINVAL, "--snapshot '%.40s': not "
			    "a snapshot name (see snapshot ls)", v);
		free(q->from_snap);
		q->from_snap = strdup(v);
		return q->from_snap ? 0 : -ENOMEM;
	}
	if (strcmp(opt, "--from") == 0) {
		if (!sg_ctla_valid_snapshot(v))
			return sg_fail(ret_err, -EINVAL, "--from '%.40s': not "
			    "a snapshot name (see snapshot ls)", v);
		free(q->from_snap);
		q->from_snap = strdup(v);
		return q->from_snap ? 0 : -ENOMEM;
	}
	if (strcmp(opt, "--volume") == 0)
		return opt_volume(q, v, ret_err);
	if (strcmp(opt, "--ttl") == 0)
		return opt_duration("--ttl", v, &q->ttl_s, ret_err);
	if (strcmp(opt, "--memory") == 0)
		return opt_uint(opt, v, 1, 1048576, &q->memory_mb, ret_err);
	if (strcmp(opt, "--vcpus") == 0)
		return opt_uint(opt, v, 1, 256, &q->vcpus, ret_err);
	if (strcmp(opt, "--lifetime") == 0) {
		q->has_lifetime = 1;
		return opt_duration(opt, v, &q->lifetime_s, ret_err);
	}
	if (strcmp(opt, "--idle-timeout") == 0) {
		q->has_idle = 1;
		return opt_duration(opt, v, &q->idle_s, ret_err);
	}
	if (strcmp(opt, "--allow-net") == 0)
		return opt_allow(q, v, ret_err);
	if (strcmp(opt, "--secret") == 0)
		return opt_secret(q, v, ret_err);
	return opt_env(q, v, ret_err);
}

static int
known_option(const char *opt, unsigned allowed)
{
	static const char *const create_opts[] = { "--image", "--memory",
	    "--vcpus", "--lifetime", "--idle-timeout", "--allow-net",
	    "--secret", "--env", "--snapshot", "--volume" };
	size_t i;

	if ((allowed & O_TOKEN) && strcmp(opt, "--token") == 0)
		return 1;
	if (allowed & O_CREATE)
		for (i = 0; i < sizeof(create_opts) / sizeof(*create_opts); i++)
			if (strcmp(opt, create_opts[i]) == 0)
				return 1;
	if ((allowed & O_VOLUME) && strcmp(opt, "--from") == 0)
		return 1;
	if ((allowed & O_EXPOSE) && strcmp(opt, "--ttl") == 0)
		return 1;
	return 0;
}

int
sg_ctla_valid_snapshot(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= 32 || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || (s[i] == '-' && i > 0)))
			return 0;
	return i > 0;
}

int
sg_ctla_valid_volume(const char *s)
{
	return sg_ctla_valid_snapshot(s);
}

int
sg_ctla_valid_mount(const char *s)
{
	static const char *const sys[] = { "bin", "boot", "dev", "etc", "lib",
	    "lib64", "proc", "run", "sbin", "sys", "usr" };
	const char *c, *e;
	size_t n, i, first = 0;

	if (s == NULL || s[0] != '/' || strlen(s) > SG_CTLA_MOUNT_MAX ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._@+-/") != strlen(s))
		return 0;
	for (c = s + 1;; c = e + 1) {
		e = strchr(c, '/');
		n = e != NULL ? (size_t)(e - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (first++ == 0)
			for (i = 0; i < sizeof(sys) / sizeof(*sys); i++)
				if (strlen(sys[i]) == n &&
				    memcmp(sys[i], c, n) == 0)
					return 0;
		if (e == NULL)
			return 1;
	}
}

int
sg_ctla_parse_size(const char *s, uint64_t *ret)
{
	static const struct { const char *sfx; unsigned shift; } u[] = {
		{ "", 30 }, { "G", 30 }, { "GiB", 30 }, { "M", 20 },
		{ "MiB", 20 }, { "T", 40 }, { "TiB", 40 },
	};
	char num[24];
	size_t d = strspn(s, "0123456789"), i;
	uint64_t v;

	if (d == 0 || d >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, d);
	num[d] = '\0';
	for (i = 0; i < sizeof(u) / sizeof(*u); i++) {
		if (strcmp(s + d, u[i].sfx) != 0)
			continue;
		if (sg_util_parse_uint(num, 1, SG_CTLA_VOLUME_MAX >> u[i].shift,
		    &v) < 0 || (v << u[i].shift) < SG_CTLA_VOLUME_MIN)
			return -EINVAL;
		*ret = v << u[i].shift;
		return 0;
	}
	return -EINVAL;
}

/* The words after "volume": create VOL SIZE; ls; rm VOL. */
static int
volume_words(struct sg_ctla *q, const char *const *pos, size_t npos,
    int root, char **ret_err)
{
	const char *usage = root ? "volume create VOL SIZE --token T [--from "
	    "SNAP] | volume ls [--token T] | volume rm VOL [--token T]" :
	    "volume create VOL SIZE [--from SNAP] | volume ls | volume rm VOL";

	if (npos == 1 && strcmp(pos[0], "ls") == 0)
		q->cmd = SG_CTLA_VOLUME_LS;
	else if (npos == 2 && strcmp(pos[0], "rm") == 0)
		q->cmd = SG_CTLA_VOLUME_RM;
	else if (npos == 3 && strcmp(pos[0], "create") == 0)
		q->cmd = SG_CTLA_VOLUME_CREATE;
	else
		return sg_fail(ret_err, -EINVAL, "usage: %s", usage);
	if (q->from_snap != NULL && q->cmd != SG_CTLA_VOLUME_CREATE)
		return sg_fail(ret_err, -EINVAL, "--from is for volume create "
		    "(usage: %s)", usage);
	if (q->cmd == SG_CTLA_VOLUME_LS)
		return 0;
	if (!sg_ctla_valid_volume(pos[1]))
		return sg_fail(ret_err, -EINVAL, "'%.64s' is not a volume name: "
		    "write lowercase letters, digits and '-' (at most 32)",
		    pos[1]);
	if (q->cmd == SG_CTLA_VOLUME_CREATE) {
		if (sg_ctla_parse_size(pos[2], &q->vol_bytes) < 0)
			return sg_fail(ret_err, -EINVAL, "volume create: size "
			    "'%.40s': write a whole number of GiB such as 10 or "
			    "10G, or 512M, from 16M to 16T", pos[2]);
		if (root && q->token == NULL)
			return sg_fail(ret_err, -EINVAL, "volume create: root "
			    "must say for which token (--token T)");
	}
	q->vol = strdup(pos[1]);
	return q->vol ? 0 : -ENOMEM;
}

/* The words after "snapshot": ls; rm SNAP; SANDBOX SNAP (a sandbox
 * named rm or ls is reached by root's id). */
static int
snapshot_words(struct sg_ctla *q, const char *const *pos, size_t npos,
    int root, char **ret_err)
{
	const char *usage = root ? "snapshot ID|NAME SNAP [--token T] | "
	    "snapshot ls [--token T] | snapshot rm SNAP [--token T]" :
	    "snapshot NAME SNAP | snapshot ls | snapshot rm SNAP";
	const char *snap;

	if (npos == 1 && strcmp(pos[0], "ls") == 0) {
		q->cmd = SG_CTLA_SNAPSHOT_LS;
		return 0;
	}
	if (npos != 2)
		return sg_fail(ret_err, -EINVAL, "usage: %s", usage);
	snap = pos[1];
	if (strcmp(pos[0], "rm") == 0) {
		q->cmd = SG_CTLA_SNAPSHOT_RM;
	} else if (!sg_ctla_valid_name(pos[0]) &&
	    !(root && valid_id(pos[0]))) {
		return sg_fail(ret_err, -EINVAL, "'%.64s' is not a sandbox "
		    "name: write lowercase letters, digits and '-' (at most 32, "
		    "not 'sandbox')", pos[0]);
	} else if ((q->name = strdup(pos[0])) == NULL) {
		return -ENOMEM;
	}
	if (!sg_ctla_valid_snapshot(snap))
		return sg_fail(ret_err, -EINVAL, "'%.64s' is not a snapshot "
		    "name: write lowercase letters, digits and '-' (at most "
		    "32)", snap);
	q->snap = strdup(snap);
	return q->snap ? 0 : -ENOMEM;
}

int
sg_ctla_parse(size_t argc, char *const *argv, int root, struct sg_ctla **ret,
    char **ret_err)
{
	struct sg_ctla *q;
	const char *pos[3] = { NULL, NULL, NULL };
	size_t i, npos = 0, want_min, want_max, c;
	unsigned allowed;
	int r = 0, opts_done = 0;

	*ret_err = NULL;
	if (argc == 0)
		return sg_fail(ret_err, -EINVAL, "no command given (see help)");
	for (c = 0; c < NCMDS; c++)
		if (strcmp(argv[0], cmds[c].name) == 0)
			break;
	if (c == NCMDS)
		return sg_fail(ret_err, -EINVAL, "unknown command '%.40s' (see "
		    "help)", argv[0]);
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->cmd = cmds[c].cmd;
	allowed = root && q->cmd != SG_CTLA_HELP ? O_TOKEN : 0;
	if (q->cmd == SG_CTLA_CREATE)
		allowed |= O_CREATE;
	if (q->cmd == SG_CTLA_VOLUME_CREATE)
		allowed |= O_VOLUME;
	if (q->cmd == SG_CTLA_EXPOSE)
		allowed |= O_EXPOSE;
	for (i = 1; i < argc && r == 0; i++) {
		const char *a = argv[i], *v, *eq;
		char opt[32];

		if (opts_done || a[0] != '-' || a[1] == '\0') {
			if (npos == (q->cmd == SG_CTLA_VOLUME_CREATE ? 3 : 2)) {
				r = sg_fail(ret_err, -EINVAL, "%s: unexpected "
				    "argument '%.40s' (usage: %s)", cmds[c].name,
				    a, root ? cmds[c].root_usage : cmds[c].usage);
				break;
			}
			pos[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			opts_done = 1;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			q->json = 1;
			continue;
		}
		if (strcmp(a, "--public") == 0 && q->cmd == SG_CTLA_EXPOSE) {
			q->public = 1;
			continue;
		}
		eq = strchr(a, '=');
		if (eq != NULL && (size_t)(eq - a) < sizeof(opt)) {
			memcpy(opt, a, (size_t)(eq - a));
			opt[eq - a] = '\0';
			v = eq + 1;
		} else if (eq == NULL && strlen(a) < sizeof(opt)) {
			snprintf(opt, sizeof(opt), "%s", a);
			v = NULL;
		} else {
			opt[0] = '\0';
			v = NULL;
		}
		if (!known_option(opt, allowed)) {
			r = sg_fail(ret_err, -EINVAL, "%s: unknown option "
			    "'%.40s' (usage: %s)", cmds[c].name, a,
			    root ? cmds[c].root_usage : cmds[c].usage);
			break;
		}
		if (v == NULL) {
			if (i + 1 >= argc) {
				r = sg_fail(ret_err, -EINVAL, "%s: %s needs a "
				    "value", cmds[c].name, opt);
				break;
			}
			v = argv[++i];
		}
		r = set_option(q, opt, v, ret_err);
	}
	if (r < 0)
		goto fail;
	/* snapshot ls | snapshot rm SNAP | snapshot SANDBOX SNAP */
	if (q->cmd == SG_CTLA_SNAPSHOT) {
		r = snapshot_words(q, pos, npos, root, ret_err);
		if (r < 0)
			goto fail;
		npos = 0;
	} else if (q->cmd == SG_CTLA_VOLUME_CREATE) {
		r = volume_words(q, pos, npos, root, ret_err);
		if (r < 0)
			goto fail;
		npos = 0;
	}
	switch (q->cmd) {
	case SG_CTLA_EXTEND:
	case SG_CTLA_EXPOSE:
	case SG_CTLA_UNEXPOSE:
		want_min = want_max = 2;
		break;
	case SG_CTLA_CREATE:
	case SG_CTLA_INFO:
	case SG_CTLA_HIBERNATE:
		want_min = want_max = 1;
		break;
	case SG_CTLA_KILL:
		want_min = root && q->token != NULL ? 0 : 1;
		want_max = 1;
		break;
	default:
		want_min = want_max = 0;
	}
	if (npos < want_min || npos > want_max) {
		r = sg_fail(ret_err, -EINVAL, "usage: %s",
		    root ? cmds[c].root_usage : cmds[c].usage);
		goto fail;
	}
	if (npos > 0) {
		if (!sg_ctla_valid_name(pos[0]) && !(root && valid_id(pos[0]) &&
		    q->cmd != SG_CTLA_CREATE)) {
			r = sg_fail(ret_err, -EINVAL, "'%.64s' is not a sandbox "
			    "name: write lowercase letters, digits and '-' (at "
			    "most 32, not 'sandbox')", pos[0]);
			goto fail;
		}
		if ((q->name = strdup(pos[0])) == NULL) {
			r = -ENOMEM;
			goto fail;
		}
	}
	if (q->cmd == SG_CTLA_EXTEND &&
	    (r = opt_duration("extend", pos[1], &q->duration_s, ret_err)) < 0)
		goto fail;
	if (q->cmd == SG_CTLA_EXPOSE || q->cmd == SG_CTLA_UNEXPOSE) {
		uint64_t port;

		if (sg_util_parse_uint(pos[1], 1, 65535, &port) < 0 ||
		    pos[1][0] == '0') {
			r = sg_fail(ret_err, -EINVAL, "%s: port '%.40s': write "
			    "the guest's port, a number from 1 to 65535",
			    cmds[c].name, pos[1]);
			goto fail;
		}
		q->port = (uint16_t)port;
	}
	if (q->ttl_s > SG_CTLA_TTL_MAX) {
		r = sg_fail(ret_err, -EINVAL, "expose: --ttl is at most 365d");
		goto fail;
	}
	if (q->from_snap != NULL && q->image != NULL) {
		r = sg_fail(ret_err, -EINVAL, "create: --image and --snapshot "
		    "both name a disk to start from: give one");
		goto fail;
	}
	if (root && q->cmd == SG_CTLA_CREATE && q->token == NULL) {
		r = sg_fail(ret_err, -EINVAL, "create: root must say for which "
		    "token (--token T)");
		goto fail;
	}
	if (q->token != NULL && (q->token[0] == '\0' ||
	    strlen(q->token) > NAME_MAX_LEN)) {
		r = sg_fail(ret_err, -EINVAL, "--token: not a token name");
		goto fail;
	}
	if (q->image != NULL && (q->image[0] == '\0' ||
	    strlen(q->image) > NAME_MAX_LEN || q->image[0] == '.' ||
	    strspn(q->image, "abcdefghijklmnopqrstuvwxyz0123456789._-") !=
	    strlen(q->image))) {
		r = sg_fail(ret_err, -EINVAL, "--image '%.40s': not an image "
		    "name (see sandgatectl images)", q->image);
		goto fail;
	}
	*ret = q;
	return 0;
fail:
	sg_ctla_free(q);
	if (r == -ENOMEM) {
		free(*ret_err);
		*ret_err = NULL;
	}
	return r;
}
