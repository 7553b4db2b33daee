/* np_tap: the per-sandbox tap device on the host.
 *
 * A sandbox's tap is a persistent, single-queue tap (IFF_TAP | IFF_NO_PI)
 * created through /dev/net/tun, so that libvirt can later open it by name
 * (<interface type='ethernet'><target dev='NAME' managed='no'/>). The host
 * side gets one IPv4 address (the /30's host address; the kernel adds the
 * connected route), the host takes no part in IPv6 on it (no address,
 * not even link-local, no router advertisements or autoconf; IPv6 stays
 * on so a guest's IPv6 packets reach nftables and are counted as they
 * are dropped), and it is set up. Addresses
 * and links are handled through libnl-route-3.
 *
 * Names are [a-z0-9-]{1,15}; np_tap_delete() and np_tap_list() touch only
 * tun/tap devices, never another kind of interface with a matching name.
 *
 * Errors: functions return 0 or a negative errno and fill ret_
 * out-parameters only on success. Where a function takes char **ret_msg
 * (NULL allowed), a failure sets it to a one-line message for users, which
 * the caller frees (NULL when out of memory). Addresses are IPv4 in host
 * byte order. */
#ifndef NP_TAP_H
#define NP_TAP_H

#include <stddef.h>
#include <stdint.h>

#define NP_TAP_NAME_MAX 15

/* 1 if name is [a-z0-9-]{1,15}, else 0. */
int np_tap_name_valid(const char *name);

/* Creates the tap (or takes over an existing persistent tap of that name),
 * gives it host_addr/prefix as its only IPv4 address, gives the host no
 * IPv6 on it and sets it up. prefix is 1..32 (30 for a sandbox). A tap this call
 * created is removed again if a later step fails. -EEXIST if the name
 * belongs to an interface that is not a tap. */
int np_tap_create(const char *name, uint32_t host_addr, unsigned prefix, char **ret_msg);
/* Deletes the tap; 0 if there is no interface of that name, -EINVAL if
 * the interface is not a tun/tap device. */
int np_tap_delete(const char *name, char **ret_msg);
/* Names of the tun/tap devices whose names start with prefix, sorted;
 * free with sg_strv_free(). */
int np_tap_list(const char *prefix, char ***ret, size_t *ret_n, char **ret_msg);

#endif
