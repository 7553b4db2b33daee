/* sandgate-front and exposed ports, from the monitor's side (mon.h).
 *
 * With [expose] listen set, the monitor binds that address once (as
 * root) and starts sandgate-front as [expose] user with it, a feed
 * (common/exfeed.h) and a rendezvous socket, as it does the proxy
 * (monproxy.c): restarted when it dies, found again by the monitor of a
 * sandgated that restarted, so that open HTTPS connections go on. The
 * front gets the operator's certificate and key (read here, as root)
 * and the key that signs links (STATE_DIR/expose.key, made once).
 *
 * `expose NAME PORT` records the port with the sandbox (its net record,
 * so that a restarted sandgated keeps it), lets the front's user reach
 * that tap and port (the @exposed set, netpolicy/nft.h) and tells the
 * front the route; `unexpose`, the sandbox's end and its token's removal
 * undo the three. Nothing here waits. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/confine.h"
#include "common/exfeed.h"
#include "common/explink.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mpipe.h"
#include "common/pxfeed.h"
#include "common/text.h"
#include "common/util.h"
#include "gateway/audit.h"
#include "gateway/ctlargs.h"
#include "gateway/mon.h"
#include "gateway/monapi.h"
#include "gateway/sbxnet.h"
#include "gateway/spawn.h"
#include "gateway/tokens.h"

#define FR_READY_MS		15000
#define FR_RESTART_MS		1000
#define FR_BIND_RETRY_MS	200
#define FR_QUEUE_MAX		(4u << 20)
#define FR_HEAD_MS		10000
#define FR_IDLE_MS		120000
#define FR_CONNECT_MS		10000
#define FR_MAX_TOTAL		4096

static int
configured(const struct mon *m)
{
	return m->cfg->expose_port != 0;
}

static void
rdv_path(struct mon *m, char *buf, size_t size)
{
	snprintf(buf, size, "%s/front.sock", m->run_dir);
}

/* --- the link key: STATE_DIR/expose.key, 32 random bytes, root's --- */

static int
key_load(struct mon *m, char **ret_err)
{
	char path[4096];
	struct stat st;
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof(path), "%s/expose.key", m->cfg->state_dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		uint8_t k[SG_EXPLINK_KEY_LEN];

		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd < 0)
			return sg_fail(ret_err, -errno, "cannot create %s: %s",
			    path, strerror(errno));
		r = sg_util_random(k, sizeof(k));
		if (r == 0 && (write(fd, k, sizeof(k)) != (ssize_t)sizeof(k) ||
		    fsync(fd) < 0))
			r = -errno ? -errno : -EIO;
		OPENSSL_cleanse(k, sizeof(k));
		close(fd);
		if (r < 0) {
			unlink(path);
			return sg_fail(ret_err, r, "cannot write %s: %s", path,
			    strerror(-r));
		}
		sg_info("made the key that signs exposed ports' links (%s)",
		    path);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return sg_fail(ret_err, -errno, "cannot read %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077) != 0 || st.st_size != SG_EXPLINK_KEY_LEN) {
		close(fd);
		return sg_fail(ret_err, -EACCES, "%s must be a file of %d bytes, "
		    "root's, mode 0600 (remove it to make a new one: every "
		    "link made before stops working)", path, SG_EXPLINK_KEY_LEN);
	}
	n = read(fd, m->fr_key, sizeof(m->fr_key));
	close(fd);
	if (n != (ssize_t)sizeof(m->fr_key))
		return sg_fail(ret_err, -EIO, "cannot read %s", path);
	return 0;
}

/* --- names --- */

static const char *
sbx_label_name(const struct sbx *s)
{
	return s->name[0] != '\0' ? s->name : s->id;
}

static int
label_of(struct mon *m, const struct sbx *s, uint16_t port,
    char out[SG_EXPLINK_LABEL_MAX])
{
	char tag[SG_EXPLINK_TAG_LEN + 1];
	int r;

	if ((r = sg_explink_tag(m->fr_key, s->token, tag)) < 0)
		return r;
	return sg_explink_label(port, sbx_label_name(s), tag, out);
}

int
mon_front_url(struct mon *m, const struct sbx *s, uint16_t port, char *out,
    size_t size)
{
	char label[SG_EXPLINK_LABEL_MAX];
	int r;

	if (!configured(m))
		return -ENOENT;
	if ((r = label_of(m, s, port, label)) < 0)
		return r;
	return sg_explink_url(label, m->cfg->expose_domain, m->cfg->expose_port,
	    NULL, out, size);
}

