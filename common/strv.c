/* sg_strv: see strv.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/strv.h"

void
sg_strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
sg_strv_sort(char **v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
}
