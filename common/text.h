/* sg_text: small helpers for text that several parts read and write.
 *
 *   sg_msg      a message for users, formatted into a new string (the
 *               "char **ret_msg" out-parameter of netpolicy, secrets, ...)
 *   sg_fail     the same, returning an error code: `return sg_fail(...)`
 *   sg_hexval   the value of one hex digit, either case
 *   sg_valid_login  an SSH user name sandgated accepts
 */
#ifndef SG_TEXT_H
#define SG_TEXT_H

#include <stdarg.h>
#include <stdint.h>

/* Sets *ret_msg to a new string (the caller frees it), or to NULL when
 * out of memory. ret_msg may be NULL: nothing is done. */
void sg_msg(char **ret_msg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void sg_vmsg(char **ret_msg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* sg_msg, then returns r. */
int sg_fail(char **ret_msg, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 0..15 for 0-9, a-f, A-F; -1 for anything else. */
int sg_hexval(uint8_t c);

/* SG_LOGIN_MAX: the longest SSH user name sandgated accepts. */
#define SG_LOGIN_MAX 32
/* 1 when s is an SSH user name sandgated accepts (a sandbox name, the
 * control user): 1 to SG_LOGIN_MAX of a-z, 0-9 and '-', not starting
 * with '-'; else 0. */
int sg_valid_login(const char *s);

#endif