/* --- the record: "expose PORT NONCE public|private" --- */

int
mon_front_record_parse(struct sbx *s, const char *line)
{
	unsigned port;
	char nonce[17], kind[8];
	struct mon_expose *v;
	int end = 0;

	if (sscanf(line, "expose %5u %16[0-9a-f] %7[a-z]%n", &port, nonce, kind,
	    &end) != 3 || line[end] != '\0' || port == 0 || port > 65535 ||
	    strlen(nonce) != 16 || (strcmp(kind, "public") != 0 &&
	    strcmp(kind, "private") != 0) || s->nex >= MON_EXPOSE_MAX)
		return -EINVAL;
	v = realloc(s->ex, (s->nex + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	s->ex = v;
	v[s->nex].port = (uint16_t)port;
	v[s->nex].public = strcmp(kind, "public") == 0;
	v[s->nex].nonce = strtoull(nonce, NULL, 16);
	s->nex++;
	return 0;
}

int
mon_front_record_lines(const struct sbx *s, char **v, size_t *n)
{
	size_t i;

	for (i = 0; i < s->nex; i++)
		if (asprintf(&v[(*n)++], "opt expose %u %016" PRIx64 " %s",
		    (unsigned)s->ex[i].port, s->ex[i].nonce,
		    s->ex[i].public ? "public" : "private") < 0)
			return -ENOMEM;
	return 0;
}

/* --- the firewall and the feed --- */

static int
live(const struct sbx *s)
{
	return s->state != SB_DESTROYING && s->has_net && !s->pool;
}

/* The @exposed set: every live sandbox's ports. */
static void
set_exposed(struct mon *m)
{
	const char **ids = NULL;
	uint16_t *ports = NULL;
	size_t n = 0, k = 0, i;
	char *err = NULL;
	struct sbx *s;

	if (!configured(m) || m->net == NULL)
		return;
	for (s = m->sbxs; s != NULL; s = s->next)
		if (live(s))
			n += s->nex;
	ids = calloc(n + 1, sizeof(*ids));
	ports = calloc(n + 1, sizeof(*ports));
	if (ids == NULL || ports == NULL) {
		sg_err("cannot update the exposed ports: out of memory");
		goto out;
	}
	for (s = m->sbxs; s != NULL; s = s->next) {
		if (!live(s))
			continue;
		for (i = 0; i < s->nex; i++) {
			ids[k] = s->id;
			ports[k++] = s->ex[i].port;
		}
	}
	if (sg_net_set_exposed(m->net, ids, ports, k, &err) < 0)
		sg_err("%s: the front may not reach a port just exposed",
		    err ? err : "cannot update the exposed ports");
	free(err);
out:
	free(ids);
	free(ports);
}

static void front_failed(struct mon *m, const char *what, int r);

static void
send_msg(struct mon *m, const char *what)
{
	int r;

	if (sg_buf_len(m->msg) == 0)
		return;
	r = sg_mpq_send(m->frq, m->fr_fd, m->msg, -1);
	if (r < 0)
		front_failed(m, what, r);
}

static void
send_expose(struct mon *m, const struct sbx *s, const struct mon_expose *e)
{
	const struct sg_token *tok = sg_tokens_find(m->tokens, s->token);
	char label[SG_EXPLINK_LABEL_MAX], hash[SG_XF_HASH_LEN + 1];
	struct sg_xf_expose x;

	if (m->fr_fd < 0 || !m->fr_ready || label_of(m, s, e->port, label) < 0)
		return;
	if (tok != NULL)
		sg_tokens_hash_hex(tok, hash);
	else
		memset(hash, '0', SG_XF_HASH_LEN);	/* no bearer works */
	hash[SG_XF_HASH_LEN] = '\0';
	memset(&x, 0, sizeof(x));
	x.label = label;
	x.id = (char *)s->id;
	x.token = s->token;
	x.token_hash = hash;
	x.addr = s->na.guest;
	x.port = e->port;
	x.nonce = e->nonce;
	x.public = e->public;
	if (sg_xf_put_expose(m->msg, &x) < 0) {
		sg_err("sandbox %s: port %u cannot be told to the front",
		    s->id, (unsigned)e->port);
		return;
	}
	send_msg(m, "an exposed port");
}

static void
send_unexpose(struct mon *m, const struct sbx *s, uint16_t port)
{
	char label[SG_EXPLINK_LABEL_MAX];

	if (m->fr_fd < 0 || !m->fr_ready || label_of(m, s, port, label) < 0 ||
	    sg_xf_put_unexpose(m->msg, label) < 0)
		return;
	send_msg(m, "an unexposed port");
}

void
mon_front_sandbox(struct mon *m, struct sbx *s)
{
	struct sbx *t;
	size_t i;

	if (!configured(m))
		return;
	set_exposed(m);
	for (t = m->sbxs; t != NULL && m->fr_fd >= 0; t = t->next) {
		if ((s != NULL && t != s) || !live(t))
			continue;
		for (i = 0; i < t->nex && m->fr_fd >= 0; i++)
			send_expose(m, t, &t->ex[i]);
	}
}

void
mon_front_drop(struct mon *m, struct sbx *s)
{
	size_t i, n = s->nex;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		send_unexpose(m, s, s->ex[i].port);
	free(s->ex);
	s->ex = NULL;
	s->nex = 0;
	set_exposed(m);
}

void
mon_front_tokens(struct mon *m)
{
	struct sbx *s;
	char port[8];
	size_t i;

	if (!configured(m))
		return;
	for (s = m->sbxs; s != NULL; s = s->next) {
		if (s->nex == 0 || s->pool ||
		    sg_tokens_find(m->tokens, s->token) != NULL)
			continue;
		for (i = 0; i < s->nex; i++) {
			snprintf(port, sizeof(port), "%u", (unsigned)s->ex[i].port);
			sg_info("sandbox %s: port %s unexposed (its token %s is "
			    "gone)", s->id, port, s->token);
			sg_audit("port_unexposed", "sandbox", s->id, "token",
			    s->token, "port", port, "caller", "token revoked",
			    NULL);
		}
		mon_front_drop(m, s);
		(void)mon_sbx_rerecord(m, s);
	}
	mon_front_sandbox(m, NULL);
}

/* --- the front process --- */

static void
front_end(struct mon *m)
{
	if (m->fr_pid > 0)
		kill(m->fr_pid, SIGKILL);
	if (m->fr_fd >= 0)
		close(m->fr_fd);
	m->fr_fd = -1;
	m->fr_ready = 0;
	sg_mpq_free(m->frq);
	m->frq = NULL;
	if (!m->fr_child) {
		m->fr_pid = 0;
		m->fr_restart_ms = sg_mono_ms() + FR_RESTART_MS;
	}
}

static void
front_failed(struct mon *m, const char *what, int r)
{
	sg_err("cannot hand %s to sandgate-front: %s: restarting it", what,
	    strerror(-r));
	front_end(m);
}

/* Binds [expose] listen (an address, IPv4 or IPv6). */
static int
front_listen(struct mon *m, int *ret_fd, char **ret_err)
{
	struct addrinfo hints, *ai = NULL;
	char port[8];
	int fd, one = 1, r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", (unsigned)m->cfg->expose_port);
	r = getaddrinfo(m->cfg->expose_host, port, &hints, &ai);
	if (r != 0 || ai == NULL)
		return sg_fail(ret_err, -EINVAL, "[expose] listen: %s",
		    gai_strerror(r));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		freeaddrinfo(ai);
		return sg_fail(ret_err, r, "socket: %s", strerror(-r));
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		r = -errno;
		freeaddrinfo(ai);
		close(fd);
		return sg_fail(ret_err, r, "cannot listen on %s port %u for "
		    "exposed ports ([expose] listen): %s", m->cfg->expose_host,
		    (unsigned)m->cfg->expose_port, strerror(-r));
	}
	freeaddrinfo(ai);
	*ret_fd = fd;
	return 0;
}

/* A file of the operator's, read as root for the front: PEM text. */
static int
read_pem(const char *path, size_t max, char **ret, char **ret_err)
{
	char *buf = NULL;
	int r = sg_util_read_small(path, max, &buf, ret_err);

	if (r < 0)
		return r;
	if (buf[0] == '\0') {
		free(buf);
		return sg_fail(ret_err, -ENODATA, "cannot use %s: it is empty",
		    path);
	}
	*ret = buf;
	return 0;
}

/* The CONFIG message into b (wiped when freed), and its digest in
 * m->fr_digest. */
static int
build_config(struct mon *m, struct sg_buf *b, char **ret_err)
{
	struct sg_xf_config c;
	char *cert = NULL, *key = NULL;
	int r;

	memset(&c, 0, sizeof(c));
	if ((r = read_pem(m->cfg->expose_cert, SG_XF_CERT_MAX, &cert,
	    ret_err)) < 0 ||
	    (r = read_pem(m->cfg->expose_key, SG_XF_KEY_MAX, &key, ret_err)) < 0)
		goto out;
	c.domain = (char *)m->cfg->expose_domain;
	c.cert_pem = cert;
	c.key_pem = key;
	memcpy(c.link_key, m->fr_key, sizeof(c.link_key));
	c.max_conns = m->cfg->expose_max_conns;
	c.max_total = FR_MAX_TOTAL;
	c.head_ms = FR_HEAD_MS;
	c.idle_ms = FR_IDLE_MS;
	c.connect_ms = FR_CONNECT_MS;
	r = sg_xf_put_config(b, &c);
	OPENSSL_cleanse(c.link_key, sizeof(c.link_key));
	if (r < 0) {
		r = sg_fail(ret_err, r, "the certificate and key do not fit "
		    "one message to the front (at most %u and %u bytes of PEM)",
		    SG_XF_CERT_MAX, SG_XF_KEY_MAX);
		goto out;
	}
	r = sg_xf_config_digest(sg_buf_data(b) + 1, sg_buf_len(b) - 1,
	    m->fr_digest);
out:
	free(cert);
	if (key != NULL) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	return r;
}

static int
send_config(struct mon *m, int fd, char **ret_err)
{
	struct sg_buf *b = sg_buf_new(SG_MP_MAX);
	int r;

	if (b == NULL)
		return -ENOMEM;
	sg_buf_set_wipe(b, 1);
	r = build_config(m, b, ret_err);
	if (r == 0 && (r = sg_mp_send(fd, b, -1)) < 0)
		r = sg_fail(ret_err, r, "cannot write to the front: %s",
		    strerror(-r));
	else if (r > 0)
		r = 0;
	sg_buf_free(b);
	return r;
}

static int front_adopt(struct mon *m);

static void
front_spawn(struct mon *m)
{
	char path[4096], *err = NULL;
	char *argv[] = { (char *)"sandgate-front", NULL, NULL };
	struct sg_spawn sp = { m->cfg->expose_program, m->cfg->expose_user,
	    "expose", argv, -1, -1 };
	int r, rdv = -1, fd = -1;
	pid_t pid;

	m->fr_restart_ms = 0;
	if (sg_log_level() >= SG_LOG_DEBUG)
		argv[1] = (char *)"--debug";
	if (m->fr_listen < 0) {
		r = front_listen(m, &m->fr_listen, &err);
		if (r == -EADDRINUSE) {
			int64_t now = sg_mono_ms();

			/* a front of the sandgated before us, ending, or one
			 * that could not be adopted a moment ago */
			if (m->fr_busy_ms == 0)
				m->fr_busy_ms = now;
			else if (now - m->fr_busy_ms > 10000) {
				sg_err("%s (still; is an old sandgate-front "
				    "there that cannot be adopted? stop it)",
				    err ? err : "[expose] listen is in use");
				m->fr_busy_ms = now;
			}
			free(err);
			if (front_adopt(m) == 0)
				return;
			m->fr_restart_ms = now + FR_BIND_RETRY_MS;
			return;
		}
		if (r < 0) {
			sg_err("%s", err ? err : strerror(-r));
			free(err);
			m->fr_restart_ms = sg_mono_ms() + 5000;
			return;
		}
	}
	rdv_path(m, path, sizeof(path));
	r = mon_rdv_bind(path, &rdv);
	if (r < 0) {
		sg_err("cannot create %s: %s", path, strerror(-r));
		m->fr_restart_ms = sg_mono_ms() + 5000;
		return;
	}
	m->fr_busy_ms = 0;
	sp.listen_fd = m->fr_listen;
	sp.rdv_fd = rdv;
	r = sg_spawn_helper(&sp, &pid, &fd, &err);
	close(rdv);
	if (r == 0) {
		r = send_config(m, fd, &err);
		if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) |
		    O_NONBLOCK) < 0)
			r = -errno;
		if (r < 0) {
			close(fd);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	if (r < 0) {
		sg_err("cannot start sandgate-front: %s", err ? err :
		    strerror(-r));
		free(err);
		m->fr_restart_ms = sg_mono_ms() + 5000;
		return;
	}
	m->frq = sg_mpq_new(FR_QUEUE_MAX);
	m->fr_pid = pid;
	m->fr_fd = fd;
	m->fr_child = 1;
	m->fr_ready = 0;
	m->fr_deadline_ms = sg_mono_ms() + FR_READY_MS;
	if (m->frq == NULL)
		front_failed(m, "the start", -ENOMEM);
}

