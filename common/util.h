/* sg_util: small helpers shared by the gateway's modules.
 *
 * Durations, bounded unsigned integers, constant-time comparison, hex,
 * and random bytes from the kernel (base64 is common/base64.h). Every
 * parser takes the whole NUL-terminated string: leading or trailing
 * garbage, signs, spaces and overflow are errors, never silently
 * ignored. */
#ifndef SG_UTIL_H
#define SG_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Largest duration accepted anywhere: 100 years, in seconds. */
#define SG_UTIL_DURATION_MAX (100ULL * 365 * 24 * 3600)

/* Parses a duration: decimal digits followed by an optional unit
 * ("s" seconds, "m" minutes, "h" hours, "d" days); no unit means seconds.
 * Examples: "30", "30s", "10m", "2h", "1d". Fills *ret_seconds on success.
 * Returns 0, -EINVAL for a malformed string, -ERANGE above
 * SG_UTIL_DURATION_MAX. Zero is accepted; callers check their own range. */
int sg_util_parse_duration(const char *s, uint64_t *ret_seconds);

/* Writes a duration in the largest units that keep it exact, e.g. 90 ->
 * "90s", 600 -> "10m", 7200 -> "2h", 5400 -> "90m", into buf (always
 * NUL-terminated when size > 0). The output parses back with
 * sg_util_parse_duration(). Returns 0 or -ENOBUFS if it did not fit. */
int sg_util_format_duration(uint64_t seconds, char *buf, size_t size);

/* Parses a plain decimal unsigned integer (digits only, no sign, no
 * spaces, no leading zeros except "0") within [min, max]. Fills *ret.
 * Returns 0, -EINVAL when malformed, -ERANGE when outside [min, max]. */
int sg_util_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Compares n bytes of a and b in time that depends only on n.
 * Returns 1 when equal, 0 otherwise. */
int sg_util_ct_equal(const void *a, const void *b, size_t n);

/* Writes the lowercase hex of n bytes of p and a NUL into out, which must
 * hold 2 * n + 1 bytes (out_size). Returns 0 or -ENOBUFS. */
int sg_util_hex_encode(const void *p, size_t n, char *out, size_t out_size);

/* Decodes exactly 2 * n hex digits (either case) from the NUL-terminated s
 * into n bytes at out. Returns 0, or -EINVAL when s is not exactly 2 * n
 * hex digits (out is then left in an unspecified state). */
int sg_util_hex_decode(const char *s, void *out, size_t n);

/* Fills n bytes at p from getrandom(2), retrying on EINTR and short reads,
 * blocking until the kernel's pool is initialised. Returns 0 or -errno. */
int sg_util_random(void *p, size_t n);

#endif
