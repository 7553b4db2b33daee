/* fr: sandgate-front, the inbound HTTPS front of exposed ports.
 *
 * front.c is the process: the feed from the monitor (common/exfeed.h),
 * the table of exposed ports (routes), the TLS context, the box.
 * fconn.c handles each client connection: TLS, the request head
 * (common/httphead.h), the route and the credential (common/explink.h),
 * the guest's port, the relay of bodies, responses and WebSocket. This
 * header is private to the two. */
#ifndef FR_FRONT_H
#define FR_FRONT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "common/exfeed.h"

struct event_base;
struct fr;

/* One exposed port. Connections hold a reference; UNEXPOSE marks it
 * gone (no new request is routed to it) and it is freed with its last
 * connection. */
struct fr_route {
	struct fr_route *next;
	struct sg_xf_expose e;
	unsigned refs;
	int gone;
	int stale;		/* RESYNC: not sent again yet */
};

struct event_base *fr_base(struct fr *fr);
SSL_CTX *fr_ctx(struct fr *fr);
const struct sg_xf_config *fr_cfg(const struct fr *fr);

/* The live route of a label, or NULL. */
struct fr_route *fr_route_find(struct fr *fr, const char *label, size_t len);
void fr_route_ref(struct fr_route *rt);
void fr_route_unref(struct fr *fr, struct fr_route *rt);

/* Client connections open to sandbox id (counted by fr_sbx_enter), and
 * the change of that count; all connections. */
unsigned fr_sbx_conns(struct fr *fr, const char *id);
int fr_sbx_enter(struct fr *fr, const char *id);
void fr_sbx_leave(struct fr *fr, const char *id);
unsigned fr_conns(const struct fr *fr);
void fr_conn_count(struct fr *fr, int delta);

/* One audit event to the monitor: key, value, ..., NULL (NULL values
 * skipped). */
void fr_audit(struct fr *fr, const char *event, ...);

/* fconn.c: takes over an accepted socket. */
void fc_accept(struct fr *fr, int fd, const struct sockaddr *sa, int salen);
/* Closes the connections that use rt (gone). */
void fc_route_gone(struct fr_route *rt);

#endif
