/* sg_bridge: a worker's authenticated SSH session bridged to the guest
 * agent, see bridge.h.
 *
 * Flow control is end to end. Toward the client, the agent may send only
 * what this worker granted (SG_CHAN_WINDOW per channel); granted bytes are
 * re-credited only once written into the SSH channel window, so a client
 * that stops reading stops the guest process. Toward the guest, the data
 * callback takes no more than the agent's credit; the rest stays in
 * libssh's channel buffer, which holds back libssh's window adjust. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/confine.h"
#include "common/log.h"
#include "common/util.h"
#include "common/proto.h"
#include "common/mpipe.h"
#include "gateway/bridge.h"


#define SG_CHAN_WINDOW		(256u * 1024)	/* agent -> client, per channel */
#define SG_CREDIT_BATCH		(32u * 1024)
#define SG_MAX_CHANNELS		32
#define SG_MAX_ENV		64
#define SG_MAX_ENV_LEN		4096
#define SG_AGENT_OUT_MAX	(8u << 20)
#define SG_STDIN_QUEUE		(2u << 20)	/* client -> guest, per channel */
/* libssh 0.10 keeps what the data callback leaves and accepts data past
 * the window it announced (1280000 bytes); more than this buffered means
 * the client ignores flow control. */
#define SG_CLIENT_OVERRUN	(2u << 20)
#define SG_MAX_ENV_TOTAL	(32u * 1024)

enum agent_state {
	AG_NONE,	/* no sandbox yet */
	AG_HELLO,	/* HELLO sent on the link; the shim answers once the
			 * sandbox's agent is ready */
	AG_READY,
	AG_FAILED,	/* could not start: fail every channel */
	AG_DEAD,	/* was ready, then the connection ended */
};

enum chan_state {
	CH_NEW,		/* waiting for shell/exec/subsystem */
	CH_QUEUED,	/* request taken, waiting for the agent */
	CH_OPENING,	/* OPEN sent */
	CH_OPEN,
	CH_EXITED,	/* EXIT received: flushing, then exit-status and close */
	CH_DONE,	/* SSH side closed by us */
};

struct bridge;

struct wchan {
	struct bridge *w;
	struct wchan *next;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	enum chan_state state;
	uint32_t id;
	int pty;
	char *term;
	uint16_t rows, cols;
	char *env[SG_MAX_ENV + 1];
	size_t envc;
	uint8_t kind;
	char *cmd;
	char *subsystem;
	char *host;		/* direct-tcpip: where, as seen from the guest */
	uint16_t port;
	uint32_t tx_credit;	/* bytes we may still send to the agent */
	struct sg_buf *in;	/* client data not yet sent to the agent */
	size_t env_bytes;
	int client_eof;		/* client sent EOF */
	int eof_sent;		/* EOF forwarded to the agent */
	uint32_t rx_allowed;	/* bytes the agent may still send us */
	uint32_t rx_uncredited;	/* written to SSH, not yet re-credited */
	struct sg_buf *out[2];	/* stdout, stderr toward the client */
	int agent_eof[2];
	int eof_to_client;	/* SSH EOF sent */
	int exit_kind;		/* -1 until EXIT */
	int exit_value, exit_core;
	int close_sent, close_rcvd;
	char *fail_msg;		/* message for the client before closing */
	int fail_status;
};

struct bridge {
	const struct sg_bridge_params *p;
	ssh_session session;
	/* counts libssh's calls into us: libssh dispatches packets inside
	 * ssh_channel_poll() and ssh_channel_write() too, so a pass over the
	 * channels can take in work that no later poll would report */
	unsigned gen;
	ssh_event ev;
	struct ssh_server_callbacks_struct scb;
	int mon_fd;
	struct sg_buf *mon_in;
	const char *token;	/* authenticated token name */
	const char *user;	/* SSH user name */
	/* sandbox */
	char *sbx_id, *sbx_image;
	int64_t sbx_expires;
	int agent_fd;
	short agent_events;
	enum agent_state ag;
	uint64_t nonce;
	int64_t boot_deadline_ms;
	struct sg_buf *ag_in, *ag_out;
	char *fail_reason;	/* why the sandbox could not start or died */
	int notice_kind;	/* the shim's last NOTICE that ends the sandbox */
	char *notice_text;
	uint32_t next_id;
	struct wchan *chans;
	size_t nchans;
	int quit;
};


static void __attribute__((noreturn))
die(const char *what)
{
	sg_err("%s", what);
	_exit(1);
}

/* --- agent connection --- */

static void agent_fail(struct bridge *w, const char *reason);
static int agent_cb(socket_t fd, int revents, void *userdata);
static void chan_write_stderr(struct wchan *c, const char *text);
static void chan_fail(struct wchan *c, const char *msg, int status);
static void chan_start(struct wchan *c);

static void
agent_update_events(struct bridge *w)
{
	short want = POLLIN;

	if (w->agent_fd < 0)
		return;
	if (sg_buf_len(w->ag_out) > 0)
		want |= POLLOUT;
	if (want == w->agent_events)
		return;
	ssh_event_remove_fd(w->ev, w->agent_fd);
	w->agent_events = want;
	ssh_event_add_fd(w->ev, w->agent_fd, want, agent_cb, w);
}

