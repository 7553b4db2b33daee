/* Unit tests for secrets/clienthello.c: real ClientHellos captured from
 * openssl s_client, curl and python3 (against a local listener), every
 * prefix of them, the same hellos fragmented across records, bytes that
 * are not TLS, hand-built malformed hellos at every length level, the SNI
 * judgement (normalisation, IP literals, invalid names) and the limits. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "secrets/clienthello.h"

/* Captured with a python listener on 127.0.0.1 that stores the first
 * bytes of the connection:
 *   ossl_alpn:  openssl s_client -servername Example.COM. -alpn h2,http/1.1
 *   ossl_tls12: openssl s_client -servername api.github.com -tls1_2
 *   ossl_nosni: openssl s_client -noservername
 *   curl:       curl --resolve host.test:PORT:127.0.0.1 https://host.test:PORT/
 *   ossl_ip:    openssl s_client -servername 127.0.0.1
 *   py:         python3 ssl, server_hostname=pypi.org, alpn http/1.1
 * (OpenSSL 3.0.19, curl with OpenSSL, CPython 3 ssl.) */
/* ossl_alpn */
static const char HEX_OSSL_ALPN[] =
	"160301014b0100014703034d443cf8f326385c158c6cddf1d2183ec870c3a9df"
	"7b5a8b2b4e35fbd965f58820eb15892a3149b2d49c8931f1305204f756bb3eb8"
	"06d4de55af8a01a57adb8c76003e130213031301c02cc030009fcca9cca8ccaa"
	"c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d"
	"009c003d003c0035002f00ff010000c000000011000f00000c4578616d706c65"
	"2e434f4d2e000b000403000102000a00160014001d0017001e00190018010001"
	"01010201030104002300000010000e000c02683208687474702f312e31001600"
	"0000170000000d002a0028040305030603080708080809080a080b0804080508"
	"06040105010601030303010302040205020602002b0009080304030303020301"
	"002d00020101003300260024001d002072d604c804724bc247c591b6a6237ab6"
	"76b185e91dca5327da6775a39a31c515"
;
/* ossl_tls12 */
static const char HEX_OSSL_TLS12[] =
	"16030100ce010000ca0303a53b6481a20ee8510dc5ce24b4107adfaae3fadb34"
	"1c2e16e1e77eb260d8cdb8000038c02cc030009fcca9cca8ccaac02bc02f009e"
	"c024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c"
	"0035002f00ff0100006900000013001100000e6170692e6769746875622e636f"
	"6d000b000403000102000a000c000a001d0017001e0019001800230000001600"
	"0000170000000d002a0028040305030603080708080809080a080b0804080508"
	"06040105010601030303010302040205020602"
;
/* ossl_nosni */
static const char HEX_OSSL_NOSNI[] =
	"160301012401000120030301540321ce231636d496e512b92730c1488fdfbe7c"
	"2be2ad0a4b50a76fd2f96d20cbe2ee96bb5c7e02fc0dd7f0504bae9c883cbf71"
	"a9012a289ac1f683101197c0003e130213031301c02cc030009fcca9cca8ccaa"
	"c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d"
	"009c003d003c0035002f00ff01000099000b000403000102000a00160014001d"
	"0017001e0019001801000101010201030104002300000016000000170000000d"
	"002a0028040305030603080708080809080a080b080408050806040105010601"
	"030303010302040205020602002b0009080304030303020301002d0002010100"
	"3300260024001d002058f3c106c977800cecd8392bf35cc1ae3c1b300616a203"
	"612a2fc3cf02568d03"
;
/* curl */
static const char HEX_CURL[] =
	"1603010200010001fc0303453101998710a6b4ea50b89c3ac3d47627c54223dc"
	"0ec9bd3e699b10f6e35b6e20158971ce748f21516f2af6af2657eb284a9e8ac1"
	"f3ab3da4870bd768461446e6003e130213031301c02cc030009fcca9cca8ccaa"
	"c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d"
	"009c003d003c0035002f00ff010001750000000e000c000009686f73742e7465"
	"7374000b000403000102000a00160014001d0017001e00190018010001010102"
	"010301040010000e000c02683208687474702f312e3100160000001700000031"
	"0000000d002a0028040305030603080708080809080a080b0804080508060401"
	"05010601030303010302040205020602002b0009080304030303020301002d00"
	"020101003300260024001d002073c86fa7d0fc175a195f1c23b7e1eec43aa4a6"
	"71a9e5975bc6b106693ffba324001500b4000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000"
