/* sp_ws: WebSocket frames (RFC 6455 section 5), as sandgate-proxy reads
 * them from guests and upstreams and writes them again.
 *
 * The proxy offers no extension (it strips Sec-WebSocket-Extensions from
 * upgrade requests), so every RSV bit must be 0. A header is refused
 * (-EPROTO, with a reason) for: a RSV bit set, an unknown opcode, a
 * control frame (close, ping, pong) that is fragmented or longer than
 * 125 bytes, a length not in its shortest form or with the top bit set,
 * a frame from the client that is not masked or from the server that
 * is. sp_ws_seq checks the order of frames in one direction: no
 * continuation outside a message, no new message inside one. Pure C, no
 * I/O, no allocation. */
#ifndef SP_WSFRAME_H
#define SP_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

#define SP_WS_HEAD_MAX		14	/* 2 + 8 length + 4 mask key */
#define SP_WS_CONTROL_MAX	125

enum sp_ws_opcode {
	SP_WS_CONT = 0x0,
	SP_WS_TEXT = 0x1,
	SP_WS_BINARY = 0x2,
	SP_WS_CLOSE = 0x8,
	SP_WS_PING = 0x9,
	SP_WS_PONG = 0xa,
};

/* Close status codes the proxy sends (RFC 6455 7.4.1). */
#define SP_WS_CLOSE_PROTOCOL	1002
#define SP_WS_CLOSE_POLICY	1008
#define SP_WS_CLOSE_ERROR	1011

struct sp_ws_frame {
	int fin;
	unsigned opcode;	/* enum sp_ws_opcode */
	int masked;
	uint8_t key[4];		/* when masked */
	uint64_t len;		/* payload bytes */
	size_t head_len;	/* header bytes */
};

/* Reads the header at p[0..n); from_client says which side sent it (a
 * client must mask, a server must not). Returns 0 and *f, -EAGAIN when
 * more bytes are needed, -EPROTO with a static reason in *ret_why. */
int sp_ws_parse(const void *p, size_t n, int from_client,
    struct sp_ws_frame *f, const char **ret_why);

/* Whether the opcode is a control frame's. */
int sp_ws_is_control(unsigned opcode);

/* The order of data frames in one direction. */
struct sp_ws_seq {
	int in_msg;		/* a message started and not finished */
	unsigned msg_opcode;	/* its opcode (text or binary) */
};
/* Checks frame f against the order so far and moves on. Returns 0 or
 * -EPROTO with a static reason. */
int sp_ws_seq_next(struct sp_ws_seq *s, const struct sp_ws_frame *f,
    const char **ret_why);

/* Writes a frame header for a payload of len bytes into out
 * (SP_WS_HEAD_MAX bytes at least); masked with key when key is not NULL.
 * Returns its length. */
size_t sp_ws_head(uint8_t *out, int fin, unsigned opcode, uint64_t len,
    const uint8_t *key);

/* XORs p[0..n) with key, the payload being at byte offset off of its
 * frame (masking and unmasking are the same). */
void sp_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t off);

/* A close payload: the status code, then the reason cut to fit 125
 * bytes at a UTF-8 character boundary. Returns its length (at most
 * SP_WS_CONTROL_MAX) written to out (SP_WS_CONTROL_MAX bytes). */
size_t sp_ws_close_payload(uint8_t *out, uint16_t code, const char *reason,
    size_t reason_len);

/* Cuts p[0..n) to at most max bytes without splitting a UTF-8
 * character; returns the new length. */
size_t sp_ws_utf8_cut(const uint8_t *p, size_t n, size_t max);

#endif
