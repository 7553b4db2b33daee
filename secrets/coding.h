/* sp_coding: the content codings an upstream may put on a response body
 * (Content-Encoding: gzip, x-gzip, deflate, br, zstd), decoded by
 * sandgate-proxy so that it can look for secret values in the body
 * (redact.h) before the guest sees it.
 *
 * zlib, brotli and zstd (Debian zlib1g, libbrotli1, libzstd1) do the
 * decoding: well-kept libraries for formats an untrusted upstream
 * chooses. A decoder keeps the compressed bytes it was given and hands
 * out the decoded bytes in portions of the caller's size, so a small
 * body that decodes to a huge one never lands in memory at once: the
 * caller takes more only as its reader keeps up. The window sizes are
 * bounded (zstd: 8 MiB, as RFC 9659 asks; brotli: 16 MiB, the format's
 * own limit without large windows; zlib: 32 KiB). */
#ifndef SP_CODING_H
#define SP_CODING_H

#include <stddef.h>
#include <stdint.h>

enum sp_coding_kind {
	SP_CODING_IDENTITY = 0,	/* none: nothing to decode */
	SP_CODING_GZIP,		/* gzip, x-gzip (concatenated members too) */
	SP_CODING_DEFLATE,	/* deflate: zlib format, or raw deflate */
	SP_CODING_BR,
	SP_CODING_ZSTD,		/* frames may follow each other */
};

#define SP_CODING_PENDING_MAX	(256u << 10)	/* compressed bytes kept */

struct sp_coding;

/* Reads a Content-Encoding field value v[0..n) (a comma-separated list,
 * case-insensitive, "identity" ignored). Returns 0 and the one coding in
 * *ret_kind (SP_CODING_IDENTITY when none); -ENOTSUP for a coding this
 * module does not decode, or for more than one coding stacked, with the
 * offending list item copied, NUL-terminated, into what[0..whatsz). */
int sp_coding_parse(const char *v, size_t n, enum sp_coding_kind *ret_kind,
    char *what, size_t whatsz);

/* The name of kind ("gzip", ...). */
const char *sp_coding_name(enum sp_coding_kind kind);

/* Makes a decoder for kind (not SP_CODING_IDENTITY). Returns 0, -EINVAL
 * or -ENOMEM. */
int sp_coding_new(enum sp_coding_kind kind, struct sp_coding **ret);
/* Frees c (wiping what it holds); NULL is accepted. */
void sp_coding_free(struct sp_coding *c);

/* Gives the decoder compressed bytes. Returns 0, or -ENOBUFS when more
 * than SP_CODING_PENDING_MAX would wait (take output first). */
int sp_coding_put(struct sp_coding *c, const void *p, size_t n);
/* Compressed bytes given but not decoded yet. */
size_t sp_coding_pending(const struct sp_coding *c);
/* Decodes into out[0..cap): *ret_made bytes, 0 only when it needs more
 * input (or the stream ended). Returns 0, 1 once the coded stream has
 * ended (every byte put after it is an error but another gzip member or
 * zstd frame), -EPROTO for malformed data (also bytes after the end),
 * -ENOMEM. */
int sp_coding_get(struct sp_coding *c, uint8_t *out, size_t cap,
    size_t *ret_made);
/* Whether the coded stream ended properly and nothing put is left (after
 * the last get). */
int sp_coding_done(const struct sp_coding *c);

#endif
