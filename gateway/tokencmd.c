/* sg_tokencmd: token create|list|revoke on the tokens file. See tokencmd.h. */
#include "gateway/tokencmd.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/ini.h"
#include "common/json.h"
#include "gateway/conf.h"
#include "gateway/tokens.h"

static const char usage_text[] =
	"usage: sandgatectl [--config FILE] token create NAME\n"
	"       sandgatectl [--config FILE] token list [--json]\n"
	"       sandgatectl [--config FILE] token revoke NAME\n";

/* The tokens file being edited. */
struct tfile {
	char *path;             /* symlinks resolved */
	char *dir;
	int dirfd;              /* locked with flock */
	char *data;             /* whole content, wiped before free */
	size_t len;
	int exists;
	uid_t uid;
	gid_t gid;
};

/* A hint for errors that usually mean "not root". */
static const char *hint(int err)
{
	return err == EACCES || err == EPERM ? " (run as root)" : "";
}

static void tfile_close(struct tfile *f)
{
	if (f->dirfd >= 0)
		close(f->dirfd);   /* drops the lock */
	if (f->data) {
		explicit_bzero(f->data, f->len);
		free(f->data);
	}
	free(f->path);
	free(f->dir);
	f->dirfd = -1;
	f->data = NULL;
	f->path = f->dir = NULL;
}

/* mkdir -p dir, new levels with mode 0755. Returns 0 or -errno. */
static int make_dirs(const char *dir)
{
	char *p = strdup(dir), *s;
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		{
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			*s = c;
		}
		if (*s == '\0')
			break;
	}
	free(p);
	return r;
}

/* Opens (and with create, makes) the directory of path, locks it, and
 * reads the file. Returns 0, or 1 after printing an error. */
