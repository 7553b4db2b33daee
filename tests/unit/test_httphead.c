/* Unit tests for common/httphead.c: the data-driven cases in
 * tests/data/http (format in its README), each also fed byte by byte,
 * plus the limits at their exact edges, Host normalisation, the lookup
 * helper, the incremental contract and the chunked decoder's API. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/httphead.h"

/* ---- a small growable byte string ---- */

struct bytes {
	uint8_t *p;
	size_t n, cap;
};

static void
bytes_put(struct bytes *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void
bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Decodes the README's escapes from s into b; false on a bad escape. */
static bool
unescape(const char *s, struct bytes *b)
{
	uint8_t c;
	unsigned hi, lo;

	while (*s != '\0') {
		if (*s != '\\') {
			bytes_put(b, s++, 1);
			continue;
		}
		s++;
		switch (*s) {
		case 'r': c = '\r'; break;
		case 'n': c = '\n'; break;
		case 't': c = '\t'; break;
		case 's': c = ' '; break;
		case '0': c = 0; break;
		case '\\': c = '\\'; break;
		case 'x':
			if (sscanf(s + 1, "%1x%1x", &hi, &lo) != 2)
				return false;
			c = (uint8_t)(hi << 4 | lo);
			s += 2;
			break;
		case '{': {
			struct bytes rep = { 0 };
			char *end;
			unsigned long count = strtoul(s + 1, &end, 10);
			const char *close;

			if (end == s + 1 || *end != ':')
				return false;
			close = strchr(end, '}');
			if (close == NULL)
				return false;
			{
				char *inner = strndup(end + 1,
				    (size_t)(close - end - 1));
				bool ok;

				assert_non_null(inner);
				ok = unescape(inner, &rep);
				free(inner);
				if (!ok)
					return false;
			}
			while (count-- > 0)
				bytes_put(b, rep.p, rep.n);
			bytes_free(&rep);
			s = close + 1;
			continue;
		}
		default:
			return false;
		}
		bytes_put(b, &c, 1);
		s++;
	}
	return true;
}

/* ---- one case file ---- */

#define MAX_KEYS 64

struct kv {
	char key[32];
	char *val;
};

struct tcase {
	char name[64];
	char role[32];
	struct bytes in;
	struct bytes data;	/* expected decoded chunked body */
	bool has_data;
	struct kv kv[MAX_KEYS];
	size_t nkv;
};

static void
tcase_free(struct tcase *t)
{
	size_t i;

	bytes_free(&t->in);
	bytes_free(&t->data);
	for (i = 0; i < t->nkv; i++)
		free(t->kv[i].val);
}

static bool
tcase_load(const char *path, struct tcase *t)
{
	FILE *f = fopen(path, "r");
	char line[65536];
	bool ok = true;

	if (f == NULL) {
		print_error("%s: cannot open\n", path);
		return false;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);
		char *sp;

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		sp = strchr(line, ' ');
		if (sp != NULL)
			*sp++ = '\0';
		else
			sp = line + n;
		if (strcmp(line, "in") == 0) {
			if (!unescape(sp, &t->in))
				ok = false;
		} else if (strcmp(line, "data") == 0) {
			t->has_data = true;
			if (!unescape(sp, &t->data))
				ok = false;
		} else if (strcmp(line, "role") == 0) {
			snprintf(t->role, sizeof(t->role), "%s", sp);
		} else if (t->nkv < MAX_KEYS && strlen(line) < 32) {
			snprintf(t->kv[t->nkv].key, 32, "%s", line);
			t->kv[t->nkv].val = strdup(sp);
			assert_non_null(t->kv[t->nkv].val);
			t->nkv++;
		} else {
			ok = false;
		}
	}
	fclose(f);
	if (!ok)
		print_error("%s: bad line or escape\n", path);
	return ok;
}

static const char *
tcase_get(const struct tcase *t, const char *key)
{
	size_t i;

	for (i = 0; i < t->nkv; i++)
		if (strcmp(t->kv[i].key, key) == 0)
			return t->kv[i].val;
	return NULL;
}

