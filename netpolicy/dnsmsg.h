/* np_dns: the DNS message codec of the guest-facing resolver.
 *
 * The guest is hostile: every byte of a query is checked, nothing is read
 * past the length given, nothing is allocated. Upstream resolution lives
 * elsewhere (c-ares); this module only parses one query from the guest
 * (RFC 1035 with an optional RFC 6891 EDNS OPT record) and builds the
 * replies the resolver sends back.
 *
 * What a query may be (anything else is refused, see np_dns_parse_query):
 * QR=0, opcode QUERY, QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1 where
 * the one additional record is a well-formed OPT (root owner name, type 41,
 * options that exactly fill its RDATA), and no byte after the records. The
 * question name has labels of 1..63 bytes, at most 255 bytes on the wire
 * and no compression pointer (a client never needs one in a query).
 *
 * The parsed query is a public struct filled into caller memory (no
 * allocation, nothing to free); it copies everything it keeps, so it stays
 * valid after the datagram buffer is reused. Treat it as read-only: the
 * builders trust that it came from np_dns_parse_query. */
#ifndef NP_DNSMSG_H
#define NP_DNSMSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NP_DNS_HDR_LEN		12
#define NP_DNS_NAME_WIRE_MAX	255	/* RFC 1035 2.3.4, with the root byte */
#define NP_DNS_LABEL_MAX	63
/* QNAME plus QTYPE and QCLASS, as the guest sent them. */
#define NP_DNS_QUESTION_MAX	(NP_DNS_NAME_WIRE_MAX + 4)
/* Room for either text form of a name: at most 254 label bytes, each at
 * most 4 characters (\DDD), dots included, plus the NUL. */
#define NP_DNS_NAME_BUF		1024
#define NP_DNS_UDP_MIN		512	/* without EDNS, and the EDNS floor */
#define NP_DNS_UDP_MAX		1232	/* EDNS ceiling, and what we offer */
#define NP_DNS_TCP_MAX		65535

#define NP_DNS_TYPE_A		1
#define NP_DNS_TYPE_OPT		41
#define NP_DNS_TYPE_ANY		255
#define NP_DNS_CLASS_IN		1

/* Header flag bits of struct np_dns_query.flags (the 16-bit word after the
 * id, as received). */
#define NP_DNS_F_QR		0x8000u
#define NP_DNS_F_OPCODE_MASK	0x7800u
#define NP_DNS_F_OPCODE_SHIFT	11
#define NP_DNS_F_AA		0x0400u
#define NP_DNS_F_TC		0x0200u
#define NP_DNS_F_RD		0x0100u
#define NP_DNS_F_RA		0x0080u
#define NP_DNS_F_RCODE_MASK	0x000fu

enum np_dns_rcode {
	NP_DNS_NOERROR = 0,
	NP_DNS_FORMERR = 1,
	NP_DNS_SERVFAIL = 2,
	NP_DNS_NXDOMAIN = 3,
	NP_DNS_NOTIMP = 4,
	NP_DNS_REFUSED = 5,
	NP_DNS_BADVERS = 16,	/* EDNS only: query had an OPT version > 0 */
};

enum np_dns_transport {
	NP_DNS_UDP = 0,	/* limit 512, or the requestor's EDNS size */
	NP_DNS_TCP = 1,	/* limit 65535 */
};

