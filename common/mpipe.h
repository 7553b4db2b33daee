/* sg_mp: the fixed requests between sandgated's monitor and its workers
 * and shims.
 *
 * A worker (unprivileged, one per SSH connection) and a shim (one per
 * sandbox, a uid of its own) talk to the monitor (root) over a
 * SOCK_SEQPACKET socket: one message per datagram, at most SG_MP_MAX
 * bytes, a type byte then fields (u8, u32, i64 big-endian; strings as
 * u32 length + bytes without NUL). The monitor accepts each request only
 * in the state that allows it (docs/protocol.md, "Monitor requests" and
 * "Shim requests"); anything else ends the worker or the shim. */
#ifndef SG_MPIPE_H
#define SG_MPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/proto.h"

#define SG_MP_MAX	16384u
#define SG_MP_MAX_STR	8192u

enum sg_mp_type {
	SG_MP_AUTH_PASSWORD = 1,	/* w->m: str user, str secret */
	SG_MP_AUTH_KEY = 2,		/* w->m: u8 verified, str user, str type, str blob */
	SG_MP_AUTH_RESULT = 3,		/* m->w: u8 ok, u32 delay_ms, str token */
	SG_MP_START = 4,		/* w->m: str user */
	SG_MP_STARTED = 5,		/* m->w: str id, str image, i64 expires,
					 * u32 boot_timeout_ms, + shim link fd */
	SG_MP_START_FAIL = 6,		/* m->w: str reason */
	/* the control interface (control user only, after AUTH, instead of
	 * START; one command at a time) */
	SG_MP_CTL = 7,			/* w->m: u8 longer, str command (its
					 * first SG_MP_MAX_STR bytes; longer: 1
					 * when it had more) */
	SG_MP_CTL_OUT = 8,		/* m->w: u8 stream (1 stdout, 2 stderr),
					 * str bytes (repeated) */
	SG_MP_CTL_DONE = 9,		/* m->w: u8 exit status */
	/* monitor <-> shim: one connection per sandbox (docs/protocol.md,
	 * "Shim requests"); the shim's end is also reachable again through
	 * its rendezvous socket by the next monitor */
	SG_MP_SHIM_INIT = 32,		/* m->s: struct sg_mp_shim_init, + the agent
					 * connection (virtio-serial) */
	SG_MP_SHIM_LINK = 33,		/* m->s: + fd of a worker's link */
	SG_MP_SHIM_DROP = 34,		/* m->s: u8 notice kind, str text: the
					 * sandbox is destroyed */
	SG_MP_SHIM_DNS = 35,		/* m->s: u32 n, n x str allow_net entry,
					 * + fd of its UDP socket on :53 */
	SG_MP_SHIM_DNS_TCP = 36,	/* m->s: + fd listening on TCP :53 */
	SG_MP_SHIM_ALLOWED = 37,	/* m->s: u32 seq, u8 ok */
	SG_MP_SHIM_EXPIRES = 38,	/* m->s: i64 new expiry (unix seconds) */
	SG_MP_SHIM_POWEROFF = 39,	/* m->s: as DROP, and the agent syncs
					 * its disks and powers off now */
	SG_MP_SHIM_STATE = 40,		/* s->m: struct sg_mp_shim_state */
	SG_MP_SHIM_ALLOW = 41,		/* s->m: u32 seq, str name, u32 n,
					 * n x (4 bytes IPv4 address, u32 ttl) */
	SG_MP_SHIM_REFUSED = 42,	/* s->m: str name, str why */
	/* worker or shim -> monitor, in any state: */
	SG_MP_LOG = 125,		/* u8 level, str text: one log line the
					 * monitor prints for it (rate-limited) */
	/* 126 is SG_CONFINE_REPORT (confine.h): a system call its filter
	 * stopped */
};

/* A log line's text, at most. */
#define SG_MP_LOG_MAX	1024u

/* The version of the shim requests; a monitor adopts only shims of its
 * own version (they may outlive an upgrade of sandgated). */
#define SG_MP_SHIM_VERSION	1

/* Sends the message in msg (first byte is the type), with fd attached
 * when fd >= 0. Returns 0 or -errno. */
int sg_mp_send(int sock, const struct sg_buf *msg, int fd);
/* Receives one message into msg (reset first). A passed fd is returned in
 * *ret_fd (-1 if none; extra fds are closed). Returns the length, 0 when
 * the peer closed, -EAGAIN, or -errno (-EMSGSIZE for an oversized one). */
ssize_t sg_mp_recv(int sock, struct sg_buf *msg, int *ret_fd);

int sg_mp_put_str(struct sg_buf *b, const char *s);

/* Builders of the feeds' messages (pxfeed.c, exfeed.c): sg_mp_begin
 * resets b and puts the type byte; sg_mp_put_str_max a string (NULL is
 * -EINVAL) of at most max bytes; sg_mp_end ends an encoder with what it
 * returned so far: a message over SG_MP_MAX is -ENOBUFS, and on any
 * failure b is left empty, so that no half message is sent by mistake. */