/* ---- checking a head ---- */

static int failures;

#define FAIL(t, ...) do { \
	print_error("case %s: ", (t)->name); \
	print_error(__VA_ARGS__); \
	print_error("\n"); \
	failures++; \
} while (0)

static void
check_span(const struct tcase *t, const char *key, const uint8_t *buf,
    struct sg_http_span sp, const char *want)
{
	struct bytes w = { 0 };

	if (!unescape(want, &w)) {
		FAIL(t, "bad escape in %s", key);
		return;
	}
	if (sp.len != w.n || (w.n > 0 && memcmp(buf + sp.off, w.p, w.n) != 0))
		FAIL(t, "%s: got '%.*s', want '%s'", key, (int)sp.len,
		    (const char *)buf + sp.off, want);
	bytes_free(&w);
}

static void
check_int(const struct tcase *t, const char *key, long long got)
{
	const char *want = tcase_get(t, key);

	if (want != NULL && strtoll(want, NULL, 10) != got)
		FAIL(t, "%s: got %lld, want %s", key, got, want);
}

static void
check_flags(const struct tcase *t, const char *key, unsigned got,
    const char *const names[3])
{
	const char *want = tcase_get(t, key);
	unsigned w = 0, i;

	if (want == NULL)
		return;
	for (i = 0; i < 3; i++) {
		const char *p = strstr(want, names[i]);
		size_t l = strlen(names[i]);

		/* whole comma-separated words only */
		while (p != NULL && !((p == want || p[-1] == ',') &&
		    (p[l] == '\0' || p[l] == ',')))
			p = strstr(p + 1, names[i]);
		if (p != NULL)
			w |= 1u << i;
	}
	if (w != got)
		FAIL(t, "%s: got flags %#x, want %s (%#x)", key, got, want, w);
}

static const char *
body_name(enum sg_http_body b)
{
	switch (b) {
	case SG_HTTP_BODY_NONE: return "none";
	case SG_HTTP_BODY_LENGTH: return "length";
	case SG_HTTP_BODY_CHUNKED: return "chunked";
	case SG_HTTP_BODY_CLOSE: return "close";
	}
	return "?";
}

static void
check_head(const struct tcase *t, const struct sg_http_head *h,
    const uint8_t *buf)
{
	static const char *const scheme_names[] = { "none", "http", "https" };
	static const char *const kind_names[] = { "name", "ipv4", "ipv6" };
	static const char *const conn_names[3] = { "close", "keep-alive",
	    "upgrade" };
	static const char *const up_names[3] = { "websocket", "h2c", "other" };
	const char *v;
	size_t i;

	if ((v = tcase_get(t, "method")) != NULL)
		check_span(t, "method", buf, h->method, v);
	if ((v = tcase_get(t, "target")) != NULL)
		check_span(t, "target", buf, h->target, v);
	if ((v = tcase_get(t, "authority")) != NULL)
		check_span(t, "authority", buf, h->authority, v);
	if ((v = tcase_get(t, "path")) != NULL)
		check_span(t, "path", buf, h->path, v);
	if ((v = tcase_get(t, "query")) != NULL) {
		if (!h->has_query)
			FAIL(t, "query: none");
		check_span(t, "query", buf, h->query, v);
	}
	if (tcase_get(t, "noquery") != NULL && h->has_query)
		FAIL(t, "noquery: there is a query");
	if ((v = tcase_get(t, "reason")) != NULL)
		check_span(t, "reason", buf, h->reason, v);
	if ((v = tcase_get(t, "scheme")) != NULL &&
	    strcmp(v, scheme_names[h->scheme]) != 0)
		FAIL(t, "scheme: got %s, want %s", scheme_names[h->scheme], v);
	if ((v = tcase_get(t, "host")) != NULL && (strcmp(v, h->host) != 0 ||
	    strlen(h->host) != h->host_len))
		FAIL(t, "host: got '%s', want '%s'", h->host, v);
	if ((v = tcase_get(t, "host_kind")) != NULL &&
	    strcmp(v, kind_names[h->host_kind]) != 0)
		FAIL(t, "host_kind: got %s, want %s", kind_names[h->host_kind],
		    v);
	if ((v = tcase_get(t, "body")) != NULL &&
	    strcmp(v, body_name(h->body)) != 0)
		FAIL(t, "body: got %s, want %s", body_name(h->body), v);
	check_int(t, "head_len", h->head_len);
	check_int(t, "port", h->port);
	check_int(t, "version", h->version);
	check_int(t, "code", h->status);
	check_int(t, "length", (long long)h->content_length);
	check_int(t, "keep_alive", h->keep_alive);
	check_int(t, "expect_continue", h->expect_continue);
	check_int(t, "fields", (long long)h->nfields);
	check_flags(t, "conn", h->conn, conn_names);
	check_flags(t, "upgrade", h->upgrade, up_names);
	for (i = 0; i < t->nkv; i++) {
		const char *colon;
		char name[64];
		int idx;

		if (strcmp(t->kv[i].key, "field") != 0)
			continue;
		colon = strchr(t->kv[i].val, ':');
		if (colon == NULL || colon[1] != ' ' ||
		    (size_t)(colon - t->kv[i].val) >= sizeof(name)) {
			FAIL(t, "bad field line");
			continue;
		}
		memcpy(name, t->kv[i].val, (size_t)(colon - t->kv[i].val));
		name[colon - t->kv[i].val] = '\0';
		idx = sg_http_head_find(h, buf, name, 0);
		if (idx < 0) {
			FAIL(t, "field %s: missing", name);
			continue;
		}
		check_span(t, name, buf, h->fields[idx].value, colon + 2);
	}
}

