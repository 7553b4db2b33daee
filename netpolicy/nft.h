/* np_nft: sandgate's nftables ruleset, through libnftables.
 *
 * sandgate owns one table, "inet sandgate" by default (the name is a
 * parameter so tests use their own), and never touches any other table.
 * Every change is one libnftables batch (one kernel transaction), so the
 * kernel sees either the whole change or none of it. The rules stay in the
 * kernel when the daemon dies: traffic from a sandbox tap fails closed.
 *
 * Shape of the table (P = the tap prefix, default "sg-"; POOL = the
 * sandbox pool; T = the set @taps, this table's taps, one element per
 * sandbox; every rule matches only an interface in T, or POOL leaving
 * through a non-P* interface; every base chain has policy accept, so
 * other host traffic, and the taps of a second sandgated with a table of
 * its own under the same prefix, are untouched):
 *
 *   raw_pre   filter prerouting, priority raw (-300, before conntrack):
 *             IPv6 from T dropped (ipv6); T packets jump to the tap's
 *             pre_<tap> chain, which accepts only the guest's address;
 *             anything else from T (a wrong source) dropped (spoof).
 *   nat_pre   nat prerouting: TCP 80/443 from T redirected to the proxy
 *             port (only when proxy_port != 0).
 *   filt_in   filter input: from T: established/related accepted; with a
 *             proxy, TCP to the proxy port accepted only for redirected
 *             connections (ct status dnat, original port 80 or 443);
 *             without one, TCP 80/443 reset (web); then the tap's in_<tap>
 *             chain accepts UDP/TCP 53 and ICMP echo-request to the tap's
 *             own host-side address; everything else dropped (host).
 *   filt_fwd  filter forward: from T to POOL or to any P* interface
 *             dropped (sandbox); new traffic toward T, from anywhere
 *             (another sandgated's guests too), dropped (inbound), replies
 *             accepted; from T: established/related accepted, UDP dropped
 *             (udp; port 443 rejected with port-unreachable so QUIC falls
 *             back at once), without a proxy TCP 80/443 reset (web); TCP
 *             jumps to the tap's fwd_<tap> chain (allow-all, literal
 *             CIDR[:port] rules, and the dynamic sets dyn_<tap>
 *             {addr . port} and dynany_<tap> {addr}, both with per-element
 *             timeouts); ICMP (icmp), other TCP (tcp) and the rest (other)
 *             dropped.
 *   filt_out  filter output: toward T: established/related accepted (the
 *             proxy's and the resolver's answers, the host's resets and
 *             ICMP errors); with a front (has_front), TCP from a
 *             socket of that uid to a tap and port in the set @exposed
 *             {ifname . port} accepted (sandgate-front reaching an
 *             exposed port); anything else, a connection a host process
 *             opens into a tap, dropped (local).
 *   nat_post  nat postrouting: POOL leaving through a non-P* interface is
 *             masqueraded.
 *
 * A tap is in T from before it exists (np_nft_add_sandbox() comes before
 * np_tap_create()) until after it is gone (np_nft_del_sandbox() after
 * np_tap_delete()); np_nft_setup() over a table that has sandboxes keeps
 * their taps in T in the same transaction.
 * Per-sandbox objects are named after the tap: chains pre_<tap>, in_<tap>,
 * fwd_<tap> (reached through the verdict maps pre_map, in_map, fwd_map,
 * keyed by interface name), sets dyn_<tap> and dynany_<tap>, and a counter
 * c_<tap> (reached through the map dropctr, ifname : counter) that counts
 * every packet dropped or rejected from that tap. The named counters
 * d_total and d_<reason> count drops of all sandboxes; reasons are listed
 * in np_nft_reasons. Because everything a sandbox owns is named after its
 * tap, np_nft_del_sandbox() needs only the tap name.
 *
 * Errors: functions return 0 or a negative errno (-EINVAL for a bad
 * argument, -ENOENT when the table or sandbox is missing, -EPERM without
 * CAP_NET_ADMIN, -EIO for another refusal by nftables) and fill ret_
 * out-parameters only on success. Where a function takes char **ret_msg
 * (NULL allowed), a failure sets it to a one-line message for users, which
 * the caller frees (NULL when out of memory). Nothing a caller passes is
 * put into nftables syntax unchecked: names are validated, addresses are
 * formatted from binary, ports and timeouts are integers.
 * Not thread-safe: one struct np_nft per thread. */
#ifndef NP_NFT_H
#define NP_NFT_H

#include <stddef.h>
#include <stdint.h>