/* A front that a sandgated before us started, still serving. */
static int
front_adopt(struct mon *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct passwd *pw;
	int fd, r;

	pw = getpwnam(m->cfg->expose_user);
	if (pw == NULL || pw->pw_uid == 0)
		return -ENOENT;
	rdv_path(m, sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    cred.uid != pw->pw_uid || cred.pid <= 1) {
		close(fd);
		return -EPERM;
	}
	{
		/* what a front of ours would run with now, to compare; if
		 * the files cannot be read now, the running front goes on */
		struct sg_buf *b = sg_buf_new(SG_MP_MAX);
		char *err = NULL;

		m->fr_digest_known = 0;
		if (b != NULL) {
			sg_buf_set_wipe(b, 1);
			if (build_config(m, b, &err) == 0)
				m->fr_digest_known = 1;
			else
				sg_warn("%s: keeping the running sandgate-front "
				    "as it is", err ? err : "cannot read [expose]");
			free(err);
			sg_buf_free(b);
		}
	}
	m->fr_busy_ms = 0;
	m->frq = sg_mpq_new(FR_QUEUE_MAX);
	if (m->frq == NULL) {
		close(fd);
		return -ENOMEM;
	}
	m->fr_fd = fd;
	m->fr_pid = cred.pid;
	m->fr_child = 0;
	m->fr_ready = 0;
	m->fr_deadline_ms = sg_mono_ms() + FR_READY_MS;
	if ((r = sg_xf_put_resync(m->msg)) < 0) {
		front_failed(m, "the resync", r);
		return r;
	}
	send_msg(m, "the resync");
	if (m->fr_fd < 0)
		return -EIO;
	sg_info("found the sandgate-front of the sandgated before (pid %ld)",
	    (long)cred.pid);
	return 0;
}

