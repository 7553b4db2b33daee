/* sg_ini: the reader of sandgate's ini files (sandgate.conf, the tokens
 * file, an image's image.conf), over inih.
 *
 * sg_ini_parse() reads f with inih and calls on_section once per
 * "[name]" line and on_key once per "key = value" line, in file order,
 * with the physical line number and the exact (untruncated) section and
 * key names. Leading whitespace is ignored (no multi-line values); lines
 * may be up to SG_INI_LINE_MAX bytes; a file up to SG_INI_FILE_MAX.
 * Comments are lines starting with ';' or '#', and inline comments start
 * with " ;". A callback returns 0 or a negative errno and then sets
 * *ret_msg to a message without "FILE:LINE: " (NULL after -ENOMEM);
 * parsing stops at the first error. Returns 0, or a negative errno with
 * *ret_err set to "LABEL:LINE: message" (NULL only after -ENOMEM). */
#ifndef SG_INI_H
#define SG_INI_H

#include <stdio.h>

#define SG_INI_LINE_MAX 65000
#define SG_INI_FILE_MAX (16u << 20)

struct sg_ini_ops {
	int (*on_section)(void *user, unsigned line, const char *section, char **ret_msg);
	int (*on_key)(void *user, unsigned line, const char *section,
		      const char *key, const char *value, char **ret_msg);
};

int sg_ini_parse(FILE *f, const char *label, const struct sg_ini_ops *ops,
		      void *user, char **ret_err);

/* Opens path for sg_ini_parse (O_CLOEXEC) and checks that it is a
 * regular file, not writable by group or others, owned by root or the
 * caller. Returns 0 and *ret, or -errno with *ret_err set (to
 * "cannot read PATH: reason" and what to do). */
int sg_ini_open(const char *path, FILE **ret, char **ret_err);

/* Formats a message into *ret_msg and returns -EINVAL (or -ENOMEM with
 * *ret_msg NULL). For callbacks. */
int sg_ini_msg(char **ret_msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies s for a message: at most 80 characters, control characters as
 * '?', "..." when cut. Returns a new string or NULL. */
char *sg_ini_quote(const char *s);

#endif
