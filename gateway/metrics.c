/* sg_metrics: see metrics.h. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "gateway/metrics.h"

/* Upper bounds of the start-time buckets, in seconds: a start under
 * KVM takes under a second, under TCG several. */
static const double bounds[SG_METRICS_NBUCKETS - 1] = {
	0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60,
};

/* The end of the head ("\r\n\r\n", or "\n\n" from a lax client), or
 * NULL. */
static const char *
head_end(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (p[i] == '\n' && p[i + 1] == '\n')
			return p + i;
		if (i + 3 < n && memcmp(p + i, "\r\n\r\n", 4) == 0)
			return p + i;
	}
	return NULL;
}

enum sg_metrics_req
sg_metrics_request(const char *p, size_t n)
{
	const char *end, *sp1, *sp2, *eol;
	size_t mlen, plen, vlen;
	int get, head;

	end = head_end(p, n);
	if (end == NULL)
		return n >= SG_METRICS_HEAD_MAX ? SG_METRICS_TOO_LARGE :
		    SG_METRICS_MORE;
	/* end is where the blank line's terminator starts: the request
	 * line's own '\n' is at most one byte past it */
	eol = memchr(p, '\n', (size_t)(end - p) + 2);
	if (eol == NULL)
		return SG_METRICS_BAD;
	if (eol > p && eol[-1] == '\r')
		eol--;
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (sp1 == NULL)
		return SG_METRICS_BAD;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (sp2 == NULL)
		return SG_METRICS_BAD;
	mlen = (size_t)(sp1 - p);
	plen = (size_t)(sp2 - sp1 - 1);
	vlen = (size_t)(eol - sp2 - 1);
	if (vlen != 8 || (memcmp(sp2 + 1, "HTTP/1.0", 8) != 0 &&
	    memcmp(sp2 + 1, "HTTP/1.1", 8) != 0))
		return SG_METRICS_BAD;
	if (mlen == 0 || plen == 0 || sp1[1] != '/')
		return SG_METRICS_BAD;
	get = mlen == 3 && memcmp(p, "GET", 3) == 0;
	head = mlen == 4 && memcmp(p, "HEAD", 4) == 0;
	if (!get && !head)
		return SG_METRICS_METHOD;
	if ((plen == 8 || (plen > 8 && sp1[9] == '?')) &&
	    memcmp(sp1 + 1, "/metrics", 8) == 0)
		return head ? SG_METRICS_HEAD_ONLY : SG_METRICS_OK;
	return SG_METRICS_NOT_FOUND;
}

void
sg_metrics_put_refusal(struct sg_buf *b, enum sg_metrics_req r)
{
	const char *status, *body;

	switch (r) {
	case SG_METRICS_NOT_FOUND:
		status = "404 Not Found";
		body = "not found: sandgated serves /metrics only\n";
		break;
	case SG_METRICS_METHOD:
		status = "405 Method Not Allowed";
		body = "method not allowed: use GET /metrics\n";
		break;
	case SG_METRICS_TOO_LARGE:
		status = "431 Request Header Fields Too Large";
		body = "the request head is too large\n";
		break;
	default:
		status = "400 Bad Request";
		body = "bad request: expected GET /metrics HTTP/1.1\n";
		break;
	}
	sg_buf_putf(b, "HTTP/1.0 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n%s", status,
	    strlen(body), r == SG_METRICS_METHOD ? "Allow: GET, HEAD\r\n" : "",
	    body);
}

void
sg_metrics_put_ok_head(struct sg_buf *b, size_t len)
{
	sg_buf_putf(b, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n\r\n", len);
}

void
sg_metrics_hist_add(struct sg_metrics_hist *h, double seconds)
{
	size_t i;

	if (!(seconds >= 0))
		seconds = 0;
	for (i = 0; i < SG_METRICS_NBUCKETS - 1; i++)
		if (seconds <= bounds[i])
			break;
	h->count[i]++;
	h->n++;
	h->sum += seconds;
}

void
sg_metrics_put_family(struct sg_buf *b, const char *name, const char *type,
    const char *help)
{
	sg_buf_putf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the format wants it: \\, \" and \n escaped. */
static void
put_label_value(struct sg_buf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			sg_buf_putf(b, "\\%c", *v);
		else if (*v == '\n')
			sg_buf_putf(b, "\\n");
		else
			sg_buf_put(b, v, 1);
	}
}

static void
put_value(struct sg_buf *b, double v)
{
	if (isinf(v))
		sg_buf_putf(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		sg_buf_putf(b, "%.0f", v);
	else
		sg_buf_putf(b, "%.6g", v);
}

void
sg_metrics_put_sample(struct sg_buf *b, const char *name,
    const char *const *labels, double value)
{
	size_t i;

	sg_buf_putf(b, "%s", name);
	if (labels != NULL && labels[0] != NULL) {
		sg_buf_put(b, "{", 1);
		for (i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
			sg_buf_putf(b, "%s%s=\"", i ? "," : "", labels[i]);
			put_label_value(b, labels[i + 1]);
			sg_buf_put(b, "\"", 1);
		}
		sg_buf_put(b, "}", 1);
	}
	sg_buf_put(b, " ", 1);
	put_value(b, value);
	sg_buf_put(b, "\n", 1);
}

void
sg_metrics_put_hist(struct sg_buf *b, const char *name,
    const struct sg_metrics_hist *h)
{
	char n[128], le[32];
	const char *labels[] = { "le", le, NULL };
	uint64_t cum = 0;
	size_t i;

	snprintf(n, sizeof(n), "%s_bucket", name);
	for (i = 0; i < SG_METRICS_NBUCKETS; i++) {
		cum += h->count[i];
		if (i < SG_METRICS_NBUCKETS - 1)
			snprintf(le, sizeof(le), "%g", bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		sg_metrics_put_sample(b, n, labels, (double)cum);
	}
	snprintf(n, sizeof(n), "%s_sum", name);
	sg_metrics_put_sample(b, n, NULL, h->sum);
	snprintf(n, sizeof(n), "%s_count", name);
	sg_metrics_put_sample(b, n, NULL, (double)h->n);
}
