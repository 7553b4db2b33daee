/* sandgate-front: the inbound HTTPS front of sandgate's exposed ports.
 *
 * sandgated starts it as [expose] user with descriptor 3 listening on
 * [expose] listen, descriptor 4 the feed (common/exfeed.h) and
 * descriptor 5 a bound unix socket where the next sandgated finds it.
 * This file is the process: the feed, the routes (exposed ports), the
 * TLS context from the operator's certificate, the box; fconn.c handles
 * each connection. It holds no secret value of any token, never the CA
 * of the egress proxy, and is not the proxy: inbound requests and
 * credentials never share an address space. What it holds is the
 * certificate's key and the key that signs links. */
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

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/buf.h"
#include "common/confine.h"
#include "common/exfeed.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/pxfeed.h"
#include "expose/front.h"

#define FR_LISTEN_FD	3
#define FR_FEED_FD	4
#define FR_RDV_FD	5

/* Connections open to one sandbox. */
struct fr_sbx {
	struct fr_sbx *next;
	char id[SG_XF_TOKEN_MAX + 1];
	unsigned n;
};

struct fr {
	struct event_base *base;
	SSL_CTX *ctx;
	struct sg_xf_config cfg;
	uint8_t cfg_digest[SG_XF_DIGEST_LEN];
	int have_cfg;
	int started;
	int resync;
	struct fr_route *routes;
	struct fr_sbx *sbxs;
	unsigned nconns;
	int feed_fd;
	struct event *feed_ev;
	int rdv_fd;
	struct event *rdv_ev;
	struct evconnlistener *lis;
	struct sg_buf *msg;	/* the feed's message being read */
	struct sg_buf *out;	/* what the front sends: READY, AUDIT */
	unsigned long audit_dropped;
	int audit_held;		/* a new monitor's feed, before its RESYNC */
	int failed;
};

struct event_base *fr_base(struct fr *fr) { return fr->base; }
SSL_CTX *fr_ctx(struct fr *fr) { return fr->ctx; }
const struct sg_xf_config *fr_cfg(const struct fr *fr) { return &fr->cfg; }
unsigned fr_conns(const struct fr *fr) { return fr->nconns; }

void
fr_conn_count(struct fr *fr, int delta)
{
	fr->nconns = (unsigned)((int)fr->nconns + delta);
}

/* --- routes --- */

static void
route_free(struct fr_route *rt)
{
	sg_xf_expose_clear(&rt->e);
	free(rt);
}

struct fr_route *
fr_route_find(struct fr *fr, const char *label, size_t len)
{
	struct fr_route *rt;

	for (rt = fr->routes; rt != NULL; rt = rt->next)
		if (!rt->gone && strlen(rt->e.label) == len &&
		    memcmp(rt->e.label, label, len) == 0)
			return rt;
	return NULL;
}

void
fr_route_ref(struct fr_route *rt)
{
	rt->refs++;
}

/* Unlinks and frees rt when it is gone and unused. */
static void
route_reap(struct fr *fr, struct fr_route *rt)
{
	struct fr_route **pp;

	if (!rt->gone || rt->refs > 0)
		return;
	for (pp = &fr->routes; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == rt) {
			*pp = rt->next;
			route_free(rt);
			return;
		}
	}
}

void
fr_route_unref(struct fr *fr, struct fr_route *rt)
{
	if (rt->refs > 0)
		rt->refs--;
	route_reap(fr, rt);
}

/* rt is gone: no request is routed to it, its connections end, and it
 * is freed with the last of them. */
static void
route_end(struct fr *fr, struct fr_route *rt)
{
	rt->gone = 1;
	rt->refs++;
	fc_route_gone(rt);
	fr_route_unref(fr, rt);
}

static void
route_drop(struct fr *fr, struct fr_route *rt, const char *why)
{
	sg_info("%s unexposed (%s)", rt->e.label, why);
	route_end(fr, rt);
}

static int
feed_expose(struct fr *fr, const uint8_t *p, size_t n)
{
	struct fr_route *rt, *old;
	int r;

	rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return -ENOMEM;
	if ((r = sg_xf_get_expose(p, n, &rt->e)) < 0) {
		free(rt);
		return r;
	}
	/* a label sent again replaces its route (a new nonce, a new hash) */
	old = fr_route_find(fr, rt->e.label, strlen(rt->e.label));
	if (old != NULL && (old->e.nonce != rt->e.nonce || old->e.public !=
	    rt->e.public || strcmp(old->e.token_hash, rt->e.token_hash) != 0 ||
	    old->e.addr != rt->e.addr || strcmp(old->e.id, rt->e.id) != 0)) {
		/* what was let in under the old terms goes */
		route_end(fr, old);
	} else if (old != NULL) {
		/* the same again (a resync, a token reload): kept as is */
		old->stale = 0;
		sg_xf_expose_clear(&rt->e);
		free(rt);
		return 0;
	}
	rt->next = fr->routes;
	fr->routes = rt;
	sg_info("%s exposed: sandbox %s port %u%s", rt->e.label, rt->e.id,
	    (unsigned)rt->e.port, rt->e.public ? " (public)" : "");
	return 0;
}