int
mon_front_setup(struct mon *m)
{
	struct passwd *pw;
	char *err = NULL;
	int r;

	if (!configured(m))
		return 0;
	pw = getpwnam(m->cfg->expose_user);
	if (pw == NULL || pw->pw_uid == 0) {
		sg_err("[expose] user %s %s: create it (useradd --system "
		    "--no-create-home --home-dir /nonexistent --shell "
		    "/usr/sbin/nologin %s)", m->cfg->expose_user, pw == NULL ?
		    "does not exist" : "is root", m->cfg->expose_user);
		return -ENOENT;
	}
	m->fr_uid = pw->pw_uid;
	r = key_load(m, &err);
	if (r < 0) {
		sg_err("%s", err ? err : strerror(-r));
		free(err);
	}
	return r;
}

void
mon_front_launch(struct mon *m)
{
	if (!configured(m) || front_adopt(m) == 0)
		return;
	front_spawn(m);
}

void
mon_front_start(struct mon *m)
{
	int r;

	if (!m->fr_start_due || !m->adopted || m->fr_fd < 0 || !m->fr_ready)
		return;
	m->fr_start_due = 0;
	if ((r = sg_xf_put_start(m->msg)) < 0)
		front_failed(m, "the start", r);
	else
		send_msg(m, "the start");
}

