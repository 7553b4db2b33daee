/* sg_conf: sandgate.conf parsing and validation, and the inih reader the
 * tokens module shares. See conf.h. */
#include "gateway/conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/hostname.h"
#include "common/ini.h"
#include "common/text.h"
#include "gateway/poolspec.h"
#include "common/util.h"

#if !defined(SG_SYSCONFDIR) || !defined(SG_LOCALSTATEDIR) || !defined(SG_RUNSTATEDIR)
#error "SG_SYSCONFDIR, SG_LOCALSTATEDIR and SG_RUNSTATEDIR must be defined (see Makefile.am)"
#endif

/* ---- sandgate.conf ---- */

enum kind {
	K_LISTEN, K_PATH, K_SOCKET, K_USER, K_DURATION, K_URI, K_ENUM, K_IMAGE,
	K_UINT, K_POOL, K_RESOLVE, K_SERVERS, K_TABLE, K_UIDRANGE, K_LOGIN,
	K_STARTUPS, K_NETBLOCK, K_METRICS, K_WARMPOOL, K_DOMAIN,
};

static const char *const domain_types[] = { "auto", "kvm", "qemu", NULL };
static const char *const transports[] = { "auto", "vsock", "virtio-serial", NULL };

static const char *const sections[] = { "gateway", "libvirt", "sandbox", "network", "proxy",
					"expose" };
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

struct key_def {
	const char *section;
	const char *name;
	const char *full;       /* "[section] name" */
	enum kind kind;
	const char *def;        /* NULL: unset, or derived (host_key, image_dir) */
	uint64_t min, max;
	const char *const *enums;
};

