/* sg_http: the strict HTTP/1.1 message-head parser and chunked-body
 * decoder (RFC 9110, RFC 9112) of sandgate-proxy and sandgate-front.
 *
 * Requests come from a hostile guest or from the Internet, responses
 * from upstreams or guests that are not trusted either. Anything ambiguous is refused rather than
 * repaired, with the HTTP status the proxy should answer (400, 414, 417,
 * 431, 501, 505) and a short reason for the body. Pure C17 and libc, no
 * I/O, no allocation.
 *
 * Head parsing (sg_http_head_init, sg_http_head_parse) is incremental:
 * the caller passes the bytes received so far, again and again as more
 * arrive, and the parser resumes where it stopped (linear in the head
 * size). The parsed head is a public struct in caller memory; treat it
 * as read-only. Its spans (method, target, path, query, fields) are
 * offsets into the caller's buffer, so they stay valid when the buffer
 * moves (sg_buf compaction), as long as the head bytes are unchanged. The
 * normalised Host is copied into the struct.
 *
 * What is refused (h->error says which, h->error_status the status):
 *  - anything but CRLF line ends: bare LF, bare CR, NUL anywhere; an
 *    empty line or whitespace before the start line; obs-fold (a field
 *    line starting with SP or HTAB);
 *  - a request line that is not `token SP target SP HTTP/x.y` with single
 *    spaces; a version other than HTTP/1.0 or HTTP/1.1 (505); the HTTP/2
 *    preface `PRI * HTTP/2.0` (SG_HTTP_E_H2_PREFACE, 505); CONNECT
 *    (SG_HTTP_E_CONNECT, 501); asterisk-form (SG_HTTP_E_ASTERISK, 400);
 *  - a target that is neither origin-form (`/path[?query]`) nor
 *    absolute-form `http://` or `https://` authority [path] [?query];
 *    userinfo, fragments, bytes outside 0x21-0x7e and a `%` not followed
 *    by two hex digits;
 *  - a field name that is not a token (so no space before the colon), a
 *    field value with a CTL other than HTAB (obs-text is allowed); leading
 *    and trailing SP/HTAB of values are not part of the value span;
 *  - a head over SG_HTTP_HEAD_MAX bytes or with more than
 *    SG_HTTP_FIELDS_MAX field lines (431); a request line over
 *    SG_HTTP_LINE_MAX bytes (414, or 501 when the method alone is that
 *    long); a status line over SG_HTTP_LINE_MAX (431);
 *  - framing: Content-Length that is not 1*DIGIT (at most 2^62), more
 *    than one Content-Length field even with the same value, any
 *    Transfer-Encoding together with Content-Length, Transfer-Encoding in
 *    an HTTP/1.0 message, chunked repeated, not last or with parameters
 *    (400), any coding other than chunked (501);
 *  - requests: zero or several Host fields, a Host that is not a reg-name
 *    (LDH and `_` labels of 1..63 bytes, at most 253 bytes), an IPv4
 *    dotted quad or a bracketed IPv6 address, with an optional port
 *    1..65535 without leading zeros; a name whose last label is numeric
 *    but is not a dotted quad (`1.2.3`, `0x7f.1`); an absolute-form
 *    authority that differs from Host after normalisation (lowercase,
 *    trailing dot dropped, canonical IPv6, default port of the scheme);
 *    an Expect other than 100-continue (417).
 *
 * The chunked decoder (sg_http_chunked_*) is a byte-level state machine
 * fed arbitrary slices of a body; it returns the data ranges and
 * validates everything else: chunk-size as 1*HEXDIG with at most 16
 * digits and a value of at most 2^40, extensions per the RFC 9112 grammar
 * (at most SG_HTTP_CHUNK_EXT_MAX bytes per chunk line, otherwise
 * ignored), CRLF after every chunk, and a trailer section checked with
 * the field rules above (at most SG_HTTP_TRAILER_MAX bytes and
 * SG_HTTP_FIELDS_MAX fields), which is then discarded. */
