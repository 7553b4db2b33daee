/* ag_sess: the protocol session with the host over one byte stream.
 *
 * Owns the input and output buffers, the HELLO handshake, the channel
 * table and the dispatch of frames. The stream has no connection boundary
 * on virtio-serial, so at start, after a framing error and after the
 * transport changes, the session discards input until a HELLO; a HELLO
 * at any time ends every channel (SIGKILL to their process groups) and is
 * answered with HELLO_ACK. Nothing else is accepted before the first
 * HELLO.
 *
 * Memory is bounded whatever the host does: the input buffer holds two
 * frames at most; input is read only while the output buffer is under
 * AG_SESS_IN_STOP, children are read only while it is under
 * AG_SESS_OUT_HWM, and the buffer's hard maximum leaves room for every
 * frame those limits let through. */
#ifndef AG_SESS_H
#define AG_SESS_H

#include <stdint.h>
#include <sys/types.h>

struct ag_conf;
struct ag_poll;
struct ag_sess;

#define AG_SESS_OUT_HWM		(256u << 10)
#define AG_SESS_IN_STOP		(512u << 10)
#define AG_SESS_OUT_MAX		(1024u << 10)

/* A new session using conf (borrowed; it must outlive the session). */
int ag_sess_new(struct ag_conf *conf, struct ag_sess **ret);
/* Frees the session; channels' processes are SIGKILLed. */
void ag_sess_free(struct ag_sess *s);

/* Uses fd (or -1: none) from now on: framing starts over, buffered bytes
 * of the old stream are dropped. The session does not own fd. */
void ag_sess_attach(struct ag_sess *s, int fd);
/* Leaves the stream alone until at (the host side is not there) and
 * starts framing over. */
void ag_sess_pause(struct ag_sess *s, int64_t at);

int ag_sess_poll(struct ag_sess *s, struct ag_poll *p, int64_t now);
/* Does the I/O that the poll reported: children first, then the stream.
 * Returns 0, -EPIPE when the stream ended or failed (ask the transport
 * what to use next), -EPROTO after a protocol error (the session
 * already dropped its state; a connection should be closed), or -ETIME
 * once the deadline of a POWEROFF from the host has passed. */
int ag_sess_run(struct ag_sess *s, struct ag_poll *p, int64_t now);
/* A child was reaped. */
void ag_sess_reaped(struct ag_sess *s, pid_t pid, int status);
/* SIGKILLs every channel's process group (for shutdown). */
void ag_sess_kill_all(struct ag_sess *s);

#endif
