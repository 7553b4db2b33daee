/* leakcheck: see leakcheck.h. Plain, slow, whole-buffer code. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tests/tools/leakcheck.h"

static int
hexv(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t
put_utf8(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* view 0 plain, 1 percent, 2 form, 3 json, 4 html: o gets at most 4n
 * bytes, rl[i] the length of the raw text output byte i came from */
static size_t
decode(int view, const uint8_t *s, size_t n, uint8_t *o, uint8_t *rl)
{
	size_t i = 0, k = 0, j, i0, k0, m;
	uint32_t cp, lo;
	int a, b, ok;

	while (i < n) {
		uint8_t c = s[i];

		i0 = i;
		k0 = k;
		if ((view == 1 || view == 2) && c == '%' && i + 2 < n &&
		    (a = hexv(s[i + 1])) >= 0 && (b = hexv(s[i + 2])) >= 0) {
			o[k++] = (uint8_t)(a << 4 | b);
			i += 3;
			goto next;
		}
		if (view == 2 && c == '+') {
			o[k++] = ' ';
			i++;
			goto next;
		}
		if (view == 3 && c == '\\' && i + 1 < n) {
			uint8_t e = s[i + 1];

			if (e == 'u') {
				ok = i + 6 <= n;
				cp = 0;
				for (j = 2; ok && j < 6; j++) {
					a = hexv(s[i + j]);
					if (a < 0)
						ok = 0;
					else
						cp = cp << 4 | (uint32_t)a;
				}
				if (!ok) {
					/* not \uXXXX: the backslash goes */
					i++;
					goto next;
				}
				i += 6;
				if (cp >= 0xd800 && cp <= 0xdbff && i + 6 <= n &&
				    s[i] == '\\' && s[i + 1] == 'u') {
					lo = 0;
					ok = 1;
					for (j = 2; ok && j < 6; j++) {
						a = hexv(s[i + j]);
						if (a < 0)
							ok = 0;
						else
							lo = lo << 4 | (uint32_t)a;
					}
					if (ok && lo >= 0xdc00 && lo <= 0xdfff) {
						i += 6;
						k += put_utf8(o + k, 0x10000 +
						    ((cp - 0xd800) << 10) +
						    (lo - 0xdc00));
						goto next;
					}
				}
				/* a lone surrogate is U+FFFD */
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0xfffd;
				k += put_utf8(o + k, cp);
				goto next;
			}
			switch (e) {
			case 'b': o[k++] = '\b'; break;
			case 'f': o[k++] = '\f'; break;
			case 'n': o[k++] = '\n'; break;
			case 'r': o[k++] = '\r'; break;
			case 't': o[k++] = '\t'; break;
			default: o[k++] = e; break;
			}
			i += 2;
			goto next;
		}
		if (view == 4 && c == '&') {
			const uint8_t *semi = memchr(s + i, ';', n - i < 12 ?
			    n - i : 12);

			if (semi != NULL) {
				size_t len = (size_t)(semi - (s + i)) - 1;
				const uint8_t *t = s + i + 1;

				cp = 0;
				ok = len > 0;
				if (ok && t[0] == '#' && len > 1 &&
				    (t[1] == 'x' || t[1] == 'X')) {
					for (j = 2; ok && j < len; j++) {
						a = hexv(t[j]);
						ok = a >= 0 && len > 2;
						cp = cp << 4 | (uint32_t)(a & 15);
					}
				} else if (ok && t[0] == '#') {
					for (j = 1; ok && j < len; j++) {
						ok = t[j] >= '0' && t[j] <= '9';
						cp = cp * 10 + (uint32_t)(t[j] - '0');
					}
					ok = ok && len > 1;
				} else if (len == 3 && !memcmp(t, "amp", 3)) {
					cp = '&';
				} else if (len == 2 && !memcmp(t, "lt", 2)) {
					cp = '<';
				} else if (len == 2 && !memcmp(t, "gt", 2)) {
					cp = '>';
				} else if (len == 4 && !memcmp(t, "quot", 4)) {
					cp = '"';
				} else if (len == 4 && !memcmp(t, "apos", 4)) {
					cp = '\'';
				} else {
					ok = 0;
				}
				if (ok && cp > 0 && cp <= 0x10ffff &&
				    !(cp >= 0xd800 && cp <= 0xdfff)) {
					k += put_utf8(o + k, cp);
					i += len + 2;
					goto next;
				}
			}
		}
		o[k++] = c;
		i++;
next:
		for (m = k0; m < k; m++)
			rl[m] = (uint8_t)(i - i0 < 255 ? i - i0 : 255);
	}
	return k;
}

