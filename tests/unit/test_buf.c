/* Unit tests for common/buf.c: the hard maximum, -ENOBUFS leaving the
 * buffer unchanged, consume and compaction, fd reads and writes, and the
 * read cursor. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"

static void
pattern(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void
test_new_empty(void **state)
{
	struct sg_buf *b = sg_buf_new(100);

	assert_non_null(b);
	assert_int_equal(sg_buf_len(b), 0);
	assert_int_equal(sg_buf_max(b), 100);
	assert_int_equal(sg_buf_room(b), 100);
	assert_non_null(sg_buf_data(b));
	sg_buf_free(b);
	sg_buf_free(NULL);
}

static void
test_max_enobufs(void **state)
{
	struct sg_buf *b = sg_buf_new(10);
	uint8_t *p;

	assert_int_equal(sg_buf_put(b, "0123456", 7), 0);
	assert_int_equal(sg_buf_put(b, "abcd", 4), -ENOBUFS);
	assert_int_equal(sg_buf_len(b), 7);
	assert_memory_equal(sg_buf_data(b), "0123456", 7);
	assert_int_equal(sg_buf_put_u32(b, 1), -ENOBUFS);
	assert_int_equal(sg_buf_put_u64(b, 1), -ENOBUFS);
	assert_int_equal(sg_buf_reserve(b, 4, &p), -ENOBUFS);
	assert_int_equal(sg_buf_len(b), 7);
	assert_int_equal(sg_buf_put(b, "abc", 3), 0);
	assert_int_equal(sg_buf_room(b), 0);
	assert_int_equal(sg_buf_put_u8(b, 1), -ENOBUFS);
	assert_int_equal(sg_buf_put(b, "", 0), 0);	/* nothing is fine */
	assert_memory_equal(sg_buf_data(b), "0123456abc", 10);
	sg_buf_free(b);

	/* a zero maximum holds nothing */
	b = sg_buf_new(0);
	assert_int_equal(sg_buf_put_u8(b, 1), -ENOBUFS);
	assert_int_equal(sg_buf_len(b), 0);
	sg_buf_free(b);
}

static void
test_big_endian(void **state)
{
	struct sg_buf *b = sg_buf_new(64);
	struct sg_cur c;

	assert_int_equal(sg_buf_put_u8(b, 0x01), 0);
	assert_int_equal(sg_buf_put_u16(b, 0x0203), 0);
	assert_int_equal(sg_buf_put_u32(b, 0x04050607), 0);
	assert_int_equal(sg_buf_put_u64(b, 0x08090a0b0c0d0e0fULL), 0);
	assert_memory_equal(sg_buf_data(b),
	    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 15);
	assert_int_equal(sg_buf_poke_u32(b, 3, 0xdeadbeef), 0);
	assert_memory_equal(sg_buf_data(b) + 3, "\xde\xad\xbe\xef", 4);
	assert_int_equal(sg_buf_poke_u32(b, 12, 0), -EINVAL);
	assert_int_equal(sg_buf_poke_u32(b, 100, 0), -EINVAL);

	sg_cur_init(&c, sg_buf_data(b), sg_buf_len(b));
	assert_int_equal(sg_cur_u8(&c), 0x01);
	assert_int_equal(sg_cur_u16(&c), 0x0203);
	assert_int_equal(sg_cur_u32(&c), 0xdeadbeef);
	assert_true(sg_cur_u64(&c) == 0x08090a0b0c0d0e0fULL);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.n, 0);
	sg_buf_free(b);
}

static void
test_cursor_sticky_error(void **state)
{
	static const uint8_t d[5] = { 1, 2, 3, 4, 5 };
	struct sg_cur c;

	sg_cur_init(&c, d, sizeof(d));
	assert_int_equal(sg_cur_u32(&c), 0x01020304);
	assert_int_equal(sg_cur_u16(&c), 0);	/* only one byte left */
	assert_int_equal(c.err, 1);
	/* once failed, even a fitting read fails */
	assert_int_equal(sg_cur_u8(&c), 0);
	assert_null(sg_cur_bytes(&c, 0));
	assert_int_equal(c.err, 1);

	sg_cur_init(&c, d, sizeof(d));
	assert_non_null(sg_cur_bytes(&c, 5));
	assert_non_null(sg_cur_bytes(&c, 0));
	assert_null(sg_cur_bytes(&c, 1));
	sg_cur_init(&c, d, 3);
	assert_true(sg_cur_u64(&c) == 0);
	assert_int_equal(c.err, 1);
	sg_cur_init(&c, d, 2);
	assert_null(sg_cur_bytes(&c, SIZE_MAX));
	assert_int_equal(c.err, 1);
}

