/* ag_net: see net.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/net.h"

/* Fills ifr's name; -EINVAL when it does not fit. */
static int
net_ifr(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	if (strlen(name) >= sizeof(ifr->ifr_name))
		return -EINVAL;
	memcpy(ifr->ifr_name, name, strlen(name));
	return 0;
}

static int
net_sock(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

int
ag_net_has_link(const char *name)
{
	return if_nametoindex(name) != 0;
}

int
ag_net_link_up(const char *name)
{
	struct ifreq ifr;
	int fd, r;

	r = net_ifr(&ifr, name);
	if (r < 0)
		return r;
	fd = net_sock();
	if (fd < 0)
		return fd;
	r = 0;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = -errno;
out:
	close(fd);
	return r;
}

/* Parses "A.B.C.D[/N]" into an address and a netmask. */
static int
net_parse_cidr(const char *cidr, struct in_addr *ret_addr,
    struct in_addr *ret_mask)
{
	char buf[INET_ADDRSTRLEN + 4];
	struct in_addr a;
	const char *slash;
	unsigned long prefix = 32;
	char *end;
	size_t n;

	slash = strchr(cidr, '/');
	n = slash != NULL ? (size_t)(slash - cidr) : strlen(cidr);
	if (n == 0 || n >= INET_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, cidr, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno != 0 || *end != '\0' || prefix > 32)
			return -EINVAL;
	}
	*ret_addr = a;
	ret_mask->s_addr = prefix == 0 ? 0 :
	    htonl(0xffffffffu << (32 - prefix));
	return 0;
}

static void
net_sin(struct sockaddr *sa, struct in_addr a)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr = a;
	memcpy(sa, &sin, sizeof(sin));
}

int
ag_net_set_addr(const char *name, const char *cidr)
{
	struct in_addr addr, mask;
	struct ifreq ifr;
	int fd, r;

	r = net_parse_cidr(cidr, &addr, &mask);
	if (r < 0)
		return r;
	r = net_ifr(&ifr, name);
	if (r < 0)
		return r;
	fd = net_sock();
	if (fd < 0)
		return fd;
	net_sin(&ifr.ifr_addr, addr);
	if (ioctl(fd, SIOCSIFADDR, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	net_sin(&ifr.ifr_netmask, mask);
	if (ioctl(fd, SIOCSIFNETMASK, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	r = ag_net_link_up(name);
out:
	close(fd);
	return r;
}

int
ag_net_set_gateway(const char *name, const char *gw)
{
	struct in_addr a, any = { 0 };
	struct rtentry rt, del;
	char dev[IFNAMSIZ];
	int fd, i, r = 0;

	if (inet_pton(AF_INET, gw, &a) != 1)
		return -EINVAL;
	if (strlen(name) >= sizeof(dev))
		return -EINVAL;
	memcpy(dev, name, strlen(name) + 1);
	fd = net_sock();
	if (fd < 0)
		return fd;
	memset(&rt, 0, sizeof(rt));
	net_sin(&rt.rt_dst, any);
	net_sin(&rt.rt_genmask, any);
	net_sin(&rt.rt_gateway, a);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = dev;
	/* Replace: drop every old default route first (without a gateway
	 * the kernel matches any); none left ends the loop with ESRCH. */
	for (i = 0; i < 8; i++) {
		memset(&del, 0, sizeof(del));
		net_sin(&del.rt_dst, any);
		net_sin(&del.rt_genmask, any);
		del.rt_flags = RTF_UP;
		if (ioctl(fd, SIOCDELRT, &del) < 0)
			break;
	}
	if (ioctl(fd, SIOCADDRT, &rt) < 0 && errno != EEXIST)
		r = -errno;
	close(fd);
	return r;
}

int
ag_net_write_resolv(const char *path, const char *list)
{
	char tmp[256], addr[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *p = list;
	size_t n;
	FILE *f;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.sandgate-tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (f == NULL) {
		r = -errno;
		close(fd);
		goto fail;
	}
	fputs("# written by sandgate-agent from the sandbox's CONFIG\n", f);
	while (*p != '\0') {
		n = strcspn(p, ", \t\n");
		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(addr)) {
			r = -EINVAL;
			break;
		}
		memcpy(addr, p, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET, addr, bin) != 1 &&
		    inet_pton(AF_INET6, addr, bin) != 1) {
			r = -EINVAL;
			break;
		}
		fprintf(f, "nameserver %s\n", addr);
		p += n;
	}
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r < 0)
		goto fail;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return r;
}
