/* sg_ini: see ini.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ini.h"
#include "common/text.h"

/* Debian's libinih lets a program raise its compile-time limits at run
 * time through these variables; upstream builds lack them. Weak references
 * keep both working: without them, lines are limited to the library's
 * INI_MAX_LINE (200 by default) and a longer line is an error. */
extern bool ini_use_stack __attribute__((weak));
extern bool ini_allow_realloc __attribute__((weak));
extern int ini_max_line __attribute__((weak));

struct ini_state {
	FILE *f;
	const char *label;
	const struct sg_ini_ops *ops;
	void *user;
	int can_grow;           /* inih joins long lines by itself */
	char *line;             /* the current physical line (getline) */
	size_t cap;
	size_t len;
	size_t off;             /* bytes of line already handed to inih */
	unsigned lineno;
	size_t total;
	char *section;          /* the current section, exactly as written */
	char *key;              /* the key of the current line, exactly */
	int err;                /* first error: negative errno */
	unsigned err_line;
	char *err_msg;
};

int sg_ini_msg(char **ret_msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sg_vmsg(ret_msg, fmt, ap);
	va_end(ap);
	return *ret_msg == NULL ? -ENOMEM : -EINVAL;
}

char *sg_ini_quote(const char *s)
{
	size_t n = strlen(s), keep = n > 80 ? 77 : n, i;
	char *q = malloc(keep + 4);

	if (!q)
		return NULL;
	for (i = 0; i < keep; i++) {
		unsigned char ch = (unsigned char)s[i];

		q[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (keep < n) {
		memcpy(q + keep, "...", 3);
		keep += 3;
	}
	q[keep] = '\0';
	return q;
}

/* Records the first error of a parse; takes msg. */
static void ini_fail(struct ini_state *st, int err, char *msg)
{
	if (st->err) {
		free(msg);
		return;
	}
	st->err = err;
	st->err_line = st->lineno;
	st->err_msg = msg;
}

/* Replaces *dst with a copy of n bytes at s. Returns 0 or -ENOMEM. */
static int set_copy(char **dst, const char *s, size_t n)
{
	char *c = strndup(s, n);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

/* Looks at a new physical line: notes section headers (calling
 * on_section) and the exact key name of key lines, as inih will see them
 * (see ini.c: find_chars_or_comment). Returns 0 or a negative errno after
 * recording the error. */
static int ini_scan_line(struct ini_state *st)
{
	const char *p = st->line + st->off, *end = st->line + st->len, *q;
	char *msg = NULL;
	int r;

	free(st->key);
	st->key = NULL;
	if (p >= end || *p == ';' || *p == '#')
		return 0;
	if (*p == '[') {
		q = memchr(p + 1, ']', (size_t)(end - p - 1));
		if (!q)
			return 0;   /* inih reports the syntax error */
		r = set_copy(&st->section, p + 1, (size_t)(q - p - 1));
		if (r < 0)
			goto fail;
		if (st->ops->on_section) {
			r = st->ops->on_section(st->user, st->lineno, st->section, &msg);
			if (r < 0)
				goto fail;
		}
		return 0;
	}
	for (q = p; q < end && *q != '=' && *q != ':'; q++)
		if (*q == ';' && q > p && isspace((unsigned char)q[-1]))
			return 0;
	if (q >= end)
		return 0;
	while (q > p && isspace((unsigned char)q[-1]))
		q--;
	r = set_copy(&st->key, p, (size_t)(q - p));
	if (r < 0)
		goto fail;
	return 0;
fail:
	ini_fail(st, r, msg);
	return r;
}

/* fgets-style reader for ini_parse_stream(): hands inih one physical line
 * at a time, without its leading whitespace, in pieces when inih can join
 * them. Returns str, or NULL at end of file or after an error. */
static char *read_line_cb(char *str, int num, void *stream)
{
	struct ini_state *st = stream;
	size_t n;
	char *msg = NULL;

	if (st->err || num < 2)
		return NULL;
	if (st->off >= st->len) {
		ssize_t got;

		errno = 0;
		got = getline(&st->line, &st->cap, st->f);
		if (got < 0) {
			if (ferror(st->f)) {
				st->lineno++;
				sg_ini_msg(&msg, "read error: %s", strerror(errno ? errno : EIO));
				ini_fail(st, -EIO, msg);
			}
			return NULL;
		}
		st->lineno++;
		st->len = (size_t)got;
		st->off = 0;
		st->total += st->len;
		if (st->total > SG_INI_FILE_MAX) {
			sg_ini_msg(&msg, "the file is larger than %u bytes", SG_INI_FILE_MAX);
			ini_fail(st, -EFBIG, msg);
			return NULL;
		}
		if (memchr(st->line, '\0', st->len)) {
			sg_ini_msg(&msg, "the line contains a NUL byte: is this a text file?");
			ini_fail(st, -EINVAL, msg);
			return NULL;
		}
		if (st->len > SG_INI_LINE_MAX) {
			sg_ini_msg(&msg, "the line is longer than %d bytes", SG_INI_LINE_MAX);
			ini_fail(st, -EINVAL, msg);
			return NULL;
		}
		if (st->lineno == 1 && st->len >= 3 && memcmp(st->line, "\xEF\xBB\xBF", 3) == 0)
			st->off = 3;
		while (st->off < st->len && (st->line[st->off] == ' ' || st->line[st->off] == '\t'))
			st->off++;
		if (ini_scan_line(st) < 0)
			return NULL;
	}
	n = st->len - st->off;
	if (n > (size_t)num - 1) {
		if (!st->can_grow) {
			sg_ini_msg(&msg, "the line is longer than %d bytes, the most this build of "
				    "libinih accepts", num - 1);
			ini_fail(st, -EINVAL, msg);
			return NULL;
		}
		n = (size_t)num - 1;
	}
	memcpy(str, st->line + st->off, n);
	str[n] = '\0';
	st->off += n;
	return str;
}

static int key_cb(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	const char *key = name;
	char *msg = NULL;
	int r;

	(void)section;   /* inih cuts names at 49 bytes: use our own copy */
	if (st->err)
		return 1;
	if (st->key && strncmp(st->key, name, strlen(name)) == 0)
		key = st->key;
	if (!st->ops->on_key)
		return 1;
	r = st->ops->on_key(st->user, st->lineno, st->section ? st->section : "", key, value, &msg);
	if (r < 0) {
		if (msg && strstr(value, " #")) {
			char *m2 = NULL;

			if (asprintf(&m2, "%s (note: inline comments start with \" ;\", not \"#\")", msg) >= 0) {
				free(msg);
				msg = m2;
			}
		}
		ini_fail(st, r, msg);
	}
	return 1;
}

int sg_ini_parse(FILE *f, const char *label, const struct sg_ini_ops *ops,
		      void *user, char **ret_err)
{
	struct ini_state st = {
		.f = f, .label = label, .ops = ops, .user = user,
	};
	int rv, r;

	if (&ini_use_stack && &ini_allow_realloc && &ini_max_line) {
		ini_use_stack = false;
		ini_allow_realloc = true;
		ini_max_line = SG_INI_LINE_MAX + 64;
		st.can_grow = 1;
	}
	rv = ini_parse_stream(read_line_cb, &st, key_cb, &st);
	if (rv > 0 && (!st.err || (unsigned)rv < st.err_line)) {
		r = -EINVAL;
		if (ret_err && asprintf(ret_err, "%s:%d: cannot parse this line: expected [section], "
					"key = value, or a comment", label, rv) < 0)
			*ret_err = NULL;
	} else if (st.err) {
		r = st.err;
		if (ret_err && (!st.err_msg ||
				asprintf(ret_err, "%s:%u: %s", label, st.err_line, st.err_msg) < 0))
			*ret_err = NULL;
	} else if (rv < 0) {
		r = -ENOMEM;
		if (ret_err)
			*ret_err = NULL;
	} else {
		r = 0;
	}
	if (st.line) {
		/* the tokens file holds secret values */
		explicit_bzero(st.line, st.cap);
		free(st.line);
	}
	free(st.section);
	free(st.key);
	free(st.err_msg);
	return r;
}

int sg_ini_open(const char *path, FILE **ret, char **ret_err)
{
	struct stat s;
	FILE *f;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (ret_err && asprintf(ret_err, "cannot read %s: %s%s", path, strerror(-r),
					r == -EACCES ? " (run as root)" : "") < 0)
			*ret_err = NULL;
		return r;
	}
	if (fstat(fd, &s) < 0) {
		r = -errno;
		if (ret_err && asprintf(ret_err, "cannot read %s: %s", path, strerror(-r)) < 0)
			*ret_err = NULL;
		goto fail;
	}
	if (!S_ISREG(s.st_mode)) {
		r = -EINVAL;
		if (ret_err && asprintf(ret_err, "cannot read %s: not a regular file", path) < 0)
			*ret_err = NULL;
		goto fail;
	}
	if (s.st_mode & (S_IWGRP | S_IWOTH)) {
		r = -EACCES;
		if (ret_err && asprintf(ret_err, "refusing %s: it is writable by group or others "
					"(run: chmod go-w %s)", path, path) < 0)
			*ret_err = NULL;
		goto fail;
	}
	if (s.st_uid != 0 && s.st_uid != geteuid()) {
		r = -EACCES;
		if (ret_err && asprintf(ret_err, "refusing %s: it belongs to uid %u, not to root "
					"(run: chown root %s)", path, (unsigned)s.st_uid, path) < 0)
			*ret_err = NULL;
		goto fail;
	}
	f = fdopen(fd, "r");
	if (!f) {
		r = -errno;
		if (ret_err)
			*ret_err = NULL;
		goto fail;
	}
	*ret = f;
	return 0;
fail:
	close(fd);
	return r;
}