static int
parse_whole(const struct tcase *t, struct sg_http_head *h, const uint8_t *p,
    size_t n)
{
	if (strcmp(t->role, "request") == 0)
		sg_http_head_init(h, SG_HTTP_REQUEST, false);
	else
		sg_http_head_init(h, SG_HTTP_RESPONSE,
		    strcmp(t->role, "response-head") == 0);
	return sg_http_head_parse(h, p, n);
}

static void
run_head_case(const struct tcase *t)
{
	struct sg_http_head *h = malloc(sizeof(*h));
	struct sg_http_head *g = malloc(sizeof(*g));
	const char *want = tcase_get(t, "result");
	int r, r2 = -EAGAIN;
	size_t n;

	assert_non_null(h);
	assert_non_null(g);
	r = parse_whole(t, h, t->in.p, t->in.n);
	if (want == NULL)
		FAIL(t, "no result line");
	else if ((strcmp(want, "complete") == 0 && r != 0) ||
	    (strcmp(want, "more") == 0 && r != -EAGAIN) ||
	    (strcmp(want, "refused") == 0 && r != -EPROTO))
		FAIL(t, "result: got %d (%s: %s), want %s", r,
		    sg_http_error_name(h->error),
		    h->error_reason != NULL ? h->error_reason : "-", want);
	if (r == -EPROTO) {
		check_int(t, "status", h->error_status);
		if (tcase_get(t, "error") != NULL &&
		    strcmp(tcase_get(t, "error"),
		    sg_http_error_name(h->error)) != 0)
			FAIL(t, "error: got %s, want %s",
			    sg_http_error_name(h->error), tcase_get(t, "error"));
		if (h->error_reason == NULL || strlen(h->error_reason) == 0 ||
		    strchr(h->error_reason, '\n') != NULL)
			FAIL(t, "no usable reason");
	} else if (r == 0) {
		check_head(t, h, t->in.p);
	}

	/* again, one more byte each time, in a fresh exact-size copy */
	parse_whole(t, g, NULL, 0);
	for (n = 1; n <= t->in.n && r2 == -EAGAIN; n++) {
		uint8_t *copy = malloc(n);

		assert_non_null(copy);
		memcpy(copy, t->in.p, n);
		r2 = sg_http_head_parse(g, copy, n);
		if (r2 == 0)
			check_head(t, g, copy);
		free(copy);
	}
	if (r2 != r)
		FAIL(t, "byte by byte: got %d, whole: %d", r2, r);
	else if (r == 0 && g->head_len != h->head_len)
		FAIL(t, "byte by byte: head_len %u, whole %u", g->head_len,
		    h->head_len);
	else if (r == -EPROTO && (g->error != h->error ||
	    g->error_status != h->error_status))
		FAIL(t, "byte by byte: refused as %s, whole as %s",
		    sg_http_error_name(g->error), sg_http_error_name(h->error));
	free(h);
	free(g);
}

