/* np_tap: per-sandbox tap devices, see tap.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include "common/text.h"
#include "common/strv.h"
#include "netpolicy/tap.h"

int
np_tap_name_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		if (i >= NP_TAP_NAME_MAX)
			return 0;
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-'))
			return 0;
	}
	return 1;
}

/* libnl's error codes are not errno values. */
static int
nl_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_PERM: return -EPERM;
	case NLE_NODEV: return -ENODEV;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_INVAL: return -EINVAL;
	case NLE_BUSY: return -EBUSY;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_NOACCESS: return -EACCES;
	default: return -EIO;
	}
}

static int
nl_open(struct nl_sock **ret, const char *what, char **ret_msg)
{
	struct nl_sock *sk;
	int r;

	sk = nl_socket_alloc();
	if (sk == NULL) {
		sg_msg(ret_msg, "%s: out of memory", what);
		return -ENOMEM;
	}
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		sg_msg(ret_msg, "%s: cannot open a route netlink socket: %s", what,
			nl_geterror(r));
		nl_socket_free(sk);
		return nl_errno(r);
	}
	*ret = sk;
	return 0;
}

static int
is_tun(struct rtnl_link *link)
{
	const char *kind = rtnl_link_get_type(link);

	return kind != NULL && strcmp(kind, "tun") == 0;
}

/* Looks the link up; *ret is NULL (and 0 returned) when it does not exist. */
static int
get_link(struct nl_sock *sk, const char *name, struct rtnl_link **ret)
{
	struct rtnl_link *link = NULL;
	int r;

	r = rtnl_link_get_kernel(sk, 0, name, &link);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return r;
	*ret = link;
	return 0;
}

/* Makes name a persistent single-queue tap through /dev/net/tun. busy is
 * set when an existing tap is held open by someone (QEMU): it is already
 * what we want and is left alone. */
static int
tun_persist(const char *name, int *busy, char **ret_msg)
{
	struct ifreq ifr;
	int fd, r;

	*busy = 0;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		sg_msg(ret_msg, "cannot create tap %s: cannot open /dev/net/tun: %s "
			"(load the tun module and run as root)", name, strerror(-r));
		return r;
	}
	memset(&ifr, 0, sizeof(ifr));
	/* no IFF_MULTI_QUEUE: libvirt opens it single-queue by name */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		if (r == -EBUSY) {
			*busy = 1;
			close(fd);
			return 0;
		}
		sg_msg(ret_msg, "cannot create tap %s: TUNSETIFF: %s%s", name, strerror(-r),
			r == -EINVAL ? " (an interface of that name exists and is not a "
			"single-queue tap: delete it)" : "");
		close(fd);
		return r;
	}
	if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
		r = -errno;
		sg_msg(ret_msg, "cannot make tap %s persistent: %s", name, strerror(-r));
		close(fd);
		return r;
	}
	close(fd);
	return 0;
}

/* Writes value to net.ipv6.conf.NAME.key. */
static int
ipv6_conf(const char *name, const char *key, const char *value, char **ret_msg)
{
	char path[128];
	ssize_t w;
	size_t len = strlen(value);
	int fd, r;

	r = snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", name, key);
	if (r < 0 || (size_t)r >= sizeof(path))
		abort();	/* cannot happen: the name is checked */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		sg_msg(ret_msg, "cannot set up IPv6 on tap %s: %s: %s", name, path,
			strerror(-r));
		return r;
	}
	w = write(fd, value, len);
	r = w == (ssize_t)len ? 0 : (w < 0 ? -errno : -EIO);
	close(fd);
	if (r < 0)
		sg_msg(ret_msg, "cannot set up IPv6 on tap %s: %s: %s", name, path,
			strerror(-r));
	return r;
}

/* The host takes no part in IPv6 on the tap: no address (not even
 * link-local: addr_gen_mode 1), no router advertisements, no autoconf.
 * IPv6 stays enabled so that a guest's IPv6 packets reach the nftables
 * prerouting hook, where they are dropped and counted; with disable_ipv6
 * the kernel would drop them before any hook, uncounted. 0 if the kernel
 * has no IPv6 at all. */