#ifndef SG_HTTPHEAD_H
#define SG_HTTPHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_HTTP_HEAD_MAX	32768	/* whole head, final CRLF included */
#define SG_HTTP_LINE_MAX	8192	/* request/status line, CRLF included */
#define SG_HTTP_FIELDS_MAX	100
#define SG_HTTP_HOST_BUF	256	/* normalised host and its NUL */
#define SG_HTTP_CL_MAX		(UINT64_C(1) << 62)
#define SG_HTTP_CHUNK_MAX	(UINT64_C(1) << 40)
#define SG_HTTP_CHUNK_DIGITS	16
#define SG_HTTP_CHUNK_EXT_MAX	1024
#define SG_HTTP_TRAILER_MAX	8192	/* trailer section, final CRLF included */

enum sg_http_role {
	SG_HTTP_REQUEST,
	SG_HTTP_RESPONSE,
};

/* Why a message was refused; SG_HTTP_E_NONE while it was not. */
enum sg_http_error {
	SG_HTTP_E_NONE = 0,
	SG_HTTP_E_SYNTAX,	/* 400: malformed line, field or target */
	SG_HTTP_E_LINE_END,	/* 400: bare LF, bare CR or NUL */
	SG_HTTP_E_OBS_FOLD,	/* 400 */
	SG_HTTP_E_VERSION,	/* 505: not HTTP/1.0 or HTTP/1.1 */
	SG_HTTP_E_H2_PREFACE,	/* 505: PRI * HTTP/2.0 */
	SG_HTTP_E_CONNECT,	/* 501 */
	SG_HTTP_E_ASTERISK,	/* 400: asterisk-form target */
	SG_HTTP_E_METHOD,	/* 501: method longer than the line limit */
	SG_HTTP_E_TARGET_LONG,	/* 414 */
	SG_HTTP_E_TOO_LARGE,	/* 431: head or status line too long */
	SG_HTTP_E_TOO_MANY,	/* 431: too many field lines */
	SG_HTTP_E_FRAMING,	/* 400: Content-Length / Transfer-Encoding */
	SG_HTTP_E_CODING,	/* 501: transfer coding other than chunked */
	SG_HTTP_E_HOST,		/* 400: Host missing, duplicate or invalid */
	SG_HTTP_E_HOST_MISMATCH,/* 400: absolute-form authority != Host */
	SG_HTTP_E_EXPECT,	/* 417 */
	SG_HTTP_E_CHUNK,	/* chunked body malformed or over a limit */
};

enum sg_http_scheme {
	SG_HTTP_SCHEME_NONE,	/* origin-form: the connection decides */
	SG_HTTP_SCHEME_HTTP,
	SG_HTTP_SCHEME_HTTPS,
};

enum sg_http_host_kind {
	SG_HTTP_HOST_NAME,
	SG_HTTP_HOST_IPV4,
	SG_HTTP_HOST_IPV6,	/* host is "[canonical]" */
};

enum sg_http_body {
	SG_HTTP_BODY_NONE,
	SG_HTTP_BODY_LENGTH,	/* content_length bytes (may be 0) */
	SG_HTTP_BODY_CHUNKED,
	SG_HTTP_BODY_CLOSE,	/* responses only: until the upstream closes */
};

/* Connection tokens seen (other tokens are allowed and ignored). */
#define SG_HTTP_CONN_CLOSE	0x1u
#define SG_HTTP_CONN_KEEPALIVE	0x2u
#define SG_HTTP_CONN_UPGRADE	0x4u
/* Upgrade protocols offered (request) or chosen (101 response). */
#define SG_HTTP_UPGRADE_WEBSOCKET 0x1u
#define SG_HTTP_UPGRADE_H2C	0x2u
#define SG_HTTP_UPGRADE_OTHER	0x4u

/* off/len into the caller's buffer; len 0 when absent. */
struct sg_http_span {
	uint32_t off;
	uint32_t len;
};

struct sg_http_field {
	struct sg_http_span name;	/* as sent; compare case-insensitively */
	struct sg_http_span value;	/* without leading/trailing OWS */
};

struct sg_http_head {
	/* parser state, private */
	enum sg_http_role role;
	bool head_request;
	int done;		/* 0 running, 1 complete, -1 refused */
	uint32_t pos;		/* start of the current line */
	uint32_t scan;		/* next byte to look at */
	uint32_t nlines;
	uint32_t first_sp;	/* first SP of the request line, 0 if none */