static int
feed_unexpose(struct fr *fr, const uint8_t *p, size_t n)
{
	struct fr_route *rt;
	char *label = NULL;
	int r;

	if ((r = sg_xf_get_unexpose(p, n, &label)) < 0)
		return r;
	rt = fr_route_find(fr, label, strlen(label));
	if (rt != NULL)
		route_drop(fr, rt, "by the monitor");
	free(label);
	return 0;
}

/* --- per-sandbox counts --- */

static struct fr_sbx *
sbx_find(struct fr *fr, const char *id)
{
	struct fr_sbx *s;

	for (s = fr->sbxs; s != NULL; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

unsigned
fr_sbx_conns(struct fr *fr, const char *id)
{
	struct fr_sbx *s = sbx_find(fr, id);

	return s != NULL ? s->n : 0;
}

int
fr_sbx_enter(struct fr *fr, const char *id)
{
	struct fr_sbx *s = sbx_find(fr, id);

	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -ENOMEM;
		snprintf(s->id, sizeof(s->id), "%s", id);
		s->next = fr->sbxs;
		fr->sbxs = s;
	}
	s->n++;
	return 0;
}

void
fr_sbx_leave(struct fr *fr, const char *id)
{
	struct fr_sbx **pp, *s;

	for (pp = &fr->sbxs; (s = *pp) != NULL; pp = &s->next) {
		if (strcmp(s->id, id) != 0)
			continue;
		if (--s->n == 0) {
			*pp = s->next;
			free(s);
		}
		return;
	}
}

/* --- the feed --- */

static void
send_msg(struct fr *fr)
{
	int r;

	if (fr->feed_fd < 0 || fr->audit_held) {
		fr->audit_dropped++;
		return;
	}
	r = sg_mp_send(fr->feed_fd, fr->out, -1);
	if (r == -EAGAIN || r == -ENOBUFS) {
		if (fr->audit_dropped++ % 1000 == 0)
			sg_warn("the monitor does not keep up: %lu audit "
			    "events dropped", fr->audit_dropped);
	} else if (r < 0) {
		sg_err("cannot write to the monitor: %s", strerror(-r));
	}
}

void
fr_audit(struct fr *fr, const char *event, ...)
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
	if (sg_feed_put_audit(fr->out, event, pairs) == 0)
		send_msg(fr);
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	unsigned i = 0;

	(void)ssl;
	(void)arg;
	while (i < inlen) {
		unsigned l = in[i];

		if (i + 1 + l > inlen)
			break;
		if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	/* no http/1.1 offered: no protocol chosen; HTTP/1.1 it is */
	return SSL_TLSEXT_ERR_NOACK;
}

/* The TLS context from CONFIG's chain and key. */
static int
setup_tls(struct fr *fr)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	char probe[300];
	int r = -EINVAL, first = 1;

	fr->ctx = SSL_CTX_new(TLS_server_method());
	if (fr->ctx == NULL)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(fr->ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(fr->ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(fr->ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_alpn_select_cb(fr->ctx, alpn_select, NULL);
	bio = BIO_new_mem_buf(fr->cfg.cert_pem, -1);
	if (bio == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (first) {
			if (SSL_CTX_use_certificate(fr->ctx, x) != 1)
				goto bad;
			/* a label of the shape every URL has */
			snprintf(probe, sizeof(probe), "1-a-00000000.%s",
			    fr->cfg.domain);
			if (X509_check_host(x, probe, 0, 0, NULL) != 1)
				sg_warn("the certificate does not cover *.%s: "
				    "browsers will refuse the URLs (give "
				    "[expose] cert a wildcard certificate)",
				    fr->cfg.domain);
			X509_free(x);
			first = 0;
		} else if (SSL_CTX_add0_chain_cert(fr->ctx, x) != 1) {
			goto bad;
		}
		x = NULL;
	}
	ERR_clear_error();
	BIO_free(bio);
	bio = BIO_new_mem_buf(fr->cfg.key_pem, -1);
	if (bio == NULL || first)
		goto bad;
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (pk == NULL || SSL_CTX_use_PrivateKey(fr->ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(fr->ctx) != 1)
		goto bad;
	r = 0;
	goto out;
bad:
	sg_err("the certificate or its key is not usable (PEM, the key of "
	    "the first certificate; check [expose] cert and key)");
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return r;
}

static int
feed_config(struct fr *fr, const uint8_t *p, size_t n)
{
	int r;

	if (fr->have_cfg)
		return -EPROTO;
	if ((r = sg_xf_get_config(p, n, &fr->cfg)) < 0 ||
	    (r = sg_xf_config_digest(p, n, fr->cfg_digest)) < 0)
		return r;
	fr->have_cfg = 1;
	r = setup_tls(fr);
	/* the key lives on in the context only */
	OPENSSL_cleanse(fr->cfg.key_pem, strlen(fr->cfg.key_pem));
	if (r < 0)
		return r;
	if ((r = sg_xf_put_ready(fr->out, fr->cfg_digest)) < 0 ||
	    (r = sg_mp_send(fr->feed_fd, fr->out, -1)) < 0)
		return r;
	sg_info("ready: *.%s, at most %u connections per sandbox and %u in "
	    "all", fr->cfg.domain, fr->cfg.max_conns, fr->cfg.max_total);
	return 0;
}

/* A monitor of a sandgated that restarted adopts us: READY with our
 * listening socket, then every exposure again; START drops the rest. */
static int
feed_resync(struct fr *fr, size_t n)
{
	struct fr_route *rt;
	int r;

	if (n != 1)
		return -EPROTO;
	for (rt = fr->routes; rt != NULL; rt = rt->next)
		rt->stale = 1;
	fr->resync = 1;
	fr->audit_held = 0;
	if ((r = sg_xf_put_ready(fr->out, fr->cfg_digest)) < 0)
		return r;
	return sg_mp_send(fr->feed_fd, fr->out, FR_LISTEN_FD);
}

static int
feed_start(struct fr *fr, size_t n)
{
	struct fr_route *rt, *nx;
	size_t k = 0;

	if (n != 1 || (fr->started && !fr->resync))
		return -EPROTO;
	if (fr->resync) {
		for (rt = fr->routes; rt != NULL; rt = nx) {
			nx = rt->next;
			if (rt->stale && !rt->gone)
				route_drop(fr, rt, "not exposed after the "
				    "restart of sandgated");
		}
		fr->resync = 0;
	}
	fr->started = 1;
	evconnlistener_enable(fr->lis);
	for (rt = fr->routes; rt != NULL; rt = rt->next)
		k += !rt->gone;
	sg_info("accepting connections: %zu exposed ports", k);
	return 0;
}

static int
feed_one(struct fr *fr, const uint8_t *p, size_t n)
{
	if (n == 0 || (!fr->have_cfg && p[0] != SG_XF_CONFIG))
		return -EPROTO;
	switch (p[0]) {
	case SG_XF_CONFIG:
		return feed_config(fr, p + 1, n - 1);
	case SG_XF_RESYNC:
		return feed_resync(fr, n);
	case SG_XF_EXPOSE:
		/* (a route the new monitor sent is no longer stale) */
		return feed_expose(fr, p + 1, n - 1);
	case SG_XF_UNEXPOSE:
		return feed_unexpose(fr, p + 1, n - 1);
	case SG_XF_START:
		return feed_start(fr, n);
	default:
		return -EPROTO;
	}
}

static void
feed_read(evutil_socket_t fd, short what, void *arg)
{
	struct fr *fr = arg;
	unsigned type;
	ssize_t n;
	int i, r, pfd;

	(void)fd;
	(void)what;
	for (i = 0; i < 64; i++) {
		n = sg_mp_recv(fr->feed_fd, fr->msg, &pfd);
		if (n == -EAGAIN)
			return;
		if (pfd >= 0)
			close(pfd);
		if (n == 0 && fr->rdv_fd >= 0) {
			sg_info("the monitor closed the feed: serving on, "
			    "waiting for the next one");
			event_del(fr->feed_ev);
			event_free(fr->feed_ev);
			fr->feed_ev = NULL;
			close(fr->feed_fd);
			fr->feed_fd = -1;
			sg_confine_report_to(-1);
			return;
		}
		if (n <= 0) {
			if (n < 0)
				sg_err("feed: %s: exiting", strerror((int)-n));
			else
				sg_info("the monitor closed the feed: exiting");
			fr->failed = n < 0;
			event_base_loopexit(fr->base, NULL);
			return;
		}
		type = sg_buf_data(fr->msg)[0];
		r = feed_one(fr, sg_buf_data(fr->msg), sg_buf_len(fr->msg));
		/* CONFIG carries keys */
		OPENSSL_cleanse((void *)sg_buf_data(fr->msg), sg_buf_len(fr->msg));
		if (r < 0) {
			sg_err("feed: message %u refused: %s: exiting", type,
			    strerror(-r));
			fr->failed = 1;
			event_base_loopexit(fr->base, NULL);
			return;
		}
	}
}

/* A monitor connects to the rendezvous socket: root only. */
static void
rdv_read(evutil_socket_t fd, short what, void *arg)
{
	struct fr *fr = arg;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int nfd;

	(void)fd;
	(void)what;
	nfd = accept4(fr->rdv_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (nfd < 0)
		return;
	if (getsockopt(nfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    cred.uid != 0) {
		close(nfd);
		return;
	}
	if (fr->feed_ev != NULL) {
		event_del(fr->feed_ev);
		event_free(fr->feed_ev);
		fr->feed_ev = NULL;
	}
	if (fr->feed_fd >= 0)
		close(fr->feed_fd);
	fr->feed_fd = nfd;
	/* its first message must be our READY */
	fr->audit_held = 1;
	sg_confine_report_to(nfd);
	fr->feed_ev = event_new(fr->base, nfd, EV_READ | EV_PERSIST,
	    feed_read, fr);
	if (fr->feed_ev == NULL || event_add(fr->feed_ev, NULL) < 0) {
		sg_err("cannot take the new monitor's feed: exiting");
		fr->failed = 1;
		event_base_loopexit(fr->base, NULL);
		return;
	}
	sg_info("a monitor connected (pid %ld)", (long)cred.pid);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	(void)l;
	fc_accept(arg, fd, sa, salen);
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

/* What libevent (epoll), OpenSSL and the front call once clients
 * connect: accept, IPv4 sockets toward guests, I/O, memory, time. No
 * open of any file, no fork, exec, kill or ptrace. */
static const struct sg_confine_rule fr_rules[] = {
	SG_CF("read"), SG_CF("readv"), SG_CF("writev"),
	SG_CF("recvfrom"), SG_CF("recvmsg"), SG_CF("sendmsg"),
	SG_CF("close"), SG_CF("shutdown"),
	SG_CF("accept4"), SG_CF("accept"),
	SG_CF_IF("socket", 0, ~0u, AF_INET),
	SG_CF("connect"), SG_CF("getsockopt"), SG_CF("setsockopt"),
	SG_CF("getsockname"), SG_CF("getpeername"),
	SG_CF("epoll_create1"), SG_CF("epoll_ctl"), SG_CF("epoll_wait"),
	SG_CF("epoll_pwait"), SG_CF("poll"), SG_CF("ppoll"),
	SG_CF_IF("fcntl", 1, ~0u, F_GETFL), SG_CF_IF("fcntl", 1, ~0u, F_SETFL),
	SG_CF_IF("fcntl", 1, ~0u, F_GETFD), SG_CF_IF("fcntl", 1, ~0u, F_SETFD),
	SG_CF_IF("ioctl", 1, ~0u, FIONBIO), SG_CF_IF("ioctl", 1, ~0u, FIONREAD),
	SG_CF_BASE,
	SG_CF("mlock"), SG_CF("munlock"), SG_CF("rt_sigaction"),
	SG_CF("gettid"), SG_CF("getuid"), SG_CF("geteuid"),
	SG_CF("getgid"), SG_CF("getegid"),
	SG_CF_DENY("openat", EACCES), SG_CF_DENY("open", EACCES),
	SG_CF_DENY("uname", EPERM),
};

static int
fr_confine(void)
{
	struct rlimit rl;
	const char *what;
	char *err = NULL;
	int r;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		rl.rlim_cur = 1024;
	/* its log is its standard error, which may be a file */
	r = sg_confine_limits(rl.rlim_cur, 0, &what);
	if (r < 0) {
		sg_err("cannot set %s: %s", what, strerror(-r));
		return r;
	}
	r = sg_confine_filter("sandgate-front", fr_rules,
	    sizeof(fr_rules) / sizeof(fr_rules[0]), FR_FEED_FD, &err);
	if (r < 0) {
		sg_err("%s", err ? err : strerror(-r));
		free(err);
	}
	return r;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: sandgate-front [--debug]\n"
	    "  started by sandgated(8) with descriptor 3 listening, 4 the\n"
	    "  feed and 5 (optional) a bound unix socket where the next\n"
	    "  sandgated finds it; see sandgated(8), EXPOSED PORTS\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct fr fr;
	struct event *sigs[3] = { NULL, NULL, NULL };
	int c, level = SG_LOG_INFO, rc = 1;

	while ((c = getopt_long(argc, argv, "dhV", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			level = SG_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sandgate-front %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	sg_log_init("sandgate-front", level);
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (geteuid() == 0 || getuid() == 0) {
		sg_err("refusing to run as root: sandgated starts me as "
		    "[expose] user");
		return 1;
	}
	if (fcntl(FR_LISTEN_FD, F_GETFD) < 0 || fcntl(FR_FEED_FD, F_GETFD) < 0) {
		sg_err("descriptors 3 (listening socket) and 4 (feed) must be "
		    "open: sandgated starts sandgate-front");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* it holds the certificate's and the links' keys */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		sg_warn("prctl: %s", strerror(errno));
	memset(&fr, 0, sizeof(fr));
	fr.feed_fd = FR_FEED_FD;
	fr.rdv_fd = fcntl(FR_RDV_FD, F_GETFD) < 0 ? -1 : FR_RDV_FD;
	if (CRYPTO_secure_malloc_init(1u << 16, 32) != 1)
		sg_warn("no OpenSSL secure heap: keys live in ordinary memory");
	fr.msg = sg_buf_new(SG_MP_MAX);
	fr.out = sg_buf_new(SG_MP_MAX);
	fr.base = event_base_new();
	if (fr.msg == NULL || fr.out == NULL || fr.base == NULL)
		goto out;
	sg_buf_set_wipe(fr.msg, 1);
	if (evutil_make_socket_nonblocking(FR_LISTEN_FD) < 0 ||
	    fcntl(FR_LISTEN_FD, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(FR_FEED_FD, F_SETFL, fcntl(FR_FEED_FD, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(FR_FEED_FD, F_SETFD, FD_CLOEXEC) < 0)
		goto out;
	fr.feed_ev = event_new(fr.base, FR_FEED_FD, EV_READ | EV_PERSIST,
	    feed_read, &fr);
	fr.lis = evconnlistener_new(fr.base, on_accept, &fr,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
	    -1, FR_LISTEN_FD);
	if (fr.feed_ev == NULL || fr.lis == NULL ||
	    event_add(fr.feed_ev, NULL) < 0)
		goto out;
	evconnlistener_set_error_cb(fr.lis, on_accept_error);
	if (fr.rdv_fd >= 0) {
		if (listen(fr.rdv_fd, 4) < 0 ||
		    evutil_make_socket_nonblocking(fr.rdv_fd) < 0 ||
		    fcntl(fr.rdv_fd, F_SETFD, FD_CLOEXEC) < 0)
			goto out;
		fr.rdv_ev = event_new(fr.base, fr.rdv_fd, EV_READ | EV_PERSIST,
		    rdv_read, &fr);
		if (fr.rdv_ev == NULL || event_add(fr.rdv_ev, NULL) < 0)
			goto out;
	}
	sigs[0] = evsignal_new(fr.base, SIGTERM, on_signal, fr.base);
	sigs[1] = evsignal_new(fr.base, SIGINT, on_signal, fr.base);
	sigs[2] = evsignal_new(fr.base, SIGHUP, on_signal, fr.base);
	for (c = 0; c < 3; c++)
		if (sigs[c] == NULL || event_add(sigs[c], NULL) < 0)
			goto out;
	if (fr_confine() < 0)
		goto out;
	event_base_dispatch(fr.base);
	rc = fr.failed ? 1 : 0;
out:
	if (rc != 0 && !fr.failed)
		sg_err("cannot start: out of memory or descriptors");
	for (c = 0; c < 3; c++)
		if (sigs[c] != NULL)
			event_free(sigs[c]);
	if (fr.lis != NULL)
		evconnlistener_free(fr.lis);
	if (fr.feed_ev != NULL)
		event_free(fr.feed_ev);
	if (fr.rdv_ev != NULL)
		event_free(fr.rdv_ev);
	if (fr.base != NULL)
		event_base_free(fr.base);
	while (fr.routes != NULL) {
		struct fr_route *rt = fr.routes;

		fr.routes = rt->next;
		route_free(rt);
	}
	while (fr.sbxs != NULL) {
		struct fr_sbx *s = fr.sbxs;

		fr.sbxs = s->next;
		free(s);
	}
	sg_xf_config_clear(&fr.cfg);
	SSL_CTX_free(fr.ctx);
	sg_buf_free(fr.msg);
	sg_buf_free(fr.out);
	return rc;
}
