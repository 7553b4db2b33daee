/* sp_ch: TLS ClientHello reader, see clienthello.h.
 *
 * Two passes over the input. The record pass walks the records as far as
 * the bytes go, checks each header as soon as its bytes are there, and
 * copies the payload of each complete record into one handshake buffer;
 * once the handshake header is in, the announced length is checked, and
 * once the whole message is in, the message pass parses it. Every check
 * looks only at bytes that precede the point where the walk stopped, in
 * stream order, so an error found on a prefix is the error found on the
 * whole stream (sp_ch_parse's "every answer but -EAGAIN is final"). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hostname.h"
#include "secrets/clienthello.h"

#define REC_HDR        5
#define REC_MAX        16384          /* 2^14, RFC 8446 5.1 */
#define HS_HDR         4
#define HS_CLIENT_HELLO 1
#define CT_HANDSHAKE   0x16
#define EXT_SNI        0x0000
#define EXT_ALPN       0x0010
#define SNI_HOST_NAME  0

struct sp_ch {
	uint16_t legacy_version;
	uint16_t record_version;
	unsigned records;
	size_t length;
	enum sp_ch_sni sni_kind;
	char sni[SP_CH_NAME_MAX + 1];
	uint8_t *alpn;          /* the ALPN list as sent, without its length */
	size_t alpn_len;
	size_t alpn_count;
};

/* A read cursor over bytes of the handshake message; every get fails
 * (and sets err) once the bytes run out. */
struct cur {
	const uint8_t *p;
	size_t n;
	int err;
};

static void
cur_init(struct cur *c, const uint8_t *p, size_t n)
{
	c->p = p;
	c->n = n;
	c->err = 0;
}

static const uint8_t *
cur_bytes(struct cur *c, size_t n)
{
	const uint8_t *p;

	if (c->err || n > c->n) {
		c->err = 1;
		return NULL;
	}
	p = c->p;
	c->p += n;
	c->n -= n;
	return p;
}

static unsigned
cur_u8(struct cur *c)
{
	const uint8_t *p = cur_bytes(c, 1);

	return p == NULL ? 0 : p[0];
}

static unsigned
cur_u16(struct cur *c)
{
	const uint8_t *p = cur_bytes(c, 2);

	return p == NULL ? 0 : (unsigned)p[0] << 8 | p[1];
}

/* Takes a sub-cursor of n bytes announced by a length field: fails when
 * fewer are left. */
static int
cur_sub(struct cur *c, size_t n, struct cur *ret_sub)
{
	const uint8_t *p = cur_bytes(c, n);

	if (p == NULL)
		return -EBADMSG;
	cur_init(ret_sub, p, n);
	return 0;
}