;
/* ossl_ip */
static const char HEX_OSSL_IP[] =
	"160301013601000132030370026da183f78b1dc3a816a8335989a2840dc68b30"
	"d30b7c899bde5d8e4076d820e73b008e8a7b4d94d80c0313ecbb9940e2d8cef0"
	"bb8c4baa06832abb980f4cc9003e130213031301c02cc030009fcca9cca8ccaa"
	"c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d"
	"009c003d003c0035002f00ff010000ab0000000e000c0000093132372e302e30"
	"2e31000b000403000102000a00160014001d0017001e00190018010001010102"
	"01030104002300000016000000170000000d002a002804030503060308070808"
	"0809080a080b080408050806040105010601030303010302040205020602002b"
	"0009080304030303020301002d00020101003300260024001d002079845c93ab"
	"252c365472bee20f47e279f2b7a53ce6804a765ccc614205cdb844"
;
/* py */
static const char HEX_PY[] =
	"1603010200010001fc030363363fce12056699a669d20f6853ffc26824258c6f"
	"7dbe8dbb00e89639a93ca9201f15c7a9abce48b8397627befa517b213ebc56e2"
	"acb60a16d3f0c1bcabb7beca0024130213031301c02cc030c02bc02fcca9cca8"
	"c024c028c023c027009f009e006b006700ff0100018f0000000d000b00000870"
	"7970692e6f7267000b000403000102000a00160014001d0017001e0019001801"
	"000101010201030104002300000010000b000908687474702f312e3100160000"
	"00170000000d002a0028040305030603080708080809080a080b080408050806"
	"040105010601030303010302040205020602002b00050403040303002d000201"
	"01003300260024001d0020995b09535c9787ff92515ea454bcfbaffa27702fda"
	"c1af69e46db31be6d0b266001500d60000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000"
;

/* A growable byte string for building test inputs. */
struct bytes {
	uint8_t *p;
	size_t n;
};

static void
put(struct bytes *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->n + n + 1);
	assert_non_null(b->p);
	if (n > 0)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
put8(struct bytes *b, unsigned v)
{
	uint8_t c = (uint8_t)v;

	put(b, &c, 1);
}

static void
put16(struct bytes *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}

static void
put24(struct bytes *b, size_t v)
{
	put8(b, (unsigned)(v >> 16));
	put16(b, (unsigned)(v & 0xffff));
}

static struct bytes
from_hex(const char *hex)
{
	struct bytes b = { NULL, 0 };
	size_t i, n = strlen(hex);

	assert_int_equal(n % 2, 0);
	for (i = 0; i < n; i += 2) {
		char t[3] = { hex[i], hex[i + 1], 0 };

		put8(&b, (unsigned)strtoul(t, NULL, 16));
	}
	return b;
}

/* Parses exactly n bytes and checks that every shorter prefix asks for
 * more: the answer on a whole hello never comes early. */
static int
parse_all_prefixes(const uint8_t *p, size_t n, struct sp_ch **ret_ch)
{
	struct sp_ch *ch = NULL;
	size_t k;

	for (k = 0; k < n; k++) {
		ch = NULL;
		assert_int_equal(sp_ch_parse(p, k, &ch), -EAGAIN);
		assert_null(ch);
	}
	return sp_ch_parse(p, n, ret_ch);
}

/* Re-frames the records of hello (one or more) into records whose
 * payloads have the given sizes (the last takes what is left). */
static struct bytes
refragment(const struct bytes *hello, const size_t *sizes, size_t nsizes)
{
	struct bytes hs = { NULL, 0 }, out = { NULL, 0 };
	size_t pos = 0, i, off = 0;

	while (pos < hello->n) {
		size_t len = (size_t)hello->p[pos + 3] << 8 | hello->p[pos + 4];

		put(&hs, hello->p + pos + 5, len);
		pos += 5 + len;
	}
	for (i = 0; i <= nsizes && off < hs.n; i++) {
		size_t len = i < nsizes ? sizes[i] : hs.n - off;

		if (len > hs.n - off)
			len = hs.n - off;
		put8(&out, 0x16);
		put16(&out, 0x0301);
		put16(&out, (unsigned)len);
		put(&out, hs.p + off, len);
		off += len;
	}
	free(hs.p);
	return out;
}

struct real_case {
	const char *hex;
	enum sp_ch_sni kind;
	const char *sni;
	const char *alpn[3];
	uint16_t record_version;
};

static const struct real_case real_cases[] = {
	{ HEX_OSSL_ALPN, SP_CH_SNI_HOST, "example.com",
	  { "h2", "http/1.1", NULL }, 0x0301 },
	{ HEX_OSSL_TLS12, SP_CH_SNI_HOST, "api.github.com",
	  { NULL }, 0x0301 },
	{ HEX_OSSL_NOSNI, SP_CH_SNI_NONE, NULL, { NULL }, 0x0301 },
	{ HEX_CURL, SP_CH_SNI_HOST, "host.test",
	  { "h2", "http/1.1", NULL }, 0x0301 },
	{ HEX_OSSL_IP, SP_CH_SNI_IP, "127.0.0.1", { NULL }, 0x0301 },
	{ HEX_PY, SP_CH_SNI_HOST, "pypi.org", { "http/1.1", NULL }, 0x0301 },
};

