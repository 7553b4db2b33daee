/* sg_name: the one host-name normaliser. The allow_net grammar, the
 * resolve overrides of sandgate.conf, the proxy's SNI and Host readers
 * and its CA all judge a name here, so that they cannot disagree on what
 * a host is.
 *
 * A name is 1..253 bytes of labels of 1..63 letters, digits, '-' and '_'
 * (real names use underscores), no label starting or ending with '-',
 * ASCII only (internationalised names in their xn-- form), one trailing
 * dot ignored. A name whose last label is a number as the WHATWG URL
 * parser reads one (digits, or 0x and hex digits) is an IPv4 literal or
 * nothing, never a name. The normal form is lowercase without the
 * trailing dot. */
#ifndef SG_HOSTNAME_H
#define SG_HOSTNAME_H

#include <stddef.h>

/* The normal form of a name and its NUL always fit in this. */
#define SG_NAME_MAX		254
#define SG_NAME_LEN_MAX		253
#define SG_NAME_LABEL_MAX	63

enum sg_name_err {
	SG_NAME_OK,
	SG_NAME_EMPTY,
	SG_NAME_NON_ASCII,
	SG_NAME_STAR,		/* a '*' anywhere */
	SG_NAME_BAD_CHAR,
	SG_NAME_EMPTY_LABEL,
	SG_NAME_LABEL_LONG,
	SG_NAME_HYPHEN,
	SG_NAME_TOO_LONG,
	SG_NAME_NUMERIC,	/* the last label is a number */
};

/* Where a name went wrong, for a message. */
struct sg_name_fault {
	unsigned char ch;	/* SG_NAME_BAD_CHAR */
	size_t label_off;	/* SG_NAME_LABEL_LONG, SG_NAME_HYPHEN */
	size_t label_len;
	size_t len;		/* SG_NAME_TOO_LONG */
};

/* Checks the len bytes at in (no NUL needed) as a name and, when it is
 * one, writes its normal form and a NUL to out. Returns SG_NAME_OK or
 * what is wrong, with details in *f. On SG_NAME_NUMERIC out holds the
 * lowercased literal too (callers that take IPv4 addresses check it). */
enum sg_name_err sg_name_check(const char *in, size_t len,
    char out[SG_NAME_MAX], struct sg_name_fault *f);

/* sg_name_check for a NUL-terminated in, into out (outsz bytes; in and
 * out may be the same). Returns 0, -EINVAL for anything but a name,
 * -ENOBUFS when outsz is too small. */
int sg_name_normalise(const char *in, char *out, size_t outsz);

/* 1 when the n bytes at s are a label the WHATWG URL parser reads as a
 * number: decimal digits, or 0x (either case) and hex digits (maybe none). */
int sg_name_label_is_number(const char *s, size_t n);

#endif
