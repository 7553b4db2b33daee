/* libFuzzer harness for the DNS message codec (netpolicy/dnsmsg.c).
 *
 * Each input is used twice:
 *  1. as one datagram from the guest;
 *  2. as a DNS-over-TCP stream: np_dns_tcp_frame message after message,
 *     each message then handled as in 1.
 * For every message the parse result must be in the class the header
 * dictates (-EBADMSG for short or QR=1, -EOPNOTSUPP for another opcode,
 * 0 or -EPROTO otherwise), and np_dns_build_error must agree with it.
 * A parsed query is checked against the message (question bytes, type,
 * class, EDNS) and its two text forms against an independent decoding of
 * the question. Then every kind of reply is built from it (each rcode,
 * UDP and TCP, answer counts around the truncation limit) into a bounded
 * buffer; the return code must be the expected one, a reply must decode as
 * a reply to the same query (id, flags, question, answers, OPT) within the
 * size limit, re-parse with np_dns_parse_query as the same question once
 * QR is cleared, and one byte less of room must give -ENOSPC without
 * writing. Any mismatch aborts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netpolicy/dnsmsg.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

#define MAX_ANSWERS	4200	/* more than 65535 bytes of A records */
#define OUT_CAP		(NP_DNS_TCP_MAX + 1024)
#define CANARY		0xa5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct np_dns_rr answers[MAX_ANSWERS];
static uint8_t out[OUT_CAP];
static uint8_t out2[OUT_CAP];

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
ldh(uint8_t b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
	    (b >= '0' && b <= '9') || b == '-' || b == '_';
}

/* Decodes the question name in q->question again, on its own terms, and
 * compares with the text forms and the flag the parser gave. */
static void
check_names(const struct np_dns_query *q)
{
	char name[NP_DNS_NAME_BUF], pr[NP_DNS_NAME_BUF];
	size_t p = 0, nl = 0, pl = 0, i;
	int odd = 0;
	uint8_t l, b;

	for (;;) {
		CHECK(p < q->question_len);
		l = q->question[p++];
		CHECK(l <= NP_DNS_LABEL_MAX);
		if (l == 0)
			break;
		CHECK(q->question_len - p >= l);
		if (p > 1) {
			name[nl++] = '.';
			pr[pl++] = '.';
		}
		for (i = 0; i < l; i++) {
			b = q->question[p + i];
			if (!ldh(b))
				odd = 1;
			if (b >= 'A' && b <= 'Z')
				b = (uint8_t)(b + 32);
			CHECK(nl + 4 < sizeof(name) && pl + 4 < sizeof(pr));
			if (ldh(b)) {
				name[nl++] = (char)b;
				pr[pl++] = (char)b;
				continue;
			}
			pl += (size_t)snprintf(pr + pl, sizeof(pr) - pl,
			    "\\%03u", b);
			if (b == '.' || b == '\\') {
				name[nl++] = '\\';
				name[nl++] = (char)b;
			} else if (b <= 0x20 || b >= 0x7f) {
				nl += (size_t)snprintf(name + nl,
				    sizeof(name) - nl, "\\%03u", b);
			} else {
				name[nl++] = (char)b;
			}
		}
		p += l;
	}
	CHECK(p <= NP_DNS_NAME_WIRE_MAX);
	CHECK(q->question_len == p + 4);
	name[nl] = '\0';
	pr[pl] = '\0';
	CHECK(strcmp(name, q->name) == 0);
	CHECK(strcmp(pr, q->printable) == 0);
	CHECK(q->non_ldh == odd);
	if (!odd)
		CHECK(strcmp(q->name, q->printable) == 0);
	for (i = 0; q->printable[i] != '\0'; i++)
		CHECK(strchr("abcdefghijklmnopqrstuvwxyz0123456789_-.\\",
		    q->printable[i]) != NULL);
}

/* The parsed query must describe msg. */
static void
check_query(const struct np_dns_query *q, const uint8_t *msg, size_t len)
{
	CHECK(q->id == be16(msg));
	CHECK(q->flags == be16(msg + 2));
	CHECK((q->flags & (NP_DNS_F_QR | NP_DNS_F_OPCODE_MASK)) == 0);
	CHECK(be16(msg + 4) == 1 && be16(msg + 6) == 0 && be16(msg + 8) == 0);
	CHECK(q->question_len >= 5 && q->question_len <= NP_DNS_QUESTION_MAX);
	CHECK(len >= NP_DNS_HDR_LEN + q->question_len);
	CHECK(memcmp(q->question, msg + NP_DNS_HDR_LEN, q->question_len) == 0);
	CHECK(q->qtype == be16(q->question + q->question_len - 4));
	CHECK(q->qclass == be16(q->question + q->question_len - 2));
	CHECK(q->edns == (be16(msg + 10) == 1));
	if (q->edns) {
		CHECK(q->edns_udp_size >= NP_DNS_UDP_MIN);
		CHECK(q->edns_udp_size <= NP_DNS_UDP_MAX);
		CHECK(len >= NP_DNS_HDR_LEN + q->question_len + 11);
	} else {
		CHECK(len == NP_DNS_HDR_LEN + q->question_len);
	}
	check_names(q);
}