static void
check_real(const struct real_case *rc, const struct sp_ch *ch)
{
	size_t i, len;
	const uint8_t *a;

	assert_int_equal(sp_ch_sni_kind(ch), rc->kind);
	if (rc->sni == NULL)
		assert_null(sp_ch_sni(ch));
	else
		assert_string_equal(sp_ch_sni(ch), rc->sni);
	assert_int_equal(sp_ch_legacy_version(ch), 0x0303);
	for (i = 0; rc->alpn[i] != NULL; i++) {
		a = sp_ch_alpn(ch, i, &len);
		assert_non_null(a);
		assert_int_equal(len, strlen(rc->alpn[i]));
		assert_memory_equal(a, rc->alpn[i], len);
		assert_true(sp_ch_alpn_has(ch, rc->alpn[i]));
	}
	assert_int_equal(sp_ch_alpn_count(ch), i);
	assert_null(sp_ch_alpn(ch, i, &len));
	assert_false(sp_ch_alpn_has(ch, "http/1.0"));
	assert_false(sp_ch_alpn_has(ch, "h"));
}

static void
test_real_hellos(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(real_cases) / sizeof(real_cases[0]); i++) {
		const struct real_case *rc = &real_cases[i];
		struct bytes b = from_hex(rc->hex);
		struct sp_ch *ch = NULL;

		assert_int_equal(parse_all_prefixes(b.p, b.n, &ch), 0);
		check_real(rc, ch);
		assert_int_equal(sp_ch_records(ch), 1);
		assert_int_equal(sp_ch_length(ch), b.n);
		assert_int_equal(sp_ch_record_version(ch), rc->record_version);
		sp_ch_free(ch);

		/* what follows the hello (a ChangeCipherSpec, early data)
		 * is not looked at */
		put(&b, "\x14\x03\x03\x00\x01\x01\x17\x03\x03\xff\xff", 11);
		assert_int_equal(sp_ch_parse(b.p, b.n, &ch), 0);
		assert_int_equal(sp_ch_length(ch), b.n - 11);
		check_real(rc, ch);
		sp_ch_free(ch);
		free(b.p);
	}
	/* sizes as captured */
	{
		struct bytes b = from_hex(HEX_CURL);

		assert_int_equal(b.n, 517);
		free(b.p);
	}
}

static void
test_fragmented(void **state)
{
	struct bytes b = from_hex(HEX_OSSL_ALPN);
	size_t hslen = b.n - 5, a, c;
	struct sp_ch *ch = NULL;

	/* every split into two records, and many into three */
	for (a = 1; a < hslen; a++) {
		size_t s2[1] = { a };
		struct bytes f = refragment(&b, s2, 1);

		assert_int_equal(f.n, b.n + 5);
		assert_int_equal(sp_ch_parse(f.p, f.n, &ch), 0);
		assert_int_equal(sp_ch_records(ch), 2);
		assert_int_equal(sp_ch_length(ch), f.n);
		check_real(&real_cases[0], ch);
		sp_ch_free(ch);
		assert_int_equal(sp_ch_parse(f.p, f.n - 1, &ch), -EAGAIN);
		free(f.p);
	}
	for (a = 1; a < hslen; a += 7) {
		for (c = 1; a + c < hslen; c += 13) {
			size_t s3[2] = { a, c };
			struct bytes f = refragment(&b, s3, 2);

			assert_int_equal(sp_ch_parse(f.p, f.n, &ch), 0);
			assert_int_equal(sp_ch_records(ch), 3);
			check_real(&real_cases[0], ch);
			sp_ch_free(ch);
			free(f.p);
		}
	}
	/* four records (the limit), every prefix asks for more */
	{
		size_t s4[3] = { 1, 3, 100 };
		struct bytes f = refragment(&b, s4, 3);

		assert_int_equal(parse_all_prefixes(f.p, f.n, &ch), 0);
		assert_int_equal(sp_ch_records(ch), 4);
		check_real(&real_cases[0], ch);
		sp_ch_free(ch);
		free(f.p);
	}
	/* five records: given up as soon as the fourth is complete */
	{
		size_t s5[4] = { 1, 1, 1, 1 };
		struct bytes f = refragment(&b, s5, 4);

		assert_int_equal(sp_ch_parse(f.p, 4 * 6 - 1, &ch), -EAGAIN);
		assert_int_equal(sp_ch_parse(f.p, 4 * 6, &ch), -EMSGSIZE);
		assert_int_equal(sp_ch_parse(f.p, f.n, &ch), -EMSGSIZE);
		free(f.p);
	}
	/* an alert record between two fragments */
	{
		size_t s2[1] = { 50 };
		struct bytes f = refragment(&b, s2, 1);

		f.p[55] = 0x15;
		assert_int_equal(sp_ch_parse(f.p, 55, &ch), -EAGAIN);
		assert_int_equal(sp_ch_parse(f.p, 56, &ch), -EBADMSG);
		f.p[55] = 0x16;
		f.p[56] = 0x02;                /* record version 2.x */
		assert_int_equal(sp_ch_parse(f.p, f.n, &ch), -EBADMSG);
		free(f.p);
	}
	free(b.p);
}

