/* Unit tests of gateway/metrics.c: the request the metrics endpoint
 * answers, refusals, the text format and the histogram. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "gateway/metrics.h"

static enum sg_metrics_req
req(const char *s)
{
	return sg_metrics_request(s, strlen(s));
}

static void
test_request(void **state)
{
	char big[SG_METRICS_HEAD_MAX + 1];

	(void)state;
	assert_int_equal(req("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), SG_METRICS_OK);
	assert_int_equal(req("GET /metrics?name[]=x HTTP/1.0\r\n\r\n"), SG_METRICS_OK);
	assert_int_equal(req("GET /metrics HTTP/1.1\n\n"), SG_METRICS_OK);
	assert_int_equal(req("HEAD /metrics HTTP/1.1\r\n\r\n"), SG_METRICS_HEAD_ONLY);
	/* not yet a whole head */
	assert_int_equal(req(""), SG_METRICS_MORE);
	assert_int_equal(req("GET /metrics HTTP/1.1\r\nHost: x\r\n"), SG_METRICS_MORE);
	assert_int_equal(req("GET /metrics HTTP/1.1\r\n\r"), SG_METRICS_MORE);
	/* other paths, methods, versions, shapes */
	assert_int_equal(req("GET /metricsx HTTP/1.1\r\n\r\n"), SG_METRICS_NOT_FOUND);
	assert_int_equal(req("GET / HTTP/1.1\r\n\r\n"), SG_METRICS_NOT_FOUND);
	assert_int_equal(req("GET /metrics/ HTTP/1.1\r\n\r\n"), SG_METRICS_NOT_FOUND);
	assert_int_equal(req("POST /metrics HTTP/1.1\r\n\r\n"), SG_METRICS_METHOD);
	assert_int_equal(req("get /metrics HTTP/1.1\r\n\r\n"), SG_METRICS_METHOD);
	assert_int_equal(req("GET /metrics HTTP/2.0\r\n\r\n"), SG_METRICS_BAD);
	assert_int_equal(req("GET * HTTP/1.1\r\n\r\n"), SG_METRICS_BAD);
	assert_int_equal(req("GET  /metrics HTTP/1.1\r\n\r\n"), SG_METRICS_BAD);
	assert_int_equal(req("GET /metrics\r\n\r\n"), SG_METRICS_BAD);
	assert_int_equal(req("\r\n\r\n"), SG_METRICS_BAD);
	assert_int_equal(req("GET /metrics HTTP/1.1 extra\r\n\r\n"), SG_METRICS_BAD);
	/* no end of head in the limit */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sg_metrics_request(big, SG_METRICS_HEAD_MAX - 1), SG_METRICS_MORE);
	assert_int_equal(sg_metrics_request(big, SG_METRICS_HEAD_MAX), SG_METRICS_TOO_LARGE);
}

static void
test_refusals(void **state)
{
	static const enum sg_metrics_req rs[] = {
		SG_METRICS_BAD, SG_METRICS_NOT_FOUND, SG_METRICS_METHOD,
		SG_METRICS_TOO_LARGE,
	};
	static const char *const lines[] = {
		"HTTP/1.0 400 Bad Request\r\n", "HTTP/1.0 404 Not Found\r\n",
		"HTTP/1.0 405 Method Not Allowed\r\n",
		"HTTP/1.0 431 Request Header Fields Too Large\r\n",
	};
	struct sg_buf *b = sg_buf_new(4096);
	char text[1024], *body;
	size_t i, len;

	(void)state;
	for (i = 0; i < 4; i++) {
		sg_buf_reset(b);
		sg_metrics_put_refusal(b, rs[i]);
		len = sg_buf_len(b);
		memcpy(text, sg_buf_data(b), len);
		text[len] = '\0';
		assert_memory_equal(text, lines[i], strlen(lines[i]));
		body = strstr(text, "\r\n\r\n");
		assert_non_null(body);
		body += 4;
		/* Content-Length says the body's size */
		{
			char want[64];

			snprintf(want, sizeof(want), "Content-Length: %zu\r\n",
			    strlen(body));
			assert_non_null(strstr(text, want));
		}
	}
	sg_buf_free(b);
}

static void
test_text(void **state)
{
	struct sg_buf *b = sg_buf_new(4096);
	const char *lab[] = { "reason", "a\"b\\c\nd", "x", "y", NULL };
	const char *want =
	    "# HELP sandgate_x_total Things.\n"
	    "# TYPE sandgate_x_total counter\n"
	    "sandgate_x_total 3\n"
	    "sandgate_x_total{reason=\"a\\\"b\\\\c\\nd\",x=\"y\"} 1.5\n";

	(void)state;
	sg_metrics_put_family(b, "sandgate_x_total", "counter", "Things.");
	sg_metrics_put_sample(b, "sandgate_x_total", NULL, 3);
	sg_metrics_put_sample(b, "sandgate_x_total", lab, 1.5);
	assert_int_equal(sg_buf_len(b), strlen(want));
	assert_memory_equal(sg_buf_data(b), want, strlen(want));
	sg_buf_free(b);
}

static void
test_hist(void **state)
{
	struct sg_metrics_hist h;
	struct sg_buf *b = sg_buf_new(8192);
	char text[8192];
	size_t len;

	(void)state;
	memset(&h, 0, sizeof(h));
	sg_metrics_hist_add(&h, 0.1);	/* <= 0.25 */
	sg_metrics_hist_add(&h, 4);	/* <= 5 */
	sg_metrics_hist_add(&h, 5);	/* <= 5 */
	sg_metrics_hist_add(&h, 600);	/* +Inf */
	sg_metrics_hist_add(&h, -1);	/* a clock step: 0 */
	sg_metrics_put_hist(b, "s", &h);
	len = sg_buf_len(b);
	memcpy(text, sg_buf_data(b), len);
	text[len] = '\0';
	assert_non_null(strstr(text, "s_bucket{le=\"0.25\"} 2\n"));
	assert_non_null(strstr(text, "s_bucket{le=\"3\"} 2\n"));
	assert_non_null(strstr(text, "s_bucket{le=\"5\"} 4\n"));
	assert_non_null(strstr(text, "s_bucket{le=\"60\"} 4\n"));
	assert_non_null(strstr(text, "s_bucket{le=\"+Inf\"} 5\n"));
	assert_non_null(strstr(text, "s_sum 609.1\n"));
	assert_non_null(strstr(text, "s_count 5\n"));
	sg_buf_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_hist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
