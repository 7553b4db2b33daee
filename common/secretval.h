/* sg_secret: what a secret value may be, for the gateway (which reads
 * the tokens file and resolves env: and file: values) and the proxy
 * (which puts values in requests and takes them out of responses).
 *
 * A value is at least SG_SECRET_MIN bytes: the proxy looks for every
 * value in what upstreams send back, and a shorter one could not be
 * told from ordinary text. It holds no control byte (below 0x20, 0x7f):
 * it goes into HTTP header fields. Printable ASCII and UTF-8 are fine. */
#ifndef SG_SECRETVAL_H
#define SG_SECRETVAL_H

#include <stddef.h>

#define SG_SECRET_MIN	8
#define SG_SECRET_MAX	4096

/* 1 when v[0..n) can be a secret value; else 0 and, when ret_why is
 * not NULL, a static reason for users ("shorter than 8 bytes", ...). */
int sg_secret_value_ok(const void *v, size_t n, const char **ret_why);

#endif