static void
test_consume_reset(void **state)
{
	struct sg_buf *b = sg_buf_new(100);
	const uint8_t *before;

	assert_int_equal(sg_buf_put(b, "hello world", 11), 0);
	before = sg_buf_data(b);
	sg_buf_consume(b, 6);
	assert_int_equal(sg_buf_len(b), 5);
	/* consuming does not copy */
	assert_ptr_equal(sg_buf_data(b), before + 6);
	assert_memory_equal(sg_buf_data(b), "world", 5);
	assert_int_equal(sg_buf_room(b), 95);
	sg_buf_consume(b, 0);
	assert_int_equal(sg_buf_len(b), 5);
	sg_buf_consume(b, 1000);	/* at most the length */
	assert_int_equal(sg_buf_len(b), 0);
	assert_int_equal(sg_buf_put(b, "again", 5), 0);
	assert_memory_equal(sg_buf_data(b), "again", 5);
	sg_buf_reset(b);
	assert_int_equal(sg_buf_len(b), 0);
	assert_int_equal(sg_buf_room(b), 100);
	/* truncate keeps the head, after a consume too, and wipes the rest */
	sg_buf_set_wipe(b, 1);
	assert_int_equal(sg_buf_put(b, "xxhello world", 13), 0);
	sg_buf_consume(b, 2);
	sg_buf_truncate(b, 5);
	assert_int_equal(sg_buf_len(b), 5);
	assert_memory_equal(sg_buf_data(b), "hello", 5);
	assert_memory_equal(sg_buf_data(b) + 5, "\0\0\0\0\0\0", 6);
	sg_buf_truncate(b, 50);		/* longer than it is: unchanged */
	assert_int_equal(sg_buf_len(b), 5);
	assert_int_equal(sg_buf_put(b, "!", 1), 0);
	assert_memory_equal(sg_buf_data(b), "hello!", 6);
	sg_buf_free(b);
}

/* Consumed head space is reused (the live bytes move to the front) before
 * the buffer grows, and the contents survive both moves. */
static void
test_compact_and_grow(void **state)
{
	struct sg_buf *b = sg_buf_new(4096);
	uint8_t src[4096], *p;
	size_t i;

	pattern(src, sizeof(src), 3);
	assert_int_equal(sg_buf_put(b, src, 256), 0);	/* first allocation */
	sg_buf_consume(b, 200);
	assert_int_equal(sg_buf_put(b, src + 256, 150), 0);	/* compacts */
	assert_int_equal(sg_buf_len(b), 206);
	assert_memory_equal(sg_buf_data(b), src + 200, 206);
	/* grow past the first allocation several times */
	for (i = 406; i < 4096; i += 100) {
		size_t n = 4096 - i < 100 ? 4096 - i : 100;

		assert_int_equal(sg_buf_put(b, src + i, n), 0);
	}
	assert_int_equal(sg_buf_len(b), 4096 - 200);
	assert_memory_equal(sg_buf_data(b), src + 200, 4096 - 200);
	/* reserve/commit writes in place; only committed bytes count */
	sg_buf_consume(b, 3800);
	assert_int_equal(sg_buf_len(b), 96);
	assert_int_equal(sg_buf_reserve(b, 100, &p), 0);
	memcpy(p, "xyz", 3);
	sg_buf_commit(b, 3);
	assert_int_equal(sg_buf_len(b), 99);
	assert_memory_equal(sg_buf_data(b), src + 4000, 96);
	assert_memory_equal(sg_buf_data(b) + 96, "xyz", 3);
	/* a full maximum can be used */
	sg_buf_reset(b);
	assert_int_equal(sg_buf_put(b, src, 4096), 0);
	assert_int_equal(sg_buf_room(b), 0);
	assert_memory_equal(sg_buf_data(b), src, 4096);
	sg_buf_free(b);
}

static void
test_small_max(void **state)
{
	/* a maximum below the first allocation size */
	struct sg_buf *b = sg_buf_new(10);
	size_t i;

	for (i = 0; i < 1000; i++) {
		assert_int_equal(sg_buf_put(b, "abcdefgh", 8), 0);
		sg_buf_consume(b, 7);
		assert_int_equal(sg_buf_put(b, "12", 2), 0);
		assert_int_equal(sg_buf_len(b), 3);
		assert_memory_equal(sg_buf_data(b), "h12", 3);
		sg_buf_consume(b, 3);
	}
	sg_buf_free(b);
}

static void
test_putf(void **state)
{
	struct sg_buf *b = sg_buf_new(1000);
	char big[600];

	assert_int_equal(sg_buf_putf(b, "%s=%d", "x", 42), 0);
	assert_int_equal(sg_buf_len(b), 4);
	assert_memory_equal(sg_buf_data(b), "x=42", 4);
	/* longer than the internal small buffer */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sg_buf_putf(b, "[%s]", big), 0);
	assert_int_equal(sg_buf_len(b), 4 + 601);
	assert_int_equal(sg_buf_data(b)[4], '[');
	assert_int_equal(sg_buf_data(b)[4 + 600], ']');
	/* too long for what is left: nothing appended */
	assert_int_equal(sg_buf_putf(b, "%s", big), -ENOBUFS);
	assert_int_equal(sg_buf_len(b), 605);
	sg_buf_free(b);

	b = sg_buf_new(3);
	assert_int_equal(sg_buf_putf(b, "%d", 1234), -ENOBUFS);
	assert_int_equal(sg_buf_len(b), 0);
	sg_buf_free(b);
}

