/* sp_rw: placeholders to values in requests. See rewrite.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "common/base64.h"
#include "common/buf.h"
#include "secrets/rewrite.h"

static int
rw_check(const struct sp_rw_pair *pairs, size_t npairs)
{
	size_t i;

	if (npairs > SP_RW_MAX_PAIRS)
		return -EINVAL;
	for (i = 0; i < npairs; i++)
		if (pairs[i].from_len == 0)
			return -EINVAL;
	return 0;
}

/* The pair matching at p[0..n), or -1. */
static int
rw_match(const unsigned char *p, size_t n, const struct sp_rw_pair *pairs,
    size_t npairs)
{
	size_t i;

	for (i = 0; i < npairs; i++)
		if (pairs[i].from_len <= n &&
		    memcmp(p, pairs[i].from, pairs[i].from_len) == 0)
			return (int)i;
	return -1;
}

static int
put_pct(struct sg_buf *out, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	char e[3];
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			if (sg_buf_put(out, &c, 1) < 0)
				return -ENOBUFS;
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		if (sg_buf_put(out, e, 3) < 0)
			return -ENOBUFS;
	}
	return 0;
}

static int
rw_replace(struct sg_buf *out, const void *p, size_t n,
    const struct sp_rw_pair *pairs, size_t npairs, uint64_t *ret_used,
    int pct)
{
	const unsigned char *s = p;
	size_t i = 0, lit = 0;
	int k, count = 0, r;

	if ((r = rw_check(pairs, npairs)) < 0)
		return r;
	while (i < n) {
		k = rw_match(s + i, n - i, pairs, npairs);
		if (k < 0) {
			i++;
			continue;
		}
		if (sg_buf_put(out, s + lit, i - lit) < 0)
			return -ENOBUFS;
		r = pct ? put_pct(out, pairs[k].to, pairs[k].to_len) :
		    sg_buf_put(out, pairs[k].to, pairs[k].to_len);
		if (r < 0)
			return -ENOBUFS;
		if (ret_used != NULL)
			*ret_used |= UINT64_C(1) << k;
		count++;
		i += pairs[k].from_len;
		lit = i;
	}
	if (sg_buf_put(out, s + lit, n - lit) < 0)
		return -ENOBUFS;
	return count;
}

int
sp_rw_replace(struct sg_buf *out, const void *p, size_t n,
    const struct sp_rw_pair *pairs, size_t npairs, uint64_t *ret_used)
{
	return rw_replace(out, p, n, pairs, npairs, ret_used, 0);
}

int
sp_rw_query(struct sg_buf *out, const void *p, size_t n,
    const struct sp_rw_pair *pairs, size_t npairs, uint64_t *ret_used)
{
	return rw_replace(out, p, n, pairs, npairs, ret_used, 1);
}

int
sp_rw_basic(struct sg_buf *out, const void *p, size_t n,
    const struct sp_rw_pair *pairs, size_t npairs, uint64_t *ret_used)
{
	const unsigned char *s = p;
	uint8_t *dec = NULL;
	struct sg_buf *tmp = NULL;
	size_t i = 0, dn = 0;
	int r;

	if ((r = rw_check(pairs, npairs)) < 0)
		return r;
	if (n < 6 || strncasecmp((const char *)s, "basic ", 6) != 0)
		return 0;
	for (i = 6; i < n && s[i] == ' '; i++)
		;
	r = sg_b64_decode((const char *)s + i, n - i, &dec, &dn);
	if (r == -EINVAL)
		return 0;	/* not base64: the value as it is */
	if (r < 0)
		return r;
	if (dn == 0)
		goto out;
	tmp = sg_buf_new(n + 4096);
	if (tmp == NULL) {
		r = -ENOMEM;
		goto out;
	}
	sg_buf_set_wipe(tmp, 1);
	r = sp_rw_replace(tmp, dec, dn, pairs, npairs, ret_used);
	if (r <= 0)
		goto out;
	if (sg_buf_put(out, s, i) < 0 ||
	    sg_b64_encode(out, sg_buf_data(tmp), sg_buf_len(tmp)) < 0)
		r = -ENOBUFS;
out:
	if (dec != NULL) {
		explicit_bzero(dec, dn);
		free(dec);
	}
	sg_buf_free(tmp);
	return r;
}
