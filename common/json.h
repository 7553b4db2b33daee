/* sg_json: writing JSON strings, for every --json output.
 *
 * ASCII is written as is (escaped where JSON says), control bytes as
 * \u00XX, other bytes as '?': names, paths and messages here are ASCII,
 * and a byte that is not must not make the document invalid. */
#ifndef SG_JSON_H
#define SG_JSON_H

#include <stddef.h>

struct sg_buf;

/* Appends s as a JSON string, or null when s is NULL. */
void sg_json_str(struct sg_buf *b, const char *s);
/* Appends the n strings of v as a JSON array. */
void sg_json_strv(struct sg_buf *b, char *const *v, size_t n);

#endif
