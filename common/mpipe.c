/* sg_mp: the monitor's messages to and from workers and shims, see mpipe.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mpipe.h"

int
sg_mp_send(int sock, const struct sg_buf *msg, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {
		.iov_base = (void *)sg_buf_data(msg),
		.iov_len = sg_buf_len(msg),
	};
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (sg_buf_len(msg) == 0 || sg_buf_len(msg) > SG_MP_MAX)
		return -EINVAL;
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sg_buf_len(msg) ? 0 : -EIO;
}

ssize_t
sg_mp_recv(int sock, struct sg_buf *msg, int *ret_fd)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;
	uint8_t *dst;
	ssize_t n;
	int fd = -1, r;
	size_t i, nfd;

	*ret_fd = -1;
	sg_buf_reset(msg);
	r = sg_buf_reserve(msg, SG_MP_MAX, &dst);
	if (r < 0)
		return r;
	iov.iov_base = dst;
	iov.iov_len = SG_MP_MAX;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int x;

			memcpy(&x, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = x;
			else
				close(x);
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (fd >= 0)
			close(fd);
		return -EMSGSIZE;
	}
	sg_buf_commit(msg, (size_t)n);
	*ret_fd = fd;
	return n;
}

int
sg_mp_put_str(struct sg_buf *b, const char *s)
{
	size_t n = strlen(s);
	int r;

	if (n > SG_MP_MAX_STR)
		return -EINVAL;
	r = sg_buf_put_u32(b, (uint32_t)n);
	return r < 0 ? r : sg_buf_put(b, s, n);
}

int
sg_mp_begin(struct sg_buf *b, uint8_t type)
{
	sg_buf_reset(b);
	return sg_buf_put_u8(b, type);
}

int
sg_mp_put_str_max(struct sg_buf *b, const char *s, size_t max)
{
	if (s == NULL || strlen(s) > max)
		return -EINVAL;
	return sg_mp_put_str(b, s);
}

int
sg_mp_end(struct sg_buf *b, int r)
{
	if (r == 0 && sg_buf_len(b) > SG_MP_MAX)
		r = -ENOBUFS;
	if (r < 0)
		sg_buf_reset(b);
	return r;
}

int
sg_mp_get_str(struct sg_cur *c, size_t max, char **ret)
{
	uint32_t n = sg_cur_u32(c);
	const uint8_t *p;
	char *s;

	if (c->err || n > max)
		return -EPROTO;
	p = sg_cur_bytes(c, n);
	if (p == NULL || memchr(p, '\0', n) != NULL)
		return -EPROTO;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return -ENOMEM;
	memcpy(s, p, n);
	s[n] = '\0';
	*ret = s;
	return 0;
}

void
sg_mp_auth_clear(struct sg_mp_auth *a)
{
	if (a == NULL)
		return;
	if (a->secret != NULL) {
		explicit_bzero(a->secret, strlen(a->secret));
		free(a->secret);
	}
	free(a->user);
	free(a->keytype);
	free(a->blob);
	memset(a, 0, sizeof(*a));
}

int
sg_mp_parse_auth(uint8_t type, const uint8_t *p, size_t n,
    struct sg_mp_auth *ret)
{
	struct sg_mp_auth a;
	struct sg_cur c;
	int r;

	memset(&a, 0, sizeof(a));
	a.type = type;
	sg_cur_init(&c, p, n);
	if (type == SG_MP_AUTH_PASSWORD) {
		r = sg_mp_get_str(&c, 256, &a.user);
		if (r == 0)
			r = sg_mp_get_str(&c, 4096, &a.secret);
	} else if (type == SG_MP_AUTH_KEY) {
		a.verified = sg_cur_u8(&c);
		r = c.err || a.verified > 1 ? -EPROTO : 0;
		if (r == 0)
			r = sg_mp_get_str(&c, 256, &a.user);
		if (r == 0)
			r = sg_mp_get_str(&c, 64, &a.keytype);
		if (r == 0)
			r = sg_mp_get_str(&c, 8192, &a.blob);
	} else {
		r = -EPROTO;
	}
	if (r == 0 && c.n != 0)
		r = -EPROTO;
	if (r < 0) {
		sg_mp_auth_clear(&a);
		return r;
	}
	*ret = a;
	return 0;
}

int
sg_mp_put_auth(struct sg_buf *b, const struct sg_mp_auth *a)
{
	int r = sg_buf_put_u8(b, a->type);

	if (r == 0 && a->type == SG_MP_AUTH_PASSWORD) {
		r = sg_mp_put_str(b, a->user);
		if (r == 0)
			r = sg_mp_put_str(b, a->secret);
	} else if (r == 0 && a->type == SG_MP_AUTH_KEY) {
		r = sg_buf_put_u8(b, a->verified);
		if (r == 0)
			r = sg_mp_put_str(b, a->user);
		if (r == 0)
			r = sg_mp_put_str(b, a->keytype);
		if (r == 0)
			r = sg_mp_put_str(b, a->blob);
	} else if (r == 0) {
		r = -EINVAL;
	}
	return r;
}

int
sg_mp_parse_start(const uint8_t *p, size_t n, char **ret)
{
	struct sg_cur c;
	char *user = NULL;
	int r;

	sg_cur_init(&c, p, n);
	r = sg_mp_get_str(&c, 64, &user);
	if (r == 0 && c.n != 0)
		r = -EPROTO;
	if (r < 0) {
		free(user);
		return r;
	}
	*ret = user;
	return 0;
}

/* --- shim requests --- */

