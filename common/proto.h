/* sg_proto: the agent wire protocol (docs/protocol.md has the bytes).
 *
 * Frames are a 12-byte header and a bounded payload:
 *
 *   u16 magic 0x5347 ("SG") | u8 type | u8 stream | u32 chan | u32 len
 *
 * all big-endian. len never exceeds SG_PROTO_MAX_PAYLOAD. Both ends treat
 * the peer as hostile: every decoder checks lengths, counts and values and
 * returns -EPROTO on anything malformed, never reading past the bytes it
 * was given. */
#ifndef SG_PROTO_H
#define SG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SG_PROTO_MAGIC		0x5347u
#define SG_PROTO_VERSION	2	/* 2: POWEROFF */
#define SG_PROTO_VERSION_MIN	1	/* the oldest a peer may still speak */
#define SG_PROTO_HDR_LEN	12
#define SG_PROTO_MAX_PAYLOAD	65536u
#define SG_PROTO_DATA_CHUNK	32768u	/* largest DATA payload a sender makes */
#define SG_PROTO_MAX_FRAME	(SG_PROTO_HDR_LEN + SG_PROTO_MAX_PAYLOAD)
#define SG_PROTO_MAX_CHANNELS	1024u	/* live channels per connection */
#define SG_PROTO_MAX_ITEMS	256u	/* argv or env entries in one OPEN */
#define SG_PROTO_MAX_WINDOW	(4u << 20)	/* largest credit a peer may hold */
#define SG_PROTO_HELLO_MAGIC	"sandgate"	/* 8 bytes, no NUL */
#define SG_PROTO_VSOCK_PORT	1024u	/* the agent listens here on vsock */

enum sg_msg_type {
	SG_MSG_HELLO = 1,	/* host -> agent, chan 0 */
	SG_MSG_HELLO_ACK = 2,	/* agent -> host, chan 0 */
	SG_MSG_CONFIG = 3,	/* host -> agent, chan 0 */
	SG_MSG_CONFIG_ACK = 4,	/* agent -> host, chan 0 */
	SG_MSG_PING = 5,	/* either way, chan 0 */
	SG_MSG_PONG = 6,
	SG_MSG_POWEROFF = 7,	/* host -> agent, chan 0: u32 seconds from now */
	SG_MSG_NOTICE = 8,	/* shim -> worker only, chan 0: u8 kind, text */
	SG_MSG_OPEN = 16,	/* host -> agent: chan is the new id */
	SG_MSG_OPEN_OK = 17,	/* agent -> host */
	SG_MSG_OPEN_FAIL = 18,	/* agent -> host, then chan is free */
	SG_MSG_DATA = 32,	/* stream says which */
	SG_MSG_EOF = 33,	/* no more DATA on that stream */
	SG_MSG_CREDIT = 34,	/* receiver lets the sender send n more bytes */
	SG_MSG_RESIZE = 35,	/* host -> agent */
	SG_MSG_SIGNAL = 36,	/* host -> agent */
	SG_MSG_EXIT = 37,	/* agent -> host, after stdout/stderr drained */
	SG_MSG_CLOSE = 38,	/* either way; id is free once both sent it */
};

enum sg_stream {
	SG_STREAM_STDIN = 0,	/* host -> agent; also a TCP channel's data */
	SG_STREAM_STDOUT = 1,	/* agent -> host; also a TCP channel's data */
	SG_STREAM_STDERR = 2,
};

enum sg_open_kind {
	SG_OPEN_PROCESS = 1,	/* argv, or cmd run by /bin/sh -c, or a login shell */
	SG_OPEN_SUBSYSTEM = 2,	/* name, e.g. "sftp" */
	SG_OPEN_TCP = 3,	/* connect to host:port from inside the guest */
};

#define SG_OPEN_F_PTY	0x01

/* NOTICE kinds: what a worker tells its client about its sandbox. */
enum sg_notice_kind {
	SG_NOTICE_WARN = 1,	/* shown on terminals, the session goes on */
	SG_NOTICE_EXPIRED = 2,	/* the sandbox ends: its lifetime is over */
	SG_NOTICE_KILLED = 3,	/* the sandbox ends: an administrator */
	SG_NOTICE_FAILED = 4,	/* the sandbox ends or could not start: text says why */
};