static void
agent_close(struct bridge *w)
{
	if (w->agent_fd < 0)
		return;
	ssh_event_remove_fd(w->ev, w->agent_fd);
	close(w->agent_fd);
	w->agent_fd = -1;
	w->agent_events = 0;
}

/* Queues a frame; a full output buffer means the agent stopped reading,
 * which ends the sandbox connection. */
static int
agent_check(struct bridge *w, int r)
{
	if (r < 0 && w->ag != AG_DEAD && w->ag != AG_FAILED)
		agent_fail(w, "the guest agent stopped reading");
	return r;
}

static struct wchan *
chan_by_id(struct bridge *w, uint32_t id)
{
	struct wchan *c;

	for (c = w->chans; c != NULL; c = c->next)
		if (c->id == id && c->state >= CH_OPENING && !c->close_rcvd)
			return c;
	return NULL;
}

/* The link's handshake: the shim answers HELLO once the sandbox's agent
 * is ready (it gave the agent its CONFIG itself). */
static void
send_hello(struct bridge *w)
{
	agent_check(w, sg_proto_put_hello(w->ag_out, w->nonce));
}

/* A NOTICE from the shim: a warning for terminals now, or why the
 * sandbox ends, for when the link closes. */
static void
handle_notice(struct bridge *w, const struct sg_msg *m)
{
	struct wchan *c;
	const char *text;
	char buf[1100];
	size_t len;
	uint8_t kind;

	if (sg_proto_get_notice(m, &kind, &text, &len) < 0) {
		agent_fail(w, "the gateway sent a malformed notice");
		return;
	}
	snprintf(buf, sizeof(buf), "%.*s", (int)len, text);
	if (kind == SG_NOTICE_WARN) {
		for (c = w->chans; c != NULL; c = c->next)
			if (c->pty && (c->state == CH_OPEN ||
			    c->state == CH_OPENING))
				chan_write_stderr(c, buf);
		return;
	}
	w->notice_kind = kind;
	free(w->notice_text);
	w->notice_text = strdup(buf);
}

static void
handle_agent_frame(struct bridge *w, const struct sg_msg *m)
{
	struct wchan *c;
	uint64_t u64;
	uint32_t u32, pid;
	uint16_t ver;
	const char *s;
	size_t slen;
	uint8_t a, b, d;

	if (m->type == SG_MSG_NOTICE) {
		handle_notice(w, m);
		return;
	}
	/* Before the handshake completes only HELLO_ACK counts. */
	if (w->ag == AG_HELLO) {
		if (m->type != SG_MSG_HELLO_ACK ||
		    sg_proto_get_hello_ack(m, &ver, &u64) < 0 ||
		    u64 != w->nonce || ver < SG_PROTO_VERSION_MIN ||
		    ver > SG_PROTO_VERSION) {
			agent_fail(w, "the gateway's shim broke the protocol");
			return;
		}
		w->ag = AG_READY;
		sg_info("sandbox %s: agent ready for %s", w->sbx_id,
		    w->p->peer);
		for (c = w->chans; c != NULL; c = c->next)
			if (c->state == CH_QUEUED)
				chan_start(c);
		return;
	}
	if (w->ag != AG_READY)
		return;
	switch (m->type) {
	case SG_MSG_PING:
		if (sg_proto_get_u64(m, &u64) == 0)
			agent_check(w, sg_proto_put_ping(w->ag_out, SG_MSG_PONG, u64));
		return;
	case SG_MSG_PONG:
		return;
	default:
		break;
	}
	c = chan_by_id(w, m->chan);
	if (c == NULL) {
		/* Frames for a channel we already closed are normal races;
		 * anything for an id we never opened is not. */
		if (m->chan == 0 || m->chan >= w->next_id)
			agent_fail(w, "the guest agent sent a frame for an unknown channel");
		return;
	}
	if (c->state == CH_DONE) {
		/* The client is gone from this channel: wait only for the
		 * agent to free the id (CLOSE, or OPEN_FAIL if it never ran). */
		if (m->type == SG_MSG_CLOSE || m->type == SG_MSG_OPEN_FAIL) {
			c->close_rcvd = 1;
			if (!c->close_sent) {
				c->close_sent = 1;
				agent_check(w, sg_proto_put_close(w->ag_out, c->id));
			}
		}
		return;
	}
	switch (m->type) {
	case SG_MSG_OPEN_OK:
		if (c->state != CH_OPENING ||
		    sg_proto_get_open_ok(m, &u32, &pid) < 0) {
			agent_fail(w, "the guest agent sent a bad OPEN_OK");
			return;
		}
		c->tx_credit = u32;
		c->state = CH_OPEN;
		break;
	case SG_MSG_OPEN_FAIL: {
		char text[512];
		int status = c->kind == SG_OPEN_PROCESS ? 127 : 1;

		if (c->state != CH_OPENING ||
		    sg_proto_get_open_fail(m, &u32, &s, &slen) < 0) {
			agent_fail(w, "the guest agent sent a bad OPEN_FAIL");
			return;
		}
		if (slen > 300)
			slen = 300;
		snprintf(text, sizeof(text), "sandgate: cannot start: %.*s (%s)",
		    (int)slen, s, strerror((int)u32));
		c->close_rcvd = 1;	/* the id is free after OPEN_FAIL */
		c->close_sent = 1;
		chan_fail(c, text, status);
		break;
	}
	case SG_MSG_DATA:
		if ((m->stream != SG_STREAM_STDOUT && m->stream != SG_STREAM_STDERR) ||
		    c->state < CH_OPEN || c->agent_eof[m->stream - 1] ||
		    m->len > c->rx_allowed) {
			agent_fail(w, "the guest agent broke flow control");
			return;
		}
		c->rx_allowed -= m->len;
		if (sg_buf_put(c->out[m->stream - 1], m->payload, m->len) < 0) {
			agent_fail(w, "the guest agent broke flow control");
			return;
		}
		break;
	case SG_MSG_CREDIT:
		if (sg_proto_get_u32(m, &u32) < 0 ||
		    u32 > SG_PROTO_MAX_WINDOW - c->tx_credit) {
			agent_fail(w, "the guest agent broke flow control");
			return;
		}
		c->tx_credit += u32;
		break;
	case SG_MSG_EOF:
		if (m->stream == SG_STREAM_STDOUT || m->stream == SG_STREAM_STDERR)
			c->agent_eof[m->stream - 1] = 1;
		break;
	case SG_MSG_EXIT:
		if (c->state != CH_OPEN ||
		    sg_proto_get_exit(m, &a, &b, &d) < 0) {
			agent_fail(w, "the guest agent sent a bad EXIT");
			return;
		}
		c->exit_kind = a;
		c->exit_value = b;
		c->exit_core = d;
		c->state = CH_EXITED;
		break;
	case SG_MSG_CLOSE:
		c->close_rcvd = 1;
		if (!c->close_sent) {
			c->close_sent = 1;
			agent_check(w, sg_proto_put_close(w->ag_out, c->id));
		}
		if (c->state == CH_OPEN || c->state == CH_OPENING)
			c->state = CH_EXITED;	/* closed without EXIT */
		break;
	default:
		agent_fail(w, "the guest agent sent an unexpected message");
		break;
	}
}

