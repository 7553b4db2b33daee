/* sp_redact: finds a sandbox's secret values in what an upstream sends
 * back, in every form the proxy itself produces and the common forms an
 * echo takes, and puts the placeholder in their place.
 *
 * A set (sp_redact_set) is made once from the values and their
 * placeholders; it is immutable and shared, by reference, by the streams
 * (sp_redact) of every response that needs it. A stream is fed the bytes
 * of one message part (a header value, a body, a WebSocket message) in
 * whatever slices they come, and appends to an output buffer everything
 * that can no longer be part of a value, with every value replaced. It
 * holds back only the bytes that may still turn out to be a value: a
 * partial match, or an escape sequence not yet complete. The output is
 * the same however the input is sliced.
 *
 * Forms found, for each value V (printable ASCII or UTF-8, no control
 * bytes, at least SP_REDACT_MIN bytes):
 *   raw      V itself;
 *   base64   V inside any base64 string, at each of the three byte
 *            alignments, in the standard (+/) and the URL-safe (-_)
 *            alphabet: the characters that carry any bit of V. So
 *            "Basic base64(user:V)" (what the proxy itself sends), a
 *            JWT or JSON holding it, at any offset;
 * each of them in each of these views of the bytes, decoded on the fly:
 *   plain    the bytes as they are;
 *   percent  %XX in either hex case (what the proxy puts in a query);
 *   form     percent, and '+' for a space (only when a value has one);
 *   json     JSON and JavaScript escapes: \uXXXX in any case (surrogate
 *            pairs joined, code points taken as UTF-8), \/ \" \\ \b \f
 *            \n \r \t, and a backslash before any other byte dropped;
 *   html     character references &#DDD; &#xHH; and &amp; &lt; &gt;
 *            &quot; &apos;.
 * In every view, CR and LF (at most two in a row) are skipped, so a
 * value or a base64 string broken across lines is found too.
 *
 * A raw form becomes the placeholder; a base64 form becomes the base64
 * of the placeholder at the same alignment and in the same alphabet,
 * keeping the bits of the byte before V, so that base64(user:V) comes
 * back as base64(user:PLACEHOLDER) (what follows it may then no longer
 * decode cleanly). Every character that carried a bit of V is replaced.
 *
 * Not found (the caller must decode first, or refuse the response):
 * content and transfer codings (gzip, chunked), any other encoding
 * (hex, base32, quoted-printable, UTF-16, double percent encoding,
 * base64 of base64, percent or JSON inside base64), a value in another
 * case, a value split between separate messages, and a value cut into
 * pieces by an upstream that cooperates with the guest. Replacement is
 * one pass, as sed's: a value that only forms across the edge of a
 * replacement (the end of a placeholder and the bytes after it) is not
 * looked for; it takes an upstream that sends the rest of a value right
 * after a value. Values shorter than SP_REDACT_MIN bytes are refused:
 * they could not be told from ordinary text.
 *
 * Cost: one automaton (acmatch.h) holds every form of every value (about
 * 7 strings per value). Each input byte costs one step of it in the
 * plain view; another view runs only from an escape it decodes until it
 * is back in the plain view's state, so text costs little more than one
 * step a byte (measured here, as built with the hardening flags: about
 * 68 MB/s on text and 81 MB/s on random bytes, per core). Memory: the set, about 24 bytes per byte of all forms; each
 * stream, 9 bytes per byte of the longest form, times the views. Nothing
 * here logs. */
#ifndef SP_REDACT_H
#define SP_REDACT_H

#include <stddef.h>
#include <stdint.h>

struct sg_buf;

#include "common/secretval.h"

#define SP_REDACT_MAX		64	/* values in one set */
#define SP_REDACT_MIN		SG_SECRET_MIN	/* shortest value, in bytes */
#define SP_REDACT_VALUE_MAX	SG_SECRET_MAX	/* longest value */

struct sp_redact_set;
struct sp_redact;

struct sp_redact_value {
	const char *value;
	size_t value_len;
	const char *placeholder;	/* what the guest knows it by */
	size_t placeholder_len;
};

/* Makes a set of n values (at most SP_REDACT_MAX); the strings are
 * copied (values wiped when the set is freed). Returns 0 and the set,
 * with one reference, in *ret; -EINVAL for a value that is not
 * sg_secret_value_ok or an empty placeholder; -ENOMEM. */
int sp_redact_set_new(const struct sp_redact_value *v, size_t n,
    struct sp_redact_set **ret);
/* Takes a reference; returns s. */
struct sp_redact_set *sp_redact_set_ref(struct sp_redact_set *s);
/* Drops a reference; the last one frees. NULL is accepted. */
void sp_redact_set_unref(struct sp_redact_set *s);
/* Values in the set. */
size_t sp_redact_set_count(const struct sp_redact_set *s);
/* The placeholder of value i (not NUL-terminated: *ret_len bytes), or
 * NULL past the end. */
const char *sp_redact_set_placeholder(const struct sp_redact_set *s,
    size_t i, size_t *ret_len);

/* Makes a stream over set (it takes a reference). Returns 0 and the
 * stream in *ret, or -ENOMEM. */
int sp_redact_new(struct sp_redact_set *set, struct sp_redact **ret);
/* The set r redacts the values of. */
const struct sp_redact_set *sp_redact_stream_set(const struct sp_redact *r);
/* Frees r, wiping what it held; NULL is accepted. */
void sp_redact_free(struct sp_redact *r);
/* Forgets the stream (held bytes dropped, wiped): ready for the next. */
void sp_redact_reset(struct sp_redact *r);

/* Feeds p[0..n) (p may be NULL when n is 0) and appends to out what can
 * be emitted; with final set, everything, the stream then ending (call
 * sp_redact_reset before reusing it). Returns the number of values
 * replaced by this call, or -ENOBUFS when out is full or the bytes held
 * back would pass their bound (the output is then incomplete: the caller
 * must not send anything more of this message part). */
int sp_redact_feed(struct sp_redact *r, const void *p, size_t n, int final,
    struct sg_buf *out);
/* One whole part: sp_redact_reset, then sp_redact_feed(final). */
int sp_redact_once(struct sp_redact *r, const void *p, size_t n,
    struct sg_buf *out);
/* Bytes fed but not yet emitted. */
size_t sp_redact_held(const struct sp_redact *r);
/* The values replaced since the last reset: bit i for value i. */
uint64_t sp_redact_found(const struct sp_redact *r);

#endif