#define KEY(s, n, k, d, lo, hi, e) { s, n, "[" s "] " n, k, d, lo, hi, e }
static const struct key_def keys[SG_CONF_KEY_COUNT_] = {
	[SG_CONF_LISTEN] = KEY("gateway", "listen", K_LISTEN, "0.0.0.0:2222", 0, 0, NULL),
	[SG_CONF_HOST_KEY] = KEY("gateway", "host_key", K_PATH, NULL, 0, 0, NULL),
	[SG_CONF_TOKENS] = KEY("gateway", "tokens", K_PATH, SG_SYSCONFDIR "/sandgate/tokens.conf", 0, 0, NULL),
	[SG_CONF_STATE_DIR] = KEY("gateway", "state_dir", K_PATH, SG_LOCALSTATEDIR "/lib/sandgate", 0, 0, NULL),
	[SG_CONF_CONTROL_SOCKET] = KEY("gateway", "control_socket", K_SOCKET,
				       SG_RUNSTATEDIR "/sandgate/control.sock", 0, 0, NULL),
	[SG_CONF_AUDIT_LOG] = KEY("gateway", "audit_log", K_PATH,
				  SG_LOCALSTATEDIR "/log/sandgate/audit.jsonl", 0, 0, NULL),
	[SG_CONF_USER] = KEY("gateway", "user", K_USER, "sandgate", 0, 0, NULL),
	[SG_CONF_AUTH_DELAY] = KEY("gateway", "auth_delay", K_DURATION, "1s", 1, 60, NULL),
	[SG_CONF_UID_RANGE] = KEY("gateway", "uid_range", K_UIDRANGE, SG_CONF_UID_RANGE_DEFAULT,
				  0, 0, NULL),
	[SG_CONF_CONTROL_USER] = KEY("gateway", "control_user", K_LOGIN, "sandgate", 0, 0, NULL),
	[SG_CONF_MAX_STARTUPS] = KEY("gateway", "max_startups", K_STARTUPS, "10:30:100", 0, 0, NULL),
	[SG_CONF_PER_SOURCE_MAX_STARTUPS] = KEY("gateway", "per_source_max_startups", K_UINT, "10",
						1, 10000, NULL),
	[SG_CONF_PER_SOURCE_NET_BLOCK] = KEY("gateway", "per_source_net_block", K_NETBLOCK, "32:64",
					     0, 0, NULL),
	[SG_CONF_KEX_TIMEOUT] = KEY("gateway", "kex_timeout", K_DURATION, "30s", 1, 600, NULL),
	[SG_CONF_LOGIN_GRACE_TIME] = KEY("gateway", "login_grace_time", K_DURATION, "60s", 1, 3600,
					 NULL),
	[SG_CONF_METRICS] = KEY("gateway", "metrics", K_METRICS,
				SG_RUNSTATEDIR "/sandgate/metrics.sock", 0, 0, NULL),
	[SG_CONF_SHIM_PROGRAM] = KEY("gateway", "shim_program", K_PATH,
				     SG_LIBEXECDIR "/sandgate-shim", 0, 0, NULL),
	[SG_CONF_LIBVIRT_URI] = KEY("libvirt", "uri", K_URI, "qemu:///system", 0, 0, NULL),
	[SG_CONF_DOMAIN_TYPE] = KEY("libvirt", "domain_type", K_ENUM, "auto", 0, 0, domain_types),
	[SG_CONF_IMAGE] = KEY("sandbox", "image", K_IMAGE, "default", 0, 0, NULL),
	[SG_CONF_IMAGE_DIR] = KEY("sandbox", "image_dir", K_PATH, NULL, 0, 0, NULL),
	[SG_CONF_MEMORY_MB] = KEY("sandbox", "memory_mb", K_UINT, "1024",
				  SG_CONF_MEMORY_MB_MIN, SG_CONF_MEMORY_MB_MAX, NULL),
	[SG_CONF_VCPUS] = KEY("sandbox", "vcpus", K_UINT, "2", SG_CONF_VCPUS_MIN, SG_CONF_VCPUS_MAX, NULL),
	[SG_CONF_DISK_GB] = KEY("sandbox", "disk_gb", K_UINT, "10", 1, 1024, NULL),
	[SG_CONF_MAX_LIFETIME] = KEY("sandbox", "max_lifetime", K_DURATION, "30m", 1,
				     SG_CONF_LIFETIME_MAX, NULL),
	[SG_CONF_IDLE_TIMEOUT] = KEY("sandbox", "idle_timeout", K_DURATION, "10m", 1,
				     SG_CONF_LIFETIME_MAX, NULL),
	[SG_CONF_TRANSPORT] = KEY("sandbox", "transport", K_ENUM, "auto", 0, 0, transports),
	[SG_CONF_BOOT_TIMEOUT] = KEY("sandbox", "boot_timeout", K_DURATION, "60s", 1, 3600, NULL),
	[SG_CONF_MAX_SANDBOXES] = KEY("sandbox", "max_sandboxes", K_UINT, "5", 1,
				      SG_CONF_MAX_SANDBOXES_MAX, NULL),
	[SG_CONF_MAX_SNAPSHOTS] = KEY("sandbox", "max_snapshots", K_UINT, "10", 0, 1000, NULL),
	[SG_CONF_SNAPSHOT_QUOTA_GB] = KEY("sandbox", "snapshot_quota_gb", K_UINT, "20", 1,
					  100000, NULL),
	[SG_CONF_HIBERNATE_AFTER] = KEY("sandbox", "hibernate_after", K_DURATION, "0", 0,
					SG_CONF_LIFETIME_MAX, NULL),
	[SG_CONF_MAX_HIBERNATED] = KEY("sandbox", "max_hibernated", K_DURATION, "7d", 1,
				       SG_CONF_LIFETIME_MAX, NULL),
	[SG_CONF_MAX_VOLUMES] = KEY("sandbox", "max_volumes", K_UINT, "10", 0, 1000, NULL),
	[SG_CONF_VOLUME_QUOTA_GB] = KEY("sandbox", "volume_quota_gb", K_UINT, "50", 1,
					100000, NULL),
	[SG_CONF_WARM_POOL] = KEY("sandbox", "warm_pool", K_WARMPOOL, "0", 0, 0, NULL),
	[SG_CONF_POOL] = KEY("network", "pool", K_POOL, "10.200.0.0/16", 0, 0, NULL),
	[SG_CONF_RESOLVE] = KEY("network", "resolve", K_RESOLVE, NULL, 0, 0, NULL),
	[SG_CONF_DNS] = KEY("network", "dns", K_SERVERS, NULL, 0, 0, NULL),
	[SG_CONF_NFT_TABLE] = KEY("network", "table", K_TABLE, "sandgate", 0, 0, NULL),
	[SG_CONF_EXTRA_CA] = KEY("proxy", "extra_ca", K_PATH, NULL, 0, 0, NULL),
	[SG_CONF_PROXY_PORT] = KEY("proxy", "port", K_UINT, "3128", 0, 65535, NULL),
	[SG_CONF_PROXY_USER] = KEY("proxy", "user", K_USER, "sandgate-proxy", 0, 0, NULL),
	[SG_CONF_PROXY_PROGRAM] = KEY("proxy", "program", K_PATH, SG_SBINDIR "/sandgate-proxy",
				      0, 0, NULL),
	[SG_CONF_PROXY_MAX_CONNS] = KEY("proxy", "max_connections", K_UINT, "64", 1, 4096, NULL),
	[SG_CONF_EXPOSE_LISTEN] = KEY("expose", "listen", K_LISTEN, NULL, 0, 0, NULL),
	[SG_CONF_EXPOSE_DOMAIN] = KEY("expose", "domain", K_DOMAIN, NULL, 0, 0, NULL),
	[SG_CONF_EXPOSE_CERT] = KEY("expose", "cert", K_PATH, NULL, 0, 0, NULL),
	[SG_CONF_EXPOSE_KEY] = KEY("expose", "key", K_PATH, NULL, 0, 0, NULL),
	[SG_CONF_EXPOSE_USER] = KEY("expose", "user", K_USER, "sandgate-front", 0, 0, NULL),
	[SG_CONF_EXPOSE_PROGRAM] = KEY("expose", "program", K_PATH, SG_SBINDIR "/sandgate-front",
				       0, 0, NULL),
	[SG_CONF_EXPOSE_MAX_CONNS] = KEY("expose", "max_connections", K_UINT, "64", 1, 4096, NULL),
	[SG_CONF_EXPOSE_MAX_PORTS] = KEY("expose", "max_ports", K_UINT, "8", 1, 64, NULL),
};

struct resolve {
	char *name;
	char *addr;
	int family;
};

