/* sg_buf: one bounded, growable byte buffer for every network read.
 *
 * Every buffer has a hard maximum fixed by its owner; an append or read
 * that would pass it fails with -ENOBUFS and leaves the buffer unchanged.
 * Consumed bytes are dropped from the head without copying until the next
 * growth compacts the buffer. */
#ifndef SG_BUF_H
#define SG_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sg_buf;

/* Returns a new empty buffer that never holds more than max bytes,
 * or NULL when out of memory. */
struct sg_buf *sg_buf_new(size_t max);
/* Frees b; NULL is accepted. The memory is wiped first when wipe is set
 * with sg_buf_set_wipe (buffers that carried secrets). */
void sg_buf_free(struct sg_buf *b);
void sg_buf_set_wipe(struct sg_buf *b, int wipe);

size_t sg_buf_len(const struct sg_buf *b);
size_t sg_buf_max(const struct sg_buf *b);
/* Room left before the hard maximum. */
size_t sg_buf_room(const struct sg_buf *b);
const uint8_t *sg_buf_data(const struct sg_buf *b);

int sg_buf_put(struct sg_buf *b, const void *p, size_t n);
int sg_buf_put_u8(struct sg_buf *b, uint8_t v);
int sg_buf_put_u16(struct sg_buf *b, uint16_t v);   /* big-endian */
int sg_buf_put_u32(struct sg_buf *b, uint32_t v);   /* big-endian */
int sg_buf_put_u64(struct sg_buf *b, uint64_t v);   /* big-endian */
/* Appends a printf-style string (no NUL); -ENOBUFS past the maximum. */
int sg_buf_putf(struct sg_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Makes room for n more bytes and returns where they go in *ret_p;
 * sg_buf_commit() then adds the bytes actually written. */
int sg_buf_reserve(struct sg_buf *b, size_t n, uint8_t **ret_p);
void sg_buf_commit(struct sg_buf *b, size_t n);
/* Drops n bytes (at most the length) from the head. */
void sg_buf_consume(struct sg_buf *b, size_t n);
/* Keeps the first len bytes (all when len is the length or more); the
 * bytes dropped are wiped when the buffer wipes. */
void sg_buf_truncate(struct sg_buf *b, size_t len);
void sg_buf_reset(struct sg_buf *b);
/* Overwrites a big-endian u32 already in the buffer at offset off. */
int sg_buf_poke_u32(struct sg_buf *b, size_t off, uint32_t v);

/* Reads once from fd into the buffer, at most the room left and at most
 * limit bytes (0: no extra limit). Returns the byte count, 0 at end of
 * file, -EAGAIN when nothing is ready, -ENOBUFS when full, or -errno. */
ssize_t sg_buf_read_fd(struct sg_buf *b, int fd, size_t limit);
/* Writes as much of the buffer as fd takes and consumes it. Returns bytes
 * written (0 if the buffer was empty), -EAGAIN if fd took nothing, or
 * -errno. */
ssize_t sg_buf_write_fd(struct sg_buf *b, int fd);

/* A read cursor over bytes owned by someone else. Every get fails (and
 * sets err) once the bytes run out; callers check err once at the end. */
struct sg_cur {
	const uint8_t *p;
	size_t n;
	int err;
};
void sg_cur_init(struct sg_cur *c, const void *p, size_t n);
uint8_t sg_cur_u8(struct sg_cur *c);
uint16_t sg_cur_u16(struct sg_cur *c);
uint32_t sg_cur_u32(struct sg_cur *c);
uint64_t sg_cur_u64(struct sg_cur *c);
/* Returns a pointer to the next n bytes and skips them, or NULL. */
const uint8_t *sg_cur_bytes(struct sg_cur *c, size_t n);

#endif
