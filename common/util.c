/* sg_util: durations, integers, constant-time compare, hex, random
 * bytes. See util.h (base64 is common/base64.h). */
#include "common/util.h"
#include "common/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Reads the leading decimal digits of s into *ret and returns a pointer
 * to the first non-digit, or NULL when there is no digit, a leading zero
 * before another digit, or the value passes limit. */
static const char *parse_digits(const char *s, uint64_t limit, uint64_t *ret, int *ret_range)
{
	uint64_t v = 0;
	const char *p = s;

	*ret_range = 0;
	if (*p < '0' || *p > '9')
		return NULL;
	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (limit - d) / 10) {
			*ret_range = 1;
			/* keep scanning so "99999999999999999999x" is still
			 * reported as malformed, not as out of range */
			while (p[1] >= '0' && p[1] <= '9')
				p++;
			v = limit;
			continue;
		}
		v = v * 10 + d;
	}
	*ret = v;
	return p;
}

int sg_util_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v;
	int range;
	const char *end;

	if (!s)
		return -EINVAL;
	end = parse_digits(s, UINT64_MAX, &v, &range);
	if (!end || *end != '\0')
		return -EINVAL;
	if (range || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int sg_util_parse_duration(const char *s, uint64_t *ret_seconds)
{
	uint64_t v, mult = 1;
	int range;
	const char *end;

	if (!s)
		return -EINVAL;
	end = parse_digits(s, UINT64_MAX, &v, &range);
	if (!end)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 's':
		end++;
		break;
	case 'm':
		mult = 60;
		end++;
		break;
	case 'h':
		mult = 3600;
		end++;
		break;
	case 'd':
		mult = 86400;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end != '\0')
		return -EINVAL;
	if (range || v > SG_UTIL_DURATION_MAX / mult)
		return -ERANGE;
	*ret_seconds = v * mult;
	return 0;
}

int sg_util_format_duration(uint64_t seconds, char *buf, size_t size)
{
	int n;

	if (seconds != 0 && seconds % 86400 == 0)
		n = snprintf(buf, size, "%llud", (unsigned long long)(seconds / 86400));
	else if (seconds != 0 && seconds % 3600 == 0)
		n = snprintf(buf, size, "%lluh", (unsigned long long)(seconds / 3600));
	else if (seconds != 0 && seconds % 60 == 0)
		n = snprintf(buf, size, "%llum", (unsigned long long)(seconds / 60));
	else
		n = snprintf(buf, size, "%llus", (unsigned long long)seconds);
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	return 0;
}

int sg_util_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= (uint8_t)(x[i] ^ y[i]);
	/* (acc - 1) >> 8 is all ones exactly when acc == 0 */
	return (int)((((unsigned)acc - 1) >> 8) & 1);
}

int sg_util_hex_encode(const void *p, size_t n, char *out, size_t out_size)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = p;
	size_t i;

	if (n > (SIZE_MAX - 1) / 2 || out_size < 2 * n + 1)
		return -ENOBUFS;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[2 * n] = '\0';
	return 0;
}

int sg_util_hex_decode(const char *s, void *out, size_t n)
{
	uint8_t *b = out;
	size_t i;

	if (!s || strlen(s) != 2 * n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		int hi = sg_hexval((uint8_t)s[2 * i]), lo = sg_hexval((uint8_t)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int sg_util_random(void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}
