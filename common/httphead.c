/* sg_http: strict HTTP/1.1 head parser and chunked decoder; see
 * httphead.h for what is accepted and refused. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/text.h"
#include "common/hostname.h"
#include "common/httphead.h"

/* tchar of RFC 9110 5.6.2 */
static bool
is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool
is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* field-value bytes: HTAB, SP, VCHAR, obs-text */
static bool
is_fvchar(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Case-insensitive comparison of p[0..n) with the lowercase NUL-terminated
 * s. */
static bool
eq_nocase(const uint8_t *p, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || lower(p[i]) != (uint8_t)s[i])
			return false;
	return s[n] == '\0';
}

static int
refuse(struct sg_http_head *h, enum sg_http_error e, int status,
    const char *reason)
{
	h->done = -1;
	h->error = e;
	h->error_status = status;
	h->error_reason = reason;
	return -EPROTO;
}

void
sg_http_head_init(struct sg_http_head *h, enum sg_http_role role,
    bool head_request)
{
	memset(h, 0, sizeof(*h));
	h->role = role;
	h->head_request = head_request;
}

/* Parses "HTTP/d.d" at p[0..n). Returns 10*major+minor or -1. */
static int
parse_version(const uint8_t *p, size_t n)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5]) ||
	    p[6] != '.' || !is_digit(p[7]))
		return -1;
	return (p[5] - '0') * 10 + (p[7] - '0');
}

/* Checks path and query bytes: VCHAR without '#', and '%' HEXDIG HEXDIG. */
static bool
valid_target_chars(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '#')
			return false;
		if (p[i] == '%') {
			if (n - i < 3)
				return false;
			if (sg_hexval(p[i + 1]) < 0 || sg_hexval(p[i + 2]) < 0)
				return false;
			i += 2;
		}
	}
	return true;
}

/* Parses a port: 1..65535, digits only, no leading zero. */
static int
parse_port(const uint8_t *p, size_t n, uint16_t *ret_port)
{
	uint32_t v = 0;
	size_t i;

	if (n == 0 || n > 5 || p[0] == '0')
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return -EINVAL;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*ret_port = (uint16_t)v;
	return 0;
}

/* Strict dotted quad: four decimal parts 0..255 without leading zeros. */
static bool
is_dotted_quad(const char *s, size_t n)
{
	size_t i = 0, part;
	unsigned v, digits;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		v = 0;
		digits = 0;
		while (i < n && is_digit((uint8_t)s[i])) {
			if (digits > 0 && v == 0)
				return false;	/* leading zero */
			v = v * 10 + (unsigned)(s[i] - '0');
			digits++;
			i++;
			if (v > 255)
				return false;
		}
		if (digits == 0)
			return false;
	}
	return i == n;
}

/* Validates and normalises an authority (host [":" port]) from p[0..n)
 * into out (SG_HTTP_HOST_BUF bytes). Returns 0 or -EINVAL. */
static int
parse_authority(const uint8_t *p, size_t n, char *out, size_t *ret_len,
    enum sg_http_host_kind *ret_kind, uint16_t *ret_port)
{
	char tmp[64], name[SG_NAME_MAX];
	struct sg_name_fault fault;
	struct in6_addr a6;
	size_t i, hl;
	uint16_t port = 0;
	const uint8_t *colon;
	enum sg_http_host_kind kind;

	if (n == 0)
		return -EINVAL;
	if (p[0] == '[') {
		const uint8_t *rb = memchr(p, ']', n);

		if (rb == NULL)
			return -EINVAL;
		hl = (size_t)(rb - p) - 1;
		if (hl == 0 || hl >= 46)
			return -EINVAL;
		for (i = 1; i <= hl; i++)
			if (sg_hexval(p[i]) < 0 && p[i] != ':' && p[i] != '.')
				return -EINVAL;	/* no zone, no IPvFuture */
		memcpy(tmp, p + 1, hl);
		tmp[hl] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return -EINVAL;
		out[0] = '[';
		if (inet_ntop(AF_INET6, &a6, out + 1, SG_HTTP_HOST_BUF - 2) ==
		    NULL)
			return -EINVAL;
		hl = strlen(out);
		out[hl++] = ']';
		out[hl] = '\0';
		i = (size_t)(rb - p) + 1;
		if (i < n) {
			if (p[i] != ':' ||
			    parse_port(p + i + 1, n - i - 1, &port) < 0)
				return -EINVAL;
		}
		*ret_len = hl;
		*ret_kind = SG_HTTP_HOST_IPV6;
		*ret_port = port;
		return 0;
	}