static int
front_ready(struct mon *m, int fd)
{
	uint8_t digest[SG_XF_DIGEST_LEN];

	if (sg_buf_len(m->msg) < 1 || sg_buf_data(m->msg)[0] != SG_XF_READY ||
	    sg_xf_get_ready(sg_buf_data(m->msg) + 1, sg_buf_len(m->msg) - 1,
	    digest) < 0) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	if (fd >= 0) {
		/* an adopted front hands back its listening socket */
		if (m->fr_listen >= 0)
			close(m->fr_listen);
		m->fr_listen = fd;
	}
	if (!m->fr_child && m->fr_digest_known &&
	    CRYPTO_memcmp(digest, m->fr_digest, sizeof(digest)) != 0) {
		/* [expose] changed (a renewed certificate, another domain,
		 * a new link key): a new front takes over its socket */
		sg_info("sandgate-front (pid %ld) runs with another [expose] "
		    "configuration (or another link key): starting a new one",
		    (long)m->fr_pid);
		front_end(m);
		m->fr_restart_ms = sg_mono_ms();
		return 0;
	}
	m->fr_ready = 1;
	m->fr_was_ready = 1;
	m->fr_fails = 0;
	m->fr_deadline_ms = 0;
	mon_front_sandbox(m, NULL);
	m->fr_start_due = 1;
	mon_front_start(m);
	if (m->fr_fd >= 0)
		sg_info("sandgate-front %s (pid %ld) on %s port %u for "
		    "https://*.%s", m->fr_child ? "started" : "adopted",
		    (long)m->fr_pid, m->cfg->expose_host,
		    (unsigned)m->cfg->expose_port, m->cfg->expose_domain);
	return 0;
}

