/* leakcheck: does a byte string give a secret value back, in any of the
 * forms sandgate-proxy promises to redact? For the unit test and the
 * fuzz harness of secrets/redact.c: an independent, whole-buffer
 * reference, written without the streaming machinery it checks.
 *
 * The bytes are decoded in each view (as they are; %XX; %XX and '+';
 * JSON escapes, a lone surrogate as U+FFFD; HTML character references),
 * the first two bytes of every run of CR/LF are dropped (those written
 * in at most 3 bytes), and the result is searched for the
 * value as it is, and for the value inside every run of base64
 * characters of one alphabet (standard or URL-safe) decoded at each of
 * the 4 character phases. */
#ifndef SG_LEAKCHECK_H
#define SG_LEAKCHECK_H

#include <stddef.h>
#include <stdint.h>

/* 1 when out[0..n) gives value[0..vlen) back; *ret_how (may be NULL)
 * then names the view and form ("json base64" ...); else 0. -1 when out
 * of memory. */
int lc_leaks(const uint8_t *out, size_t n, const uint8_t *value, size_t vlen,
    const char **ret_how);

#endif