void
sg_mp_shim_init_clear(struct sg_mp_shim_init *si)
{
	size_t i;

	if (si == NULL)
		return;
	free(si->id);
	free(si->root);
	free(si->dns);
	for (i = 0; si->ov_name != NULL && i < si->nov; i++)
		free(si->ov_name[i]);
	free(si->ov_name);
	free(si->ov_addr);
	sg_config_free(si->cfg);
	memset(si, 0, sizeof(*si));
}

int
sg_mp_put_shim_init(struct sg_buf *b, const struct sg_mp_shim_init *si)
{
	size_t i, n = si->cfg != NULL ? sg_config_count(si->cfg) : 0;
	int r;

	r = sg_buf_put_u8(b, SG_MP_SHIM_INIT);
	if (r == 0)
		r = sg_buf_put_u32(b, SG_MP_SHIM_VERSION);
	if (r == 0)
		r = sg_mp_put_str(b, si->id);
	if (r == 0)
		r = sg_buf_put_u32(b, si->uid);
	if (r == 0)
		r = sg_buf_put_u32(b, si->gid);
	if (r == 0)
		r = sg_mp_put_str(b, si->root);
	if (r == 0)
		r = sg_buf_put_u32(b, si->boot_ms);
	if (r == 0)
		r = sg_buf_put_u32(b, si->cid);
	if (r == 0)
		r = sg_buf_put_u8(b, si->ephemeral);
	if (r == 0)
		r = sg_buf_put_u64(b, (uint64_t)si->expires);
	if (r == 0)
		r = sg_mp_put_str(b, si->dns != NULL ? si->dns : "");
	if (r == 0)
		r = sg_buf_put_u32(b, (uint32_t)si->nov);
	for (i = 0; r == 0 && i < si->nov; i++) {
		r = sg_mp_put_str(b, si->ov_name[i]);
		if (r == 0)
			r = sg_buf_put(b, si->ov_addr[i], 4);
	}
	if (r == 0)
		r = sg_buf_put_u32(b, (uint32_t)n);
	for (i = 0; r == 0 && i < n; i++) {
		r = sg_mp_put_str(b, sg_config_key(si->cfg, i));
		if (r == 0)
			r = sg_mp_put_str(b, sg_config_value(si->cfg, i));
	}
	return r;
}

