/* sg_relay: one sandbox's agent connection, shared by its workers' links.
 *
 * The core of sandgate-shim (shim.c). The relay holds the agent stream
 * (a virtio-serial socket it is given, or a vsock CID it connects to),
 * does the handshake (HELLO until the matching HELLO_ACK, then CONFIG)
 * and keeps a table mapping agent channel ids to (link, link channel id).
 * A link is one worker's SSH connection, a stream socket: the worker sends
 * HELLO, which the relay answers once the agent is ready, then channel
 * frames, which are checked and relayed with the channel id rewritten.
 * The relay sends NOTICE frames on links (never to the agent).
 *
 * Every byte from the agent is hostile (the guest may be compromised),
 * and so is every byte from a link (a worker may be). Memory: the agent
 * never sends more channel data than the worker granted (credits pass
 * through unchanged), so what the relay queues toward a link is bounded
 * by that link's channels' windows; the same holds toward the agent.
 * Control frames are bounded by the buffers' hard maxima: a link that
 * overflows its buffer is dropped, an agent that does ends the relay. */
#ifndef SG_RELAY_H
#define SG_RELAY_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

#define SG_RELAY_MAX_LINKS	128

struct sg_relay;

enum sg_relay_event {
	SG_RELAY_READY = 1,	/* the agent took CONFIG */
	SG_RELAY_DOWN,		/* the agent connection failed or ended */
	SG_RELAY_LINKS,		/* the number of links changed */
};

struct sg_relay_ops {
	/* why: a sentence for SG_RELAY_DOWN, else NULL. */
	void (*event)(void *arg, enum sg_relay_event ev, const char *why);
};

/* A relay for sandbox id (copied) whose agent must answer within boot_ms
 * of sg_relay_attach. */
int sg_relay_new(const struct sg_relay_ops *ops, void *arg, const char *id,
    uint32_t boot_ms, struct sg_relay **ret);
void sg_relay_free(struct sg_relay *r);

/* Starts the handshake on fd (a connected stream, taken), or when fd is
 * -1 by connecting to vsock cid; cfg is the CONFIG to send (taken; the
 * relay adds the clock). Once per relay. */
int sg_relay_attach(struct sg_relay *r, int fd, uint32_t cid,
    struct sg_config *cfg);

/* A worker's link (a connected stream socket, taken). -EUSERS past
 * SG_RELAY_MAX_LINKS, -ESHUTDOWN once the relay ends links. */
int sg_relay_add_link(struct sg_relay *r, int fd);

unsigned sg_relay_links(const struct sg_relay *r);
int sg_relay_is_ready(const struct sg_relay *r);
int sg_relay_is_down(const struct sg_relay *r);

/* Queues NOTICE(kind, text) to every link. With end, the links are
 * closed once that is written (their workers end the sessions with the
 * text) and no link is taken any more. */
void sg_relay_notice(struct sg_relay *r, uint8_t kind, const char *text,
    int end);

/* Queues POWEROFF(seconds) to the agent (when connected). */
int sg_relay_poweroff(struct sg_relay *r, uint32_t seconds);
/* 1 while bytes for the agent wait to be written (a POWEROFF, say): a
 * shim that ends waits for them, or for the agent connection to end. */
int sg_relay_pending(const struct sg_relay *r);

/* Poll integration: sg_relay_pollfds fills up to max entries (returning
 * how many it needs) and sets *ret_timeout_ms to the longest the caller
 * may sleep (or leaves it when longer); sg_relay_events then handles what
 * poll reported for those same entries. Deadlines (HELLO resends, the
 * boot timeout) run in sg_relay_pollfds. */
size_t sg_relay_pollfds(struct sg_relay *r, struct pollfd *pfd, size_t max,
    int64_t *ret_timeout_ms);
void sg_relay_events(struct sg_relay *r, const struct pollfd *pfd, size_t n);

#endif
