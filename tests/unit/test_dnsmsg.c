/* Unit tests for netpolicy/dnsmsg.c: valid queries with and without EDNS,
 * every rejection and which error it gives, the two text forms of a name,
 * reply bytes checked exactly, UDP truncation, -ENOSPC, header-only error
 * replies and DNS-over-TCP framing. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netpolicy/dnsmsg.h"

#define NO_EDNS (-1)

/* Writes the wire form of the dotted name (no escapes; "" is the root)
 * at p and returns its length. */
static size_t
put_name(uint8_t *p, const char *dotted)
{
	size_t n = 0, l;
	const char *dot;

	while (*dotted != '\0') {
		dot = strchr(dotted, '.');
		l = dot != NULL ? (size_t)(dot - dotted) : strlen(dotted);
		p[n++] = (uint8_t)l;
		memcpy(p + n, dotted, l);
		n += l;
		dotted += l;
		if (*dotted == '.')
			dotted++;
	}
	p[n++] = 0;
	return n;
}

static size_t
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/* Writes a header with the given counts at p. */
static size_t
put_hdr(uint8_t *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
    uint16_t ns, uint16_t ar)
{
	put16(p, id);
	put16(p + 2, flags);
	put16(p + 4, qd);
	put16(p + 6, an);
	put16(p + 8, ns);
	put16(p + 10, ar);
	return 12;
}

/* An OPT record with the given UDP size and version and no options. */
static size_t
put_opt(uint8_t *p, uint16_t size, uint8_t version)
{
	static const uint8_t opt[11] = { 0, 0, 41, 0, 0, 0, 0, 0, 0, 0, 0 };

	memcpy(p, opt, sizeof(opt));
	put16(p + 3, size);
	p[6] = version;
	return sizeof(opt);
}

/* A whole query for name/qtype/class IN; edns_size < 0 means no OPT. */
static size_t
mkquery(uint8_t *buf, uint16_t id, uint16_t flags, const char *name,
    uint16_t qtype, int edns_size)
{
	size_t n;

	n = put_hdr(buf, id, flags, 1, 0, 0, edns_size >= 0 ? 1 : 0);
	n += put_name(buf + n, name);
	n += put16(buf + n, qtype);
	n += put16(buf + n, NP_DNS_CLASS_IN);
	if (edns_size >= 0)
		n += put_opt(buf + n, (uint16_t)edns_size, 0);
	return n;
}

static void
parse_ok(const uint8_t *buf, size_t n, struct np_dns_query *q)
{
	assert_int_equal(np_dns_parse_query(buf, n, q), 0);
}

static int
parse_err(const uint8_t *buf, size_t n)
{
	struct np_dns_query q;
	int r;

	memset(&q, 0x5a, sizeof(q));
	r = np_dns_parse_query(buf, n, &q);
	/* *ret_q is untouched on error */
	assert_int_equal(q.id, 0x5a5a);
	assert_int_equal(q.name[0], 0x5a);
	return r;
}

static void
test_parse_a(void **state)
{
	uint8_t buf[512];
	struct np_dns_query q;
	size_t n = mkquery(buf, 0x1234, NP_DNS_F_RD, "www.example.com",
	    NP_DNS_TYPE_A, NO_EDNS);

	parse_ok(buf, n, &q);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.flags, NP_DNS_F_RD);
	assert_int_equal(q.qtype, NP_DNS_TYPE_A);
	assert_int_equal(q.qclass, NP_DNS_CLASS_IN);
	assert_string_equal(q.name, "www.example.com");
	assert_string_equal(q.printable, "www.example.com");
	assert_false(q.non_ldh);
	assert_false(q.edns);
	assert_int_equal(q.question_len, 17 + 4);
	assert_memory_equal(q.question, buf + 12, q.question_len);
}