	colon = memchr(p, ':', n);
	hl = colon != NULL ? (size_t)(colon - p) : n;
	if (colon != NULL && parse_port(colon + 1, n - hl - 1, &port) < 0)
		return -EINVAL;
	/* the one normaliser (common/hostname.h); a number as the last
	 * label makes it an address to browsers and resolvers, and only a
	 * plain dotted quad is unambiguous */
	if (hl > SG_NAME_LEN_MAX + 1)
		return -EINVAL;
	switch (sg_name_check((const char *)p, hl, name, &fault)) {
	case SG_NAME_OK:
		kind = SG_HTTP_HOST_NAME;
		break;
	case SG_NAME_NUMERIC:
		if (!is_dotted_quad(name, strlen(name)))
			return -EINVAL;
		kind = SG_HTTP_HOST_IPV4;
		break;
	default:
		return -EINVAL;
	}
	hl = strlen(name);
	if (hl >= SG_HTTP_HOST_BUF)
		return -EINVAL;
	memcpy(out, name, hl + 1);
	*ret_len = hl;
	*ret_kind = kind;
	*ret_port = port;
	return 0;
}

/* The request target p[off..off+n). */
static int
parse_target(struct sg_http_head *h, const uint8_t *buf, uint32_t off,
    uint32_t n)
{
	const uint8_t *p = buf + off;
	uint32_t i, a, rest;

	h->target.off = off;
	h->target.len = n;
	if (n == 1 && p[0] == '*')
		return refuse(h, SG_HTTP_E_ASTERISK, 400,
		    "asterisk-form request target is not supported");
	if (p[0] == '/') {
		i = 0;
	} else {
		if (n > 7 && eq_nocase(p, 7, "http://")) {
			h->scheme = SG_HTTP_SCHEME_HTTP;
			a = 7;
		} else if (n > 8 && eq_nocase(p, 8, "https://")) {
			h->scheme = SG_HTTP_SCHEME_HTTPS;
			a = 8;
		} else {
			return refuse(h, SG_HTTP_E_SYNTAX, 400,
			    "request target is not origin-form or an http(s) URL");
		}
		for (i = a; i < n && p[i] != '/' && p[i] != '?'; i++)
			if (p[i] == '@')
				return refuse(h, SG_HTTP_E_SYNTAX, 400,
				    "userinfo in the request target");
		h->authority.off = off + a;
		h->authority.len = i - a;
		if (i == a)
			return refuse(h, SG_HTTP_E_SYNTAX, 400,
			    "empty authority in the request target");
	}
	rest = i;
	for (; i < n && p[i] != '?'; i++)
		;
	h->path.off = off + rest;
	h->path.len = i - rest;
	if (i < n) {
		h->has_query = true;
		h->query.off = off + i + 1;
		h->query.len = n - i - 1;
	}
	if (!valid_target_chars(p + rest, n - rest))
		return refuse(h, SG_HTTP_E_SYNTAX, 400,
		    "invalid character or percent-encoding in the request target");
	return 0;
}

static int
parse_request_line(struct sg_http_head *h, const uint8_t *buf, uint32_t s,
    uint32_t e)
{
	const uint8_t *sp1, *sp2;
	uint32_t t, v, i;
	int ver;

	sp1 = memchr(buf + s, ' ', e - s);
	if (sp1 == NULL || sp1 == buf + s)
		return refuse(h, SG_HTTP_E_SYNTAX, 400, "malformed request line");
	h->method.off = s;
	h->method.len = (uint32_t)(sp1 - (buf + s));
	for (i = 0; i < h->method.len; i++)
		if (!is_tchar(buf[s + i]))
			return refuse(h, SG_HTTP_E_SYNTAX, 400,
			    "method is not a token");
	t = (uint32_t)(sp1 - buf) + 1;
	sp2 = memchr(buf + t, ' ', e - t);
	if (sp2 == NULL || sp2 == buf + t)
		return refuse(h, SG_HTTP_E_SYNTAX, 400, "malformed request line");
	v = (uint32_t)(sp2 - buf) + 1;
	ver = parse_version(buf + v, e - v);
	if (ver < 0)
		return refuse(h, SG_HTTP_E_SYNTAX, 400,
		    "malformed HTTP version in the request line");
	if (h->method.len == 3 && memcmp(buf + s, "PRI", 3) == 0 &&
	    v - t - 1 == 1 && buf[t] == '*' && ver == 20)
		return refuse(h, SG_HTTP_E_H2_PREFACE, 505,
		    "HTTP/2 is not supported, use HTTP/1.1");
	if (ver != 10 && ver != 11)
		return refuse(h, SG_HTTP_E_VERSION, 505,
		    "only HTTP/1.1 and HTTP/1.0 are supported");
	h->version = ver;
	if (h->method.len == 7 && memcmp(buf + s, "CONNECT", 7) == 0)
		return refuse(h, SG_HTTP_E_CONNECT, 501,
		    "CONNECT is not supported");
	h->method_head = h->method.len == 4 && memcmp(buf + s, "HEAD", 4) == 0;
	return parse_target(h, buf, t, v - t - 1);
}

