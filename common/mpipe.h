/* sg_mp: the fixed requests between sandgated's monitor and its workers.
 *
 * A worker (unprivileged, one per SSH connection) talks to the monitor
 * (root) over a SOCK_SEQPACKET socketpair: one message per datagram, at
 * most SG_MP_MAX bytes, a type byte then fields (u8, u32, i64 big-endian;
 * strings as u32 length + bytes without NUL). The monitor accepts each
 * request only in the worker state that allows it (docs/protocol.md,
 * "Monitor requests"); anything else ends the worker. */
#ifndef SG_MPIPE_H
#define SG_MPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SG_MP_MAX	16384u
#define SG_MP_MAX_STR	8192u

enum sg_mp_type {
	SG_MP_AUTH_PASSWORD = 1,	/* w->m: str user, str secret */
	SG_MP_AUTH_KEY = 2,		/* w->m: u8 verified, str user, str type, str blob */
	SG_MP_AUTH_RESULT = 3,		/* m->w: u8 ok, u32 delay_ms, str token */
	SG_MP_START = 4,		/* w->m: str user */
	SG_MP_STARTED = 5,		/* m->w: str id, str image, i64 expires,
					 * u32 boot_timeout_ms, + hub link fd */
	SG_MP_START_FAIL = 6,		/* m->w: str reason */
	SG_MP_NOTICE = 7,		/* m->w: u8 kind, str text */
	/* monitor <-> hub */
	SG_MP_HUB_AGENT = 16,		/* m->h: str id, u32 boot_timeout_ms, u32 vsock
					 * cid (0: virtio-serial, fd attached), u32 n,
					 * n x (str key, str value) for CONFIG */
	SG_MP_HUB_LINK = 17,		/* m->h: str id, + fd of a worker's link */
	SG_MP_HUB_DROP = 18,		/* m->h: str id: the sandbox is gone */
	SG_MP_HUB_STATUS = 19,		/* h->m: str id, u8 state, str reason */
	SG_MP_HUB_DNS = 20,		/* m->h: str id, u32 n, n x str allow_net
					 * entry, + fd of its UDP socket on :53 */
	SG_MP_HUB_DNS_TCP = 21,		/* m->h: str id, + fd listening on :53 */
	SG_MP_HUB_ALLOW = 22,		/* h->m: str id, u32 seq, str name, u32 n,
					 * n x (4 bytes IPv4 address, u32 ttl) */
	SG_MP_HUB_ALLOWED = 23,		/* m->h: str id, u32 seq, u8 ok */
	SG_MP_HUB_REFUSED = 24,		/* h->m: str id, str name, str why */
};

enum sg_mp_hub_state {
	SG_MP_HUB_READY = 1,		/* the agent answered */
	SG_MP_HUB_DOWN = 2,		/* never answered, or the connection ended */
};

enum sg_mp_notice {
	SG_MP_NOTICE_WARN = 1,		/* shown on terminals */
	SG_MP_NOTICE_EXPIRED = 2,	/* sandbox is being destroyed: lifetime */
	SG_MP_NOTICE_KILLED = 3,	/* sandbox is being destroyed: admin */
	SG_MP_NOTICE_FAILED = 4,	/* its agent did not come up, or died: text says why */
};

/* Sends the message in msg (first byte is the type), with fd attached
 * when fd >= 0. Returns 0 or -errno. */
int sg_mp_send(int sock, const struct sg_buf *msg, int fd);
/* Receives one message into msg (reset first). A passed fd is returned in
 * *ret_fd (-1 if none; extra fds are closed). Returns the length, 0 when
 * the peer closed, -EAGAIN, or -errno (-EMSGSIZE for an oversized one). */
ssize_t sg_mp_recv(int sock, struct sg_buf *msg, int *ret_fd);

int sg_mp_put_str(struct sg_buf *b, const char *s);

/* A credential a worker asks about (AUTH_PASSWORD or AUTH_KEY). */
struct sg_mp_auth {
	uint8_t type;		/* SG_MP_AUTH_PASSWORD or SG_MP_AUTH_KEY */
	uint8_t verified;	/* AUTH_KEY: libssh checked the signature */
	char *user;
	char *secret;		/* AUTH_PASSWORD; wiped by sg_mp_auth_clear */
	char *keytype;		/* AUTH_KEY */
	char *blob;		/* AUTH_KEY: base64 public key */
};

/* Decodes the payload (after the type byte) of an AUTH_* request from an
 * untrusted worker into *ret, whose strings it allocates. Trailing bytes,
 * oversized fields, embedded NULs and a verified byte other than 0 or 1
 * are -EPROTO. On failure *ret holds nothing. */
int sg_mp_parse_auth(uint8_t type, const uint8_t *p, size_t n,
    struct sg_mp_auth *ret);
/* Encodes a whole AUTH_* request (type byte included) into b. */
int sg_mp_put_auth(struct sg_buf *b, const struct sg_mp_auth *a);
/* Frees the strings of a, wiping the secret first. */
void sg_mp_auth_clear(struct sg_mp_auth *a);

/* Decodes the payload of a START request: the user name (*ret, new). */
int sg_mp_parse_start(const uint8_t *p, size_t n, char **ret);
/* Reads a string field into a new NUL-terminated copy (*ret); fails with
 * -EPROTO on truncation, an embedded NUL or a length over max. */
int sg_mp_get_str(struct sg_cur *c, size_t max, char **ret);

#endif