static void
test_parse_aaaa_mx_edns(void **state)
{
	uint8_t buf[512];
	struct np_dns_query q;
	size_t n;

	n = mkquery(buf, 7, 0, "example.org", 28, 4096);
	parse_ok(buf, n, &q);
	assert_int_equal(q.qtype, 28);
	assert_true(q.edns);
	assert_int_equal(q.edns_version, 0);
	assert_int_equal(q.edns_udp_size, 1232);	/* clamped down */
	assert_int_equal(q.question_len, 13 + 4);

	n = mkquery(buf, 8, NP_DNS_F_RD, "mail.example.org", 15, 100);
	parse_ok(buf, n, &q);
	assert_int_equal(q.qtype, 15);
	assert_int_equal(q.edns_udp_size, 512);		/* clamped up */

	n = mkquery(buf, 9, 0, "example.org", 15, 1000);
	parse_ok(buf, n, &q);
	assert_int_equal(q.edns_udp_size, 1000);

	n = mkquery(buf, 9, 0, "example.org", 15, NO_EDNS);
	parse_ok(buf, n, &q);
	assert_false(q.edns);
	assert_int_equal(q.qtype, 15);
}

static void
test_parse_edns_options(void **state)
{
	uint8_t buf[512];
	struct np_dns_query q;
	size_t n = mkquery(buf, 1, 0, "a.io", 1, 1232);

	/* a COOKIE option (10) with 8 bytes and an empty padding (12) */
	put16(buf + n - 2, 12 + 4);
	n += put16(buf + n, 10);
	n += put16(buf + n, 8);
	memset(buf + n, 0xab, 8);
	n += 8;
	n += put16(buf + n, 12);
	n += put16(buf + n, 0);
	parse_ok(buf, n, &q);
	assert_true(q.edns);
	assert_int_equal(q.edns_udp_size, 1232);

	/* version 1, DO set: parsed, version kept */
	n = mkquery(buf, 1, 0, "a.io", 1, NO_EDNS);
	put16(buf + 10, 1);
	n += put_opt(buf + n, 1232, 1);
	buf[n - 4] = 0x80;	/* DO */
	parse_ok(buf, n, &q);
	assert_int_equal(q.edns_version, 1);
}

static void
test_parse_case_kept(void **state)
{
	uint8_t buf[512], out[512];
	struct np_dns_query q;
	size_t n, len;

	n = mkquery(buf, 0x4242, NP_DNS_F_RD, "ExAmPlE.CoM", 1, NO_EDNS);
	parse_ok(buf, n, &q);
	assert_string_equal(q.name, "example.com");
	assert_string_equal(q.printable, "example.com");
	assert_false(q.non_ldh);
	assert_memory_equal(q.question, "\x07" "ExAmPlE" "\x03" "CoM", 13);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NXDOMAIN, NULL, 0,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out + 12, buf + 12, n - 12);
}

static void
test_parse_root_and_underscore(void **state)
{
	uint8_t buf[512];
	struct np_dns_query q;
	size_t n;

	n = mkquery(buf, 1, 0, "", 2, NO_EDNS);		/* ". NS" */
	parse_ok(buf, n, &q);
	assert_string_equal(q.name, "");
	assert_string_equal(q.printable, "");
	assert_int_equal(q.question_len, 5);

	n = mkquery(buf, 1, 0, "_dmarc.x-y.Example", 16, NO_EDNS);
	parse_ok(buf, n, &q);
	assert_string_equal(q.name, "_dmarc.x-y.example");
	assert_false(q.non_ldh);
}

/* One label with the given bytes, then "com". */
static size_t
mk_odd(uint8_t *buf, const void *label, size_t l)
{
	size_t n = put_hdr(buf, 1, 0, 1, 0, 0, 0);

	buf[n++] = (uint8_t)l;
	memcpy(buf + n, label, l);
	n += l;
	n += put_name(buf + n, "com");
	n += put16(buf + n, 1);
	n += put16(buf + n, 1);
	return n;
}

static void
test_parse_non_ldh(void **state)
{
	uint8_t buf[512];
	struct np_dns_query q;
	size_t n;

	n = mk_odd(buf, "a.B", 3);
	parse_ok(buf, n, &q);
	assert_true(q.non_ldh);
	assert_string_equal(q.name, "a\\.b.com");
	assert_string_equal(q.printable, "a\\046b.com");

	n = mk_odd(buf, "a\0b", 3);
	parse_ok(buf, n, &q);
	assert_true(q.non_ldh);
	assert_string_equal(q.name, "a\\000b.com");
	assert_string_equal(q.printable, "a\\000b.com");

	n = mk_odd(buf, "*", 1);
	parse_ok(buf, n, &q);
	assert_true(q.non_ldh);
	assert_string_equal(q.name, "*.com");
	assert_string_equal(q.printable, "\\042.com");

	n = mk_odd(buf, "x\\ \xff\"", 5);
	parse_ok(buf, n, &q);
	assert_true(q.non_ldh);
	assert_string_equal(q.name, "x\\\\\\032\\255\".com");
	assert_string_equal(q.printable, "x\\092\\032\\255\\034.com");
}

