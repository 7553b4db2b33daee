/* sg_allow: allow_net parser and matcher, see allow.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/allow.h"
#include "common/hostname.h"

/* No valid entry comes near this; longer ones are refused unread. */
#define ENTRY_MAX 512

struct name_ent {
	char name[SG_NAME_MAX];   /* normalised; for *.DOMAIN, DOMAIN */
	size_t len;
	int wildcard;
	uint16_t port;            /* 0: any */
};

struct v4_ent {
	uint32_t net;             /* host byte order */
	unsigned prefix;
	uint16_t port;
};

struct v6_ent {
	uint8_t net[16];
	unsigned prefix;
	uint16_t port;
};

struct sg_allow {
	int all;
	struct name_ent *names;
	size_t n_names;
	struct v4_ent *v4;
	size_t n_v4;
	struct v6_ent *v6;
	size_t n_v6;
};

/* ---- messages ---- */

/* Copies s for a message: at most 80 bytes, control and non-ASCII bytes as
 * \xNN. Returns NULL when out of memory. */
static char *quote(const char *s)
{
	size_t n = strlen(s), keep = n > 80 ? 77 : n, i, o = 0;
	char *q = malloc(keep * 4 + 4);

	if (!q)
		return NULL;
	for (i = 0; i < keep; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch >= 0x7f) {
			snprintf(q + o, 5, "\\x%02x", ch);
			o += 4;
		} else {
			q[o++] = (char)ch;
		}
	}
	if (keep < n) {
		memcpy(q + o, "...", 3);
		o += 3;
	}
	q[o] = '\0';
	return q;
}