#define NP_NFT_TABLE_DEFAULT "sandgate"
#define NP_NFT_TAP_PREFIX_DEFAULT "sg-"
#define NP_NFT_TABLE_MAX 32      /* [a-z][a-z0-9_]{0,31} */
#define NP_NFT_IFNAME_MAX 15     /* [a-z0-9-]{1,15}, as IFNAMSIZ - 1 */
#define NP_NFT_LITS_MAX 1024     /* literal entries per sandbox */
#define NP_NFT_TIMEOUT_MAX (7u * 24 * 3600)  /* seconds, np_nft_allow */

struct np_nft;

/* What np_nft_open() needs. Strings are copied. All addresses in this
 * header are IPv4 in host byte order (0x0a000001 is 10.0.0.1). */
struct np_nft_cfg {
	const char *table;       /* NULL: NP_NFT_TABLE_DEFAULT */
	const char *tap_prefix;  /* NULL: NP_NFT_TAP_PREFIX_DEFAULT; [a-z0-9-]{1,14} */
	uint32_t pool_net;       /* no bits set past pool_prefix */
	unsigned pool_prefix;    /* 1..30 */
	uint16_t proxy_port;     /* 0: no proxy, TCP 80/443 get a reset */
	int has_front;           /* 0: no front; 1: front_uid is the one user
	                          * whose new TCP connections into a tap are
	                          * accepted, to the ports in @exposed */
	uint32_t front_uid;
};

/* A literal allowlist entry: TCP to net/prefix, on port (0: any port). */
struct np_nft_lit {
	uint32_t net;
	unsigned prefix;         /* 0..32; bits past it are ignored */
	uint16_t port;
};

/* Drop reasons, each with a counter d_<reason>; NULL-terminated. */
extern const char *const np_nft_reasons[];

/* Checks a table name, a tap prefix, a tap name: 1 if valid, else 0.
 * np_nft_tap_valid() checks only the characters and the length. */
int np_nft_table_valid(const char *s);
int np_nft_prefix_valid(const char *s);
int np_nft_tap_valid(const char *s);

/* Validates cfg and opens a libnftables context. Touches no rules.
 * The caller frees *ret with np_nft_close(). */
int np_nft_open(const struct np_nft_cfg *cfg, struct np_nft **ret, char **ret_msg);
/* Frees n; NULL is accepted. The rules stay in the kernel. */
void np_nft_close(struct np_nft *n);

/* Creates the table or brings it up to date, in one batch: global chains
 * are flushed and refilled in the same transaction, maps, sets, counters
 * and per-sandbox chains are kept. Safe to run again at every start: no
 * packet from a tap passes in between. */
int np_nft_setup(struct np_nft *n, char **ret_msg);
/* Deletes the whole table (tests, uninstall); 0 if it does not exist. */
int np_nft_teardown(struct np_nft *n, char **ret_msg);

/* Installs or replaces a sandbox's policy in one batch: its tap (which
 * must start with the prefix), its guest address, its host-side address,
 * allow_all (TCP anywhere but the pool and the host, for allow_net "*"),
 * and nlits literal entries. Dynamic entries and the drop counter of an
 * existing sandbox are kept. */
int np_nft_add_sandbox(struct np_nft *n, const char *tap, uint32_t guest_addr,
		       uint32_t host_addr, int allow_all,
		       const struct np_nft_lit *lits, size_t nlits, char **ret_msg);
/* Allows TCP from tap to addr on port (0: any port) for timeout_s seconds
 * (1..NP_NFT_TIMEOUT_MAX); allowing it again restarts the timeout.
 * -ENOENT if the sandbox does not exist. */
int np_nft_allow(struct np_nft *n, const char *tap, uint32_t addr, uint16_t port,
		 uint32_t timeout_s, char **ret_msg);
/* Replaces the whole set @exposed (the ports sandgate-front may reach)
 * with taps[i] . ports[i], i < n, in one batch. */
int np_nft_set_exposed(struct np_nft *n, const char *const *taps,
		       const uint16_t *ports, size_t count, char **ret_msg);
/* Removes every element and object of a sandbox in one batch; 0 if it has
 * none. Accepts any valid tap name, even one with another prefix. */
int np_nft_del_sandbox(struct np_nft *n, const char *tap, char **ret_msg);

/* Packets and bytes dropped or rejected from tap, or from all sandboxes
 * when tap is NULL. -ENOENT if there is no such sandbox. */
int np_nft_counters(struct np_nft *n, const char *tap, uint64_t *ret_packets,
		    uint64_t *ret_bytes, char **ret_msg);
/* The same for one reason of np_nft_reasons (all sandboxes). */
int np_nft_reason_counters(struct np_nft *n, const char *reason,
			   uint64_t *ret_packets, uint64_t *ret_bytes, char **ret_msg);

/* Taps that own anything in the table (to remove leftovers at start), as
 * a sorted array of *ret_n strings; free with sg_strv_free(). */
int np_nft_list_taps(struct np_nft *n, char ***ret, size_t *ret_n, char **ret_msg);

#endif