static void
test_parse_name_limits(void **state)
{
	uint8_t buf[600];
	char name[600];
	struct np_dns_query q;
	size_t n;
	int i;

	/* 63 bytes is the longest label */
	memset(name, 'a', 63);
	strcpy(name + 63, ".com");
	n = mkquery(buf, 1, 0, name, 1, NO_EDNS);
	parse_ok(buf, n, &q);
	assert_int_equal(strlen(q.name), 67);

	/* 255 bytes on the wire: 63.63.63.61 */
	memset(name, 'b', 253);
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	n = mkquery(buf, 1, 0, name, 1, NO_EDNS);
	assert_int_equal(n, 12 + 255 + 4);
	parse_ok(buf, n, &q);
	assert_string_equal(q.name, name);
	assert_int_equal(q.question_len, 259);

	/* 256 bytes: 63.63.63.62 */
	memset(name, 'b', 254);
	name[63] = name[127] = name[191] = '.';
	name[254] = '\0';
	n = mkquery(buf, 1, 0, name, 1, NO_EDNS);
	assert_int_equal(parse_err(buf, n), -EPROTO);

	/* 127 one-byte labels are 255 bytes, 128 are 257 */
	for (i = 0; i < 127; i++) {
		name[2 * i] = 'z';
		name[2 * i + 1] = '.';
	}
	name[253] = '\0';
	n = mkquery(buf, 1, 0, name, 1, NO_EDNS);
	parse_ok(buf, n, &q);
	name[253] = '.';
	name[254] = 'z';
	name[255] = '\0';
	n = mkquery(buf, 1, 0, name, 1, NO_EDNS);
	assert_int_equal(parse_err(buf, n), -EPROTO);

	/* a non-LDH name at the wire limit still fits both text forms */
	n = put_hdr(buf, 1, 0, 1, 0, 0, 0);
	for (i = 0; i < 3; i++) {
		buf[n++] = 63;
		memset(buf + n, 0xff, 63);
		n += 63;
	}
	buf[n++] = 61;
	memset(buf + n, '.', 61);
	n += 61;
	buf[n++] = 0;
	n += put16(buf + n, 1);
	n += put16(buf + n, 1);
	parse_ok(buf, n, &q);
	assert_true(q.non_ldh);
	assert_int_equal(strlen(q.printable), 250 * 4 + 3);
	assert_int_equal(strlen(q.name), 189 * 4 + 61 * 2 + 3);
}

static void
test_parse_rejects_label(void **state)
{
	uint8_t buf[600];
	char name[100];
	size_t n;

	/* label of 64 */
	memset(name, 'a', 64);
	strcpy(name + 64, ".com");
	n = mkquery(buf, 1, 0, name, 1, NO_EDNS);
	assert_int_equal(parse_err(buf, n), -EPROTO);

	/* compression pointer to the header or to itself */
	n = put_hdr(buf, 1, 0, 1, 0, 0, 0);
	n += put_name(buf + n, "www");
	buf[n - 1] = 0xc0;
	buf[n++] = 0x0c;
	n += put16(buf + n, 1);
	n += put16(buf + n, 1);
	assert_int_equal(parse_err(buf, n), -EPROTO);
	buf[12] = 0xc0;
	buf[13] = 0x0c;
	assert_int_equal(parse_err(buf, n), -EPROTO);

	/* extended (0x40) and binary (0x80) label types */
	n = mkquery(buf, 1, 0, "abc.com", 1, NO_EDNS);
	buf[12] = 0x41;
	assert_int_equal(parse_err(buf, n), -EPROTO);
	buf[12] = 0x80 | 3;
	assert_int_equal(parse_err(buf, n), -EPROTO);

	/* name running off the end, question without type/class */
	n = mkquery(buf, 1, 0, "abc.com", 1, NO_EDNS);
	assert_int_equal(parse_err(buf, 12), -EPROTO);
	assert_int_equal(parse_err(buf, 14), -EPROTO);
	assert_int_equal(parse_err(buf, 12 + 9 - 1), -EPROTO);
	assert_int_equal(parse_err(buf, n - 4), -EPROTO);
	assert_int_equal(parse_err(buf, n - 1), -EPROTO);
}

