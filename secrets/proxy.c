/* sandgate-proxy: the transparent HTTP/HTTPS proxy of sandgate.
 *
 * sandgated starts it as [proxy] user with descriptor 3 listening on
 * [proxy] port (nftables redirects every sandbox's TCP 80 and 443 there)
 * and descriptor 4 the policy feed (pxfeed.h). This file is the process:
 * the feed, the tables of sandboxes and secrets, the CA and the TLS
 * contexts. The connection module (pxconn.h) handles each connection. It is the one process that
 * holds secret values and the CA key. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/confine.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/allow.h"
#include "secrets/ca.h"
#include "secrets/proxy.h"
#include "secrets/redact.h"

#define PX_LISTEN_FD	3
#define PX_FEED_FD	4
#define PX_RDV_FD	5	/* optional: where a new monitor finds us */
#define PX_LEAF_CACHE	4096

struct px {
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *sctx;		/* toward guests: leaves set per connection */
	struct sp_ca *ca;
	struct sp_ca_cache *cache;
	struct px_up *up;	/* the upstream side (pxup.c) */
	struct sg_feed_config cfg;
	int have_cfg;
	int started;		/* START came: the listener is on */
	struct px_sbx *sbxs;
	struct px_secret *sec;	/* the table in force */
	size_t nsec;
	struct px_secret *prev;	/* the one before: its values may still be
				 * in answers to requests made with them */
	size_t nprev;
	struct px_secret *nsec_new;	/* being received: TOKENS_BEGIN..END */
	size_t nnew;
	unsigned secrets_gen;	/* counts the swaps of the table */
	int receiving;
	int feed_fd;		/* -1 between monitors */
	struct event *feed_ev;
	int rdv_fd;		/* -1: none (the proxy ends with its feed) */
	struct event *rdv_ev;
	int resync;		/* RESYNC came: START drops stale sandboxes */
	struct evconnlistener *lis;
	struct sg_buf *msg;
	unsigned long audit_dropped;
	int failed;		/* a feed error: exit status 1 */
};

struct event_base *px_base(struct px *px) { return px->base; }
struct evdns_base *px_dns(struct px *px) { return px->dns; }
SSL_CTX *px_guest_ctx(struct px *px) { return px->sctx; }
struct sp_ca_cache *px_leaves(struct px *px) { return px->cache; }
struct px_up *px_up(struct px *px) { return px->up; }
const struct sg_feed_config *px_cfg(const struct px *px) { return &px->cfg; }

static void
secret_clear(struct px_secret *s)
{
	free(s->token);
	free(s->name);
	if (s->value != NULL) {
		explicit_bzero(s->value, s->value_len);
		free(s->value);
	}
	sg_allow_free(s->hosts);
	memset(s, 0, sizeof(*s));
}

static void
secrets_free(struct px_secret *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		secret_clear(&v[i]);
	free(v);
}

/* The secret NAME of token TOKEN in table v[0..n), or NULL. */
static const struct px_secret *
secret_in(const struct px_secret *v, size_t n, const char *token,
    const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].token, token) == 0 && strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

const struct px_secret *
px_secret_find(const struct px *px, const char *token, const char *name)
{
	return secret_in(px->sec, px->nsec, token, name);
}

/* Whether sec's value is one of v[0..n) already. */
static int
same_value(const struct sp_redact_value *v, size_t n,
    const struct px_secret *sec)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].value_len == sec->value_len &&
		    memcmp(v[i].value, sec->value, sec->value_len) == 0)
			return 1;
	return 0;
}

