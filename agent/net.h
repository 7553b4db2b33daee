/* ag_net: the guest's network set-up with plain ioctls (no netlink, no
 * tools in the image needed). IPv4 only: the sandbox network drops IPv6. */
#ifndef AG_NET_H
#define AG_NET_H

/* Sets IFF_UP on interface name. Returns 0, -ENODEV when there is no
 * such interface, or -errno. */
int ag_net_link_up(const char *name);
/* Parses "A.B.C.D/PREFIX" (or a bare address, prefix 32), assigns it to
 * name and brings it up. Returns 0, -EINVAL for a bad value, -ENODEV or
 * -errno. */
int ag_net_set_addr(const char *name, const char *cidr);
/* Replaces the default route with one via gw ("A.B.C.D") on name. */
int ag_net_set_gateway(const char *name, const char *gw);
/* Writes path as a resolv.conf naming each IPv4/IPv6 address in list
 * (separated by commas or spaces) as a nameserver. Returns 0, -EINVAL
 * when an entry is not an address, or -errno. */
int ag_net_write_resolv(const char *path, const char *list);
/* 1 when interface name exists, else 0. */
int ag_net_has_link(const char *name);

#endif
