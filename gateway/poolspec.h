/* sg_poolspec: the value of [sandbox] warm_pool.
 *
 * "N" keeps N members of the configured image; a comma-separated list
 * of such an N and IMAGE:N items keeps members of several images
 * ("2, python:1"). Each image (the configured one written as a bare N or
 * by its name) appears once; N is 0..SG_POOLSPEC_MAX and the members add
 * up to at most SG_POOLSPEC_MAX. Pure: no I/O. */
#ifndef SG_POOLSPEC_H
#define SG_POOLSPEC_H

#include <stddef.h>

#define SG_POOLSPEC_MAX 64		/* members in all */
#define SG_POOLSPEC_IMAGES 16		/* items */

struct sg_poolspec_ent {
	char image[65];			/* "" for the configured image */
	unsigned n;
};

/* Parses s into ret[0..*ret_n) (at most SG_POOLSPEC_IMAGES). Returns 0,
 * or -EINVAL with a message for the user in msg. */
int sg_poolspec_parse(const char *s, struct sg_poolspec_ent *ret,
    size_t *ret_n, char *msg, size_t msglen);

#endif
