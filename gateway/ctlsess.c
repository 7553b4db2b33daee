/* sg_ctlsess: the control user's SSH session (ctlsess.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "common/buf.h"
#include "common/confine.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "gateway/ctlsess.h"

#define CS_MAX_CHANNELS	8
#define CS_OUT_MAX	(2u << 20)
#define CS_WRITE_CHUNK	(32u * 1024)

enum cs_state {
	CS_NEW,		/* waiting for exec or shell */
	CS_QUEUED,	/* has its command; waits for its turn */
	CS_RUNNING,	/* the monitor runs it */
	CS_ENDING,	/* output and status to the client, then close */
	CS_DONE,	/* closed by us or by the client */
};

struct csess;

struct cchan {
	struct cchan *next;
	struct csess *s;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	enum cs_state state;
	char *cmd;
	int longer;		/* cmd was cut to SG_MP_MAX_STR bytes */
	int shell;		/* a shell request: help, then status 2 */
	struct sg_buf *out[2];
	int status;
	int client_closed;
};

struct csess {
	ssh_session session;
	unsigned gen;		/* work libssh's callbacks gave us (see the loop) */
	ssh_event ev;
	struct ssh_server_callbacks_struct scb;
	int mon_fd;
	struct sg_buf *mon_in, *req;
	struct cchan *chans;
	unsigned nchans;
	struct cchan *running;	/* its command is with the monitor */
	int mon_gone;
};

static void __attribute__((noreturn))
die(const char *what)
{
	sg_err("%s", what);
	_exit(1);
}

/* --- channels --- */

static int
cb_data(ssh_session ss, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *ud)
{
	(void)ss;
	(void)ch;
	(void)data;
	(void)is_stderr;
	(void)ud;
	return (int)len;	/* commands read no input */
}

static void
cb_close(ssh_session ss, ssh_channel ch, void *ud)
{
	struct cchan *c = ud;

	(void)ss;
	c->s->gen++;
	c->client_closed = 1;
	/* the client waits for our CLOSE (libssh 0.10 does not send it
	 * once the remote side closed) */
	if (c->state != CS_DONE)
		ssh_channel_close(ch);
	if (c->state != CS_RUNNING)
		c->state = CS_DONE;
}

static int
cb_pty(ssh_session ss, ssh_channel ch, const char *term, int w, int h,
    int pw, int ph, void *ud)
{
	(void)ss;
	(void)ch;
	(void)term;
	(void)w;
	(void)h;
	(void)pw;
	(void)ph;
	(void)ud;
	return 0;		/* accepted: output is the same either way */
}

static int
cb_env(ssh_session ss, ssh_channel ch, const char *name, const char *value,
    void *ud)
{
	(void)ss;
	(void)ch;
	(void)name;
	(void)value;
	(void)ud;
	return 0;		/* accepted and unused (LANG and the like) */
}

static int
take_command(struct cchan *c, const char *cmd, int shell)
{
	size_t n = strlen(cmd);

	if (c->state != CS_NEW)
		return -1;
	c->longer = n > SG_MP_MAX_STR;
	c->cmd = strndup(cmd, c->longer ? SG_MP_MAX_STR : n);
	if (c->cmd == NULL)
		return -1;
	c->shell = shell;
	c->state = CS_QUEUED;
	c->s->gen++;
	return 0;
}

static int
cb_exec(ssh_session ss, ssh_channel ch, const char *command, void *ud)
{
	(void)ss;
	(void)ch;
	return take_command(ud, command, 0);
}

static int
cb_shell(ssh_session ss, ssh_channel ch, void *ud)
{
	(void)ss;
	(void)ch;
	return take_command(ud, "help", 1);
}

static int
cb_subsystem(ssh_session ss, ssh_channel ch, const char *name, void *ud)
{
	(void)ss;
	(void)ch;
	(void)name;
	(void)ud;
	return -1;		/* no sftp here: files live in sandboxes */
}

static void
chan_free(struct cchan *c)
{
	if (c->ch != NULL) {
		ssh_remove_channel_callbacks(c->ch, &c->cb);
		ssh_channel_free(c->ch);
	}
	sg_buf_free(c->out[0]);
	sg_buf_free(c->out[1]);
	free(c->cmd);
	free(c);
}

