/* np_res: the DNS resolver each sandbox sees on its host-side address.
 *
 * It answers only names on the sandbox's allow_net list; every other name
 * gets REFUSED and is never sent upstream, so a guest cannot tunnel data
 * out through DNS. An allowed name is answered from the `[network]
 * resolve` overrides first, else resolved upstream with c-ares (the host's
 * resolvers, or [network] dns). Upstream addresses in internal ranges
 * (sg_addr_is_internal) are dropped unless a literal allow_net entry
 * names them: a public name cannot be made to point into the host's
 * networks (DNS rebinding). Overrides are the administrator's and exempt.
 * AAAA and other types get an empty answer while the sandbox has no IPv6.
 *
 * Before an answer reaches the guest, the firewall must let the guest
 * reach its addresses: the resolver calls ops->allow and holds the
 * answer until the owner calls np_res_allowed with the same sequence
 * number (the monitor adds the nftables elements in between).
 *
 * Queries are rate-limited per sandbox (a token bucket; excess queries
 * are dropped) and bounded in flight. UDP and TCP (RFC 7766 framing, a
 * few connections per sandbox, idle ones closed) are both served.
 *
 * The resolver runs in an unprivileged process (the sandbox's shim). It owns the
 * sockets given to it; everything arrives from the guest and is parsed
 * by np_dns_parse_query (fuzzed). */
#ifndef NP_RESOLVER_H
#define NP_RESOLVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "common/allow.h"
#include "netpolicy/dnsmsg.h"

struct np_res;

struct np_res_ops {
	/* The guest asked for name (allowed); addrs are what it will be
	 * told. Return 0 and later call np_res_allowed(seq), or a negative
	 * errno to answer SERVFAIL at once. */
	int (*allow)(void *arg, const char *id, uint32_t seq, const char *name,
	    const struct np_dns_rr *addrs, size_t n);
	/* A query was refused (name off the list, odd bytes, rate): for
	 * the audit log. name is printable (np_dns_query.printable). */
	void (*refused)(void *arg, const char *id, const char *name,
	    const char *why);
};

/* One `[network] resolve` override (IPv4 only; others are ignored). */
struct np_res_override {
	const char *name;	/* normalised */
	struct in_addr addr;
};

/* servers: "ADDR[:PORT],..." for c-ares, or NULL for the host's
 * /etc/resolv.conf (read now, so this must run before a chroot). */
int np_res_new(const struct np_res_ops *ops, void *arg, const char *servers,
    const struct np_res_override *ov, size_t nov, struct np_res **ret,
    char **ret_msg);
void np_res_free(struct np_res *r);

/* Serves sandbox id on udp_fd and tcp_fd (a listening socket, or -1 to
 * give it later with np_res_set_tcp), both bound to its host-side
 * address; takes ownership of the fds and of allow (also on error). */
int np_res_add(struct np_res *r, const char *id, int udp_fd, int tcp_fd,
    struct sg_allow *allow);
int np_res_set_tcp(struct np_res *r, const char *id, int tcp_fd);
/* Stops serving id and closes its sockets; answers in flight are lost. */
void np_res_del(struct np_res *r, const char *id);
/* The firewall is (ok) or is not (!ok) open for the answer seq. */
void np_res_allowed(struct np_res *r, const char *id, uint32_t seq, int ok);

/* Poll integration: np_res_pollfds fills up to max entries (returns how
 * many it needs, which may be more than max), np_res_timeout_ms gives
 * the longest the caller may sleep, and np_res_events handles what poll
 * reported for those entries (and timers, whatever poll returned). */
size_t np_res_pollfds(struct np_res *r, struct pollfd *pfd, size_t max);
int np_res_timeout_ms(struct np_res *r);
void np_res_events(struct np_res *r, const struct pollfd *pfd, size_t n);

/* Totals since start, for logs and tests. */
void np_res_stats(const struct np_res *r, uint64_t *ret_answered,
    uint64_t *ret_refused, uint64_t *ret_upstream);

#endif