/* Returns a malloc'd formatted string, or NULL. */
static char *vfmt(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vfmt(const char *fmt, va_list ap)
{
	va_list ap2;
	char *s;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static char *fmt_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_msg(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vfmt(fmt, ap);
	va_end(ap);
	return s;
}

/* Sets *ret_msg (when ret_msg is not NULL) to
 * "allow_net entry 'ENTRY': REASON". Returns -EINVAL, or -ENOMEM with
 * *ret_msg NULL. */
static int entry_fail(char **ret_msg, const char *entry, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int entry_fail(char **ret_msg, const char *entry, const char *fmt, ...)
{
	char *reason, *q = NULL, *m = NULL;
	va_list ap;
	int r = -ENOMEM;

	if (!ret_msg)
		return -EINVAL;
	*ret_msg = NULL;
	va_start(ap, fmt);
	reason = vfmt(fmt, ap);
	va_end(ap);
	q = quote(entry);
	if (!reason || !q)
		goto out;
	m = fmt_msg("allow_net entry '%s': %s", q, reason);
	if (!m)
		goto out;
	*ret_msg = m;
	r = -EINVAL;
out:
	free(reason);
	free(q);
	return r;
}

/* ---- names ---- */

static int is_digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }

static int name_fail(char **ret_msg, const char *entry, enum sg_name_err err,
		     const struct sg_name_fault *f, const char *name)
{
	const char *label = name + f->label_off;
	int ll = f->label_len > 20 ? 20 : (int)f->label_len;
	const char *more = f->label_len > 20 ? "..." : "";

	switch (err) {
	case SG_NAME_EMPTY:
		return entry_fail(ret_msg, entry, "no name; write names like api.example.com");
	case SG_NAME_NON_ASCII:
		return entry_fail(ret_msg, entry, "the name is not ASCII; write an internationalised "
				  "name in its punycode (xn--) form, which `idn2 NAME` prints");
	case SG_NAME_STAR:
		return entry_fail(ret_msg, entry, "'*' may only stand alone (every host) or as the "
				  "whole first label, as in *.example.com");
	case SG_NAME_BAD_CHAR:
		if (f->ch == '/' || f->ch == '?' || f->ch == '#')
			return entry_fail(ret_msg, entry, "'%c' cannot appear in a name; write the host "
					  "alone, without a path, as in api.example.com", f->ch);
		if (f->ch == '@')
			return entry_fail(ret_msg, entry, "'@' cannot appear in a name; write the host "
					  "alone, without user@, as in api.example.com");
		if (f->ch < 0x20 || f->ch == 0x7f)
			return entry_fail(ret_msg, entry, "control character \\x%02x in the name; "
					  "names use letters, digits, '-', '_' and dots", f->ch);
		return entry_fail(ret_msg, entry, "'%c' cannot appear in a name; names use letters, "
				  "digits, '-', '_' and dots", f->ch);
	case SG_NAME_EMPTY_LABEL:
		return entry_fail(ret_msg, entry, "empty label; write names like api.example.com");
	case SG_NAME_LABEL_LONG:
		return entry_fail(ret_msg, entry, "label '%.*s%s' is %zu bytes long; a label has at "
				  "most %d", ll, label, more, f->label_len, SG_NAME_LABEL_MAX);
	case SG_NAME_HYPHEN:
		return entry_fail(ret_msg, entry, "label '%.*s%s' starts or ends with '-'; a label "
				  "begins and ends with a letter, digit or '_'", ll, label, more);
	case SG_NAME_TOO_LONG:
		return entry_fail(ret_msg, entry, "the name is %zu bytes long; a name has at most %d",
				  f->len, SG_NAME_LEN_MAX);
	case SG_NAME_NUMERIC:
		return entry_fail(ret_msg, entry, "the last label is a number, so this is neither a "
				  "name nor an IPv4 address; write IPv4 addresses as four decimal "
				  "numbers, as in 192.0.2.7");
	case SG_NAME_OK:
		break;
	}
	return entry_fail(ret_msg, entry, "not a valid name");
}

/* ---- numbers and addresses ---- */

/* Parses n bytes of decimal digits without leading zeros (but "0") into
 * *ret when the value is at most max. */
static int parse_dec(const char *s, size_t n, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > max)
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int parse_port(const char *s, size_t n, uint16_t *ret)
{
	unsigned long v;

	if (parse_dec(s, n, 65535, &v) < 0 || v == 0)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* Strict dotted quad: four decimal parts 0..255, no leading zeros (which
 * inet_aton() would read as octal). *ret in host byte order. Sets
 * *ret_leading_zero when that was the only problem. */
static int parse_v4(const char *s, size_t n, uint32_t *ret, int *ret_leading_zero)
{
	uint32_t a = 0;
	size_t i = 0, parts = 0;
	int lz = 0;

	while (parts < 4) {
		size_t start = i;
		unsigned v = 0;

		while (i < n && is_digit((unsigned char)s[i]) && i - start < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (i == start || i - start > 3 || v > 255)
			return -EINVAL;
		if (i - start > 1 && s[start] == '0')
			lz = 1;
		a = a << 8 | v;
		parts++;
		if (parts < 4) {
			if (i >= n || s[i] != '.')
				return -EINVAL;
			i++;
		}
	}
	if (i != n)
		return -EINVAL;
	if (lz) {
		*ret_leading_zero = 1;
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

static void v4_format(uint32_t a, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

static uint32_t v4_mask(unsigned prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static int v4_contains(uint32_t net, unsigned prefix, uint32_t a)
{
	return ((a ^ net) & v4_mask(prefix)) == 0;
}

static int v6_contains(const uint8_t net[16], unsigned prefix, const uint8_t a[16])
{
	unsigned full = prefix / 8, bits = prefix % 8;

	if (memcmp(net, a, full) != 0)
		return 0;
	if (bits == 0)
		return 1;
	return ((net[full] ^ a[full]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

static int v6_is_mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

static uint32_t v4_from(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads a query address: returns 4 with *v4 set (IPv4, or IPv4-mapped
 * IPv6), 6 with v6 filled, or 0 for other families. */
static int query_addr(int family, const void *addr, uint32_t *v4, uint8_t v6[16])
{
	if (!addr)
		return 0;
	if (family == AF_INET) {
		struct in_addr in;

		memcpy(&in, addr, sizeof(in));
		*v4 = ntohl(in.s_addr);
		return 4;
	}
	if (family == AF_INET6) {
		memcpy(v6, addr, 16);
		if (v6_is_mapped(v6)) {
			*v4 = v4_from(v6 + 12);
			return 4;
		}
		return 6;
	}
	return 0;
}

/* ---- building the list ---- */

static void add_name(struct sg_allow *a, const char *norm, int wildcard, uint16_t port)
{
	struct name_ent *e;
	size_t i, len = strlen(norm);

	for (i = 0; i < a->n_names; i++) {
		e = &a->names[i];
		if (e->wildcard == wildcard && e->port == port && e->len == len &&
		    memcmp(e->name, norm, len) == 0)
			return;
	}
	e = &a->names[a->n_names++];
	memcpy(e->name, norm, len + 1);
	e->len = len;
	e->wildcard = wildcard;
	e->port = port;
}

static void add_v4(struct sg_allow *a, uint32_t net, unsigned prefix, uint16_t port)
{
	size_t i;

	for (i = 0; i < a->n_v4; i++)
		if (a->v4[i].net == net && a->v4[i].prefix == prefix && a->v4[i].port == port)
			return;
	a->v4[a->n_v4].net = net;
	a->v4[a->n_v4].prefix = prefix;
	a->v4[a->n_v4].port = port;
	a->n_v4++;
}

static void add_v6(struct sg_allow *a, const uint8_t net[16], unsigned prefix, uint16_t port)
{
	size_t i;

	/* an IPv4-mapped address or network is the IPv4 entry it means */
	if (prefix >= 96 && v6_is_mapped(net)) {
		add_v4(a, v4_from(net + 12), prefix - 96, port);
		return;
	}
	for (i = 0; i < a->n_v6; i++)
		if (memcmp(a->v6[i].net, net, 16) == 0 && a->v6[i].prefix == prefix &&
		    a->v6[i].port == port)
			return;
	memcpy(a->v6[a->n_v6].net, net, 16);
	a->v6[a->n_v6].prefix = prefix;
	a->v6[a->n_v6].port = port;
	a->n_v6++;
}

static int port_fail(char **ret_msg, const char *entry, const char *p, size_t n)
{
	if (n == 0)
		return entry_fail(ret_msg, entry, "':' is not followed by a port; write HOST:PORT with "
				  "PORT 1..65535, or HOST alone for every port");
	return entry_fail(ret_msg, entry, "'%.*s' is not a port; write a number 1..65535 without "
			  "leading zeros, or leave out ':PORT' to allow every port",
			  n > 20 ? 20 : (int)n, p);
}

/* [IPV6], [IPV6/LEN], each optionally followed by :PORT. */
static int parse_v6_entry(struct sg_allow *a, const char *e, size_t len, char **ret_msg)
{
	const char *close = memchr(e, ']', len), *in = e + 1, *slash;
	char buf[INET6_ADDRSTRLEN + 1], shown[INET6_ADDRSTRLEN];
	size_t in_len, addr_len;
	uint8_t net[16];
	unsigned long prefix = 128;
	uint16_t port = 0;
	unsigned i;
	uint32_t v4;
	int lz = 0, host_bits = 0;

	if (!close)
		return entry_fail(ret_msg, e, "'[' without ']'; write IPv6 "
				  "addresses as [2001:db8::1] or [2001:db8::1]:443");
	in_len = (size_t)(close - in);
	if (close[1] != '\0') {
		size_t pn = len - (size_t)(close + 2 - e);

		if (close[1] != ':')
			return entry_fail(ret_msg, e, "unexpected text after ']'; write [IPV6] or "
					  "[IPV6]:PORT, as in [2001:db8::1]:443");
		if (parse_port(close + 2, pn, &port) < 0)
			return port_fail(ret_msg, e, close + 2, pn);
	}
	if (in_len == 0)
		return entry_fail(ret_msg, e, "nothing between '[' and ']'; write an IPv6 address, "
				  "as in [2001:db8::1]");
	slash = memchr(in, '/', in_len);
	addr_len = slash ? (size_t)(slash - in) : in_len;
	if (memchr(in, '%', addr_len))
		return entry_fail(ret_msg, e, "zone ids ('%%eth0') cannot be used; write the address "
				  "alone");
	if (addr_len == 0 || addr_len >= sizeof(buf))
		return entry_fail(ret_msg, e, "not an IPv6 address; write one as in [2001:db8::1]");
	memcpy(buf, in, addr_len);
	buf[addr_len] = '\0';
	if (inet_pton(AF_INET6, buf, net) != 1) {
		if (parse_v4(buf, addr_len, &v4, &lz) == 0)
			return entry_fail(ret_msg, e, "IPv4 addresses go without brackets; write %s", buf);
		return entry_fail(ret_msg, e, "'%s' is not an IPv6 address; write one as in "
				  "[2001:db8::1]", buf);
	}
	if (slash) {
		size_t pl = in_len - addr_len - 1;

		if (parse_dec(slash + 1, pl, 128, &prefix) < 0)
			return entry_fail(ret_msg, e, "'/%.*s' is not a prefix length; write /0 to /128 "
					  "without leading zeros", pl > 20 ? 20 : (int)pl, slash + 1);
	}
	for (i = 0; i < 16; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 : prefix > i * 8 ? (unsigned)prefix - i * 8 : 0;
		uint8_t m = (uint8_t)(keep == 0 ? 0 : 0xff << (8 - keep));

		if (net[i] & (uint8_t)~m) {
			host_bits = 1;
			net[i] &= m;
		}
	}
	if (host_bits) {
		inet_ntop(AF_INET6, net, shown, sizeof(shown));
		return entry_fail(ret_msg, e, "host bits are set after /%lu; the network is [%s/%lu]: "
				  "write that, or the address alone for one address",
				  prefix, shown, prefix);
	}
	add_v6(a, net, (unsigned)prefix, port);
	return 0;
}

/* A.B.C.D or A.B.C.D/LEN (host is the entry without :PORT). */
static int parse_v4_entry(struct sg_allow *a, const char *e, const char *host, size_t host_len,
			  uint16_t port, char **ret_msg)
{
	const char *slash = memchr(host, '/', host_len);
	size_t addr_len = slash ? (size_t)(slash - host) : host_len;
	unsigned long prefix = 32;
	char net_s[16], addr_s[16];
	uint32_t addr;
	int lz = 0;

	if (parse_v4(host, addr_len, &addr, &lz) < 0) {
		if (lz)
			return entry_fail(ret_msg, e, "a part of the address has a leading zero, which "
					  "some tools read as octal; write decimal numbers without "
					  "leading zeros, as in 192.0.2.7");
		return entry_fail(ret_msg, e, "'%.*s' is not an IPv4 address; write four decimal "
				  "numbers 0..255, as in 192.0.2.7", addr_len > 40 ? 40 : (int)addr_len,
				  host);
	}
	if (slash) {
		size_t pl = host_len - addr_len - 1;

		if (parse_dec(slash + 1, pl, 32, &prefix) < 0)
			return entry_fail(ret_msg, e, "'/%.*s' is not a prefix length; write /0 to /32 "
					  "without leading zeros", pl > 20 ? 20 : (int)pl, slash + 1);
	}
	if (addr & ~v4_mask((unsigned)prefix)) {
		v4_format(addr & v4_mask((unsigned)prefix), net_s);
		v4_format(addr, addr_s);
		return entry_fail(ret_msg, e, "host bits are set after /%lu; the network is %s/%lu: "
				  "write that, or %s alone for one address", prefix, net_s, prefix,
				  addr_s);
	}
	add_v4(a, addr, (unsigned)prefix, port);
	return 0;
}

/* Digits and dots with at least one digit: meant as an IPv4 address. */
static int all_digits_dots(const char *s, size_t n)
{
	size_t i, digits = 0;

	for (i = 0; i < n; i++) {
		if (is_digit((unsigned char)s[i]))
			digits++;
		else if (s[i] != '.')
			return 0;
	}
	return digits > 0;
}

/* Parses one entry into a. Returns 0, -EINVAL with *ret_msg, or -ENOMEM. */
static int parse_entry(struct sg_allow *a, const char *e, char **ret_msg)
{
	const char *colon = NULL, *host = e, *slash;
	size_t len, i, colons = 0, host_len;
	char norm[SG_NAME_MAX];
	struct sg_name_fault f;
	enum sg_name_err err;
	uint16_t port = 0;
	int wildcard = 0;

	memset(&f, 0, sizeof(f));
	if (!e || !*e)
		return entry_fail(ret_msg, "", "empty entry; remove the extra comma");
	len = strlen(e);
	if (len > ENTRY_MAX)
		return entry_fail(ret_msg, e, "the entry is %zu bytes long; no valid entry is longer "
				  "than %d", len, ENTRY_MAX);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)e[i];

		if (ch <= 0x20 || ch == 0x7f)
			return entry_fail(ret_msg, e, "the entry contains a space or control character; "
					  "separate entries with commas");
		if (ch == ':') {
			colons++;
			colon = e + i;
		}
	}
	if (strstr(e, "://"))
		return entry_fail(ret_msg, e, "write the host alone, without 'scheme://' or a path, "
				  "as in api.example.com or api.example.com:443");
	if (e[0] == '[')
		return parse_v6_entry(a, e, len, ret_msg);
	if (colons > 1)
		return entry_fail(ret_msg, e, "IPv6 addresses go in brackets, as in [2001:db8::1] or "
				  "[2001:db8::1]:443");
	host_len = len;
	if (colon) {
		host_len = (size_t)(colon - e);
		if (host_len == 0)
			return entry_fail(ret_msg, e, "nothing before ':'; write HOST:PORT, as in "
					  "api.example.com:443");
		if (parse_port(colon + 1, len - host_len - 1, &port) < 0)
			return port_fail(ret_msg, e, colon + 1, len - host_len - 1);
	}
	if (host_len == 1 && host[0] == '*') {
		if (colon)
			return entry_fail(ret_msg, e, "'*' allows every host on every port and takes no "
					  "port; list HOST:PORT entries to allow only some ports");
		a->all = 1;
		return 0;
	}
	slash = memchr(host, '/', host_len);
	if (all_digits_dots(host, slash ? (size_t)(slash - host) : host_len))
		return parse_v4_entry(a, e, host, host_len, port, ret_msg);
	if (host[0] == '*') {
		if (host_len < 2 || host[1] != '.')
			return name_fail(ret_msg, e, SG_NAME_STAR, &f, host);
		host += 2;
		host_len -= 2;
		if (host_len == 0 || (host_len == 1 && host[0] == '.'))
			return entry_fail(ret_msg, e, "'*.' must be followed by a domain, as in "
					  "*.example.com");
		wildcard = 1;
	}
	err = sg_name_check(host, host_len, norm, &f);
	if (err != SG_NAME_OK)
		return name_fail(ret_msg, e, err, &f, host);
	/* a name below DOMAIN has at least two more bytes ("a.") */
	if (wildcard && strlen(norm) > SG_NAME_LEN_MAX - 2) {
		f.len = strlen(norm);
		return entry_fail(ret_msg, e, "the domain after '*.' is %zu bytes long; it has at most "
				  "%d", f.len, SG_NAME_LEN_MAX - 2);
	}
	add_name(a, norm, wildcard, port);
	return 0;
}

int sg_allow_parse(const char *const *entries, size_t n, struct sg_allow **ret, char **ret_msg)
{
	struct sg_allow *a;
	size_t i;
	int r = -ENOMEM;

	a = calloc(1, sizeof(*a));
	if (!a)
		goto fail;
	if (n > 0) {
		/* each entry adds at most one element to one array */
		a->names = calloc(n, sizeof(*a->names));
		a->v4 = calloc(n, sizeof(*a->v4));
		a->v6 = calloc(n, sizeof(*a->v6));
		if (!a->names || !a->v4 || !a->v6)
			goto fail;
	}
	for (i = 0; i < n; i++) {
		r = parse_entry(a, entries[i], ret_msg);
		if (r < 0)
			goto fail;
	}
	*ret = a;
	return 0;
fail:
	if (r == -ENOMEM && ret_msg)
		*ret_msg = NULL;
	sg_allow_free(a);
	return r;
}

void sg_allow_free(struct sg_allow *a)
{
	if (!a)
		return;
	free(a->names);
	free(a->v4);
	free(a->v6);
	free(a);
}

/* ---- matching ---- */

int sg_allow_is_empty(const struct sg_allow *a)
{
	return !a->all && a->n_names == 0 && a->n_v4 == 0 && a->n_v6 == 0;
}

int sg_allow_all(const struct sg_allow *a) { return a->all; }

static int name_matches(const struct name_ent *e, const char *name, size_t len)
{
	if (!e->wildcard)
		return len == e->len && memcmp(name, e->name, len) == 0;
	/* label boundary: NAME ends in ".DOMAIN" with something before */
	return len > e->len + 1 && name[len - e->len - 1] == '.' &&
	       memcmp(name + len - e->len, e->name, e->len) == 0;
}

size_t sg_allow_name_ports(const struct sg_allow *a, const char *name, uint16_t *ports, size_t max)
{
	char norm[SG_NAME_MAX];
	size_t len, i, count = 0;
	unsigned last = 0;
	int matched = 0;

	if (sg_name_normalise(name, norm, sizeof(norm)) < 0)
		return 0;
	if (a->all)
		return SG_ALLOW_ANY_PORT;
	len = strlen(norm);
	for (i = 0; i < a->n_names; i++)
		if (name_matches(&a->names[i], norm, len)) {
			if (a->names[i].port == 0)
				return SG_ALLOW_ANY_PORT;
			matched = 1;
		}
	if (!matched)
		return 0;
	/* distinct ports in ascending order, without allocating: take the
	 * smallest port above the last one until none is left */
	for (;;) {
		unsigned next = 65536;

		for (i = 0; i < a->n_names; i++) {
			unsigned p = a->names[i].port;

			if (p > last && p < next && name_matches(&a->names[i], norm, len))
				next = p;
		}
		if (next == 65536)
			break;
		if (count < max)
			ports[count] = (uint16_t)next;
		count++;
		last = next;
	}
	return count;
}

int sg_allow_name(const struct sg_allow *a, const char *name)
{
	return sg_allow_name_ports(a, name, NULL, 0) != 0;
}

int sg_allow_name_port(const struct sg_allow *a, const char *name, uint16_t port)
{
	char norm[SG_NAME_MAX];
	size_t len, i;

	if (port == 0 || sg_name_normalise(name, norm, sizeof(norm)) < 0)
		return 0;
	if (a->all)
		return 1;
	len = strlen(norm);
	for (i = 0; i < a->n_names; i++)
		if ((a->names[i].port == 0 || a->names[i].port == port) &&
		    name_matches(&a->names[i], norm, len))
			return 1;
	return 0;
}

/* 1 when a literal entry contains the address; with any_port 0 its port
 * must also be 0 (any) or port. */
static int literal_match(const struct sg_allow *a, int family, const void *addr, int any_port,
			 uint16_t port)
{
	uint8_t v6[16];
	uint32_t v4 = 0;
	size_t i;

	switch (query_addr(family, addr, &v4, v6)) {
	case 4:
		for (i = 0; i < a->n_v4; i++)
			if ((any_port || a->v4[i].port == 0 || a->v4[i].port == port) &&
			    v4_contains(a->v4[i].net, a->v4[i].prefix, v4))
				return 1;
		return 0;
	case 6:
		for (i = 0; i < a->n_v6; i++)
			if ((any_port || a->v6[i].port == 0 || a->v6[i].port == port) &&
			    v6_contains(a->v6[i].net, a->v6[i].prefix, v6))
				return 1;
		return 0;
	default:
		return 0;
	}
}

int sg_allow_addr_port(const struct sg_allow *a, int family, const void *addr, uint16_t port)
{
	if (port == 0 || !addr || (family != AF_INET && family != AF_INET6))
		return 0;
	if (a->all)
		return 1;
	return literal_match(a, family, addr, 0, port);
}

int sg_allow_names_range(const struct sg_allow *a, int family, const void *addr)
{
	return literal_match(a, family, addr, 1, 0);
}

size_t sg_allow_v4_count(const struct sg_allow *a) { return a->n_v4; }

void sg_allow_v4_at(const struct sg_allow *a, size_t i, uint32_t *ret_net, unsigned *ret_prefix,
		    uint16_t *ret_port)
{
	if (i >= a->n_v4)
		abort();	/* caller's index is out of range */
	*ret_net = a->v4[i].net;
	*ret_prefix = a->v4[i].prefix;
	*ret_port = a->v4[i].port;
}

size_t sg_allow_v6_count(const struct sg_allow *a) { return a->n_v6; }

void sg_allow_v6_at(const struct sg_allow *a, size_t i, uint8_t ret_net[16], unsigned *ret_prefix,
		    uint16_t *ret_port)
{
	if (i >= a->n_v6)
		abort();	/* caller's index is out of range */
	memcpy(ret_net, a->v6[i].net, 16);
	*ret_prefix = a->v6[i].prefix;
	*ret_port = a->v6[i].port;
}

/* ---- internal address classes ---- */

static int v4_internal(uint32_t a)
{
	static const struct {
		uint32_t net;
		unsigned prefix;
	} r[] = {
		{ 0x00000000, 8 },   /* "this network", 0.0.0.0 */
		{ 0x0a000000, 8 },   /* private */
		{ 0x64400000, 10 },  /* 100.64/10 shared address space (CGNAT) */
		{ 0x7f000000, 8 },   /* loopback */
		{ 0xa9fe0000, 16 },  /* link-local, 169.254.169.254 metadata */
		{ 0xac100000, 12 },  /* private */
		{ 0xc0000000, 24 },  /* 192.0.0/24 IETF protocol assignments */
		{ 0xc0a80000, 16 },  /* private */
		{ 0xc6120000, 15 },  /* 198.18/15 benchmarking */
		{ 0xe0000000, 4 },   /* multicast */
		{ 0xf0000000, 4 },   /* reserved, 255.255.255.255 broadcast */
	};
	size_t i;

	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (v4_contains(r[i].net, r[i].prefix, a))
			return 1;
	return 0;
}

int sg_addr_is_internal(int family, const void *addr)
{
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t nat64_local[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 };
	static const uint8_t zero[12];
	const uint8_t *b;
	uint8_t v6[16];
	uint32_t v4 = 0;

	switch (query_addr(family, addr, &v4, v6)) {
	case 4:         /* IPv4, or IPv4-mapped IPv6 */
		return v4_internal(v4);
	case 6:
		break;
	default:
		return 1;
	}
	b = v6;
	if (memcmp(b, zero, 12) == 0)          /* ::, ::1, IPv4-compatible */
		return 1;
	if (memcmp(b, nat64, 12) == 0)         /* 64:ff9b::/96 well-known NAT64 */
		return v4_internal(v4_from(b + 12));
	if (memcmp(b, nat64_local, 6) == 0)    /* 64:ff9b:1::/48 local NAT64 */
		return 1;
	if (b[0] == 0x20 && b[1] == 0x02)      /* 2002::/16 6to4 */
		return v4_internal(v4_from(b + 2));
	if ((b[0] & 0xfe) == 0xfc)             /* fc00::/7 unique local */
		return 1;
	if (b[0] == 0xfe && (b[1] & 0x80))     /* fe80::/10 link-local, fec0::/10 */
		return 1;
	if (b[0] == 0xff)                      /* multicast */
		return 1;
	return 0;
}

/* ---- narrowing ---- */

static int port_within(uint16_t inner, uint16_t outer)
{
	return outer == 0 || inner == outer;
}

static int name_within(const struct name_ent *e, const struct sg_allow *outer)
{
	size_t i;

	for (i = 0; i < outer->n_names; i++) {
		const struct name_ent *o = &outer->names[i];

		if (!port_within(e->port, o->port))
			continue;
		if (!e->wildcard && name_matches(o, e->name, e->len))
			return 1;
		/* *.D lies inside *.O when D is O or a name below it */
		if (e->wildcard && o->wildcard &&
		    ((e->len == o->len && memcmp(e->name, o->name, e->len) == 0) ||
		     name_matches(o, e->name, e->len)))
			return 1;
	}
	return 0;
}

int sg_allow_within(const struct sg_allow *inner, const struct sg_allow *outer)
{
	size_t i, k;

	if (outer->all)
		return 1;
	if (inner->all)
		return 0;
	for (i = 0; i < inner->n_names; i++)
		if (!name_within(&inner->names[i], outer))
			return 0;
	for (i = 0; i < inner->n_v4; i++) {
		const struct v4_ent *e = &inner->v4[i];

		for (k = 0; k < outer->n_v4; k++) {
			const struct v4_ent *o = &outer->v4[k];

			if (o->prefix <= e->prefix && v4_contains(o->net, o->prefix, e->net) &&
			    port_within(e->port, o->port))
				break;
		}
		if (k == outer->n_v4)
			return 0;
	}
	for (i = 0; i < inner->n_v6; i++) {
		const struct v6_ent *e = &inner->v6[i];

		for (k = 0; k < outer->n_v6; k++) {
			const struct v6_ent *o = &outer->v6[k];

			if (o->prefix <= e->prefix && v6_contains(o->net, o->prefix, e->net) &&
			    port_within(e->port, o->port))
				break;
		}
		if (k == outer->n_v6)
			return 0;
	}
	return 1;
}
