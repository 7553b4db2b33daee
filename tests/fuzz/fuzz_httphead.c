/* libFuzzer harness for the HTTP/1.1 head parser and chunked decoder
 * (common/httphead.c).
 *
 * Each input is used as:
 *  1. a request head, a response head and a response to HEAD, parsed at
 *     once and again growing one byte at a time: both must agree. A
 *     refusal has a known status and a reason; "need more" means there is
 *     no CRLFCRLF yet; a complete head ends in CRLFCRLF within the limits,
 *     has only CRLF line ends, every span inside the head, token names,
 *     trimmed values without CR/LF/NUL, a normalised host, and parses the
 *     same from an exact-size copy (nothing after the head is read);
 *  2. a chunked body, fed at once, byte by byte and in two slices split
 *     where the first byte says: the outcome, data and bytes used must be
 *     the same, data ranges inside what was consumed, and a finished body
 *     ends in CRLFCRLF;
 *  3. a payload: chunk-encoded here with sizes taken from the input, an
 *     extension and a trailer, then decoded: the same bytes come back.
 * Any mismatch aborts. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/httphead.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sg_http_head h1, h2, h3;

static bool
tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
has_crlfcrlf(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i++)
		if (memcmp(p + i, "\r\n\r\n", 4) == 0)
			return true;
	return false;
}

static void
check_span(const struct sg_http_head *h, struct sg_http_span s)
{
	CHECK(s.off <= h->head_len && s.len <= h->head_len - s.off);
}

static void
check_complete(const struct sg_http_head *h, const uint8_t *p, size_t n)
{
	size_t i, k;

	CHECK(h->head_len >= 4 && h->head_len <= n &&
	    h->head_len <= SG_HTTP_HEAD_MAX);
	CHECK(memcmp(p + h->head_len - 4, "\r\n\r\n", 4) == 0);
	for (i = 0; i < h->head_len; i++) {
		CHECK(p[i] != 0);
		if (p[i] == '\n')
			CHECK(i > 0 && p[i - 1] == '\r');
		if (p[i] == '\r')
			CHECK(i + 1 < h->head_len && p[i + 1] == '\n');
	}
	CHECK(h->version == 10 || h->version == 11);
	CHECK(h->nfields <= SG_HTTP_FIELDS_MAX);
	for (i = 0; i < h->nfields; i++) {
		const struct sg_http_field *f = &h->fields[i];

		check_span(h, f->name);
		check_span(h, f->value);
		CHECK(f->name.len > 0);
		for (k = 0; k < f->name.len; k++)
			CHECK(tchar(p[f->name.off + k]));
		CHECK(p[f->name.off + f->name.len] == ':');
		for (k = 0; k < f->value.len; k++) {
			uint8_t c = p[f->value.off + k];

			CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
		}
		if (f->value.len > 0) {
			CHECK(p[f->value.off] != ' ' && p[f->value.off] != '\t');
			CHECK(p[f->value.off + f->value.len - 1] != ' ' &&
			    p[f->value.off + f->value.len - 1] != '\t');
		}
	}
	if (h->body != SG_HTTP_BODY_LENGTH)
		CHECK(h->content_length == 0);
	CHECK(h->content_length <= SG_HTTP_CL_MAX);
	if (h->body == SG_HTTP_BODY_CLOSE)
		CHECK(h->role == SG_HTTP_RESPONSE && !h->keep_alive);
	if (h->conn & SG_HTTP_CONN_CLOSE)
		CHECK(!h->keep_alive);

	if (h->role == SG_HTTP_REQUEST) {
		check_span(h, h->method);
		check_span(h, h->target);
		check_span(h, h->path);
		check_span(h, h->query);
		check_span(h, h->authority);
		CHECK(h->method.len > 0 && h->target.len > 0);
		CHECK(!(h->method.len == 7 &&
		    memcmp(p + h->method.off, "CONNECT", 7) == 0));
		CHECK(h->path.len > 0 || h->scheme != SG_HTTP_SCHEME_NONE);
		for (k = 0; k < h->target.len; k++) {
			uint8_t c = p[h->target.off + k];

			CHECK(c > 0x20 && c < 0x7f && c != '#');
		}
		CHECK(h->host_len > 0 && h->host_len < SG_HTTP_HOST_BUF);
		CHECK(strlen(h->host) == h->host_len);
		CHECK(h->host[h->host_len - 1] != '.');
		for (k = 0; k < h->host_len; k++)
			CHECK(!(h->host[k] >= 'A' && h->host[k] <= 'Z'));
		CHECK(sg_http_head_find(h, p, "Host", 0) >= 0);
		CHECK(h->body != SG_HTTP_BODY_CLOSE);
		if (h->expect_continue)
			CHECK(h->version == 11);
	} else {
		CHECK(h->status >= 100 && h->status <= 599);
		check_span(h, h->reason);
		if (h->status < 200 || h->status == 204 || h->status == 304 ||
		    h->head_request)
			CHECK(h->body == SG_HTTP_BODY_NONE);
	}
}

static void
check_refused(const struct sg_http_head *h)
{
	int s = h->error_status;

	CHECK(h->error != SG_HTTP_E_NONE && h->error != SG_HTTP_E_CHUNK);
	CHECK(s == 400 || s == 414 || s == 417 || s == 431 || s == 501 ||
	    s == 505);
	CHECK(h->error_reason != NULL && h->error_reason[0] != '\0');
	CHECK(strchr(h->error_reason, '\n') == NULL);
	CHECK(strcmp(sg_http_error_name(h->error), "unknown") != 0);
}

static void
fuzz_head(const uint8_t *p, size_t n, enum sg_http_role role, bool head_req)
{
	size_t i;
	int r, r2 = -EAGAIN;
	uint8_t *copy;

	sg_http_head_init(&h1, role, head_req);
	r = sg_http_head_parse(&h1, p, n);
	CHECK(r == 0 || r == -EAGAIN || r == -EPROTO);
	CHECK(sg_http_head_parse(&h1, p, n) == r);	/* idempotent */
	if (r == 0) {
		check_complete(&h1, p, n);
		/* an exact copy: nothing after the head is looked at */
		copy = malloc(h1.head_len);
		CHECK(copy != NULL);
		memcpy(copy, p, h1.head_len);
		sg_http_head_init(&h3, role, head_req);
		CHECK(sg_http_head_parse(&h3, copy, h1.head_len) == 0);
		CHECK(h3.head_len == h1.head_len && h3.nfields == h1.nfields);
		CHECK(h3.body == h1.body && h3.port == h1.port);
		CHECK(strcmp(h3.host, h1.host) == 0);
		free(copy);
	} else if (r == -EPROTO) {
		check_refused(&h1);
	} else {
		CHECK(n < SG_HTTP_HEAD_MAX && !has_crlfcrlf(p, n));
	}

	sg_http_head_init(&h2, role, head_req);
	for (i = 0; i <= n && r2 == -EAGAIN; i++)
		r2 = sg_http_head_parse(&h2, p, i);
	CHECK(r2 == r);
	if (r == 0)
		CHECK(h2.head_len == h1.head_len && h2.nfields == h1.nfields &&
		    h2.body == h1.body && h2.keep_alive == h1.keep_alive &&
		    h2.content_length == h1.content_length &&
		    memcmp(h2.fields, h1.fields,
		    h1.nfields * sizeof(h1.fields[0])) == 0);
	if (r == -EPROTO)
		CHECK(h2.error == h1.error &&
		    h2.error_status == h1.error_status);
}

