/* sp_scan: streaming detector of sandbox placeholders in request bytes.
 *
 * sandgate-proxy gives every secret of a sandbox a placeholder,
 * "SANDGATE_SECRET_" followed by 32 lowercase hex digits (128 random
 * bits). A request that carries one of them to a host not approved for it
 * is blocked; so the proxy feeds the request's bytes (target, header
 * values, body), in whatever slices it has them, to a scanner made for
 * that sandbox's placeholders, and asks for the verdict at the end.
 *
 * Matching is exact: a placeholder is those 48 bytes, in that case. Every
 * occurrence of the prefix "SANDGATE_SECRET_" (exact case) that is not
 * followed by one of the scanner's placeholders is reported as a foreign
 * placeholder: another sandbox's, a made-up one, an upper-cased one, one
 * cut short. A placeholder is found wherever it starts and whatever
 * follows it, and however the bytes are sliced between sp_scan_feed calls.
 *
 * Encodings covered (each decoded on the fly, as one more view of the
 * same byte stream; the views are scanned side by side):
 *   plain    the bytes as they are;
 *   percent  %XX for any byte, upper or lower case hex, mixed freely with
 *            literal bytes (a '%' not followed by two hex digits is taken
 *            literally);
 *   json     JSON and JavaScript string escapes: \uXXXX (any case),
 *            \/ \" \\ \b \f \n \r \t, and a backslash before any other
 *            byte drops the backslash (JavaScript's "\_" is "_");
 *   base64   the standard (+/) and URL-safe (-_) alphabets, or a mix,
 *            padded or not, wherever the encoded string starts inside a
 *            run of base64 characters (so a placeholder at any byte
 *            offset in any larger base64 string, such as
 *            "Authorization: Basic base64(user:placeholder)"); CR and LF
 *            inside the run are skipped (MIME line breaks); any other
 *            byte ends the run;
 *   percent+base64, json+base64
 *            base64 whose characters are themselves percent-encoded
 *            (%2B, %2F, %3D) or JSON-escaped (\/, \u002b): base64 decoded
 *            from the percent and json views.
 * Not covered (the caller must decode first, or refuse): transfer and
 * content codings (chunked framing must be removed before feeding;
 * gzip, deflate, br, zstd bodies), multipart and form framing inside a
 * placeholder, any other nesting (percent inside JSON, double percent
 * encoding such as %2541, base64 of base64, percent or JSON inside
 * base64), UTF-16 and UTF-32 text, quoted-printable, HTML entities,
 * other escapes (\x41, octal), hex or other encodings of the bytes, a
 * placeholder in another case, and a placeholder split across two
 * separate base64 strings.
 *
 * Memory is fixed when the scanner is made (about 1.5 KiB, the
 * placeholders included): decoding keeps no window, only a few bytes of
 * state per view, and a feed never allocates. The cost is a few dozen
 * simple steps per input byte (the percent and json views are skipped
 * while they decode nothing): about 55 MB/s on pure base64 and 75-90
 * MB/s on text, per core, at -O2. */
#ifndef SP_SCAN_H
#define SP_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "common/pxfeed.h"

#define SP_SCAN_MAX          64                  /* placeholders a scanner takes */
#define SP_SCAN_PREFIX       SG_FEED_PH_PREFIX
#define SP_SCAN_PREFIX_LEN   SG_FEED_PH_PREFIX_LEN
#define SP_SCAN_LEN          SG_FEED_PH_LEN      /* prefix + 32 hex digits */
#define SP_SCAN_NO_INDEX     ((size_t)-1)

struct sp_scan;

enum sp_scan_verdict {
	SP_SCAN_CLEAN = 0,    /* no placeholder and no prefix seen */
	SP_SCAN_FOREIGN = 1,  /* the prefix, but none of the scanner's own */
	SP_SCAN_MATCH = 2,    /* one of the scanner's placeholders */
};

/* The view a placeholder was seen in: 0 (plain) or a combination. */
enum sp_scan_enc {
	SP_SCAN_ENC_PLAIN = 0,
	SP_SCAN_ENC_PERCENT = 1,
	SP_SCAN_ENC_JSON = 2,
	SP_SCAN_ENC_BASE64 = 4,
};

/* Makes a scanner for n placeholders (0..SP_SCAN_MAX; placeholders may
 * be NULL when n is 0), each a C string of exactly SP_SCAN_LEN bytes in
 * the form above; the strings are copied. Their index in the array is
 * what the scanner reports. Returns 0 and the scanner in *ret_s,
 * -EINVAL for a bad placeholder or n over SP_SCAN_MAX, or -ENOMEM. */
int sp_scan_new(const char *const *placeholders, size_t n,
    struct sp_scan **ret_s);

/* Frees s; NULL is accepted. */
void sp_scan_free(struct sp_scan *s);

/* Scans the next len bytes of the stream (p may be NULL when len is 0)
 * and returns the verdict so far (enum sp_scan_verdict, never negative).
 * A placeholder may be split anywhere between two feeds. */
int sp_scan_feed(struct sp_scan *s, const void *p, size_t len);

/* Ends a field: the next bytes do not continue the ones before (for a
 * caller that feeds separate header values without separators). Pending
 * decodings are dropped; a prefix cut short here counts as foreign.
 * Verdicts so far are kept. */
void sp_scan_break(struct sp_scan *s);

/* Forgets the stream and every verdict: ready for the next request. */
void sp_scan_reset(struct sp_scan *s);

/* The verdict for the bytes fed so far. For SP_SCAN_MATCH, *ret_index is
 * the index of the first placeholder found and *ret_encoding the view it
 * was found in; for SP_SCAN_FOREIGN, *ret_index is SP_SCAN_NO_INDEX and
 * *ret_encoding the view of the first foreign prefix; for SP_SCAN_CLEAN
 * neither is touched. Either pointer may be NULL. A prefix still waiting
 * for its hex digits at the end of the bytes fed counts as foreign (more
 * bytes may turn it into a match). */
int sp_scan_result(const struct sp_scan *s, size_t *ret_index,
    unsigned *ret_encoding);

/* Every placeholder found so far, bit i for index i. */
uint64_t sp_scan_matched(const struct sp_scan *s);

/* Whether a foreign prefix was seen (or is pending), even when a match
 * was found too. */
int sp_scan_foreign(const struct sp_scan *s);

/* Whether a foreign placeholder was seen for sure: not one whose end is
 * still to come (sp_scan_foreign counts those too). For a caller that
 * checks between reads of one stream. */
int sp_scan_foreign_seen(const struct sp_scan *s);

/* "plain", "percent", "json", "base64", "percent+base64" or
 * "json+base64"; "unknown" for anything else. */
const char *sp_scan_encoding_name(unsigned encoding);

#endif
