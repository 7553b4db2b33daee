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