static void
test_not_tls(void **state)
{
	static const struct {
		const char *p;
		size_t n;
		int want;
	} cases[] = {
		{ "", 0, -EAGAIN },
		{ "\x16", 1, -EAGAIN },
		{ "\x16\x03", 2, -EAGAIN },
		{ "\x16\x03\x01", 3, -EAGAIN },
		{ "G", 1, -ENOMSG },
		{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, -ENOMSG },
		{ "PRI * HTTP/2.0\r\n", 16, -ENOMSG },
		{ "SSH-2.0-OpenSSH_9.2\r\n", 21, -ENOMSG },
		{ "\x00\x00\x00\x00\x00", 5, -ENOMSG },
		{ "\x17\x03\x03\x00\x10", 5, -ENOMSG },   /* application data */
		{ "\x15\x03\x03\x00\x02", 5, -ENOMSG },   /* alert */
		{ "\x16\x02", 2, -ENOMSG },
		{ "\x16\x04\x00", 3, -ENOMSG },
		{ "\x16\x03\x05", 3, -ENOMSG },
		{ "\x16\x03\xff\x00\x10", 5, -ENOMSG },
		/* SSLv2-compatible ClientHello (2-byte header, type 1) */
		{ "\x80", 1, -EAGAIN },
		{ "\x80\x2e", 2, -EAGAIN },
		{ "\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10", 11,
		  -EPROTONOSUPPORT },
		{ "\x80\x2e\x02", 3, -ENOMSG },
		{ "\xff\xff\xff", 3, -ENOMSG },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sp_ch *ch = NULL;

		assert_int_equal(sp_ch_parse(cases[i].p, cases[i].n, &ch),
		    cases[i].want);
		assert_null(ch);
	}
	assert_int_equal(sp_ch_parse(NULL, 0, NULL), -EAGAIN);
}

/* A ClientHello built by hand, field by field, so that each length can
 * be broken on its own. Every field is given with its length prefix
 * explicitly; "auto" lengths use LEN_AUTO. */
#define LEN_AUTO ((size_t)-1)

struct hello_spec {
	unsigned version;
	size_t sid_len, sid_len_field;
	size_t cs_len, cs_len_field;
	size_t comp_len, comp_len_field;
	int no_ext_block;
	const uint8_t *exts;
	size_t exts_len, exts_len_field;
	size_t body_len_field;
	unsigned hs_type;
	size_t trailing;    /* extra handshake bytes after the message */
};

static void
spec_default(struct hello_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->version = 0x0303;
	s->sid_len = 32;
	s->sid_len_field = LEN_AUTO;
	s->cs_len = 4;
	s->cs_len_field = LEN_AUTO;
	s->comp_len = 1;
	s->comp_len_field = LEN_AUTO;
	s->exts_len_field = LEN_AUTO;
	s->body_len_field = LEN_AUTO;
	s->hs_type = 1;
}

static size_t
pick(size_t field, size_t real)
{
	return field == LEN_AUTO ? real : field;
}

/* Builds one record holding the handshake message of spec. */
static struct bytes
build(const struct hello_spec *s)
{
	struct bytes body = { NULL, 0 }, out = { NULL, 0 };
	size_t i;

	put16(&body, s->version);
	for (i = 0; i < 32; i++)
		put8(&body, (unsigned)i);
	put8(&body, (unsigned)pick(s->sid_len_field, s->sid_len));
	for (i = 0; i < s->sid_len; i++)
		put8(&body, 0xaa);
	put16(&body, (unsigned)pick(s->cs_len_field, s->cs_len));
	for (i = 0; i < s->cs_len; i++)
		put8(&body, i % 2 ? 0x01 : 0x13);
	put8(&body, (unsigned)pick(s->comp_len_field, s->comp_len));
	for (i = 0; i < s->comp_len; i++)
		put8(&body, 0);
	if (!s->no_ext_block) {
		put16(&body, (unsigned)pick(s->exts_len_field, s->exts_len));
		put(&body, s->exts, s->exts_len);
	}
	put8(&out, 0x16);
	put16(&out, 0x0301);
	put16(&out, (unsigned)(4 + body.n + s->trailing));
	put8(&out, s->hs_type);
	put24(&out, pick(s->body_len_field, body.n));
	put(&out, body.p, body.n);
	for (i = 0; i < s->trailing; i++)
		put8(&out, 0);
	free(body.p);
	return out;
}

