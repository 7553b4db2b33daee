/* np_ct: the kernel's connection tracking entries of a sandbox's
 * addresses, removed when the sandbox goes.
 *
 * The sandbox rules accept "established" traffic; an entry left from a
 * destroyed sandbox would let the next sandbox given the same /30 ride
 * its connections (to a host the new sandbox's token may not reach).
 * So every entry whose original or reply tuple has an address in the
 * sandbox's network is deleted before the network is handed out again.
 * libnl-nf (Debian libnl-nf-3-200) speaks ctnetlink: the table is dumped
 * and the matching entries deleted one by one, which works on every
 * kernel (deleting by a filter needs Linux 6.3). Needs CAP_NET_ADMIN. */
#ifndef NP_CT_H
#define NP_CT_H

#include <stddef.h>
#include <stdint.h>

/* Deletes the IPv4 entries with an address in net/prefix (host order,
 * prefix 1..32) in any of their four addresses. Returns 0 and the count
 * deleted in *ret_n (may be NULL), or a negative errno (-EPERM without
 * CAP_NET_ADMIN) with a message in *ret_msg (NULL allowed; the caller
 * frees it). An entry that went away meanwhile is not an error. */
int np_ct_flush(uint32_t net, unsigned prefix, size_t *ret_n, char **ret_msg);

/* The number of IPv4 entries with an address in net/prefix, for tests
 * and diagnostics; same errors. */
int np_ct_count(uint32_t net, unsigned prefix, size_t *ret_n, char **ret_msg);

#endif