static void
test_wipe(void **state)
{
	struct sg_buf *b = sg_buf_new(64);

	sg_buf_set_wipe(b, 1);
	assert_int_equal(sg_buf_put(b, "secret", 6), 0);
	assert_int_equal(sg_buf_put(b, "more secret bytes, enough to move",
	    33), 0);
	sg_buf_free(b);	/* ASan/valgrind see no leak; contents wiped */
}

static void
nonblocking_pipe(int fds[2])
{
	assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
}

static void
test_read_fd(void **state)
{
	struct sg_buf *b = sg_buf_new(16);
	int fds[2];
	uint8_t src[32];

	pattern(src, sizeof(src), 9);
	nonblocking_pipe(fds);
	/* nothing ready */
	assert_int_equal(sg_buf_read_fd(b, fds[0], 0), -EAGAIN);
	assert_int_equal(sg_buf_len(b), 0);
	assert_int_equal(write(fds[1], src, 32), 32);
	/* limit caps one read */
	assert_int_equal(sg_buf_read_fd(b, fds[0], 5), 5);
	assert_int_equal(sg_buf_len(b), 5);
	/* the room caps the next one */
	assert_int_equal(sg_buf_read_fd(b, fds[0], 0), 11);
	assert_int_equal(sg_buf_len(b), 16);
	assert_memory_equal(sg_buf_data(b), src, 16);
	/* full: -ENOBUFS, nothing read */
	assert_int_equal(sg_buf_read_fd(b, fds[0], 0), -ENOBUFS);
	sg_buf_consume(b, 16);
	assert_int_equal(sg_buf_read_fd(b, fds[0], 100), 16);
	assert_memory_equal(sg_buf_data(b), src + 16, 16);
	/* end of file */
	close(fds[1]);
	sg_buf_consume(b, 16);
	assert_int_equal(sg_buf_read_fd(b, fds[0], 0), 0);
	assert_int_equal(sg_buf_len(b), 0);
	close(fds[0]);
	/* a bad descriptor is an error, not a crash */
	assert_int_equal(sg_buf_read_fd(b, fds[0], 0), -EBADF);
	sg_buf_free(b);
}

static void
test_write_fd(void **state)
{
	struct sg_buf *b = sg_buf_new(1u << 20);
	static uint8_t big[1u << 20], back[1u << 20];
	ssize_t n, total = 0, got = 0;
	int fds[2];

	nonblocking_pipe(fds);
	/* an empty buffer writes nothing */
	assert_int_equal(sg_buf_write_fd(b, fds[1]), 0);
	assert_int_equal(sg_buf_put(b, "abc", 3), 0);
	assert_int_equal(sg_buf_write_fd(b, fds[1]), 3);
	assert_int_equal(sg_buf_len(b), 0);
	assert_int_equal(read(fds[0], back, 3), 3);
	assert_memory_equal(back, "abc", 3);

	/* more than the pipe holds: partial write, consumed by what went
	 * out, then -EAGAIN with the rest kept */
	pattern(big, sizeof(big), 1);
	assert_int_equal(sg_buf_put(b, big, sizeof(big)), 0);
	n = sg_buf_write_fd(b, fds[1]);
	assert_true(n > 0 && (size_t)n < sizeof(big));
	assert_int_equal(sg_buf_len(b), sizeof(big) - (size_t)n);
	total = n;
	assert_int_equal(sg_buf_write_fd(b, fds[1]), -EAGAIN);
	assert_int_equal(sg_buf_len(b), sizeof(big) - (size_t)total);
	/* drain and finish: the bytes arrive in order */
	while (got < (ssize_t)sizeof(big)) {
		n = read(fds[0], back + got, sizeof(big) - (size_t)got);
		if (n > 0)
			got += n;
		if (sg_buf_len(b) > 0) {
			n = sg_buf_write_fd(b, fds[1]);
			assert_true(n > 0 || n == -EAGAIN);
		}
	}
	assert_int_equal(sg_buf_len(b), 0);
	assert_memory_equal(back, big, sizeof(big));
	close(fds[0]);
	/* a closed reader: -EPIPE (SIGPIPE ignored by the test) */
	assert_int_equal(sg_buf_put(b, "x", 1), 0);
	assert_int_equal(sg_buf_write_fd(b, fds[1]), -EPIPE);
	assert_int_equal(sg_buf_len(b), 1);
	close(fds[1]);
	sg_buf_free(b);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_empty),
		cmocka_unit_test(test_max_enobufs),
		cmocka_unit_test(test_big_endian),
		cmocka_unit_test(test_cursor_sticky_error),
		cmocka_unit_test(test_consume_reset),
		cmocka_unit_test(test_compact_and_grow),
		cmocka_unit_test(test_small_max),
		cmocka_unit_test(test_putf),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test(test_read_fd),
		cmocka_unit_test(test_write_fd),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
