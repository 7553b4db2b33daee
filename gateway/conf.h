/* sg_conf: sandgate.conf, the gateway's configuration file (inih syntax).
 *
 * Every key is optional and has a default; every value is validated when
 * the file is loaded, so a running gateway never meets a bad value. Unknown
 * sections, unknown keys, keys set twice and sections written twice are
 * errors. Error messages are one line:
 *
 *   FILE:LINE: [section] key = value: what is wrong (and what to do)
 *
 * The loaded configuration is an opaque, read-only struct sg_conf. Values
 * are read through one key enum:
 *   sg_conf_str(c, k)  the value as text (the default when unset; paths
 *                      without trailing slashes; NULL for an unset
 *                      optional key such as SG_CONF_EXTRA_CA),
 *   sg_conf_num(c, k)  numbers: integers as such, durations in seconds,
 *                      enums as their enum value (0 for text keys),
 * plus typed getters for the compound keys (listen, pool, resolve).
 * The file is read with common/ini.h, as the tokens file is. */
#ifndef SG_CONF_H
#define SG_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sg_conf;

enum sg_conf_key {
	/* [gateway] */
	SG_CONF_LISTEN,          /* "0.0.0.0:2222"; IPV4:PORT or [IPv6]:PORT */
	SG_CONF_HOST_KEY,        /* STATE_DIR "/ssh_host_ed25519_key" */
	SG_CONF_TOKENS,          /* SG_SYSCONFDIR "/sandgate/tokens.conf" */
	SG_CONF_STATE_DIR,       /* SG_LOCALSTATEDIR "/lib/sandgate" */
	SG_CONF_CONTROL_SOCKET,  /* SG_RUNSTATEDIR "/sandgate/control.sock" */
	SG_CONF_AUDIT_LOG,       /* SG_LOCALSTATEDIR "/log/sandgate/audit.jsonl" */
	SG_CONF_USER,            /* "sandgate": unprivileged user of workers */
	SG_CONF_AUTH_DELAY,      /* 1s, 1s..60s: base delay after a failed auth */
	SG_CONF_UID_RANGE,       /* SG_CONF_UID_RANGE_DEFAULT: one uid per sandbox */
	SG_CONF_SHIM_PROGRAM,    /* SG_LIBEXECDIR "/sandgate-shim" */
	SG_CONF_CONTROL_USER,    /* "sandgate": SSH user of the control interface */
	SG_CONF_MAX_STARTUPS,    /* "10:30:100"; START:RATE:FULL, see sg_conf_startups */
	SG_CONF_PER_SOURCE_MAX_STARTUPS, /* 10, 1..10000: unauthenticated per source block */
	SG_CONF_PER_SOURCE_NET_BLOCK,    /* "32:64"; V4:V6 prefix lengths of a source */
	SG_CONF_KEX_TIMEOUT,     /* 30s, 1s..10m: until the key exchange completes */
	SG_CONF_LOGIN_GRACE_TIME, /* 60s, 1s..1h: until authentication completes */
	SG_CONF_METRICS,         /* SG_RUNSTATEDIR "/sandgate/metrics.sock"; "off",
	                          * a unix socket path, or ADDRESS:PORT */
	/* [libvirt] */
	SG_CONF_LIBVIRT_URI,     /* "qemu:///system" */
	SG_CONF_DOMAIN_TYPE,     /* enum sg_conf_domain_type, default auto */
	/* [sandbox] */
	SG_CONF_IMAGE,           /* "default"; [a-z0-9][a-z0-9._-]{0,63} */
	SG_CONF_IMAGE_DIR,       /* STATE_DIR "/images" */
	SG_CONF_MEMORY_MB,       /* 1024, 768..4096 */
	SG_CONF_VCPUS,           /* 2, 1..64 */
	SG_CONF_DISK_GB,         /* 10, 1..1024 */
	SG_CONF_MAX_LIFETIME,    /* 30m, 1s..365d */
	SG_CONF_IDLE_TIMEOUT,    /* 10m, 1s..365d */
	SG_CONF_TRANSPORT,       /* enum sg_conf_transport, default auto */
	SG_CONF_BOOT_TIMEOUT,    /* 60s, 1s..1h */
	SG_CONF_MAX_SANDBOXES,   /* 5, 1..1000: default per token */
	SG_CONF_MAX_SNAPSHOTS,   /* 10, 0..1000: snapshots a token may keep */
	SG_CONF_SNAPSHOT_QUOTA_GB, /* 20, 1..100000: GiB of them, per token */
	SG_CONF_HIBERNATE_AFTER, /* 0 (off), 0..365d: a named sandbox idle so
	                          * long is hibernated */
	SG_CONF_MAX_HIBERNATED,  /* 7d, 1s..365d: how long one stays so */
	SG_CONF_MAX_VOLUMES,     /* 10, 0..1000: volumes a token may keep */
	SG_CONF_VOLUME_QUOTA_GB, /* 50, 1..100000: GiB of their sizes, per token */
	SG_CONF_WARM_POOL,       /* "0": N, IMAGE:N, ... (poolspec.h) */
	/* [network] */
	SG_CONF_POOL,            /* "10.200.0.0/16"; IPv4 CIDR, prefix 8..30 */
	SG_CONF_RESOLVE,         /* repeatable NAME:ADDR; see sg_conf_resolve_* */
	SG_CONF_DNS,             /* unset (NULL): /etc/resolv.conf; else
	                          * "ADDR[:PORT], ..." IPv4 upstream resolvers */
	SG_CONF_NFT_TABLE,       /* "sandgate"; [a-z][a-z0-9_]{0,31} */
	/* [proxy] */
	SG_CONF_EXTRA_CA,        /* unset (NULL); an absolute path */
	SG_CONF_PROXY_PORT,      /* 3128, 0..65535; 0: no proxy, 80/443 reset */
	SG_CONF_PROXY_USER,      /* "sandgate-proxy": the proxy's own user */
	SG_CONF_PROXY_PROGRAM,   /* SG_SBINDIR "/sandgate-proxy" */
	SG_CONF_PROXY_MAX_CONNS, /* 64, 1..4096: per sandbox, at once */
	/* [expose] (all unset: no port can be exposed) */
	SG_CONF_EXPOSE_LISTEN,   /* unset; ADDRESS:PORT as [gateway] listen */
	SG_CONF_EXPOSE_DOMAIN,   /* unset; a host name: URLs are *.DOMAIN */
	SG_CONF_EXPOSE_CERT,     /* unset; a PEM chain for *.DOMAIN */
	SG_CONF_EXPOSE_KEY,      /* unset; its key, PEM */
	SG_CONF_EXPOSE_USER,     /* "sandgate-front": the front's own user */
	SG_CONF_EXPOSE_PROGRAM,  /* SG_SBINDIR "/sandgate-front" */
	SG_CONF_EXPOSE_MAX_CONNS, /* 64, 1..4096: per sandbox, at once */
	SG_CONF_EXPOSE_MAX_PORTS, /* 8, 1..64: exposed ports per sandbox */
	SG_CONF_KEY_COUNT_
};

