/* libFuzzer harness for the TLS ClientHello reader (secrets/clienthello.c).
 *
 * Each input is used twice:
 *  1. as the first bytes of a connection to port 443;
 *  2. as the body of a ClientHello, framed by the harness into one
 *     handshake record and again into 1..4 records (the fragment count
 *     from the first byte), so that mutations reach the extension
 *     parsers without having to keep the outer lengths right.
 * Checks: the return code is one of the documented ones; a parsed hello
 * keeps its invariants (SNI normalised and of the allowed characters,
 * ALPN names iterate to the count, length and record count within the
 * limits) and parses the same from exactly its own bytes; every answer is
 * final (a prefix of the input gives -EAGAIN or the same error, and the
 * prefixes of a parsed hello all give -EAGAIN); and the fragmented framing
 * of a body gives the same verdict and fields as the single record. Any
 * mismatch aborts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets/clienthello.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
known_code(int r)
{
	return r == 0 || r == -EAGAIN || r == -ENOMSG ||
	    r == -EPROTONOSUPPORT || r == -EBADMSG || r == -EMSGSIZE;
}

static void
check_invariants(const struct sp_ch *ch, size_t size)
{
	const char *sni = sp_ch_sni(ch);
	size_t i, len, count = 0;

	CHECK(sp_ch_length(ch) <= size);
	CHECK(sp_ch_length(ch) <= SP_CH_MAX_BYTES);
	CHECK(sp_ch_records(ch) >= 1 && sp_ch_records(ch) <= SP_CH_MAX_RECORDS);
	CHECK(sp_ch_legacy_version(ch) >> 8 == 3);
	CHECK(sp_ch_record_version(ch) >= 0x0300 &&
	    sp_ch_record_version(ch) <= 0x0304);
	switch (sp_ch_sni_kind(ch)) {
	case SP_CH_SNI_HOST:
		CHECK(sni != NULL);
		len = strlen(sni);
		CHECK(len >= 1 && len <= SP_CH_NAME_MAX);
		CHECK(sni[0] != '.' && sni[len - 1] != '.');
		CHECK(strstr(sni, "..") == NULL);
		for (i = 0; i < len; i++)
			CHECK((sni[i] >= 'a' && sni[i] <= 'z') ||
			    (sni[i] >= '0' && sni[i] <= '9') ||
			    sni[i] == '-' || sni[i] == '_' || sni[i] == '.');
		break;
	case SP_CH_SNI_IP:
		CHECK(sni != NULL && strlen(sni) >= 1);
		for (i = 0; sni[i] != '\0'; i++)
			CHECK(!(sni[i] >= 'A' && sni[i] <= 'Z'));
		break;
	case SP_CH_SNI_NONE:
	case SP_CH_SNI_INVALID:
		CHECK(sni == NULL);
		break;
	default:
		CHECK(0);
	}
	for (;;) {
		const uint8_t *a = sp_ch_alpn(ch, count, &len);
		char name[256];

		if (a == NULL)
			break;
		CHECK(len >= 1 && len <= 255);
		if (memchr(a, 0, len) == NULL) {
			memcpy(name, a, len);
			name[len] = '\0';
			CHECK(sp_ch_alpn_has(ch, name));
		}
		count++;
	}
	CHECK(count == sp_ch_alpn_count(ch));
}

static void
check_same(const struct sp_ch *a, const struct sp_ch *b)
{
	size_t i, la, lb;

	CHECK(sp_ch_sni_kind(a) == sp_ch_sni_kind(b));
	CHECK((sp_ch_sni(a) == NULL) == (sp_ch_sni(b) == NULL));
	if (sp_ch_sni(a) != NULL)
		CHECK(strcmp(sp_ch_sni(a), sp_ch_sni(b)) == 0);
	CHECK(sp_ch_legacy_version(a) == sp_ch_legacy_version(b));
	CHECK(sp_ch_alpn_count(a) == sp_ch_alpn_count(b));
	for (i = 0; i < sp_ch_alpn_count(a); i++) {
		const uint8_t *pa = sp_ch_alpn(a, i, &la);
		const uint8_t *pb = sp_ch_alpn(b, i, &lb);

		CHECK(la == lb && memcmp(pa, pb, la) == 0);
	}
}

/* Parses data and checks everything that holds for any input; returns
 * the code and the hello (or NULL). */