static void
test_parse_rejects_header(void **state)
{
	uint8_t buf[512];
	struct np_dns_query q;
	size_t n;

	/* no reply at all: short, or a response */
	n = mkquery(buf, 1, 0, "a.io", 1, NO_EDNS);
	assert_int_equal(parse_err(buf, 0), -EBADMSG);
	assert_int_equal(parse_err(buf, 11), -EBADMSG);
	put16(buf + 2, NP_DNS_F_QR | NP_DNS_F_RD);
	assert_int_equal(parse_err(buf, n), -EBADMSG);
	put16(buf + 2, NP_DNS_F_QR | 4u << NP_DNS_F_OPCODE_SHIFT);
	assert_int_equal(parse_err(buf, n), -EBADMSG);

	/* NOTIMP: IQUERY, STATUS, NOTIFY, UPDATE, and one never assigned */
	put16(buf + 2, 1u << NP_DNS_F_OPCODE_SHIFT);
	assert_int_equal(parse_err(buf, n), -EOPNOTSUPP);
	put16(buf + 2, 2u << NP_DNS_F_OPCODE_SHIFT);
	assert_int_equal(parse_err(buf, n), -EOPNOTSUPP);
	put16(buf + 2, 4u << NP_DNS_F_OPCODE_SHIFT | NP_DNS_F_RD);
	assert_int_equal(parse_err(buf, n), -EOPNOTSUPP);
	put16(buf + 2, 5u << NP_DNS_F_OPCODE_SHIFT);
	assert_int_equal(parse_err(buf, n), -EOPNOTSUPP);
	put16(buf + 2, 15u << NP_DNS_F_OPCODE_SHIFT);
	assert_int_equal(parse_err(buf, 12), -EOPNOTSUPP);
	put16(buf + 2, 0);
	parse_ok(buf, n, &q);

	/* counts */
	put16(buf + 4, 0);
	assert_int_equal(parse_err(buf, n), -EPROTO);
	assert_int_equal(parse_err(buf, 12), -EPROTO);
	put16(buf + 4, 2);
	assert_int_equal(parse_err(buf, n), -EPROTO);
	put16(buf + 4, 1);
	put16(buf + 6, 1);
	assert_int_equal(parse_err(buf, n), -EPROTO);
	put16(buf + 6, 0);
	put16(buf + 8, 1);
	assert_int_equal(parse_err(buf, n), -EPROTO);
	put16(buf + 8, 0);
	put16(buf + 10, 2);
	assert_int_equal(parse_err(buf, n), -EPROTO);
	put16(buf + 10, 1);	/* promised OPT missing */
	assert_int_equal(parse_err(buf, n), -EPROTO);
	put16(buf + 10, 0);
	parse_ok(buf, n, &q);

	/* the other flag bits do not matter */
	put16(buf + 2, NP_DNS_F_AA | NP_DNS_F_TC | NP_DNS_F_RD | NP_DNS_F_RA |
	    0x0070 | 0x000f);
	parse_ok(buf, n, &q);
	assert_int_equal(q.flags, 0x07ff);

	/* trailing bytes, without and with EDNS */
	buf[n] = 0;
	assert_int_equal(parse_err(buf, n + 1), -EPROTO);
	n = mkquery(buf, 1, 0, "a.io", 1, 1232);
	parse_ok(buf, n, &q);
	buf[n] = 0;
	assert_int_equal(parse_err(buf, n + 1), -EPROTO);
}