static size_t
udp_limit(const struct np_dns_query *q, enum np_dns_transport t)
{
	if (t == NP_DNS_TCP)
		return NP_DNS_TCP_MAX;
	return q->edns ? q->edns_udp_size : NP_DNS_UDP_MIN;
}

/* out[0..len) must be the reply to q with rcode and the n answers. */
static void
check_reply(const struct np_dns_query *q, enum np_dns_rcode rcode,
    size_t n, enum np_dns_transport t, const uint8_t *r, size_t len)
{
	size_t limit = udp_limit(q, t), base, off, i, an;
	uint16_t f;
	uint32_t ttl;
	int tc;

	base = NP_DNS_HDR_LEN + q->question_len + (q->edns ? 11 : 0);
	CHECK(len >= base && len <= limit);
	CHECK(be16(r) == q->id);
	f = be16(r + 2);
	CHECK(f & NP_DNS_F_QR);
	CHECK((f & NP_DNS_F_OPCODE_MASK) == (q->flags & NP_DNS_F_OPCODE_MASK));
	CHECK(!(f & NP_DNS_F_AA));
	CHECK((f & NP_DNS_F_RD) == (q->flags & NP_DNS_F_RD));
	CHECK(f & NP_DNS_F_RA);
	CHECK((f & 0x0070) == 0);	/* Z, AD, CD */
	CHECK((f & NP_DNS_F_RCODE_MASK) == ((unsigned)rcode & 0xf));
	tc = !!(f & NP_DNS_F_TC);
	CHECK(be16(r + 4) == 1);
	an = be16(r + 6);
	CHECK(be16(r + 8) == 0);
	CHECK(be16(r + 10) == (q->edns ? 1 : 0));
	if (tc) {
		CHECK(an == 0);
		CHECK(n > 0 && base + n * 16 > limit);
	} else {
		CHECK(an == n);
	}
	CHECK(memcmp(r + 12, q->question, q->question_len) == 0);
	off = 12 + q->question_len;
	for (i = 0; i < an; i++) {
		CHECK(len - off >= 16);
		CHECK(be16(r + off) == 0xc00c);
		CHECK(be16(r + off + 2) == NP_DNS_TYPE_A);
		CHECK(be16(r + off + 4) == NP_DNS_CLASS_IN);
		ttl = answers[i].ttl > 0x7fffffffu ? 0x7fffffffu :
		    answers[i].ttl;
		CHECK(be32(r + off + 6) == ttl);
		CHECK(be16(r + off + 10) == 4);
		CHECK(memcmp(r + off + 12, &answers[i].addr, 4) == 0);
		off += 16;
	}
	if (q->edns) {
		CHECK(len - off == 11);
		CHECK(r[off] == 0);
		CHECK(be16(r + off + 1) == NP_DNS_TYPE_OPT);
		CHECK(be16(r + off + 3) == NP_DNS_UDP_MAX);
		CHECK(be32(r + off + 5) == ((uint32_t)rcode >> 4) << 24);
		CHECK(be16(r + off + 9) == 0);
		off += 11;
	}
	CHECK(off == len);
}

/* A reply without answers is a valid query once QR is cleared, and must
 * parse as the same question. */
static void
check_reparse(const struct np_dns_query *q, const uint8_t *r, size_t len)
{
	struct np_dns_query q2;

	if (be16(r + 6) != 0)
		return;
	memcpy(out2, r, len);
	out2[2] &= (uint8_t)~(NP_DNS_F_QR >> 8);
	CHECK(np_dns_parse_query(out2, len, &q2) == 0);
	CHECK(q2.id == q->id);
	CHECK(q2.qtype == q->qtype && q2.qclass == q->qclass);
	CHECK(q2.question_len == q->question_len);
	CHECK(memcmp(q2.question, q->question, q->question_len) == 0);
	CHECK(strcmp(q2.name, q->name) == 0);
	CHECK(strcmp(q2.printable, q->printable) == 0);
	CHECK(q2.non_ldh == q->non_ldh);
	CHECK(q2.edns == q->edns);
	if (q2.edns)
		CHECK(q2.edns_udp_size == NP_DNS_UDP_MAX);
}

static int
expected_rc(const struct np_dns_query *q, int rcode, size_t n)
{
	if (rcode < 0 || (rcode > 5 && rcode != 16))
		return -EINVAL;
	if (rcode == NP_DNS_BADVERS && !q->edns)
		return -EINVAL;
	if (n > 0 && (rcode != NP_DNS_NOERROR ||
	    q->qclass != NP_DNS_CLASS_IN ||
	    (q->qtype != NP_DNS_TYPE_A && q->qtype != NP_DNS_TYPE_ANY)))
		return -EINVAL;
	return 0;
}