/* The shim's link broke (read EOF or a failed write) without a notice:
 * the shim ended (a crash, a kill); the sandbox itself may live. One
 * message whichever side saw it first. */
static void
link_lost(struct bridge *w)
{
	agent_fail(w, w->ag == AG_READY ? "the gateway lost its connection "
	    "to the sandbox; reconnect to a named sandbox to continue" :
	    "the sandbox stopped while booting");
}

static void
agent_read(struct bridge *w)
{
	struct sg_msg m;
	ssize_t n;
	int r;

	n = sg_buf_read_fd(w->ag_in, w->agent_fd, 0);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		link_lost(w);
		return;
	}
	for (;;) {
		r = sg_proto_peek(sg_buf_data(w->ag_in), sg_buf_len(w->ag_in),
		    &m);
		if (r == 0)
			break;
		if (r < 0) {
			agent_fail(w, "the guest agent sent a malformed frame");
			return;
		}
		handle_agent_frame(w, &m);
		if (w->agent_fd < 0)
			return;
		sg_buf_consume(w->ag_in, SG_PROTO_HDR_LEN + m.len);
	}
}

static int
agent_cb(socket_t fd, int revents, void *userdata)
{
	return 0;
}

/* --- channels --- */

static void
chan_write_stderr(struct wchan *c, const char *text)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "%s%s", text, c->pty ? "\r\n" : "\n");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* Short notices: they go ahead of the bounded output buffers. */
	if (c->pty)
		ssh_channel_write(c->ch, line, (uint32_t)n);
	else
		ssh_channel_write_stderr(c->ch, line, (uint32_t)n);
}

/* Ends a channel that has no process behind it (any more): shows msg on
 * stderr and reports status. */
static void
chan_fail(struct wchan *c, const char *msg, int status)
{
	free(c->fail_msg);
	c->fail_msg = msg ? strdup(msg) : NULL;
	c->fail_status = status;
	c->exit_kind = -1;
	c->state = CH_EXITED;
	c->agent_eof[0] = c->agent_eof[1] = 1;
}

static void
agent_fail(struct bridge *w, const char *reason)
{
	struct wchan *c;
	char text[512];
	int was_ready = w->ag == AG_READY;

	if (w->ag == AG_DEAD || w->ag == AG_FAILED)
		return;
	agent_close(w);
	if (w->notice_kind == SG_NOTICE_EXPIRED)
		reason = "the sandbox reached its maximum lifetime and was destroyed";
	else if (w->notice_kind == SG_NOTICE_KILLED)
		reason = "the sandbox was destroyed by an administrator";
	else if (w->notice_kind == SG_NOTICE_FAILED && w->notice_text != NULL)
		reason = w->notice_text;
	if (w->ag == AG_READY)
		snprintf(text, sizeof(text), "sandgate: sandbox %s ended: %s",
		    w->sbx_id ? w->sbx_id : "?", reason);
	else
		snprintf(text, sizeof(text), "sandbox could not be started: %s",
		    reason);
	sg_warn("%s: sandbox %s: %s", w->p->peer, w->sbx_id ? w->sbx_id : "-",
	    reason);
	free(w->fail_reason);
	w->fail_reason = strdup(text);
	w->ag = was_ready ? AG_DEAD : AG_FAILED;
	for (c = w->chans; c != NULL; c = c->next) {
		if (c->state == CH_DONE || c->state == CH_NEW)
			continue;
		if (c->state == CH_EXITED && c->exit_kind >= 0)
			continue;	/* already finished: deliver that */
		c->close_sent = c->close_rcvd = 1;
		chan_fail(c, w->fail_reason, 255);
	}
}