static void
test_parse_rejects_opt(void **state)
{
	uint8_t buf[512];
	size_t n, base;

	base = mkquery(buf, 1, 0, "a.io", 1, NO_EDNS);
	put16(buf + 10, 1);

	/* truncated fixed part */
	n = base + put_opt(buf + base, 1232, 0);
	assert_int_equal(parse_err(buf, n - 1), -EPROTO);
	assert_int_equal(parse_err(buf, base + 1), -EPROTO);

	/* owner not the root: a label, or a pointer to the question */
	n = base;
	buf[n++] = 1;
	buf[n++] = 'x';
	n += put_opt(buf + n, 1232, 0);
	assert_int_equal(parse_err(buf, n), -EPROTO);
	n = base + put_opt(buf + base, 1232, 0);
	buf[base] = 0xc0;
	assert_int_equal(parse_err(buf, n), -EPROTO);

	/* another record type in the additional section */
	n = base + put_opt(buf + base, 1232, 0);
	put16(buf + base + 1, NP_DNS_TYPE_A);
	assert_int_equal(parse_err(buf, n), -EPROTO);

	/* RDLENGTH past the end */
	n = base + put_opt(buf + base, 1232, 0);
	put16(buf + base + 9, 4);
	assert_int_equal(parse_err(buf, n), -EPROTO);

	/* option header cut short, option length past RDATA */
	put16(buf + base + 9, 3);
	buf[n] = 0;
	buf[n + 1] = 10;
	buf[n + 2] = 0;
	assert_int_equal(parse_err(buf, n + 3), -EPROTO);
	put16(buf + base + 9, 6);
	n += put16(buf + n, 10);
	n += put16(buf + n, 3);
	n += put16(buf + n, 0);
	assert_int_equal(parse_err(buf, n), -EPROTO);
	put16(buf + base + 9 + 0, 7);	/* RDLENGTH 7: option fits */
	buf[n++] = 0;
	parse_ok(buf, n, &(struct np_dns_query){ 0 });
}

static void
test_parse_null(void **state)
{
	struct np_dns_query q;
	uint8_t buf[64];
	size_t n = mkquery(buf, 1, 0, "a", 1, NO_EDNS);

	assert_int_equal(np_dns_parse_query(NULL, n, &q), -EINVAL);
	assert_int_equal(np_dns_parse_query(buf, n, NULL), -EINVAL);
}

static void
test_response_exact(void **state)
{
	static const uint8_t want[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		1, 'a', 2, 'i', 'o', 0, 0, 1, 0, 1,
		0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 10, 0, 0, 1,
	};
	static const uint8_t want_edns[] = {
		0xbe, 0xef, 0x80, 0x83, 0, 1, 0, 0, 0, 0, 0, 1,
		1, 'a', 2, 'i', 'o', 0, 0, 1, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t buf[64], out[128];
	struct np_dns_query q;
	struct np_dns_rr rr = { .ttl = 300 };
	size_t n, len = 0;

	assert_int_equal(inet_pton(AF_INET, "10.0.0.1", &rr.addr), 1);
	n = mkquery(buf, 0x1234, NP_DNS_F_RD, "a.io", 1, NO_EDNS);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, &rr, 1,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));

	n = mkquery(buf, 0xbeef, 0, "a.io", 1, 4096);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NXDOMAIN, NULL, 0,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(want_edns));
	assert_memory_equal(out, want_edns, sizeof(want_edns));
}