struct sg_conf {
	char *file;
	char *str[SG_CONF_KEY_COUNT_];
	uint64_t num[SG_CONF_KEY_COUNT_];
	unsigned line[SG_CONF_KEY_COUNT_];
	unsigned section_line[N_SECTIONS];
	char *listen_host;
	uint16_t listen_port;
	char *expose_host;
	uint16_t expose_port;
	uint32_t pool_addr;
	unsigned pool_prefix;
	uint32_t uid_first, uid_last;
	unsigned startups[3];
	unsigned block_v4, block_v6;
	struct resolve *resolve;
	size_t n_resolve;
};

int sg_conf_valid_image(const char *s)
{
	size_t i;

	if (!s || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; s[i]; i++) {
		char ch = s[i];

		if (i >= 64)
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

int sg_conf_valid_path(const char *s)
{
	size_t i;

	if (!s || s[0] != '/')
		return 0;
	for (i = 0; s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (i >= PATH_MAX - 1 || ch < 0x20 || ch == 0x7f)
			return 0;
	}
	return 1;
}

/* 1 when s is a DNS host name: dot-separated labels of letters, digits
 * and inner hyphens, 1..63 bytes each, 253 in all. */
/* 1 when s is a host name (common/hostname.h); *s is normalised in
 * place. */
static int valid_hostname(char *s)
{
	return sg_name_normalise(s, s, strlen(s) + 1) == 0;
}

static int valid_user(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i]; i++) {
		char ch = s[i];

		if (i >= 32)
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* Formats "[section] key = value: reason" into *ret_msg; returns -EINVAL
 * (or -ENOMEM). */
static int bad_value(char **ret_msg, const struct key_def *d, const char *value,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int bad_value(char **ret_msg, const struct key_def *d, const char *value,
		     const char *fmt, ...)
{
	char *reason = NULL, *q = sg_ini_quote(value);
	va_list ap;
	int r = -ENOMEM;

	va_start(ap, fmt);
	sg_vmsg(&reason, fmt, ap);
	va_end(ap);
	*ret_msg = NULL;
	if (q && reason)
		r = sg_ini_msg(ret_msg, "%s = %s: %s", d->full, q, reason);
	free(reason);
	free(q);
	return r;
}

/* Copies path without trailing slashes (but "/" stays "/"). */
static char *path_dup(const char *s)
{
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		n--;
	return strndup(s, n);
}

static int parse_listen(struct sg_conf *c, const struct key_def *d, const char *v, char **ret_msg)
{
	const char *port, *colon;
	char *host = NULL;
	uint64_t p;
	int r;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		struct in6_addr a6;

		if (!close || close[1] != ':')
			return bad_value(ret_msg, d, v, "expected [IPv6]:PORT, e.g. [::]:2222");
		host = strndup(v + 1, (size_t)(close - v - 1));
		if (!host)
			return -ENOMEM;
		if (inet_pton(AF_INET6, host, &a6) != 1) {
			r = bad_value(ret_msg, d, v, "\"%s\" is not an IPv6 address", host);
			goto fail;
		}
		port = close + 2;
	} else {
		struct in_addr a4;

		colon = strrchr(v, ':');
		if (!colon)
			return bad_value(ret_msg, d, v, "expected ADDRESS:PORT, e.g. 0.0.0.0:2222 or [::]:2222");
		host = strndup(v, (size_t)(colon - v));
		if (!host)
			return -ENOMEM;
		if (strchr(host, ':')) {
			r = bad_value(ret_msg, d, v, "put an IPv6 address in brackets, e.g. [::]:2222");
			goto fail;
		}
		/* an address, as sshd's ListenAddress is in practice: a
		 * name's addresses can change under a running gateway */
		if (inet_pton(AF_INET, host, &a4) != 1) {
			r = bad_value(ret_msg, d, v, "\"%s\" is not an IPv4 address: give the "
				      "address to listen on, e.g. 127.0.0.1:2222, 0.0.0.0:2222 or "
				      "[::]:2222", host);
			goto fail;
		}
		port = colon + 1;
	}
	r = sg_util_parse_uint(port, 1, 65535, &p);
	if (r < 0) {
		r = bad_value(ret_msg, d, v, "the port must be a number between 1 and 65535");
		goto fail;
	}
	if (d == &keys[SG_CONF_EXPOSE_LISTEN]) {
		free(c->expose_host);
		c->expose_host = host;
		c->expose_port = (uint16_t)p;
		return 0;
	}
	free(c->listen_host);
	c->listen_host = host;
	c->listen_port = (uint16_t)p;
	return 0;
fail:
	free(host);
	return r;
}

/* "ADDR[:PORT], ..." of IPv4 resolvers: 0 or -EINVAL. */
static int check_servers(const char *v)
{
	char item[64], *colon;
	const char *p = v, *end;
	struct in_addr a;
	unsigned long port;
	size_t len, n = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0 || len >= sizeof(item))
			return -EINVAL;
		memcpy(item, p, len);
		item[len] = '\0';
		colon = strchr(item, ':');
		if (colon != NULL) {
			char *e;

			*colon++ = '\0';
			errno = 0;
			port = strtoul(colon, &e, 10);
			if (errno || *e || e == colon || port == 0 || port > 65535 ||
			    *colon == '+' || *colon == '-')
				return -EINVAL;
		}
		if (inet_pton(AF_INET, item, &a) != 1)
			return -EINVAL;
		if (++n > 8)
			return -EINVAL;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

static int parse_pool(struct sg_conf *c, const struct key_def *d, const char *v, char **ret_msg)
{
	const char *slash = strchr(v, '/');
	char addr[INET_ADDRSTRLEN], fixed[INET_ADDRSTRLEN];
	struct in_addr a;
	uint64_t prefix;
	uint32_t host, mask;

	if (!slash || (size_t)(slash - v) >= sizeof(addr))
		return bad_value(ret_msg, d, v, "expected an IPv4 network ADDRESS/PREFIX, e.g. 10.200.0.0/16");
	memcpy(addr, v, (size_t)(slash - v));
	addr[slash - v] = '\0';
	if (inet_pton(AF_INET, addr, &a) != 1)
		return bad_value(ret_msg, d, v, "\"%s\" is not an IPv4 address", addr);
	if (sg_util_parse_uint(slash + 1, 8, 30, &prefix) < 0)
		return bad_value(ret_msg, d, v, "the prefix must be between /8 and /30 "
				 "(each sandbox takes a /30)");
	host = ntohl(a.s_addr);
	mask = 0xffffffffu << (32 - prefix);
	if (host & ~mask) {
		struct in_addr n = { .s_addr = htonl(host & mask) };

		if (!inet_ntop(AF_INET, &n, fixed, sizeof(fixed)))
			return -EINVAL;
		return bad_value(ret_msg, d, v, "host bits are set: did you mean %s/%u?",
				 fixed, (unsigned)prefix);
	}
	c->pool_addr = host;
	c->pool_prefix = (unsigned)prefix;
	return 0;
}

static int parse_resolve(struct sg_conf *c, const struct key_def *d, const char *v, char **ret_msg)
{
	const char *colon = strchr(v, ':');
	char *name = NULL, *addr = NULL;
	unsigned char buf[sizeof(struct in6_addr)];
	struct resolve *nr;
	int family, r;
	size_t i, alen;

	if (!colon)
		return bad_value(ret_msg, d, v, "expected NAME:ADDRESS, e.g. api.example.com:192.0.2.10");
	name = strndup(v, (size_t)(colon - v));
	if (!name)
		return -ENOMEM;
	if (!valid_hostname(name)) {
		r = bad_value(ret_msg, d, v, "\"%s\" is not a host name", name);
		goto fail;
	}
	colon++;
	alen = strlen(colon);
	if (alen >= 2 && colon[0] == '[' && colon[alen - 1] == ']')
		addr = strndup(colon + 1, alen - 2);
	else
		addr = strdup(colon);
	if (!addr) {
		r = -ENOMEM;
		goto fail;
	}
	if (inet_pton(AF_INET, addr, buf) == 1) {
		family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, buf) == 1) {
		family = AF_INET6;
	} else {
		r = bad_value(ret_msg, d, v, "\"%s\" is not an IPv4 or IPv6 address", addr);
		goto fail;
	}
	for (i = 0; i < c->n_resolve; i++)
		if (strcmp(c->resolve[i].name, name) == 0 && strcmp(c->resolve[i].addr, addr) == 0) {
			r = bad_value(ret_msg, d, v, "this entry is listed twice: remove one");
			goto fail;
		}
	nr = reallocarray(c->resolve, c->n_resolve + 1, sizeof(*nr));
	if (!nr) {
		r = -ENOMEM;
		goto fail;
	}
	c->resolve = nr;
	nr[c->n_resolve].name = name;
	nr[c->n_resolve].addr = addr;
	nr[c->n_resolve].family = family;
	c->n_resolve++;
	return 0;
fail:
	free(name);
	free(addr);
	return r;
}

/* [gateway] metrics: off, a unix socket path, or ADDRESS:PORT. */
static int check_metrics(const struct key_def *d, const char *v, char **ret_msg)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	unsigned char a[sizeof(struct in6_addr)];
	uint64_t port;
	size_t hl;
	int v6;

	if (strcmp(v, "off") == 0)
		return 0;
	if (v[0] == '/') {
		if (!sg_conf_valid_path(v) ||
		    strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return bad_value(ret_msg, d, v, "a unix socket path must be "
					 "absolute, without control characters, and at most "
					 "%zu bytes", sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return 0;
	}
	colon = strrchr(v, ':');
	v6 = v[0] == '[';
	hl = colon ? (size_t)(colon - v) : 0;
	if (!colon || hl < 1 || hl >= sizeof(host) || (v6 && (hl < 3 || v[hl - 1] != ']')))
		goto bad;
	memcpy(host, v + v6, hl - 2 * (size_t)v6);
	host[hl - 2 * (size_t)v6] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, a) != 1 ||
	    sg_util_parse_uint(colon + 1, 1, 65535, &port) < 0)
		goto bad;
	return 0;
bad:
	return bad_value(ret_msg, d, v, "expected off, a unix socket path such as "
			 "/run/sandgate/metrics.sock, or ADDRESS:PORT such as 127.0.0.1:9222");
}