static int
quiet_ipv6(const char *name, char **ret_msg)
{
	static const char *const kv[][2] = {
		{ "disable_ipv6", "1\n" },	/* flushes any address it has */
		{ "addr_gen_mode", "1\n" },
		{ "accept_ra", "0\n" },
		{ "autoconf", "0\n" },
		{ "forwarding", "0\n" },
		{ "disable_ipv6", "0\n" },
	};
	struct stat st;
	size_t i;
	int r;

	if (stat("/proc/sys/net/ipv6", &st) < 0 && errno == ENOENT)
		return 0;
	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		r = ipv6_conf(name, kv[i][0], kv[i][1], ret_msg);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Leaves addr/prefix as the only IPv4 address of the link. */
static int
set_addr(struct nl_sock *sk, const char *name, int ifindex, uint32_t host_addr,
	 unsigned prefix, char **ret_msg)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	struct rtnl_addr *want = NULL, *a;
	struct nl_addr *local = NULL, *l;
	uint32_t be = htonl(host_addr);
	char text[INET_ADDRSTRLEN];
	int have = 0, r;

	if (inet_ntop(AF_INET, &be, text, sizeof(text)) == NULL)
		abort();	/* cannot happen with this buffer */
	local = nl_addr_build(AF_INET, &be, sizeof(be));
	want = rtnl_addr_alloc();
	if (local == NULL || want == NULL) {
		r = -NLE_NOMEM;
		goto fail;
	}
	nl_addr_set_prefixlen(local, (int)prefix);
	r = rtnl_addr_alloc_cache(sk, &cache);
	if (r < 0)
		goto fail;
	for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
		a = (struct rtnl_addr *)o;
		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET)
			continue;
		l = rtnl_addr_get_local(a);
		if (l != NULL && nl_addr_cmp(l, local) == 0 &&
		    rtnl_addr_get_prefixlen(a) == (int)prefix) {
			have = 1;
			continue;
		}
		/* a leftover from an earlier sandbox on this name */
		r = rtnl_addr_delete(sk, a, 0);
		if (r < 0)
			goto fail;
	}
	if (!have) {
		rtnl_addr_set_ifindex(want, ifindex);
		rtnl_addr_set_family(want, AF_INET);
		r = rtnl_addr_set_local(want, local);
		if (r < 0)
			goto fail;
		rtnl_addr_set_prefixlen(want, (int)prefix);
		r = rtnl_addr_add(sk, want, 0);
		if (r < 0)
			goto fail;
	}
	r = 0;
fail:
	if (r < 0)
		sg_msg(ret_msg, "cannot set address %s/%u on tap %s: %s", text, prefix,
			name, nl_geterror(r));
	nl_cache_free(cache);
	rtnl_addr_put(want);
	nl_addr_put(local);
	return r < 0 ? nl_errno(r) : 0;
}

int
np_tap_create(const char *name, uint32_t host_addr, unsigned prefix, char **ret_msg)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL, *change = NULL;
	int existed = 0, busy, r;

	if (!np_tap_name_valid(name)) {
		sg_msg(ret_msg, "invalid tap name \"%.40s\": use 1 to %d characters "
			"a-z, 0-9, -", name ? name : "(null)", NP_TAP_NAME_MAX);
		return -EINVAL;
	}
	if (prefix < 1 || prefix > 32) {
		sg_msg(ret_msg, "cannot create tap %s: invalid prefix length /%u", name, prefix);
		return -EINVAL;
	}
	r = nl_open(&sk, "cannot create tap", ret_msg);
	if (r < 0)
		return r;
	r = get_link(sk, name, &link);
	if (r < 0) {
		sg_msg(ret_msg, "cannot create tap %s: cannot look it up: %s", name,
			nl_geterror(r));
		r = nl_errno(r);
		goto out;
	}
	if (link != NULL) {
		if (!is_tun(link)) {
			sg_msg(ret_msg, "cannot create tap %s: an interface of that name "
				"exists and is not a tap: delete it", name);
			r = -EEXIST;
			goto out;
		}
		existed = 1;
		rtnl_link_put(link);
		link = NULL;
	}
	r = tun_persist(name, &busy, ret_msg);
	if (r < 0)
		goto out;
	r = get_link(sk, name, &link);
	if (r == 0 && link == NULL)
		r = -NLE_OBJ_NOTFOUND;	/* deleted under our feet */
	if (r < 0) {
		sg_msg(ret_msg, "cannot create tap %s: cannot look it up: %s", name,
			nl_geterror(r));
		r = nl_errno(r);
		goto fail;
	}
	r = quiet_ipv6(name, ret_msg);
	if (r < 0)
		goto fail;
	r = set_addr(sk, name, rtnl_link_get_ifindex(link), host_addr, prefix, ret_msg);
	if (r < 0)
		goto fail;
	change = rtnl_link_alloc();
	if (change == NULL) {
		sg_msg(ret_msg, "cannot set tap %s up: out of memory", name);
		r = -ENOMEM;
		goto fail;
	}
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, link, change, 0);
	if (r < 0) {
		sg_msg(ret_msg, "cannot set tap %s up: %s", name, nl_geterror(r));
		r = nl_errno(r);
		goto fail;
	}
	r = 0;
	goto out;