static ssh_channel
cb_channel_open(ssh_session ss, void *ud)
{
	struct csess *s = ud;
	struct cchan *c;
	ssh_channel ch;

	if (s->nchans >= CS_MAX_CHANNELS)
		return NULL;
	ch = ssh_channel_new(ss);
	c = ch != NULL ? calloc(1, sizeof(*c)) : NULL;
	if (c == NULL) {
		if (ch != NULL)
			ssh_channel_free(ch);
		return NULL;
	}
	c->s = s;
	c->ch = ch;
	c->out[0] = sg_buf_new(CS_OUT_MAX);
	c->out[1] = sg_buf_new(CS_OUT_MAX);
	c->cb.userdata = c;
	c->cb.channel_data_function = cb_data;
	c->cb.channel_close_function = cb_close;
	c->cb.channel_pty_request_function = cb_pty;
	c->cb.channel_env_request_function = cb_env;
	c->cb.channel_exec_request_function = cb_exec;
	c->cb.channel_shell_request_function = cb_shell;
	c->cb.channel_subsystem_request_function = cb_subsystem;
	ssh_callbacks_init(&c->cb);
	if (c->out[0] == NULL || c->out[1] == NULL ||
	    ssh_set_channel_callbacks(ch, &c->cb) != SSH_OK) {
		c->ch = NULL;
		chan_free(c);
		ssh_channel_free(ch);
		return NULL;
	}
	/* in the order they opened: commands run in that order */
	{
		struct cchan **pp = &s->chans;

		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = c;
	}
	s->nchans++;
	return ch;
}

/* Everything else (forwardings, x11, agent) gets libssh's refusal. */
static int
cb_message(ssh_session ss, ssh_message msg, void *ud)
{
	(void)ss;
	(void)msg;
	(void)ud;
	return 1;
}

/* Output within the client's window, then the status and the close. */
static void
chan_flush(struct csess *s, struct cchan *c)
{
	uint32_t win, n;
	int i, r;

	if (c->state != CS_ENDING)
		return;
	for (i = 0; i < 2; i++) {
		while (sg_buf_len(c->out[i]) > 0 &&
		    !(ssh_get_status(s->session) & SSH_WRITE_PENDING)) {
			win = ssh_channel_window_size(c->ch);
			if (win == 0)
				return;
			n = (uint32_t)sg_buf_len(c->out[i]);
			if (n > win)
				n = win;
			if (n > CS_WRITE_CHUNK)
				n = CS_WRITE_CHUNK;
			r = i == 0 ?
			    ssh_channel_write(c->ch, sg_buf_data(c->out[i]), n) :
			    ssh_channel_write_stderr(c->ch, sg_buf_data(c->out[i]),
			    n);
			if (r <= 0)
				return;
			sg_buf_consume(c->out[i], (size_t)r);
		}
		if (sg_buf_len(c->out[i]) > 0)
			return;
	}
	/* a write may have taken in the client's CLOSE (cb_close answered) */
	if (c->state != CS_ENDING || c->client_closed)
		return;
	ssh_channel_request_send_exit_status(c->ch, c->status);
	ssh_channel_send_eof(c->ch);
	ssh_channel_close(c->ch);
	c->state = CS_DONE;
}

static void
chan_end(struct cchan *c, int status, const char *err)
{
	if (err != NULL)
		sg_buf_put(c->out[1], err, strlen(err));
	c->status = status;
	c->state = c->client_closed ? CS_DONE : CS_ENDING;
}

/* --- the monitor --- */

static void
run_next(struct csess *s)
{
	struct cchan *c;

	if (s->running != NULL)
		return;
	for (c = s->chans; c != NULL; c = c->next)
		if (c->state == CS_QUEUED)
			break;
	if (c == NULL)
		return;
	if (s->mon_gone) {
		chan_end(c, 1, "sandgate: the gateway restarted: connect again "
		    "and run the command again\n");
		return;
	}
	sg_buf_reset(s->req);
	if (sg_buf_put_u8(s->req, SG_MP_CTL) < 0 ||
	    sg_buf_put_u8(s->req, (uint8_t)c->longer) < 0 ||
	    sg_mp_put_str(s->req, c->cmd) < 0 ||
	    sg_mp_send(s->mon_fd, s->req, -1) < 0) {
		chan_end(c, 1, "sandgate: the gateway did not take the command: "
		    "try again\n");
		return;
	}
	c->state = CS_RUNNING;
	s->running = c;
}