static int
front_audit(const uint8_t *p, size_t n)
{
	const char *kv[2 * SG_FEED_MAX_AUDIT + 3];
	struct sg_feed_audit a;
	size_t i, k = 0;
	int r;

	if ((r = sg_feed_get_audit(p, n, &a)) < 0)
		return r;
	kv[k++] = "source";
	kv[k++] = "front";
	for (i = 0; i < a.n; i++) {
		kv[k++] = a.key[i];
		kv[k++] = a.value[i];
	}
	kv[k] = NULL;
	sg_audit_pairs(a.event, kv);
	sg_feed_audit_clear(&a);
	return 0;
}

void
mon_front_read(struct mon *m)
{
	ssize_t n;
	int fd, i, r;

	for (i = 0; i < 64 && m->fr_fd >= 0; i++) {
		n = sg_mp_recv(m->fr_fd, m->msg, &fd);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			if (fd >= 0)
				close(fd);
			close(m->fr_fd);
			m->fr_fd = -1;
			m->fr_ready = 0;
			sg_mpq_free(m->frq);
			m->frq = NULL;
			if (!m->fr_child) {
				sg_err("the adopted sandgate-front went away: "
				    "starting a new one");
				m->fr_pid = 0;
				m->fr_restart_ms = sg_mono_ms() + FR_RESTART_MS;
			}
			return;
		}
		if (sg_buf_data(m->msg)[0] == SG_CONFINE_REPORT) {
			struct mon_loglimit l = { 0, 0, 0 };

			if (fd >= 0)
				close(fd);
			(void)mon_child_note(&l, "sandgate-front",
			    sg_buf_data(m->msg), (size_t)n);
			front_end(m);
			return;
		}
		if (sg_buf_data(m->msg)[0] == SG_FEED_AUDIT) {
			/* (an adopted front may finish a request before it
			 * reads our RESYNC) */
			r = front_audit(sg_buf_data(m->msg) + 1, (size_t)n - 1);
		} else if (!m->fr_ready) {
			r = front_ready(m, fd);
			fd = -1;
		} else {
			r = -EPROTO;
		}
		if (fd >= 0)
			close(fd);
		if (r < 0) {
			sg_err("sandgate-front sent a bad message: restarting it");
			front_failed(m, "a bad message", -EPROTO);
			return;
		}
	}
}

void
mon_front_flush(struct mon *m)
{
	int r;

	if (m->fr_fd < 0 || m->frq == NULL || sg_mpq_pending(m->frq) == 0)
		return;
	r = sg_mpq_flush(m->frq, m->fr_fd);
	if (r < 0 && r != -EAGAIN)
		front_failed(m, "the feed", r);
	else if (r == -EAGAIN &&
	    sg_mono_ms() - sg_mpq_since(m->frq) > MON_PEER_STUCK_MS)
		front_failed(m, "the feed", -ETIMEDOUT);
}

void
mon_front_poll(struct mon *m, int64_t *timeout)
{
	int64_t now = sg_mono_ms();

	if (!configured(m))
		return;
	if (m->fr_fd >= 0 && !m->fr_ready && m->fr_deadline_ms != 0) {
		if (now >= m->fr_deadline_ms) {
			sg_err("sandgate-front did not get ready within %u s (its "
			    "log lines above say why)", FR_READY_MS / 1000);
			front_failed(m, "the start", -ETIMEDOUT);
		} else if (m->fr_deadline_ms - now < *timeout) {
			*timeout = m->fr_deadline_ms - now;
		}
	}
	if (m->fr_fd < 0 && m->fr_pid == 0 && m->fr_restart_ms != 0) {
		if (now >= m->fr_restart_ms)
			front_spawn(m);
		if (m->fr_restart_ms != 0 && m->fr_restart_ms - now < *timeout)
			*timeout = m->fr_restart_ms - now > 0 ?
			    m->fr_restart_ms - now : 0;
	}
}

void
mon_front_reaped(struct mon *m, int status)
{
	int64_t delay = FR_RESTART_MS;
	char how[64];

	if (!m->fr_was_ready)
		m->fr_fails++;
	m->fr_was_ready = 0;
	if (m->fr_fails > 0)
		delay = m->fr_fails >= 7 ? 60000 : FR_RESTART_MS << m->fr_fails;
	if (delay > 60000)
		delay = 60000;
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WIFEXITED(status) ? WEXITSTATUS(status) : status);
	sg_err("sandgate-front %s: restarting it in %lld s; open HTTPS "
	    "connections to exposed ports end", how, (long long)(delay / 1000));
	if (m->fr_fd >= 0)
		close(m->fr_fd);
	m->fr_fd = -1;
	m->fr_pid = 0;
	m->fr_child = 0;
	m->fr_ready = 0;
	sg_mpq_free(m->frq);
	m->frq = NULL;
	m->fr_restart_ms = sg_mono_ms() + delay;
}

