/* libFuzzer harness for secrets/wsframe.c.
 *
 * The input is a stream of frames from one side (its first byte picks
 * which). Checks, frame after frame until the stream is refused or ends:
 *  1. a header parsed is no longer than the bytes given, and writing it
 *     back (sp_ws_head) gives exactly the same bytes: only shortest
 *     forms are taken;
 *  2. parsing a prefix of a good header asks for more bytes (-EAGAIN),
 *     never succeeds or refuses;
 *  3. masking twice gives the payload back; sp_ws_utf8_cut never grows
 *     the text, and stops before a character's first byte (or at 0).
 * Any failure aborts. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets/wsframe.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		abort(); \
	} } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_ws_seq seq = { 0, 0 };
	struct sp_ws_frame f, g;
	uint8_t h[SP_WS_HEAD_MAX], buf[256];
	const char *why;
	size_t off, k, n, cut;
	int client, r;

	if (size < 1)
		return 0;
	client = data[0] & 1;
	off = 1;
	while (off < size) {
		why = NULL;
		r = sp_ws_parse(data + off, size - off, client, &f, &why);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			CHECK(r == -EPROTO && why != NULL);
			break;
		}
		CHECK(f.head_len <= size - off && f.head_len <= SP_WS_HEAD_MAX);
		n = sp_ws_head(h, f.fin, f.opcode, f.len, client ? f.key : NULL);
		CHECK(n == f.head_len && memcmp(h, data + off, n) == 0);
		for (k = 0; k < f.head_len; k++)
			CHECK(sp_ws_parse(data + off, k, client, &g, &why) == -EAGAIN);
		if (sp_ws_seq_next(&seq, &f, &why) < 0)
			CHECK(why != NULL);
		off += f.head_len;
		n = f.len < size - off ? (size_t)f.len : size - off;
		if (n > sizeof(buf))
			n = sizeof(buf);
		memcpy(buf, data + off, n);
		sp_ws_mask(buf, n, f.key, 3);
		sp_ws_mask(buf, n, f.key, 3);
		CHECK(memcmp(buf, data + off, n) == 0);
		cut = sp_ws_utf8_cut(buf, n, n / 2);
		CHECK(cut <= n / 2 || cut == n);
		if (cut > 0 && cut < n)	/* stops before a character */
			CHECK((buf[cut] & 0xc0) != 0x80);
		if (f.len > size - off)
			break;
		off += (size_t)f.len;
	}
	return 0;
}