/* Feeds p[0..n) in slices of at most step bytes (0: all at once, then
 * split at split). Returns 1 done, 0 more, -EPROTO; fills data, used. */
static int
chunked_run(const uint8_t *p, size_t n, size_t step, size_t split,
    struct bytes *data, size_t *used)
{
	struct sg_http_chunked c;
	struct sg_http_chunk_out o;
	size_t off = 0, end;
	int r = 0;

	sg_http_chunked_init(&c);
	*used = 0;
	while (off < n) {
		end = step != 0 ? off + step : (off < split ? split : n);
		if (end > n)
			end = n;
		while (off < end) {
			r = sg_http_chunked_feed(&c, p + off, end - off, &o);
			if (r < 0) {
				assert_non_null(c.error_reason);
				assert_int_equal(c.error, SG_HTTP_E_CHUNK);
				return r;
			}
			assert_true(o.used <= end - off);
			assert_true(o.used > 0 || r == 1);
			assert_true(o.data_off + o.data_len <= o.used);
			bytes_put(data, p + off + o.data_off, o.data_len);
			off += o.used;
			if (r == 1) {
				*used = off;
				/* sticky */
				assert_int_equal(sg_http_chunked_feed(&c, p,
				    n, &o), 1);
				assert_int_equal(o.used, 0);
				return 1;
			}
		}
	}
	return 0;
}