/* --- expose and unexpose --- */

static struct mon_expose *
find_port(struct sbx *s, uint16_t port)
{
	size_t i;

	for (i = 0; i < s->nex; i++)
		if (s->ex[i].port == port)
			return &s->ex[i];
	return NULL;
}

/* Another live sandbox whose port has the same URL (a name that is
 * another's id, or two tokens' tags alike). */
static const struct sbx *
label_taken(struct mon *m, const struct sbx *s, uint16_t port)
{
	char mine[SG_EXPLINK_LABEL_MAX], other[SG_EXPLINK_LABEL_MAX];
	const struct sbx *t;

	if (label_of(m, s, port, mine) < 0)
		return NULL;
	for (t = m->sbxs; t != NULL; t = t->next)
		if (t != s && live(t) && find_port((struct sbx *)t, port) != NULL &&
		    label_of(m, t, port, other) == 0 && strcmp(mine, other) == 0)
			return t;
	return NULL;
}

static void
answer_expose(struct mon *m, struct mon_call *c, struct sbx *s,
    const struct mon_expose *e, int64_t expires)
{
	char label[SG_EXPLINK_LABEL_MAX], cred[SG_EXPLINK_CRED_MAX];
	char url[512], link[600];
	struct sg_explink_grant g;

	if (label_of(m, s, e->port, label) < 0 ||
	    sg_explink_url(label, m->cfg->expose_domain, m->cfg->expose_port,
	    NULL, url, sizeof(url)) < 0) {
		mon_call_fail(m, c, "failed", "cannot make the URL");
		return;
	}
	g.label = label;
	g.id = s->id;
	g.nonce = e->nonce;
	if (e->public) {
		snprintf(link, sizeof(link), "%s", url);
	} else if (sg_explink_make(m->fr_key, SG_EXPLINK_LINK, &g, expires,
	    cred) < 0 || sg_explink_url(label, m->cfg->expose_domain,
	    m->cfg->expose_port, cred, link, sizeof(link)) < 0) {
		mon_call_fail(m, c, "failed", "cannot sign the link");
		return;
	}
	OPENSSL_cleanse(cred, sizeof(cred));
	if (!c->json) {
		sg_buf_putf(c->out, "%s\n%s\n", url, link);
	} else {
		sg_buf_putf(c->out, "{\"url\": ");
		sg_json_str(c->out, url);
		sg_buf_putf(c->out, ", \"link\": ");
		sg_json_str(c->out, link);
		sg_buf_putf(c->out, ", \"public\": %s, \"port\": %u, "
		    "\"sandbox\": ", e->public ? "true" : "false",
		    (unsigned)e->port);
		sg_json_str(c->out, s->id);
		sg_buf_putf(c->out, ", \"name\": ");
		sg_json_str(c->out, s->name[0] ? s->name : NULL);
		if (e->public)
			sg_buf_putf(c->out, ", \"expires\": null}\n");
		else
			sg_buf_putf(c->out, ", \"expires\": %lld}\n",
			    (long long)expires);
	}
	OPENSSL_cleanse(link, sizeof(link));
	mon_call_finish(m, c, 0);
}

static void
cmd_expose(struct mon *m, struct mon_call *c, const struct sg_ctla *q,
    struct sbx *s)
{
	const struct sbx *t;
	struct mon_expose *e, *v;
	int64_t now = mon_now(), expires;
	char ttl[32] = "", port[8];
	int fresh = 0, was_public = 0;