fail:
	/* do not leave half a tap behind (one that existed stays) */
	if (!existed) {
		struct rtnl_link *del = rtnl_link_alloc();

		if (del != NULL) {
			rtnl_link_set_name(del, name);
			(void)rtnl_link_delete(sk, del);
			rtnl_link_put(del);
		}
	}
out:
	rtnl_link_put(change);
	rtnl_link_put(link);
	nl_socket_free(sk);
	return r;
}

int
np_tap_delete(const char *name, char **ret_msg)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL;
	int r;

	if (!np_tap_name_valid(name)) {
		sg_msg(ret_msg, "invalid tap name \"%.40s\": use 1 to %d characters "
			"a-z, 0-9, -", name ? name : "(null)", NP_TAP_NAME_MAX);
		return -EINVAL;
	}
	r = nl_open(&sk, "cannot delete tap", ret_msg);
	if (r < 0)
		return r;
	r = get_link(sk, name, &link);
	if (r < 0) {
		sg_msg(ret_msg, "cannot delete tap %s: cannot look it up: %s", name,
			nl_geterror(r));
		r = nl_errno(r);
		goto out;
	}
	if (link == NULL)
		goto out;	/* r == 0: already gone */
	if (!is_tun(link)) {
		sg_msg(ret_msg, "refusing to delete %s: it is not a tap", name);
		r = -EINVAL;
		goto out;
	}
	r = rtnl_link_delete(sk, link);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		r = 0;
	if (r < 0) {
		sg_msg(ret_msg, "cannot delete tap %s: %s", name, nl_geterror(r));
		r = nl_errno(r);
	}
out:
	rtnl_link_put(link);
	nl_socket_free(sk);
	return r;
}

int
np_tap_list(const char *prefix, char ***ret, size_t *ret_n, char **ret_msg)
{
	struct nl_sock *sk = NULL;
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	struct rtnl_link *link;
	const char *name;
	char **v = NULL, **nv;
	size_t n = 0, cap = 0, plen;
	int r;

	if (prefix == NULL || (prefix[0] != '\0' && !np_tap_name_valid(prefix))) {
		sg_msg(ret_msg, "invalid tap prefix \"%.40s\"", prefix ? prefix : "(null)");
		return -EINVAL;
	}
	plen = strlen(prefix);
	r = nl_open(&sk, "cannot list taps", ret_msg);
	if (r < 0)
		return r;
	r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (r < 0) {
		sg_msg(ret_msg, "cannot list taps: %s", nl_geterror(r));
		r = nl_errno(r);
		goto out;
	}
	for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
		link = (struct rtnl_link *)o;
		name = rtnl_link_get_name(link);
		if (name == NULL || strncmp(name, prefix, plen) != 0 || !is_tun(link))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL)
				goto nomem;
			v = nv;
		}
		v[n] = strdup(name);
		if (v[n] == NULL)
			goto nomem;
		n++;
	}
	if (n > 0)
		sg_strv_sort(v, n);
	*ret = v;
	*ret_n = n;
	v = NULL;
	n = 0;
	r = 0;
	goto out;
nomem:
	sg_msg(ret_msg, "cannot list taps: out of memory");
	r = -ENOMEM;
out:
	sg_strv_free(v, n);
	nl_cache_free(cache);
	nl_socket_free(sk);
	return r;
}
