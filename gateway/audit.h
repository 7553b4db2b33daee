/* sg_audit: the audit log, one JSON object per line.
 *
 * Events carry names (token, sandbox, user, source address), never
 * secret values. The file is opened in append mode by the monitor. */
#ifndef SG_AUDIT_H
#define SG_AUDIT_H

/* Opens (creating, mode 0600) the audit log at path; NULL or "" turns
 * auditing off. Returns 0 or -errno. */
int sg_audit_open(const char *path);
/* Opens the path given to sg_audit_open() again, in place of the open
 * file (SIGHUP, after logrotate renamed it). On failure (-errno) the old
 * file stays in use. */
int sg_audit_reopen(void);
void sg_audit_close(void);
/* Writes {"time":..., "event":event, k1:v1, ...}; the variadic list is
 * key, value pairs of strings ending with NULL. NULL values are skipped. */
void sg_audit(const char *event, ...) __attribute__((sentinel));
/* The same with kv = key, value, ..., NULL (keys are written as they
 * are: the caller checks them); at most SG_AUDIT_MAX_PAIRS pairs. */
#define SG_AUDIT_MAX_PAIRS 32
void sg_audit_pairs(const char *event, const char *const *kv);

/* Appends s to out as a JSON string body (no quotes), escaping quotes,
 * backslashes and control bytes; stops at outsz - 1. Exposed for tests. */
void sg_audit_escape(char *out, size_t outsz, const char *s);

#endif
