/* sp_rw: the byte rewriting of sandgate-proxy.
 *
 * Requests: placeholders become secret values (sp_rw_replace,
 * sp_rw_basic, sp_rw_query). Responses go the other way through
 * redact.h, which finds the values in every form.
 *
 * Output goes to an sg_buf the caller made with sg_buf_set_wipe(b, 1):
 * it holds secret values. Nothing here logs. */
#ifndef SP_REWRITE_H
#define SP_REWRITE_H

#include <stddef.h>
#include <stdint.h>

struct sg_buf;

/* Replace from[0..from_len) by to[0..to_len). */
struct sp_rw_pair {
	const char *from;
	size_t from_len;
	const char *to;
	size_t to_len;
};

#define SP_RW_MAX_PAIRS 64

/* Appends p[0..n) to out with every occurrence of a pair's from replaced
 * by its to (leftmost match first; at one position, the first pair in
 * the array). Bit i of *ret_used (when not NULL) is set when pair i was
 * replaced. Returns the number of replacements, or -ENOBUFS when out is
 * full, -EINVAL for more than SP_RW_MAX_PAIRS or an empty from. */
int sp_rw_replace(struct sg_buf *out, const void *p, size_t n,
    const struct sp_rw_pair *pairs, size_t npairs, uint64_t *ret_used);

/* For an Authorization (or Proxy-Authorization) value "Basic B64":
 * decodes B64, replaces as sp_rw_replace, encodes again and appends
 * "Basic NEW" to out. Returns the number of replacements; 0 (nothing
 * appended) when the value is not Basic with valid base64 or holds no
 * placeholder; -ENOBUFS when out is full. */
int sp_rw_basic(struct sg_buf *out, const void *p, size_t n,
    const struct sp_rw_pair *pairs, size_t npairs, uint64_t *ret_used);

/* Like sp_rw_replace, for a URL query: the replacement is
 * percent-encoded except for RFC 3986 unreserved bytes. */
int sp_rw_query(struct sg_buf *out, const void *p, size_t n,
    const struct sp_rw_pair *pairs, size_t npairs, uint64_t *ret_used);

#endif