static int
chan_is_queued_kind(struct wchan *c)
{
	return c->state == CH_NEW;
}

/* Sends OPEN for a channel whose request has come in, once the agent is
 * ready; before that the channel waits in CH_QUEUED. */
static void
chan_start(struct wchan *c)
{
	struct bridge *w = c->w;
	struct sg_open o;
	char banner[256];
	int r;

	if (w->ag == AG_FAILED || w->ag == AG_DEAD) {
		chan_fail(c, w->fail_reason, 255);
		return;
	}
	if (w->ag != AG_READY) {
		c->state = CH_QUEUED;
		return;
	}
	memset(&o, 0, sizeof(o));
	o.kind = c->kind;
	o.flags = c->pty ? SG_OPEN_F_PTY : 0;
	o.rows = c->rows;
	o.cols = c->cols;
	o.credit = SG_CHAN_WINDOW;
	o.cmd = c->cmd;
	o.env = c->env;
	o.envc = c->envc;
	o.term = c->term;
	o.subsystem = c->subsystem;
	o.host = c->host;
	o.port = c->port;
	if (sg_buf_room(w->ag_out) < SG_PROTO_MAX_FRAME) {
		agent_fail(w, "the guest agent stopped reading");
		return;
	}
	c->id = w->next_id++;
	c->rx_allowed = SG_CHAN_WINDOW;
	r = sg_proto_put_open(w->ag_out, c->id, &o);
	if (r < 0) {
		/* The request itself does not fit a frame. */
		c->close_sent = c->close_rcvd = 1;
		chan_fail(c, "sandgate: the command and its environment are "
		    "too large", 1);
		return;
	}
	c->state = CH_OPENING;
	if (c->pty && c->cmd == NULL && c->kind == SG_OPEN_PROCESS) {
		int64_t left = w->sbx_expires - (int64_t)time(NULL);
		char dur[SG_UTIL_DURATION_BUFSZ];

		if (sg_util_format_duration((uint64_t)(left > 0 ? left : 0),
		    dur, sizeof(dur)) < 0)
			snprintf(dur, sizeof(dur), "?");
		snprintf(banner, sizeof(banner),
		    "sandgate: sandbox %s, image %s, %s left", w->sbx_id,
		    w->sbx_image, dur);
		chan_write_stderr(c, banner);
	}
}

static int
cb_pty_request(ssh_session s, ssh_channel ch, const char *term, int width,
    int height, int pxw, int pxh, void *ud)
{
	struct wchan *c = ud;

	c->w->gen++;	/* see event_loop */
	if (c->state != CH_NEW || c->pty || term == NULL || strlen(term) > 64)
		return -1;
	c->term = strdup(term);
	if (c->term == NULL)
		return -1;
	c->pty = 1;
	c->cols = width > 0 && width < 10000 ? (uint16_t)width : 80;
	c->rows = height > 0 && height < 10000 ? (uint16_t)height : 24;
	return 0;
}

static int
cb_env_request(ssh_session s, ssh_channel ch, const char *name,
    const char *value, void *ud)
{
	struct wchan *c = ud;
	size_t nl, vl, i;
	char *e;

	c->w->gen++;	/* see event_loop */
	if (c->state != CH_NEW || c->envc >= SG_MAX_ENV)
		return -1;
	nl = strlen(name);
	vl = strlen(value);
	if (nl == 0 || nl > 128 || vl > SG_MAX_ENV_LEN ||
	    c->env_bytes + nl + vl + 2 > SG_MAX_ENV_TOTAL)
		return -1;
	c->env_bytes += nl + vl + 2;
	for (i = 0; i < nl; i++)
		if (!(name[i] == '_' || (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= 'a' && name[i] <= 'z') ||
		    (i > 0 && name[i] >= '0' && name[i] <= '9')))
			return -1;
	e = malloc(nl + vl + 2);
	if (e == NULL)
		return -1;
	memcpy(e, name, nl);
	e[nl] = '=';
	memcpy(e + nl + 1, value, vl + 1);
	c->env[c->envc++] = e;
	c->env[c->envc] = NULL;
	return 0;
}

static int
cb_shell_request(ssh_session s, ssh_channel ch, void *ud)
{
	struct wchan *c = ud;

	c->w->gen++;	/* see event_loop */
	if (!chan_is_queued_kind(c))
		return -1;
	c->kind = SG_OPEN_PROCESS;
	chan_start(c);
	return 0;
}

static int
cb_exec_request(ssh_session s, ssh_channel ch, const char *command, void *ud)
{
	struct wchan *c = ud;

	c->w->gen++;	/* see event_loop */
	if (!chan_is_queued_kind(c) || strlen(command) > 32768)
		return -1;
	c->cmd = strdup(command);
	if (c->cmd == NULL)
		return -1;
	c->kind = SG_OPEN_PROCESS;
	chan_start(c);
	return 0;
}

