/* sg_net: see sbxnet.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include "common/text.h"
#include "common/log.h"
#include "gateway/sbxnet.h"
#include "common/allow.h"
#include "netpolicy/ct.h"
#include "netpolicy/nft.h"
#include "common/strv.h"
#include "netpolicy/resolver.h"
#include "netpolicy/tap.h"

#define NET_TAP_PREFIX	"sg-"
#define NET_GRACE_S	60	/* an element outlives the answer's TTL by this */
#define NET_MIN_S	30
#define NET_MAX_S	3600	/* the resolver's own cap on TTLs */

struct slot {
	char id[32];
	uint32_t k;
};

struct sg_net {
	struct np_nft *nft;
	uint32_t pool_net;
	unsigned pool_prefix;
	uint32_t nslots;
	char dir[PATH_MAX];
	struct slot *used;
	size_t nused, capused;
	uint32_t next;		/* where the search for a free slot starts */
	struct np_res_override *ov;
	size_t nov;
};

static int
id_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > 12)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

int
sg_net_open(const struct sg_net_cfg *cfg, struct sg_net **ret, char **ret_err)
{
	struct np_nft_cfg nc;
	struct sg_net *n;
	char *msg = NULL;
	size_t i;
	int r, fd;

	*ret_err = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->pool_net = cfg->pool_net;
	n->pool_prefix = cfg->pool_prefix;
	n->nslots = 1u << (32 - cfg->pool_prefix - 2);
	if (snprintf(n->dir, sizeof(n->dir), "%s/net", cfg->state_dir) >=
	    (int)sizeof(n->dir)) {
		r = -ENAMETOOLONG;
		goto err;
	}
	if (mkdir(n->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		sg_fail(ret_err, r, "cannot create %s: %s", n->dir, strerror(-r));
		goto err;
	}
	if (cfg->nov > 0) {
		n->ov = calloc(cfg->nov, sizeof(*n->ov));
		if (n->ov == NULL) {
			r = -ENOMEM;
			goto err;
		}
		for (i = 0; i < cfg->nov; i++) {
			n->ov[i].addr = cfg->ov[i].addr;
			n->ov[i].name = strdup(cfg->ov[i].name);
			if (n->ov[i].name == NULL) {
				r = -ENOMEM;
				goto err;
			}
			n->nov++;
		}
	}
	memset(&nc, 0, sizeof(nc));
	nc.table = cfg->table;
	nc.tap_prefix = NET_TAP_PREFIX;
	nc.pool_net = cfg->pool_net;
	nc.pool_prefix = cfg->pool_prefix;
	nc.proxy_port = cfg->proxy_port;
	nc.has_front = cfg->has_front;
	nc.front_uid = cfg->front_uid;
	r = np_nft_open(&nc, &n->nft, &msg);
	if (r == 0)
		r = np_nft_setup(n->nft, &msg);
	if (r < 0) {
		sg_fail(ret_err, r, "cannot set up the nftables table: %s",
		    msg ? msg : strerror(-r));
		free(msg);
		goto err;
	}
	/* Sandboxes reach allowed hosts through the host: it routes. */
	fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		sg_fail(ret_err, r, "cannot turn on IPv4 forwarding "
		    "(/proc/sys/net/ipv4/ip_forward): %s", strerror(-r));
		goto err;
	}
	close(fd);
	*ret = n;
	return 0;
err:
	sg_net_close(n);
	return r;
}

void
sg_net_close(struct sg_net *n)
{
	size_t i;

	if (n == NULL)
		return;
	np_nft_close(n->nft);	/* the rules stay: fail closed */
	for (i = 0; i < n->nov; i++)
		free((char *)n->ov[i].name);
	free(n->ov);
	free(n->used);
	free(n);
}

static struct slot *
slot_of(struct sg_net *n, const char *id)
{
	size_t i;

	for (i = 0; i < n->nused; i++)
		if (strcmp(n->used[i].id, id) == 0)
			return &n->used[i];
	return NULL;
}

