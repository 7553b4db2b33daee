/* ag_conf: the sandbox settings the host sends in CONFIG, and the locked
 * environment every process starts with.
 *
 * Keys (docs/protocol.md): hostname, time (SECONDS.NANOSECONDS), env (one
 * NAME=VALUE per item, repeatable), sandbox_id and image (for the log), ip
 * (A.B.C.D/N on eth0), gateway (A.B.C.D), dns (addresses separated by
 * commas or spaces), ca (PEM of the proxy CA), home (working directory
 * and HOME), volume (SERIAL ro|rw PATH: agent/vol.h, repeatable). Unknown
 * keys are ignored. Each CONFIG describes the whole sandbox: the locked
 * environment and home are rebuilt from the defaults plus what it holds. */
#ifndef AG_CONF_H
#define AG_CONF_H

#include <stddef.h>

struct sg_config;
struct ag_conf;

#define AG_CONF_CA_FILE		"/etc/sandgate/ca.pem"
#define AG_CONF_CA_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"
#define AG_CONF_RESOLV		"/etc/resolv.conf"
#define AG_CONF_IFACE		"eth0"

/* Returns a new configuration with the default environment. system set:
 * CONFIG may change the machine (hostname, clock, network, files in /etc);
 * unset (testing on a host) those keys are logged and skipped. */
int ag_conf_new(int system, struct ag_conf **ret);
void ag_conf_free(struct ag_conf *c);

/* Applies every key of cfg. Returns 0, or the first failure as -errno
 * with a message for the host in msg (the other keys are still applied).
 * Only a failure to allocate leaves the previous environment in place. */
int ag_conf_apply(struct ag_conf *c, const struct sg_config *cfg, char *msg,
    size_t msglen);

/* The working directory of new processes. */
const char *ag_conf_home(const struct ag_conf *c);
/* root's login shell from /etc/passwd, or /bin/sh. */
const char *ag_conf_shell(const struct ag_conf *c);

/* Builds the environment of a new process in *ret (a NULL-terminated
 * array the caller frees with ag_conf_env_free): the locked environment,
 * then each of extra[0..nextra) whose name it does not hold, then TERM=term
 * when term is set (unless locked). Returns 0, -ENOMEM or -E2BIG. */
int ag_conf_env(const struct ag_conf *c, char *const *extra, size_t nextra,
    const char *term, char ***ret);
void ag_conf_env_free(char **env);

#endif
