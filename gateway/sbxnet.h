/* sg_net: the monitor's side of the network policy, per sandbox.
 *
 * A sandbox gets slot k of `[network] pool`: the /30 at pool + 4k, the
 * host side at .1 (its gateway and DNS server) and the guest at .2, and a
 * tap named sg-<id>. Before its domain starts, the tap exists, is
 * addressed and up, and the sandbox's elements are in the nftables table
 * (netpolicy/nft.h); both go when it is destroyed. Slots are recorded in
 * <state_dir>/net/<id> so a restarted sandgated adopts them.
 *
 * sg_net_allow() is how DNS answers open the firewall: the shim's resolver
 * asks, and this checks the request again against the sandbox's own
 * allow_net (the shim handles guest bytes and is not trusted to decide). */
#ifndef SG_SBXNET_H
#define SG_SBXNET_H

#include <stddef.h>
#include <stdint.h>

struct sg_allow;
struct np_res_override;
struct sg_net;

struct sg_net_cfg {
	uint32_t pool_net;	/* host byte order */
	unsigned pool_prefix;	/* 8..30 */
	const char *table;	/* NULL: "sandgate" */
	const char *state_dir;	/* absolute */
	/* [network] resolve, IPv4 ones: an override may point a name at an
	 * internal address (split horizon); public answers may not. */
	const struct np_res_override *ov;
	size_t nov;
	uint16_t proxy_port;	/* 0: TCP 80/443 refused, else redirected */
	int has_front;		/* sandgate-front runs as front_uid */
	uint32_t front_uid;
};

/* The addresses of one sandbox, host byte order. */
struct sg_net_addr {
	char tap[16];
	uint32_t host, guest;
	unsigned prefix;	/* 30 */
};

/* Creates or refreshes the table (fail closed: no window), turns on IPv4
 * forwarding, and makes <state_dir>/net. */
int sg_net_open(const struct sg_net_cfg *cfg, struct sg_net **ret,
    char **ret_err);
void sg_net_close(struct sg_net *n);

/* Sets up sandbox id: a new slot, or (adopt) the one recorded for it.
 * allow is ent[0..nent) parsed; a new sandbox's entries are recorded
 * with its slot so that a restarted sandgated keeps its policy. ent may
 * also hold "secret NAME PLACEHOLDER" lines (no allow_net entry has a
 * space): recorded with the rest, not parsed here. Fills
 * *ret. On error nothing of it is left. */
int sg_net_add(struct sg_net *n, const char *id, const struct sg_allow *allow,
    const char *const *ent, size_t nent, int adopt, struct sg_net_addr *ret,
    char **ret_err);
/* Gives sandbox id, which has its network, another policy: its record
 * is written again with ent and its rules replaced in one nftables
 * transaction (a warm pool member claimed by a token). Its tap, address
 * and slot stay. On error the caller must sg_net_del() it. */
int sg_net_update(struct sg_net *n, const char *id, const struct sg_allow *allow,
    const char *const *ent, size_t nent, char **ret_err);
/* Writes sandbox id's record again with ent (what it was made with
 * changed: a port exposed); its rules stay. */
int sg_net_rerecord(struct sg_net *n, const char *id, const char *const *ent,
    size_t nent, char **ret_err);
/* The allow_net entries recorded for sandbox id (the caller frees each
 * and the array). */
int sg_net_recorded_allow(struct sg_net *n, const char *id, char ***ret_ent,
    size_t *ret_nent);
/* Removes its tap, its nftables elements, the connection tracking
 * entries of its addresses, and its slot. */
void sg_net_del(struct sg_net *n, const char *id);
/* Removes taps and slot records (those recorded in this state_dir) and
 * elements (in this table) of sandboxes that alive() does not know:
 * leftovers of a crash. Another sandgated's taps are never touched. */
void sg_net_sweep(struct sg_net *n, int (*alive)(void *arg, const char *id),
    void *arg);

/* The DNS resolver's sockets for a sandbox: UDP and a listening TCP
 * socket, both on host:53. */
int sg_net_dns_sockets(const struct sg_net_addr *a, int *ret_udp,
    int *ret_tcp, char **ret_err);

/* Lets sandbox id reach addrs (4 bytes each, network order) on the ports
 * allow gives name, for about ttl seconds each. Returns 0, or -EPERM when
 * the name or an address is not allowed (nothing is added then), or the
 * error of a failed nftables change (elements added before it stay, as
 * allowed ones: they expire). */
int sg_net_allow(struct sg_net *n, const char *id, const struct sg_allow *allow,
    const char *name, const uint8_t *addrs, const uint32_t *ttls, size_t cnt,
    char **ret_err);

/* The ports sandgate-front may connect to: ports[i] of sandbox ids[i],
 * i < n, replacing all there were (sandboxes without a network are
 * skipped). */
int sg_net_set_exposed(struct sg_net *n, const char *const *ids,
    const uint16_t *ports, size_t count, char **ret_err);

/* Packets and bytes dropped from the sandbox's tap. */
int sg_net_counters(struct sg_net *n, const char *id, uint64_t *ret_packets,
    uint64_t *ret_bytes);
/* The reasons the policy drops packets for (NULL-terminated), and the
 * packets and bytes dropped for one of them, over all sandboxes. */
const char *const *sg_net_drop_reasons(void);
int sg_net_reason_counters(struct sg_net *n, const char *reason,
    uint64_t *ret_packets, uint64_t *ret_bytes);

#endif