	/* refusal: set when sg_http_head_parse returned -EPROTO */
	enum sg_http_error error;
	int error_status;	/* 400, 414, 417, 431, 501 or 505 */
	const char *error_reason; /* static, printable, no newline */

	/* the rest is valid once sg_http_head_parse returned 0 */
	uint32_t head_len;	/* bytes of the head, final CRLF included */
	int version;		/* 10 or 11 */

	/* requests */
	struct sg_http_span method;
	bool method_head;	/* method is HEAD */
	struct sg_http_span target;	/* as sent */
	enum sg_http_scheme scheme;	/* absolute-form only */
	struct sg_http_span authority;	/* absolute-form only, as sent */
	struct sg_http_span path;	/* empty only in absolute-form: "/" */
	struct sg_http_span query;	/* after '?'; see has_query */
	bool has_query;
	char host[SG_HTTP_HOST_BUF];	/* normalised Host, NUL-terminated */
	size_t host_len;
	enum sg_http_host_kind host_kind;
	uint16_t port;		/* from Host or the authority; 0: default */
	bool expect_continue;	/* HTTP/1.1 request with 100-continue */

	/* responses */
	int status;		/* 100..599 */
	struct sg_http_span reason;

	/* both */
	enum sg_http_body body;
	uint64_t content_length;
	unsigned conn;		/* SG_HTTP_CONN_* */
	unsigned upgrade;	/* SG_HTTP_UPGRADE_* */
	bool keep_alive;	/* persistent after this message */
	size_t nfields;
	struct sg_http_field fields[SG_HTTP_FIELDS_MAX];
};

/* Prepares h to parse one request head, or one response head; for a
 * response, head_request says that it answers a HEAD request (no body
 * whatever the framing fields say). */
void sg_http_head_init(struct sg_http_head *h, enum sg_http_role role,
    bool head_request);

/* Parses the head at the start of buf[0..len). buf must hold the same
 * bytes as at the previous call on h, plus possibly more; it may have
 * moved. Bytes after the head (a body, a pipelined request) are not
 * looked at. Returns:
 *   0        complete: h->head_len bytes form the head, fields are set;
 *   -EAGAIN  more bytes are needed (no refusal so far);
 *   -EPROTO  refused: h->error, h->error_status and h->error_reason;
 *   -EINVAL  len is shorter than at the previous call.
 * Once 0 or -EPROTO was returned, later calls return the same. */
int sg_http_head_parse(struct sg_http_head *h, const void *buf, size_t len);

/* Index of the first field at index from or later whose name equals name
 * (ASCII case-insensitive), or -ENOENT. buf is the parsed buffer. */
int sg_http_head_find(const struct sg_http_head *h, const void *buf,
    const char *name, size_t from);

/* Chunked body decoder; fields private, except error and error_reason. */
struct sg_http_chunked {
	int state;
	uint64_t size;		/* chunk size being read, then left to read */
	unsigned digits;
	unsigned ext_len;
	unsigned trailer_len;
	unsigned trailer_fields;
	uint64_t chunks;
	enum sg_http_error error;	/* SG_HTTP_E_CHUNK after -EPROTO */
	const char *error_reason;
};

/* What one sg_http_chunked_feed call did. */
struct sg_http_chunk_out {
	size_t used;		/* bytes of buf consumed */
	size_t data_off;	/* a data range inside buf[0..used) */
	size_t data_len;	/* 0: no data this time */
};

void sg_http_chunked_init(struct sg_http_chunked *c);

/* Consumes a prefix of buf[0..len) and reports at most one data range in
 * it; call again with the rest. Returns:
 *   0        *out set; out->used is len, or the data range ends there;
 *            out->used > 0 whenever len > 0;
 *   1        the body ended (last chunk, trailers, final CRLF) at
 *            out->used; the bytes after it belong to the next message.
 *            Later calls return 1 with nothing used;
 *   -EPROTO  malformed (c->error_reason), also on later calls. */
int sg_http_chunked_feed(struct sg_http_chunked *c, const void *buf,
    size_t len, struct sg_http_chunk_out *out);

/* Short name of an error, for logs and tests ("none", "syntax", ...). */
const char *sg_http_error_name(enum sg_http_error e);

#endif
