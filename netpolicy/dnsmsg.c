/* np_dns: DNS message codec for the guest-facing resolver, see dnsmsg.h.
 *
 * Parsing walks the message with an explicit offset and checks the bytes
 * left before every read; building computes the whole reply length first
 * and writes only once it is known to fit. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "netpolicy/dnsmsg.h"

#define OPT_FIXED_LEN	11	/* root name, type, class, TTL, RDLENGTH */
#define A_RR_LEN	16	/* pointer, type, class, TTL, RDLENGTH, addr */
#define NAME_PTR	0xc00cu	/* the question name, right after the header */
#define TTL_MAX		0x7fffffffu	/* RFC 2181 8 */

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint8_t *
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

/* A text form being written into a NP_DNS_NAME_BUF array. The length
 * bound in dnsmsg.h means it never fills up; the check makes that a
 * parse error rather than an overflow should the bound ever be wrong. */
struct text {
	char *s;
	size_t len;
	int full;
};

static void
text_ch(struct text *t, char c)
{
	if (t->len >= NP_DNS_NAME_BUF - 1) {
		t->full = 1;
		return;
	}
	t->s[t->len++] = c;
	t->s[t->len] = '\0';
}

static void
text_ddd(struct text *t, uint8_t b)
{
	text_ch(t, '\\');
	text_ch(t, (char)('0' + b / 100));
	text_ch(t, (char)('0' + b / 10 % 10));
	text_ch(t, (char)('0' + b % 10));
}

static int
is_ldh(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
	    (b >= '0' && b <= '9') || b == '-' || b == '_';
}

/* Appends one label byte to both text forms of the name. */
static void
name_byte(struct text *name, struct text *printable, uint8_t b)
{
	if (b >= 'A' && b <= 'Z')
		b = (uint8_t)(b - 'A' + 'a');
	if (is_ldh(b)) {
		text_ch(name, (char)b);
		text_ch(printable, (char)b);
		return;
	}
	if (b == '.' || b == '\\') {
		text_ch(name, '\\');
		text_ch(name, (char)b);
	} else if (b < 0x21 || b > 0x7e) {
		text_ddd(name, b);
	} else {
		text_ch(name, (char)b);
	}
	text_ddd(printable, b);
}

/* Reads the question name starting at *off in msg[0..len) into q's text
 * forms and non_ldh flag, and moves *off past it. Returns 0, or -EPROTO
 * for a truncated name, a label over 63 bytes, a name over 255 bytes, a
 * compression pointer or an extended label type. */
static int
parse_qname(const uint8_t *msg, size_t len, size_t *off,
    struct np_dns_query *q)
{
	struct text name = { q->name, 0, 0 };
	struct text printable = { q->printable, 0, 0 };
	size_t p = *off, wire = 0, i;
	uint8_t l;

	q->name[0] = '\0';
	q->printable[0] = '\0';
	for (;;) {
		if (p >= len)
			return -EPROTO;
		l = msg[p++];
		/* 0xc0 is a pointer, 0x40 and 0x80 are the extended and
		 * binary label types: none belongs in a query. */
		if (l & 0xc0)
			return -EPROTO;
		wire += 1 + (size_t)l;
		if (wire > NP_DNS_NAME_WIRE_MAX)
			return -EPROTO;
		if (l == 0)
			break;
		if (len - p < l)
			return -EPROTO;
		if (name.len > 0 || printable.len > 0) {
			text_ch(&name, '.');
			text_ch(&printable, '.');
		}
		for (i = 0; i < l; i++) {
			if (!is_ldh(msg[p + i]))
				q->non_ldh = true;
			name_byte(&name, &printable, msg[p + i]);
		}
		p += l;
	}
	if (name.full || printable.full)
		return -EPROTO;
	*off = p;
	return 0;
}

/* Reads the OPT record at *off in msg[0..len) into q and moves *off past
 * it. Returns 0, or -EPROTO unless it is a root-owned record of type 41
 * whose options exactly fill its RDATA. */
static int
parse_opt(const uint8_t *msg, size_t len, size_t *off,
    struct np_dns_query *q)
{
	const uint8_t *r;
	size_t p = *off, rdlen, i, olen;
	uint16_t size;

