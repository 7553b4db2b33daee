/* sg_allow: a token's allow_net list, parsed once and matched many times.
 *
 * The syntax follows Deno's allowNet. Each entry is one string (the tokens
 * module splits the comma list and trims it):
 *
 *   *                     every host, every address, every port
 *   NAME, NAME:PORT       one name, on any port or on PORT
 *   *.DOMAIN[:PORT]       every name below DOMAIN (a.DOMAIN, a.b.DOMAIN),
 *                         not DOMAIN itself and not xDOMAIN
 *   A.B.C.D[/LEN][:PORT]  an IPv4 address or network (no host bits set)
 *   [IPV6[/LEN]][:PORT]   an IPv6 address or network, in brackets
 *
 * Names are ASCII letters, digits, '-' and '_' in labels of 1..63 bytes
 * (no '-' at either end), 253 bytes at most, compared without case; one
 * trailing dot is ignored, in entries and in queried names. A name whose
 * last label is a number (all digits, or 0x and hex digits) is neither a
 * name nor an address and is refused, as in the WHATWG URL standard.
 * Internationalised names must be written in their punycode (xn--) form.
 * Ports are 1..65535, prefix lengths and dotted-quad parts are decimal
 * without leading zeros. An IPv4-mapped IPv6 entry ([::ffff:A.B.C.D],
 * prefix 96 or longer) is stored as the IPv4 entry it means; a v6 range
 * that only partly covers ::ffff:0:0/96 (such as [::/0]) matches IPv6
 * addresses only.
 *
 * An empty list means no egress at all. Exact duplicate entries are
 * dropped; overlapping ones are kept as written. */
#ifndef SG_ALLOW_H
#define SG_ALLOW_H

#include <stddef.h>
#include <stdint.h>

#include "common/hostname.h"	/* names: SG_NAME_MAX, sg_name_normalise */

struct sg_allow;

/* sg_allow_name_ports(): every port of NAME is allowed. */
#define SG_ALLOW_ANY_PORT SIZE_MAX

/* Parses n entries (entries may be NULL when n is 0). On success returns 0
 * and *ret, which the caller frees with sg_allow_free(). On a bad entry
 * returns -EINVAL and, when ret_msg is not NULL, a malloc'd one-line
 * message naming the entry and what to write instead, e.g.
 *   allow_net entry 'foo..com': empty label; write names like api.example.com
 * (the caller adds the file, line and token). -ENOMEM sets *ret_msg to
 * NULL. *ret is untouched on failure. */
int sg_allow_parse(const char *const *entries, size_t n, struct sg_allow **ret, char **ret_msg);

/* Frees a; NULL is accepted. */
void sg_allow_free(struct sg_allow *a);

/* 1 when the list has no entry (no egress at all), else 0. */
int sg_allow_is_empty(const struct sg_allow *a);
/* 1 when '*' is on the list, else 0. */
int sg_allow_all(const struct sg_allow *a);

/* 1 when '*' or a name entry allows NAME on at least one port, else 0.
 * NAME is what a client asked for (DNS question, SNI, Host): it is
 * normalised first, and a name sg_name_normalise() refuses is never
 * allowed, even by '*'. IP literals are not names: use
 * sg_allow_addr_port() for them. */
int sg_allow_name(const struct sg_allow *a, const char *name);

/* 1 when '*' or a name entry allows NAME on port, else 0 (port 0 never
 * is). */
int sg_allow_name_port(const struct sg_allow *a, const char *name, uint16_t port);

/* The ports allowed for NAME. Returns SG_ALLOW_ANY_PORT when some entry
 * (or '*') allows every port, 0 when NAME is not allowed, else the number
 * of distinct ports, and stores the smallest min(count, max) of them in
 * ascending order in ports (which may be NULL when max is 0). A count
 * above max means the list was cut short. */
size_t sg_allow_name_ports(const struct sg_allow *a, const char *name, uint16_t *ports, size_t max);

/* 1 when '*' or a literal address entry allows addr:port, else 0. family
 * is AF_INET (addr: struct in_addr, network order) or AF_INET6 (struct
 * in6_addr); an IPv4-mapped IPv6 address is judged as its IPv4 address.
 * Port 0 and other families are never allowed. */
int sg_allow_addr_port(const struct sg_allow *a, int family, const void *addr, uint16_t port);

/* 1 when a literal address or network entry (not '*') contains addr, on
 * any port: the allowlist itself names that range, so a name may resolve
 * into it even when sg_addr_is_internal() says it is internal. */
int sg_allow_names_range(const struct sg_allow *a, int family, const void *addr);

/* The literal IPv4 entries, in list order, for firewall rules: network in
 * host byte order, prefix length 0..32, port (0: any). i must be below
 * sg_allow_v4_count(). */
size_t sg_allow_v4_count(const struct sg_allow *a);
void sg_allow_v4_at(const struct sg_allow *a, size_t i, uint32_t *ret_net, unsigned *ret_prefix,
		    uint16_t *ret_port);

/* The literal IPv6 entries likewise: network (16 bytes, network order),
 * prefix length 0..128, port (0: any). */
size_t sg_allow_v6_count(const struct sg_allow *a);
void sg_allow_v6_at(const struct sg_allow *a, size_t i, uint8_t ret_net[16], unsigned *ret_prefix,
		    uint16_t *ret_port);

/* 1 when addr is in an address class that a NAME must not resolve to
 * unless sg_allow_names_range() says the list names it (DNS rebinding
 * defence), else 0:
 *   IPv4: 0/8, 10/8, 100.64/10, 127/8, 169.254/16 (link-local and cloud
 *         metadata), 172.16/12, 192.0.0/24, 192.168/16, 198.18/15,
 *         224/4 (multicast), 240/4 (including 255.255.255.255);
 *   IPv6: ::/96 (unspecified, loopback, IPv4-compatible), fc00::/7 (ULA,
 *         including fd00:ec2::254), fe80::/10, fec0::/10, ff00::/8,
 *         64:ff9b:1::/48; ::ffff:0:0/96, 64:ff9b::/96 and 2002::/16 are
 *         judged by the IPv4 address they carry.
 * Unknown families are internal (1). */
int sg_addr_is_internal(int family, const void *addr);

/* 1 when everything inner allows, outer allows too (a sandbox's narrowed
 * list against its token's), else 0. Each entry of inner must lie inside
 * one entry of outer: '*' only inside '*'; a name inside the same name or
 * a wildcard above it; *.D inside *.D or a wildcard above D; a network
 * inside a network that contains it; and a port inside the same port or
 * an entry without one (an entry without a port needs one without). */
int sg_allow_within(const struct sg_allow *inner, const struct sg_allow *outer);

#endif
