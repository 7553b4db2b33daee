/* sg_poolspec: the value of [sandbox] warm_pool (poolspec.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "gateway/poolspec.h"

static const char hint[] = "give N, or N and IMAGE:N separated by commas "
    "(e.g. 2, python:1)";

static int
image_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 64 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int
sg_poolspec_parse(const char *s, struct sg_poolspec_ent *ret, size_t *ret_n,
    char *msg, size_t msglen)
{
	struct sg_poolspec_ent v[SG_POOLSPEC_IMAGES];
	const char *p = s, *colon;
	size_t n = 0, i, len, ilen;
	unsigned total = 0;
	uint64_t num;
	char item[96], nbuf[16];

	if (msglen > 0)
		msg[0] = '\0';
	if (s == NULL)
		goto bad;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0 || len >= sizeof(item))
			goto bad;
		memcpy(item, p, len);
		item[len] = '\0';
		if (n == SG_POOLSPEC_IMAGES) {
			snprintf(msg, msglen, "more than %d images",
			    SG_POOLSPEC_IMAGES);
			return -EINVAL;
		}
		colon = strchr(item, ':');
		ilen = colon != NULL ? (size_t)(colon - item) : 0;
		/* "python : 1" reads as "python:1" */
		while (ilen > 0 && (item[ilen - 1] == ' ' || item[ilen - 1] == '\t'))
			ilen--;
		while (colon != NULL && (colon[1] == ' ' || colon[1] == '\t'))
			colon++;
		if (colon != NULL && !image_ok(item, ilen)) {
			snprintf(msg, msglen, "\"%.*s\" is not an image name "
			    "([a-z0-9][a-z0-9._-]{0,63})", (int)ilen, item);
			return -EINVAL;
		}
		if (strlen(colon != NULL ? colon + 1 : item) >= sizeof(nbuf))
			goto bad;
		snprintf(nbuf, sizeof(nbuf), "%s", colon != NULL ? colon + 1 :
		    item);
		if (sg_util_parse_uint(nbuf, 0, SG_POOLSPEC_MAX, &num) < 0) {
			snprintf(msg, msglen, "\"%s\" is not a number of members "
			    "from 0 to %d", nbuf, SG_POOLSPEC_MAX);
			return -EINVAL;
		}
		memset(&v[n], 0, sizeof(v[n]));
		if (colon != NULL)
			memcpy(v[n].image, item, ilen);
		v[n].n = (unsigned)num;
		for (i = 0; i < n; i++)
			if (strcmp(v[i].image, v[n].image) == 0) {
				snprintf(msg, msglen, "%s appears twice",
				    v[n].image[0] ? v[n].image :
				    "the configured image (a bare N)");
				return -EINVAL;
			}
		total += v[n].n;
		n++;
		p += strcspn(p, ",");
		if (*p == '\0')
			break;
		p++;
	}
	if (total > SG_POOLSPEC_MAX) {
		snprintf(msg, msglen, "%u members in all: at most %d", total,
		    SG_POOLSPEC_MAX);
		return -EINVAL;
	}
	memcpy(ret, v, n * sizeof(v[0]));
	*ret_n = n;
	return 0;
bad:
	snprintf(msg, msglen, "%s", hint);
	return -EINVAL;
}
