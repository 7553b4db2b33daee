/* sg_mp: monitor <-> worker message transport, see mpipe.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
