/* sg_buf: bounded byte buffer, see buf.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"

struct sg_buf {
	uint8_t *mem;
	size_t off;	/* start of live bytes */
	size_t len;	/* live bytes */
	size_t cap;	/* allocated */
	size_t max;	/* hard maximum of live bytes */
	int wipe;
};

struct sg_buf *
sg_buf_new(size_t max)
{
	struct sg_buf *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->max = max;
	return b;
}

void
sg_buf_free(struct sg_buf *b)
{
	if (b == NULL)
		return;
	if (b->wipe && b->mem != NULL)
		explicit_bzero(b->mem, b->cap);
	free(b->mem);
	free(b);
}

void sg_buf_set_wipe(struct sg_buf *b, int wipe) { b->wipe = wipe; }
size_t sg_buf_len(const struct sg_buf *b) { return b->len; }
size_t sg_buf_max(const struct sg_buf *b) { return b->max; }
size_t sg_buf_room(const struct sg_buf *b) { return b->max - b->len; }
const uint8_t *sg_buf_data(const struct sg_buf *b)
{
	return b->mem == NULL ? (const uint8_t *)"" : b->mem + b->off;
}

int
sg_buf_reserve(struct sg_buf *b, size_t n, uint8_t **ret_p)
{
	uint8_t *nm;
	size_t ncap;

	if (n > b->max - b->len)
		return -ENOBUFS;
	if (b->off + b->len + n <= b->cap) {
		*ret_p = b->mem + b->off + b->len;
		return 0;
	}
	if (b->len + n <= b->cap && b->off > 0) {
		memmove(b->mem, b->mem + b->off, b->len);
		b->off = 0;
		*ret_p = b->mem + b->len;
		return 0;
	}
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + n)
		ncap *= 2;
	if (ncap > b->max)
		ncap = b->max;
	nm = malloc(ncap);
	if (nm == NULL)
		return -ENOMEM;
	if (b->len > 0)
		memcpy(nm, b->mem + b->off, b->len);
	if (b->mem != NULL) {
		if (b->wipe)
			explicit_bzero(b->mem, b->cap);
		free(b->mem);
	}
	b->mem = nm;
	b->cap = ncap;
	b->off = 0;
	*ret_p = b->mem + b->len;
	return 0;
}

void
sg_buf_commit(struct sg_buf *b, size_t n)
{
	if (n > b->cap - b->off - b->len)
		abort();	/* caller wrote past what it reserved */
	b->len += n;
}

int
sg_buf_put(struct sg_buf *b, const void *p, size_t n)
{
	uint8_t *dst;
	int r;

	if (n == 0)
		return 0;
	r = sg_buf_reserve(b, n, &dst);
	if (r < 0)
		return r;
	memcpy(dst, p, n);
	b->len += n;
	return 0;
}

int sg_buf_put_u8(struct sg_buf *b, uint8_t v) { return sg_buf_put(b, &v, 1); }

int
sg_buf_put_u16(struct sg_buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	return sg_buf_put(b, x, sizeof(x));
}

int
sg_buf_put_u32(struct sg_buf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	return sg_buf_put(b, x, sizeof(x));
}

int
sg_buf_put_u64(struct sg_buf *b, uint64_t v)
{
	int r = sg_buf_put_u32(b, (uint32_t)(v >> 32));

	return r < 0 ? r : sg_buf_put_u32(b, (uint32_t)v);
}

int
sg_buf_putf(struct sg_buf *b, const char *fmt, ...)
{
	char small[256], *big = NULL;
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return sg_buf_put(b, small, (size_t)n);
	if ((size_t)n > b->max - b->len)
		return -ENOBUFS;
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r = sg_buf_put(b, big, (size_t)n);
	free(big);
	return r;
}

int
sg_buf_poke_u32(struct sg_buf *b, size_t off, uint32_t v)
{
	uint8_t *p;

	if (off > b->len || b->len - off < 4)
		return -EINVAL;
	p = b->mem + b->off + off;
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 0;
}

void
sg_buf_consume(struct sg_buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = 0;
		b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

void
sg_buf_truncate(struct sg_buf *b, size_t len)
{
	if (len >= b->len)
		return;
	if (b->wipe)
		explicit_bzero(b->mem + b->off + len, b->len - len);
	b->len = len;
}

void
sg_buf_reset(struct sg_buf *b)
{
	b->off = 0;
	b->len = 0;
}

ssize_t
sg_buf_read_fd(struct sg_buf *b, int fd, size_t limit)
{
	size_t want = b->max - b->len;
	uint8_t *dst;
	ssize_t n;
	int r;

	if (limit != 0 && limit < want)
		want = limit;
	if (want > 65536)
		want = 65536;
	if (want == 0)
		return -ENOBUFS;
	r = sg_buf_reserve(b, want, &dst);
	if (r < 0)
		return r;
	do {
		n = read(fd, dst, want);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	b->len += (size_t)n;
	return n;
}

ssize_t
sg_buf_write_fd(struct sg_buf *b, int fd)
{
	ssize_t n;

	if (b->len == 0)
		return 0;
	do {
		n = write(fd, b->mem + b->off, b->len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	sg_buf_consume(b, (size_t)n);
	return n;
}

void
sg_cur_init(struct sg_cur *c, const void *p, size_t n)
{
	c->p = p;
	c->n = n;
	c->err = 0;
}

const uint8_t *
sg_cur_bytes(struct sg_cur *c, size_t n)
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

uint8_t
sg_cur_u8(struct sg_cur *c)
{
	const uint8_t *p = sg_cur_bytes(c, 1);

	return p ? p[0] : 0;
}

uint16_t
sg_cur_u16(struct sg_cur *c)
{
	const uint8_t *p = sg_cur_bytes(c, 2);

	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t
sg_cur_u32(struct sg_cur *c)
{
	const uint8_t *p = sg_cur_bytes(c, 4);

	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3] : 0;
}

uint64_t
sg_cur_u64(struct sg_cur *c)
{
	uint64_t hi = sg_cur_u32(c);

	return hi << 32 | sg_cur_u32(c);
}