int
sg_mp_parse_shim_init(const uint8_t *p, size_t n, struct sg_mp_shim_init *ret)
{
	struct sg_mp_shim_init si;
	struct sg_cur c;
	char *k = NULL, *v = NULL;
	uint32_t nov, ncfg, i;
	const uint8_t *a;
	int r = -EPROTO;

	memset(&si, 0, sizeof(si));
	sg_cur_init(&c, p, n);
	if (sg_cur_u32(&c) != SG_MP_SHIM_VERSION || c.err)
		goto fail;
	if (sg_mp_get_str(&c, 64, &si.id) < 0)
		goto fail;
	si.uid = sg_cur_u32(&c);
	si.gid = sg_cur_u32(&c);
	if (c.err || sg_mp_get_str(&c, 4096, &si.root) < 0)
		goto fail;
	si.boot_ms = sg_cur_u32(&c);
	si.cid = sg_cur_u32(&c);
	si.ephemeral = sg_cur_u8(&c);
	si.expires = (int64_t)sg_cur_u64(&c);
	if (c.err || si.ephemeral > 1 || sg_mp_get_str(&c, 1024, &si.dns) < 0)
		goto fail;
	nov = sg_cur_u32(&c);
	if (c.err || nov > 256)
		goto fail;
	si.ov_name = calloc(nov + 1, sizeof(*si.ov_name));
	si.ov_addr = calloc(nov + 1, sizeof(*si.ov_addr));
	if (si.ov_name == NULL || si.ov_addr == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < nov; i++) {
		if (sg_mp_get_str(&c, 256, &si.ov_name[i]) < 0)
			goto fail;
		si.nov++;
		a = sg_cur_bytes(&c, 4);
		if (a == NULL)
			goto fail;
		memcpy(si.ov_addr[i], a, 4);
	}
	ncfg = sg_cur_u32(&c);
	if (c.err || ncfg > 256)
		goto fail;
	si.cfg = sg_config_new();
	if (si.cfg == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < ncfg; i++) {
		if (sg_mp_get_str(&c, 64, &k) < 0 ||
		    sg_mp_get_str(&c, SG_MP_MAX_STR, &v) < 0 ||
		    sg_config_add(si.cfg, k, v) < 0)
			goto fail;
		free(k);
		free(v);
		k = v = NULL;
	}
	if (c.n != 0)
		goto fail;
	*ret = si;
	return 0;
fail:
	free(k);
	free(v);
	sg_mp_shim_init_clear(&si);
	return r;
}

void
sg_mp_shim_state_clear(struct sg_mp_shim_state *st)
{
	if (st == NULL)
		return;
	free(st->id);
	free(st->why);
	memset(st, 0, sizeof(*st));
}

int
sg_mp_put_shim_state(struct sg_buf *b, const struct sg_mp_shim_state *st)
{
	int r;

	r = sg_buf_put_u8(b, SG_MP_SHIM_STATE);
	if (r == 0)
		r = sg_buf_put_u32(b, SG_MP_SHIM_VERSION);
	if (r == 0)
		r = sg_mp_put_str(b, st->id);
	if (r == 0)
		r = sg_buf_put_u8(b, st->agent);
	if (r == 0)
		r = sg_buf_put_u32(b, st->links);
	if (r == 0)
		r = sg_buf_put_u32(b, st->idle_s);
	if (r == 0)
		r = sg_buf_put_u8(b, st->ephemeral);
	if (r == 0)
		r = sg_buf_put_u64(b, (uint64_t)st->expires);
	if (r == 0)
		r = sg_mp_put_str(b, st->why != NULL ? st->why : "");
	return r;
}

/* Parsed from a shim, which the guest may have taken over: every field is
 * checked; the version is returned for the caller to judge. */
int
sg_mp_parse_shim_state(const uint8_t *p, size_t n, struct sg_mp_shim_state *ret)
{
	struct sg_mp_shim_state st;
	struct sg_cur c;

	memset(&st, 0, sizeof(st));
	sg_cur_init(&c, p, n);
	st.version = sg_cur_u32(&c);
	if (c.err || sg_mp_get_str(&c, 64, &st.id) < 0)
		goto fail;
	st.agent = sg_cur_u8(&c);
	st.links = sg_cur_u32(&c);
	st.idle_s = sg_cur_u32(&c);
	st.ephemeral = sg_cur_u8(&c);
	st.expires = (int64_t)sg_cur_u64(&c);
	if (c.err || st.agent > SG_MP_AGENT_DOWN || st.ephemeral > 1 ||
	    sg_mp_get_str(&c, 1024, &st.why) < 0 || c.n != 0)
		goto fail;
	*ret = st;
	return 0;
fail:
	sg_mp_shim_state_clear(&st);
	return -EPROTO;
}

/* --- a send queue --- */

struct mpq_msg {
	struct mpq_msg *next;
	int fd;
	size_t len;
	uint8_t data[];
};