static int
cb_subsystem_request(ssh_session s, ssh_channel ch, const char *name,
    void *ud)
{
	struct wchan *c = ud;

	c->w->gen++;	/* see event_loop */
	if (!chan_is_queued_kind(c) || strcmp(name, "sftp") != 0)
		return -1;
	c->subsystem = strdup(name);
	if (c->subsystem == NULL)
		return -1;
	c->kind = SG_OPEN_SUBSYSTEM;
	chan_start(c);
	return 0;
}

static int
cb_window_change(ssh_session s, ssh_channel ch, int width, int height,
    int pxw, int pxh, void *ud)
{
	struct wchan *c = ud;

	c->w->gen++;	/* see event_loop */
	if (!c->pty)
		return -1;
	c->cols = width > 0 && width < 10000 ? (uint16_t)width : c->cols;
	c->rows = height > 0 && height < 10000 ? (uint16_t)height : c->rows;
	if (c->state == CH_OPENING || c->state == CH_OPEN)
		agent_check(c->w, sg_proto_put_resize(c->w->ag_out, c->id,
		    c->rows, c->cols, 0, 0));
	return 0;
}

static const struct {
	const char *name;
	int num;
} sig_names[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "ABRT", SIGABRT }, { "FPE", SIGFPE },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },
	{ "TERM", SIGTERM },
};

static void
cb_signal(ssh_session s, ssh_channel ch, const char *name, void *ud)
{
	struct wchan *c = ud;
	size_t i;

	c->w->gen++;	/* see event_loop */
	if (c->state != CH_OPEN)
		return;
	for (i = 0; i < sizeof(sig_names) / sizeof(sig_names[0]); i++)
		if (strcmp(name, sig_names[i].name) == 0)
			agent_check(c->w, sg_proto_put_signal(c->w->ag_out, c->id,
			    (uint8_t)sig_names[i].num));
}

/* Client -> guest: queue what fits in the channel's bounded queue; libssh
 * keeps the rest and holds back the client's window while it does. */
static int
cb_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *ud)
{
	struct wchan *c = ud;
	size_t n;

	c->w->gen++;	/* see event_loop */
	if (len > SG_CLIENT_OVERRUN) {
		sg_warn("%s: the client sends past its window: disconnecting",
		    c->w->p->peer);
		c->w->quit = 1;
		return (int)len;
	}
	if (is_stderr || c->state >= CH_EXITED)
		return (int)len;	/* nothing reads it: drop */
	n = sg_buf_room(c->in);
	if (n > len)
		n = len;
	if (n > 0 && sg_buf_put(c->in, data, n) < 0)
		return 0;
	return (int)n;
}

static void
cb_eof(ssh_session s, ssh_channel ch, void *ud)
{
	struct wchan *c = ud;

	c->w->gen++;	/* see event_loop */
	c->client_eof = 1;
}

static void
cb_close(ssh_session s, ssh_channel ch, void *ud)
{
	struct wchan *c = ud;
	struct bridge *w = c->w;

	w->gen++;	/* see event_loop */
	if ((c->state == CH_OPENING || c->state == CH_OPEN ||
	    c->state == CH_EXITED) && !c->close_sent && w->ag == AG_READY) {
		c->close_sent = 1;
		agent_check(w, sg_proto_put_close(w->ag_out, c->id));
	}
	/* The client closed first: it waits for our CLOSE, which libssh
	 * 0.10 does not send by itself once the remote side closed. */
	if (c->state != CH_DONE)
		ssh_channel_close(ch);
	c->state = CH_DONE;
}

/* Wraps a new SSH channel (ownership passes here) in a wchan with our
 * callbacks. Returns NULL (the channel freed) when over the limit or out
 * of memory. */
static struct wchan *
chan_new(struct bridge *w, ssh_channel ch)
{
	struct wchan *c;

	if (ch == NULL)
		return NULL;
	if (w->nchans >= SG_MAX_CHANNELS)
		goto fail_ch;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail_ch;
	c->w = w;
	c->ch = ch;
	c->exit_kind = -1;
	c->out[0] = sg_buf_new(SG_CHAN_WINDOW);
	c->out[1] = sg_buf_new(SG_CHAN_WINDOW);
	c->in = sg_buf_new(SG_STDIN_QUEUE);
	if (c->out[0] == NULL || c->out[1] == NULL || c->in == NULL)
		goto fail;
	c->cb.userdata = c;
	c->cb.channel_data_function = cb_data;
	c->cb.channel_eof_function = cb_eof;
	c->cb.channel_close_function = cb_close;
	c->cb.channel_signal_function = cb_signal;
	c->cb.channel_pty_request_function = cb_pty_request;
	c->cb.channel_shell_request_function = cb_shell_request;
	c->cb.channel_exec_request_function = cb_exec_request;
	c->cb.channel_env_request_function = cb_env_request;
	c->cb.channel_subsystem_request_function = cb_subsystem_request;
	c->cb.channel_pty_window_change_function = cb_window_change;
	ssh_callbacks_init(&c->cb);
	if (ssh_set_channel_callbacks(c->ch, &c->cb) != SSH_OK)
		goto fail;
	c->next = w->chans;
	w->chans = c;
	w->nchans++;
	return c;
fail:
	sg_buf_free(c->out[0]);
	sg_buf_free(c->out[1]);
	sg_buf_free(c->in);
	free(c);
fail_ch:
	ssh_channel_free(ch);
	return NULL;
}

