/* sp_ws: WebSocket frame headers, read strictly and written. See
 * wsframe.h. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "secrets/wsframe.h"

int
sp_ws_is_control(unsigned opcode)
{
	return opcode >= 0x8;
}

int
sp_ws_parse(const void *p, size_t n, int from_client, struct sp_ws_frame *f,
    const char **ret_why)
{
	const uint8_t *b = p;
	uint64_t len;
	size_t need = 2, i;
	unsigned op;

	if (n < 2)
		return -EAGAIN;
	if (b[0] & 0x70) {
		*ret_why = "a reserved bit is set, and no extension was agreed";
		return -EPROTO;
	}
	op = b[0] & 0x0f;
	if (op != SP_WS_CONT && op != SP_WS_TEXT && op != SP_WS_BINARY &&
	    op != SP_WS_CLOSE && op != SP_WS_PING && op != SP_WS_PONG) {
		*ret_why = "unknown opcode";
		return -EPROTO;
	}
	if (!!(b[1] & 0x80) != !!from_client) {
		*ret_why = from_client ? "a frame from the client is not masked" :
		    "a frame from the server is masked";
		return -EPROTO;
	}
	len = b[1] & 0x7f;
	if (len == 126)
		need += 2;
	else if (len == 127)
		need += 8;
	if (from_client)
		need += 4;
	if (n < need)
		return -EAGAIN;
	if (len == 126) {
		len = (uint64_t)b[2] << 8 | b[3];
		if (len < 126) {
			*ret_why = "a length not in its shortest form";
			return -EPROTO;
		}
	} else if (len == 127) {
		len = 0;
		for (i = 0; i < 8; i++)
			len = len << 8 | b[2 + i];
		if (len >> 63) {
			*ret_why = "a length with its top bit set";
			return -EPROTO;
		}
		if (len < 65536) {
			*ret_why = "a length not in its shortest form";
			return -EPROTO;
		}
	}
	if (sp_ws_is_control(op) && (!(b[0] & 0x80) || len > SP_WS_CONTROL_MAX)) {
		*ret_why = "a control frame fragmented or over 125 bytes";
		return -EPROTO;
	}
	f->fin = (b[0] & 0x80) != 0;
	f->opcode = op;
	f->masked = from_client;
	if (from_client)
		memcpy(f->key, b + need - 4, 4);
	else
		memset(f->key, 0, 4);
	f->len = len;
	f->head_len = need;
	return 0;
}

int
sp_ws_seq_next(struct sp_ws_seq *s, const struct sp_ws_frame *f,
    const char **ret_why)
{
	if (sp_ws_is_control(f->opcode))
		return 0;	/* between fragments, at any time */
	if (f->opcode == SP_WS_CONT) {
		if (!s->in_msg) {
			*ret_why = "a continuation frame outside a message";
			return -EPROTO;
		}
	} else {
		if (s->in_msg) {
			*ret_why = "a new message inside an unfinished one";
			return -EPROTO;
		}
		s->msg_opcode = f->opcode;
	}
	s->in_msg = !f->fin;
	return 0;
}

size_t
sp_ws_head(uint8_t *out, int fin, unsigned opcode, uint64_t len,
    const uint8_t *key)
{
	size_t n = 2, i;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	out[1] = key != NULL ? 0x80 : 0;
	if (len < 126) {
		out[1] |= (uint8_t)len;
	} else if (len < 65536) {
		out[1] |= 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] |= 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (key != NULL) {
		memcpy(out + n, key, 4);
		n += 4;
	}
	return n;
}

void
sp_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t off)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] ^= key[(off + i) & 3];
}

size_t
sp_ws_utf8_cut(const uint8_t *p, size_t n, size_t max)
{
	size_t k;

	if (n <= max)
		return n;
	k = max;
	/* back off over continuation bytes to the start of the character
	 * that does not fit */
	while (k > 0 && (p[k] & 0xc0) == 0x80)
		k--;
	return k;
}

size_t
sp_ws_close_payload(uint8_t *out, uint16_t code, const char *reason,
    size_t reason_len)
{
	size_t k;

	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	k = sp_ws_utf8_cut((const uint8_t *)reason, reason_len,
	    SP_WS_CONTROL_MAX - 2);
	memcpy(out + 2, reason, k);
	return 2 + k;
}