enum sg_conf_domain_type {
	SG_CONF_DOMAIN_AUTO,
	SG_CONF_DOMAIN_KVM,
	SG_CONF_DOMAIN_QEMU,
};

enum sg_conf_transport {
	SG_CONF_TRANSPORT_AUTO,
	SG_CONF_TRANSPORT_VSOCK,
	SG_CONF_TRANSPORT_VIRTIO_SERIAL,
};

/* [expose] listen: NULL and 0 when unset. */
const char *sg_conf_expose_host(const struct sg_conf *c);
uint16_t sg_conf_expose_port(const struct sg_conf *c);

/* Limits shared with the per-token overrides of the tokens file. */
/* 2^16 uids from 0x70000000, a range systemd leaves unused (its
 * containers take 0x80000..0x6fffffff); see sandgate.conf(5). */
#define SG_CONF_UID_RANGE_DEFAULT "1879048192-1879113727"
#define SG_CONF_MEMORY_MB_MIN 768
#define SG_CONF_MEMORY_MB_MAX 4096
#define SG_CONF_VCPUS_MIN 1
#define SG_CONF_VCPUS_MAX 64
#define SG_CONF_MAX_SANDBOXES_MAX 1000
#define SG_CONF_LIFETIME_MAX (365ULL * 86400)

/* Loads the configuration file at path (NULL: the default,
 * SG_SYSCONFDIR "/sandgate/sandgate.conf"). A missing file gives the
 * defaults when must_exist is 0 and is an error otherwise. The file must
 * not be writable by group or others, and must belong to root or to the
 * caller (it names files that root opens and writes).
 * On success *ret is a new configuration the caller frees with
 * sg_conf_free(). On failure returns a negative errno (-ENOENT, -EACCES,
 * -EINVAL for a bad file, -ENOMEM, -EIO) and, as the one exception to
 * "ret_ only on success", sets *ret_err (when ret_err is not NULL) to a
 * one-line message the caller frees; *ret_err may be NULL after -ENOMEM. */