int sg_mp_begin(struct sg_buf *b, uint8_t type);
int sg_mp_put_str_max(struct sg_buf *b, const char *s, size_t max);
int sg_mp_end(struct sg_buf *b, int r);

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

/* What a shim is started with (SG_MP_SHIM_INIT). */
struct sg_mp_shim_init {
	char *id;
	uint32_t uid, gid;	/* the sandbox's own */
	char *root;		/* chroot here (an empty root-owned directory) */
	uint32_t boot_ms;	/* the agent must answer within */
	uint32_t cid;		/* vsock CID to connect to, or 0: fd attached */
	uint8_t ephemeral;	/* "sandbox": ends with its last link */
	int64_t expires;	/* unix seconds */
	char *dns;		/* [network] dns, or "" for resolv.conf */
	size_t nov;		/* [network] resolve overrides (IPv4) */
	char **ov_name;
	uint8_t (*ov_addr)[4];
	struct sg_config *cfg;	/* the agent's CONFIG */
};

/* Encodes a whole SHIM_INIT (type byte included) into b. */
int sg_mp_put_shim_init(struct sg_buf *b, const struct sg_mp_shim_init *si);
/* Decodes the payload (after the type byte) into *ret (allocated). */
int sg_mp_parse_shim_init(const uint8_t *p, size_t n,
    struct sg_mp_shim_init *ret);
void sg_mp_shim_init_clear(struct sg_mp_shim_init *si);

enum sg_mp_agent {
	SG_MP_AGENT_BOOTING = 0,
	SG_MP_AGENT_READY = 1,
	SG_MP_AGENT_DOWN = 2,
};

/* What a shim says about its sandbox (SG_MP_SHIM_STATE): when a monitor
 * connects, and whenever it changes. */
struct sg_mp_shim_state {
	uint32_t version;	/* SG_MP_SHIM_VERSION of the shim */
	char *id;
	uint8_t agent;		/* enum sg_mp_agent */
	uint32_t links;		/* workers' links now */
	uint32_t idle_s;	/* links == 0: seconds since the last left */
	uint8_t ephemeral;
	int64_t expires;
	char *why;		/* SG_MP_AGENT_DOWN: why */
};

int sg_mp_put_shim_state(struct sg_buf *b, const struct sg_mp_shim_state *st);
int sg_mp_parse_shim_state(const uint8_t *p, size_t n,
    struct sg_mp_shim_state *ret);
void sg_mp_shim_state_clear(struct sg_mp_shim_state *st);

/* A queue of messages toward one peer, for a sender that must not block
 * (the monitor): each message goes out at once when the socket takes it,
 * else waits in the queue (its descriptor duplicated) until
 * sg_mpq_flush, called when poll says POLLOUT, sends it. Queued bytes
 * are wiped when they go (the proxy feed carries secret values). */
struct sg_mpq;

/* A queue that holds at most max bytes of messages. */
struct sg_mpq *sg_mpq_new(size_t max);
/* Frees q and closes the descriptors still queued; NULL is accepted. */
void sg_mpq_free(struct sg_mpq *q);
/* Sends msg (with fd when fd >= 0; the caller keeps fd) or queues it
 * behind what waits. Returns 0, -ENOBUFS when the queue is full (the peer
 * does not read), or -errno when the peer is gone. */
int sg_mpq_send(struct sg_mpq *q, int sock, const struct sg_buf *msg, int fd);
/* Sends what is queued. Returns 0 when the queue is empty, -EAGAIN when
 * some is left, or -errno. */
int sg_mpq_flush(struct sg_mpq *q, int sock);
/* How many messages wait, and since when (sg_mono_ms; 0 when none). */
size_t sg_mpq_pending(const struct sg_mpq *q);
int64_t sg_mpq_since(const struct sg_mpq *q);

/* Sends one SG_MP_LOG line without waiting (and without allocating: it
 * is called from sg_log). Returns 0, or -errno (-EAGAIN: the monitor is
 * behind; the sinks then fall back to stderr). */
int sg_mp_send_log(int sock, int level, const char *text);
/* Sends this process's log lines (sg_log) as SG_MP_LOG on the socket
 * *fd holds at the time (the caller keeps it current; -1: stderr as
 * usual, and also when the monitor is behind). */
void sg_mp_log_via(const int *fd);
/* Decodes the payload (after the type byte) of a LOG line into *level
 * and text (NUL-terminated, control characters masked; text has room for
 * SG_MP_LOG_MAX + 1 bytes). Returns 0 or -EPROTO. */
int sg_mp_parse_log(const uint8_t *p, size_t n, int *level, char *text);

/* Decodes the payload of a START request: the user name (*ret, new). */
int sg_mp_parse_start(const uint8_t *p, size_t n, char **ret);
/* Reads a string field into a new NUL-terminated copy (*ret); fails with
 * -EPROTO on truncation, an embedded NUL or a length over max. */
int sg_mp_get_str(struct sg_cur *c, size_t max, char **ret);

#endif
