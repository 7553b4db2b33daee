/* sg_name: see hostname.h. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/hostname.h"

static int is_digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }

static int is_hex(unsigned char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int is_name_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) ||
	       ch == '-' || ch == '_';
}

int sg_name_label_is_number(const char *s, size_t n)
{
	size_t i;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < n; i++)
			if (!is_hex((unsigned char)s[i]))
				return 0;
		return 1;
	}
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_digit((unsigned char)s[i]))
			return 0;
	return 1;
}

enum sg_name_err sg_name_check(const char *in, size_t len, char out[SG_NAME_MAX],
    struct sg_name_fault *f)
{
	size_t i, start = 0;
	enum sg_name_err err = SG_NAME_OK;

	memset(f, 0, sizeof(*f));
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0)
		return SG_NAME_EMPTY;
	/* non-ASCII first: a UTF-8 name would otherwise get a confusing
	 * complaint about one of its bytes */
	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] >= 0x80)
			return SG_NAME_NON_ASCII;
	if (memchr(in, '*', len))
		return SG_NAME_STAR;
	for (i = 0; i <= len; i++) {
		size_t ll;

		if (i < len && in[i] != '.') {
			if (!is_name_char((unsigned char)in[i])) {
				f->ch = (unsigned char)in[i];
				return SG_NAME_BAD_CHAR;
			}
			continue;
		}
		ll = i - start;
		f->label_off = start;
		f->label_len = ll;
		if (ll == 0)
			return SG_NAME_EMPTY_LABEL;
		if (ll > SG_NAME_LABEL_MAX)
			return SG_NAME_LABEL_LONG;
		if (in[start] == '-' || in[i - 1] == '-')
			return SG_NAME_HYPHEN;
		start = i + 1;
	}
	if (len > SG_NAME_LEN_MAX) {
		f->len = len;
		return SG_NAME_TOO_LONG;
	}
	if (sg_name_label_is_number(in + f->label_off, f->label_len))
		err = SG_NAME_NUMERIC;
	for (i = 0; i < len; i++) {
		char ch = in[i];

		out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	out[len] = '\0';
	return err;
}

int sg_name_normalise(const char *in, char *out, size_t outsz)
{
	char tmp[SG_NAME_MAX];
	struct sg_name_fault f;
	size_t n;

	if (!in)
		return -EINVAL;
	if (sg_name_check(in, strlen(in), tmp, &f) != SG_NAME_OK)
		return -EINVAL;
	n = strlen(tmp);
	if (n >= outsz)
		return -ENOBUFS;
	memcpy(out, tmp, n + 1);
	return 0;
}