const char *
sp_ch_strerror(int err)
{
	switch (err) {
	case 0:
		return "a TLS ClientHello";
	case -EAGAIN:
		return "an incomplete TLS ClientHello";
	case -ENOMSG:
		return "not TLS (the first bytes are not a TLS handshake record)";
	case -EPROTONOSUPPORT:
		return "an SSLv2-style ClientHello (SSL 2.0 is not supported)";
	case -EBADMSG:
		return "a malformed TLS ClientHello";
	case -EMSGSIZE:
		return "a TLS ClientHello over the size or record limit";
	case -ENOMEM:
		return "out of memory";
	default:
		return "an unknown error";
	}
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static char
lower(unsigned char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* Judges a host_name of n bytes and fills ch->sni_kind and ch->sni. */
static void
judge_sni(struct sp_ch *ch, const uint8_t *name, size_t n)
{
	char buf[SG_NAME_MAX];
	struct sg_name_fault fault;
	enum sp_ch_sni kind;
	size_t i;
	int v6 = 0;

	ch->sni_kind = SP_CH_SNI_INVALID;
	ch->sni[0] = '\0';

	for (i = 0; i < n; i++)
		if (name[i] == ':' || name[i] == '[')
			v6 = 1;
	if (v6) {
		/* an IPv6 literal, with brackets or not; nothing with a
		 * colon is a DNS name */
		if (n > 2 + 45)
			return;
		for (i = 0; i < n; i++)
			if (!is_hex(name[i]) && name[i] != ':' &&
			    name[i] != '.' && name[i] != '[' && name[i] != ']')
				return;
		for (i = 0; i < n; i++)
			ch->sni[i] = lower(name[i]);
		ch->sni[n] = '\0';
		ch->sni_kind = SP_CH_SNI_IP;
		return;
	}

	/* the one normaliser (common/hostname.h): a name, an IPv4 literal
	 * as a URL parser reads one, or nothing */
	if (n > SP_CH_NAME_MAX + 1)
		return;
	switch (sg_name_check((const char *)name, n, buf, &fault)) {
	case SG_NAME_OK:
		kind = SP_CH_SNI_HOST;
		break;
	case SG_NAME_NUMERIC:
		kind = SP_CH_SNI_IP;
		break;
	default:
		return;
	}
	memcpy(ch->sni, buf, strlen(buf) + 1);
	ch->sni_kind = kind;
}

/* server_name extension (RFC 6066 3): exactly one entry, of type
 * host_name, not empty. */
static int
parse_sni(struct sp_ch *ch, struct cur *ext)
{
	struct cur list;
	const uint8_t *name;
	size_t len;

	if (cur_sub(ext, cur_u16(ext), &list) < 0 || ext->n != 0)
		return -EBADMSG;
	if (cur_u8(&list) != SNI_HOST_NAME)
		return -EBADMSG;
	len = cur_u16(&list);
	name = cur_bytes(&list, len);
	if (name == NULL || len == 0 || list.n != 0)
		return -EBADMSG;
	judge_sni(ch, name, len);
	return 0;
}

/* application_layer_protocol_negotiation (RFC 7301 3.1): a non-empty
 * list of non-empty names that fills the extension exactly. */
static int
parse_alpn(struct sp_ch *ch, struct cur *ext)
{
	struct cur list, walk;
	size_t count = 0;

	if (cur_sub(ext, cur_u16(ext), &list) < 0 || ext->n != 0 ||
	    list.n < 2)
		return -EBADMSG;
	walk = list;
	while (walk.n > 0) {
		size_t len = cur_u8(&walk);

		if (len == 0 || cur_bytes(&walk, len) == NULL)
			return -EBADMSG;
		count++;
	}
	ch->alpn = malloc(list.n);
	if (ch->alpn == NULL)
		return -ENOMEM;
	memcpy(ch->alpn, list.p, list.n);
	ch->alpn_len = list.n;
	ch->alpn_count = count;
	return 0;
}

/* Parses the body of a ClientHello message (after the handshake header). */
static int
parse_hello(struct sp_ch *ch, const uint8_t *p, size_t n)
{
	struct cur c, sub, exts;
	uint8_t seen[65536 / 8];
	size_t len;
	int r;

	cur_init(&c, p, n);
	ch->legacy_version = (uint16_t)cur_u16(&c);
	if (c.err || ch->legacy_version >> 8 != 3)
		return -EBADMSG;
	if (cur_bytes(&c, 32) == NULL)                 /* random */
		return -EBADMSG;
	len = cur_u8(&c);                              /* legacy_session_id */
	if (len > 32 || cur_sub(&c, len, &sub) < 0)
		return -EBADMSG;
	len = cur_u16(&c);                             /* cipher_suites */
	if (len < 2 || len % 2 != 0 || cur_sub(&c, len, &sub) < 0)
		return -EBADMSG;
	len = cur_u8(&c);                          /* compression_methods */
	if (len < 1 || cur_sub(&c, len, &sub) < 0)
		return -EBADMSG;
	if (c.n == 0)
		return 0;                  /* no extensions block at all */

	if (cur_sub(&c, cur_u16(&c), &exts) < 0 || c.n != 0)
		return -EBADMSG;
	memset(seen, 0, sizeof(seen));
	while (exts.n > 0) {
		unsigned type = cur_u16(&exts);
		struct cur ext;

		if (exts.err || cur_sub(&exts, cur_u16(&exts), &ext) < 0)
			return -EBADMSG;
		if (seen[type / 8] & (1u << (type % 8)))
			return -EBADMSG;
		seen[type / 8] |= (uint8_t)(1u << (type % 8));
		r = 0;
		if (type == EXT_SNI)
			r = parse_sni(ch, &ext);
		else if (type == EXT_ALPN)
			r = parse_alpn(ch, &ext);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The record pass: see the comment at the top. */
int
sp_ch_parse(const void *vp, size_t n, struct sp_ch **ret_ch)
{
	const uint8_t *p = vp;
	uint8_t hs[SP_CH_MAX_BYTES];
	size_t pos = 0, hslen = 0, hsneed = 0;
	unsigned records = 0;
	uint16_t recver = 0;
	struct sp_ch *ch = NULL;
	int r;

	/* Is it TLS at all? Decided on the first three bytes. */
	if (n < 1)
		return -EAGAIN;
	if (p[0] != CT_HANDSHAKE) {
		/* SSL 2.0 record: 2-byte length with the top bit set, then
		 * message type 1 (client_hello) */
		if (!(p[0] & 0x80))
			return -ENOMSG;
		if (n < 3)
			return -EAGAIN;
		return p[2] == 1 ? -EPROTONOSUPPORT : -ENOMSG;
	}
	if (n < 2)
		return -EAGAIN;
	if (p[1] != 3)
		return -ENOMSG;
	if (n < 3)
		return -EAGAIN;
	if (p[2] > 4)
		return -ENOMSG;

	for (;;) {
		size_t reclen;

		/* After the first record, anything but more handshake
		 * records before the ClientHello is complete is bad; each
		 * header byte is judged as soon as it is there. */
		if (n - pos >= 1 && p[pos] != CT_HANDSHAKE)
			return -EBADMSG;
		if (n - pos >= 2 && p[pos + 1] != 3)
			return -EBADMSG;
		if (n - pos >= 3 && p[pos + 2] > 4)
			return -EBADMSG;
		if (n - pos < REC_HDR)
			return -EAGAIN;
		if (records == 0)
			recver = (uint16_t)(p[pos + 1] << 8 | p[pos + 2]);
		reclen = (size_t)p[pos + 3] << 8 | p[pos + 4];
		if (reclen == 0 || reclen > REC_MAX)
			return -EBADMSG;
		if (pos + REC_HDR + reclen > SP_CH_MAX_BYTES)
			return -EMSGSIZE;
		if (n - pos - REC_HDR < reclen)
			return -EAGAIN;
		memcpy(hs + hslen, p + pos + REC_HDR, reclen);
		hslen += reclen;
		pos += REC_HDR + reclen;
		records++;

		if (hsneed == 0 && hslen >= HS_HDR) {
			size_t bodylen;

			if (hs[0] != HS_CLIENT_HELLO)
				return -EBADMSG;
			bodylen = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 |
			    hs[3];
			/* the smallest body: version, random, three empty or
			 * one-element vectors */
			if (bodylen < 2 + 32 + 1 + 2 + 2 + 1 + 1)
				return -EBADMSG;
			if (bodylen > SP_CH_MAX_BYTES - REC_HDR - HS_HDR)
				return -EMSGSIZE;
			hsneed = HS_HDR + bodylen;
		}
		if (hsneed != 0 && hslen >= hsneed)
			break;
		if (records >= SP_CH_MAX_RECORDS)
			return -EMSGSIZE;
	}
	/* The records end with the ClientHello: nothing else may follow it
	 * before the server has answered. */
	if (hslen != hsneed)
		return -EBADMSG;

	ch = calloc(1, sizeof(*ch));
	if (ch == NULL)
		return -ENOMEM;
	ch->record_version = recver;
	ch->records = records;
	ch->length = pos;
	ch->sni_kind = SP_CH_SNI_NONE;
	r = parse_hello(ch, hs + HS_HDR, hsneed - HS_HDR);
	if (r < 0)
		goto fail;
	*ret_ch = ch;
	return 0;
fail:
	sp_ch_free(ch);
	return r;
}

void
sp_ch_free(struct sp_ch *ch)
{
	if (ch == NULL)
		return;
	free(ch->alpn);
	free(ch);
}

enum sp_ch_sni sp_ch_sni_kind(const struct sp_ch *ch) { return ch->sni_kind; }
uint16_t sp_ch_legacy_version(const struct sp_ch *ch)
{
	return ch->legacy_version;
}
uint16_t sp_ch_record_version(const struct sp_ch *ch)
{
	return ch->record_version;
}
unsigned sp_ch_records(const struct sp_ch *ch) { return ch->records; }
size_t sp_ch_length(const struct sp_ch *ch) { return ch->length; }
size_t sp_ch_alpn_count(const struct sp_ch *ch) { return ch->alpn_count; }

const char *
sp_ch_sni(const struct sp_ch *ch)
{
	if (ch->sni_kind == SP_CH_SNI_HOST || ch->sni_kind == SP_CH_SNI_IP)
		return ch->sni;
	return NULL;
}

const uint8_t *
sp_ch_alpn(const struct sp_ch *ch, size_t i, size_t *ret_len)
{
	size_t off = 0;

	while (off < ch->alpn_len) {
		size_t len = ch->alpn[off];

		if (i == 0) {
			if (ret_len != NULL)
				*ret_len = len;
			return ch->alpn + off + 1;
		}
		i--;
		off += 1 + len;
	}
	return NULL;
}

int
sp_ch_alpn_has(const struct sp_ch *ch, const char *name)
{
	size_t off = 0, nlen = strlen(name);

	while (off < ch->alpn_len) {
		size_t len = ch->alpn[off];

		if (len == nlen && memcmp(ch->alpn + off + 1, name, len) == 0)
			return 1;
		off += 1 + len;
	}
	return 0;
}