static int
parse_checked(const uint8_t *data, size_t size, struct sp_ch **ret_ch)
{
	struct sp_ch *ch = NULL, *again = NULL;
	size_t k, step;
	int r, rk;

	r = sp_ch_parse(data, size, &ch);
	CHECK(known_code(r));
	CHECK((r == 0) == (ch != NULL));
	if (r == 0) {
		check_invariants(ch, size);
		CHECK(sp_ch_parse(data, sp_ch_length(ch), &again) == 0);
		check_same(ch, again);
		CHECK(sp_ch_length(again) == sp_ch_length(ch));
		CHECK(sp_ch_records(again) == sp_ch_records(ch));
		sp_ch_free(again);
	}
	/* every answer is final: look at prefixes (all of them for small
	 * inputs, a sample for big ones) */
	step = size <= 600 ? 1 : size / 97 + 1;
	for (k = 0; k < size; k += step) {
		struct sp_ch *pch = NULL;
		size_t end = r == 0 ? sp_ch_length(ch) : size;

		if (k >= end)
			break;
		rk = sp_ch_parse(data, k, &pch);
		if (r == 0 || r == -EAGAIN)
			CHECK(rk == -EAGAIN);
		else
			CHECK(rk == -EAGAIN || rk == r);
		CHECK(pch == NULL);
	}
	*ret_ch = ch;
	return r;
}

/* Frames body as a ClientHello in nrec records of about equal size. */
static size_t
frame(const uint8_t *body, size_t blen, unsigned nrec, uint8_t *out)
{
	uint8_t hs[SP_CH_MAX_BYTES];
	size_t hlen = 4 + blen, off = 0, o = 0, per;
	unsigned i;

	hs[0] = 1;
	hs[1] = (uint8_t)(blen >> 16);
	hs[2] = (uint8_t)(blen >> 8);
	hs[3] = (uint8_t)blen;
	memcpy(hs + 4, body, blen);
	if (nrec > hlen)
		nrec = (unsigned)hlen;
	per = hlen / nrec;
	for (i = 0; i < nrec; i++) {
		size_t len = i + 1 == nrec ? hlen - off : per;

		out[o++] = 0x16;
		out[o++] = 0x03;
		out[o++] = 0x01;
		out[o++] = (uint8_t)(len >> 8);
		out[o++] = (uint8_t)len;
		memcpy(out + o, hs + off, len);
		o += len;
		off += len;
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t one[SP_CH_MAX_BYTES + 64], many[SP_CH_MAX_BYTES + 64];
	struct sp_ch *ch = NULL, *ch1 = NULL, *chn = NULL;
	size_t n1, nn;
	unsigned nrec;
	int r1, rn;

	/* 1. the stream as the guest sends it */
	parse_checked(data, size, &ch);
	sp_ch_free(ch);

	/* 2. the input as a ClientHello body */
	if (size < 1 || size > SP_CH_MAX_BYTES - 4 * 5 - 4)
		return 0;
	nrec = 1 + data[0] % SP_CH_MAX_RECORDS;
	n1 = frame(data, size, 1, one);
	nn = frame(data, size, nrec, many);
	r1 = parse_checked(one, n1, &ch1);
	rn = parse_checked(many, nn, &chn);
	CHECK(r1 == rn);
	CHECK(r1 != -EAGAIN && r1 != -ENOMSG && r1 != -EPROTONOSUPPORT);
	if (r1 == 0) {
		check_same(ch1, chn);
		CHECK(sp_ch_records(ch1) == 1);
		CHECK(sp_ch_length(ch1) == n1);
		CHECK(sp_ch_length(chn) == nn);
	}
	sp_ch_free(ch1);
	sp_ch_free(chn);
	return 0;
}