static void
test_response_any_refused_ttl(void **state)
{
	uint8_t buf[64], out[128];
	struct np_dns_query q;
	struct np_dns_rr rr[2] = {
		{ .ttl = 0xffffffffu, .addr.s_addr = htonl(0x7f000001) },
		{ .ttl = 0x80000000u, .addr.s_addr = htonl(0xc0a80001) },
	};
	size_t n, len;

	n = mkquery(buf, 5, 0, "x", NP_DNS_TYPE_ANY, NO_EDNS);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, rr, 2,
	    NP_DNS_TCP, out, sizeof(out), &len), 0);
	assert_int_equal(len, 12 + 7 + 32);
	assert_memory_equal(out + 2, "\x80\x80\x00\x01\x00\x02", 6);
	assert_memory_equal(out + 19, "\xc0\x0c\x00\x01\x00\x01"
	    "\x7f\xff\xff\xff\x00\x04\x7f\x00\x00\x01", 16);
	assert_memory_equal(out + 35 + 6, "\x7f\xff\xff\xff\x00\x04"
	    "\xc0\xa8\x00\x01", 10);

	assert_int_equal(np_dns_build_response(&q, NP_DNS_REFUSED, NULL, 0,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	assert_int_equal(len, 19);
	assert_memory_equal(out, "\x00\x05\x80\x85\x00\x01\x00\x00"
	    "\x00\x00\x00\x00", 12);
}

static void
test_response_badvers(void **state)
{
	uint8_t buf[64], out[128];
	struct np_dns_query q;
	size_t n, len;

	n = mkquery(buf, 5, 0, "x", 1, NO_EDNS);
	put16(buf + 10, 1);
	n += put_opt(buf + n, 1400, 1);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_BADVERS, NULL, 0,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	assert_int_equal(len, 12 + 7 + 11);
	assert_int_equal(out[3] & 0x0f, 0);		/* 16 & 15 */
	assert_memory_equal(out + 19, "\x00\x00\x29\x04\xd0\x01\x00\x00\x00"
	    "\x00\x00", 11);

	/* BADVERS needs EDNS */
	n = mkquery(buf, 5, 0, "x", 1, NO_EDNS);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_BADVERS, NULL, 0,
	    NP_DNS_UDP, out, sizeof(out), &len), -EINVAL);
}

static void
test_response_einval(void **state)
{
	uint8_t buf[64], out[128];
	struct np_dns_query q;
	struct np_dns_rr rr = { .ttl = 1 };
	size_t n, len = 77;

	n = mkquery(buf, 5, 0, "x", 28, NO_EDNS);	/* AAAA */
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, &rr, 1,
	    NP_DNS_UDP, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, NULL, 0,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);

	n = mkquery(buf, 5, 0, "x", 1, NO_EDNS);
	parse_ok(buf, n, &q);
	len = 77;
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NXDOMAIN, &rr, 1,
	    NP_DNS_UDP, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, NULL, 1,
	    NP_DNS_UDP, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(np_dns_build_response(&q, (enum np_dns_rcode)6,
	    NULL, 0, NP_DNS_UDP, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, &rr, 1,
	    (enum np_dns_transport)2, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(np_dns_build_response(NULL, NP_DNS_NOERROR, NULL, 0,
	    NP_DNS_UDP, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, NULL, 0,
	    NP_DNS_UDP, NULL, sizeof(out), &len), -EINVAL);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, NULL, 0,
	    NP_DNS_UDP, out, sizeof(out), NULL), -EINVAL);
	assert_int_equal(len, 77);

	/* class CH: no A answers */
	put16(buf + n - 2, 3);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, &rr, 1,
	    NP_DNS_UDP, out, sizeof(out), &len), -EINVAL);
}

static struct np_dns_rr many[5000];

static void
check_tc(const uint8_t *out, size_t len, size_t want_len, int tc,
    uint16_t ancount)
{
	assert_int_equal(len, want_len);
	assert_int_equal(!!(out[2] & (NP_DNS_F_TC >> 8)), tc);
	assert_int_equal(out[6] << 8 | out[7], ancount);
}

static void
test_response_truncation(void **state)
{
	static uint8_t out[70000];
	uint8_t buf[64];
	struct np_dns_query q;
	size_t n, len, i;

	for (i = 0; i < 5000; i++) {
		many[i].ttl = 60;
		many[i].addr.s_addr = htonl(0x0a000000u + (uint32_t)i);
	}

	/* no EDNS: 12 + 17 + 30 * 16 = 509 fits 512, 31 answers do not */
	n = mkquery(buf, 5, NP_DNS_F_RD, "example.com", 1, NO_EDNS);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, many, 30,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	check_tc(out, len, 509, 0, 30);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, many, 31,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	check_tc(out, len, 29, 1, 0);
	assert_int_equal(out[2], 0x83);	/* QR, TC, RD */
	assert_memory_equal(out + 12, buf + 12, 17);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, many, 31,
	    NP_DNS_TCP, out, sizeof(out), &len), 0);
	check_tc(out, len, 29 + 31 * 16, 0, 31);

	/* EDNS 1232: 12 + 17 + 11 = 40, 74 answers fit, 75 do not */
	n = mkquery(buf, 5, 0, "example.com", 1, 1232);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, many, 74,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	check_tc(out, len, 40 + 74 * 16, 0, 74);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, many, 75,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	check_tc(out, len, 40, 1, 0);
	assert_int_equal(out[11], 1);	/* the OPT stays */
	assert_memory_equal(out + 29, "\x00\x00\x29\x04\xd0", 5);

	/* EDNS 600 */
	n = mkquery(buf, 5, 0, "example.com", 1, 600);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, many, 35,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	check_tc(out, len, 40 + 35 * 16, 0, 35);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, many, 36,
	    NP_DNS_UDP, out, sizeof(out), &len), 0);
	check_tc(out, len, 40, 1, 0);

	/* TCP: 65535 - 40 = 65495 = 4093 * 16 + 7 */
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, many, 4093,
	    NP_DNS_TCP, out, sizeof(out), &len), 0);
	check_tc(out, len, 40 + 4093 * 16, 0, 4093);
	assert_memory_equal(out + 29 + 4092 * 16 + 12, "\x0a\x00\x0f\xfc", 4);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, many, 4094,
	    NP_DNS_TCP, out, sizeof(out), &len), 0);
	check_tc(out, len, 40, 1, 0);
}