struct run {
	int r;
	size_t used;
	size_t ndata;
	uint8_t *data;
};

/* Feeds p[0..n) in slices of step bytes (0: split at split). */
static void
chunked_run(const uint8_t *p, size_t n, size_t step, size_t split,
    struct run *out)
{
	struct sg_http_chunked c;
	struct sg_http_chunk_out o;
	size_t off = 0, end;
	int r = 0;

	sg_http_chunked_init(&c);
	out->ndata = 0;
	out->used = 0;
	while (off < n) {
		end = step != 0 ? off + step : (off < split ? split : n);
		if (end > n)
			end = n;
		while (off < end) {
			r = sg_http_chunked_feed(&c, p + off, end - off, &o);
			CHECK(r == 0 || r == 1 || r == -EPROTO);
			if (r < 0) {
				CHECK(c.error == SG_HTTP_E_CHUNK &&
				    c.error_reason != NULL);
				CHECK(sg_http_chunked_feed(&c, p, n, &o) ==
				    -EPROTO);
				out->r = r;
				return;
			}
			CHECK(o.used <= end - off);
			CHECK(o.used > 0 || r == 1);
			CHECK(o.data_off + o.data_len <= o.used);
			memcpy(out->data + out->ndata, p + off + o.data_off,
			    o.data_len);
			out->ndata += o.data_len;
			off += o.used;
			if (r == 1) {
				out->used = off;
				CHECK(off >= 5);
				CHECK(memcmp(p + off - 4, "\r\n\r\n", 4) == 0);
				CHECK(sg_http_chunked_feed(&c, p, n, &o) == 1 &&
				    o.used == 0);
				out->r = 1;
				return;
			}
		}
	}
	out->r = 0;
}