static ssh_channel
cb_channel_open(ssh_session s, void *ud)
{
	struct wchan *c = chan_new(ud, ssh_channel_new(s));

	((struct bridge *)ud)->gen++;	/* see event_loop */
	return c != NULL ? c->ch : NULL;
}

/* Messages no server callback takes. direct-tcpip (ssh -L, -D, VS Code)
 * becomes a TCP channel from inside the guest: accepted at once (libssh
 * frees the message after this callback, so the answer cannot wait for
 * the guest's connect); when nothing listens there, the channel closes
 * at once. Everything else (tcpip-forward for ssh -R, x11, agent
 * forwarding) gets libssh's refusal. */
static int
cb_message(ssh_session s, ssh_message msg, void *ud)
{
	struct bridge *w = ud;
	struct wchan *c;
	const char *host;
	int port;

	w->gen++;	/* see event_loop */
	if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(msg) != SSH_CHANNEL_DIRECT_TCPIP)
		return 1;
	host = ssh_message_channel_request_open_destination(msg);
	port = ssh_message_channel_request_open_destination_port(msg);
	if (host == NULL || strlen(host) == 0 || strlen(host) > 255 ||
	    port <= 0 || port > 65535 || w->nchans >= SG_MAX_CHANNELS)
		return 1;
	c = chan_new(w, ssh_message_channel_request_open_reply_accept(msg));
	if (c == NULL)
		return 0;
	c->host = strdup(host);
	if (c->host == NULL) {
		c->state = CH_EXITED;
		c->exit_kind = -1;
		return 0;
	}
	c->port = (uint16_t)port;
	c->kind = SG_OPEN_TCP;
	chan_start(c);
	return 0;
}

static void
chan_free(struct wchan *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->ch != NULL) {
		/* libssh may keep the channel until the client's CLOSE comes:
		 * it must not call back into the struct freed here. */
		ssh_remove_channel_callbacks(c->ch, &c->cb);
		ssh_channel_free(c->ch);
	}
	sg_buf_free(c->out[0]);
	sg_buf_free(c->out[1]);
	sg_buf_free(c->in);
	for (i = 0; i < c->envc; i++)
		free(c->env[i]);
	free(c->term);
	free(c->cmd);
	free(c->subsystem);
	free(c->host);
	free(c->fail_msg);
	free(c);
}

/* Client -> guest: sends queued client data as far as the agent's credit
 * goes, then refills the queue from what libssh kept. libssh re-opens the
 * client's window on every read, so the queue takes all of libssh's
 * buffer at once or nothing: what libssh holds never exceeds one window. */
static void
chan_pump_stdin(struct wchan *c)
{
	struct bridge *w = c->w;
	uint8_t *dst;
	uint32_t n;
	int avail, got;

	while (c->state == CH_OPEN) {
		while (c->tx_credit > 0 && sg_buf_len(c->in) > 0 &&
		    sg_buf_room(w->ag_out) > SG_PROTO_DATA_CHUNK + 4096) {
			n = (uint32_t)sg_buf_len(c->in);
			if (n > c->tx_credit)
				n = c->tx_credit;
			if (n > SG_PROTO_DATA_CHUNK)
				n = SG_PROTO_DATA_CHUNK;
			if (agent_check(w, sg_proto_put_data(w->ag_out, c->id,
			    SG_STREAM_STDIN, sg_buf_data(c->in), n)) < 0)
				return;
			sg_buf_consume(c->in, n);
			c->tx_credit -= n;
		}
		avail = ssh_channel_poll(c->ch, 0);
		if (avail <= 0 || (size_t)avail > sg_buf_room(c->in))
			break;
		if (sg_buf_reserve(c->in, (size_t)avail, &dst) < 0)
			break;
		got = ssh_channel_read_nonblocking(c->ch, dst, (uint32_t)avail, 0);
		if (got <= 0)
			break;
		sg_buf_commit(c->in, (size_t)got);
		if (c->tx_credit == 0)
			break;
	}
	if (c->state == CH_OPEN && c->client_eof && !c->eof_sent &&
	    sg_buf_len(c->in) == 0 && ssh_channel_poll(c->ch, 0) <= 0) {
		c->eof_sent = 1;
		agent_check(w, sg_proto_put_eof(w->ag_out, c->id, SG_STREAM_STDIN));
	}
}

static const char *
sig_name(int num)
{
	size_t i;

	for (i = 0; i < sizeof(sig_names) / sizeof(sig_names[0]); i++)
		if (sig_names[i].num == num)
			return sig_names[i].name;
	return NULL;
}

/* Agent -> client: write what the SSH window allows, re-credit the agent
 * for what left, and finish the channel once everything is out. */