/* Splits "a, b,c" into a new array of new strings. */
static int
split_list(const char *s, char ***ret, size_t *ret_n)
{
	char **v = NULL, **nv;
	size_t n = 0, len;
	const char *e;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		e = s;
		while (*e != '\0' && *e != ',')
			e++;
		len = (size_t)(e - s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (nv == NULL)
			goto fail;
		v = nv;
		v[n] = strndup(s, len);
		if (v[n] == NULL)
			goto fail;
		n++;
		s = e;
	}
	*ret = v;
	*ret_n = n;
	return 0;
fail:
	while (n > 0)
		free(v[--n]);
	free(v);
	return -ENOMEM;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

static int
parse_in(const char *s, unsigned *ret)
{
	char **v = NULL;
	size_t n = 0, i;
	unsigned in = 0;
	int r;

	if (s[0] == '\0') {
		*ret = PX_IN_HEADER;
		return 0;
	}
	if ((r = split_list(s, &v, &n)) < 0)
		return r;
	for (i = 0; i < n; i++) {
		if (strcmp(v[i], "header") == 0)
			in |= PX_IN_HEADER;
		else if (strcmp(v[i], "query") == 0)
			in |= PX_IN_QUERY;
		else if (strcmp(v[i], "body") == 0)
			in |= PX_IN_BODY;
		else
			r = -EINVAL;
	}
	strv_free(v, n);
	*ret = in;
	return r;
}

static int
feed_secret(struct px *px, const uint8_t *p, size_t n)
{
	struct sg_feed_secret fs;
	struct px_secret *ns, *s;
	char **hosts = NULL, *err = NULL;
	const char *why = NULL;
	size_t nhosts = 0;
	int r;

	if (!px->receiving)
		return -EPROTO;
	if ((r = sg_feed_get_secret(p, n, &fs)) < 0)
		return r;
	ns = realloc(px->nsec_new, (px->nnew + 1) * sizeof(*ns));
	if (ns == NULL) {
		sg_feed_secret_clear(&fs);
		return -ENOMEM;
	}
	px->nsec_new = ns;
	s = &ns[px->nnew];
	memset(s, 0, sizeof(*s));
	s->token = fs.token;
	s->name = fs.name;
	fs.token = fs.name = NULL;
	s->has_value = fs.has_value;
	if (fs.has_value) {
		s->value = fs.value;
		s->value_len = fs.value_len;
		fs.value = NULL;
	}
	s->allow_http = fs.allow_http;
	px->nnew++;
	if (s->has_value && !sg_secret_value_ok(s->value, s->value_len, &why)) {
		sg_err("token %s: secret %s: its value is %s: requests carrying "
		    "its placeholder are refused", s->token, s->name, why);
		explicit_bzero(s->value, s->value_len);
		free(s->value);
		s->value = NULL;
		s->value_len = 0;
		s->has_value = 0;
	}
	r = parse_in(fs.in, &s->in);
	if (r == 0)
		r = split_list(fs.hosts, &hosts, &nhosts);
	if (r == 0)
		r = sg_allow_parse((const char *const *)hosts, nhosts,
		    &s->hosts, &err);
	if (r < 0 && r != -ENOMEM) {
		/* one bad secret is unusable; the others, and the proxy, go on */
		sg_err("token %s: secret %s: %s: requests carrying its "
		    "placeholder are refused", s->token, s->name,
		    err ? err : "secret.NAME.in takes header, query, body");
		sg_allow_free(s->hosts);
		s->hosts = NULL;
		r = 0;
	}
	free(err);
	strv_free(hosts, nhosts);
	sg_feed_secret_clear(&fs);
	return r;
}

static void
sbx_free(struct px_sbx *s)
{
	size_t i;

	sp_redact_set_unref(s->rset);
	free(s->id);
	free(s->token);
	sg_allow_free(s->allow);
	for (i = 0; i < s->nph; i++) {
		free(s->ph_name[i]);
		free(s->ph_value[i]);
	}
	free(s->ph_name);
	free(s->ph_value);
	free(s);
}

void
px_sbx_unref(struct px *px, struct px_sbx *s)
{
	struct px_sbx **pp;

	(void)px;
	if (--s->refs > 0)
		return;
	for (pp = &px->sbxs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	sbx_free(s);
}

int
px_sbx_redact_set(struct px *px, struct px_sbx *s,
    struct sp_redact_set **ret)
{
	struct sp_redact_value v[SP_REDACT_MAX];
	const struct px_secret *sec;
	size_t i, n = 0, t;
	int r;

	if (s->rset_ok && s->rset_gen == px->secrets_gen) {
		*ret = s->rset;
		return 0;
	}
	sp_redact_set_unref(s->rset);
	s->rset = NULL;
	s->rset_ok = 0;
	/* the values in force, and those of the table before the last
	 * reload: a request sent with an old value may be answered after
	 * the reload, and an upstream may echo later what it stored; a
	 * value keeps its secret's placeholder */
	for (t = 0; t < 2; t++)
		for (i = 0; i < s->nph && n < SP_REDACT_MAX; i++) {
			sec = secret_in(t == 0 ? px->sec : px->prev,
			    t == 0 ? px->nsec : px->nprev, s->token,
			    s->ph_name[i]);
			if (sec == NULL || !sec->has_value ||
			    (t == 1 && same_value(v, n, sec)))
				continue;
			v[n].value = sec->value;
			v[n].value_len = sec->value_len;
			v[n].placeholder = s->ph_value[i];
			v[n].placeholder_len = strlen(s->ph_value[i]);
			n++;
		}
	if (n > 0 && (r = sp_redact_set_new(v, n, &s->rset)) < 0)
		return r;
	s->rset_ok = 1;
	s->rset_gen = px->secrets_gen;
	*ret = s->rset;
	return 0;
}

struct px_sbx *
px_sbx_find(struct px *px, uint32_t addr)
{
	struct px_sbx *s;

	for (s = px->sbxs; s != NULL; s = s->next)
		if (!s->gone && s->addr == addr) {
			s->refs++;
			return s;
		}
	return NULL;
}

/* Takes sandbox id out of the table: it is freed with its last
 * connection. */
static void
sbx_drop(struct px *px, const char *id)
{
	struct px_sbx *s;

	for (s = px->sbxs; s != NULL; s = s->next)
		if (!s->gone && strcmp(s->id, id) == 0) {
			s->gone = 1;
			px_sbx_unref(px, s);
			return;
		}
}

static int
feed_sandbox(struct px *px, const uint8_t *p, size_t n)
{
	struct sg_feed_sandbox fs;
	struct px_sbx *s;
	char *err = NULL;
	size_t i;
	int r;

	if ((r = sg_feed_get_sandbox(p, n, &fs)) < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		sg_feed_sandbox_clear(&fs);
		return -ENOMEM;
	}
	r = sg_allow_parse((const char *const *)fs.allow, fs.nallow,
	    &s->allow, &err);
	if (r < 0) {
		sg_err("sandbox %s: %s", fs.id, err ? err : strerror(-r));
		free(err);
		free(s);
		sg_feed_sandbox_clear(&fs);
		return r;
	}
	s->ph_name = calloc(fs.nph + 1, sizeof(char *));
	s->ph_value = calloc(fs.nph + 1, sizeof(char *));
	if (s->ph_name == NULL || s->ph_value == NULL) {
		sg_allow_free(s->allow);
		free(s->ph_name);
		free(s->ph_value);
		free(s);
		sg_feed_sandbox_clear(&fs);
		return -ENOMEM;
	}
	for (i = 0; i < fs.nph; i++) {
		s->ph_name[i] = fs.ph[i].name;
		s->ph_value[i] = fs.ph[i].value;
		fs.ph[i].name = fs.ph[i].value = NULL;
	}
	s->nph = fs.nph;
	s->id = fs.id;
	s->token = fs.token;
	fs.id = fs.token = NULL;
	s->addr = fs.addr;
	s->refs = 1;
	sg_feed_sandbox_clear(&fs);
	sbx_drop(px, s->id);	/* a new policy for the same sandbox */
	s->stale = 0;
	s->next = px->sbxs;
	px->sbxs = s;
	sg_info("sandbox %s: policy for token %s, %zu placeholders", s->id,
	    s->token, s->nph);
	return 0;
}

static int
setup_dns(struct px *px)
{
	char **v = NULL;
	size_t n = 0, i;
	int r;

	if (px->dns != NULL)
		return 0;
	if (px->cfg.dns[0] == '\0') {
		px->dns = evdns_base_new(px->base,
		    EVDNS_BASE_INITIALIZE_NAMESERVERS);
		if (px->dns == NULL)
			return -ENOMEM;
		/* a name is looked up as the guest wrote it, never with the
		 * host's search domains (api -> api.corp.example) */
		evdns_base_search_clear(px->dns);
		return 0;
	}
	px->dns = evdns_base_new(px->base, 0);
	if (px->dns == NULL)
		return -ENOMEM;
	evdns_base_search_clear(px->dns);
	if ((r = split_list(px->cfg.dns, &v, &n)) < 0)
		return r;
	for (i = 0; i < n; i++)
		if (evdns_base_nameserver_ip_add(px->dns, v[i]) != 0)
			sg_warn("[network] dns: cannot use %s", v[i]);
	strv_free(v, n);
	return 0;
}

static void
send_msg(struct px *px)
{
	int r;

	if (px->feed_fd < 0) {
		px->audit_dropped++;	/* no monitor right now */
		return;
	}
	r = sg_mp_send(px->feed_fd, px->msg, -1);

	if (r == -EAGAIN || r == -ENOBUFS) {
		if (px->audit_dropped++ % 1000 == 0)
			sg_warn("the monitor does not keep up: %lu audit "
			    "events dropped", px->audit_dropped);
	} else if (r < 0) {
		sg_err("cannot write to the monitor: %s", strerror(-r));
	}
}

void
px_audit(struct px *px, const char *event, ...)
{
	const char *pairs[2 * SG_FEED_MAX_AUDIT + 1], *k, *v;
	size_t n = 0;
	va_list ap;

	va_start(ap, event);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (v == NULL || n + 2 > 2 * SG_FEED_MAX_AUDIT)
			continue;
		pairs[n++] = k;
		pairs[n++] = v;
	}
	va_end(ap);
	pairs[n] = NULL;
	if (sg_feed_put_audit(px->msg, event, pairs) == 0)
		send_msg(px);
}

static int
feed_config(struct px *px, const uint8_t *p, size_t n)
{
	int r;

	if (px->have_cfg)
		return -EPROTO;
	if ((r = sg_feed_get_config(p, n, &px->cfg)) < 0)
		return r;
	px->have_cfg = 1;
	if ((r = px_up_configure(px->up, &px->cfg)) < 0 ||
	    (r = setup_dns(px)) < 0)
		return r;
	if ((r = sg_feed_put_ready(px->msg, sp_ca_cert_pem(px->ca))) < 0)
		return r;
	if ((r = sg_mp_send(px->feed_fd, px->msg, -1)) < 0)
		return r;
	sg_info("ready: %zu resolve overrides, at most %u connections per "
	    "sandbox", px->cfg.nresolve, px->cfg.max_conns);
	return 0;
}

/* A monitor of a sandgated that restarted adopts us: it gets READY and
 * our listening socket (it restarts the next proxy on it), then the
 * secrets and sandboxes again; START drops what it did not send. */
static int
feed_resync(struct px *px, size_t n)
{
	struct px_sbx *s;
	int r;

	if (n != 1)
		return -EPROTO;
	for (s = px->sbxs; s != NULL; s = s->next)
		s->stale = 1;
	px->resync = 1;
	if ((r = sg_feed_put_ready(px->msg, sp_ca_cert_pem(px->ca))) < 0)
		return r;
	return sg_mp_send(px->feed_fd, px->msg, PX_LISTEN_FD);
}

/* Connections wait in the listen queue until the policies of the
 * sandboxes that exist have come: none is refused for arriving early. */
static int
feed_start(struct px *px, size_t n)
{
	struct px_sbx *s, *nx;
	size_t k = 0;

	if (n != 1 || (px->started && !px->resync))
		return -EPROTO;
	if (px->resync) {
		/* what the new monitor did not send is gone */
		for (s = px->sbxs; s != NULL; s = nx) {
			nx = s->next;
			if (s->stale && !s->gone) {
				sg_info("sandbox %s dropped (gone while "
				    "sandgated restarted)", s->id);
				sbx_drop(px, s->id);
			}
		}
		px->resync = 0;
	}
	px->started = 1;
	evconnlistener_enable(px->lis);
	for (s = px->sbxs; s != NULL; s = s->next)
		k++;
	sg_info("accepting connections: %zu sandboxes, %zu secrets", k,
	    px->nsec);
	return 0;
}

static int
feed_one(struct px *px, const uint8_t *p, size_t n)
{
	char *id = NULL;
	int r;

	if (n == 0)
		return -EPROTO;
	if (!px->have_cfg && p[0] != SG_FEED_CONFIG)
		return -EPROTO;
	switch (p[0]) {
	case SG_FEED_CONFIG:
		return feed_config(px, p + 1, n - 1);
	case SG_FEED_RESYNC:
		return feed_resync(px, n);
	case SG_FEED_TOKENS_BEGIN:
		if (n != 1)
			return -EPROTO;
		secrets_free(px->nsec_new, px->nnew);
		px->nsec_new = NULL;
		px->nnew = 0;
		px->receiving = 1;
		return 0;
	case SG_FEED_SECRET:
		return feed_secret(px, p + 1, n - 1);
	case SG_FEED_TOKENS_END:
		if (n != 1 || !px->receiving)
			return -EPROTO;
		/* Connections look secrets up per request: the swap is
		 * seen by the next one. */
		secrets_free(px->prev, px->nprev);
		px->prev = px->sec;
		px->nprev = px->nsec;
		px->sec = px->nsec_new;
		px->nsec = px->nnew;
		px->secrets_gen++;	/* redaction sets are made again */
		px->nsec_new = NULL;
		px->nnew = 0;
		px->receiving = 0;
		sg_info("secrets in force: %zu", px->nsec);
		return 0;
	case SG_FEED_SANDBOX:
		return feed_sandbox(px, p + 1, n - 1);
	case SG_FEED_START:
		return feed_start(px, n);
	case SG_FEED_DROP:
		if ((r = sg_feed_get_drop(p + 1, n - 1, &id)) < 0)
			return r;
		sbx_drop(px, id);
		sg_info("sandbox %s dropped", id);
		free(id);
		return 0;
	default:
		return -EPROTO;
	}
}

static void
feed_read(evutil_socket_t fd, short what, void *arg)
{
	struct px *px = arg;
	unsigned type;
	ssize_t n;
	int i, r, pfd;

	(void)fd;
	(void)what;
	for (i = 0; i < 64; i++) {
		n = sg_mp_recv(px->feed_fd, px->msg, &pfd);
		if (n == -EAGAIN)
			return;
		if (pfd >= 0)
			close(pfd);
		if (n == 0 && px->rdv_fd >= 0) {
			/* sandgated stopped: go on with what we know until
			 * the next one connects */
			sg_info("the monitor closed the feed: serving on, "
			    "waiting for the next one");
			event_del(px->feed_ev);
			event_free(px->feed_ev);
			px->feed_ev = NULL;
			close(px->feed_fd);
			px->feed_fd = -1;
			sg_confine_report_to(-1);
			return;
		}
		if (n == 0) {
			sg_info("the monitor closed the feed: exiting");
			event_base_loopexit(px->base, NULL);
			return;
		}
		if (n < 0) {
			sg_err("feed: %s: exiting", strerror((int)-n));
			px->failed = 1;
			event_base_loopexit(px->base, NULL);
			return;
		}
		type = sg_buf_data(px->msg)[0];
		r = feed_one(px, sg_buf_data(px->msg), sg_buf_len(px->msg));
		/* the message may have carried a secret value */
		explicit_bzero((void *)sg_buf_data(px->msg), sg_buf_len(px->msg));
		if (r < 0) {
			sg_err("feed: message %u refused: %s: exiting",
			    type, strerror(-r));
			px->failed = 1;
			event_base_loopexit(px->base, NULL);
			return;
		}
	}
}

/* A monitor connects to the rendezvous socket: root only. It replaces
 * the feed there was. */
static void
rdv_read(evutil_socket_t fd, short what, void *arg)
{
	struct px *px = arg;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int nfd;

	(void)fd;
	(void)what;
	nfd = accept4(px->rdv_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (nfd < 0)
		return;
	if (getsockopt(nfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    cred.uid != 0) {
		close(nfd);
		return;
	}
	if (px->feed_ev != NULL) {
		event_del(px->feed_ev);
		event_free(px->feed_ev);
		px->feed_ev = NULL;
	}
	if (px->feed_fd >= 0)
		close(px->feed_fd);
	px->feed_fd = nfd;
	sg_confine_report_to(nfd);
	px->feed_ev = event_new(px->base, nfd, EV_READ | EV_PERSIST,
	    feed_read, px);
	if (px->feed_ev == NULL || event_add(px->feed_ev, NULL) < 0) {
		sg_err("cannot take the new monitor's feed: exiting");
		px->failed = 1;
		event_base_loopexit(px->base, NULL);
		return;
	}
	sg_info("a monitor connected (pid %ld)", (long)cred.pid);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	(void)l;
	px_conn_accept(arg, fd, sa, salen);
}

static void
relisten(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	struct timeval tv = { 1, 0 };
	int e = EVUTIL_SOCKET_ERROR();

	(void)arg;
	sg_warn("accept: %s", evutil_socket_error_to_string(e));
	if (e == EMFILE || e == ENFILE) {
		/* try again in a second, once connections have ended */
		evconnlistener_disable(l);
		event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT,
		    relisten, l, &tv);
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	sg_info("signal %d: exiting", (int)sig);
	event_base_loopexit(arg, NULL);
}

/* --- the box (confine.h) --- */

/* Read-only opens: OpenSSL reads trust anchors (the host's store, the
 * feed's extra CAs) as it meets them. */
#define PX_RDONLY_MASK	((uint64_t)(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | \
			    (O_TMPFILE & ~O_DIRECTORY)))

/* What libevent (epoll, its resolver), OpenSSL and the proxy call once
 * guests connect: accept, upstream sockets (IPv4, IPv6 only), I/O,
 * memory, time, read-only opens. No write or
 * create of a file, fork, exec, kill or ptrace. */
static const struct sg_confine_rule px_rules[] = {
	SG_CF("read"), SG_CF("readv"), SG_CF("writev"), SG_CF("pread64"),
	SG_CF("recvfrom"), SG_CF("recvmsg"), SG_CF("sendmsg"),
	SG_CF("close"), SG_CF("shutdown"),
	SG_CF("accept4"), SG_CF("accept"), SG_CF("listen"),
	SG_CF_IF("socket", 0, ~0u, AF_INET), SG_CF_IF("socket", 0, ~0u, AF_INET6),
	SG_CF("connect"), SG_CF("bind"), SG_CF("getsockopt"),
	SG_CF("setsockopt"), SG_CF("getsockname"), SG_CF("getpeername"),
	SG_CF("socketpair"),
	SG_CF("epoll_create1"), SG_CF("epoll_ctl"), SG_CF("epoll_wait"),
	SG_CF("epoll_pwait"), SG_CF("poll"), SG_CF("ppoll"), SG_CF("select"),
	SG_CF("pselect6"),
	SG_CF_IF("fcntl", 1, ~0u, F_GETFL), SG_CF_IF("fcntl", 1, ~0u, F_SETFL),
	SG_CF_IF("fcntl", 1, ~0u, F_GETFD), SG_CF_IF("fcntl", 1, ~0u, F_SETFD),
	SG_CF_IF("ioctl", 1, ~0u, FIONBIO), SG_CF_IF("ioctl", 1, ~0u, FIONREAD),
	SG_CF_IF("openat", 2, PX_RDONLY_MASK, 0),
	SG_CF_IF("open", 1, PX_RDONLY_MASK, 0),
	SG_CF("lseek"), SG_CF("getdents64"),
	SG_CF_BASE,
	SG_CF("mlock"), SG_CF("munlock"), SG_CF("rt_sigaction"),
	SG_CF("gettid"), SG_CF("getuid"), SG_CF("geteuid"),
	SG_CF("getgid"), SG_CF("getegid"),
	SG_CF_DENY("uname", EPERM),
};

static void
warm_done(int err, struct evutil_addrinfo *res, void *arg)
{
	(void)err;
	(void)arg;
	if (res != NULL)
		evutil_freeaddrinfo(res);
}

/* libevent looks at the host's interfaces (getifaddrs: a netlink socket)
 * at its first lookup with EVUTIL_AI_ADDRCONFIG, and keeps the answer:
 * that lookup is made here, before the filter, which allows no netlink
 * socket. A numeric name answers at once, without a resolver. */
static void
warm_addrconfig(struct event_base *base)
{
	struct evutil_addrinfo hints;
	struct evdns_base *d;

	d = evdns_base_new(base, 0);
	if (d == NULL)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	(void)evdns_getaddrinfo(d, "127.0.0.1", NULL, &hints, warm_done, NULL);
	evdns_base_free(d, 1);
}

/* Installed once the CA is loaded and the sockets are set up, before
 * the first guest or feed byte is read. */
static int
px_confine(struct event_base *base)
{
	struct rlimit rl;
	const char *what;
	char *err = NULL;
	int r;

	warm_addrconfig(base);
	/* as many descriptors as it was given; its log is its stderr */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		rl.rlim_cur = 1024;
	r = sg_confine_limits(rl.rlim_cur, 0, &what);
	if (r < 0) {
		sg_err("cannot set %s: %s", what, strerror(-r));
		return r;
	}
	r = sg_confine_filter("sandgate-proxy", px_rules,
	    sizeof(px_rules) / sizeof(px_rules[0]), PX_FEED_FD, &err);
	if (r < 0) {
		sg_err("%s", err ? err : strerror(-r));
		free(err);
	}
	return r;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: sandgate-proxy --ca-dir DIR [--debug]\n"
	    "  started by sandgated(8) with descriptor 3 listening, 4 the\n"
	    "  policy feed and 5 (optional) a bound unix socket where the\n"
	    "  next sandgated finds it; see sandgate-proxy(8)\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca-dir", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct px px;
	struct event *sigs[3] = { NULL, NULL, NULL };
	const char *ca_dir = NULL;
	char *err = NULL;
	int c, level = SG_LOG_INFO, rc = 1, r;

	while ((c = getopt_long(argc, argv, "c:dhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ca_dir = optarg;
			break;
		case 'd':
			level = SG_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sandgate-proxy %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	sg_log_init("sandgate-proxy", level);
	if (ca_dir == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (geteuid() == 0 || getuid() == 0) {
		sg_err("refusing to run as root: sandgated starts me as "
		    "[proxy] user");
		return 1;
	}
	if (fcntl(PX_LISTEN_FD, F_GETFD) < 0 || fcntl(PX_FEED_FD, F_GETFD) < 0) {
		sg_err("descriptors 3 (listening socket) and 4 (policy feed) "
		    "must be open: sandgated starts sandgate-proxy");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* it holds the CA key and secret values: no core dumps, no ptrace
	 * by its own user, nothing gained by exec */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		sg_warn("prctl: %s", strerror(errno));
	memset(&px, 0, sizeof(px));
	px.feed_fd = PX_FEED_FD;
	px.rdv_fd = fcntl(PX_RDV_FD, F_GETFD) < 0 ? -1 : PX_RDV_FD;
	/* The CA key and the leaves' keys live in OpenSSL's secure heap:
	 * locked, out of swap and core dumps. */
	if (CRYPTO_secure_malloc_init(1u << 20, 32) != 1)
		sg_warn("no OpenSSL secure heap: keys live in ordinary memory");
	r = sp_ca_load_or_create(ca_dir, &px.ca, &err);
	if (r < 0) {
		sg_err("%s", err ? err : strerror(-r));
		goto out;
	}
	sg_info("CA %s (%s), SHA-256 %s", ca_dir,
	    sp_ca_created(px.ca) ? "created" : "loaded",
	    sp_ca_fingerprint(px.ca));
	if (sp_ca_cache_new(px.ca, PX_LEAF_CACHE, &px.cache) < 0 ||
	    px_up_new(&px.up) < 0)
		goto out;
	px.sctx = SSL_CTX_new(TLS_server_method());
	if (px.sctx == NULL)
		goto out;
	SSL_CTX_set_min_proto_version(px.sctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_select_cb(px.sctx, px_alpn_select, NULL);
	SSL_CTX_set_options(px.sctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(px.sctx, SSL_MODE_RELEASE_BUFFERS);
	px.msg = sg_buf_new(SG_MP_MAX);
	px.base = event_base_new();
	if (px.msg == NULL || px.base == NULL)
		goto out;
	sg_buf_set_wipe(px.msg, 1);
	/* libevent's listener and feed reads must never block */
	if (evutil_make_socket_nonblocking(PX_LISTEN_FD) < 0 ||
	    fcntl(PX_LISTEN_FD, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(PX_FEED_FD, F_SETFL, fcntl(PX_FEED_FD, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(PX_FEED_FD, F_SETFD, FD_CLOEXEC) < 0)
		goto out;
	px.feed_ev = event_new(px.base, PX_FEED_FD, EV_READ | EV_PERSIST,
	    feed_read, &px);
	px.lis = evconnlistener_new(px.base, on_accept, &px,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
	    -1, PX_LISTEN_FD);
	if (px.feed_ev == NULL || px.lis == NULL ||
	    event_add(px.feed_ev, NULL) < 0)
		goto out;
	evconnlistener_set_error_cb(px.lis, on_accept_error);
	if (px.rdv_fd >= 0) {
		/* listening here, as our own user: a monitor that connects
		 * sees our credentials */
		if (listen(px.rdv_fd, 4) < 0 ||
		    evutil_make_socket_nonblocking(px.rdv_fd) < 0 ||
		    fcntl(px.rdv_fd, F_SETFD, FD_CLOEXEC) < 0)
			goto out;
		px.rdv_ev = event_new(px.base, px.rdv_fd, EV_READ | EV_PERSIST,
		    rdv_read, &px);
		if (px.rdv_ev == NULL || event_add(px.rdv_ev, NULL) < 0)
			goto out;
	}
	sigs[0] = evsignal_new(px.base, SIGTERM, on_signal, px.base);
	sigs[1] = evsignal_new(px.base, SIGINT, on_signal, px.base);
	sigs[2] = evsignal_new(px.base, SIGHUP, on_signal, px.base);
	for (c = 0; c < 3; c++)
		if (sigs[c] == NULL || event_add(sigs[c], NULL) < 0)
			goto out;
	if (px_confine(px.base) < 0)
		goto out;
	event_base_dispatch(px.base);
	rc = px.failed ? 1 : 0;
out:
	if (rc != 0 && err == NULL)
		sg_err("cannot start: out of memory or descriptors");
	free(err);
	for (c = 0; c < 3; c++)
		if (sigs[c] != NULL)
			event_free(sigs[c]);
	if (px.lis != NULL)
		evconnlistener_free(px.lis);
	if (px.feed_ev != NULL)
		event_free(px.feed_ev);
	if (px.rdv_ev != NULL)
		event_free(px.rdv_ev);
	px_up_flush(px.up);
	while (px.sbxs != NULL) {
		struct px_sbx *s = px.sbxs;

		px.sbxs = s->next;
		sbx_free(s);	/* connections are gone with the base */
	}
	secrets_free(px.sec, px.nsec);
	secrets_free(px.prev, px.nprev);
	secrets_free(px.nsec_new, px.nnew);
	sg_feed_config_clear(&px.cfg);
	if (px.dns != NULL)
		evdns_base_free(px.dns, 1);
	if (px.base != NULL)
		event_base_free(px.base);
	px_up_free(px.up);
	SSL_CTX_free(px.sctx);
	sp_ca_cache_free(px.cache);
	sp_ca_free(px.ca);
	sg_buf_free(px.msg);
	return rc;
}