static void
same_run(const struct run *a, const struct run *b)
{
	CHECK(a->r == b->r);
	CHECK(a->ndata == b->ndata);
	CHECK(a->used == b->used);
	CHECK(memcmp(a->data, b->data, a->ndata) == 0);
}

static void
fuzz_chunked(const uint8_t *p, size_t n)
{
	struct run a, b;

	if (n == 0)
		return;
	a.data = malloc(n);
	b.data = malloc(n);
	CHECK(a.data != NULL && b.data != NULL);
	chunked_run(p, n, 0, n, &a);
	CHECK(a.ndata <= n);
	chunked_run(p, n, 1, 0, &b);
	same_run(&a, &b);
	chunked_run(p, n, 0, p[0] % n, &b);
	same_run(&a, &b);
	if (n > 300) {
		chunked_run(p, n, 257, 0, &b);
		same_run(&a, &b);
	}
	free(a.data);
	free(b.data);
}

/* Encodes p as chunks of sizes drawn from p itself, decodes, compares. */
static void
fuzz_roundtrip(const uint8_t *p, size_t n)
{
	size_t cap = n * 40 + 64, len = 0, off = 0, k, i = 0;
	uint8_t *enc = malloc(cap);
	struct run a;

	CHECK(enc != NULL);
	while (off < n) {
		k = (size_t)p[i++ % n] % 17 + 1;
		if (k > n - off)
			k = n - off;
		len += (size_t)snprintf((char *)enc + len, cap - len,
		    "%zX%s\r\n", k, (k & 1) ? ";e=\"v\\\"\"" : "");
		memcpy(enc + len, p + off, k);
		len += k;
		memcpy(enc + len, "\r\n", 2);
		len += 2;
		off += k;
	}
	memcpy(enc + len, "0\r\nT: x\r\n\r\n", 11);
	len += 11;
	a.data = malloc(len);
	CHECK(a.data != NULL);
	chunked_run(enc, len, 0, len, &a);
	CHECK(a.r == 1 && a.used == len && a.ndata == n);
	CHECK(n == 0 || memcmp(a.data, p, n) == 0);
	free(a.data);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_head(data, size, SG_HTTP_REQUEST, false);
	fuzz_head(data, size, SG_HTTP_RESPONSE, false);
	fuzz_head(data, size, SG_HTTP_RESPONSE, true);
	fuzz_chunked(data, size);
	if (size <= 4096)
		fuzz_roundtrip(data, size);
	return 0;
}