static int
parse_status_line(struct sg_http_head *h, const uint8_t *buf, uint32_t s,
    uint32_t e)
{
	uint32_t i;
	int ver;

	if (e - s < 12 || buf[s + 8] != ' ')
		return refuse(h, SG_HTTP_E_SYNTAX, 400, "malformed status line");
	ver = parse_version(buf + s, 8);
	if (ver < 0)
		return refuse(h, SG_HTTP_E_SYNTAX, 400,
		    "malformed HTTP version in the status line");
	if (ver != 10 && ver != 11)
		return refuse(h, SG_HTTP_E_VERSION, 505,
		    "upstream answered with an unsupported HTTP version");
	h->version = ver;
	for (i = s + 9; i < s + 12; i++)
		if (!is_digit(buf[i]))
			return refuse(h, SG_HTTP_E_SYNTAX, 400,
			    "malformed status code");
	h->status = (buf[s + 9] - '0') * 100 + (buf[s + 10] - '0') * 10 +
	    (buf[s + 11] - '0');
	if (h->status < 100 || h->status > 599)
		return refuse(h, SG_HTTP_E_SYNTAX, 400,
		    "status code out of range");
	/* The SP before an empty reason is often left out; it is harmless. */
	if (e - s > 12) {
		if (buf[s + 12] != ' ')
			return refuse(h, SG_HTTP_E_SYNTAX, 400,
			    "malformed status line");
		for (i = s + 13; i < e; i++)
			if (!is_fvchar(buf[i]))
				return refuse(h, SG_HTTP_E_SYNTAX, 400,
				    "invalid character in the reason phrase");
		h->reason.off = s + 13;
		h->reason.len = e - s - 13;
	}
	return 0;
}

/* Checks one field line buf[s..e) (CRLF excluded) and returns its name
 * and trimmed value, or -EPROTO with the reason in *ret_reason. Shared by
 * heads (line-wise); the chunked trailers check the same rules byte by
 * byte. */
static int
parse_field_line(const uint8_t *buf, uint32_t s, uint32_t e,
    struct sg_http_field *f, enum sg_http_error *ret_err,
    const char **ret_reason)
{
	uint32_t i, vs, ve;

	if (is_ows(buf[s])) {
		*ret_err = SG_HTTP_E_OBS_FOLD;
		*ret_reason = "obsolete line folding (a line starting with whitespace)";
		return -EPROTO;
	}
	for (i = s; i < e && buf[i] != ':'; i++) {
		if (!is_tchar(buf[i])) {
			*ret_err = SG_HTTP_E_SYNTAX;
			*ret_reason = is_ows(buf[i]) ?
			    "whitespace in or after a field name" :
			    "field name is not a token";
			return -EPROTO;
		}
	}
	if (i == e || i == s) {
		*ret_err = SG_HTTP_E_SYNTAX;
		*ret_reason = i == e ? "field line without a colon" :
		    "empty field name";
		return -EPROTO;
	}
	f->name.off = s;
	f->name.len = i - s;
	vs = i + 1;
	ve = e;
	for (i = vs; i < ve; i++) {
		if (!is_fvchar(buf[i])) {
			*ret_err = SG_HTTP_E_SYNTAX;
			*ret_reason = "control character in a field value";
			return -EPROTO;
		}
	}
	while (vs < ve && is_ows(buf[vs]))
		vs++;
	while (ve > vs && is_ows(buf[ve - 1]))
		ve--;
	f->value.off = vs;
	f->value.len = ve - vs;
	return 0;
}

/* Walks a comma-separated list (RFC 9110 5.6.1; empty elements skipped).
 * Calls back for each element with its first token and whether
 * something (parameters, "/version") follows the token. Returns the
 * number of elements, or -1 when an element does not start with a
 * token. */
