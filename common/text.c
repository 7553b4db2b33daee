/* sg_text: see text.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/text.h"

void
sg_msg(char **ret_msg, const char *fmt, ...)
{
	va_list ap;

	if (ret_msg == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(ret_msg, fmt, ap) < 0)
		*ret_msg = NULL;
	va_end(ap);
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
