/* px_conn: one connection from a sandbox through sandgate-proxy.
 *
 * This header is private to the files of the connection module, each of
 * which owns one stage of the exchange:
 *
 *   pxguest.c  accept (the source address names the sandbox,
 *              SO_ORIGINAL_DST the port it meant), the ClientHello and
 *              TLS toward the guest, the guest's bufferevent, refusals
 *              (pxc_respond), closing and freeing
 *   pxreq.c    each request head, parsed (httphead.c) and checked: Host
 *              against the SNI, allow_net, placeholders (scan.c); the
 *              head rewritten for the upstream (placeholders to values,
 *              the encoding the proxy must be able to read); the body,
 *              scanned and held back by PX_HOLD bytes so that a
 *              placeholder is never half sent
 *   pxup.c     the upstream: the proxy's own name resolution, the address
 *              checks, connect (TLS verified for 443), idle connections
 *              kept per sandbox and host, TLS sessions, retries
 *   pxresp.c   the response: heads and bodies decoded (content codings
 *              included, coding.c) and redacted (redact.c), so that no
 *              secret value comes back in any form the proxy knows
 *   pxws.c     WebSocket after a 101: frames parsed both ways (wsframe.c),
 *              the upstream's payloads redacted, the guest's scanned
 *
 * One request at a time per connection: pipelined requests wait in the
 * input buffer and are checked one by one. The proxy process (proxy.c)
 * is reached only through the functions of proxy.h. */
#ifndef SP_PXCONN_H
#define SP_PXCONN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/event.h>

#include "secrets/clienthello.h"
#include "common/httphead.h"
#include "secrets/rewrite.h"

struct bufferevent;
struct evbuffer;
struct evdns_getaddrinfo_request;
struct px;
struct px_sbx;
struct px_secret;
struct sg_buf;
struct sp_scan;
struct sp_redact;
struct sp_coding;
struct px_ws;
struct sg_allow;

#define PX_HOLD		1024		/* request body bytes held for the scanner */
#define PX_HIGH		(256u << 10)	/* stop reading the other side above this */
#define PX_SUB_MAX	(8u << 20)	/* bodies substituted are buffered: cap */

/* A message body being relayed. */
struct px_body {
	enum sg_http_body kind;
	uint64_t left;
	struct sg_http_chunked ch;
	int done;
};

struct px_conn {
	struct px *px;
	struct px_sbx *sbx;
	int fd;			/* until a bufferevent owns it */
	int tls;
	uint16_t port;		/* 80 or 443 */
	char peer[INET_ADDRSTRLEN];
	char orig[INET_ADDRSTRLEN + 8];
	char sni[SP_CH_NAME_MAX + 1];
	struct event *ev;	/* ClientHello wait, then the head timer */
	struct bufferevent *c, *u;
	int closing;
	int dead;		/* freed when the DNS callback comes */
	struct evdns_getaddrinfo_request *dnsreq;
	/* upstream */
	char uhost[SG_HTTP_HOST_BUF];
	char uaddr[INET6_ADDRSTRLEN + 8];
	struct sockaddr_storage uss;	/* where it is connected */
	socklen_t ulen;
	int u_override;		/* the address came from [network] resolve */
	int u_ok, u_keep;
	int u_reused;		/* cn->u answered an earlier request */
	int up_persist;		/* the head sent upstream asks to keep it */
	/* the request in progress */
	int in_req;
	struct sg_http_head rq;
	struct sg_buf *head;	/* rewritten, wiped: may hold values */
	int head_sent;
	char method[32], path[256], host[SG_HTTP_HOST_BUF];
	struct sp_rw_pair hp[SP_RW_MAX_PAIRS], qp[SP_RW_MAX_PAIRS],
	    bp[SP_RW_MAX_PAIRS];
	size_t nhp, nqp, nbp;
	size_t hpi[SP_RW_MAX_PAIRS], qpi[SP_RW_MAX_PAIRS], bpi[SP_RW_MAX_PAIRS];
	uint64_t used;		/* placeholders substituted, by index */
	int sensitive;		/* the host is approved for one of the
				 * sandbox's secrets: the proxy owns the
				 * response's encoding */
	int sub_body, ws, rq_done;
	struct px_body rqb;
	struct evbuffer *hold;
	struct sp_scan *scan;
	/* the response */
	struct sg_http_head rs;
	int rs_head, rs_done, rs_chunked, rs_close, tunnel;
	int rs_interim;		/* a 1xx came for this request */
	struct px_body rsb;
	struct sp_redact *red;	/* bodies and WebSocket messages; NULL while
				 * the sandbox has no value to redact */
	struct sp_redact *red1;	/* heads and control frames, one at a time */
	int rs_redact;		/* this body goes through red */
	struct sp_coding *dec;	/* this body's content coding, decoded */
	uint64_t redacted;	/* values taken out of this response, by
				 * index in red's set */
	uint64_t reported;	/* those already audited on this connection */
	struct px_ws *wsr;	/* the WebSocket relay after a 101 */
	int keep;
	int c_eof;		/* the client half-closed */
	int u_eof;		/* the upstream closed */
	int64_t t0;		/* accepted, monotonic ms */
	int rq_parsing;		/* cn->rq holds a head parsed in part */
	int rs_parsing;		/* cn->rs likewise */
};

