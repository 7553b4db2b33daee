/* sg_worker: an SSH connection bridged to the guest agent, see worker.h.
 *
 * Life of a worker:
 *  1. key exchange and authentication, each credential checked by the
 *     monitor (SG_MP_AUTH_*), the whole phase bounded by an alarm (here);
 *  2. SG_MP_START: the monitor boots the sandbox and hands over a
 *     connected stream to its agent;
 *  3. one event loop over the SSH socket, the agent stream and the monitor
 *     socket: session channels become agent channels.
 * Steps 2 and 3 are the bridge's (bridge.h), which takes the session over
 * once a credential was accepted. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/confine.h"
#include "common/log.h"
#include "common/text.h"
#include "common/mpipe.h"
#include "gateway/bridge.h"
#include "gateway/ctlsess.h"
#include "gateway/privsep.h"
#include "gateway/worker.h"

/* Before authentication: the SSH session and the monitor socket. */
struct worker {
	const struct sg_worker_params *p;
	ssh_session session;
	int mon_fd;
	struct sg_buf *mon_in;
	char *token;		/* authenticated token name */
	char *user;		/* SSH user name */
};

static void __attribute__((noreturn))
die(const char *what)
{
	sg_err("%s", what);
	_exit(1);
}

/* --- the box (confine.h) --- */

/* Descriptors: stdio, the client, the monitor, the shim's link, and a
 * few for libssh. */
#define WORKER_NOFILE	32

/* What libssh (with OpenSSL's libcrypto), the bridge and the control
 * session call, from before the key exchange to the end: I/O on the
 * descriptors it was given, memory, time, signals it set up before. No
 * socket, connect, bind, open (a library that tries gets EACCES), fork,
 * exec, kill or ptrace. */
static const struct sg_confine_rule worker_rules[] = {
	SG_CF("read"), SG_CF("readv"), SG_CF("writev"),
	SG_CF("recvfrom"), SG_CF("recvmsg"), SG_CF("sendmsg"),
	SG_CF("poll"), SG_CF("ppoll"), SG_CF("close"),
	SG_CF("shutdown"), SG_CF("getsockopt"), SG_CF("getpeername"),
	SG_CF("getsockname"),
	/* TCP_NODELAY only (libssh may set it); not TCP_ULP or filters */
	SG_CF_IF2("setsockopt", 1, ~0u, IPPROTO_TCP, 2, ~0u, TCP_NODELAY),
	SG_CF_IF("fcntl", 1, ~0u, F_GETFL), SG_CF_IF("fcntl", 1, ~0u, F_SETFL),
	SG_CF_IF("fcntl", 1, ~0u, F_GETFD), SG_CF_IF("fcntl", 1, ~0u, F_SETFD),
	SG_CF_BASE, SG_CF("alarm"),
	/* alarm(3) where the kernel has no alarm(2) (arm64) or libc uses
	 * setitimer (musl) */
	SG_CF_IF("setitimer", 0, ~0u, ITIMER_REAL),
	SG_CF_DENY("openat", EACCES), SG_CF_DENY("open", EACCES),
	SG_CF_DENY("ioctl", ENOTTY), SG_CF_DENY("uname", EPERM),
};

/* Before the first byte from the client: no root, limits, and the
 * system call filter. Ends the process when any of it fails. */
static void
confine(const struct sg_worker_params *p)
{
	const char *what;
	char *err = NULL;
	int r;

	/* (the monitor has put it in an empty network namespace: no new
	 * connection could reach anything) */
	sg_privsep_drop(p->uid, p->gid, p->chroot_dir);
	/* its log lines go through the monitor: its stderr may be the log
	 * file, which RLIMIT_FSIZE keeps it from writing */
	sg_mp_log_via(&p->mon_fd);
	r = sg_confine_limits(WORKER_NOFILE, 1, &what);
	if (r < 0) {
		sg_err("%s: cannot set %s for the worker: %s", p->peer, what,
		    strerror(-r));
		_exit(1);
	}
	r = sg_confine_filter("sandgated worker", worker_rules,
	    sizeof(worker_rules) / sizeof(worker_rules[0]), p->mon_fd, &err);
	if (r < 0) {
		sg_err("%s: %s", p->peer, err ? err : strerror(-r));
		_exit(1);
	}
}

/* --- monitor requests (blocking: the worker has nothing else to do) --- */

static int
mon_call(struct worker *w, const struct sg_buf *req, uint8_t want)
{
	struct pollfd pfd = { .fd = w->mon_fd, .events = POLLIN };
	int fd, r;
	ssize_t n;

	r = sg_mp_send(w->mon_fd, req, -1);
	if (r < 0)
		return r;
	for (;;) {
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
		n = sg_mp_recv(w->mon_fd, w->mon_in, &fd);
		if (n == -EAGAIN)
			continue;
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
		if (sg_buf_data(w->mon_in)[0] == want)
			return 0;
		return -EPROTO;
	}
}

/* Asks the monitor about one credential. Returns 1 accepted (w->token
 * set), 0 refused, <0 when the monitor is gone. On refusal the monitor's
 * delay is served here, before the client learns the answer. */
