/* sp_ch: the TLS ClientHello reader of sandgate-proxy.
 *
 * The proxy reads the first bytes a guest sends to port 443 and decides on
 * them before any TLS library sees them: is it TLS at all, which name does
 * it ask for (SNI, the sandbox's identity for HTTPS), which protocols does
 * it offer (ALPN). Nothing here does I/O or keeps state between calls: the
 * caller keeps the bytes it has read in a buffer and calls sp_ch_parse()
 * on all of them after every read, until the answer is not -EAGAIN. The
 * same bytes are then handed, unchanged, to the TLS library.
 *
 * What is accepted: one or more TLS records of type handshake (0x16) with
 * a record version 0x0300..0x0304, carrying exactly one handshake message
 * of type client_hello, which may be fragmented across up to
 * SP_CH_MAX_RECORDS records (real clients rarely do this, attackers do).
 * The records that carry the ClientHello may total at most SP_CH_MAX_BYTES
 * bytes, record headers included. Bytes after the last of those records
 * (early data, a ChangeCipherSpec) are not looked at.
 *
 * What is refused, as malformed (-EBADMSG): a length that disagrees with
 * its container at any level (record, handshake, session id, cipher
 * suites, compression methods, extensions block, one extension, the
 * server_name list, the ALPN list, one ALPN name), empty handshake records,
 * records over 2^14 bytes, a record of another type or version before the
 * ClientHello is complete, a legacy_version that is not 3.x, another handshake message in the same records after it, an
 * extension that appears twice, a server_name extension that does not hold
 * exactly one name of type host_name, an empty ALPN list or name.
 *
 * The SNI host_name is then judged (enum sp_ch_sni): a DNS name is
 * lowercased and loses one trailing dot; an IP literal (IPv4 in any of the
 * forms inet_aton() takes, IPv6 with or without brackets) is reported as
 * such so that the caller refuses it; anything else is invalid. */
#ifndef SP_CLIENTHELLO_H
#define SP_CLIENTHELLO_H

#include <stddef.h>
#include <stdint.h>

/* Give up (-EMSGSIZE) when the ClientHello is not complete within this
 * many bytes of records (headers included) or this many records. */
#define SP_CH_MAX_BYTES   16384
#define SP_CH_MAX_RECORDS 4

/* The longest DNS name kept (without the trailing dot), and so the
 * longest string sp_ch_sni() returns. */
#define SP_CH_NAME_MAX 253

struct sp_ch;

enum sp_ch_sni {
	SP_CH_SNI_NONE,     /* no server_name extension */
	SP_CH_SNI_HOST,     /* a valid DNS name, normalised */
	SP_CH_SNI_IP,       /* an IPv4 or IPv6 literal: refuse it */
	SP_CH_SNI_INVALID,  /* a host_name that is neither: refuse it */
};

/* Reads a ClientHello from the first n bytes a client sent (p may be NULL
 * when n is 0). On success returns 0 and hands a new parsed ClientHello to
 * *ret_ch (free it with sp_ch_free). Otherwise returns:
 *   -EAGAIN           the bytes so far are a valid beginning: read more
 *                     and call again with all of them;
 *   -ENOMSG           not TLS: the first byte is not a handshake record or
 *                     the record version is not 3.0..3.4 ("raw bytes on
 *                     443"); decided from the first 3 bytes at most;
 *   -EPROTONOSUPPORT  an SSLv2-style (SSL 2.0 compatible) ClientHello;
 *   -EBADMSG          TLS, but malformed (see above);
 *   -EMSGSIZE         not complete within SP_CH_MAX_BYTES or
 *                     SP_CH_MAX_RECORDS;
 *   -ENOMEM.
 * Every answer other than -EAGAIN is final: more bytes never change it,
 * and it is decided on the bytes seen so far. */
int sp_ch_parse(const void *p, size_t n, struct sp_ch **ret_ch);

/* Frees ch; NULL is accepted. */
void sp_ch_free(struct sp_ch *ch);

/* A short English text for a return code of sp_ch_parse, for logs. */
const char *sp_ch_strerror(int err);

/* The SNI verdict, and the name: the normalised DNS name for
 * SP_CH_SNI_HOST, the literal as sent (lowercased) for SP_CH_SNI_IP, NULL
 * otherwise. The string belongs to ch. */
enum sp_ch_sni sp_ch_sni_kind(const struct sp_ch *ch);
const char *sp_ch_sni(const struct sp_ch *ch);

/* ClientHello.legacy_version (0x0303 for TLS 1.2 and 1.3 clients) and the
 * version of the first record. */
uint16_t sp_ch_legacy_version(const struct sp_ch *ch);
uint16_t sp_ch_record_version(const struct sp_ch *ch);

/* How many records carried the ClientHello (more than one: fragmented),
 * and how many bytes of the input those records took. */
unsigned sp_ch_records(const struct sp_ch *ch);
size_t sp_ch_length(const struct sp_ch *ch);

/* The ALPN protocol names offered, in the client's order: count is 0
 * without the extension. sp_ch_alpn() returns name i (not NUL-terminated,
 * may hold any byte) and its length in *ret_len, or NULL past the end.
 * sp_ch_alpn_has() tells whether name (a C string, compared exactly) is
 * offered. */
size_t sp_ch_alpn_count(const struct sp_ch *ch);
const uint8_t *sp_ch_alpn(const struct sp_ch *ch, size_t i, size_t *ret_len);
int sp_ch_alpn_has(const struct sp_ch *ch, const char *name);

#endif