static void
run_chunked_case(const struct tcase *t)
{
	const char *want = tcase_get(t, "result");
	struct bytes d0 = { 0 }, d1 = { 0 };
	size_t used0, used1, split;
	int r0, r1, wr;

	wr = want == NULL ? 99 : strcmp(want, "done") == 0 ? 1 :
	    strcmp(want, "more") == 0 ? 0 : strcmp(want, "refused") == 0 ?
	    -EPROTO : 99;
	if (wr == 99)
		FAIL(t, "no or bad result line");
	r0 = chunked_run(t->in.p, t->in.n, 0, t->in.n, &d0, &used0);
	if (r0 != wr)
		FAIL(t, "result: got %d, want %s", r0, want);
	if (t->has_data && (d0.n != t->data.n ||
	    (d0.n > 0 && memcmp(d0.p, t->data.p, d0.n) != 0)))
		FAIL(t, "data: got '%.*s'", (int)d0.n, (const char *)d0.p);
	if (r0 == 1)
		check_int(t, "used", (long long)used0);

	r1 = chunked_run(t->in.p, t->in.n, 1, 0, &d1, &used1);
	if (r1 != r0 || d1.n != d0.n || used1 != used0 ||
	    (d0.n > 0 && memcmp(d0.p, d1.p, d0.n) != 0))
		FAIL(t, "byte by byte differs: %d vs %d", r1, r0);
	bytes_free(&d1);
	for (split = 1; split < t->in.n; split++) {
		r1 = chunked_run(t->in.p, t->in.n, 0, split, &d1, &used1);
		if (r1 != r0 || d1.n != d0.n || used1 != used0 ||
		    (d0.n > 0 && memcmp(d0.p, d1.p, d0.n) != 0))
			FAIL(t, "split at %zu differs", split);
		bytes_free(&d1);
	}
	bytes_free(&d0);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_data_cases(void **state)
{
	const char *src = getenv("SG_SRCDIR");
	char dir[4096], path[4200];
	char *names[1000];
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tests/data/http",
	    src != NULL && src[0] != '\0' ? src : ".");
	d = opendir(dir);
	if (d == NULL)
		fail_msg("cannot open %s; set SG_SRCDIR to the source tree", dir);
	while ((de = readdir(d)) != NULL && n < 1000) {
		if (strlen(de->d_name) != 4 ||
		    strspn(de->d_name, "0123456789") != 4)
			continue;
		names[n] = strdup(de->d_name);
		assert_non_null(names[n]);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	assert_true(n >= 40);
	failures = 0;
	for (i = 0; i < n; i++) {
		struct tcase t;

		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "%s", names[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!tcase_load(path, &t)) {
			failures++;
		} else if (strcmp(t.role, "chunked") == 0) {
			run_chunked_case(&t);
		} else if (strcmp(t.role, "request") == 0 ||
		    strcmp(t.role, "response") == 0 ||
		    strcmp(t.role, "response-head") == 0) {
			run_head_case(&t);
		} else {
			FAIL(&t, "unknown role '%s'", t.role);
		}
		tcase_free(&t);
		free(names[i]);
	}
	if (failures > 0)
		fail_msg("%d check(s) failed in %zu cases", failures, n);
}

/* ---- direct tests ---- */

static int
parse_req(const char *s, struct sg_http_head *h)
{
	sg_http_head_init(h, SG_HTTP_REQUEST, false);
	return sg_http_head_parse(h, s, strlen(s));
}

static void
test_find_and_sticky(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n"
	    "X-A: 1\r\nx-a: 2\r\nX-B: 3\r\n\r\n";
	struct sg_http_head h;

	(void)state;
	assert_int_equal(parse_req(req, &h), 0);
	assert_int_equal(sg_http_head_find(&h, req, "x-a", 0), 1);
	assert_int_equal(sg_http_head_find(&h, req, "X-A", 2), 2);
	assert_int_equal(sg_http_head_find(&h, req, "x-a", 3), -ENOENT);
	assert_int_equal(sg_http_head_find(&h, req, "x-", 0), -ENOENT);
	assert_int_equal(sg_http_head_find(&h, req, "HOST", 0), 0);
	/* later calls keep the answer */
	assert_int_equal(sg_http_head_parse(&h, req, strlen(req)), 0);
	assert_int_equal(h.head_len, strlen(req));

	assert_int_equal(parse_req("GET / HTTP/1.1\r\nHost: a\r\n\n", &h),
	    -EPROTO);
	assert_int_equal(sg_http_head_parse(&h, "", 0), -EPROTO);

	/* a shorter buffer than before is a caller bug */
	sg_http_head_init(&h, SG_HTTP_REQUEST, false);
	assert_int_equal(sg_http_head_parse(&h, req, 10), -EAGAIN);
	assert_int_equal(sg_http_head_parse(&h, req, 5), -EINVAL);
	assert_int_equal(sg_http_head_parse(&h, req, strlen(req)), 0);
}

/* Builds "GET /aaa... HTTP/1.1\r\n" of exactly total bytes, then Host. */
static char *
long_target_request(size_t total)
{
	static const char tail[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
	char *s = malloc(total + sizeof(tail));
	size_t i;

	assert_non_null(s);
	memcpy(s, "GET /", 5);
	for (i = 5; i < total - 11; i++)
		s[i] = 'a';
	memcpy(s + total - 11, tail, sizeof(tail));
	return s;
}

static void
test_line_limits(void **state)
{
	struct sg_http_head h;
	char *s;

	(void)state;
	s = long_target_request(SG_HTTP_LINE_MAX);
	assert_int_equal(parse_req(s, &h), 0);
	assert_int_equal(h.target.len, SG_HTTP_LINE_MAX - 15);
	free(s);
	s = long_target_request(SG_HTTP_LINE_MAX + 1);
	assert_int_equal(parse_req(s, &h), -EPROTO);
	assert_int_equal(h.error_status, 414);
	/* found before the line ends */
	sg_http_head_init(&h, SG_HTTP_REQUEST, false);
	assert_int_equal(sg_http_head_parse(&h, s, SG_HTTP_LINE_MAX - 1),
	    -EAGAIN);
	assert_int_equal(sg_http_head_parse(&h, s, SG_HTTP_LINE_MAX), -EPROTO);
	assert_int_equal(h.error_status, 414);
	free(s);

	s = malloc(SG_HTTP_LINE_MAX + 10);
	assert_non_null(s);
	memset(s, 'G', SG_HTTP_LINE_MAX + 10);
	sg_http_head_init(&h, SG_HTTP_REQUEST, false);
	assert_int_equal(sg_http_head_parse(&h, s, SG_HTTP_LINE_MAX + 10),
	    -EPROTO);
	assert_int_equal(h.error, SG_HTTP_E_METHOD);
	assert_int_equal(h.error_status, 501);
	free(s);
}

/* A request head of exactly total bytes (total > 100). */
static char *
sized_head(size_t total)
{
	static const char start[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
	char *s = malloc(total);
	size_t i;

	assert_non_null(s);
	memcpy(s, start, sizeof(start) - 1);
	for (i = sizeof(start) - 1; i < total - 4; i++)
		s[i] = 'p';
	memcpy(s + total - 4, "\r\n\r\n", 4);
	return s;
}

static void
test_head_limit(void **state)
{
	struct sg_http_head h;
	char *s;

	(void)state;
	s = sized_head(SG_HTTP_HEAD_MAX);
	sg_http_head_init(&h, SG_HTTP_REQUEST, false);
	assert_int_equal(sg_http_head_parse(&h, s, SG_HTTP_HEAD_MAX), 0);
	assert_int_equal(h.head_len, SG_HTTP_HEAD_MAX);
	free(s);
	s = sized_head(SG_HTTP_HEAD_MAX + 1);
	sg_http_head_init(&h, SG_HTTP_REQUEST, false);
	assert_int_equal(sg_http_head_parse(&h, s, SG_HTTP_HEAD_MAX - 1),
	    -EAGAIN);
	assert_int_equal(sg_http_head_parse(&h, s, SG_HTTP_HEAD_MAX + 1),
	    -EPROTO);
	assert_int_equal(h.error, SG_HTTP_E_TOO_LARGE);
	assert_int_equal(h.error_status, 431);
	free(s);
}

struct host_case {
	const char *host;
	const char *want;	/* NULL: refused */
	int kind;
	unsigned port;
};

static void
test_hosts(void **state)
{
	static const struct host_case cases[] = {
		{ "Example.COM", "example.com", SG_HTTP_HOST_NAME, 0 },
		{ "example.com.", "example.com", SG_HTTP_HOST_NAME, 0 },
		{ "example.com.:8080", "example.com", SG_HTTP_HOST_NAME, 8080 },
		{ "a_b-c.example", "a_b-c.example", SG_HTTP_HOST_NAME, 0 },
		{ "localhost:65535", "localhost", SG_HTTP_HOST_NAME, 65535 },
		{ "10.0.0.1:1", "10.0.0.1", SG_HTTP_HOST_IPV4, 1 },
		{ "[::1]", "[::1]", SG_HTTP_HOST_IPV6, 0 },
		{ "[::FFFF:10.0.0.1]:443", "[::ffff:10.0.0.1]",
		    SG_HTTP_HOST_IPV6, 443 },
		{ "", NULL, 0, 0 },
		{ ".", NULL, 0, 0 },
		{ "example..com", NULL, 0, 0 },
		{ ".example.com", NULL, 0, 0 },
		{ "example.com..", NULL, 0, 0 },
		{ "example.com:", NULL, 0, 0 },
		{ "example.com:0", NULL, 0, 0 },
		{ "example.com:65536", NULL, 0, 0 },
		{ "example.com:80:80", NULL, 0, 0 },
		{ "example.com:+80", NULL, 0, 0 },
		{ "exa mple.com", NULL, 0, 0 },
		{ "ex%41mple.com", NULL, 0, 0 },
		{ "example.com/x", NULL, 0, 0 },
		{ "10.0.0.256", NULL, 0, 0 },
		{ "10.0.0.01", NULL, 0, 0 },
		{ "0x7f.0.0.1", NULL, 0, 0 },
		{ "a.0x7f", NULL, 0, 0 },
		{ "2130706433", NULL, 0, 0 },
		{ "[::1", NULL, 0, 0 },
		{ "[::1]x", NULL, 0, 0 },
		{ "[fe80::1%25eth0]", NULL, 0, 0 },
		{ "[v1.x]", NULL, 0, 0 },
		{ "[1.2.3.4]", NULL, 0, 0 },
		{ "::1", NULL, 0, 0 },
	};
	char req[512], longname[300];
	struct sg_http_head h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct host_case *c = &cases[i];
		int r;

		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
		    c->host);
		r = parse_req(req, &h);
		if (c->want == NULL) {
			if (r != -EPROTO || h.error != SG_HTTP_E_HOST)
				fail_msg("Host '%s' accepted", c->host);
			continue;
		}
		if (r != 0)
			fail_msg("Host '%s' refused: %s", c->host,
			    h.error_reason);
		assert_string_equal(h.host, c->want);
		assert_int_equal(h.host_len, strlen(c->want));
		assert_int_equal(h.host_kind, c->kind);
		assert_int_equal(h.port, c->port);
	}

	/* 253 bytes is the longest name, 63 the longest label */
	memset(longname, 'a', sizeof(longname));
	for (i = 63; i < 253; i += 64)
		longname[i] = '.';
	longname[253] = '\0';
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
	    longname);
	assert_int_equal(parse_req(req, &h), 0);
	assert_int_equal(h.host_len, 253);
	longname[253] = 'a';
	longname[254] = '\0';
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
	    longname);
	assert_int_equal(parse_req(req, &h), -EPROTO);
	memset(longname, 'a', 64);
	longname[64] = '\0';
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
	    longname);
	assert_int_equal(parse_req(req, &h), -EPROTO);

	/* absolute-form against Host, with normalisation */
	assert_int_equal(parse_req("GET http://[::1]:80/ HTTP/1.1\r\n"
	    "Host: [0:0::1]\r\n\r\n", &h), 0);
	assert_int_equal(h.port, 80);
	assert_int_equal(parse_req("GET HTTPS://A.example./x?y HTTP/1.1\r\n"
	    "Host: a.EXAMPLE:443\r\n\r\n", &h), 0);
	assert_int_equal(h.scheme, SG_HTTP_SCHEME_HTTPS);
	assert_int_equal(parse_req("GET http://a.example:443/ HTTP/1.1\r\n"
	    "Host: a.example\r\n\r\n", &h), -EPROTO);
	assert_int_equal(h.error, SG_HTTP_E_HOST_MISMATCH);
	assert_int_equal(parse_req("GET http://u@a.example/ HTTP/1.1\r\n"
	    "Host: a.example\r\n\r\n", &h), -EPROTO);
	assert_int_equal(parse_req("GET ftp://a.example/ HTTP/1.1\r\n"
	    "Host: a.example\r\n\r\n", &h), -EPROTO);
	assert_int_equal(parse_req("GET http:///x HTTP/1.1\r\n"
	    "Host: a.example\r\n\r\n", &h), -EPROTO);
}