/* Drops the first two bytes of each run of CR/LF, those of at most 3
 * raw bytes (a CR, an LF, "\\n", "%0A"; not "&#10;"), in place. */
static size_t
strip_crlf(uint8_t *s, const uint8_t *rl, size_t n)
{
	size_t i, k = 0, run = 0;

	for (i = 0; i < n; i++) {
		if ((s[i] == '\r' || s[i] == '\n') && rl[i] <= 3) {
			if (run++ < 2)
				continue;
		} else {
			run = 0;
		}
		s[k++] = s[i];
	}
	return k;
}

/* A base64 character's value in the standard (url 0) or the URL-safe
 * alphabet (url 1), or -1. */
static int
b64v(uint8_t c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

static int
mem_has(const uint8_t *h, size_t hn, const uint8_t *nd, size_t nn)
{
	size_t i;

	if (nn == 0 || hn < nn)
		return 0;
	for (i = 0; i + nn <= hn; i++)
		if (h[i] == nd[0] && memcmp(h + i, nd, nn) == 0)
			return 1;
	return 0;
}

/* Every run of base64 characters of one alphabet decoded at each
 * phase. */
static int
b64_has(const uint8_t *s, size_t n, const uint8_t *v, size_t vlen,
    uint8_t *tmp, int url)
{
	size_t i = 0, j, k, ph;
	uint32_t acc;
	int bits, x;

	while (i < n) {
		if (b64v(s[i], url) < 0) {
			i++;
			continue;
		}
		j = i;
		while (j < n && b64v(s[j], url) >= 0)
			j++;
		for (ph = 0; ph < 4 && i + ph < j; ph++) {
			acc = 0;
			bits = 0;
			k = 0;
			for (x = (int)(i + ph); x < (int)j; x++) {
				acc = (acc << 6 | (uint32_t)b64v(s[x], url)) &
				    0xffffff;
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					tmp[k++] = (uint8_t)(acc >> bits);
				}
			}
			if (mem_has(tmp, k, v, vlen))
				return 1;
		}
		i = j;
	}
	return 0;
}

int
lc_leaks(const uint8_t *out, size_t n, const uint8_t *value, size_t vlen,
    const char **ret_how)
{
	static const char *const raw_how[] = { "plain", "percent", "form",
	    "json", "html" };
	static const char *const b64_how[] = { "plain base64",
	    "percent base64", "form base64", "json base64", "html base64" };
	uint8_t *d, *tmp, *rl;
	size_t dn;
	int view, r = 0;

	d = malloc(4 * n + 8);
	tmp = malloc(4 * n + 8);
	rl = malloc(4 * n + 8);
	if (d == NULL || tmp == NULL || rl == NULL) {
		free(d);
		free(tmp);
		free(rl);
		return -1;
	}
	for (view = 0; view < 5 && r == 0; view++) {
		dn = strip_crlf(d, rl, decode(view, out, n, d, rl));
		if (mem_has(d, dn, value, vlen)) {
			r = 1;
			if (ret_how != NULL)
				*ret_how = raw_how[view];
		} else if (b64_has(d, dn, value, vlen, tmp, 0) ||
		    b64_has(d, dn, value, vlen, tmp, 1)) {
			r = 1;
			if (ret_how != NULL)
				*ret_how = b64_how[view];
		}
	}
	free(d);
	free(tmp);
	free(rl);
	return r;
}