static int
walk_list(const uint8_t *p, size_t n,
    int (*cb)(void *ctx, const uint8_t *tok, size_t toklen, uint8_t after),
    void *ctx)
{
	size_t i = 0, t;
	int count = 0;
	bool quoted;

	while (i < n) {
		while (i < n && (is_ows(p[i]) || p[i] == ','))
			i++;
		if (i == n)
			break;
		t = i;
		while (i < n && is_tchar(p[i]))
			i++;
		if (i == t)
			return -1;
		/* what follows the token up to the next comma */
		{
			size_t j = i;
			uint8_t after = 0;

			while (j < n && is_ows(p[j]))
				j++;
			if (j < n && p[j] != ',')
				after = p[j];
			if (cb(ctx, p + t, i - t, after) < 0)
				return -1;
		}
		count++;
		/* skip to the comma ending this element, not one in quotes */
		quoted = false;
		while (i < n && (quoted || p[i] != ',')) {
			if (p[i] == '"')
				quoted = !quoted;
			else if (quoted && p[i] == '\\')
				i++;
			i++;
		}
	}
	return count;
}

struct te_state {
	int chunked;
	bool chunked_params;
	bool other;
	bool last_chunked;
};

static int
te_cb(void *ctx, const uint8_t *tok, size_t n, uint8_t after)
{
	struct te_state *st = ctx;

	if (eq_nocase(tok, n, "chunked")) {
		st->chunked++;
		st->last_chunked = true;
		if (after != 0)
			st->chunked_params = true;
	} else {
		st->other = true;
		st->last_chunked = false;
	}
	return 0;
}

static int
conn_cb(void *ctx, const uint8_t *tok, size_t n, uint8_t after)
{
	unsigned *conn = ctx;

	if (after != 0)
		return -1;
	if (eq_nocase(tok, n, "close"))
		*conn |= SG_HTTP_CONN_CLOSE;
	else if (eq_nocase(tok, n, "keep-alive"))
		*conn |= SG_HTTP_CONN_KEEPALIVE;
	else if (eq_nocase(tok, n, "upgrade"))
		*conn |= SG_HTTP_CONN_UPGRADE;
	return 0;
}

static int
upgrade_cb(void *ctx, const uint8_t *tok, size_t n, uint8_t after)
{
	unsigned *up = ctx;

	if (after != 0 && after != '/')
		return -1;
	if (eq_nocase(tok, n, "websocket"))
		*up |= SG_HTTP_UPGRADE_WEBSOCKET;
	else if (eq_nocase(tok, n, "h2c"))
		*up |= SG_HTTP_UPGRADE_H2C;
	else
		*up |= SG_HTTP_UPGRADE_OTHER;
	return 0;
}