static int
slot_taken(const struct sg_net *n, uint32_t k)
{
	size_t i;

	for (i = 0; i < n->nused; i++)
		if (n->used[i].k == k)
			return 1;
	return 0;
}

static int
slot_put(struct sg_net *n, const char *id, uint32_t k)
{
	if (n->nused == n->capused) {
		size_t cap = n->capused ? n->capused * 2 : 16;
		struct slot *t = realloc(n->used, cap * sizeof(*t));

		if (t == NULL)
			return -ENOMEM;
		n->used = t;
		n->capused = cap;
	}
	snprintf(n->used[n->nused].id, sizeof(n->used[0].id), "%s", id);
	n->used[n->nused].k = k;
	n->nused++;
	return 0;
}

static void
slot_drop(struct sg_net *n, const char *id)
{
	struct slot *s = slot_of(n, id);

	if (s != NULL)
		*s = n->used[--n->nused];
}

static void
addr_of(const struct sg_net *n, const char *id, uint32_t k,
    struct sg_net_addr *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->tap, sizeof(a->tap), NET_TAP_PREFIX "%s", id);
	a->host = n->pool_net + 4 * k + 1;
	a->guest = n->pool_net + 4 * k + 2;
	a->prefix = 30;
}

/* Whether an address of slot k is on an interface of the host (a tap
 * of another sandgated, one left by another state_dir, a network that
 * overlaps the pool): its name in ifname, or "" when none. */
static int
slot_on_host(const struct sg_net *n, uint32_t k, char ifname[IF_NAMESIZE])
{
	struct ifaddrs *ifa, *i;
	uint32_t base = n->pool_net + 4 * k, a;

	ifname[0] = '\0';
	if (getifaddrs(&ifa) < 0)
		return 0;	/* no reading: np_tap_create still refuses */
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
			continue;
		a = ntohl(((const struct sockaddr_in *)(const void *)
		    i->ifa_addr)->sin_addr.s_addr);
		if ((a & ~3u) == base) {
			snprintf(ifname, IF_NAMESIZE, "%s", i->ifa_name);
			break;
		}
	}
	freeifaddrs(ifa);
	return ifname[0] != '\0';
}

