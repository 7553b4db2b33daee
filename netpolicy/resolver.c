/* np_res: see resolver.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "common/clock.h"
#include "netpolicy/resolver.h"

#define RES_MAX_SANDBOXES	4096
#define RES_MAX_INFLIGHT	64	/* per sandbox */
#define RES_MAX_ANSWERS		16	/* A records given to a guest */
#define RES_TCP_CONNS		4	/* per sandbox */
#define RES_TCP_TOTAL		256	/* in all */
#define RES_PAUSE_MS		1000	/* no accept after EMFILE for this long */
#define RES_CACHE		32	/* opened answers remembered per sandbox */
#define RES_CACHE_MARGIN_S	60	/* re-ask the monitor this long before */
#define RES_TCP_IDLE_MS		10000
#define RES_TCP_BUF		1024	/* a query larger than this is refused */
#define RES_RATE		20	/* queries per second, refilled */
#define RES_BURST		100
#define RES_TTL_MAX		3600	/* the longest a guest may cache */
#define RES_TTL_OVERRIDE	60
#define RES_UDP_BATCH		32	/* datagrams read per wake-up */
#define RES_UPSTREAM_MS		3000
#define RES_OUT_MAX		4096

struct rconn {
	struct rconn *next;
	uint64_t cid;
	int fd;
	int64_t idle_ms;	/* closed at this time */
	size_t inlen;
	uint8_t in[2 + RES_TCP_BUF];
};

struct rsbx {
	struct rsbx *next;
	char id[64];
	uint64_t gen;		/* tells a re-added id from the old one */
	int udp, tcp;
	struct sg_allow *allow;
	double tokens;
	int64_t refill_ms;
	int limited;		/* rate limit hit; reported once per episode */
	unsigned inflight;
	struct rconn *conns;
	unsigned nconns;
	int64_t accept_ok_ms;	/* listener not polled before this */
	/* Addresses the monitor opened for this sandbox, and until when
	 * (monotonic ms): an answer whose addresses are all here is given
	 * at once, without asking the monitor again. */
	struct {
		char name[SG_NAME_MAX];
		struct in_addr addr;
		int64_t until_ms;
	} cache[RES_CACHE];
	unsigned cache_next;
};

enum rq_state { RQ_UPSTREAM, RQ_ALLOW };

struct rq {
	struct rq *next;
	struct np_res *r;
	char id[64];
	uint64_t gen;
	uint32_t seq;
	enum rq_state st;
	int orphan;		/* its sandbox is gone: free on callback */
	int tcp;
	uint64_t cid;		/* TCP connection */
	struct sockaddr_in peer;	/* UDP */
	struct np_dns_query q;
	enum np_dns_rcode rcode;
	struct np_dns_rr rr[RES_MAX_ANSWERS];
	size_t nrr;
};

struct np_res {
	struct np_res_ops ops;
	void *arg;
	ares_channel ch;
	struct np_res_override *ov;
	size_t nov;
	struct rsbx *sbxs;
	size_t nsbx;
	struct rq *rqs;
	uint64_t gen, cid;
	unsigned nconns;	/* TCP connections in all sandboxes */
	uint32_t seq;
	uint64_t answered, refused, upstream;
};

static unsigned *res_nconns;	/* the np_res's total, for conn_close */