static int
parse_spec(const struct hello_spec *s, struct sp_ch **ret_ch)
{
	struct bytes b = build(s);
	int r = sp_ch_parse(b.p, b.n, ret_ch);

	free(b.p);
	return r;
}

static int
parse_exts(const void *exts, size_t len, struct sp_ch **ret_ch)
{
	struct hello_spec s;

	spec_default(&s);
	s.exts = exts;
	s.exts_len = len;
	return parse_spec(&s, ret_ch);
}

/* One extension: type, length, data. */
static void
put_ext(struct bytes *b, unsigned type, const void *data, size_t len)
{
	put16(b, type);
	put16(b, (unsigned)len);
	put(b, data, len);
}

static struct bytes
sni_ext(const char *name, size_t len)
{
	struct bytes d = { NULL, 0 }, e = { NULL, 0 };

	put16(&d, (unsigned)(3 + len));
	put8(&d, 0);
	put16(&d, (unsigned)len);
	put(&d, name, len);
	put_ext(&e, 0, d.p, d.n);
	free(d.p);
	return e;
}

static void
test_built_valid(void **state)
{
	struct hello_spec s;
	struct sp_ch *ch = NULL;
	struct bytes e;

	/* no extensions block at all (SSL 3.0 style) */
	spec_default(&s);
	s.no_ext_block = 1;
	s.sid_len = 0;
	s.cs_len = 2;
	assert_int_equal(parse_spec(&s, &ch), 0);
	assert_int_equal(sp_ch_sni_kind(ch), SP_CH_SNI_NONE);
	assert_int_equal(sp_ch_alpn_count(ch), 0);
	sp_ch_free(ch);

	/* an empty extensions block */
	spec_default(&s);
	assert_int_equal(parse_spec(&s, &ch), 0);
	sp_ch_free(ch);

	/* legacy_version is reported as sent */
	spec_default(&s);
	s.version = 0x0301;
	assert_int_equal(parse_spec(&s, &ch), 0);
	assert_int_equal(sp_ch_legacy_version(ch), 0x0301);
	sp_ch_free(ch);

	/* an ALPN name with any bytes; unknown extensions are skipped */
	e.p = NULL;
	e.n = 0;
	put_ext(&e, 0xfe0d, "ech", 3);
	put_ext(&e, 16, "\x00\x04\x03\x00\xffx", 6);
	put_ext(&e, 0x1a1a, "", 0);            /* GREASE */
	assert_int_equal(parse_exts(e.p, e.n, &ch), 0);
	assert_int_equal(sp_ch_alpn_count(ch), 1);
	assert_true(sp_ch_alpn_has(ch, "\x00\xffx") == 0); /* C string */
	{
		size_t len;
		const uint8_t *a = sp_ch_alpn(ch, 0, &len);

		assert_int_equal(len, 3);
		assert_memory_equal(a, "\x00\xffx", 3);
	}
	sp_ch_free(ch);
	free(e.p);
}