static void
build_one(const struct np_dns_query *q, int rcode, size_t n,
    enum np_dns_transport t)
{
	size_t len = 0, len2 = 12345;
	int want = expected_rc(q, rcode, n), r;

	r = np_dns_build_response(q, (enum np_dns_rcode)rcode, answers, n, t,
	    out, OUT_CAP, &len);
	CHECK(r == want);
	if (r < 0)
		return;
	check_reply(q, (enum np_dns_rcode)rcode, n, t, out, len);
	check_reparse(q, out, len);

	/* one byte short: -ENOSPC, nothing written */
	memset(out2, CANARY, len);
	r = np_dns_build_response(q, (enum np_dns_rcode)rcode, answers, n, t,
	    out2, len - 1, &len2);
	CHECK(r == -ENOSPC);
	CHECK(len2 == 12345);
	for (size_t i = 0; i < len; i++)
		CHECK(out2[i] == CANARY);
}

static void
build_all(const struct np_dns_query *q, const uint8_t *msg, size_t len)
{
	static const int rcodes[] = { 0, 1, 2, 3, 4, 5, 16, 6, 15 };
	static const enum np_dns_transport ts[] = { NP_DNS_UDP, NP_DNS_TCP };
	size_t base, fit, ns[6], i, j, k;

	base = NP_DNS_HDR_LEN + q->question_len + (q->edns ? 11 : 0);
	for (j = 0; j < 2; j++) {
		fit = (udp_limit(q, ts[j]) - base) / 16;
		ns[0] = 0;
		ns[1] = 1;
		ns[2] = 2;
		ns[3] = msg[len - 1] % 100;
		ns[4] = fit;
		ns[5] = fit + 1;
		CHECK(fit + 1 <= MAX_ANSWERS);
		for (i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++)
			for (k = 0; k < 6; k++)
				build_one(q, rcodes[i], ns[k], ts[j]);
	}
	CHECK(np_dns_build_response(q, NP_DNS_NOERROR, NULL, 0,
	    (enum np_dns_transport)2, out, OUT_CAP, &base) == -EINVAL);
}

static void
one_message(const uint8_t *msg, size_t len)
{
	static const enum np_dns_rcode errs[] = { NP_DNS_FORMERR,
	    NP_DNS_SERVFAIL, NP_DNS_NOTIMP, NP_DNS_REFUSED };
	struct np_dns_query q;
	size_t elen, i;
	int r, e;

	r = np_dns_parse_query(msg, len, &q);
	if (len < NP_DNS_HDR_LEN || (msg[2] & 0x80))
		CHECK(r == -EBADMSG);
	else if (msg[2] & 0x78)
		CHECK(r == -EOPNOTSUPP);
	else
		CHECK(r == 0 || r == -EPROTO);

	for (i = 0; i < 4; i++) {
		elen = 0;
		e = np_dns_build_error(msg, len, errs[i], out, OUT_CAP, &elen);
		if (r == -EBADMSG) {
			CHECK(e == -EBADMSG);
			continue;
		}
		CHECK(e == 0 && elen == 12);
		CHECK(out[0] == msg[0] && out[1] == msg[1]);
		CHECK(out[2] == (0x80 | (msg[2] & 0x79)));
		CHECK(out[3] == (0x80 | errs[i]));
		for (size_t k = 4; k < 12; k++)
			CHECK(out[k] == 0);
	}
	if (r != 0)
		return;
	check_query(&q, msg, len);
	build_all(&q, msg, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t empty[1];
	const uint8_t *m;
	size_t off = 0, ml, used, i;
	int r;

	if (data == NULL)
		data = empty;
	/* answers made from the input: TTLs over 2^31 and all addresses */
	for (i = 0; i < MAX_ANSWERS; i++) {
		uint8_t b = size ? data[i % size] : 0;

		answers[i].ttl = (uint32_t)b * 0x01010101u ^ (uint32_t)i;
		answers[i].addr.s_addr = (uint32_t)i * 0x9e3779b9u ^ b;
	}

	one_message(data, size);

	for (;;) {
		r = np_dns_tcp_frame(data + off, size - off, &m, &ml, &used);
		if (r != 1)
			break;
		CHECK(m == data + off + 2);
		CHECK(ml > 0 && ml == be16(data + off));
		CHECK(used == ml + 2 && used <= size - off);
		one_message(m, ml);
		off += used;
	}
	if (r == -EBADMSG)
		CHECK(size - off >= 2 && be16(data + off) == 0);
	else
		CHECK(r == 0 && (size - off < 2 ||
		    be16(data + off) > size - off - 2));
	return 0;
}
