/* Unit tests for secrets/wsframe.c: the examples of RFC 6455 section
 * 5.7, every refusal, the order of fragments, headers written back. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "secrets/wsframe.h"

static void
test_rfc_examples(void **state)
{
	static const uint8_t text[] = "\x81\x05Hello";
	static const uint8_t masked[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
	static const uint8_t b256[] = "\x82\x7e\x01\x00";
	static const uint8_t b64k[] = "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00";
	struct sp_ws_frame f;
	const char *why = NULL;
	uint8_t p[5];

	(void)state;
	assert_int_equal(sp_ws_parse(text, 7, 0, &f, &why), 0);
	assert_true(f.fin);
	assert_int_equal(f.opcode, SP_WS_TEXT);
	assert_int_equal(f.len, 5);
	assert_int_equal(f.head_len, 2);
	assert_int_equal(sp_ws_parse(masked, 11, 1, &f, &why), 0);
	assert_int_equal(f.head_len, 6);
	memcpy(p, masked + 6, 5);
	sp_ws_mask(p, 2, f.key, 0);
	sp_ws_mask(p + 2, 3, f.key, 2);	/* in two pieces */
	assert_memory_equal(p, "Hello", 5);
	assert_int_equal(sp_ws_parse(b256, 4, 0, &f, &why), 0);
	assert_int_equal(f.len, 256);
	assert_int_equal(sp_ws_parse(b64k, 10, 0, &f, &why), 0);
	assert_int_equal(f.len, 65536);
	assert_int_equal(f.head_len, 10);
	/* cut short */
	assert_int_equal(sp_ws_parse(b64k, 9, 0, &f, &why), -EAGAIN);
	assert_int_equal(sp_ws_parse(masked, 5, 1, &f, &why), -EAGAIN);
	assert_int_equal(sp_ws_parse(text, 1, 0, &f, &why), -EAGAIN);
}

static void
expect_refused(const char *b, size_t n, int from_client)
{
	struct sp_ws_frame f;
	const char *why = NULL;

	assert_int_equal(sp_ws_parse(b, n, from_client, &f, &why), -EPROTO);
	assert_non_null(why);
}

static void
test_refused(void **state)
{
	(void)state;
	expect_refused("\xc1\x00", 2, 0);		/* RSV1 (permessage-deflate) */
	expect_refused("\x91\x00", 2, 0);		/* RSV3 */
	expect_refused("\x83\x00", 2, 0);		/* opcode 3 */
	expect_refused("\x8b\x00", 2, 0);		/* opcode 0xb */
	expect_refused("\x81\x05Hello", 7, 1);	/* unmasked from a client */
	expect_refused("\x81\x85\x00\x00\x00\x00Hello", 11, 0); /* masked server */
	expect_refused("\x09\x00", 2, 0);		/* fragmented ping */
	expect_refused("\x89\x7e\x00\x7e", 4, 0);	/* ping of 126 */
	expect_refused("\x82\x7e\x00\x7d", 4, 0);	/* 125 in two bytes */
	expect_refused("\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff", 10, 0);
	expect_refused("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10, 0);
}

static void
test_seq(void **state)
{
	struct sp_ws_seq s = { 0, 0 };
	struct sp_ws_frame f = { 0 };
	const char *why = NULL;

	(void)state;
	f.opcode = SP_WS_CONT;
	f.fin = 1;
	assert_int_equal(sp_ws_seq_next(&s, &f, &why), -EPROTO);
	f.opcode = SP_WS_TEXT;
	f.fin = 0;
	assert_int_equal(sp_ws_seq_next(&s, &f, &why), 0);
	f.opcode = SP_WS_PING;	/* between fragments */
	f.fin = 1;
	assert_int_equal(sp_ws_seq_next(&s, &f, &why), 0);
	f.opcode = SP_WS_BINARY;
	assert_int_equal(sp_ws_seq_next(&s, &f, &why), -EPROTO);
	f.opcode = SP_WS_CONT;
	f.fin = 0;
	assert_int_equal(sp_ws_seq_next(&s, &f, &why), 0);
	f.fin = 1;
	assert_int_equal(sp_ws_seq_next(&s, &f, &why), 0);
	assert_int_equal(s.in_msg, 0);
	assert_int_equal(s.msg_opcode, SP_WS_TEXT);
}

static void
test_write(void **state)
{
	static const uint64_t lens[] = { 0, 125, 126, 65535, 65536, 1ull << 40 };
	static const uint8_t key[4] = { 1, 2, 3, 4 };
	uint8_t h[SP_WS_HEAD_MAX];
	struct sp_ws_frame f;
	const char *why = NULL;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = sp_ws_head(h, i & 1, SP_WS_BINARY, lens[i], NULL);
		assert_int_equal(sp_ws_parse(h, n, 0, &f, &why), 0);
		assert_int_equal(f.len, lens[i]);
		assert_int_equal(f.head_len, n);
		assert_int_equal(f.fin, (int)(i & 1));
		n = sp_ws_head(h, 1, SP_WS_TEXT, lens[i], key);
		assert_int_equal(sp_ws_parse(h, n, 1, &f, &why), 0);
		assert_memory_equal(f.key, key, 4);
	}
}

static void
test_close_utf8(void **state)
{
	uint8_t out[SP_WS_CONTROL_MAX];
	char reason[200];
	size_t n;

	(void)state;
	n = sp_ws_close_payload(out, SP_WS_CLOSE_POLICY, "no", 2);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\x03\xf0no", 4);
	/* 61 two-byte characters: 122 bytes; the 62nd would not fit */
	for (n = 0; n < 100; n++) {
		reason[2 * n] = (char)0xc3;
		reason[2 * n + 1] = (char)0xa9;
	}
	n = sp_ws_close_payload(out, 1000, reason, 200);
	assert_int_equal(n, 2 + 122);
	assert_int_equal(sp_ws_utf8_cut((const uint8_t *)"abc", 3, 5), 3);
	assert_int_equal(sp_ws_utf8_cut((const uint8_t *)"ab\xc3\xa9", 4, 3), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_seq),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_close_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