	if (len - p < OPT_FIXED_LEN)
		return -EPROTO;
	r = msg + p;
	if (r[0] != 0 || rd16(r + 1) != NP_DNS_TYPE_OPT)
		return -EPROTO;
	size = rd16(r + 3);
	/* r[5] is the extended rcode (meaningless in a query), r[6] the
	 * version, r[7..8] DO and Z: we do no DNSSEC, so they are ignored. */
	rdlen = rd16(r + 9);
	p += OPT_FIXED_LEN;
	if (len - p < rdlen)
		return -EPROTO;
	for (i = 0; i < rdlen; i += olen) {
		if (rdlen - i < 4)
			return -EPROTO;
		olen = rd16(msg + p + i + 2);
		i += 4;
		if (rdlen - i < olen)
			return -EPROTO;
	}
	q->edns = true;
	q->edns_version = r[6];
	if (size < NP_DNS_UDP_MIN)
		size = NP_DNS_UDP_MIN;
	if (size > NP_DNS_UDP_MAX)
		size = NP_DNS_UDP_MAX;
	q->edns_udp_size = size;
	*off = p + rdlen;
	return 0;
}

int
np_dns_parse_query(const uint8_t *msg, size_t len,
    struct np_dns_query *ret_q)
{
	struct np_dns_query q;
	uint16_t flags;
	size_t off = NP_DNS_HDR_LEN;
	int r;

	if (msg == NULL || ret_q == NULL)
		return -EINVAL;
	if (len < NP_DNS_HDR_LEN)
		return -EBADMSG;
	flags = rd16(msg + 2);
	/* Never answer a response: two resolvers could bounce forever. */
	if (flags & NP_DNS_F_QR)
		return -EBADMSG;
	if (flags & NP_DNS_F_OPCODE_MASK)
		return -EOPNOTSUPP;
	if (rd16(msg + 4) != 1 || rd16(msg + 6) != 0 || rd16(msg + 8) != 0 ||
	    rd16(msg + 10) > 1)
		return -EPROTO;

	memset(&q, 0, sizeof(q));
	q.id = rd16(msg);
	q.flags = flags;
	r = parse_qname(msg, len, &off, &q);
	if (r < 0)
		return r;
	if (len - off < 4)
		return -EPROTO;
	q.qtype = rd16(msg + off);
	q.qclass = rd16(msg + off + 2);
	off += 4;
	q.question_len = off - NP_DNS_HDR_LEN;
	memcpy(q.question, msg + NP_DNS_HDR_LEN, q.question_len);
	if (rd16(msg + 10) == 1) {
		r = parse_opt(msg, len, &off, &q);
		if (r < 0)
			return r;
	}
	if (off != len)
		return -EPROTO;
	*ret_q = q;
	return 0;
}

static int
rcode_valid(enum np_dns_rcode rcode)
{
	switch (rcode) {
	case NP_DNS_NOERROR:
	case NP_DNS_FORMERR:
	case NP_DNS_SERVFAIL:
	case NP_DNS_NXDOMAIN:
	case NP_DNS_NOTIMP:
	case NP_DNS_REFUSED:
	case NP_DNS_BADVERS:
		return 1;
	}
	return 0;
}

/* The reply header flags for a query whose flags were qflags. */
static uint16_t
reply_flags(uint16_t qflags, unsigned rcode, int tc)
{
	uint16_t f = NP_DNS_F_QR | NP_DNS_F_RA;

	f |= qflags & (NP_DNS_F_OPCODE_MASK | NP_DNS_F_RD);
	if (tc)
		f |= NP_DNS_F_TC;
	return (uint16_t)(f | (rcode & NP_DNS_F_RCODE_MASK));
}