static void
test_malformed_lengths(void **state)
{
	struct hello_spec s;
	struct sp_ch *ch = NULL;
	struct bytes b;

	/* record: empty, over 2^14, and one byte short of the hello */
	assert_int_equal(sp_ch_parse("\x16\x03\x01\x00\x00", 5, &ch),
	    -EBADMSG);
	assert_int_equal(sp_ch_parse("\x16\x03\x01\x40\x01", 5, &ch),
	    -EBADMSG);
	spec_default(&s);
	s.body_len_field = 4 + 32 + 1 + 32 + 2 + 4 + 1 + 1 + 2 + 1;
	b = build(&s);   /* handshake says 1 byte more than the record */
	assert_int_equal(sp_ch_parse(b.p, b.n, &ch), -EAGAIN);
	free(b.p);

	/* handshake: not a ClientHello, too short, bytes after it */
	spec_default(&s);
	s.hs_type = 2;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	spec_default(&s);
	s.body_len_field = 40;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	spec_default(&s);
	s.trailing = 4;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	spec_default(&s);
	s.body_len_field = 2 + 32 + 1 + 32 + 2 + 4 + 1 + 1;  /* ext block
	                                                        * left out */
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);

	/* legacy_version not 3.x */
	spec_default(&s);
	s.version = 0x0200;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);

	/* session id over 32, and longer than the body */
	spec_default(&s);
	s.sid_len = 33;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	spec_default(&s);
	s.sid_len_field = 32;
	s.sid_len = 16;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);

	/* cipher suites: odd, empty, too long */
	spec_default(&s);
	s.cs_len = 3;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	spec_default(&s);
	s.cs_len = 0;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	spec_default(&s);
	s.cs_len_field = 400;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);

	/* compression methods: empty, too long */
	spec_default(&s);
	s.comp_len = 0;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	spec_default(&s);
	s.comp_len_field = 200;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);

	/* extensions block: longer, shorter than what is there, one byte */
	spec_default(&s);
	s.exts = (const uint8_t *)"\x00\x17\x00\x00";
	s.exts_len = 4;
	s.exts_len_field = 5;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	s.exts_len_field = 3;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	s.exts_len_field = 0;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);
	s.exts_len_field = LEN_AUTO;
	assert_int_equal(parse_spec(&s, &ch), 0);
	sp_ch_free(ch);
	spec_default(&s);
	s.exts = (const uint8_t *)"\x00\x17\x00";
	s.exts_len = 3;
	assert_int_equal(parse_spec(&s, &ch), -EBADMSG);

	/* one extension longer than the block */
	assert_int_equal(parse_exts("\x00\x17\x00\x01", 4, &ch), -EBADMSG);
	assert_int_equal(parse_exts("\x00\x17\x00\x00\x00\x18\x00\x05x",
	    9, &ch), -EBADMSG);
}

static void
test_duplicates(void **state)
{
	struct sp_ch *ch = NULL;
	struct bytes e = { NULL, 0 }, s1, s2;

	assert_int_equal(parse_exts("\x00\x17\x00\x00\x00\x17\x00\x00", 8,
	    &ch), -EBADMSG);
	assert_int_equal(parse_exts("\xff\xff\x00\x00\x00\x00\x00\x00"
	    "\xff\xff\x00\x00", 12, &ch), -EBADMSG);
	/* two server_name extensions naming different hosts */
	s1 = sni_ext("a.example", 9);
	s2 = sni_ext("b.example", 9);
	put(&e, s1.p, s1.n);
	put(&e, s2.p, s2.n);
	assert_int_equal(parse_exts(e.p, e.n, &ch), -EBADMSG);
	free(e.p);
	e.p = NULL;
	e.n = 0;
	put_ext(&e, 16, "\x00\x03\x02h2", 5);
	put_ext(&e, 16, "\x00\x03\x02h2", 5);
	assert_int_equal(parse_exts(e.p, e.n, &ch), -EBADMSG);
	free(e.p);
	free(s1.p);
	free(s2.p);
}

static void
test_sni_malformed(void **state)
{
	static const struct {
		const char *data;
		size_t len;
	} bad[] = {
		{ "", 0 },                                /* empty extension */
		{ "\x00\x00", 2 },                        /* empty list */
		{ "\x00", 1 },
		{ "\x00\x05\x00\x00\x01x", 6 },           /* list too long */
		{ "\x00\x02\x00\x00\x01x", 6 },           /* list too short */
		{ "\x00\x04\x00\x00\x02x", 6 },           /* name too long */
		{ "\x00\x03\x00\x00\x00", 5 },            /* empty name */
		{ "\x00\x04\x01\x00\x01x", 6 },           /* type 1 */
		{ "\x00\x08\x00\x00\x01x\x00\x00\x01y", 10 }, /* two names */
		{ "\x00\x08\x00\x00\x01x\x01\x00\x01y", 10 }, /* and another
		                                               * type */
		{ "\x00\x04\x00\x00\x01xz", 7 },          /* trailing byte */
	};
	size_t i;
	struct sp_ch *ch = NULL;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bytes e = { NULL, 0 };

		put_ext(&e, 0, bad[i].data, bad[i].len);
		assert_int_equal(parse_exts(e.p, e.n, &ch), -EBADMSG);
		free(e.p);
	}
}

static void
test_alpn_malformed(void **state)
{
	static const struct {
		const char *data;
		size_t len;
	} bad[] = {
		{ "", 0 },
		{ "\x00", 1 },
		{ "\x00\x00", 2 },                        /* empty list */
		{ "\x00\x01\x00", 3 },                    /* empty name */
		{ "\x00\x03\x02h2\x00", 6 },              /* trailing byte */
		{ "\x00\x04\x02h2", 5 },                  /* list too long */
		{ "\x00\x02\x02h2", 5 },                  /* list too short */
		{ "\x00\x03\x03h2", 5 },                  /* name too long */
		{ "\x00\x04\x02h2\x00", 6 },              /* empty second */
	};
	size_t i;
	struct sp_ch *ch = NULL;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bytes e = { NULL, 0 };

		put_ext(&e, 16, bad[i].data, bad[i].len);
		assert_int_equal(parse_exts(e.p, e.n, &ch), -EBADMSG);
		free(e.p);
	}
}