enum sg_exit_kind {
	SG_EXIT_CODE = 0,
	SG_EXIT_SIGNAL = 1,
};

/* One decoded frame. payload points into the caller's input and is valid
 * until that input is consumed. */
struct sg_msg {
	uint8_t type;
	uint8_t stream;
	uint32_t chan;
	const uint8_t *payload;
	uint32_t len;
};

/* Looks for one whole frame at the head of in. Returns 1 and fills *ret
 * (the frame is SG_PROTO_HDR_LEN + ret->len bytes, for sg_buf_consume),
 * 0 when more bytes are needed, or -EPROTO when the head is not a valid
 * frame header (bad magic, reserved type, oversized length). */
int sg_proto_peek(const uint8_t *in, size_t n, struct sg_msg *ret);

/* Finds the first offset in in[0..n) where a HELLO frame header starts,
 * for a receiver that lost framing (a serial line has no connection
 * boundary). Returns n when there is none; a partial match at the tail
 * returns its offset so the caller keeps those bytes. */
size_t sg_proto_find_hello(const uint8_t *in, size_t n);

/* Encoders append one whole frame to out and return 0, or -ENOBUFS when
 * out is full (nothing appended) or -EINVAL for values out of range. */
int sg_proto_put_frame(struct sg_buf *out, uint8_t type, uint8_t stream,
    uint32_t chan, const void *payload, size_t len);
/* HELLO offers versions SG_PROTO_VERSION_MIN..SG_PROTO_VERSION. */
int sg_proto_put_hello(struct sg_buf *out, uint64_t nonce);
/* The version to answer a HELLO offering vmin..vmax with (the highest
 * both speak), or 0 when there is none. */
uint16_t sg_proto_version_pick(uint16_t vmin, uint16_t vmax);
int sg_proto_put_hello_ack(struct sg_buf *out, uint16_t version,
    uint64_t nonce, const char *agent_version);
int sg_proto_put_ping(struct sg_buf *out, uint8_t type, uint64_t cookie);
int sg_proto_put_open_ok(struct sg_buf *out, uint32_t chan, uint32_t credit,
    uint32_t pid);
int sg_proto_put_open_fail(struct sg_buf *out, uint32_t chan, uint32_t err,
    const char *msg);
int sg_proto_put_data(struct sg_buf *out, uint32_t chan, uint8_t stream,
    const void *p, size_t n);
int sg_proto_put_eof(struct sg_buf *out, uint32_t chan, uint8_t stream);
int sg_proto_put_credit(struct sg_buf *out, uint32_t chan, uint32_t n);
int sg_proto_put_resize(struct sg_buf *out, uint32_t chan, uint16_t rows,
    uint16_t cols, uint16_t xpix, uint16_t ypix);
int sg_proto_put_signal(struct sg_buf *out, uint32_t chan, uint8_t signo);
int sg_proto_put_exit(struct sg_buf *out, uint32_t chan, uint8_t kind,
    uint8_t value, uint8_t core);
int sg_proto_put_close(struct sg_buf *out, uint32_t chan);

/* Fixed-layout payload decoders: 0, or -EPROTO if the payload has the
 * wrong length or a value out of range. Strings returned are borrowed
 * from the payload and not NUL-terminated (pointer plus length). */
int sg_proto_get_hello(const struct sg_msg *m, uint16_t *ret_vmin,
    uint16_t *ret_vmax, uint64_t *ret_nonce);
int sg_proto_get_hello_ack(const struct sg_msg *m, uint16_t *ret_version,
    uint64_t *ret_nonce);
int sg_proto_get_u64(const struct sg_msg *m, uint64_t *ret);	/* PING/PONG */
int sg_proto_get_u32(const struct sg_msg *m, uint32_t *ret);	/* CREDIT */
int sg_proto_get_open_ok(const struct sg_msg *m, uint32_t *ret_credit,
    uint32_t *ret_pid);
