/* sg_mon: sandgated's privileged process (docs/architecture.md).
 *
 * The monitor owns what needs root: the listening socket, the host key,
 * the tokens file, libvirt and the control socket. It forks one worker
 * per connection and answers the workers' fixed requests (mpipe.h). */
#ifndef SG_MONITOR_H
#define SG_MONITOR_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

struct np_res_override;
struct sg_poolspec_ent;

/* Everything the monitor needs, resolved from sandgate.conf by the
 * caller. Strings are borrowed for the monitor's whole run. */
struct sg_mon_cfg {
	const char *config_path;	/* for messages */
	const char *listen;		/* "ADDR:PORT" or "[V6]:PORT" */
	const char *host_key;
	const char *tokens;
	const char *state_dir;
	const char *control_socket;
	const char *metrics;		/* "off", a socket path or ADDR:PORT */
	unsigned max_snapshots;		/* per token */
	uint64_t snapshot_quota_gb;	/* per token */
	uint64_t hibernate_after_s;	/* 0: never */
	uint64_t max_hibernated_s;
	unsigned max_volumes;		/* per token */
	uint64_t volume_quota_gb;	/* per token, of their sizes */
	/* [sandbox] warm_pool: members kept per image ("": image) */
	const struct sg_poolspec_ent *pool;
	size_t npool;
	const char *audit_log;
	const char *libvirt_uri;
	const char *domain_type;	/* auto | kvm | qemu */
	const char *image;
	const char *image_dir;
	unsigned memory_mb, vcpus, disk_gb;
	uint64_t max_lifetime_s, idle_timeout_s, boot_timeout_s;
	const char *transport;		/* auto | vsock | virtio-serial */
	unsigned max_sandboxes;		/* per token, unless the token says */
	const char *user;		/* unprivileged user for workers */
	const char *control_user;	/* SSH user of the control interface */
	uint32_t uid_first, uid_last;	/* [gateway] uid_range: shims */
	const char *shim_program;
	uint64_t auth_delay_ms;
	/* pre-authentication limits, like sshd's */
	unsigned startups_start, startups_rate, startups_full;
	unsigned per_source_max;	/* unauthenticated per source block */
	unsigned block_v4, block_v6;	/* prefix lengths of a source block */
	unsigned kex_timeout_s, login_grace_s;
	/* [network] */
	uint32_t pool_net;		/* host byte order */
	unsigned pool_prefix;
	const char *dns;		/* NULL: the host's resolvers */
	const char *nft_table;
	const struct np_res_override *ov;	/* resolve = NAME:ADDR (IPv4) */
	size_t nov;
	/* [proxy] */
	uint16_t proxy_port;		/* 0: no proxy */
	const char *proxy_user;
	const char *proxy_program;
	unsigned proxy_max_conns;
	const char *extra_ca;		/* NULL: none */
	/* [expose]: expose_port 0 when unset (no front) */
	const char *expose_host;
	uint16_t expose_port;
	const char *expose_domain, *expose_cert, *expose_key;
	const char *expose_user, *expose_program;
	unsigned expose_max_conns, expose_max_ports;
	int detach;			/* fork first; the parent exits once set up */
};

/* Sets everything up (errors are reported while the caller's stderr and
 * exit status still reach whoever started it), detaches if cfg->detach,
 * then runs the service until SIGTERM or SIGINT. Returns 0 on a clean
 * stop, or a negative errno after logging why the service cannot run. */
int sg_mon_run(const struct sg_mon_cfg *cfg);

#endif