	e = find_port(s, q->port);
	if (e == NULL) {
		if (s->nex >= m->cfg->expose_max_ports) {
			mon_call_fail(m, c, "limit", "%s has %zu exposed ports, "
			    "the most a sandbox may have ([expose] max_ports): "
			    "unexpose one first", sbx_label_name(s), s->nex);
			return;
		}
		if ((t = label_taken(m, s, q->port)) != NULL) {
			mon_call_fail(m, c, "exists", "sandbox %s's port %u "
			    "has the same URL: rename this sandbox",
			    t->id, (unsigned)q->port);
			return;
		}
		v = realloc(s->ex, (s->nex + 1) * sizeof(*v));
		if (v == NULL) {
			mon_call_fail(m, c, "unavailable", "the gateway is out "
			    "of memory");
			return;
		}
		s->ex = v;
		e = &s->ex[s->nex++];
		memset(e, 0, sizeof(*e));
		e->port = q->port;
		if (sg_util_random(&e->nonce, sizeof(e->nonce)) < 0) {
			s->nex--;
			mon_call_fail(m, c, "failed", "no randomness");
			return;
		}
		fresh = 1;
	}
	was_public = e->public;
	e->public = q->public;
	if (mon_sbx_rerecord(m, s) < 0) {
		if (fresh)
			s->nex--;
		else
			e->public = was_public;
		mon_call_fail(m, c, "failed", "cannot record the exposed port "
		    "(the gateway's log says why)");
		return;
	}
	if (fresh)
		set_exposed(m);
	if (m->fr_fd >= 0 && m->fr_ready)
		send_expose(m, s, e);
	expires = now + (int64_t)(q->ttl_s ? q->ttl_s : SG_CTLA_TTL_MAX);
	if (q->ttl_s)
		(void)sg_util_format_duration(q->ttl_s, ttl, sizeof(ttl));
	snprintf(port, sizeof(port), "%u", (unsigned)e->port);
	sg_info("sandbox %s: port %s exposed%s%s%s (%s)", s->id, port,
	    e->public ? ", public" : "", q->ttl_s ? ", link for " : "", ttl,
	    c->token ? c->token : "root");
	sg_audit("port_exposed", "sandbox", s->id, "token", s->token,
	    "port", port, "public", e->public ? "yes" : "no", "ttl",
	    q->ttl_s ? ttl : NULL, "caller", c->token ? c->token : "root",
	    NULL);
	answer_expose(m, c, s, e, expires);
}

static void
cmd_unexpose(struct mon *m, struct mon_call *c, const struct sg_ctla *q,
    struct sbx *s)
{
	struct mon_expose *e = find_port(s, q->port), keep;
	char port[8];
	size_t i;

	if (e == NULL) {
		mon_call_fail(m, c, "not_found", "port %u of %s is not exposed "
		    "(see info %s)", (unsigned)q->port, sbx_label_name(s),
		    sbx_label_name(s));
		return;
	}
	keep = *e;
	i = (size_t)(e - s->ex);
	s->ex[i] = s->ex[--s->nex];
	if (mon_sbx_rerecord(m, s) < 0) {
		s->ex[s->nex] = s->ex[i];
		s->ex[i] = keep;
		s->nex++;
		mon_call_fail(m, c, "failed", "cannot record the change (the "
		    "gateway's log says why)");
		return;
	}
	set_exposed(m);
	send_unexpose(m, s, keep.port);
	snprintf(port, sizeof(port), "%u", (unsigned)keep.port);
	sg_info("sandbox %s: port %s unexposed (%s)", s->id, port,
	    c->token ? c->token : "root");
	sg_audit("port_unexposed", "sandbox", s->id, "token", s->token,
	    "port", port, "caller", c->token ? c->token : "root", NULL);
	if (c->json) {
		sg_buf_putf(c->out, "{\"unexposed\": {\"sandbox\": ");
		sg_json_str(c->out, s->id);
		sg_buf_putf(c->out, ", \"port\": %u}}\n", (unsigned)keep.port);
	} else {
		sg_buf_putf(c->out, "port %u of %s unexposed\n",
		    (unsigned)keep.port, sbx_label_name(s));
	}
	mon_call_finish(m, c, 0);
}

void
mon_front_cmd(struct mon *m, struct mon_call *c, const struct sg_ctla *q)
{
	struct sbx *s;

	if (!configured(m)) {
		mon_call_fail(m, c, "unavailable", "this gateway exposes no "
		    "ports: its operator has not set [expose] listen in "
		    "sandgate.conf");
		return;
	}
	if ((s = mon_api_lookup(m, c, q)) == NULL)
		return;
	if (s->pool) {
		mon_call_fail(m, c, "refused", "sandbox %s is in the warm pool: "
		    "none of its ports is exposed", s->id);
		return;
	}
	if (s->state == SB_CREATING || !s->has_net) {
		mon_call_fail(m, c, "refused", "sandbox %s is %s: try again "
		    "once it runs", sbx_label_name(s), mon_sbx_state_name(s));
		return;
	}
	if (q->cmd == SG_CTLA_EXPOSE)
		cmd_expose(m, c, q, s);
	else
		cmd_unexpose(m, c, q, s);
}