int sg_proto_get_open_fail(const struct sg_msg *m, uint32_t *ret_err,
    const char **ret_msg, size_t *ret_len);
int sg_proto_get_resize(const struct sg_msg *m, uint16_t *ret_rows,
    uint16_t *ret_cols, uint16_t *ret_xpix, uint16_t *ret_ypix);
int sg_proto_get_signal(const struct sg_msg *m, uint8_t *ret_signo);
int sg_proto_get_exit(const struct sg_msg *m, uint8_t *ret_kind,
    uint8_t *ret_value, uint8_t *ret_core);

/* OPEN: what the host asks the agent to start. Every string is a
 * NUL-terminated copy without embedded NULs; the struct owns them. */
struct sg_open {
	uint8_t kind;		/* enum sg_open_kind */
	uint8_t flags;		/* SG_OPEN_F_* */
	uint16_t rows, cols;	/* pty size, 0 if none */
	uint32_t credit;	/* bytes the agent may send before a CREDIT */
	char **argv;		/* NULL-terminated, or NULL */
	size_t argc;
	char *cmd;		/* shell command, or NULL */
	char **env;		/* NULL-terminated "NAME=VALUE" list */
	size_t envc;
	char *term;		/* TERM for a pty, or NULL */
	char *subsystem;	/* SG_OPEN_SUBSYSTEM */
	char *host;		/* SG_OPEN_TCP */
	uint16_t port;		/* SG_OPEN_TCP */
};

/* Encodes o as an OPEN frame for chan. */
int sg_proto_put_open(struct sg_buf *out, uint32_t chan,
    const struct sg_open *o);
/* Decodes an OPEN payload into a new struct (*ret, free with
 * sg_open_free). Returns 0, -EPROTO or -ENOMEM. */
int sg_proto_get_open(const struct sg_msg *m, struct sg_open **ret);
void sg_open_free(struct sg_open *o);

/* CONFIG: a list of (key, value) string pairs, keys from a fixed set that
 * docs/protocol.md lists; unknown keys are skipped by the agent. */
struct sg_config;
struct sg_config *sg_config_new(void);
void sg_config_free(struct sg_config *c);
int sg_config_add(struct sg_config *c, const char *key, const char *value);
size_t sg_config_count(const struct sg_config *c);
const char *sg_config_key(const struct sg_config *c, size_t i);
const char *sg_config_value(const struct sg_config *c, size_t i);
int sg_proto_put_config(struct sg_buf *out, const struct sg_config *c);
int sg_proto_get_config(const struct sg_msg *m, struct sg_config **ret);

/* POWEROFF: the agent powers the machine off after seconds (0: now);
 * a later POWEROFF replaces the deadline. */
int sg_proto_put_poweroff(struct sg_buf *out, uint32_t seconds);
int sg_proto_get_poweroff(const struct sg_msg *m, uint32_t *ret_seconds);

/* NOTICE: kind (enum sg_notice_kind) and a text for the client, on a
 * shim's link only (the agent neither sends nor takes one). The encoder
 * truncates text to 1024 bytes and replaces control characters by '?';
 * the decoder rejects them and unknown kinds. The text is borrowed from
 * the payload, not NUL-terminated. */
int sg_proto_put_notice(struct sg_buf *out, uint8_t kind, const char *text);
int sg_proto_get_notice(const struct sg_msg *m, uint8_t *ret_kind,
    const char **ret_text, size_t *ret_len);

/* Human-readable name of a message type, for logs ("?" if unknown). */
const char *sg_proto_type_name(uint8_t type);

/* CONFIG_ACK: the agent's answer to CONFIG, a status (0 or a positive
 * errno) and a message for the log. The encoder truncates msg (NULL: none)
 * to 1024 bytes and replaces control characters by '?'; the decoder
 * rejects them. The message is borrowed from the payload, not
 * NUL-terminated. */
int sg_proto_put_config_ack(struct sg_buf *out, uint32_t status,
    const char *msg);
int sg_proto_get_config_ack(const struct sg_msg *m, uint32_t *ret_status,
    const char **ret_msg, size_t *ret_len);

#endif
