/* px_conn, WebSocket: the relay after a 101. See pxconn.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "netpolicy/allow.h"
#include "secrets/proxy.h"
#include "secrets/pxconn.h"

static void
u_written_free(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		pxc_free(arg);
}

/* The client ended a tunnel: what it sent, and what is still queued
 * toward the upstream, goes there first (idle_ms per write at most);
 * then both connections end. */
void
pxc_ws_guest_eof(struct px_conn *cn)
{
	struct timeval tv = pxc_tv(px_cfg(cn->px)->idle_ms);

	evbuffer_add_buffer(bufferevent_get_output(cn->u),
	    bufferevent_get_input(cn->c));
	cn->closing = 1;
	bufferevent_free(cn->c);
	cn->c = NULL;
	bufferevent_setwatermark(cn->u, EV_WRITE, 0, 0);
	bufferevent_setcb(cn->u, pxc_drain_read, u_written_free, pxc_free_event,
	    cn);
	bufferevent_set_timeouts(cn->u, NULL, &tv);
	bufferevent_enable(cn->u, EV_READ | EV_WRITE);
	pxc_drain_read(cn->u, cn);	/* reading resumes: a writer is not stuck */
	u_written_free(cn->u, cn);
}

void
pxc_ws_pump(struct px_conn *cn)
{
	struct evbuffer *ci = bufferevent_get_input(cn->c);
	struct evbuffer *ui = bufferevent_get_input(cn->u);

	if (evbuffer_get_length(bufferevent_get_output(cn->u)) < PX_HIGH)
		evbuffer_remove_buffer(ci, bufferevent_get_output(cn->u),
		    evbuffer_get_length(ci));
	if (evbuffer_get_length(bufferevent_get_output(cn->c)) < PX_HIGH)
		evbuffer_remove_buffer(ui, bufferevent_get_output(cn->c),
		    evbuffer_get_length(ui));
}