static void
chan_flush(struct wchan *c)
{
	struct bridge *w = c->w;
	uint32_t win, n;
	int i, r;

	if (c->state == CH_DONE || c->state < CH_OPEN)
		return;
	/* A client that stops reading its TCP socket must not make libssh's
	 * output buffer grow: write only when it has drained. */
	for (i = 0; i < 2 && !(ssh_get_status(w->session) & SSH_WRITE_PENDING);
	    i++) {
		while (sg_buf_len(c->out[i]) > 0) {
			win = ssh_channel_window_size(c->ch);
			if (win == 0)
				break;
			n = (uint32_t)sg_buf_len(c->out[i]);
			if (n > win)
				n = win;
			if (n > SG_PROTO_DATA_CHUNK)
				n = SG_PROTO_DATA_CHUNK;
			r = i == 0 ?
			    ssh_channel_write(c->ch, sg_buf_data(c->out[i]), n) :
			    ssh_channel_write_stderr(c->ch, sg_buf_data(c->out[i]), n);
			if (r <= 0)
				break;
			sg_buf_consume(c->out[i], (size_t)r);
			c->rx_uncredited += (uint32_t)r;
		}
	}
	if (c->rx_uncredited > 0 && w->ag == AG_READY && c->state == CH_OPEN &&
	    (c->rx_uncredited >= SG_CREDIT_BATCH ||
	    (sg_buf_len(c->out[0]) == 0 && sg_buf_len(c->out[1]) == 0))) {
		if (agent_check(w, sg_proto_put_credit(w->ag_out, c->id,
		    c->rx_uncredited)) == 0) {
			c->rx_allowed += c->rx_uncredited;
			c->rx_uncredited = 0;
		}
	}
	if (c->state == CH_OPEN)
		chan_pump_stdin(c);
	/* A TCP peer in the guest half-closed: the client hears EOF as soon
	 * as what came before it is out. (A process's EOF goes with its exit
	 * status, below.) */
	if (!c->eof_to_client && c->agent_eof[0] && c->kind == SG_OPEN_TCP &&
	    sg_buf_len(c->out[0]) == 0 && sg_buf_len(c->out[1]) == 0 &&
	    c->state == CH_OPEN) {
		ssh_channel_send_eof(c->ch);
		c->eof_to_client = 1;
	}
	if (c->state != CH_EXITED || sg_buf_len(c->out[0]) > 0 ||
	    sg_buf_len(c->out[1]) > 0)
		return;
	if (c->kind == SG_OPEN_TCP) {
		/* A forwarded connection has no exit status: it just ends. */
	} else if (c->exit_kind == SG_EXIT_SIGNAL && sig_name(c->exit_value) != NULL) {
		ssh_channel_request_send_exit_signal(c->ch,
		    sig_name(c->exit_value), c->exit_core, "", "");
	} else if (c->exit_kind == SG_EXIT_SIGNAL) {
		ssh_channel_request_send_exit_status(c->ch, 128 + c->exit_value);
	} else if (c->exit_kind == SG_EXIT_CODE) {
		ssh_channel_request_send_exit_status(c->ch, c->exit_value);
	} else {
		if (c->fail_msg != NULL) {
			/* whole or not yet: a client that stopped reading
			 * (the window spent on output before the end) gets
			 * the message once it reads again, not a piece of it */
			if (ssh_channel_window_size(c->ch) <
			    strlen(c->fail_msg) + 2)
				return;
			chan_write_stderr(c, c->fail_msg);
			free(c->fail_msg);
			c->fail_msg = NULL;
		}
		ssh_channel_request_send_exit_status(c->ch, c->fail_status);
	}
	if (!c->eof_to_client)
		ssh_channel_send_eof(c->ch);
	c->eof_to_client = 1;
	ssh_channel_close(c->ch);
	if (!c->close_sent && w->ag == AG_READY && c->id != 0) {
		c->close_sent = 1;
		agent_check(w, sg_proto_put_close(w->ag_out, c->id));
	}
	c->state = CH_DONE;
}

/* --- monitor notices and the sandbox hand-over --- */

/* Starts the handshake on a connected agent stream (ours from now on). */
static void
agent_attach(struct bridge *w, int fd)
{
	int fl;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("cannot make the agent connection non-blocking");
	w->agent_fd = fd;
	w->agent_events = POLLIN;
	ssh_event_add_fd(w->ev, fd, POLLIN, agent_cb, w);
	w->ag = AG_HELLO;
	send_hello(w);
}

static void
handle_started(struct bridge *w, struct sg_cur *c, int fd)
{
	uint32_t boot_ms;

	if (sg_mp_get_str(c, 64, &w->sbx_id) < 0 ||
	    sg_mp_get_str(c, 64, &w->sbx_image) < 0)
		die("monitor sent a bad STARTED");
	w->sbx_expires = (int64_t)sg_cur_u64(c);
	boot_ms = sg_cur_u32(c);
	if (c->err || c->n != 0)
		die("monitor sent a bad STARTED");
	if (fd < 0)
		die("monitor sent STARTED without the shim link");
	if (getrandom(&w->nonce, sizeof(w->nonce), 0) != sizeof(w->nonce))
		die("getrandom failed");
	/* the shim's own deadline comes first: this is a backstop */
	w->boot_deadline_ms = sg_mono_ms() + boot_ms + 5000;
	agent_attach(w, fd);
}