static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int
np_res_new(const struct np_res_ops *ops, void *arg, const char *servers,
    const struct np_res_override *ov, size_t nov, struct np_res **ret,
    char **ret_msg)
{
	struct ares_options opts;
	struct np_res *r;
	size_t i;
	int st;

	*ret_msg = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->ops = *ops;
	r->arg = arg;
	res_nconns = &r->nconns;
	if (nov > 0) {
		r->ov = calloc(nov, sizeof(*r->ov));
		if (r->ov == NULL)
			goto nomem;
		for (i = 0; i < nov; i++) {
			r->ov[i].addr = ov[i].addr;
			r->ov[i].name = strdup(ov[i].name);
			if (r->ov[i].name == NULL)
				goto nomem;
			r->nov++;
		}
	}
	st = ares_library_init(ARES_LIB_INIT_ALL);
	if (st != ARES_SUCCESS)
		goto ares_fail;
	memset(&opts, 0, sizeof(opts));
	/* Plain DNS to the servers: no search list, no HOSTALIASES. */
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	opts.timeout = RES_UPSTREAM_MS / 2;
	opts.tries = 2;
	st = ares_init_options(&r->ch, &opts,
	    ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (st != ARES_SUCCESS)
		goto ares_fail;
	if (servers != NULL) {
		/* c-ares wants "a,b:53" without blanks; the config allows
		 * "a, b:53". */
		char csv[512];
		size_t si, ci = 0;

		for (si = 0; servers[si] != '\0' && ci < sizeof(csv) - 1; si++)
			if (servers[si] != ' ' && servers[si] != '\t')
				csv[ci++] = servers[si];
		csv[ci] = '\0';
		st = servers[si] != '\0' ? ARES_EBADSTR :
		    ares_set_servers_ports_csv(r->ch, csv);
		if (st != ARES_SUCCESS) {
			if (asprintf(ret_msg, "[network] dns = %s: %s; write "
			    "addresses like 192.0.2.53 or 192.0.2.53:5353",
			    servers, ares_strerror(st)) < 0)
				*ret_msg = NULL;
			np_res_free(r);
			return -EINVAL;
		}
	}
	*ret = r;
	return 0;
ares_fail:
	if (asprintf(ret_msg, "cannot start the DNS resolver: %s",
	    ares_strerror(st)) < 0)
		*ret_msg = NULL;
	np_res_free(r);
	return -EIO;
nomem:
	np_res_free(r);
	return -ENOMEM;
}

static void
conn_close(struct rsbx *s, struct rconn *c)
{
	struct rconn **pp;

	for (pp = &s->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	close(c->fd);
	free(c);
	s->nconns--;
	if (res_nconns != NULL && *res_nconns > 0)
		(*res_nconns)--;
}

static void
sbx_free(struct rsbx *s)
{
	while (s->conns != NULL)
		conn_close(s, s->conns);
	if (s->udp >= 0)
		close(s->udp);
	if (s->tcp >= 0)
		close(s->tcp);
	sg_allow_free(s->allow);
	free(s);
}

void
np_res_free(struct np_res *r)
{
	struct rq *q;
	size_t i;

	if (r == NULL)
		return;
	for (q = r->rqs; q != NULL; q = q->next)
		q->orphan = 1;
	if (r->ch != NULL)
		ares_destroy(r->ch);	/* callbacks free upstream queries */
	while (r->rqs != NULL) {
		q = r->rqs;
		r->rqs = q->next;
		free(q);
	}
	while (r->sbxs != NULL) {
		struct rsbx *s = r->sbxs;

		r->sbxs = s->next;
		sbx_free(s);
	}
	for (i = 0; i < r->nov; i++)
		free((char *)r->ov[i].name);
	free(r->ov);
	free(r);
}

static struct rsbx *
sbx_find(struct np_res *r, const char *id)
{
	struct rsbx *s;

	for (s = r->sbxs; s != NULL; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

int
np_res_add(struct np_res *r, const char *id, int udp_fd, int tcp_fd,
    struct sg_allow *allow)
{
	struct rsbx *s = NULL;
	int e;

	e = -EEXIST;
	if (sbx_find(r, id) != NULL)
		goto fail;
	e = -EUSERS;
	if (r->nsbx >= RES_MAX_SANDBOXES)
		goto fail;
	e = -EINVAL;
	if (strlen(id) >= sizeof(s->id) || set_nonblock(udp_fd) < 0 ||
	    (tcp_fd >= 0 && set_nonblock(tcp_fd) < 0))
		goto fail;
	e = -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto fail;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->gen = ++r->gen;
	s->udp = udp_fd;
	s->tcp = tcp_fd;
	s->allow = allow;
	s->tokens = RES_BURST;
	s->refill_ms = sg_mono_ms();
	s->next = r->sbxs;
	r->sbxs = s;
	r->nsbx++;
	return 0;
fail:
	close(udp_fd);
	if (tcp_fd >= 0)
		close(tcp_fd);
	sg_allow_free(allow);
	return e;
}

int
np_res_set_tcp(struct np_res *r, const char *id, int tcp_fd)
{
	struct rsbx *s = sbx_find(r, id);

	if (s == NULL || s->tcp >= 0 || set_nonblock(tcp_fd) < 0) {
		close(tcp_fd);
		return s == NULL ? -ENOENT : -EINVAL;
	}
	s->tcp = tcp_fd;
	return 0;
}

static void
rq_unlink(struct np_res *r, struct rq *q)
{
	struct rq **pp;

	for (pp = &r->rqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			return;
		}
}

/* Frees q, or leaves it to the c-ares callback that still points to it. */
static void
rq_done(struct np_res *r, struct rq *q)
{
	struct rsbx *s = sbx_find(r, q->id);

	if (s != NULL && s->gen == q->gen && s->inflight > 0)
		s->inflight--;
	if (q->st == RQ_UPSTREAM && !q->orphan) {
		q->orphan = 1;	/* the callback frees it */
		return;
	}
	rq_unlink(r, q);
	free(q);
}

void
np_res_del(struct np_res *r, const char *id)
{
	struct rsbx **pp, *s;
	struct rq *q, *next;

	for (pp = &r->sbxs; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0)
			break;
	if (*pp == NULL)
		return;
	s = *pp;
	*pp = s->next;
	r->nsbx--;
	for (q = r->rqs; q != NULL; q = next) {
		next = q->next;
		if (q->gen != s->gen || strcmp(q->id, id) != 0)
			continue;
		if (q->st == RQ_UPSTREAM) {
			q->orphan = 1;
		} else {
			rq_unlink(r, q);
			free(q);
		}
	}
	sbx_free(s);
}

/* Sends msg to where the query came from: a datagram, or a frame on
 * its TCP connection (closed if the frame does not fit at once: replies
 * are small and a guest that does not read loses its connection). */
static void
reply(struct np_res *r, struct rsbx *s, int tcp, uint64_t cid,
    const struct sockaddr_in *peer, const uint8_t *msg, size_t len)
{
	struct rconn *c;
	uint8_t frame[2 + RES_OUT_MAX];
	ssize_t n;

	r->answered++;
	if (!tcp) {
		(void)sendto(s->udp, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		    (const struct sockaddr *)peer, sizeof(*peer));
		return;
	}
	for (c = s->conns; c != NULL && c->cid != cid; c = c->next)
		;
	if (c == NULL || len > RES_OUT_MAX)
		return;
	frame[0] = (uint8_t)(len >> 8);
	frame[1] = (uint8_t)len;
	memcpy(frame + 2, msg, len);
	n = send(c->fd, frame, len + 2, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)(len + 2))
		conn_close(s, c);
	else
		c->idle_ms = sg_mono_ms() + RES_TCP_IDLE_MS;
}

static void
answer(struct np_res *r, struct rsbx *s, int tcp, uint64_t cid,
    const struct sockaddr_in *peer, const struct np_dns_query *q,
    enum np_dns_rcode rcode, const struct np_dns_rr *rr, size_t n)
{
	uint8_t out[RES_OUT_MAX];
	size_t len;

	if (np_dns_build_response(q, rcode, rr, n, tcp ? NP_DNS_TCP : NP_DNS_UDP,
	    out, sizeof(out), &len) < 0 &&
	    np_dns_build_response(q, NP_DNS_SERVFAIL, NULL, 0,
	    tcp ? NP_DNS_TCP : NP_DNS_UDP, out, sizeof(out), &len) < 0)
		return;
	reply(r, s, tcp, cid, peer, out, len);
}

static void
answer_error(struct np_res *r, struct rsbx *s, int tcp, uint64_t cid,
    const struct sockaddr_in *peer, const uint8_t *msg, size_t len,
    enum np_dns_rcode rcode)
{
	uint8_t out[64];
	size_t olen;

	if (np_dns_build_error(msg, len, rcode, out, sizeof(out), &olen) == 0)
		reply(r, s, tcp, cid, peer, out, olen);
}

/* 1 when the monitor opened every address of q's answer for its name
 * recently enough that it stays open for the answer's TTL (capped by the
 * margin): the guest gets the answer without another round trip. */
static int
cache_covers(const struct rsbx *s, const struct rq *q)
{
	int64_t now = sg_mono_ms();
	size_t i, j;

	for (i = 0; i < q->nrr; i++) {
		for (j = 0; j < RES_CACHE; j++)
			if (s->cache[j].addr.s_addr == q->rr[i].addr.s_addr &&
			    s->cache[j].until_ms - now >
			    (int64_t)(q->rr[i].ttl + RES_CACHE_MARGIN_S) * 1000 &&
			    strcmp(s->cache[j].name, q->q.name) == 0)
				break;
		if (j == RES_CACHE)
			return 0;
	}
	return 1;
}

/* Remembers that the monitor opened q's addresses: the monitor keeps an
 * element max(ttl, 30) + 60 s (sbxnet.c); count on ttl + 60 s only. */
static void
cache_add(struct rsbx *s, const struct rq *q)
{
	int64_t now = sg_mono_ms();
	size_t i;

	size_t len = strlen(q->q.name);

	if (len >= sizeof(s->cache[0].name))
		return;		/* not a name an allowed one can be */
	for (i = 0; i < q->nrr; i++) {
		unsigned k = s->cache_next++ % RES_CACHE;

		memcpy(s->cache[k].name, q->q.name, len + 1);
		s->cache[k].addr = q->rr[i].addr;
		s->cache[k].until_ms = now + (int64_t)(q->rr[i].ttl + 60) * 1000;
	}
}

/* The guest learns the answer only after the firewall lets it reach the
 * addresses; with no address to allow, it learns it at once. */
static void
rq_resolved(struct np_res *r, struct rq *q)
{
	struct rsbx *s = sbx_find(r, q->id);

	if (s == NULL || s->gen != q->gen) {
		rq_unlink(r, q);
		free(q);
		return;
	}
	if (q->nrr > 0 && q->rcode == NP_DNS_NOERROR && cache_covers(s, q)) {
		answer(r, s, q->tcp, q->cid, &q->peer, &q->q, NP_DNS_NOERROR,
		    q->rr, q->nrr);
		rq_done(r, q);
		return;
	}
	if (q->nrr > 0 && q->rcode == NP_DNS_NOERROR) {
		q->st = RQ_ALLOW;
		q->seq = ++r->seq;
		if (r->ops.allow(r->arg, q->id, q->seq, q->q.name, q->rr,
		    q->nrr) == 0)
			return;
		q->rcode = NP_DNS_SERVFAIL;
		q->nrr = 0;
	}
	answer(r, s, q->tcp, q->cid, &q->peer, &q->q, q->rcode, q->rr, q->nrr);
	rq_done(r, q);
}

void
np_res_allowed(struct np_res *r, const char *id, uint32_t seq, int ok)
{
	struct rsbx *s = sbx_find(r, id);
	struct rq *q;

	for (q = r->rqs; q != NULL; q = q->next)
		if (q->st == RQ_ALLOW && q->seq == seq && strcmp(q->id, id) == 0)
			break;
	if (q == NULL || s == NULL || s->gen != q->gen)
		return;
	if (ok) {
		cache_add(s, q);
		answer(r, s, q->tcp, q->cid, &q->peer, &q->q, NP_DNS_NOERROR,
		    q->rr, q->nrr);
	}
	else
		answer(r, s, q->tcp, q->cid, &q->peer, &q->q, NP_DNS_SERVFAIL,
		    NULL, 0);
	rq_done(r, q);
}

static void
upstream_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct rq *q = arg;
	struct np_res *r = q->r;
	struct rsbx *s;
	struct ares_addrttl at[RES_MAX_ANSWERS];
	int i, n = RES_MAX_ANSWERS;

	(void)timeouts;
	if (q->orphan) {
		rq_unlink(r, q);
		free(q);
		return;
	}
	q->st = RQ_ALLOW;	/* no longer owned by c-ares */
	s = sbx_find(r, q->id);
	q->nrr = 0;
	if (status == ARES_SUCCESS &&
	    ares_parse_a_reply(abuf, alen, NULL, at, &n) == ARES_SUCCESS) {
		q->rcode = NP_DNS_NOERROR;
		for (i = 0; i < n && q->nrr < RES_MAX_ANSWERS; i++) {
			/* No path into internal ranges by a public name. */
			if (sg_addr_is_internal(AF_INET, &at[i].ipaddr) &&
			    (s == NULL || !sg_allow_names_range(s->allow,
			    AF_INET, &at[i].ipaddr)))
				continue;
			q->rr[q->nrr].addr = at[i].ipaddr;
			q->rr[q->nrr].ttl = at[i].ttl < 1 ? 1 :
			    at[i].ttl > RES_TTL_MAX ? RES_TTL_MAX :
			    (uint32_t)at[i].ttl;
			q->nrr++;
		}
	} else if (status == ARES_ENOTFOUND) {
		q->rcode = NP_DNS_NXDOMAIN;
	} else if (status == ARES_ENODATA || status == ARES_SUCCESS) {
		q->rcode = NP_DNS_NOERROR;
	} else {
		q->rcode = NP_DNS_SERVFAIL;
	}
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		rq_done(r, q);	/* gives back its in-flight slot */
		return;
	}
	rq_resolved(r, q);
}

/* Refills s's token bucket; 1 when a query may go ahead. */
static int
rate_ok(struct np_res *r, struct rsbx *s)
{
	int64_t now = sg_mono_ms();

	s->tokens += (double)(now - s->refill_ms) * RES_RATE / 1000.0;
	if (s->tokens > RES_BURST)
		s->tokens = RES_BURST;
	s->refill_ms = now;
	if (s->tokens >= 1.0) {
		s->tokens -= 1.0;
		if (s->tokens >= RES_BURST / 2)
			s->limited = 0;
		return 1;
	}
	if (!s->limited) {
		s->limited = 1;
		r->ops.refused(r->arg, s->id, "-", "query rate limit "
		    "exceeded: queries dropped");
	}
	return 0;
}

static void
query(struct np_res *r, struct rsbx *s, int tcp, uint64_t cid,
    const struct sockaddr_in *peer, const uint8_t *msg, size_t len)
{
	struct np_dns_query q;
	struct rq *rq;
	size_t i;
	int e;

	if (!rate_ok(r, s))
		return;
	e = np_dns_parse_query(msg, len, &q);
	if (e == -EOPNOTSUPP || e == -EPROTO) {
		answer_error(r, s, tcp, cid, peer, msg, len,
		    e == -EPROTO ? NP_DNS_FORMERR : NP_DNS_NOTIMP);
		return;
	}
	if (e < 0)
		return;		/* not a query: no answer */
	if (q.edns && q.edns_version > 0) {
		answer(r, s, tcp, cid, peer, &q, NP_DNS_BADVERS, NULL, 0);
		return;
	}
	if (q.qclass != NP_DNS_CLASS_IN) {
		answer(r, s, tcp, cid, peer, &q, NP_DNS_REFUSED, NULL, 0);
		return;
	}
	if (q.non_ldh || !sg_allow_name(s->allow, q.name)) {
		r->refused++;
		r->ops.refused(r->arg, s->id, q.printable, q.non_ldh ?
		    "the name has bytes no host name has" :
		    "the name is not on the sandbox's allow_net list");
		answer(r, s, tcp, cid, peer, &q, NP_DNS_REFUSED, NULL, 0);
		return;
	}
	if (q.qtype != NP_DNS_TYPE_A && q.qtype != NP_DNS_TYPE_ANY) {
		/* AAAA and the rest: an empty answer while there is no IPv6,
		 * and nothing goes upstream for them. */
		answer(r, s, tcp, cid, peer, &q, NP_DNS_NOERROR, NULL, 0);
		return;
	}
	if (s->inflight >= RES_MAX_INFLIGHT) {
		answer(r, s, tcp, cid, peer, &q, NP_DNS_SERVFAIL, NULL, 0);
		return;
	}
	rq = calloc(1, sizeof(*rq));
	if (rq == NULL) {
		answer(r, s, tcp, cid, peer, &q, NP_DNS_SERVFAIL, NULL, 0);
		return;
	}
	rq->r = r;
	snprintf(rq->id, sizeof(rq->id), "%s", s->id);
	rq->gen = s->gen;
	rq->tcp = tcp;
	rq->cid = cid;
	if (peer != NULL)
		rq->peer = *peer;
	rq->q = q;
	rq->next = r->rqs;
	r->rqs = rq;
	s->inflight++;
	for (i = 0; i < r->nov && rq->nrr < RES_MAX_ANSWERS; i++)
		if (strcmp(r->ov[i].name, q.name) == 0) {
			rq->rr[rq->nrr].addr = r->ov[i].addr;
			rq->rr[rq->nrr].ttl = RES_TTL_OVERRIDE;
			rq->nrr++;
		}
	if (rq->nrr > 0) {
		rq->st = RQ_ALLOW;
		rq->rcode = NP_DNS_NOERROR;
		rq_resolved(r, rq);
		return;
	}
	rq->st = RQ_UPSTREAM;
	r->upstream++;
	ares_query(r->ch, q.name, 1 /* IN */, 1 /* A */, upstream_cb, rq);
}

static void
udp_read(struct np_res *r, struct rsbx *s)
{
	uint8_t buf[RES_OUT_MAX];
	struct sockaddr_in peer;
	socklen_t plen;
	ssize_t n;
	int i;

	for (i = 0; i < RES_UDP_BATCH; i++) {
		plen = sizeof(peer);
		n = recvfrom(s->udp, buf, sizeof(buf), MSG_DONTWAIT,
		    (struct sockaddr *)&peer, &plen);
		if (n < 0)
			return;
		if (plen != sizeof(peer) || peer.sin_family != AF_INET)
			continue;
		query(r, s, 0, 0, &peer, buf, (size_t)n);
		if (sbx_find(r, s->id) != s)
			return;
	}
}

static void
tcp_accept(struct np_res *r, struct rsbx *s)
{
	struct rconn *c;
	int fd;

	fd = accept4(s->tcp, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		/* Out of descriptors: the listener stays readable, so leave
		 * it alone for a while rather than spin. */
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			s->accept_ok_ms = sg_mono_ms() + RES_PAUSE_MS;
		return;
	}
	if (r->nconns >= RES_TCP_TOTAL && s->nconns == 0) {
		close(fd);	/* the guest may retry over UDP */
		return;
	}
	if (s->nconns >= RES_TCP_CONNS || r->nconns >= RES_TCP_TOTAL) {
		/* the oldest idle one makes room */
		struct rconn *old = s->conns, *p;

		for (p = s->conns; p != NULL; p = p->next)
			if (p->idle_ms < old->idle_ms)
				old = p;
		conn_close(s, old);
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->cid = ++r->cid;
	c->idle_ms = sg_mono_ms() + RES_TCP_IDLE_MS;
	c->next = s->conns;
	s->conns = c;
	s->nconns++;
	r->nconns++;
}

static void
tcp_read(struct np_res *r, struct rsbx *s, struct rconn *c)
{
	const uint8_t *msg;
	size_t mlen, used;
	uint64_t cid = c->cid;
	ssize_t n;
	int k;

	n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen,
	    MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(s, c);
		return;
	}
	if (n < 0)
		return;
	c->inlen += (size_t)n;
	c->idle_ms = sg_mono_ms() + RES_TCP_IDLE_MS;
	for (;;) {
		k = np_dns_tcp_frame(c->in, c->inlen, &msg, &mlen, &used);
		if (k < 0 || (k == 0 && c->inlen == sizeof(c->in))) {
			conn_close(s, c);	/* zero length, or too large */
			return;
		}
		if (k == 0)
			return;
		query(r, s, 1, cid, NULL, msg, mlen);
		/* the connection may have been closed by a failed reply */
		if (sbx_find(r, s->id) != s)
			return;
		for (c = s->conns; c != NULL && c->cid != cid; c = c->next)
			;
		if (c == NULL)
			return;
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
}

size_t
np_res_pollfds(struct np_res *r, struct pollfd *pfd, size_t max)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct rsbx *s;
	struct rconn *c;
	size_t n = 0;
	unsigned bits;
	int i;
	int64_t now = sg_mono_ms();

#define ADD(f, ev) do { \
	if (n < max) \
		pfd[n] = (struct pollfd){ .fd = (f), .events = (ev) }; \
	n++; \
} while (0)
	for (s = r->sbxs; s != NULL; s = s->next) {
		ADD(s->udp, POLLIN);
		if (s->tcp >= 0 && now >= s->accept_ok_ms)
			ADD(s->tcp, POLLIN);
		for (c = s->conns; c != NULL; c = c->next)
			ADD(c->fd, POLLIN);
	}
	/* The bit mask is read with unsigned shifts: c-ares' own
	 * ARES_GETSOCK_WRITABLE shifts a signed 1 into bit 31. */
	bits = (unsigned)ares_getsock(r->ch, socks, ARES_GETSOCK_MAXNUM);
	for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short ev = 0;

		if (bits & (1u << i))
			ev |= POLLIN;
		if (bits & (1u << (i + ARES_GETSOCK_MAXNUM)))
			ev |= POLLOUT;
		if (ev)
			ADD(socks[i], ev);
	}