struct sg_mpq {
	struct mpq_msg *head, **tail;
	size_t bytes, max, n;
	int64_t since;
};

struct sg_mpq *
sg_mpq_new(size_t max)
{
	struct sg_mpq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->tail = &q->head;
	q->max = max;
	return q;
}

void
sg_mpq_free(struct sg_mpq *q)
{
	struct mpq_msg *m;

	if (q == NULL)
		return;
	while ((m = q->head) != NULL) {
		q->head = m->next;
		if (m->fd >= 0)
			close(m->fd);
		explicit_bzero(m->data, m->len);	/* it may hold a secret */
		free(m);
	}
	free(q);
}

/* One sendmsg that never waits. 0, -EAGAIN or -errno. */
static int
mpq_sendmsg(int sock, const uint8_t *p, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int
sg_mpq_flush(struct sg_mpq *q, int sock)
{
	struct mpq_msg *m;
	int r;

	while ((m = q->head) != NULL) {
		r = mpq_sendmsg(sock, m->data, m->len, m->fd);
		if (r < 0)
			return r;
		q->head = m->next;
		if (q->head == NULL)
			q->tail = &q->head;
		q->bytes -= m->len;
		q->n--;
		if (m->fd >= 0)
			close(m->fd);
		explicit_bzero(m->data, m->len);	/* it may hold a secret */
		free(m);
	}
	q->since = 0;
	return 0;
}

int
sg_mpq_send(struct sg_mpq *q, int sock, const struct sg_buf *msg, int fd)
{
	struct mpq_msg *m;
	size_t len = sg_buf_len(msg);
	int r;

	if (len == 0 || len > SG_MP_MAX)
		return -EINVAL;
	if (q->head == NULL) {
		r = mpq_sendmsg(sock, sg_buf_data(msg), len, fd);
		if (r != -EAGAIN)
			return r;
	}
	if (q->bytes + len > q->max)
		return -ENOBUFS;
	m = malloc(sizeof(*m) + len);
	if (m == NULL)
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	memcpy(m->data, sg_buf_data(msg), len);
	m->fd = -1;
	if (fd >= 0 && (m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		r = -errno;
		free(m);
		return r;
	}
	*q->tail = m;
	q->tail = &m->next;
	q->bytes += len;
	q->n++;
	if (q->since == 0)
		q->since = sg_mono_ms();
	return 0;
}

size_t
sg_mpq_pending(const struct sg_mpq *q)
{
	return q->n;
}

int64_t
sg_mpq_since(const struct sg_mpq *q)
{
	return q->since;
}

int
sg_mp_send_log(int sock, int level, const char *text)
{
	uint8_t m[1 + 1 + 4 + SG_MP_LOG_MAX];
	size_t len = strnlen(text, SG_MP_LOG_MAX);
	ssize_t n;

	m[0] = SG_MP_LOG;
	m[1] = (uint8_t)level;
	m[2] = (uint8_t)(len >> 24);
	m[3] = (uint8_t)(len >> 16);
	m[4] = (uint8_t)(len >> 8);
	m[5] = (uint8_t)len;
	memcpy(m + 6, text, len);
	do {
		n = send(sock, m, 6 + len, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

static const int *log_fd;

static int
log_sink(int level, const char *text)
{
	if (log_fd == NULL || *log_fd < 0)
		return -1;
	return sg_mp_send_log(*log_fd, level, text) == 0 ? 0 : -1;
}

void
sg_mp_log_via(const int *fd)
{
	log_fd = fd;
	sg_log_set_sink(fd != NULL ? log_sink : NULL);
}

int
sg_mp_parse_log(const uint8_t *p, size_t n, int *level, char *text)
{
	struct sg_cur c;
	uint32_t len;
	size_t i;
	int lv;

	sg_cur_init(&c, p, n);
	lv = sg_cur_u8(&c);
	len = sg_cur_u32(&c);
	if (c.err || len > SG_MP_LOG_MAX || len != c.n)
		return -EPROTO;
	for (i = 0; i < len; i++) {
		uint8_t ch = c.p[i];

		text[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	text[len] = '\0';
	*level = lv < SG_LOG_ERR ? SG_LOG_ERR : lv > SG_LOG_DEBUG ?
	    SG_LOG_DEBUG : lv;
	return 0;
}
