/* sg_secret: see secretval.h. */
#include "config.h"

#include <stdint.h>

#include "common/secretval.h"

int
sg_secret_value_ok(const void *v, size_t n, const char **ret_why)
{
	const uint8_t *p = v;
	const char *why = NULL;
	size_t i;

	if (n < SG_SECRET_MIN)
		why = "shorter than 8 bytes, which the proxy could not tell "
		    "from ordinary text in responses";
	else if (n > SG_SECRET_MAX)
		why = "longer than 4096 bytes";
	for (i = 0; why == NULL && i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			why = "holding a control character (a line break?)";
	if (why != NULL && ret_why != NULL)
		*ret_why = why;
	return why == NULL;
}