static inline struct timeval
pxc_tv(uint32_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* pxguest.c */
/* Frees cn and everything it holds (deferred while a DNS query runs). */
void pxc_free(struct px_conn *cn);
/* Ends the connection gracefully: what is queued for the guest goes
 * first, what the guest still sends is read and dropped. */
void pxc_close(struct px_conn *cn);
/* Answers the current request with status and a plain-text reason,
 * audits it and closes. Nothing was sent to the guest for it before. */
void pxc_respond(struct px_conn *cn, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The proxy_request audit event of the current request. */
void pxc_audit(struct px_conn *cn, const char *decision, int status,
    const char *reason);
void pxc_nodelay(int fd);
/* Bufferevent callbacks of a side being closed: input dropped; any
 * event frees the connection. */
void pxc_drain_read(struct bufferevent *bev, void *arg);
void pxc_free_event(struct bufferevent *bev, short what, void *arg);

/* pxreq.c */
void pxc_head_try(struct px_conn *cn);
void pxc_rq_pump(struct px_conn *cn);
/* Forgets the exchange that ended: ready for the next request. */
void pxc_rq_reset(struct px_conn *cn);
/* Whether the allow list a lets the current request's host (and port)
 * through. */
int pxc_host_allowed(const struct sg_allow *a, const struct px_conn *cn);

/* pxup.c */
/* Resolves the request's host and connects (or reuses a kept
 * connection); answers the request itself when it cannot. */
void pxc_up_open(struct px_conn *cn);
/* Keeps cn->u for the sandbox's next request to the same host when it
 * may be kept, else closes it. */
void pxc_pool_put(struct px_conn *cn);
/* Takes a kept connection for the current request; 1 when there was one. */
int pxc_pool_get(struct px_conn *cn);
/* Sends a request again over a new connection when the kept one closed
 * as it was reused (RFC 9112 9.3.1); 1 when it does. */
int pxc_up_retry(struct px_conn *cn);

/* Checks scan's verdict on what the guest sent so far (final: nothing
 * more comes for this part): a placeholder of this sandbox that may not
 * go to this host, or any other sandbox's. Returns 1 when the guest's
 * bytes must not go on, with the audit event sent, the log written and
 * the reason in why[0..whysz); 0 when they may. */
int pxc_scan_verdict(struct px_conn *cn, struct sp_scan *scan,
    const char *where, int final, char *why, size_t whysz);

/* pxresp.c */
void pxc_rs_pump(struct px_conn *cn);
/* Forgets the response that ended (its coding, its redaction state). */
void pxc_rs_reset(struct px_conn *cn);
/* Frees what the response side holds (the connection ends). */
void pxc_rs_free(struct px_conn *cn);
/* Makes sure cn->red and cn->red1 redact the values of the secrets in
 * force now (NULL both when the sandbox has none). -ENOMEM. */
int pxc_red_setup(struct px_conn *cn);
/* Sends the audit event for the values taken out of this response, each
 * the first time on this connection, and forgets them. */
void pxc_red_audit(struct px_conn *cn, const char *where);

/* pxws.c: the relay after a 101, frames read both ways */
/* Starts the relay (cn->tunnel set). -ENOMEM. */
int pxc_ws_start(struct px_conn *cn);
void pxc_ws_free(struct px_ws *w);
/* Moves what can move both ways. */
void pxc_ws_pump(struct px_conn *cn);
/* The guest closed its side: what it sent goes on, then both end. */
void pxc_ws_guest_eof(struct px_conn *cn);
/* The upstream closed: what it sent goes to the guest, then both end. */
void pxc_ws_up_eof(struct px_conn *cn);

#endif
