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

/* Parses a duration: one or more groups of decimal digits and a unit
 * ("d" days, "h" hours, "m" minutes, "s" seconds), the units in that
 * order and each at most once, or decimal digits alone for seconds.
 * Examples: "30", "30s", "10m", "1h30m", "2d3h", "1d2h3m4s". Refused
 * (-EINVAL): units out of order or repeated ("30m1h", "1h1h"), digits
 * without a unit after a group ("1h30"), a unit without digits, leading
 * zeros ("05m"), signs, spaces, upper case. Fills *ret_seconds on
 * success. Returns 0, -EINVAL for a malformed string, -ERANGE when the
 * total is above SG_UTIL_DURATION_MAX. Zero is accepted; callers check
 * their own range. */
int sg_util_parse_duration(const char *s, uint64_t *ret_seconds);

/* For messages about a malformed duration: what one looks like. */
#define SG_UTIL_DURATION_HINT "a number with a unit s, m, h or d, or several " \
	"from the largest unit down (e.g. 30s, 10m, 1h30m, 2d), or seconds alone"

/* A buffer this large holds any formatted duration. */
#define SG_UTIL_DURATION_BUFSZ 32

/* Writes a duration exactly, largest units first and zero groups left
 * out: 0 -> "0s", 90 -> "1m30s", 600 -> "10m", 5400 -> "1h30m",
 * 86400 -> "1d", 90061 -> "1d1h1m1s"; into buf (always NUL-terminated
 * when size > 0). Up to SG_UTIL_DURATION_MAX, the output parses back to
 * seconds with sg_util_parse_duration(). Returns 0 or -ENOBUFS if it did
 * not fit (SG_UTIL_DURATION_BUFSZ bytes always do). */
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

/* Reads the file at path, at most max bytes, into a new NUL-terminated
 * string *ret (the caller frees it; wipe it first if it held a secret).
 * 0, or -errno with a one-line message in *ret_err (-EFBIG: larger than
 * max). */
int sg_util_read_small(const char *path, size_t max, char **ret,
    char **ret_err);

/* Copies the directory part of path ("/a/b" for "/a/b/c", "/" for "/c")
 * into out. Returns 0, or -EINVAL when path has no '/' or out is too
 * small. */
int sg_util_parent_dir(const char *path, char *out, size_t size);

#endif
