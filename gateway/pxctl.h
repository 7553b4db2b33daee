/* sg_pxc: the monitor's side of sandgate-proxy (common/pxfeed.h).
 *
 * The monitor binds the proxy's port once, as root, and keeps it across
 * proxy restarts. sg_pxc_spawn() starts the proxy as [proxy] user with
 * that socket, one end of the feed and its rendezvous socket, and sends
 * CONFIG; READY (the CA the guests must trust) comes back later on the
 * monitor's loop (sg_pxc_ready). The monitor then sends the secrets of
 * every token (sg_pxc_send_tokens, values resolved here and wiped at
 * once) and each sandbox's policy. Sends go through the feed's queue
 * (sg_mpq): they never wait. */
#ifndef SG_PXCTL_H
#define SG_PXCTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/pxfeed.h"

struct sg_buf;
struct sg_mpq;
struct sg_tokens;
struct np_res_override;

/* SG_FEED_PH_PREFIX + 32 hex digits (common/pxfeed.h) */
#define SG_PXC_PH_LEN SG_FEED_PH_LEN

struct sg_pxc_cfg {
	const char *program;
	const char *user;
	const char *state_dir;		/* the CA lives in state_dir/proxy */
	const char *extra_ca;		/* a file, or NULL */
	const char *dns;		/* NULL: the host's resolv.conf */
	unsigned max_conns;
	uint32_t pool_net;		/* [network] pool, host order */
	unsigned pool_prefix;
	const struct np_res_override *ov;
	size_t nov;
	int debug;			/* sandgate-proxy --debug */
};

/* Listens on 0.0.0.0:port (-EADDRINUSE while an old proxy holds it). */
int sg_pxc_listen(uint16_t port, int *ret_fd, char **ret_err);

/* Starts the proxy with listen_fd (descriptor 3) and rdv_fd (a bound
 * unix socket it listens on, descriptor 5) and sends CONFIG; on success
 * *ret_pid and *ret_fd (the feed, a non-blocking SOCK_SEQPACKET) are
 * set. */
int sg_pxc_spawn(const struct sg_pxc_cfg *c, int listen_fd, int rdv_fd,
    pid_t *ret_pid, int *ret_fd, char **ret_err);

/* Decodes a READY message (type byte included): the CA (*ret_ca, PEM). */
int sg_pxc_ready(const uint8_t *p, size_t n, char **ret_ca);

/* Sends every token's secrets (TOKENS_BEGIN .. TOKENS_END). t must still
 * hold the literal values (call before sg_tokens_forget_secrets). */
int sg_pxc_send_tokens(int fd, struct sg_mpq *q, struct sg_buf *msg,
    const struct sg_tokens *t);

int sg_pxc_send_sandbox(int fd, struct sg_mpq *q, struct sg_buf *msg,
    const char *id, const char *token, uint32_t addr, char *const *allow,
    size_t nallow, char *const *ph_name, char *const *ph_value, size_t nph);
int sg_pxc_send_drop(int fd, struct sg_mpq *q, struct sg_buf *msg,
    const char *id);
/* START: everything known so far was sent; the proxy starts accepting. */
int sg_pxc_send_start(int fd, struct sg_mpq *q, struct sg_buf *msg);
/* RESYNC: the first request to a proxy a monitor before us started. */
int sg_pxc_send_resync(int fd, struct sg_mpq *q, struct sg_buf *msg);

/* A new placeholder into out (SG_PXC_PH_LEN + 1 bytes). */
int sg_pxc_placeholder(char *out, size_t outsz);

/* Writes the AUDIT message p[0..n) (after the type byte) to the audit
 * log. -EPROTO for anything malformed. *note gets what /metrics counts:
 * the event, a proxy_request's decision and how many secrets it used. */
struct sg_pxc_note {
	char event[32];
	char decision[32];
	unsigned nsecrets;
};
int sg_pxc_audit(const uint8_t *p, size_t n, struct sg_pxc_note *note);

#endif