static int
record_path(const struct sg_net *n, const char *id, char *buf, size_t size)
{
	int len = snprintf(buf, size, "%s/%s", n->dir, id);

	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

/* The record: the slot on the first line, then the sandbox's allow_net
 * entries, one per line, as it was made with them. */
static int
record_read(const struct sg_net *n, const char *id, uint32_t *ret_k,
    char ***ret_ent, size_t *ret_nent)
{
	char path[PATH_MAX], *line = NULL, *end, **ent = NULL, **t;
	size_t cap = 0, nent = 0, len;
	unsigned long k;
	ssize_t got;
	FILE *f;
	int r = -EINVAL, fd;

	if (record_path(n, id, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return -ENOMEM;
	}
	got = getline(&line, &cap, f);
	if (got <= 0)
		goto out;
	errno = 0;
	k = strtoul(line, &end, 10);
	if (errno || end == line || (*end != '\n' && *end != '\0') ||
	    k >= n->nslots)
		goto out;
	while ((got = getline(&line, &cap, f)) > 0) {
		len = (size_t)got;
		if (line[len - 1] != '\n')
			goto out;	/* torn */
		line[--len] = '\0';
		if (len == 0 || nent >= 4096)
			goto out;
		t = realloc(ent, (nent + 1) * sizeof(*ent));
		if (t == NULL) {
			r = -ENOMEM;
			goto out;
		}
		ent = t;
		ent[nent] = strdup(line);
		if (ent[nent] == NULL) {
			r = -ENOMEM;
			goto out;
		}
		nent++;
	}
	*ret_k = (uint32_t)k;
	if (ret_ent != NULL) {
		*ret_ent = ent;
		*ret_nent = nent;
		ent = NULL;
		nent = 0;
	}
	r = 0;
out:
	sg_strv_free(ent, nent);
	free(line);
	fclose(f);
	return r;
}

static int
record_write(const struct sg_net *n, const char *id, uint32_t k,
    const char *const *ent, size_t nent)
{
	char path[PATH_MAX];
	size_t i;
	FILE *f;
	int fd, r = 0;

	char tmp[PATH_MAX + 8];

	/* Written whole or not at all: a torn record would be adopted as a
	 * different policy. */
	if (record_path(n, id, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return -ENOMEM;
	}
	fprintf(f, "%u\n", k);
	for (i = 0; i < nent; i++)
		fprintf(f, "%s\n", ent[i]);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		r = -EIO;
	if (fclose(f) != 0)
		r = -EIO;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int
sg_net_recorded_allow(struct sg_net *n, const char *id, char ***ret_ent,
    size_t *ret_nent)
{
	uint32_t k;

	if (!id_ok(id))
		return -EINVAL;
	return record_read(n, id, &k, ret_ent, ret_nent);
}

static void
record_remove(const struct sg_net *n, const char *id)
{
	char path[PATH_MAX];

	if (record_path(n, id, path, sizeof(path)) == 0)
		unlink(path);
}

/* The literal IPv4 entries of allow, for np_nft_add_sandbox (the caller
 * frees *ret, NULL when there are none). */
static int
lits_of(const struct sg_allow *allow, struct np_nft_lit **ret, size_t *ret_n)
{
	size_t i, nl = sg_allow_v4_count(allow);

	*ret = NULL;
	*ret_n = 0;
	if (nl == 0)
		return 0;
	*ret = calloc(nl, sizeof(**ret));
	if (*ret == NULL)
		return -ENOMEM;
	for (i = 0; i < nl; i++)
		sg_allow_v4_at(allow, i, &(*ret)[i].net, &(*ret)[i].prefix,
		    &(*ret)[i].port);
	*ret_n = nl;
	return 0;
}

int
sg_net_add(struct sg_net *n, const char *id, const struct sg_allow *allow,
    const char *const *ent, size_t nent, int adopt, struct sg_net_addr *ret,
    char **ret_err)
{
	struct np_nft_lit *lits = NULL;
	struct sg_net_addr a;
	size_t nl;
	uint32_t k = 0;
	char *msg = NULL;
	int r;

	*ret_err = NULL;
	if (!id_ok(id))
		return sg_fail(ret_err, -EINVAL, "bad sandbox id %s", id);
	if (slot_of(n, id) != NULL)
		return sg_fail(ret_err, -EEXIST, "sandbox %s has a network already",
		    id);
	if (adopt) {
		r = record_read(n, id, &k, NULL, NULL);
		if (r < 0 || slot_taken(n, k))
			return sg_fail(ret_err, r < 0 ? r : -EEXIST, "sandbox %s: no "
			    "usable network record in %s: destroy it and start "
			    "a new one", id, n->dir);
	} else {
		/* Round robin, not the lowest free slot: a slot (and its
		 * host address, where a shim that just ended may still hold the old DNS
		 * sockets for a moment) is not reused at once. */
		uint32_t tries, skipped = 0;
		char ifname[IF_NAMESIZE];

		for (tries = 0; tries < n->nslots; tries++) {
			k = (n->next + tries) % n->nslots;
			if (slot_taken(n, k))
				continue;
			/* never an address the host already has */
			if (slot_on_host(n, k, ifname)) {
				char ip[INET_ADDRSTRLEN];
				struct in_addr in = { htonl(n->pool_net + 4 * k) };

				inet_ntop(AF_INET, &in, ip, sizeof(ip));
				sg_warn("network: %s/30 is already on interface %s "
				    "(another sandgated, or left over): skipped; "
				    "give each instance a [network] pool of its "
				    "own", ip, ifname);
				skipped++;
				continue;
			}
			break;
		}
		n->next = (k + 1) % n->nslots;
		if (tries == n->nslots)
			return sg_fail(ret_err, -ENOSPC, "[network] pool is full "
			    "(every /30 is in use%s): give it a shorter prefix",
			    skipped > 0 ? " or on another interface" : "");
	}
	addr_of(n, id, k, &a);
	if ((r = lits_of(allow, &lits, &nl)) < 0)
		return r;
	r = slot_put(n, id, k);
	if (r < 0)
		goto out;
	if (!adopt && (r = record_write(n, id, k, ent, nent)) < 0) {
		sg_fail(ret_err, r, "cannot record the network of sandbox %s in %s",
		    id, n->dir);
		goto undo;
	}
	/* Rules first, then the link: the tap never carries a packet that
	 * the table does not know. */
	r = np_nft_add_sandbox(n->nft, a.tap, a.guest, a.host,
	    sg_allow_all(allow), lits, nl, &msg);
	if (r < 0) {
		sg_fail(ret_err, r, "cannot add the firewall rules: %s",
		    msg ? msg : strerror(-r));
		goto undo;
	}
	free(msg);
	msg = NULL;
	r = np_tap_create(a.tap, a.host, a.prefix, &msg);
	if (r < 0) {
		sg_fail(ret_err, r, "cannot create the tap: %s",
		    msg ? msg : strerror(-r));
		goto undo;
	}
	*ret = a;
	r = 0;
	goto out;
undo:
	free(msg);
	msg = NULL;
	(void)np_nft_del_sandbox(n->nft, a.tap, &msg);
	if (!adopt)
		record_remove(n, id);
	slot_drop(n, id);
out:
	free(msg);
	free(lits);
	return r;
}

int
sg_net_update(struct sg_net *n, const char *id, const struct sg_allow *allow,
    const char *const *ent, size_t nent, char **ret_err)
{
	struct np_nft_lit *lits = NULL;
	struct sg_net_addr a;
	struct slot *sl;
	size_t nl;
	char *msg = NULL;
	int r;

	*ret_err = NULL;
	if (!id_ok(id) || (sl = slot_of(n, id)) == NULL)
		return sg_fail(ret_err, -ENOENT, "sandbox %s has no network", id);
	addr_of(n, id, sl->k, &a);
	if ((r = lits_of(allow, &lits, &nl)) < 0)
		return r;
	r = record_write(n, id, sl->k, ent, nent);
	if (r < 0) {
		sg_fail(ret_err, r, "cannot record the network of sandbox %s in %s",
		    id, n->dir);
		goto out;
	}
	/* one transaction: its chains are flushed and filled again */
	r = np_nft_add_sandbox(n->nft, a.tap, a.guest, a.host,
	    sg_allow_all(allow), lits, nl, &msg);
	if (r < 0)
		sg_fail(ret_err, r, "cannot replace the firewall rules: %s",
		    msg ? msg : strerror(-r));
out:
	free(msg);
	free(lits);
	return r;
}

int
sg_net_rerecord(struct sg_net *n, const char *id, const char *const *ent,
    size_t nent, char **ret_err)
{
	struct slot *sl;
	int r;

	*ret_err = NULL;
	if (!id_ok(id) || (sl = slot_of(n, id)) == NULL)
		return sg_fail(ret_err, -ENOENT, "sandbox %s has no network", id);
	r = record_write(n, id, sl->k, ent, nent);
	if (r < 0)
		sg_fail(ret_err, r, "cannot record sandbox %s in %s", id, n->dir);
	return r;
}

void
sg_net_del(struct sg_net *n, const char *id)
{
	struct sg_net_addr a;
	struct slot *sl;
	char *msg = NULL;
	uint32_t k = 0;
	int known;

	if (!id_ok(id))
		return;
	/* the /30 it had: its slot, or its record (a sandbox that died
	 * while no sandgated ran) */
	sl = slot_of(n, id);
	if (sl != NULL)
		k = sl->k;
	known = sl != NULL || record_read(n, id, &k, NULL, NULL) == 0;
	addr_of(n, id, k, &a);
	/* The link first: no packet after its rules are gone. A tap that
	 * stays keeps its rules and its record (the next sweep tries again):
	 * the table judges only its own taps, so a tap out of it is open. */
	if (np_tap_delete(a.tap, &msg) < 0) {
		sg_warn("sandbox %s: %s; its firewall rules stay until it is "
		    "gone", id, msg ? msg : "cannot delete its tap");
		free(msg);
		return;
	}
	free(msg);
	msg = NULL;
	(void)np_nft_del_sandbox(n->nft, a.tap, &msg);
	free(msg);
	msg = NULL;
	/* its connections go with it: the next sandbox given this /30
	 * starts with none that the rules would take as established */
	if (known && np_ct_flush(a.host, a.prefix, NULL, &msg) < 0)
		sg_warn("sandbox %s: %s", id, msg ? msg : "cannot flush "
		    "its connection tracking entries");
	free(msg);
	record_remove(n, id);
	slot_drop(n, id);
}

void
sg_net_sweep(struct sg_net *n, int (*alive)(void *arg, const char *id),
    void *arg)
{
	char **v = NULL, *msg = NULL;
	size_t nv = 0, i;
	struct dirent *de;
	const char *id;
	DIR *d;

	/* Taps: only those this sandgated recorded (its state_dir), never
	 * another's that share the prefix. */
	d = opendir(n->dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !id_ok(de->d_name))
			continue;
		if (!alive(arg, de->d_name)) {
			sg_net_del(n, de->d_name);
			/* readdir after unlink of the current entry is fine */
		}
	}
	if (d != NULL)
		closedir(d);
	/* Elements: those in this sandgated's own table. */
	if (np_nft_list_taps(n->nft, &v, &nv, &msg) == 0) {
		for (i = 0; i < nv; i++) {
			if (strncmp(v[i], NET_TAP_PREFIX, strlen(NET_TAP_PREFIX)) != 0)
				continue;	/* not one of ours */
			id = v[i] + strlen(NET_TAP_PREFIX);
			if (!id_ok(id) || !alive(arg, id)) {
				char *m2 = NULL;

				(void)np_nft_del_sandbox(n->nft, v[i], &m2);
				free(m2);
			}
		}
		sg_strv_free(v, nv);
	}
	free(msg);
}

int
sg_net_dns_sockets(const struct sg_net_addr *a, int *ret_udp, int *ret_tcp,
    char **ret_err)
{
	struct sockaddr_in sin;
	int u = -1, t = -1, one = 1, r;
	char ip[INET_ADDRSTRLEN];

	*ret_err = NULL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(53);
	sin.sin_addr.s_addr = htonl(a->host);
	inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip));
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u < 0 || t < 0)
		goto err;
	(void)setsockopt(u, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	(void)setsockopt(t, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	(void)setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(u, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    bind(t, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(t, 8) < 0)
		goto err;
	*ret_udp = u;
	*ret_tcp = t;
	return 0;
err:
	r = -errno;
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	return sg_fail(ret_err, r, "cannot listen for DNS on %s:53: %s", ip,
	    strerror(-r));
}

int
sg_net_allow(struct sg_net *n, const char *id, const struct sg_allow *allow,
    const char *name, const uint8_t *addrs, const uint32_t *ttls, size_t cnt,
    char **ret_err)
{
	uint16_t ports[64];
	size_t np, i, j, o;
	struct sg_net_addr a;
	struct in_addr in;
	uint32_t to;
	char *msg = NULL;
	int r, ov;

	*ret_err = NULL;
	if (!id_ok(id) || slot_of(n, id) == NULL)
		return -ENOENT;
	addr_of(n, id, 0, &a);
	if (!sg_allow_name(allow, name))
		return sg_fail(ret_err, -EPERM, "name %s is not on its allow_net",
		    name);
	for (i = 0; i < cnt; i++) {
		memcpy(&in, addrs + 4 * i, 4);
		ov = 0;
		for (o = 0; o < n->nov; o++)
			if (strcmp(n->ov[o].name, name) == 0 &&
			    n->ov[o].addr.s_addr == in.s_addr)
				ov = 1;
		if (!ov && sg_addr_is_internal(AF_INET, &in) &&
		    !sg_allow_names_range(allow, AF_INET, &in))
			return sg_fail(ret_err, -EPERM, "%s resolved to an internal "
			    "address, which its allow_net does not name", name);
	}
	if (sg_allow_all(allow))
		return 0;	/* TCP anywhere is open already */
	np = sg_allow_name_ports(allow, name, ports, sizeof(ports) / sizeof(ports[0]));
	if (np == SG_ALLOW_ANY_PORT) {
		ports[0] = 0;
		np = 1;
	} else if (np > sizeof(ports) / sizeof(ports[0])) {
		np = sizeof(ports) / sizeof(ports[0]);
	}
	for (i = 0; i < cnt; i++) {
		memcpy(&in, addrs + 4 * i, 4);
		/* The shim's TTLs are capped here again: it is not trusted to
		 * decide how long anything stays open. */
		to = ttls[i] < NET_MIN_S ? NET_MIN_S : ttls[i] > NET_MAX_S ?
		    NET_MAX_S : ttls[i];
		to += NET_GRACE_S;
		for (j = 0; j < np; j++) {
			r = np_nft_allow(n->nft, a.tap, ntohl(in.s_addr), ports[j],
			    to, &msg);
			if (r < 0) {
				sg_fail(ret_err, r, "cannot add the firewall element: "
				    "%s", msg ? msg : strerror(-r));
				free(msg);
				return r;
			}
			free(msg);
			msg = NULL;
		}
	}
	return 0;
}

int
sg_net_counters(struct sg_net *n, const char *id, uint64_t *ret_packets,
    uint64_t *ret_bytes)
{
	struct sg_net_addr a;
	char *msg = NULL;
	int r;

	if (!id_ok(id))
		return -EINVAL;
	addr_of(n, id, 0, &a);
	r = np_nft_counters(n->nft, a.tap, ret_packets, ret_bytes, &msg);
	free(msg);
	return r;
}

int
sg_net_set_exposed(struct sg_net *n, const char *const *ids,
    const uint16_t *ports, size_t count, char **ret_err)
{
	struct sg_net_addr *a = calloc(count ? count : 1, sizeof(*a));
	const char **taps = calloc(count ? count : 1, sizeof(*taps));
	uint16_t *p = calloc(count ? count : 1, sizeof(*p));
	char *msg = NULL;
	size_t i, k = 0;
	int r;

	if (a == NULL || taps == NULL || p == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (!id_ok(ids[i]))
			continue;
		addr_of(n, ids[i], 0, &a[k]);
		taps[k] = a[k].tap;
		p[k++] = ports[i];
	}
	r = np_nft_set_exposed(n->nft, taps, p, k, &msg);
	if (r < 0)
		sg_fail(ret_err, r, "%s", msg ? msg : strerror(-r));
	free(msg);
out:
	free(a);
	free(taps);
	free(p);
	return r;
}

const char *const *
sg_net_drop_reasons(void)
{
	return np_nft_reasons;
}

int
sg_net_reason_counters(struct sg_net *n, const char *reason,
    uint64_t *ret_packets, uint64_t *ret_bytes)
{
	char *msg = NULL;
	int r = np_nft_reason_counters(n->nft, reason, ret_packets, ret_bytes,
	    &msg);

	free(msg);
	return r;
}
