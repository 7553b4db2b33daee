/* The metrics endpoint (mon.h, sandgated(8) METRICS): Prometheus' text
 * format over HTTP at /metrics on [gateway] metrics, a unix socket
 * (root's alone: mode 0700, as the control socket) or an address.
 *
 * Each connection is read into a bounded buffer with a deadline, answered
 * once from the monitor's state and counters (gateway/metrics.h does the
 * format and the request), and closed: no keep-alive, at most
 * MM_MAX_CONNS at once, nothing that can block the monitor's loop. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "gateway/metrics.h"
#include "gateway/mon.h"

#define MM_MAX_CONNS 8
#define MM_DEADLINE_MS 5000
#define MM_BODY_MAX (1 << 20)

struct mconn {
	struct mconn *next;
	int fd;
	char in[SG_METRICS_HEAD_MAX];
	size_t len;
	struct sg_buf *out;		/* the answer, once known */
	size_t off;
	int64_t deadline_ms;
};

/* --- bounded label sets --- */

void
mon_lcount_add(struct mon_lcount *l, const char *raw)
{
	char key[sizeof(l->v[0].key)];
	size_t i;

	/* "agent not ready" -> agent_not_ready */
	for (i = 0; raw[i] != '\0' && i < sizeof(key) - 1; i++)
		key[i] = raw[i] == ' ' ? '_' : raw[i];
	key[i] = '\0';
	if (raw[i] != '\0') {
		l->other++;
		return;
	}
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0) {
			l->v[i].n++;
			return;
		}
	/* only short [a-z_] keys become labels: the rest, and any past
	 * the table's size, count as "other" */
	for (i = 0; key[i] != '\0'; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') || key[i] == '_'))
			break;
	if (key[i] != '\0' || i == 0 || i >= sizeof(l->v[0].key) ||
	    l->n == MON_LCOUNT_MAX) {
		l->other++;
		return;
	}
	memcpy(l->v[l->n].key, key, i + 1);
	l->v[l->n].n = 1;
	l->n++;
}

static void
put_lcount(struct sg_buf *b, const char *name, const char *label,
    const struct mon_lcount *l)
{
	const char *lab[] = { label, NULL, NULL };
	size_t i;

	for (i = 0; i < l->n; i++) {
		lab[1] = l->v[i].key;
		sg_metrics_put_sample(b, name, lab, (double)l->v[i].n);
	}
	if (l->other > 0) {
		lab[1] = "other";
		sg_metrics_put_sample(b, name, lab, (double)l->other);
	}
}

/* --- the listener --- */

static int
open_inet(const char *spec, int *ret_fd)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char host[64];
	const char *colon = strrchr(spec, ':');
	uint64_t port;
	socklen_t len;
	int fd, one = 1, v6 = spec[0] == '[', r;
	size_t hl;

	if (colon == NULL)
		return -EINVAL;
	hl = (size_t)(colon - spec) - 2 * (size_t)v6;
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec + v6, hl);
	host[hl] = '\0';
	if (sg_util_parse_uint(colon + 1, 1, 65535, &port) < 0)
		return -EINVAL;
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
		len = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int
mon_metrics_open(struct mon *m)
{
	const char *spec = m->cfg->metrics;
	char dir[4096];
	int r;

	m->metrics_fd = -1;
	if (spec == NULL || strcmp(spec, "off") == 0)
		return 0;
	if (spec[0] == '/') {
		if (sg_util_parent_dir(spec, dir, sizeof(dir)) == 0)
			(void)mkdir(dir, 0755);
		r = mon_unix_listen(spec, 16, &m->metrics_fd);
	} else {
		r = open_inet(spec, &m->metrics_fd);
	}
	if (r < 0) {
		sg_err("cannot serve metrics on %s: %s (check [gateway] metrics, "
		    "or set it to off)", spec, strerror(-r));
		return r;
	}
	sg_info("metrics at http://localhost/metrics on %s", spec);
	return 0;
}