static void
test_sni_judge(void **state)
{
	static const struct {
		const char *name;
		enum sp_ch_sni kind;
		const char *want;
	} cases[] = {
		{ "example.com", SP_CH_SNI_HOST, "example.com" },
		{ "Example.COM.", SP_CH_SNI_HOST, "example.com" },
		{ "localhost", SP_CH_SNI_HOST, "localhost" },
		{ "xn--bcher-kva.example", SP_CH_SNI_HOST,
		  "xn--bcher-kva.example" },
		{ "_dmarc.Example.org", SP_CH_SNI_HOST, "_dmarc.example.org" },
		{ "123.example.com", SP_CH_SNI_HOST, "123.example.com" },
		{ "a-b.c-d", SP_CH_SNI_HOST, "a-b.c-d" },
		{ "example.com..", SP_CH_SNI_INVALID, NULL },
		{ ".", SP_CH_SNI_INVALID, NULL },
		{ "..", SP_CH_SNI_INVALID, NULL },
		{ ".example.com", SP_CH_SNI_INVALID, NULL },
		{ "a..b", SP_CH_SNI_INVALID, NULL },
		{ "-a.com", SP_CH_SNI_INVALID, NULL },
		{ "a-.com", SP_CH_SNI_INVALID, NULL },
		{ "a.-com", SP_CH_SNI_INVALID, NULL },
		{ "a b.com", SP_CH_SNI_INVALID, NULL },
		{ "a*.com", SP_CH_SNI_INVALID, NULL },
		{ "*.example.com", SP_CH_SNI_INVALID, NULL },
		{ "a/b", SP_CH_SNI_INVALID, NULL },
		{ "host\xc3\xa9.com", SP_CH_SNI_INVALID, NULL },
		{ "a\\.com", SP_CH_SNI_INVALID, NULL },
		{ "1.2.3.4", SP_CH_SNI_IP, "1.2.3.4" },
		{ "1.2.3.4.", SP_CH_SNI_IP, "1.2.3.4" },
		{ "127.1", SP_CH_SNI_IP, "127.1" },
		{ "2130706433", SP_CH_SNI_IP, "2130706433" },
		{ "0x7F000001", SP_CH_SNI_IP, "0x7f000001" },
		{ "0x7f.0.0.1", SP_CH_SNI_IP, "0x7f.0.0.1" },
		{ "0177.0.0.01", SP_CH_SNI_IP, "0177.0.0.01" },
		{ "999.1.1.1", SP_CH_SNI_IP, "999.1.1.1" },
		{ "example.123", SP_CH_SNI_IP, "example.123" },
		{ "example.0x", SP_CH_SNI_IP, "example.0x" },
		{ "example.0xg", SP_CH_SNI_HOST, "example.0xg" },
		{ "::1", SP_CH_SNI_IP, "::1" },
		{ "[::1]", SP_CH_SNI_IP, "[::1]" },
		{ "FE80::1", SP_CH_SNI_IP, "fe80::1" },
		{ "::ffff:127.0.0.1", SP_CH_SNI_IP, "::ffff:127.0.0.1" },
		{ "[fe80::1%eth0]", SP_CH_SNI_INVALID, NULL },
		{ "host:443", SP_CH_SNI_INVALID, NULL },
	};
	size_t i;
	struct sp_ch *ch = NULL;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bytes e = sni_ext(cases[i].name, strlen(cases[i].name));

		assert_int_equal(parse_exts(e.p, e.n, &ch), 0);
		if (sp_ch_sni_kind(ch) != cases[i].kind)
			fail_msg("%s: kind %d, want %d", cases[i].name,
			    sp_ch_sni_kind(ch), cases[i].kind);
		if (cases[i].want == NULL)
			assert_null(sp_ch_sni(ch));
		else
			assert_string_equal(sp_ch_sni(ch), cases[i].want);
		sp_ch_free(ch);
		free(e.p);
	}

	/* a NUL inside the name */
	{
		struct bytes e = sni_ext("a\0b.com", 7);

		assert_int_equal(parse_exts(e.p, e.n, &ch), 0);
		assert_int_equal(sp_ch_sni_kind(ch), SP_CH_SNI_INVALID);
		sp_ch_free(ch);
		free(e.p);
	}
}