/* Validates value for key k and stores it in c. Returns 0, -EINVAL with
 * *ret_msg, or -ENOMEM. */
static int set_value(struct sg_conf *c, enum sg_conf_key k, const char *v, char **ret_msg)
{
	const struct key_def *d = &keys[k];
	char *copy = NULL, lo[SG_UTIL_DURATION_BUFSZ], hi[SG_UTIL_DURATION_BUFSZ];
	uint64_t num = 0;
	size_t i;
	int r;

	switch (d->kind) {
	case K_LISTEN:
		r = parse_listen(c, d, v, ret_msg);
		if (r < 0)
			return r;
		break;
	case K_PATH:
	case K_SOCKET:
		if (!sg_conf_valid_path(v))
			return bad_value(ret_msg, d, v, "must be an absolute path (starting with /) "
					 "without control characters");
		if (d->kind == K_SOCKET && strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return bad_value(ret_msg, d, v, "too long for a unix socket path (at most %zu bytes)",
					 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		copy = path_dup(v);
		break;
	case K_USER:
		if (!valid_user(v))
			return bad_value(ret_msg, d, v, "must be a user name: [a-z_][a-z0-9_-]{0,31}");
		break;
	case K_URI:
		for (i = 0; v[i]; i++)
			if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f)
				break;
		if (v[i] || !strchr(v, ':'))
			return bad_value(ret_msg, d, v, "must be a libvirt URI such as qemu:///system");
		break;
	case K_ENUM:
		for (i = 0; d->enums[i]; i++)
			if (strcmp(v, d->enums[i]) == 0)
				break;
		if (!d->enums[i]) {
			if (d->enums == domain_types)
				return bad_value(ret_msg, d, v, "must be one of auto, kvm, qemu");
			return bad_value(ret_msg, d, v, "must be one of auto, vsock, virtio-serial");
		}
		num = i;
		break;
	case K_LOGIN:
		/* an SSH user name no sandbox can have */
		if (!sg_valid_login(v) || strcmp(v, "sandbox") == 0)
			return bad_value(ret_msg, d, v, "must be a user name of lowercase letters, digits "
					 "and '-' (at most 32, not 'sandbox')");
		break;
	case K_IMAGE:
		if (!sg_conf_valid_image(v))
			return bad_value(ret_msg, d, v, "must be an image name: [a-z0-9][a-z0-9._-]{0,63} "
					 "(a folder under image_dir)");
		break;
	case K_UINT:
		r = sg_util_parse_uint(v, d->min, d->max, &num);
		if (r == -ERANGE)
			return bad_value(ret_msg, d, v, "must be between %llu and %llu",
					 (unsigned long long)d->min, (unsigned long long)d->max);
		if (r < 0)
			return bad_value(ret_msg, d, v, "must be a whole number between %llu and %llu",
					 (unsigned long long)d->min, (unsigned long long)d->max);
		break;
	case K_DURATION:
		if (sg_util_format_duration(d->min, lo, sizeof(lo)) < 0 ||
		    sg_util_format_duration(d->max, hi, sizeof(hi)) < 0)
			return -EINVAL;
		r = sg_util_parse_duration(v, &num);
		if (r == -EINVAL)
			return bad_value(ret_msg, d, v, "must be a duration: " SG_UTIL_DURATION_HINT);
		if (r < 0 || num < d->min || num > d->max)
			return bad_value(ret_msg, d, v, "must be between %s and %s", lo, hi);
		break;
	case K_POOL:
		r = parse_pool(c, d, v, ret_msg);
		if (r < 0)
			return r;
		break;
	case K_RESOLVE:
		return parse_resolve(c, d, v, ret_msg);
	case K_SERVERS:
		r = check_servers(v);
		if (r < 0)
			return bad_value(ret_msg, d, v, "must be IPv4 resolvers as "
			    "ADDR or ADDR:PORT, separated by commas (e.g. "
			    "192.0.2.53, 192.0.2.54:5353)");
		break;
	case K_UIDRANGE: {
		const char *dash = strchr(v, '-');
		char first[16];
		uint64_t a, b;

		if (dash == NULL || (size_t)(dash - v) >= sizeof(first))
			return bad_value(ret_msg, d, v, "must be FIRST-LAST, e.g. "
			    SG_CONF_UID_RANGE_DEFAULT);
		memcpy(first, v, (size_t)(dash - v));
		first[dash - v] = '\0';
		if (sg_util_parse_uint(first, 1000, 4294967294ULL, &a) < 0 ||
		    sg_util_parse_uint(dash + 1, 1000, 4294967294ULL, &b) < 0 ||
		    b < a)
			return bad_value(ret_msg, d, v, "must be FIRST-LAST with "
			    "1000 <= FIRST <= LAST < 4294967295, e.g. "
			    SG_CONF_UID_RANGE_DEFAULT);
		if (b - a + 1 < 16)
			return bad_value(ret_msg, d, v, "holds %llu uids: one "
			    "sandbox needs one, give at least 16",
			    (unsigned long long)(b - a + 1));
		c->uid_first = (uint32_t)a;
		c->uid_last = (uint32_t)b;
		break;
	}
	case K_STARTUPS:
	case K_NETBLOCK: {
		unsigned f[3] = { 0, 0, 0 };
		size_t nf = d->kind == K_STARTUPS ? 3 : 2;
		const char *q = v;
		char part[16];

		for (i = 0; i < nf; i++) {
			size_t len = strcspn(q, ":");

			if (len == 0 || len >= sizeof(part) ||
			    (i + 1 < nf) != (q[len] == ':'))
				break;
			memcpy(part, q, len);
			part[len] = '\0';
			if (sg_util_parse_uint(part, 0, 100000, &num) < 0)
				break;
			f[i] = (unsigned)num;
			q += len + (q[len] == ':');
		}
		num = 0;
		if (d->kind == K_STARTUPS) {
			if (i < nf || *q != '\0' || f[0] < 1 || f[1] < 1 ||
			    f[1] > 100 || f[2] < f[0] || f[2] > 10000)
				return bad_value(ret_msg, d, v, "must be START:RATE:FULL "
				    "with 1 <= START <= FULL <= 10000 and RATE a "
				    "percentage 1..100 (e.g. 10:30:100)");
			memcpy(c->startups, f, sizeof(c->startups));
		} else {
			if (i < nf || *q != '\0' || f[0] < 1 || f[0] > 32 ||
			    f[1] < 1 || f[1] > 128)
				return bad_value(ret_msg, d, v, "must be V4:V6 prefix "
				    "lengths, 1..32 and 1..128 (e.g. 32:64)");
			c->block_v4 = f[0];
			c->block_v6 = f[1];
		}
		break;
	}
	case K_METRICS:
		r = check_metrics(d, v, ret_msg);
		if (r < 0)
			return r;
		break;
	case K_WARMPOOL: {
		struct sg_poolspec_ent ent[SG_POOLSPEC_IMAGES];
		char why[160];
		size_t ne;

		if (sg_poolspec_parse(v, ent, &ne, why, sizeof(why)) < 0)
			return bad_value(ret_msg, d, v, "%s", why);
		break;
	}
	case K_DOMAIN: {
		char norm[SG_NAME_MAX];

		/* a name under which every URL is one more label; the
		 * normal form (lowercase, no trailing dot) is kept */
		if (sg_name_normalise(v, norm, sizeof(norm)) < 0 || strlen(norm) > 200 ||
		    !strchr(norm, '.'))
			return bad_value(ret_msg, d, v, "must be a host name with at least two "
					 "labels and at most 200 bytes, e.g. sandbox.example.com (URLs "
					 "are https://PORT-SANDBOX-TAG.DOMAIN/)");
		copy = strdup(norm);
		break;
	}
	case K_TABLE:
		for (i = 0; v[i]; i++)
			if (!((v[i] >= 'a' && v[i] <= 'z') || (i > 0 &&
			    ((v[i] >= '0' && v[i] <= '9') || v[i] == '_'))))
				break;
		if (v[i] || i == 0 || i > 32)
			return bad_value(ret_msg, d, v, "must be an nftables "
			    "table name: [a-z][a-z0-9_]{0,31}");
		break;
	}
	if (!copy)
		copy = strdup(v);
	if (!copy)
		return -ENOMEM;
	free(c->str[k]);
	c->str[k] = copy;
	c->num[k] = num;
	return 0;
}

static int section_index(const char *s)
{
	size_t i;

	for (i = 0; i < N_SECTIONS; i++)
		if (strcmp(s, sections[i]) == 0)
			return (int)i;
	return -1;
}

static int conf_on_section(void *user, unsigned line, const char *section, char **ret_msg)
{
	struct sg_conf *c = user;
	char *q;
	int i = section_index(section), r;

	if (i < 0) {
		q = sg_ini_quote(section);
		if (!q)
			return -ENOMEM;
		r = sg_ini_msg(ret_msg, "[%s]: unknown section (sandgate.conf has [gateway], [libvirt], "
				"[sandbox], [network] and [proxy])", q);
		free(q);
		return r;
	}
	if (c->section_line[i])
		return sg_ini_msg(ret_msg, "[%s]: section written twice (first at line %u): merge them",
				   section, c->section_line[i]);
	c->section_line[i] = line;
	return 0;
}

static int conf_on_key(void *user, unsigned line, const char *section, const char *key,
		       const char *value, char **ret_msg)
{
	struct sg_conf *c = user;
	char *qk = NULL, *list = NULL;
	size_t len = 0, i;
	FILE *m;
	int r, first;

	for (i = 0; i < SG_CONF_KEY_COUNT_; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, key) == 0)
			break;
	if (i < SG_CONF_KEY_COUNT_) {
		enum sg_conf_key k = (enum sg_conf_key)i;

		if (c->line[k] && k != SG_CONF_RESOLVE)
			return sg_ini_msg(ret_msg, "%s: set twice (first at line %u): keep one",
					   keys[k].full, c->line[k]);
		if (value[0] == '\0')
			return sg_ini_msg(ret_msg, "%s: empty value: give a value or remove the line "
					   "to use the default", keys[k].full);
		r = set_value(c, k, value, ret_msg);
		if (r < 0)
			return r;
		if (!c->line[k])
			c->line[k] = line;
		return 0;
	}

	qk = sg_ini_quote(key);
	if (!qk)
		return -ENOMEM;
	/* a known key in the wrong section, or outside of any */
	for (i = 0; i < SG_CONF_KEY_COUNT_; i++)
		if (strcmp(keys[i].name, key) == 0)
			break;
	if (section[0] == '\0') {
		if (i < SG_CONF_KEY_COUNT_)
			r = sg_ini_msg(ret_msg, "%s: key outside of any section: put it under [%s]",
					qk, keys[i].section);
		else
			r = sg_ini_msg(ret_msg, "%s: unknown key outside of any section", qk);
		goto out;
	}
	if (i < SG_CONF_KEY_COUNT_) {
		r = sg_ini_msg(ret_msg, "[%s] %s: unknown key in [%s]: %s belongs in [%s]",
				section, qk, section, qk, keys[i].section);
		goto out;
	}
	m = open_memstream(&list, &len);
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0, first = 1; i < SG_CONF_KEY_COUNT_; i++)
		if (strcmp(keys[i].section, section) == 0) {
			fprintf(m, "%s%s", first ? "" : ", ", keys[i].name);
			first = 0;
		}
	if (fclose(m) != 0) {
		r = -ENOMEM;
		goto out;
	}
	r = sg_ini_msg(ret_msg, "[%s] %s: unknown key (the keys of [%s] are: %s)",
			section, qk, section, list);