static int
mon_auth(struct worker *w, struct sg_buf *req)
{
	struct sg_cur c;
	uint32_t delay;
	uint8_t ok;
	char *tok = NULL;
	int r;

	r = mon_call(w, req, SG_MP_AUTH_RESULT);
	if (r < 0)
		return r;
	sg_cur_init(&c, sg_buf_data(w->mon_in) + 1, sg_buf_len(w->mon_in) - 1);
	ok = sg_cur_u8(&c);
	delay = sg_cur_u32(&c);
	r = sg_mp_get_str(&c, 256, &tok);
	if (r < 0)
		return r;
	if (ok) {
		free(w->token);
		w->token = tok;
		return 1;
	}
	free(tok);
	if (delay > 60000)
		delay = 60000;
	if (delay > 0) {
		struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return 0;
}

static int
auth_secret(struct worker *w, const char *user, const char *secret)
{
	struct sg_buf *req = sg_buf_new(SG_MP_MAX);
	int r = -ENOMEM;

	if (req == NULL)
		return r;
	sg_buf_set_wipe(req, 1);
	if (sg_buf_put_u8(req, SG_MP_AUTH_PASSWORD) < 0 ||
	    sg_mp_put_str(req, user) < 0 || sg_mp_put_str(req, secret) < 0)
		r = 0;	/* oversized: simply wrong */
	else
		r = mon_auth(w, req);
	sg_buf_free(req);
	return r;
}

static int
auth_key(struct worker *w, const char *user, ssh_key key, int verified)
{
	struct sg_buf *req = NULL;
	char *b64 = NULL;
	const char *type;
	int r = 0;

	type = ssh_key_type_to_char(ssh_key_type(key));
	if (type == NULL || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		goto out;
	req = sg_buf_new(SG_MP_MAX);
	if (req == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (sg_buf_put_u8(req, SG_MP_AUTH_KEY) < 0 ||
	    sg_buf_put_u8(req, verified ? 1 : 0) < 0 ||
	    sg_mp_put_str(req, user) < 0 || sg_mp_put_str(req, type) < 0 ||
	    sg_mp_put_str(req, b64) < 0)
		goto out;
	r = mon_auth(w, req);
out:
	sg_buf_free(req);
	ssh_string_free_char(b64);
	return r;
}

/* Ends the connection of a user name that no sandbox can have, with the
 * reason in the disconnect message, which ssh prints ("Received
 * disconnect from HOST port N:11: ..."). */
static void
bad_user_name(struct worker *w, const char *user)
{
	char shown[SG_LOGIN_MAX + 8], msg[384];
	size_t i, n = 0;

	/* the name as the user typed it, unprintable bytes as '?' */
	for (i = 0; user[i] != '\0' && n < SG_LOGIN_MAX + 4; i++)
		shown[n++] = (unsigned char)user[i] < 0x20 ||
		    (unsigned char)user[i] >= 0x7f ? '?' : user[i];
	if (user[i] != '\0')
		n = (size_t)snprintf(shown + SG_LOGIN_MAX, 5, "...") +
		    SG_LOGIN_MAX;
	shown[n] = '\0';
	snprintf(msg, sizeof(msg), "\"%s\" cannot be a sandbox name: use "
	    "1 to %d lowercase letters, digits and '-' (ssh NAME@host for a "
	    "named sandbox, sandbox@host for a fresh one)", shown,
	    SG_LOGIN_MAX);
	sg_info("%s: user name that cannot be a sandbox (%zu bytes): told the "
	    "client", w->p->peer, strlen(user));
	ssh_session_set_disconnect_message(w->session, msg);
	ssh_disconnect(w->session);
}

/* libssh 0.10 marks the message-based authentication API deprecated, but
 * it is the only one that serves keyboard-interactive on the server, and
 * one loop over it handles all three methods alike. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* Runs the authentication dialogue. Returns 0 once a credential was
 * accepted, -1 when the client gave up or used up its attempts. */
static int
authenticate(struct worker *w)
{
	const char *prompts[1] = { "sandgate token: " };
	char echo[1] = { 0 };
	unsigned failures = 0;
	char *kbd_user = NULL;
	ssh_message msg;
	int r, done = 0;

	ssh_set_auth_methods(w->session, SSH_AUTH_METHOD_PASSWORD |
	    SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_INTERACTIVE);
	while (!done) {
		const char *user;
		int attempted = 0;

		msg = ssh_message_get(w->session);
		if (msg == NULL) {
			free(kbd_user);
			return -1;
		}
		if (ssh_message_type(msg) != SSH_REQUEST_AUTH) {
			ssh_message_reply_default(msg);
			ssh_message_free(msg);
			continue;
		}
		user = ssh_message_auth_user(msg);
		if (user == NULL)
			user = "";
		/* a name that cannot be a sandbox is a typo, not an attack:
		 * say so at once, without asking the monitor (no attempt is
		 * counted against the address, no delay) */
		/* (a keyboard-interactive response carries no name: its
		 * request's was checked) */
		if (!(ssh_message_subtype(msg) == SSH_AUTH_METHOD_INTERACTIVE &&
		    ssh_message_auth_kbdint_is_response(msg)) &&
		    !sg_valid_login(user)) {
			bad_user_name(w, user);
			ssh_message_free(msg);
			free(kbd_user);
			return -1;
		}
		r = 0;
		switch (ssh_message_subtype(msg)) {
		case SSH_AUTH_METHOD_PASSWORD:
			attempted = 1;
			r = auth_secret(w, user, ssh_message_auth_password(msg));
			break;
		case SSH_AUTH_METHOD_INTERACTIVE:
			if (!ssh_message_auth_kbdint_is_response(msg)) {
				/* The response carries no user name: keep it. */
				free(kbd_user);
				kbd_user = strdup(user);
				if (kbd_user == NULL)
					die("out of memory");
				ssh_message_auth_interactive_request(msg, "",
				    "Enter your sandgate token.", 1, prompts, echo);
				ssh_message_free(msg);
				continue;
			}
			attempted = 1;
			user = kbd_user != NULL ? kbd_user : "";
			if (ssh_userauth_kbdint_getnanswers(w->session) == 1) {
				const char *a = ssh_userauth_kbdint_getanswer(
				    w->session, 0);

				r = auth_secret(w, user, a ? a : "");
			} else {
				r = auth_secret(w, user, "");
			}
			break;
		case SSH_AUTH_METHOD_PUBLICKEY: {
			ssh_key key = ssh_message_auth_pubkey(msg);
			enum ssh_publickey_state_e st =
			    ssh_message_auth_publickey_state(msg);

			if (key == NULL || st == SSH_PUBLICKEY_STATE_WRONG) {
				attempted = 1;
				break;
			}
			if (st == SSH_PUBLICKEY_STATE_NONE) {
				r = auth_key(w, user, key, 0);
				if (r == 1) {
					ssh_message_auth_reply_pk_ok_simple(msg);
					ssh_message_free(msg);
					continue;
				}
				break;	/* unknown key: a plain "no" */
			}
			attempted = 1;
			r = auth_key(w, user, key, 1);
			break;
		}
		default:
			break;
		}
		if (r < 0) {
			ssh_message_free(msg);
			free(kbd_user);
			return -1;
		}
		if (r == 1) {
			free(w->user);
			w->user = strdup(user);
			if (w->user == NULL)
				die("out of memory");
			ssh_message_auth_reply_success(msg, 0);
			done = 1;
		} else {
			ssh_message_reply_default(msg);
			if (attempted && ++failures >= w->p->max_auth_tries) {
				ssh_message_free(msg);
				sg_info("%s: too many authentication failures",
				    w->p->peer);
				ssh_disconnect(w->session);
				free(kbd_user);
				return -1;
			}
		}
		ssh_message_free(msg);
	}
	free(kbd_user);
	return 0;
}
#pragma GCC diagnostic pop

void
sg_worker_run(const struct sg_worker_params *p)
{
	struct sg_bridge_params bp;
	struct worker w;
	int64_t start_ms;

	memset(&w, 0, sizeof(w));
	w.p = p;
	w.mon_fd = p->mon_fd;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, SIG_DFL);
	w.mon_in = sg_buf_new(SG_MP_MAX);
	w.session = ssh_new();
	if (w.mon_in == NULL || w.session == NULL)
		die("out of memory");
	/* The pre-authentication phase is bounded twice, like sshd's
	 * LoginGraceTime: a short deadline for the key exchange, then the
	 * rest of the grace time for the authentication dialogue. SIGALRM's
	 * default action ends the worker. */
	start_ms = sg_mono_ms();
	alarm(p->kex_timeout_s < p->login_grace_s ? p->kex_timeout_s :
	    p->login_grace_s);
	if (ssh_bind_accept_fd(p->bind, w.session, p->client_fd) != SSH_OK) {
		sg_warn("%s: %s", p->peer, ssh_get_error(p->bind));
		_exit(1);
	}
	confine(p);
	if (ssh_handle_key_exchange(w.session) != SSH_OK) {
		sg_info("%s: key exchange failed: %s", p->peer,
		    ssh_get_error(w.session));
		_exit(1);
	}
	{
		int64_t left = (int64_t)p->login_grace_s * 1000 -
		    (sg_mono_ms() - start_ms);

		alarm(left < 1000 ? 1 : (unsigned)(left / 1000));
	}
	if (authenticate(&w) < 0) {
		ssh_disconnect(w.session);
		_exit(0);
	}
	alarm(0);
	/* The session, the monitor socket and the names go to the bridge,
	 * which never returns. */
	sg_buf_free(w.mon_in);
	memset(&bp, 0, sizeof(bp));
	bp.session = w.session;
	bp.mon_fd = w.mon_fd;
	bp.user = w.user;
	bp.token = w.token;
	bp.peer = p->peer;
	if (p->control_user != NULL && strcmp(w.user, p->control_user) == 0)
		sg_ctlsess_run(&bp);
	sg_bridge_run(&bp);
}