static void
test_sni_lengths(void **state)
{
	char name[300];
	struct sp_ch *ch = NULL;
	struct bytes e;
	size_t i;

	/* a label of 63 is fine, 64 is not */
	memset(name, 'a', 64);
	memcpy(name + 63, ".com", 5);
	e = sni_ext(name, strlen(name));
	assert_int_equal(parse_exts(e.p, e.n, &ch), 0);
	assert_int_equal(sp_ch_sni_kind(ch), SP_CH_SNI_HOST);
	sp_ch_free(ch);
	free(e.p);
	memset(name, 'a', 64);
	memcpy(name + 64, ".com", 5);
	e = sni_ext(name, strlen(name));
	assert_int_equal(parse_exts(e.p, e.n, &ch), 0);
	assert_int_equal(sp_ch_sni_kind(ch), SP_CH_SNI_INVALID);
	sp_ch_free(ch);
	free(e.p);

	/* 253 bytes of name (plus the root dot) are fine, 254 are not */
	for (i = 0; i < 253; i++)
		name[i] = (i % 2) ? '.' : 'A';
	name[253] = '\0';
	e = sni_ext(name, 253);
	assert_int_equal(parse_exts(e.p, e.n, &ch), 0);
	assert_int_equal(sp_ch_sni_kind(ch), SP_CH_SNI_HOST);
	assert_int_equal(strlen(sp_ch_sni(ch)), 253);
	assert_int_equal(sp_ch_sni(ch)[0], 'a');
	sp_ch_free(ch);
	free(e.p);
	name[253] = '.';
	e = sni_ext(name, 254);
	assert_int_equal(parse_exts(e.p, e.n, &ch), 0);
	assert_int_equal(sp_ch_sni_kind(ch), SP_CH_SNI_HOST);
	assert_int_equal(strlen(sp_ch_sni(ch)), 253);
	sp_ch_free(ch);
	free(e.p);
	name[253] = 'b';
	name[254] = 'b';
	e = sni_ext(name, 255);
	assert_int_equal(parse_exts(e.p, e.n, &ch), 0);
	assert_int_equal(sp_ch_sni_kind(ch), SP_CH_SNI_INVALID);
	sp_ch_free(ch);
	free(e.p);
}

static void
test_limits(void **state)
{
	struct hello_spec s;
	struct sp_ch *ch = NULL;
	struct bytes b, e = { NULL, 0 };
	uint8_t *pad = calloc(1, 20000);
	size_t base, fit;

	assert_non_null(pad);
	/* the biggest hello that fits in one record within the limit */
	spec_default(&s);
	b = build(&s);
	base = b.n;                  /* record of a hello without extensions */
	free(b.p);
	fit = SP_CH_MAX_BYTES - base - 4;   /* room for one padding ext */
	put_ext(&e, 21, pad, fit);
	assert_int_equal(parse_exts(e.p, e.n, &ch), 0);
	sp_ch_free(ch);
	free(e.p);
	e.p = NULL;
	e.n = 0;
	put_ext(&e, 21, pad, fit + 1);
	s.exts = NULL;
	assert_int_equal(parse_exts(e.p, e.n, &ch), -EMSGSIZE);
	/* given up on the record header alone */
	spec_default(&s);
	s.exts = e.p;
	s.exts_len = e.n;
	b = build(&s);
	assert_int_equal(b.n, SP_CH_MAX_BYTES + 1);
	assert_int_equal(sp_ch_parse(b.p, 5, &ch), -EMSGSIZE);
	free(b.p);
	free(e.p);

	/* a handshake length past the limit, in a small first record */
	assert_int_equal(sp_ch_parse("\x16\x03\x01\x00\x04\x01\x00\x40\x00",
	    9, &ch), -EMSGSIZE);
	assert_int_equal(sp_ch_parse("\x16\x03\x01\x00\x04\x01\xff\xff\xff",
	    9, &ch), -EMSGSIZE);
	/* and just within it: more is needed */
	assert_int_equal(sp_ch_parse("\x16\x03\x01\x00\x04\x01\x00\x3f\xf7",
	    9, &ch), -EAGAIN);
	/* a handshake header split across records */
	assert_int_equal(sp_ch_parse("\x16\x03\x01\x00\x01\x01"
	    "\x16\x03\x01\x00\x03\x00\x00\x05", 14, &ch), -EBADMSG);
	free(pad);
}

static void
test_strerror(void **state)
{
	static const int codes[] = { 0, -EAGAIN, -ENOMSG, -EPROTONOSUPPORT,
		-EBADMSG, -EMSGSIZE, -ENOMEM, -EINVAL };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_true(strlen(sp_ch_strerror(codes[i])) > 0);
	sp_ch_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_hellos),
		cmocka_unit_test(test_fragmented),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_built_valid),
		cmocka_unit_test(test_malformed_lengths),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_sni_malformed),
		cmocka_unit_test(test_alpn_malformed),
		cmocka_unit_test(test_sni_judge),
		cmocka_unit_test(test_sni_lengths),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