static void
mon_read(struct csess *s)
{
	struct cchan *c = s->running;
	struct sg_cur cur;
	char *text = NULL;
	uint8_t stream, status;
	ssize_t n;
	int fd;

	n = sg_mp_recv(s->mon_fd, s->mon_in, &fd);
	if (n == -EAGAIN)
		return;
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		/* a new monitor does not know this session: the command
		 * that ran is reported lost, later ones refused */
		ssh_event_remove_fd(s->ev, s->mon_fd);
		sg_mp_log_via(NULL);
		sg_confine_report_to(-1);
		close(s->mon_fd);
		s->mon_fd = -1;
		s->mon_gone = 1;
		if (c != NULL) {
			s->running = NULL;
			chan_end(c, 1, "sandgate: the gateway restarted while "
			    "the command ran: see ls for what it did\n");
		}
		return;
	}
	sg_cur_init(&cur, sg_buf_data(s->mon_in) + 1,
	    sg_buf_len(s->mon_in) - 1);
	switch (sg_buf_data(s->mon_in)[0]) {
	case SG_MP_CTL_OUT:
		stream = sg_cur_u8(&cur);
		if (c == NULL || (stream != 1 && stream != 2) ||
		    sg_mp_get_str(&cur, SG_MP_MAX_STR, &text) < 0 ||
		    cur.err || cur.n != 0)
			die("monitor sent a bad CTL_OUT");
		if (sg_buf_put(c->out[stream - 1], text, strlen(text)) < 0)
			die("a command's output is too long");
		free(text);
		return;
	case SG_MP_CTL_DONE:
		status = sg_cur_u8(&cur);
		if (c == NULL || cur.err || cur.n != 0)
			die("monitor sent a bad CTL_DONE");
		s->running = NULL;
		chan_end(c, c->shell ? 2 : status, NULL);
		return;
	default:
		die("monitor sent an unknown message");
	}
}

static int
mon_cb(socket_t fd, int revents, void *ud)
{
	(void)fd;
	(void)revents;
	(void)ud;
	return 0;
}

static void
reap(struct csess *s)
{
	struct cchan **pp = &s->chans, *c;

	while ((c = *pp) != NULL) {
		if (c->state == CS_DONE && s->running != c) {
			*pp = c->next;
			s->nchans--;
			chan_free(c);
			continue;
		}
		pp = &c->next;
	}
}

void
sg_ctlsess_run(const struct sg_bridge_params *p)
{
	struct csess s;
	struct cchan *c;
	int fl, r;

	memset(&s, 0, sizeof(s));
	s.session = p->session;
	s.mon_fd = p->mon_fd;
	s.mon_in = sg_buf_new(SG_MP_MAX);
	s.req = sg_buf_new(SG_MP_MAX);
	if (s.mon_in == NULL || s.req == NULL)
		die("out of memory");
	s.scb.userdata = &s;
	s.scb.channel_open_request_session_function = cb_channel_open;
	ssh_callbacks_init(&s.scb);
	ssh_set_server_callbacks(s.session, &s.scb);
	ssh_set_message_callback(s.session, cb_message, &s);
	s.ev = ssh_event_new();
	if (s.ev == NULL || ssh_event_add_session(s.ev, s.session) != SSH_OK)
		die("cannot set up the worker's event loop");
	fl = fcntl(s.mon_fd, F_GETFL);
	if (fl >= 0)
		fcntl(s.mon_fd, F_SETFL, fl | O_NONBLOCK);
	ssh_event_add_fd(s.ev, s.mon_fd, POLLIN, mon_cb, &s);
	ssh_set_blocking(s.session, 0);
	for (;;) {
		unsigned gen, passes = 0;

		/* libssh dispatches packets inside our writes too: again
		 * while a pass took in new work */
		do {
			gen = s.gen;
			run_next(&s);
			for (c = s.chans; c != NULL; c = c->next)
				chan_flush(&s, c);
		} while (gen != s.gen && ++passes < 8);
		reap(&s);
		/* a new monitor does not know this connection: once what was
		 * asked is answered, it ends (clients connect again) */
		if (s.mon_gone && s.running == NULL && s.chans == NULL)
			break;
		r = ssh_event_dopoll(s.ev, gen != s.gen ? 0 : 60000);
		if (r == SSH_ERROR && !ssh_is_connected(s.session))
			break;
		if (s.mon_fd >= 0)
			mon_read(&s);
		if (!ssh_is_connected(s.session))
			break;
	}
	ssh_disconnect(s.session);
	_exit(0);
}