#undef ADD
	return n;
}

int
np_res_timeout_ms(struct np_res *r)
{
	struct timeval max = { 60, 0 }, tv, *t;
	struct rsbx *s;
	struct rconn *c;
	int64_t now = sg_mono_ms(), ms;

	t = ares_timeout(r->ch, &max, &tv);
	ms = (int64_t)t->tv_sec * 1000 + t->tv_usec / 1000 + 1;
	for (s = r->sbxs; s != NULL; s = s->next) {
		if (s->accept_ok_ms > now && s->accept_ok_ms - now < ms)
			ms = s->accept_ok_ms - now;
		for (c = s->conns; c != NULL; c = c->next)
			if (c->idle_ms - now < ms)
				ms = c->idle_ms - now;
	}
	return ms < 0 ? 0 : (int)ms;
}

void
np_res_events(struct np_res *r, const struct pollfd *pfd, size_t n)
{
	struct rsbx *s, *snext;
	struct rconn *c, *cnext;
	size_t i;
	int64_t now;
	int done;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		done = 0;
		for (s = r->sbxs; s != NULL && !done; s = snext) {
			snext = s->next;
			if (pfd[i].fd == s->udp) {
				udp_read(r, s);
				done = 1;
			} else if (s->tcp >= 0 && pfd[i].fd == s->tcp) {
				tcp_accept(r, s);
				done = 1;
			} else {
				for (c = s->conns; c != NULL; c = c->next)
					if (c->fd == pfd[i].fd) {
						tcp_read(r, s, c);
						done = 1;
						break;
					}
			}
		}
		if (!done)
			ares_process_fd(r->ch,
			    pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ?
			    pfd[i].fd : ARES_SOCKET_BAD,
			    pfd[i].revents & POLLOUT ? pfd[i].fd :
			    ARES_SOCKET_BAD);
	}
	/* c-ares timeouts and retries, then idle TCP connections */
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	now = sg_mono_ms();
	for (s = r->sbxs; s != NULL; s = s->next)
		for (c = s->conns; c != NULL; c = cnext) {
			cnext = c->next;
			if (now >= c->idle_ms)
				conn_close(s, c);
		}
}

void
np_res_stats(const struct np_res *r, uint64_t *ret_answered,
    uint64_t *ret_refused, uint64_t *ret_upstream)
{
	*ret_answered = r->answered;
	*ret_refused = r->refused;
	*ret_upstream = r->upstream;
}
