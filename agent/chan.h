/* ag_chan: one channel the host opened: a process (with pipes or a pty),
 * a subsystem (sftp-server) or a TCP connection from inside the guest.
 *
 * A channel moves through: starting (exec or connect in progress) ->
 * open (OPEN_OK sent, data flows) -> finished (EOFs, EXIT and CLOSE sent)
 * -> freed once the host's CLOSE came too. A failed start sends OPEN_FAIL
 * and the id is free at once.
 *
 * Flow control, both ways bounded:
 *  - toward the host: stdout/stderr are read only while the host's credit
 *    and the session's output buffer allow; otherwise the descriptor is
 *    not polled and the writing process blocks in the kernel.
 *  - from the host: the channel grants AG_CHAN_WINDOW bytes at OPEN_OK and
 *    grants again (CREDIT) what it wrote to the process; DATA beyond the
 *    grant is a protocol error, so the stdin buffer never holds more than
 *    the window. */
#ifndef AG_CHAN_H
#define AG_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ag_conf;
struct ag_poll;
struct sg_buf;
struct sg_open;
struct ag_chan;

#define AG_CHAN_WINDOW	(256u << 10)	/* stdin credit granted to the host */

/* Starts what o asks for as channel id. Returns 0 and the channel in *ret
 * (it reports OPEN_OK or OPEN_FAIL itself from ag_chan_progress), or
 * -ENOMEM. conf is borrowed for the call only. */
int ag_chan_open(uint32_t id, const struct sg_open *o,
    const struct ag_conf *conf, struct ag_chan **ret);
/* Closes the channel's descriptors and frees it; the process (if still
 * running) is not signalled: see ag_chan_kill. NULL is accepted. */
void ag_chan_free(struct ag_chan *c);
/* SIGKILLs the channel's process group (and its resolver) if alive. */
void ag_chan_kill(struct ag_chan *c);

uint32_t ag_chan_id(const struct ag_chan *c);

/* Adds the channel's descriptors to the poll set. out_room says whether
 * the session's output buffer takes more DATA. */
int ag_chan_poll(struct ag_chan *c, struct ag_poll *p, int out_room);
/* Does the I/O the last poll reported ready; DATA frames go to out. */
void ag_chan_io(struct ag_chan *c, struct ag_poll *p, struct sg_buf *out,
    size_t out_hwm);
/* Sends whatever the channel's state calls for next (OPEN_OK/FAIL,
 * CREDIT, EOF, EXIT, CLOSE) to out. Returns 1 when the channel is done and
 * must be freed, else 0. */
int ag_chan_progress(struct ag_chan *c, struct sg_buf *out, size_t out_hwm);

/* A child exited: returns 1 when pid belonged to this channel. */
int ag_chan_reaped(struct ag_chan *c, pid_t pid, int status);

/* Frames from the host for this channel. Each returns 0, or -EPROTO when
 * the host broke the protocol (DATA beyond the grant or after EOF). */
int ag_chan_data(struct ag_chan *c, uint8_t stream, const uint8_t *p,
    size_t n);
int ag_chan_eof(struct ag_chan *c, uint8_t stream);
void ag_chan_credit(struct ag_chan *c, uint32_t n);
void ag_chan_resize(struct ag_chan *c, uint16_t rows, uint16_t cols,
    uint16_t xpix, uint16_t ypix);
void ag_chan_signal(struct ag_chan *c, int signo);
/* The host sent CLOSE. A live process gets SIGHUP now; its process group
 * id is returned in *ret_pgid (0 if none) for a SIGKILL a moment later. */
void ag_chan_close(struct ag_chan *c, pid_t *ret_pgid);

#endif
