/* sg_util: durations, integers, constant-time compare, hex, random
 * bytes. See util.h (base64 is common/base64.h). */
#include "common/util.h"
#include "common/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

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

/* The units of a duration, largest first: a composite duration uses them
 * in this order, each at most once. */
static const struct {
	char unit;
	uint64_t seconds;
} duration_units[] = {
	{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
};
#define N_DURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

/* Returns the index of unit ch among duration_units[from..], or -1 when ch
 * is no unit or not smaller than the units already used. */
static int duration_unit(char ch, size_t from)
{
	size_t i;

	for (i = from; i < N_DURATION_UNITS; i++)
		if (duration_units[i].unit == ch)
			return (int)i;
	return -1;
}

int sg_util_parse_duration(const char *s, uint64_t *ret_seconds)
{
	uint64_t total = 0, v, mult;
	size_t next = 0;
	int range, over = 0, u;
	const char *p = s, *end;

	if (!s)
		return -EINVAL;
	do {
		end = parse_digits(p, UINT64_MAX, &v, &range);
		if (!end)
			return -EINVAL;
		if (*end == '\0') {
			/* a bare number is seconds, but only as the whole
			 * string: "1h30" is more likely a slip than 1h30s */
			if (p != s)
				return -EINVAL;
			mult = 1;
		} else {
			u = duration_unit(*end, next);
			if (u < 0)
				return -EINVAL;
			mult = duration_units[u].seconds;
			next = (size_t)u + 1;
			end++;
		}
		/* keep scanning after an overflow: a malformed string is
		 * -EINVAL even when it also overflows */
		if (range || v > SG_UTIL_DURATION_MAX / mult ||
		    v * mult > SG_UTIL_DURATION_MAX - total)
			over = 1;
		else
			total += v * mult;
		p = end;
	} while (*p != '\0');
	if (over)
		return -ERANGE;
	*ret_seconds = total;
	return 0;
}

int sg_util_format_duration(uint64_t seconds, char *buf, size_t size)
{
	size_t off = 0, i;
	uint64_t q;
	int n;

	if (seconds == 0) {
		n = snprintf(buf, size, "0s");
		return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
	}
	for (i = 0; i < N_DURATION_UNITS; i++) {
		q = seconds / duration_units[i].seconds;
		if (q == 0)
			continue;
		seconds %= duration_units[i].seconds;
		n = snprintf(buf + off, size - off, "%llu%c", (unsigned long long)q,
			     duration_units[i].unit);
		if (n < 0 || (size_t)n >= size - off)
			return -ENOBUFS;
		off += (size_t)n;
	}
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

int
sg_util_parent_dir(const char *path, char *out, size_t size)
{
	const char *sl = strrchr(path, '/');

	if (sl == NULL || (size_t)(sl - path) >= size)
		return -EINVAL;
	if (sl == path)
		snprintf(out, size, "/");
	else
		snprintf(out, size, "%.*s", (int)(sl - path), path);
	return 0;
}

int
sg_util_read_small(const char *path, size_t max, char **ret, char **ret_err)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sg_fail(ret_err, -errno, "cannot read %s: %s", path,
		    strerror(errno));
	buf = malloc(max + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, buf + len, max + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > max)
			break;
	}
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r == 0 && len > max)
		r = -EFBIG;
	if (r < 0) {
		explicit_bzero(buf, len);
		free(buf);
		return sg_fail(ret_err, r, "cannot read %s: %s", path,
		    r == -EFBIG ? "larger than the limit" : strerror(-r));
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}
