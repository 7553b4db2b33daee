/* sg_metrics: the pieces of sandgated's /metrics endpoint that know
 * nothing of the monitor: Prometheus' text format (version 0.0.4) and the
 * one HTTP request the endpoint answers.
 *
 * The endpoint is local (a unix socket by default, or an address the
 * operator chose); its peers are still not trusted: a request is read
 * into a bounded buffer and only "GET /metrics" is served. */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct sg_buf;

/* The longest request head read (request line and fields). */
#define SG_METRICS_HEAD_MAX 4096

/* What sg_metrics_request() found. */
enum sg_metrics_req {
	SG_METRICS_MORE = 0,       /* no end of head yet: read more */
	SG_METRICS_OK = 200,       /* GET /metrics (a query is ignored) */
	SG_METRICS_HEAD_ONLY = 201,/* HEAD /metrics */
	SG_METRICS_BAD = 400,      /* not an HTTP/1.x request line */
	SG_METRICS_NOT_FOUND = 404,/* another path */
	SG_METRICS_METHOD = 405,   /* another method */
	SG_METRICS_TOO_LARGE = 431,/* no end of head in SG_METRICS_HEAD_MAX */
};

/* Looks at the n bytes received so far (p need not be NUL-terminated). */
enum sg_metrics_req sg_metrics_request(const char *p, size_t n);

/* A whole HTTP/1.0 answer for a refusal (status 400, 404, 405, 431) into b:
 * status line, Content-Type text/plain, Content-Length, Connection:
 * close, a one-line body. */
void sg_metrics_put_refusal(struct sg_buf *b, enum sg_metrics_req r);
/* The head of a 200 answer with a body of len bytes. */
void sg_metrics_put_ok_head(struct sg_buf *b, size_t len);

/* A histogram of seconds with fixed buckets (SG_METRICS_BUCKETS). Zeroed
 * memory is an empty histogram. */
#define SG_METRICS_NBUCKETS 12
struct sg_metrics_hist {
	uint64_t count[SG_METRICS_NBUCKETS];	/* per bucket, not cumulative */
	uint64_t n;
	double sum;
};
void sg_metrics_hist_add(struct sg_metrics_hist *h, double seconds);

/* "# HELP name help\n# TYPE name type\n" */
void sg_metrics_put_family(struct sg_buf *b, const char *name,
    const char *type, const char *help);
/* One sample: name{k1="v1",k2="v2"} value. labels is NULL or key, value,
 * ..., NULL; values are escaped as the format says. */
void sg_metrics_put_sample(struct sg_buf *b, const char *name,
    const char *const *labels, double value);
/* A histogram's _bucket, _sum and _count lines (after its family). */
void sg_metrics_put_hist(struct sg_buf *b, const char *name,
    const struct sg_metrics_hist *h);

#endif