/* Content-Length: 1*DIGIT, at most SG_HTTP_CL_MAX. */
static int
parse_content_length(const uint8_t *p, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return -EINVAL;
		v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > SG_HTTP_CL_MAX)
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* Semantics of the complete head: framing, Host, Expect, Connection. */
static int
finish_head(struct sg_http_head *h, const uint8_t *buf)
{
	struct te_state te = { 0 };
	const struct sg_http_field *f;
	const uint8_t *v;
	int ncl = 0, nte = 0, nhost = 0, r;
	size_t i, alen;
	bool expect_other = false, expect_continue = false;
	char ahost[SG_HTTP_HOST_BUF];
	enum sg_http_host_kind akind;
	uint16_t aport, dport;

	for (i = 0; i < h->nfields; i++) {
		const uint8_t *name;
		uint32_t nl;

		f = &h->fields[i];
		name = buf + f->name.off;
		nl = f->name.len;
		v = buf + f->value.off;
		if (eq_nocase(name, nl, "content-length")) {
			if (++ncl > 1)
				return refuse(h, SG_HTTP_E_FRAMING, 400,
				    "more than one Content-Length field");
			if (parse_content_length(v, f->value.len,
			    &h->content_length) < 0)
				return refuse(h, SG_HTTP_E_FRAMING, 400,
				    "invalid Content-Length");
		} else if (eq_nocase(name, nl, "transfer-encoding")) {
			nte++;
			if (walk_list(v, f->value.len, te_cb, &te) < 0)
				return refuse(h, SG_HTTP_E_FRAMING, 400,
				    "malformed Transfer-Encoding");
		} else if (eq_nocase(name, nl, "host")) {
			nhost++;
		} else if (eq_nocase(name, nl, "connection")) {
			if (walk_list(v, f->value.len, conn_cb, &h->conn) < 0)
				return refuse(h, SG_HTTP_E_SYNTAX, 400,
				    "malformed Connection field");
		} else if (eq_nocase(name, nl, "upgrade")) {
			if (walk_list(v, f->value.len, upgrade_cb,
			    &h->upgrade) < 0)
				return refuse(h, SG_HTTP_E_SYNTAX, 400,
				    "malformed Upgrade field");
		} else if (eq_nocase(name, nl, "expect")) {
			if (eq_nocase(v, f->value.len, "100-continue"))
				expect_continue = true;
			else
				expect_other = true;
		}
	}

	if (nte > 0) {
		if (ncl > 0)
			return refuse(h, SG_HTTP_E_FRAMING, 400,
			    "both Transfer-Encoding and Content-Length");
		if (h->version == 10)
			return refuse(h, SG_HTTP_E_FRAMING, 400,
			    "Transfer-Encoding in an HTTP/1.0 message");
		if (te.chunked == 0 && !te.other)
			return refuse(h, SG_HTTP_E_FRAMING, 400,
			    "empty Transfer-Encoding");
		if (te.chunked > 1)
			return refuse(h, SG_HTTP_E_FRAMING, 400,
			    "chunked applied more than once");
		if (te.chunked == 1 && !te.last_chunked)
			return refuse(h, SG_HTTP_E_FRAMING, 400,
			    "chunked is not the final transfer coding");
		if (te.chunked_params)
			return refuse(h, SG_HTTP_E_FRAMING, 400,
			    "parameters on chunked");
		if (te.other)
			return refuse(h, SG_HTTP_E_CODING, 501,
			    "transfer codings other than chunked are not supported");
	}

	if (h->role == SG_HTTP_REQUEST) {
		if (nhost != 1)
			return refuse(h, SG_HTTP_E_HOST, 400, nhost == 0 ?
			    "missing Host field" : "more than one Host field");
		r = sg_http_head_find(h, buf, "host", 0);
		f = &h->fields[r];
		if (parse_authority(buf + f->value.off, f->value.len, h->host,
		    &h->host_len, &h->host_kind, &h->port) < 0)
			return refuse(h, SG_HTTP_E_HOST, 400, "invalid Host");
		if (h->scheme != SG_HTTP_SCHEME_NONE) {
			if (parse_authority(buf + h->authority.off,
			    h->authority.len, ahost, &alen, &akind, &aport) < 0)
				return refuse(h, SG_HTTP_E_SYNTAX, 400,
				    "invalid host in the request target");
			dport = h->scheme == SG_HTTP_SCHEME_HTTPS ? 443 : 80;
			if (alen != h->host_len ||
			    memcmp(ahost, h->host, alen) != 0 ||
			    (aport != 0 ? aport : dport) !=
			    (h->port != 0 ? h->port : dport))
				return refuse(h, SG_HTTP_E_HOST_MISMATCH, 400,
				    "Host does not match the request target");
			if (h->port == 0)
				h->port = aport;
		}
		if (expect_other)
			return refuse(h, SG_HTTP_E_EXPECT, 417,
			    "only Expect: 100-continue is supported");
		h->expect_continue = expect_continue && h->version == 11;
		if (nte > 0)
			h->body = SG_HTTP_BODY_CHUNKED;
		else if (ncl > 0)
			h->body = SG_HTTP_BODY_LENGTH;
		else
			h->body = SG_HTTP_BODY_NONE;
	} else {
		if (h->status < 200 || h->status == 204 ||
		    h->status == 304 || h->head_request)
			h->body = SG_HTTP_BODY_NONE;
		else if (nte > 0)
			h->body = SG_HTTP_BODY_CHUNKED;
		else if (ncl > 0)
			h->body = SG_HTTP_BODY_LENGTH;
		else
			h->body = SG_HTTP_BODY_CLOSE;
	}
	if (h->body != SG_HTTP_BODY_LENGTH)
		h->content_length = 0;

	if (h->conn & SG_HTTP_CONN_CLOSE)
		h->keep_alive = false;
	else if (h->version == 11)
		h->keep_alive = true;
	else
		h->keep_alive = (h->conn & SG_HTTP_CONN_KEEPALIVE) != 0;
	if (h->body == SG_HTTP_BODY_CLOSE)
		h->keep_alive = false;
	return 0;
}

/* A complete line buf[s..e), CRLF excluded. Returns 1 at the empty line
 * ending the head, 0 to go on, -EPROTO. */
static int
head_line(struct sg_http_head *h, const uint8_t *buf, uint32_t s, uint32_t e)
{
	enum sg_http_error err;
	const char *reason;
	int r;

	if (h->nlines == 0) {
		if (s == e)
			return refuse(h, SG_HTTP_E_SYNTAX, 400,
			    "empty line before the start line");
		if (is_ows(buf[s]))
			return refuse(h, SG_HTTP_E_SYNTAX, 400,
			    "whitespace before the start line");
		r = h->role == SG_HTTP_REQUEST ?
		    parse_request_line(h, buf, s, e) :
		    parse_status_line(h, buf, s, e);
		return r < 0 ? r : 0;
	}
	if (s == e)
		return 1;
	if (h->nfields == SG_HTTP_FIELDS_MAX)
		return refuse(h, SG_HTTP_E_TOO_MANY, 431, "too many header fields");
	if (parse_field_line(buf, s, e, &h->fields[h->nfields], &err,
	    &reason) < 0)
		return refuse(h, err, 400, reason);
	h->nfields++;
	return 0;
}