static void
test_response_enospc(void **state)
{
	uint8_t buf[64], out[128];
	struct np_dns_query q;
	struct np_dns_rr rr = { .ttl = 1, .addr.s_addr = htonl(0x01020304) };
	size_t n, len = 99, full;

	n = mkquery(buf, 5, 0, "example.com", 1, 1232);
	parse_ok(buf, n, &q);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, &rr, 1,
	    NP_DNS_UDP, out, sizeof(out), &full), 0);
	assert_int_equal(full, 40 + 16);

	memset(out, 0xee, sizeof(out));
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, &rr, 1,
	    NP_DNS_UDP, out, full - 1, &len), -ENOSPC);
	assert_int_equal(len, 99);
	assert_int_equal(out[0], 0xee);
	assert_int_equal(out[full - 1], 0xee);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, &rr, 1,
	    NP_DNS_UDP, out, 0, &len), -ENOSPC);
	assert_int_equal(np_dns_build_response(&q, NP_DNS_NOERROR, &rr, 1,
	    NP_DNS_UDP, out, full, &len), 0);
	assert_int_equal(len, full);
	assert_int_equal(out[full], 0xee);
}

static void
test_build_error(void **state)
{
	uint8_t buf[64], out[64];
	size_t n, len = 99;

	n = mkquery(buf, 0xabcd, NP_DNS_F_RD, "a.io", 1, NO_EDNS);
	put16(buf + 4, 2);	/* QDCOUNT 2: FORMERR */
	assert_int_equal(np_dns_parse_query(buf, n, &(struct np_dns_query){0}),
	    -EPROTO);
	assert_int_equal(np_dns_build_error(buf, n, NP_DNS_FORMERR, out,
	    sizeof(out), &len), 0);
	assert_int_equal(len, 12);
	assert_memory_equal(out, "\xab\xcd\x81\x81\x00\x00\x00\x00\x00\x00"
	    "\x00\x00", 12);

	/* NOTIMP for NOTIFY copies the opcode, not RD when unset */
	put16(buf + 2, 4u << NP_DNS_F_OPCODE_SHIFT | NP_DNS_F_AA);
	assert_int_equal(np_dns_build_error(buf, 12, NP_DNS_NOTIMP, out,
	    sizeof(out), &len), 0);
	assert_memory_equal(out, "\xab\xcd\xa0\x84\x00\x00\x00\x00\x00\x00"
	    "\x00\x00", 12);
	assert_int_equal(np_dns_build_error(buf, 12, NP_DNS_SERVFAIL, out,
	    12, &len), 0);
	assert_int_equal(out[3], 0x82);
	assert_int_equal(np_dns_build_error(buf, 12, NP_DNS_REFUSED, out,
	    12, &len), 0);
	assert_int_equal(out[3], 0x85);

	len = 99;
	assert_int_equal(np_dns_build_error(buf, 11, NP_DNS_FORMERR, out,
	    sizeof(out), &len), -EBADMSG);
	assert_int_equal(np_dns_build_error(buf, 12, NP_DNS_FORMERR, out,
	    11, &len), -ENOSPC);
	assert_int_equal(np_dns_build_error(buf, 12, NP_DNS_NOERROR, out,
	    sizeof(out), &len), -EINVAL);
	assert_int_equal(np_dns_build_error(buf, 12, NP_DNS_NXDOMAIN, out,
	    sizeof(out), &len), -EINVAL);
	assert_int_equal(np_dns_build_error(NULL, 12, NP_DNS_FORMERR, out,
	    sizeof(out), &len), -EINVAL);
	put16(buf + 2, NP_DNS_F_QR);
	assert_int_equal(np_dns_build_error(buf, n, NP_DNS_FORMERR, out,
	    sizeof(out), &len), -EBADMSG);
	assert_int_equal(len, 99);
}

