/* sg_srclimit: see srclimit.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "gateway/srclimit.h"

int
sg_srclimit_drop(unsigned start, unsigned rate, unsigned full, unsigned n,
    unsigned rnd)
{
	unsigned p;

	if (n < start)
		return 0;
	if (n >= full)
		return 1;
	/* start <= n < full, so full > start */
	p = rate + (100 - rate) * (n - start) / (full - start);
	return rnd % 100 < p;
}

static void
mask(uint8_t *a, size_t len, unsigned bits)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		a[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

int
sg_srclimit_block(const struct sockaddr *sa, unsigned v4, unsigned v6,
    char *out, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	uint8_t a[16];
	int family;
	unsigned bits;

	if (sa->sa_family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *x =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(x)) {
			memcpy(a, x->s6_addr + 12, 4);
			family = AF_INET;
		} else {
			memcpy(a, x->s6_addr, 16);
			family = AF_INET6;
		}
	} else {
		return -EAFNOSUPPORT;
	}
	bits = family == AF_INET ? (v4 > 32 ? 32 : v4) : (v6 > 128 ? 128 : v6);
	mask(a, family == AF_INET ? 4 : 16, bits);
	if (inet_ntop(family, a, text, sizeof(text)) == NULL)
		return -EAFNOSUPPORT;
	if ((size_t)snprintf(out, len, "%s/%u", text, bits) >= len)
		return -ENOSPC;
	return 0;
}