/* One parsed guest query. */
struct np_dns_query {
	uint16_t id;
	uint16_t flags;		/* header flags as received (NP_DNS_F_*) */
	uint16_t qtype;
	uint16_t qclass;
	/* Lowercased presentation form without the trailing dot, "" for the
	 * root. Letters A-Z are lowercased; inside a label '.' is written
	 * "\." and '\' "\\", bytes outside 0x21..0x7e as \DDD (decimal), so
	 * the text is unambiguous and never holds a NUL from the wire. */
	char name[NP_DNS_NAME_BUF];
	/* The same name for logs: lowercased, every byte outside
	 * [a-z0-9_-] written \DDD, so it only holds [a-z0-9_.\-] and
	 * backslashes starting \DDD. Equal to name when non_ldh is false. */
	char printable[NP_DNS_NAME_BUF];
	/* Some label byte is outside [A-Za-z0-9_-]. Not an error: the
	 * resolver refuses such names and raises an audit event. */
	bool non_ldh;
	bool edns;		/* the query carried an OPT record */
	uint8_t edns_version;	/* OPT version (answer BADVERS if > 0) */
	/* The requestor's UDP size clamped to 512..1232, 0 without EDNS. */
	uint16_t edns_udp_size;
	/* The question section byte for byte (QNAME, QTYPE, QCLASS), case
	 * as sent, echoed in replies so 0x20 case randomisation survives. */
	uint8_t question[NP_DNS_QUESTION_MAX];
	size_t question_len;
};

/* One A record of an answer; the owner is always the question name. */
struct np_dns_rr {
	uint32_t ttl;		/* seconds; above 2^31-1 is sent as 2^31-1 */
	struct in_addr addr;	/* network byte order */
};

/* Parses one query of len bytes from msg. Returns 0 and fills *ret_q, or:
 *   -EBADMSG     fewer than 12 bytes, or QR=1: send nothing at all;
 *   -EOPNOTSUPP  the opcode is not QUERY: answer NOTIMP with
 *                np_dns_build_error;
 *   -EPROTO      the header is there but the rest is malformed or not a
 *                query we accept: answer FORMERR with np_dns_build_error;
 *   -EINVAL      NULL arguments.
 * *ret_q is untouched on error. */
int np_dns_parse_query(const uint8_t *msg, size_t len,
    struct np_dns_query *ret_q);

/* Builds the reply to q in out[0..cap): the id, opcode and RD of the
 * query, QR=1, RA=1, AA=0, rcode; the question echoed byte-exact; the n
 * answers as A records of class IN whose owner is a compression pointer
 * to the question name; and an OPT record (UDP size 1232, no options)
 * when the query had one. Over UDP the limit is 512 bytes, or the
 * requestor's EDNS size; over TCP it is 65535. A reply that would pass the
 * limit is sent with TC set and no answers.
 * Answers (n > 0) need rcode NOERROR and a question of class IN and type
 * A or ANY. NP_DNS_BADVERS needs a query with EDNS.
 * Returns 0 and sets *ret_len, -ENOSPC when the reply does not fit in cap
 * (out is not written), or -EINVAL for arguments that break the rules
 * above. */
int np_dns_build_response(const struct np_dns_query *q,
    enum np_dns_rcode rcode, const struct np_dns_rr *answers, size_t n,
    enum np_dns_transport transport, uint8_t *out, size_t cap,
    size_t *ret_len);

/* Builds a header-only reply to the raw message msg[0..len) for a query
 * np_dns_parse_query refused with -EOPNOTSUPP or -EPROTO, or one the
 * resolver cannot serve: id, opcode and RD of msg, QR=1, RA=1, the rcode,
 * and all counts 0 (no question, no OPT). rcode must be FORMERR,
 * SERVFAIL, NOTIMP or REFUSED. Returns 0 and sets *ret_len (always 12),
 * -EBADMSG when msg is shorter than 12 bytes or has QR=1 (never answer
 * those), -ENOSPC when cap < 12, or -EINVAL. */
int np_dns_build_error(const uint8_t *msg, size_t len,
    enum np_dns_rcode rcode, uint8_t *out, size_t cap, size_t *ret_len);

/* DNS over TCP (RFC 1035 4.2.2, RFC 7766): looks for one message at the
 * head of the stream bytes in[0..n), each message prefixed by its length
 * as a big-endian u16. Returns 1 with *ret_msg pointing into in at the
 * message, *ret_len its length and *ret_consumed the bytes to drop from
 * the stream (2 + length); 0 when more bytes are needed; -EBADMSG for a
 * zero length (close the connection); -EINVAL for NULL arguments. */
int np_dns_tcp_frame(const uint8_t *in, size_t n, const uint8_t **ret_msg,
    size_t *ret_len, size_t *ret_consumed);

#endif