int
np_dns_build_response(const struct np_dns_query *q,
    enum np_dns_rcode rcode, const struct np_dns_rr *answers, size_t n,
    enum np_dns_transport transport, uint8_t *out, size_t cap,
    size_t *ret_len)
{
	size_t limit, base, total, ancount, i;
	uint8_t *p;
	uint32_t ttl;
	int tc = 0;

	if (q == NULL || out == NULL || ret_len == NULL ||
	    (n > 0 && answers == NULL))
		return -EINVAL;
	if (q->question_len < 5 || q->question_len > NP_DNS_QUESTION_MAX)
		return -EINVAL;
	if (!rcode_valid(rcode) || (rcode == NP_DNS_BADVERS && !q->edns))
		return -EINVAL;
	if (n > 0 && (rcode != NP_DNS_NOERROR ||
	    q->qclass != NP_DNS_CLASS_IN ||
	    (q->qtype != NP_DNS_TYPE_A && q->qtype != NP_DNS_TYPE_ANY)))
		return -EINVAL;
	if (transport == NP_DNS_TCP) {
		limit = NP_DNS_TCP_MAX;
	} else if (transport == NP_DNS_UDP) {
		limit = NP_DNS_UDP_MIN;
		if (q->edns && q->edns_udp_size > limit)
			limit = q->edns_udp_size < NP_DNS_UDP_MAX ?
			    q->edns_udp_size : NP_DNS_UDP_MAX;
	} else {
		return -EINVAL;
	}

	/* base is at most 12 + 259 + 11, well under any limit. */
	base = NP_DNS_HDR_LEN + q->question_len + (q->edns ? OPT_FIXED_LEN : 0);
	ancount = n;
	if (n > (limit - base) / A_RR_LEN) {
		tc = 1;
		ancount = 0;
	}
	total = base + ancount * A_RR_LEN;
	if (total > cap)
		return -ENOSPC;

	p = wr16(out, q->id);
	p = wr16(p, reply_flags(q->flags, (unsigned)rcode, tc));
	p = wr16(p, 1);
	p = wr16(p, (uint16_t)ancount);
	p = wr16(p, 0);
	p = wr16(p, q->edns ? 1 : 0);
	memcpy(p, q->question, q->question_len);
	p += q->question_len;
	for (i = 0; i < ancount; i++) {
		ttl = answers[i].ttl > TTL_MAX ? TTL_MAX : answers[i].ttl;
		p = wr16(p, NAME_PTR);
		p = wr16(p, NP_DNS_TYPE_A);
		p = wr16(p, NP_DNS_CLASS_IN);
		p = wr32(p, ttl);
		p = wr16(p, 4);
		memcpy(p, &answers[i].addr.s_addr, 4);
		p += 4;
	}
	if (q->edns) {
		*p++ = 0;	/* root */
		p = wr16(p, NP_DNS_TYPE_OPT);
		p = wr16(p, NP_DNS_UDP_MAX);
		/* TTL: extended rcode (upper 8 bits), version 0, no flags */
		p = wr32(p, (uint32_t)((unsigned)rcode >> 4) << 24);
		p = wr16(p, 0);
	}
	*ret_len = (size_t)(p - out);
	return 0;
}

int
np_dns_build_error(const uint8_t *msg, size_t len,
    enum np_dns_rcode rcode, uint8_t *out, size_t cap, size_t *ret_len)
{
	uint16_t qflags;
	uint8_t *p;

	if (msg == NULL || out == NULL || ret_len == NULL)
		return -EINVAL;
	if (rcode != NP_DNS_FORMERR && rcode != NP_DNS_SERVFAIL &&
	    rcode != NP_DNS_NOTIMP && rcode != NP_DNS_REFUSED)
		return -EINVAL;
	if (len < NP_DNS_HDR_LEN)
		return -EBADMSG;
	qflags = rd16(msg + 2);
	if (qflags & NP_DNS_F_QR)
		return -EBADMSG;
	if (cap < NP_DNS_HDR_LEN)
		return -ENOSPC;
	p = wr16(out, rd16(msg));
	p = wr16(p, reply_flags(qflags, (unsigned)rcode, 0));
	memset(p, 0, 8);	/* QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT */
	*ret_len = NP_DNS_HDR_LEN;
	return 0;
}

int
np_dns_tcp_frame(const uint8_t *in, size_t n, const uint8_t **ret_msg,
    size_t *ret_len, size_t *ret_consumed)
{
	size_t l;

	if ((in == NULL && n > 0) || ret_msg == NULL || ret_len == NULL ||
	    ret_consumed == NULL)
		return -EINVAL;
	if (n < 2)
		return 0;
	l = rd16(in);
	if (l == 0)
		return -EBADMSG;
	if (n - 2 < l)
		return 0;
	*ret_msg = in + 2;
	*ret_len = l;
	*ret_consumed = 2 + l;
	return 1;
}
