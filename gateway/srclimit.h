/* sg_srclimit: sshd's MaxStartups and PerSourceMaxStartups for the
 * monitor's accept, as pure functions (the monitor keeps the counts).
 *
 * A connection counts as unauthenticated from accept until its worker
 * authenticates. Sources are counted by block: the address with only its
 * first v4 (IPv4) or v6 (IPv6) bits kept, so one IPv6 /64 is one source
 * however many addresses it uses. An IPv4-mapped IPv6 address is IPv4. */
#ifndef SG_SRCLIMIT_H
#define SG_SRCLIMIT_H

#include <stddef.h>
#include <sys/socket.h>

/* Whether to refuse a new connection while n others are unauthenticated,
 * under START:RATE:FULL: never below start, always from full, between
 * them with a probability rising linearly from rate% to 100%. rnd is a
 * uniform random number (any range: it is taken modulo 100); rate is
 * 1..100 (sandgate.conf checks it). */
int sg_srclimit_drop(unsigned start, unsigned rate, unsigned full,
    unsigned n, unsigned rnd);

/* The block of address sa as text ("192.0.2.0/24", "2001:db8::/64") in
 * out (64 bytes always suffice); prefixes over 32 or 128 count as 32 or
 * 128. Returns 0, -EAFNOSUPPORT, or -ENOSPC when out is too small. */
int sg_srclimit_block(const struct sockaddr *sa, unsigned v4, unsigned v6,
    char *out, size_t len);

#endif