int
sg_http_head_parse(struct sg_http_head *h, const void *data, size_t len)
{
	const uint8_t *buf = data;
	size_t limit = len < SG_HTTP_HEAD_MAX ? len : SG_HTTP_HEAD_MAX;
	uint32_t i, k;
	int r;

	if (h->done > 0)
		return 0;
	if (h->done < 0)
		return -EPROTO;
	if (len < h->scan)
		return -EINVAL;
	for (i = h->scan; i < limit; i++) {
		uint8_t c = buf[i];

		k = i - h->pos;		/* index in the line */
		if (h->nlines == 0 &&
		    (c == '\n' ? k + 1 : k + 2) > SG_HTTP_LINE_MAX) {
			h->scan = i;
			if (h->role == SG_HTTP_RESPONSE)
				return refuse(h, SG_HTTP_E_TOO_LARGE, 431,
				    "status line too long");
			if (h->first_sp == 0)
				return refuse(h, SG_HTTP_E_METHOD, 501,
				    "method too long");
			return refuse(h, SG_HTTP_E_TARGET_LONG, 414,
			    "request target too long");
		}
		if (c == '\n') {
			if (k == 0 || buf[i - 1] != '\r') {
				h->scan = i;
				return refuse(h, SG_HTTP_E_LINE_END, 400,
				    "bare LF in the message head");
			}
			r = head_line(h, buf, h->pos, i - 1);
			if (r < 0) {
				h->scan = i;
				return r;
			}
			h->nlines++;
			h->pos = i + 1;
			if (r == 1) {
				h->scan = i + 1;
				h->head_len = i + 1;
				r = finish_head(h, buf);
				if (r < 0)
					return r;
				h->done = 1;
				return 0;
			}
			continue;
		}
		if (k > 0 && buf[i - 1] == '\r') {
			h->scan = i;
			return refuse(h, SG_HTTP_E_LINE_END, 400,
			    "bare CR in the message head");
		}
		if (c == 0) {
			h->scan = i;
			return refuse(h, SG_HTTP_E_LINE_END, 400,
			    "NUL in the message head");
		}
		/* Refuse non-HTTP bytes (a TLS handshake on port 80) at
		 * once instead of waiting for a line end. */
		if (h->nlines == 0 && h->role == SG_HTTP_REQUEST &&
		    h->first_sp == 0) {
			if (c == ' ' && k > 0) {
				h->first_sp = i;
			} else if (!is_tchar(c) && c != '\r') {
				h->scan = i;
				return refuse(h, SG_HTTP_E_SYNTAX, 400,
				    "request does not start with an HTTP method");
			}
		}
	}
	h->scan = (uint32_t)limit;
	if (limit == SG_HTTP_HEAD_MAX)
		return refuse(h, SG_HTTP_E_TOO_LARGE, 431,
		    "request header fields too large");
	return -EAGAIN;
}

int
sg_http_head_find(const struct sg_http_head *h, const void *data,
    const char *name, size_t from)
{
	const uint8_t *buf = data;
	size_t i, j, n = strlen(name);

	for (i = from; i < h->nfields; i++) {
		const struct sg_http_field *f = &h->fields[i];

		if (f->name.len != n)
			continue;
		for (j = 0; j < n; j++)
			if (lower(buf[f->name.off + j]) != lower((uint8_t)name[j]))
				break;
		if (j == n)
			return (int)i;
	}
	return -ENOENT;
}

/* ---- chunked decoder ---- */

enum {
	CK_SIZE_START,	/* first hex digit */
	CK_SIZE,	/* more hex digits, ';', BWS or CR */
	CK_BWS,		/* BWS that must lead to ';' */
	CK_EXT_PRE_NAME,/* after ';': BWS then a token */
	CK_EXT_NAME,
	CK_EXT_POST_NAME,/* BWS after a name: '=' or ';' */
	CK_EXT_PRE_VAL,	/* after '=': BWS then token or quoted-string */
	CK_EXT_TOKVAL,
	CK_EXT_QSTR,
	CK_EXT_QPAIR,
	CK_EXT_POST_Q,	/* after the closing quote */
	CK_LINE_LF,	/* CR seen at the end of a chunk line */
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TR_START,	/* start of a trailer line or the final CRLF */
	CK_TR_NAME,
	CK_TR_VALUE,
	CK_TR_VALUE_LF,
	CK_TR_END_LF,
	CK_DONE,
	CK_ERROR,
};