int sg_conf_load(const char *path, int must_exist, struct sg_conf **ret, char **ret_err);

/* Same as sg_conf_load() on len bytes of text at data; label names the
 * text in messages. No ownership or mode checks. */
int sg_conf_parse(const char *label, const char *data, size_t len,
		  struct sg_conf **ret, char **ret_err);

/* Frees c; NULL is accepted. */
void sg_conf_free(struct sg_conf *c);

/* Writes c to f as a sandgate.conf that loads back to the same values:
 * the sections in the order of enum sg_conf_key, each key once as
 * "key = value" with defaults (derived ones too) filled in, durations as
 * sg_util_format_duration() writes them, [network] resolve once per
 * entry, and "# key is unset" for an unset optional key. No file or line
 * is named, so printing the printed file gives the same text. Returns 0
 * or -EIO when writing failed. */
int sg_conf_print(const struct sg_conf *c, FILE *f);

/* The value of k as text (see the top of this file). The string belongs
 * to c. */
const char *sg_conf_str(const struct sg_conf *c, enum sg_conf_key k);
/* The value of a number, duration (seconds) or enum key; 0 otherwise. */
uint64_t sg_conf_num(const struct sg_conf *c, enum sg_conf_key k);

/* The file c was read from (its label), "(defaults)" when none was. */
const char *sg_conf_file(const struct sg_conf *c);
/* The line where k was set, 0 when k has its default. For a repeatable
 * key, the line of its first occurrence. With sg_conf_file() this lets
 * later checks (an image that does not exist) name file and line. */
unsigned sg_conf_line(const struct sg_conf *c, enum sg_conf_key k);
/* "[section] key" of k, e.g. "[sandbox] memory_mb"; static storage. */
const char *sg_conf_key_name(enum sg_conf_key k);

/* [gateway] listen, split: the host without brackets ("0.0.0.0", "::",
 * "localhost") and the port. */
const char *sg_conf_listen_host(const struct sg_conf *c);
uint16_t sg_conf_listen_port(const struct sg_conf *c);

/* [network] pool: network address in host byte order and prefix length. */
uint32_t sg_conf_pool_addr(const struct sg_conf *c);
unsigned sg_conf_pool_prefix(const struct sg_conf *c);
/* [gateway] max_startups, like sshd's MaxStartups START:RATE:FULL:
 * with START unauthenticated connections open, a new one is refused with
 * probability RATE%, rising linearly to 100% at FULL. */
void sg_conf_startups(const struct sg_conf *c, unsigned *start,
    unsigned *rate, unsigned *full);
/* [gateway] per_source_net_block: the prefix lengths by which IPv4 and
 * IPv6 sources are counted together. */
void sg_conf_net_block(const struct sg_conf *c, unsigned *v4, unsigned *v6);
/* [gateway] uid_range: the first and last uid, inclusive. */
uint32_t sg_conf_uid_first(const struct sg_conf *c);
uint32_t sg_conf_uid_last(const struct sg_conf *c);

/* [network] resolve entries in file order: the name (lowercase), the
 * address as written (without brackets) and its family (AF_INET or
 * AF_INET6). i must be below sg_conf_resolve_count(). */
size_t sg_conf_resolve_count(const struct sg_conf *c);
const char *sg_conf_resolve_name(const struct sg_conf *c, size_t i);
const char *sg_conf_resolve_addr(const struct sg_conf *c, size_t i);
int sg_conf_resolve_family(const struct sg_conf *c, size_t i);

static inline enum sg_conf_domain_type sg_conf_domain_type(const struct sg_conf *c)
{
	return (enum sg_conf_domain_type)sg_conf_num(c, SG_CONF_DOMAIN_TYPE);
}

static inline enum sg_conf_transport sg_conf_transport(const struct sg_conf *c)
{
	return (enum sg_conf_transport)sg_conf_num(c, SG_CONF_TRANSPORT);
}

/* 1 when s is a valid image name: [a-z0-9][a-z0-9._-]{0,63}. */
int sg_conf_valid_image(const char *s);
/* 1 when s is an absolute path of printable characters shorter than
 * PATH_MAX. */
int sg_conf_valid_path(const char *s);

#endif