static void
mconn_free(struct mon *m, struct mconn *c)
{
	struct mconn **pp;

	for (pp = &m->mconns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	close(c->fd);
	sg_buf_free(c->out);
	free(c);
	m->nmconns--;
}

void
mon_metrics_close(struct mon *m)
{
	while (m->mconns != NULL)
		mconn_free(m, m->mconns);
	if (m->metrics_fd >= 0) {
		close(m->metrics_fd);
		if (m->cfg->metrics != NULL && m->cfg->metrics[0] == '/')
			unlink(m->cfg->metrics);
	}
	m->metrics_fd = -1;
}

void
mon_metrics_accept(struct mon *m)
{
	struct mconn *c;
	int fd;

	while ((fd = accept4(m->metrics_fd, NULL, NULL,
	    SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		if (m->nmconns >= MM_MAX_CONNS) {
			close(fd);	/* a scraper retries */
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->deadline_ms = sg_mono_ms() + MM_DEADLINE_MS;
		c->next = m->mconns;
		m->mconns = c;
		m->nmconns++;
	}
}

/* --- the answer --- */

static void
put_sandboxes(struct mon *m, struct sg_buf *b)
{
	struct { const char *state, *image; unsigned n; } seen[64];
	const char *lab[] = { "state", NULL, "image", NULL, NULL };
	size_t ns = 0, i;
	struct sbx *s;

	sg_metrics_put_family(b, "sandgate_sandboxes", "gauge",
	    "Sandboxes by state and image.");
	for (s = m->sbxs; s != NULL; s = s->next) {
		const char *st = mon_sbx_state_name(s);

		for (i = 0; i < ns; i++)
			if (strcmp(seen[i].state, st) == 0 &&
			    strcmp(seen[i].image, s->image) == 0)
				break;
		if (i == ns) {
			if (ns == sizeof(seen) / sizeof(seen[0]))
				continue;
			seen[ns].state = st;
			seen[ns].image = s->image;
			seen[ns].n = 0;
			ns++;
		}
		seen[i].n++;
	}
	for (i = 0; i < ns; i++) {
		lab[1] = seen[i].state;
		lab[3] = seen[i].image;
		sg_metrics_put_sample(b, "sandgate_sandboxes", lab, seen[i].n);
	}
}

/* The warm pool: its members, and where starts of its shape came from. */
static void
put_pool(struct mon *m, struct sg_buf *b)
{
	const struct mon_stats *st = &m->stats;
	const char *lab[] = { NULL, NULL, NULL, NULL, NULL };
	const char *images[SG_POOLSPEC_IMAGES];
	unsigned booting, ready;
	size_t ni, i;

	ni = mon_pool_images(m, images, SG_POOLSPEC_IMAGES);
	sg_metrics_put_family(b, "sandgate_pool_target", "gauge",
	    "Members the warm pool keeps ([sandbox] warm_pool), by image.");
	lab[0] = "image";
	for (i = 0; i < ni; i++) {
		lab[1] = images[i];
		sg_metrics_put_sample(b, "sandgate_pool_target", lab,
		    (double)mon_pool_target(m, images[i]));
	}
	sg_metrics_put_family(b, "sandgate_pool_members", "gauge",
	    "Warm pool members by image: booting (or being paused), or "
	    "ready (paused).");
	lab[2] = "state";
	for (i = 0; i < ni; i++) {
		mon_pool_count(m, images[i], &booting, &ready);
		lab[1] = images[i];
		lab[3] = "booting";
		sg_metrics_put_sample(b, "sandgate_pool_members", lab, booting);
		lab[3] = "ready";
		sg_metrics_put_sample(b, "sandgate_pool_members", lab, ready);
	}
	lab[2] = NULL;
	sg_metrics_put_family(b, "sandgate_pool_starts_total", "counter",
	    "Starts of the pool's shape, while it is on: from a member "
	    "(pool), or booted because none was ready (cold).");
	lab[0] = "from";
	lab[1] = "pool";
	sg_metrics_put_sample(b, "sandgate_pool_starts_total", lab,
	    (double)st->pool_claimed);
	lab[1] = "cold";
	sg_metrics_put_sample(b, "sandgate_pool_starts_total", lab,
	    (double)st->pool_missed);
	sg_metrics_put_family(b, "sandgate_pool_boots_total", "counter",
	    "Warm pool members booted: ready, or failed (before they were "
	    "ready, or found dead or unusable when a start claimed them).");
	lab[0] = "result";
	lab[1] = "ready";
	sg_metrics_put_sample(b, "sandgate_pool_boots_total", lab,
	    (double)st->pool_booted);
	lab[1] = "failed";
	sg_metrics_put_sample(b, "sandgate_pool_boots_total", lab,
	    (double)st->pool_failed);
}

static void
put_connections(struct mon *m, struct sg_buf *b)
{
	const char *lab[] = { "phase", NULL, NULL };
	unsigned pre = 0, auth = 0;
	struct mworker *w;

	for (w = m->workers; w != NULL; w = w->next) {
		if (w->state == W_PREAUTH)
			pre++;
		else
			auth++;
	}
	sg_metrics_put_family(b, "sandgate_connections", "gauge",
	    "SSH connections by phase.");
	lab[1] = "preauth";
	sg_metrics_put_sample(b, "sandgate_connections", lab, pre);
	lab[1] = "authenticated";
	sg_metrics_put_sample(b, "sandgate_connections", lab, auth);
}

static void
put_counter(struct sg_buf *b, const char *name, const char *help,
    uint64_t v)
{
	sg_metrics_put_family(b, name, "counter", help);
	sg_metrics_put_sample(b, name, NULL, (double)v);
}

static void
put_drops(struct mon *m, struct sg_buf *b)
{
	const char *lab[] = { "reason", NULL, NULL };
	const char *const *reasons = sg_net_drop_reasons();
	uint64_t pk, by;
	size_t i;

	if (m->net == NULL)
		return;
	sg_metrics_put_family(b, "sandgate_packets_dropped_total", "counter",
	    "Packets from sandboxes that their network policy dropped, by "
	    "reason (nftables counters: they outlive sandgated).");
	for (i = 0; reasons[i] != NULL; i++) {
		if (sg_net_reason_counters(m->net, reasons[i], &pk, &by) < 0)
			continue;
		lab[1] = reasons[i];
		sg_metrics_put_sample(b, "sandgate_packets_dropped_total", lab,
		    (double)pk);
	}
}

static void
render(struct mon *m, struct sg_buf *b)
{
	const struct mon_stats *st = &m->stats;
	const char *lab[] = { "stage", NULL, "version", PACKAGE_VERSION, NULL };

	sg_metrics_put_family(b, "sandgate_build_info", "gauge",
	    "sandgated's version.");
	sg_metrics_put_sample(b, "sandgate_build_info", lab + 2, 1);
	sg_metrics_put_family(b, "sandgate_start_time_seconds", "gauge",
	    "When this sandgated started (Unix seconds).");
	sg_metrics_put_sample(b, "sandgate_start_time_seconds", NULL,
	    (double)m->started);
	put_sandboxes(m, b);
	put_counter(b, "sandgate_sandbox_starts_total", "Sandboxes this "
	    "sandgated began to make.", st->starts);
	sg_metrics_put_family(b, "sandgate_sandbox_start_failures_total",
	    "counter", "Starts that failed: making the VM (create) or before "
	    "its agent answered (boot).");
	lab[1] = "create";
	lab[2] = NULL;
	sg_metrics_put_sample(b, "sandgate_sandbox_start_failures_total", lab,
	    (double)st->start_fail_create);
	lab[1] = "boot";
	sg_metrics_put_sample(b, "sandgate_sandbox_start_failures_total", lab,
	    (double)st->start_fail_boot);
	sg_metrics_put_family(b, "sandgate_sandbox_start_seconds", "histogram",
	    "Time from a sandbox's creation to its agent's first answer.");
	sg_metrics_put_hist(b, "sandgate_sandbox_start_seconds",
	    &st->start_hist);
	sg_metrics_put_family(b, "sandgate_sandboxes_destroyed_total",
	    "counter", "Sandboxes destroyed, by reason.");
	put_lcount(b, "sandgate_sandboxes_destroyed_total", "reason",
	    &st->destroyed);
	put_counter(b, "sandgate_sandbox_hibernations_total", "Sandboxes "
	    "saved to disk with their memory.", st->hibernated);
	sg_metrics_put_family(b, "sandgate_sandbox_resumes_total", "counter",
	    "Hibernated sandboxes resumed: with their memory (restored), or "
	    "booted from their disk when it could not be (lost).");
	lab[0] = "memory";
	lab[1] = "restored";
	lab[2] = NULL;
	sg_metrics_put_sample(b, "sandgate_sandbox_resumes_total", lab,
	    (double)(st->resumed - st->resumed_cold));
	lab[1] = "lost";
	sg_metrics_put_sample(b, "sandgate_sandbox_resumes_total", lab,
	    (double)st->resumed_cold);
	put_pool(m, b);
	put_connections(m, b);
	put_counter(b, "sandgate_logins_total", "Successful logins.",
	    st->logins);
	put_counter(b, "sandgate_auth_failures_total", "Failed "
	    "authentication attempts (wrong token or key).", st->auth_fails);
	put_counter(b, "sandgate_preauth_refused_total", "Connections refused "
	    "before authentication (max_startups, per source limits).",
	    st->preauth_refused);
	sg_metrics_put_family(b, "sandgate_proxy_requests_total", "counter",
	    "Requests through the secrets proxy, by decision.");
	put_lcount(b, "sandgate_proxy_requests_total", "decision",
	    &st->px_decisions);
	put_counter(b, "sandgate_secret_substitutions_total", "Placeholders "
	    "replaced by their value toward an approved host.",
	    st->secret_subst);
	put_counter(b, "sandgate_secret_alerts_total", "Placeholders sent "
	    "where they may not go (refused).", st->secret_alerts);
	put_counter(b, "sandgate_secret_redactions_total", "Answers that "
	    "carried a secret's value back (replaced by its placeholder).",
	    st->secret_redacted);
	put_counter(b, "sandgate_dns_refused_total", "DNS queries refused "
	    "(names off the allowlist).", st->dns_refused);
	put_counter(b, "sandgate_dns_blocked_total", "DNS answers not let "
	    "through.", st->dns_blocked);
	sg_metrics_put_family(b, "sandgate_proxy_up", "gauge",
	    "1 while the secrets proxy is ready.");
	sg_metrics_put_sample(b, "sandgate_proxy_up", NULL, m->px_ready);
	put_drops(m, b);
}

static void
answer(struct mon *m, struct mconn *c, enum sg_metrics_req r)
{
	struct sg_buf *body = NULL;

	c->out = sg_buf_new(MM_BODY_MAX + 512);
	if (c->out == NULL)
		return;
	if (r != SG_METRICS_OK && r != SG_METRICS_HEAD_ONLY) {
		sg_metrics_put_refusal(c->out, r);
		return;
	}
	body = sg_buf_new(MM_BODY_MAX);
	if (body == NULL) {
		sg_buf_free(c->out);
		c->out = NULL;
		return;
	}
	render(m, body);
	sg_metrics_put_ok_head(c->out, sg_buf_len(body));
	if (r == SG_METRICS_OK)
		sg_buf_put(c->out, sg_buf_data(body), sg_buf_len(body));
	sg_buf_free(body);
}

void
mon_metrics_io(struct mon *m, struct mconn *c, short rev)
{
	enum sg_metrics_req r;
	ssize_t n;

	if (c->out == NULL && (rev & (POLLIN | POLLHUP | POLLERR))) {
		n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			mconn_free(m, c);
			return;
		}
		c->len += (size_t)n;
		r = sg_metrics_request(c->in, c->len);
		if (r == SG_METRICS_MORE)
			return;
		answer(m, c, r);
		if (c->out == NULL) {
			mconn_free(m, c);
			return;
		}
	}
	if (c->out != NULL) {
		n = write(c->fd, sg_buf_data(c->out) + c->off,
		    sg_buf_len(c->out) - c->off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0 || (c->off += (size_t)n) == sg_buf_len(c->out))
			mconn_free(m, c);
	}
}

short
mon_metrics_events(const struct mconn *c)
{
	return c->out != NULL ? POLLOUT : POLLIN;
}

int
mon_metrics_fd(const struct mconn *c)
{
	return c->fd;
}

struct mconn *
mon_metrics_next(const struct mconn *c)
{
	return c->next;
}

int64_t
mon_metrics_timers(struct mon *m)
{
	int64_t now = sg_mono_ms(), next = 60000;
	struct mconn *c, *cn;

	for (c = m->mconns; c != NULL; c = cn) {
		cn = c->next;
		if (now >= c->deadline_ms)
			mconn_free(m, c);	/* slow or silent */
		else if (c->deadline_ms - now < next)
			next = c->deadline_ms - now;
	}
	return next;
}