static int tfile_open(struct tfile *f, const char *path, int create)
{
	struct stat st;
	char *copy = NULL;
	int fd = -1, r = 1;
	size_t cap = 0;

	memset(f, 0, sizeof(*f));
	f->dirfd = -1;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		f->path = realpath(path, NULL);
		if (!f->path) {
			fprintf(stderr, "sandgatectl: cannot follow the symbolic link %s: %s\n",
				path, strerror(errno));
			goto out;
		}
	} else {
		f->path = strdup(path);
	}
	copy = f->path ? strdup(f->path) : NULL;
	if (!copy)
		goto nomem;
	f->dir = strdup(dirname(copy));
	if (!f->dir)
		goto nomem;
	if (create) {
		int e = make_dirs(f->dir);

		if (e < 0) {
			fprintf(stderr, "sandgatectl: cannot create the directory %s: %s%s\n",
				f->dir, strerror(-e), hint(-e));
			goto out;
		}
	}
	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0) {
		fprintf(stderr, "sandgatectl: cannot open the directory %s: %s%s\n", f->dir,
			strerror(errno), hint(errno));
		goto out;
	}
	if (flock(f->dirfd, LOCK_EX) < 0) {
		fprintf(stderr, "sandgatectl: cannot lock %s: %s\n", f->dir, strerror(errno));
		goto out;
	}
	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		r = 0;
		goto out;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "sandgatectl: cannot read %s: %s%s\n", f->path, strerror(errno),
			hint(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "sandgatectl: %s is not a regular file\n", f->path);
		goto out;
	}
	f->exists = 1;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	for (;;) {
		ssize_t n;

		if (f->len == cap) {
			char *nd;

			if (cap >= SG_INI_FILE_MAX) {
				fprintf(stderr, "sandgatectl: %s is larger than %u bytes\n", f->path,
					SG_INI_FILE_MAX);
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			nd = malloc(cap + 1);
			if (!nd)
				goto nomem;
			if (f->data) {
				memcpy(nd, f->data, f->len);
				explicit_bzero(f->data, f->len);
				free(f->data);
			}
			f->data = nd;
		}
		n = read(fd, f->data + f->len, cap - f->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "sandgatectl: cannot read %s: %s\n", f->path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		f->len += (size_t)n;
	}
	r = 0;
	goto out;
nomem:
	fprintf(stderr, "sandgatectl: out of memory\n");
out:
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

/* Writes data as the new content of f->path: a temporary file in the
 * same directory, fsync, rename, fsync of the directory. Returns 0, or 1
 * after printing an error. */
static int tfile_replace(struct tfile *f, const char *data, size_t len)
{
	char *tmp = NULL;
	const char *base;
	size_t off = 0;
	int fd = -1, r = 1;

	base = strrchr(f->path, '/');
	base = base ? base + 1 : f->path;
	if (asprintf(&tmp, "%s/.%s.XXXXXX", f->dir, base) < 0) {
		tmp = NULL;
		fprintf(stderr, "sandgatectl: out of memory\n");
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "sandgatectl: cannot create a file in %s: %s%s\n", f->dir,
			strerror(errno), hint(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "sandgatectl: cannot write %s: %s\n", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0600) < 0) {
		fprintf(stderr, "sandgatectl: cannot chmod %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	if (f->exists && (f->uid != geteuid() || f->gid != getegid()) &&
	    fchown(fd, f->uid, f->gid) < 0) {
		fprintf(stderr, "sandgatectl: cannot give %s the owner of %s: %s\n", tmp, f->path,
			strerror(errno));
		goto out;
	}
	if (fsync(fd) < 0) {
		fprintf(stderr, "sandgatectl: cannot write %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		fprintf(stderr, "sandgatectl: cannot write %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, f->path) < 0) {
		fprintf(stderr, "sandgatectl: cannot replace %s: %s\n", f->path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if (fsync(f->dirfd) < 0) {
		fprintf(stderr, "sandgatectl: cannot sync %s: %s\n", f->dir, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	return r;
}

/* Loads the current content, or reports why it does not load. Returns
 * 0 and *ret, or 1 after printing an error. */
static int tfile_parse(const struct tfile *f, struct sg_tokens **ret)
{
	char *err = NULL;
	int r;

	r = sg_tokens_parse(f->path, f->data ? f->data : "", f->len, ret, &err);
	if (r < 0) {
		fprintf(stderr, "sandgatectl: %s\n", err ? err : strerror(-r));
		fprintf(stderr, "sandgatectl: fix %s by hand first; it was not changed\n", f->path);
		free(err);
		return 1;
	}
	return 0;
}

enum line_class { L_BLANK, L_COMMENT, L_HEADER, L_OTHER };

/* Classifies one line as inih sees it (leading blanks ignored). */
static enum line_class classify(const char *p, const char *end, int first)
{
	if (first && end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p == '\n' || *p == '\r')
		return L_BLANK;
	if (*p == ';' || *p == '#')
		return L_COMMENT;
	if (*p == '[')
		return L_HEADER;
	return L_OTHER;
}

static int cmd_create(const char *path, const char *name)
{
	struct tfile f;
	struct sg_tokens *old = NULL, *check = NULL;
	const struct sg_token *dup;
	const char *who = NULL;
	char *text = NULL, *hash = NULL, *buf = NULL, stamp[32];
	size_t len = 0;
	FILE *m = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int r = 1, e;

	if (!sg_tokens_valid_name(name)) {
		fprintf(stderr, "sandgatectl: invalid token name \"%s\": use 1 to 64 of a-z, 0-9, '_' "
			"and '-', starting with a letter or digit\n", name);
		return 1;
	}
	if (tfile_open(&f, path, 1) != 0)
		goto out;
	if (tfile_parse(&f, &old) != 0)
		goto out;
	dup = sg_tokens_find(old, name);
	if (dup) {
		fprintf(stderr, "sandgatectl: token %s already exists (%s:%u): choose another name, "
			"or remove it first with: sandgatectl token revoke %s\n", name, f.path,
			sg_tokens_line(dup), name);
		goto out;
	}
	e = sg_tokens_generate(&text, &hash);
	if (e < 0) {
		fprintf(stderr, "sandgatectl: cannot generate a token: %s\n", strerror(-e));
		goto out;
	}
	if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "?");

	m = open_memstream(&buf, &len);
	if (!m)
		goto nomem;
	if (f.len == 0) {
		fputs("# sandgate tokens: see sandgate-tokens(5). Edit by hand or with\n"
		      "# sandgatectl token create|revoke; sandgated reloads it on change.\n", m);
	} else {
		size_t last = f.data[f.len - 1] == '\n' ? f.len - 1 : f.len;

		fwrite(f.data, 1, f.len, m);
		if (f.data[f.len - 1] != '\n')
			fputc('\n', m);
		/* no blank separator when the old content ends with one */
		while (last > 0 && f.data[last - 1] != '\n')
			last--;
		if (classify(f.data + last, f.data + f.len, last == 0) == L_BLANK)
			goto body;
	}
	fputc('\n', m);
body:
	fprintf(m, "# created by sandgatectl on %s\n[%s]\nhash = %s\n", stamp, name, hash);
	if (fclose(m) != 0) {
		m = NULL;
		goto nomem;
	}
	m = NULL;

	/* the new content must load and accept the new token */
	if (sg_tokens_parse(f.path, buf, len, &check, NULL) < 0 ||
	    sg_tokens_check_secret(check, text, &who) < 0 || strcmp(who, name) != 0) {
		fprintf(stderr, "sandgatectl: internal error: the new tokens file does not accept "
			"the new token; %s was not changed\n", f.path);
		goto out;
	}
	if (tfile_replace(&f, buf, len) != 0)
		goto out;
	if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "sandgatectl: token %s was added to %s but could not be printed: "
			"revoke it with: sandgatectl token revoke %s\n", name, f.path, name);
		goto out;
	}
	fprintf(stderr, "sandgatectl: created token %s in %s; it is shown only this once, "
		"so store it now\n", name, f.path);
	r = 0;
	goto out;
nomem:
	fprintf(stderr, "sandgatectl: out of memory\n");
out:
	if (m)
		fclose(m);
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	free(hash);
	sg_tokens_free(old);
	sg_tokens_free(check);
	tfile_close(&f);
	return r;
}

static int cmd_revoke(const char *path, const char *name)
{
	struct tfile f;
	struct sg_tokens *old = NULL, *check = NULL;
	const struct sg_token *tok;
	size_t *starts = NULL, nl = 0, i, h, s, e, next, cut_from, cut_to, buf_len = 0;
	char *buf = NULL;
	int r = 1;

	if (tfile_open(&f, path, 0) != 0)
		goto out;
	if (!f.exists) {
		fprintf(stderr, "sandgatectl: no token named %s: %s does not exist\n", name, f.path);
		goto out;
	}
	if (tfile_parse(&f, &old) != 0)
		goto out;
	tok = sg_tokens_find(old, name);
	if (!tok) {
		fprintf(stderr, "sandgatectl: no token named %s in %s (see: sandgatectl token list)\n",
			name, f.path);
		goto out;
	}

	/* line start offsets; starts[nl] is the end of the data */
	starts = calloc(f.len + 2, sizeof(*starts));
	if (!starts)
		goto nomem;
	for (i = 0; i < f.len; i++)
		if (i == 0 || f.data[i - 1] == '\n')
			starts[nl++] = i;
	starts[nl] = f.len;
#define CLASS(k) classify(f.data + starts[k], f.data + starts[(k) + 1], (k) == 0)

	h = sg_tokens_line(tok) - 1;
	if (h >= nl || CLASS(h) != L_HEADER) {
		fprintf(stderr, "sandgatectl: internal error: cannot find [%s] at line %zu of %s\n",
			name, h + 1, f.path);
		goto out;
	}
	for (next = h + 1; next < nl && CLASS(next) != L_HEADER; next++)
		;
	/* comment lines right above a header belong to that header */
	e = next;
	if (next < nl)
		while (e - 1 > h && CLASS(e - 1) == L_COMMENT)
			e--;
	s = h;
	while (s > 0 && CLASS(s - 1) == L_COMMENT)
		s--;
	if (next == nl)
		while (s > 0 && CLASS(s - 1) == L_BLANK)
			s--;
#undef CLASS
	cut_from = starts[s];
	cut_to = starts[e];
	buf_len = f.len - (cut_to - cut_from);
	buf = malloc(buf_len + 1);
	if (!buf)
		goto nomem;
	memcpy(buf, f.data, cut_from);
	memcpy(buf + cut_from, f.data + cut_to, f.len - cut_to);

	if (sg_tokens_parse(f.path, buf, buf_len, &check, NULL) < 0 ||
	    sg_tokens_find(check, name) ||
	    sg_tokens_count(check) + 1 != sg_tokens_count(old)) {
		fprintf(stderr, "sandgatectl: internal error: removing [%s] would break %s; "
			"it was not changed: remove the section by hand\n", name, f.path);
		goto out;
	}
	if (tfile_replace(&f, buf, buf_len) != 0)
		goto out;
	fprintf(stderr, "sandgatectl: revoked token %s in %s\n", name, f.path);
	r = 0;
	goto out;
nomem:
	fprintf(stderr, "sandgatectl: out of memory\n");
out:
	if (buf) {
		explicit_bzero(buf, buf_len);
		free(buf);
	}
	free(starts);
	sg_tokens_free(old);
	sg_tokens_free(check);
	tfile_close(&f);
	return r;
}

/* One token as a JSON object (never its key material or secrets). */
static void list_json_one(struct sg_buf *b, const struct sg_token *tok, int first)
{
	sg_buf_putf(b, "%s{\"name\": ", first ? "" : ", ");
	sg_json_str(b, sg_tokens_name(tok));
	sg_buf_putf(b, ", \"keys\": %zu, \"image\": ", sg_tokens_key_count(tok));
	sg_json_str(b, sg_tokens_image(tok));
	sg_buf_putf(b, ", \"allow_net\": ");
	sg_json_str(b, sg_tokens_allow_net(tok));
	sg_buf_putf(b, "}");
}

static int cmd_list(const char *path, int json)
{
	struct sg_tokens *t = NULL;
	struct sg_buf *b = NULL;
	char *err = NULL;
	size_t i;
	int r, status = 1;

	r = sg_tokens_load(path, &t, &err);
	if (r == -ENOENT) {
		fprintf(stderr, "sandgatectl: no tokens yet: %s does not exist (create one with: "
			"sandgatectl token create NAME)\n", path);
		free(err);
		if (json)
			puts("[]");
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "sandgatectl: %s\n", err ? err : strerror(-r));
		free(err);
		return 1;
	}
	b = sg_buf_new(1 << 22);
	if (b == NULL)
		goto out;
	if (json)
		sg_buf_putf(b, "[");
	for (i = 0; i < sg_tokens_count(t); i++) {
		const struct sg_token *tok = sg_tokens_at(t, i);

		if (json)
			list_json_one(b, tok, i == 0);
		else
			sg_buf_putf(b, "%s\t%zu\t%s\t%s\n", sg_tokens_name(tok),
				    sg_tokens_key_count(tok),
				    sg_tokens_image(tok) ? sg_tokens_image(tok) : "-",
				    sg_tokens_allow_net(tok) ? sg_tokens_allow_net(tok) : "-");
	}
	if (json)
		sg_buf_putf(b, "]\n");
	if (fwrite(sg_buf_data(b), 1, sg_buf_len(b), stdout) != sg_buf_len(b) ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "sandgatectl: cannot write the list: %s\n", strerror(errno));
		goto out;
	}
	status = 0;
out:
	sg_buf_free(b);
	sg_tokens_free(t);
	return status;
}

int sg_tokencmd_main(const char *tokens_path, int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : NULL;

	if (!cmd) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "create") || !strcmp(cmd, "revoke")) {
		if (argc != 2) {
			fprintf(stderr, "sandgatectl: token %s takes one argument, the token name\n%s",
				cmd, usage_text);
			return 2;
		}
		return cmd[0] == 'c' ? cmd_create(tokens_path, argv[1]) : cmd_revoke(tokens_path, argv[1]);
	}
	if (!strcmp(cmd, "list")) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json") != 0)) {
			fprintf(stderr, "sandgatectl: token list takes no argument but --json\n%s",
				usage_text);
			return 2;
		}
		return cmd_list(tokens_path, argc == 2);
	}
	fprintf(stderr, "sandgatectl: unknown token command \"%s\"\n%s", cmd, usage_text);
	return 2;
}
