/* sg_b64: base64 codecs. See base64.h. */
#include "config.h"

#include "common/base64.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
sg_b64_value(uint8_t c, unsigned alphabets)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if ((c == '+' && (alphabets & SG_B64_STD)) ||
	    (c == '-' && (alphabets & SG_B64_URL)))
		return 62;
	if ((c == '/' && (alphabets & SG_B64_STD)) ||
	    (c == '_' && (alphabets & SG_B64_URL)))
		return 63;
	return -1;
}

int
sg_b64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len)
{
	uint8_t *out = NULL;
	size_t pad = 0, i, o = 0, olen;

	if (s == NULL || len == 0 || len % 4 != 0)
		return -EINVAL;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	olen = len / 4 * 3 - pad;
	out = malloc(olen ? olen : 1);
	if (out == NULL)
		return -ENOMEM;
	for (i = 0; i < len; i += 4) {
		int v[4], k, last = i + 4 == len;
		uint32_t w;

		for (k = 0; k < 4; k++) {
			if (last && s[i + k] == '=' && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = sg_b64_value((uint8_t)s[i + k], SG_B64_STD)) < 0)
				goto bad;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* non-canonical: bits set that the padding drops */
		if (last && ((pad == 2 && (w & 0xffff) != 0) ||
		    (pad == 1 && (w & 0xff) != 0)))
			goto bad;
		out[o++] = (uint8_t)(w >> 16);
		if (!(last && pad == 2))
			out[o++] = (uint8_t)(w >> 8);
		if (!(last && pad >= 1))
			out[o++] = (uint8_t)w;
	}
	*ret = out;
	*ret_len = olen;
	return 0;
bad:
	explicit_bzero(out, olen ? olen : 1);	/* it may have held a credential */
	free(out);
	return -EINVAL;
}

/* The (up to) three bytes at b[i..n) as one 24-bit group. */
static uint32_t
group(const uint8_t *b, size_t i, size_t n)
{
	uint32_t w = (uint32_t)b[i] << 16;

	if (i + 1 < n)
		w |= (uint32_t)b[i + 1] << 8;
	if (i + 2 < n)
		w |= b[i + 2];
	return w;
}

int
sg_b64_encode(struct sg_buf *out, const void *p, size_t n)
{
	const uint8_t *b = p;
	char q[4];
	uint32_t w;
	size_t i;

	for (i = 0; i < n; i += 3) {
		w = group(b, i, n);
		q[0] = std_alphabet[w >> 18 & 63];
		q[1] = std_alphabet[w >> 12 & 63];
		q[2] = i + 1 < n ? std_alphabet[w >> 6 & 63] : '=';
		q[3] = i + 2 < n ? std_alphabet[w & 63] : '=';
		if (sg_buf_put(out, q, 4) < 0)
			return -ENOBUFS;
	}
	return 0;
}

int
sg_b64url_encode(const void *p, size_t n, char *out, size_t out_size)
{
	const uint8_t *b = p;
	size_t i, o = 0;
	uint32_t w;

	if (n > SIZE_MAX / 2 || out_size < SG_B64URL_LEN(n) + 1)
		return -ENOBUFS;
	for (i = 0; i < n; i += 3) {
		w = group(b, i, n);
		out[o++] = url_alphabet[w >> 18 & 63];
		out[o++] = url_alphabet[w >> 12 & 63];
		if (i + 1 < n)
			out[o++] = url_alphabet[w >> 6 & 63];
		if (i + 2 < n)
			out[o++] = url_alphabet[w & 63];
	}
	out[o] = '\0';
	return 0;
}
