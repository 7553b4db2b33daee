/* sg_b64: base64 (RFC 4648), the one codec of the project: standard
 * base64 for SSH key blobs and HTTP Basic credentials, base64url for
 * token texts. The decoder is strict and takes untrusted input. */
#ifndef SG_BASE64_H
#define SG_BASE64_H

#include <stddef.h>
#include <stdint.h>

struct sg_buf;

/* Decodes standard base64 (RFC 4648 section 4, "=" padding required when
 * the length is not a multiple of 4, no whitespace) of len bytes at s.
 * On success *ret is a new buffer the caller frees (wiping it first when
 * it may hold a secret) and *ret_len its length. Returns 0, -EINVAL when
 * malformed (empty, bad character, bad padding, non-zero trailing bits),
 * -ENOMEM. */
int sg_b64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len);

/* Alphabets for sg_b64_value. */
#define SG_B64_STD	0x1u	/* + and / */
#define SG_B64_URL	0x2u	/* - and _ */

/* The value (0..63) of base64 character c in the alphabets given (a
 * mask of SG_B64_*), or -1. */
int sg_b64_value(uint8_t c, unsigned alphabets);

/* Appends n bytes of p to out as standard base64 with padding. Returns 0,
 * or -ENOBUFS when out has no room (out then holds part of it). */
int sg_b64_encode(struct sg_buf *out, const void *p, size_t n);

/* Encodes n bytes of p as base64url without padding (RFC 4648 section 5)
 * into out, NUL-terminated; out_size must be at least
 * SG_B64URL_LEN(n) + 1. Returns 0 or -ENOBUFS. */
#define SG_B64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
int sg_b64url_encode(const void *p, size_t n, char *out, size_t out_size);

#endif