void
sg_http_chunked_init(struct sg_http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CK_SIZE_START;
}

static int
ck_fail(struct sg_http_chunked *c, const char *reason)
{
	c->state = CK_ERROR;
	c->error = SG_HTTP_E_CHUNK;
	c->error_reason = reason;
	return -EPROTO;
}

static bool
is_qdtext(uint8_t b)
{
	return b == '\t' || b == ' ' || b == 0x21 || (b >= 0x23 && b <= 0x5b) ||
	    (b >= 0x5d && b <= 0x7e) || b >= 0x80;
}

int
sg_http_chunked_feed(struct sg_http_chunked *c, const void *data, size_t len,
    struct sg_http_chunk_out *out)
{
	const uint8_t *p = data;
	size_t i = 0, take;
	uint8_t b;
	int hv;

	out->used = 0;
	out->data_off = 0;
	out->data_len = 0;
	if (c->state == CK_DONE)
		return 1;
	if (c->state == CK_ERROR)
		return -EPROTO;
	while (i < len) {
		if (c->state == CK_DATA) {
			take = len - i;
			if (take > c->size)
				take = (size_t)c->size;
			out->data_off = i;
			out->data_len = take;
			i += take;
			c->size -= take;
			if (c->size == 0)
				c->state = CK_DATA_CR;
			out->used = i;
			return 0;
		}
		b = p[i++];
		/* the extension bound counts from the first byte after the
		 * size up to the CR */
		if (c->state >= CK_BWS && c->state <= CK_EXT_POST_Q &&
		    b != '\r' && ++c->ext_len > SG_HTTP_CHUNK_EXT_MAX)
			return ck_fail(c, "chunk extension too long");
		if (c->state >= CK_TR_START && c->state <= CK_TR_END_LF &&
		    ++c->trailer_len > SG_HTTP_TRAILER_MAX)
			return ck_fail(c, "trailer section too large");
		switch (c->state) {
		case CK_SIZE_START:
			hv = sg_hexval(b);
			if (hv < 0)
				return ck_fail(c, "chunk size is not hexadecimal");
			c->size = (uint64_t)hv;
			c->digits = 1;
			c->ext_len = 0;
			c->state = CK_SIZE;
			break;
		case CK_SIZE:
			hv = sg_hexval(b);
			if (hv >= 0) {
				if (++c->digits > SG_HTTP_CHUNK_DIGITS)
					return ck_fail(c, "chunk size too long");
				c->size = c->size << 4 | (uint64_t)hv;
				if (c->size > SG_HTTP_CHUNK_MAX)
					return ck_fail(c, "chunk too large");
			} else if (b == '\r') {
				c->state = CK_LINE_LF;
			} else if (b == ';') {
				c->ext_len = 1;
				c->state = CK_EXT_PRE_NAME;
			} else if (is_ows(b)) {
				c->ext_len = 1;
				c->state = CK_BWS;
			} else {
				return ck_fail(c, "invalid byte after the chunk size");
			}
			break;
		case CK_BWS:
			if (b == ';')
				c->state = CK_EXT_PRE_NAME;
			else if (!is_ows(b))
				return ck_fail(c, "invalid chunk extension");
			break;
		case CK_EXT_PRE_NAME:
			if (is_tchar(b))
				c->state = CK_EXT_NAME;
			else if (!is_ows(b))
				return ck_fail(c, "invalid chunk extension");
			break;
		case CK_EXT_NAME:
			if (b == '\r')
				c->state = CK_LINE_LF;
			else if (b == ';')
				c->state = CK_EXT_PRE_NAME;
			else if (b == '=')
				c->state = CK_EXT_PRE_VAL;
			else if (is_ows(b))
				c->state = CK_EXT_POST_NAME;
			else if (!is_tchar(b))
				return ck_fail(c, "invalid chunk extension");
			break;
		case CK_EXT_POST_NAME:
			if (b == ';')
				c->state = CK_EXT_PRE_NAME;
			else if (b == '=')
				c->state = CK_EXT_PRE_VAL;
			else if (!is_ows(b))
				return ck_fail(c, "invalid chunk extension");
			break;
		case CK_EXT_PRE_VAL:
			if (b == '"')
				c->state = CK_EXT_QSTR;
			else if (is_tchar(b))
				c->state = CK_EXT_TOKVAL;
			else if (!is_ows(b))
				return ck_fail(c, "invalid chunk extension");
			break;
		case CK_EXT_TOKVAL:
			if (b == '\r')
				c->state = CK_LINE_LF;
			else if (b == ';')
				c->state = CK_EXT_PRE_NAME;
			else if (is_ows(b))
				c->state = CK_BWS;
			else if (!is_tchar(b))
				return ck_fail(c, "invalid chunk extension");
			break;
		case CK_EXT_QSTR:
			if (b == '"')
				c->state = CK_EXT_POST_Q;
			else if (b == '\\')
				c->state = CK_EXT_QPAIR;
			else if (!is_qdtext(b))
				return ck_fail(c, "invalid chunk extension");
			break;
		case CK_EXT_QPAIR:
			if (!is_fvchar(b))
				return ck_fail(c, "invalid chunk extension");
			c->state = CK_EXT_QSTR;
			break;
		case CK_EXT_POST_Q:
			if (b == '\r')
				c->state = CK_LINE_LF;
			else if (b == ';')
				c->state = CK_EXT_PRE_NAME;
			else if (is_ows(b))
				c->state = CK_BWS;
			else
				return ck_fail(c, "invalid chunk extension");
			break;
		case CK_LINE_LF:
			if (b != '\n')
				return ck_fail(c, "chunk line not ended by CRLF");
			c->chunks++;
			if (c->size == 0) {
				c->trailer_len = 0;
				c->state = CK_TR_START;
			} else {
				c->state = CK_DATA;
			}
			break;
		case CK_DATA_CR:
			if (b != '\r')
				return ck_fail(c, "chunk data not followed by CRLF");
			c->state = CK_DATA_LF;
			break;
		case CK_DATA_LF:
			if (b != '\n')
				return ck_fail(c, "chunk data not followed by CRLF");
			c->state = CK_SIZE_START;
			break;
		case CK_TR_START:
			if (b == '\r') {
				c->state = CK_TR_END_LF;
			} else if (is_ows(b)) {
				return ck_fail(c, "obsolete line folding in the trailers");
			} else if (is_tchar(b)) {
				if (++c->trailer_fields > SG_HTTP_FIELDS_MAX)
					return ck_fail(c, "too many trailer fields");
				c->state = CK_TR_NAME;
			} else {
				return ck_fail(c, "trailer field name is not a token");
			}
			break;
		case CK_TR_NAME:
			if (b == ':')
				c->state = CK_TR_VALUE;
			else if (!is_tchar(b))
				return ck_fail(c, "trailer field name is not a token");
			break;
		case CK_TR_VALUE:
			if (b == '\r')
				c->state = CK_TR_VALUE_LF;
			else if (!is_fvchar(b))
				return ck_fail(c, "control character in a trailer field");
			break;
		case CK_TR_VALUE_LF:
			if (b != '\n')
				return ck_fail(c, "bare CR in the trailers");
			c->state = CK_TR_START;
			break;
		case CK_TR_END_LF:
			if (b != '\n')
				return ck_fail(c, "bare CR in the trailers");
			c->state = CK_DONE;
			out->used = i;
			return 1;
		default:
			return ck_fail(c, "internal state error");
		}
	}
	out->used = i;
	return 0;
}