static void
test_responses(void **state)
{
	static const char two[] = "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct sg_http_head h;

	(void)state;
	sg_http_head_init(&h, SG_HTTP_RESPONSE, false);
	assert_int_equal(sg_http_head_parse(&h, two, sizeof(two) - 1), 0);
	assert_int_equal(h.status, 100);
	assert_int_equal(h.body, SG_HTTP_BODY_NONE);
	sg_http_head_init(&h, SG_HTTP_RESPONSE, false);
	assert_int_equal(sg_http_head_parse(&h, two + 25,
	    sizeof(two) - 1 - 25), 0);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.body, SG_HTTP_BODY_LENGTH);
	assert_int_equal(h.content_length, 2);

	sg_http_head_init(&h, SG_HTTP_RESPONSE, false);
	assert_int_equal(sg_http_head_parse(&h,
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 44), -EPROTO);
	assert_int_equal(h.error_status, 501);
	sg_http_head_init(&h, SG_HTTP_RESPONSE, false);
	assert_int_equal(sg_http_head_parse(&h,
	    "HTTP/1.1 600 Odd\r\n\r\n", 20), -EPROTO);
	sg_http_head_init(&h, SG_HTTP_RESPONSE, false);
	assert_int_equal(sg_http_head_parse(&h,
	    "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 46), 0);
	assert_int_equal(h.body, SG_HTTP_BODY_NONE);
	assert_false(h.keep_alive);
}

static void
test_chunked_limits(void **state)
{
	struct sg_http_chunked c;
	struct sg_http_chunk_out o;
	char big[SG_HTTP_TRAILER_MAX + 64];
	size_t i, n;

	(void)state;
	/* 16 digits with leading zeros, then 17 */
	sg_http_chunked_init(&c);
	assert_int_equal(sg_http_chunked_feed(&c, "0000000000000001\r\nx\r\n0\r\n\r\n",
	    26, &o), 0);
	assert_int_equal(o.data_len, 1);
	assert_int_equal(o.data_off, 18);
	assert_int_equal(sg_http_chunked_feed(&c, "\r\n0\r\n\r\n", 7, &o), 1);
	assert_int_equal(o.used, 7);
	sg_http_chunked_init(&c);
	assert_int_equal(sg_http_chunked_feed(&c, "00000000000000001\r\n", 19,
	    &o), -EPROTO);
	assert_int_equal(sg_http_chunked_feed(&c, "0\r\n\r\n", 5, &o), -EPROTO);

	/* an extension of exactly SG_HTTP_CHUNK_EXT_MAX bytes is fine */
	n = 0;
	big[n++] = '1';
	big[n++] = ';';
	while (n < 1 + SG_HTTP_CHUNK_EXT_MAX)
		big[n++] = 'e';
	memcpy(big + n, "\r\nx\r\n0\r\n\r\n", 10);
	sg_http_chunked_init(&c);
	assert_int_equal(sg_http_chunked_feed(&c, big, n + 10, &o), 0);
	assert_int_equal(o.data_len, 1);
	big[n++] = 'e';
	memcpy(big + n, "\r\nx\r\n0\r\n\r\n", 10);
	sg_http_chunked_init(&c);
	assert_int_equal(sg_http_chunked_feed(&c, big, n + 10, &o), -EPROTO);

	/* trailer section over its bound */
	sg_http_chunked_init(&c);
	n = 0;
	memcpy(big, "0\r\nX: ", 6);
	n = 6;
	while (n < sizeof(big) - 4)
		big[n++] = 'v';
	memcpy(big + n, "\r\n\r\n", 4);
	assert_int_equal(sg_http_chunked_feed(&c, big, sizeof(big), &o),
	    -EPROTO);

	/* SG_HTTP_FIELDS_MAX trailer fields, then one more */
	for (i = 0; i < 2; i++) {
		size_t k, fields = SG_HTTP_FIELDS_MAX + i;

		n = 0;
		memcpy(big, "0\r\n", 3);
		n = 3;
		for (k = 0; k < fields; k++) {
			memcpy(big + n, "A: b\r\n", 6);
			n += 6;
		}
		memcpy(big + n, "\r\n", 2);
		n += 2;
		sg_http_chunked_init(&c);
		assert_int_equal(sg_http_chunked_feed(&c, big, n, &o),
		    i == 0 ? 1 : -EPROTO);
	}

	/* nothing to feed */
	sg_http_chunked_init(&c);
	assert_int_equal(sg_http_chunked_feed(&c, "", 0, &o), 0);
	assert_int_equal(o.used, 0);
}

static void
test_error_names(void **state)
{
	(void)state;
	assert_string_equal(sg_http_error_name(SG_HTTP_E_NONE), "none");
	assert_string_equal(sg_http_error_name(SG_HTTP_E_CHUNK), "chunk");
	assert_string_equal(sg_http_error_name((enum sg_http_error)999),
	    "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_cases),
		cmocka_unit_test(test_find_and_sticky),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_head_limit),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_chunked_limits),
		cmocka_unit_test(test_error_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
