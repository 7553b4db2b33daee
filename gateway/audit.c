/* sg_audit: see audit.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "gateway/audit.h"

static int audit_fd = -1;
static char *audit_path;

static int
audit_openfd(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

int
sg_audit_open(const char *path)
{
	int fd;

	sg_audit_close();
	if (path == NULL || path[0] == '\0')
		return 0;
	fd = audit_openfd(path);
	if (fd < 0)
		return fd;
	audit_path = strdup(path);
	if (audit_path == NULL) {
		close(fd);
		return -ENOMEM;
	}
	audit_fd = fd;
	return 0;
}

int
sg_audit_reopen(void)
{
	int fd;

	if (audit_path == NULL)
		return 0;
	fd = audit_openfd(audit_path);
	if (fd < 0)
		return fd;	/* the old file goes on */
	dup3(fd, audit_fd, O_CLOEXEC);
	close(fd);
	return 0;
}

void
sg_audit_close(void)
{
	if (audit_fd >= 0)
		close(audit_fd);
	audit_fd = -1;
	free(audit_path);
	audit_path = NULL;
}

void
sg_audit_escape(char *out, size_t outsz, const char *s)
{
	size_t o = 0;
	const unsigned char *p;

	if (outsz == 0)
		return;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		char tmp[8];
		size_t n;

		if (*p == '"' || *p == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)*p;
			n = 2;
		} else if (*p < 0x20 || *p >= 0x7f) {
			/* Bytes past ASCII too: peers choose them, and the
			 * file must stay valid JSON whatever they send. */
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
		} else {
			tmp[0] = (char)*p;
			n = 1;
		}
		if (o + n >= outsz)
			break;
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
}

void
sg_audit(const char *event, ...)
{
	const char *kv[2 * SG_AUDIT_MAX_PAIRS + 1], *k, *v;
	size_t n = 0;
	va_list ap;

	va_start(ap, event);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (v == NULL || n + 2 > 2 * SG_AUDIT_MAX_PAIRS)
			continue;
		kv[n++] = k;
		kv[n++] = v;
	}
	va_end(ap);
	kv[n] = NULL;
	sg_audit_pairs(event, kv);
}

void
sg_audit_pairs(const char *event, const char *const *kv)
{
	struct sg_buf *b;
	char esc[1024], ts[64];
	struct timespec now;
	struct tm tm;
	size_t i;
	int r;

	if (audit_fd < 0)
		return;
	b = sg_buf_new(16384);
	if (b == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	sg_audit_escape(esc, sizeof(esc), event);
	r = sg_buf_putf(b, "{\"time\":\"%s.%03ldZ\",\"event\":\"%s\"", ts,
	    now.tv_nsec / 1000000, esc);
	for (i = 0; r == 0 && kv[i] != NULL && kv[i + 1] != NULL; i += 2) {
		sg_audit_escape(esc, sizeof(esc), kv[i + 1]);
		r = sg_buf_putf(b, ",\"%s\":\"%s\"", kv[i], esc);
	}
	if (r == 0)
		r = sg_buf_put(b, "}\n", 2);
	if (r == 0 && write(audit_fd, sg_buf_data(b), sg_buf_len(b)) < 0)
		sg_warn("cannot write the audit log: %s", strerror(errno));
	sg_buf_free(b);
}