out:
	free(list);
	free(qk);
	return r;
}

static const struct sg_ini_ops conf_ops = {
	.on_section = conf_on_section,
	.on_key = conf_on_key,
};

static int conf_new(const char *label, struct sg_conf **ret)
{
	struct sg_conf *c = calloc(1, sizeof(*c));
	char *msg = NULL;
	size_t i;
	int r;

	if (!c)
		return -ENOMEM;
	c->file = strdup(label);
	if (!c->file) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < SG_CONF_KEY_COUNT_; i++) {
		if (!keys[i].def)
			continue;
		r = set_value(c, (enum sg_conf_key)i, keys[i].def, &msg);
		if (r < 0) {
			free(msg);   /* a bad built-in default: only -ENOMEM here */
			goto fail;
		}
	}
	*ret = c;
	return 0;
fail:
	sg_conf_free(c);
	return r;
}

/* Fills in the defaults derived from other keys. */
static int conf_finish(struct sg_conf *c)
{
	if (!c->line[SG_CONF_HOST_KEY]) {
		free(c->str[SG_CONF_HOST_KEY]);
		if (asprintf(&c->str[SG_CONF_HOST_KEY], "%s/ssh_host_ed25519_key",
			     strcmp(c->str[SG_CONF_STATE_DIR], "/") ? c->str[SG_CONF_STATE_DIR] : "") < 0) {
			c->str[SG_CONF_HOST_KEY] = NULL;
			return -ENOMEM;
		}
	}
	if (!c->line[SG_CONF_IMAGE_DIR]) {
		free(c->str[SG_CONF_IMAGE_DIR]);
		if (asprintf(&c->str[SG_CONF_IMAGE_DIR], "%s/images",
			     strcmp(c->str[SG_CONF_STATE_DIR], "/") ? c->str[SG_CONF_STATE_DIR] : "") < 0) {
			c->str[SG_CONF_IMAGE_DIR] = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/* [expose] listen needs the rest of [expose]. */
static int check_expose(const struct sg_conf *c, char **ret_err)
{
	static const enum sg_conf_key need[] = { SG_CONF_EXPOSE_DOMAIN, SG_CONF_EXPOSE_CERT,
						 SG_CONF_EXPOSE_KEY };
	size_t i;

	if (!c->line[SG_CONF_EXPOSE_LISTEN])
		return 0;
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (c->line[need[i]])
			continue;
		if (ret_err && asprintf(ret_err, "%s:%u: [expose] listen is set: set [expose] "
					"%s too (domain, cert and key: see sandgate.conf(5))", c->file,
					c->line[SG_CONF_EXPOSE_LISTEN], keys[need[i]].name) < 0)
			*ret_err = NULL;
		return -EINVAL;
	}
	return 0;
}

static int conf_parse_file(FILE *f, const char *label, struct sg_conf **ret, char **ret_err)
{
	struct sg_conf *c = NULL;
	int r;

	r = conf_new(label, &c);
	if (r < 0)
		goto fail_nomsg;
	if (f) {
		r = sg_ini_parse(f, label, &conf_ops, c, ret_err);
		if (r < 0)
			goto fail;
	}
	r = conf_finish(c);
	if (r < 0)
		goto fail_nomsg;
	r = check_expose(c, ret_err);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail_nomsg:
	if (ret_err)
		*ret_err = NULL;
fail:
	sg_conf_free(c);
	return r;
}

int sg_conf_load(const char *path, int must_exist, struct sg_conf **ret, char **ret_err)
{
	FILE *f = NULL;
	char *err = NULL;
	int r;

	if (!path)
		path = SG_SYSCONFDIR "/sandgate/sandgate.conf";
	r = sg_ini_open(path, &f, &err);
	if (r == -ENOENT && !must_exist) {
		free(err);
		return conf_parse_file(NULL, "(defaults)", ret, ret_err);
	}
	if (r < 0) {
		if (ret_err)
			*ret_err = err;
		else
			free(err);
		return r;
	}
	r = conf_parse_file(f, path, ret, ret_err);
	fclose(f);
	return r;
}

int sg_conf_parse(const char *label, const char *data, size_t len,
		  struct sg_conf **ret, char **ret_err)
{
	FILE *f;
	int r;

	if (len == 0)
		return conf_parse_file(NULL, label, ret, ret_err);
	f = fmemopen((void *)data, len, "r");
	if (!f) {
		if (ret_err)
			*ret_err = NULL;
		return -ENOMEM;
	}
	r = conf_parse_file(f, label, ret, ret_err);
	fclose(f);
	return r;
}

void sg_conf_free(struct sg_conf *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < SG_CONF_KEY_COUNT_; i++)
		free(c->str[i]);
	for (i = 0; i < c->n_resolve; i++) {
		free(c->resolve[i].name);
		free(c->resolve[i].addr);
	}
	free(c->resolve);
	free(c->listen_host);
	free(c->expose_host);
	free(c->file);
	free(c);
}

/* ---- printing (sandgated -T) ---- */

/* Writes key k as "name = value" lines that load back to its value. */
static void print_key(const struct sg_conf *c, enum sg_conf_key k, FILE *f)
{
	const struct key_def *d = &keys[k];
	char dur[SG_UTIL_DURATION_BUFSZ];
	size_t i;

	if (d->kind == K_RESOLVE) {
		for (i = 0; i < c->n_resolve; i++) {
			int v6 = c->resolve[i].family == AF_INET6;

			fprintf(f, "%s = %s:%s%s%s\n", d->name, c->resolve[i].name,
				v6 ? "[" : "", c->resolve[i].addr, v6 ? "]" : "");
		}
		if (c->n_resolve == 0)
			fprintf(f, "# %s is unset\n", d->name);
	} else if (!c->str[k]) {
		fprintf(f, "# %s is unset\n", d->name);
	} else if (d->kind == K_DURATION &&
		   sg_util_format_duration(c->num[k], dur, sizeof(dur)) == 0) {
		fprintf(f, "%s = %s\n", d->name, dur);
	} else {
		fprintf(f, "%s = %s\n", d->name, c->str[k]);
	}
}

int sg_conf_print(const struct sg_conf *c, FILE *f)
{
	const char *section = NULL;
	size_t k;

	for (k = 0; k < SG_CONF_KEY_COUNT_; k++) {
		if (!section || strcmp(section, keys[k].section) != 0) {
			fprintf(f, "%s[%s]\n", section ? "\n" : "", keys[k].section);
			section = keys[k].section;
		}
		print_key(c, (enum sg_conf_key)k, f);
	}
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return 0;
}

const char *sg_conf_str(const struct sg_conf *c, enum sg_conf_key k)
{
	if (!c || (unsigned)k >= SG_CONF_KEY_COUNT_)
		return NULL;
	return c->str[k];
}

uint64_t sg_conf_num(const struct sg_conf *c, enum sg_conf_key k)
{
	if (!c || (unsigned)k >= SG_CONF_KEY_COUNT_)
		return 0;
	return c->num[k];
}

const char *sg_conf_file(const struct sg_conf *c)
{
	return c->file;
}

unsigned sg_conf_line(const struct sg_conf *c, enum sg_conf_key k)
{
	if (!c || (unsigned)k >= SG_CONF_KEY_COUNT_)
		return 0;
	return c->line[k];
}

const char *sg_conf_key_name(enum sg_conf_key k)
{
	if ((unsigned)k >= SG_CONF_KEY_COUNT_)
		return "?";
	return keys[k].full;
}

const char *sg_conf_listen_host(const struct sg_conf *c)
{
	return c->listen_host;
}

const char *sg_conf_expose_host(const struct sg_conf *c)
{
	return c->expose_host;
}

uint16_t sg_conf_expose_port(const struct sg_conf *c)
{
	return c->expose_port;
}

uint16_t sg_conf_listen_port(const struct sg_conf *c)
{
	return c->listen_port;
}

uint32_t sg_conf_pool_addr(const struct sg_conf *c)
{
	return c->pool_addr;
}

unsigned sg_conf_pool_prefix(const struct sg_conf *c)
{
	return c->pool_prefix;
}

void sg_conf_startups(const struct sg_conf *c, unsigned *start,
    unsigned *rate, unsigned *full)
{
	*start = c->startups[0];
	*rate = c->startups[1];
	*full = c->startups[2];
}

void sg_conf_net_block(const struct sg_conf *c, unsigned *v4, unsigned *v6)
{
	*v4 = c->block_v4;
	*v6 = c->block_v6;
}

uint32_t sg_conf_uid_first(const struct sg_conf *c)
{
	return c->uid_first;
}

uint32_t sg_conf_uid_last(const struct sg_conf *c)
{
	return c->uid_last;
}

size_t sg_conf_resolve_count(const struct sg_conf *c)
{
	return c->n_resolve;
}

const char *sg_conf_resolve_name(const struct sg_conf *c, size_t i)
{
	return i < c->n_resolve ? c->resolve[i].name : NULL;
}

const char *sg_conf_resolve_addr(const struct sg_conf *c, size_t i)
{
	return i < c->n_resolve ? c->resolve[i].addr : NULL;
}

int sg_conf_resolve_family(const struct sg_conf *c, size_t i)
{
	return i < c->n_resolve ? c->resolve[i].family : AF_UNSPEC;
}