const char *
sg_http_error_name(enum sg_http_error e)
{
	static const char *const names[] = {
		[SG_HTTP_E_NONE] = "none",
		[SG_HTTP_E_SYNTAX] = "syntax",
		[SG_HTTP_E_LINE_END] = "line-end",
		[SG_HTTP_E_OBS_FOLD] = "obs-fold",
		[SG_HTTP_E_VERSION] = "version",
		[SG_HTTP_E_H2_PREFACE] = "h2-preface",
		[SG_HTTP_E_CONNECT] = "connect",
		[SG_HTTP_E_ASTERISK] = "asterisk",
		[SG_HTTP_E_METHOD] = "method",
		[SG_HTTP_E_TARGET_LONG] = "target-long",
		[SG_HTTP_E_TOO_LARGE] = "too-large",
		[SG_HTTP_E_TOO_MANY] = "too-many",
		[SG_HTTP_E_FRAMING] = "framing",
		[SG_HTTP_E_CODING] = "coding",
		[SG_HTTP_E_HOST] = "host",
		[SG_HTTP_E_HOST_MISMATCH] = "host-mismatch",
		[SG_HTTP_E_EXPECT] = "expect",
		[SG_HTTP_E_CHUNK] = "chunk",
	};

	if ((unsigned)e >= sizeof(names) / sizeof(names[0]) || names[e] == NULL)
		return "unknown";
	return names[e];
}