static void
test_tcp_frame(void **state)
{
	uint8_t s[256];
	const uint8_t *m = NULL;
	size_t n, a, b, len = 0, used = 0;

	/* two queries back to back */
	a = mkquery(s + 2, 1, 0, "a.io", 1, NO_EDNS);
	put16(s, (uint16_t)a);
	b = mkquery(s + 4 + a, 2, 0, "bb.io", 1, 1232);
	put16(s + 2 + a, (uint16_t)b);
	n = 4 + a + b;

	assert_int_equal(np_dns_tcp_frame(s, 0, &m, &len, &used), 0);
	assert_int_equal(np_dns_tcp_frame(NULL, 0, &m, &len, &used), 0);
	assert_int_equal(np_dns_tcp_frame(s, 1, &m, &len, &used), 0);
	assert_int_equal(np_dns_tcp_frame(s, 2, &m, &len, &used), 0);
	assert_int_equal(np_dns_tcp_frame(s, 1 + a, &m, &len, &used), 0);
	assert_null(m);
	assert_int_equal(np_dns_tcp_frame(s, 2 + a, &m, &len, &used), 1);
	assert_ptr_equal(m, s + 2);
	assert_int_equal(len, a);
	assert_int_equal(used, 2 + a);

	assert_int_equal(np_dns_tcp_frame(s, n, &m, &len, &used), 1);
	assert_int_equal(used, 2 + a);
	assert_int_equal(np_dns_tcp_frame(s + used, n - used, &m, &len,
	    &used), 1);
	assert_ptr_equal(m, s + 4 + a);
	assert_int_equal(len, b);
	assert_int_equal(used, 2 + b);
	{
		struct np_dns_query q;

		parse_ok(m, len, &q);
		assert_int_equal(q.id, 2);
		assert_string_equal(q.name, "bb.io");
	}

	/* zero length, even with nothing after it */
	put16(s, 0);
	assert_int_equal(np_dns_tcp_frame(s, 2, &m, &len, &used), -EBADMSG);
	assert_int_equal(np_dns_tcp_frame(s, n, &m, &len, &used), -EBADMSG);
	assert_int_equal(np_dns_tcp_frame(s, n, NULL, &len, &used), -EINVAL);
	assert_int_equal(np_dns_tcp_frame(NULL, 3, &m, &len, &used), -EINVAL);

	/* the longest length is just a partial frame */
	put16(s, 0xffff);
	assert_int_equal(np_dns_tcp_frame(s, sizeof(s), &m, &len, &used), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_a),
		cmocka_unit_test(test_parse_aaaa_mx_edns),
		cmocka_unit_test(test_parse_edns_options),
		cmocka_unit_test(test_parse_case_kept),
		cmocka_unit_test(test_parse_root_and_underscore),
		cmocka_unit_test(test_parse_non_ldh),
		cmocka_unit_test(test_parse_name_limits),
		cmocka_unit_test(test_parse_rejects_label),
		cmocka_unit_test(test_parse_rejects_header),
		cmocka_unit_test(test_parse_rejects_opt),
		cmocka_unit_test(test_parse_null),
		cmocka_unit_test(test_response_exact),
		cmocka_unit_test(test_response_any_refused_ttl),
		cmocka_unit_test(test_response_badvers),
		cmocka_unit_test(test_response_einval),
		cmocka_unit_test(test_response_truncation),
		cmocka_unit_test(test_response_enospc),
		cmocka_unit_test(test_build_error),
		cmocka_unit_test(test_tcp_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