static void
mon_read(struct bridge *w)
{
	struct sg_cur c;
	char *text = NULL;
	ssize_t n;
	int fd;

	n = sg_mp_recv(w->mon_fd, w->mon_in, &fd);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		/* The monitor restarted: this connection goes on through
		 * its link to the shim, which the new monitor adopts. */
		ssh_event_remove_fd(w->ev, w->mon_fd);
		sg_mp_log_via(NULL);
		sg_confine_report_to(-1);
		close(w->mon_fd);
		w->mon_fd = -1;
		if (w->ag == AG_NONE && w->token != NULL && w->sbx_id == NULL) {
			/* it went before our sandbox was handed over */
			w->ag = AG_HELLO;
			agent_fail(w, "the gateway restarted while the sandbox "
			    "was being prepared: connect again");
		}
		return;
	}
	sg_cur_init(&c, sg_buf_data(w->mon_in) + 1, sg_buf_len(w->mon_in) - 1);
	switch (sg_buf_data(w->mon_in)[0]) {
	case SG_MP_STARTED:
		if (w->ag != AG_NONE)
			die("monitor sent STARTED twice");
		handle_started(w, &c, fd);
		return;
	case SG_MP_START_FAIL:
		if (fd >= 0)
			close(fd);
		if (w->ag != AG_NONE || sg_mp_get_str(&c, 1024, &text) < 0)
			die("monitor sent a bad START_FAIL");
		w->ag = AG_HELLO;	/* so agent_fail words it as a start failure */
		agent_fail(w, text);
		free(text);
		return;
	default:
		die("monitor sent an unknown message");
	}
}

static int
mon_cb(socket_t fd, int revents, void *userdata)
{
	return 0;
}

static void
request_sandbox(struct bridge *w)
{
	struct sg_buf *req = sg_buf_new(SG_MP_MAX);

	if (req == NULL || sg_buf_put_u8(req, SG_MP_START) < 0 ||
	    sg_mp_put_str(req, w->user) < 0 ||
	    sg_mp_send(w->mon_fd, req, -1) < 0)
		die("cannot reach the monitor");
	sg_buf_free(req);
}

/* --- main loop --- */

static void
reap_channels(struct bridge *w)
{
	struct wchan **pp = &w->chans, *c;

	while ((c = *pp) != NULL) {
		/* Free only once both ends are done with the ids. */
		if (c->state == CH_DONE && (c->close_rcvd || c->id == 0 ||
		    w->ag != AG_READY)) {
			*pp = c->next;
			w->nchans--;
			chan_free(c);
			continue;
		}
		pp = &c->next;
	}
}

static void
event_loop(struct bridge *w)
{
	struct wchan *c;
	int64_t now, timeout;
	int r;

	while (!w->quit) {
		unsigned gen, passes = 0;

		/* again while a pass took in new work (see gen) */
		do {
			gen = w->gen;
			for (c = w->chans; c != NULL; c = c->next)
				chan_flush(c);
		} while (gen != w->gen && ++passes < 8);
		reap_channels(w);
		if (w->agent_fd >= 0 && sg_buf_len(w->ag_out) > 0) {
			ssize_t n = sg_buf_write_fd(w->ag_out, w->agent_fd);

			if (n < 0 && n != -EAGAIN)
				link_lost(w);
		}
		agent_update_events(w);
		now = sg_mono_ms();
		timeout = 60000;
		/* The shim reports a boot that fails; this is the
		 * backstop for a shim that says nothing. */
		if (w->ag == AG_HELLO) {
			if (now >= w->boot_deadline_ms) {
				agent_fail(w, "the guest agent did not answer in time");
				continue;
			}
			timeout = w->boot_deadline_ms - now;
		}
		if (gen != w->gen)
			timeout = 0;	/* still taking work in: poll, then again */
		r = ssh_event_dopoll(w->ev, (int)timeout);
		if (r == SSH_ERROR && !ssh_is_connected(w->session))
			break;
		if (w->mon_fd >= 0)
			mon_read(w);
		if (w->agent_fd >= 0)
			agent_read(w);
		if (!ssh_is_connected(w->session))
			break;
	}
}

void
sg_bridge_run(const struct sg_bridge_params *p)
{
	struct bridge w;
	int fl;

	memset(&w, 0, sizeof(w));
	w.p = p;
	w.session = p->session;
	w.mon_fd = p->mon_fd;
	w.token = p->token;
	w.user = p->user;
	w.agent_fd = -1;
	w.next_id = 1;
	w.mon_in = sg_buf_new(SG_MP_MAX);
	w.ag_in = sg_buf_new(2 * SG_PROTO_MAX_FRAME);
	w.ag_out = sg_buf_new(SG_AGENT_OUT_MAX);
	if (w.mon_in == NULL || w.ag_in == NULL || w.ag_out == NULL)
		die("out of memory");
	w.scb.userdata = &w;
	w.scb.channel_open_request_session_function = cb_channel_open;
	ssh_callbacks_init(&w.scb);
	ssh_set_server_callbacks(w.session, &w.scb);
	ssh_set_message_callback(w.session, cb_message, &w);
	w.ev = ssh_event_new();
	if (w.ev == NULL || ssh_event_add_session(w.ev, w.session) != SSH_OK)
		die("cannot set up the worker's event loop");
	fl = fcntl(w.mon_fd, F_GETFL);
	if (fl >= 0)
		fcntl(w.mon_fd, F_SETFL, fl | O_NONBLOCK);
	ssh_event_add_fd(w.ev, w.mon_fd, POLLIN, mon_cb, &w);
	ssh_set_blocking(w.session, 0);
	request_sandbox(&w);
	event_loop(&w);
	ssh_disconnect(w.session);
	_exit(0);
}
