/* sg_json: see json.h. */
#include "config.h"

#include "common/buf.h"
#include "common/json.h"

void
sg_json_str(struct sg_buf *b, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		sg_buf_putf(b, "null");
		return;
	}
	sg_buf_put(b, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			sg_buf_putf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			sg_buf_putf(b, "\\u%04x", *p);
		else if (*p >= 0x80)
			sg_buf_put(b, "?", 1);
		else
			sg_buf_put(b, p, 1);
	}
	sg_buf_put(b, "\"", 1);
}

void
sg_json_strv(struct sg_buf *b, char *const *v, size_t n)
{
	size_t i;

	sg_buf_put(b, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sg_buf_put(b, ", ", 2);
		sg_json_str(b, v[i]);
	}
	sg_buf_put(b, "]", 1);
}
