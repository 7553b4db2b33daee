/* sg_text: see text.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/text.h"

void
sg_vmsg(char **ret_msg, const char *fmt, va_list ap)
{
	if (ret_msg == NULL)
		return;
	if (vasprintf(ret_msg, fmt, ap) < 0)
		*ret_msg = NULL;
}

void
sg_msg(char **ret_msg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sg_vmsg(ret_msg, fmt, ap);
	va_end(ap);
}

int
sg_fail(char **ret_msg, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sg_vmsg(ret_msg, fmt, ap);
	va_end(ap);
	return r;
}

int
sg_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
sg_valid_login(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= SG_LOGIN_MAX || !((c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || (c == '-' && i > 0)))
			return 0;
	}
	return i > 0;
}
