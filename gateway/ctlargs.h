/* sg_ctla: the control interface's command line (docs/control.md,
 * sandgate-ssh(7)), split into words and parsed into a request. Pure: no
 * I/O and no state, so it is unit-tested and fuzzed on its own.
 *
 * The same words come from a token holder's SSH exec request (one
 * string) and from root's sandgatectl (over the control socket), so both
 * get the same checks and the same messages. Every message names what is
 * wrong and what to write instead; nothing is ever given to a shell. */
#ifndef SG_CTLARGS_H
#define SG_CTLARGS_H

#include <stddef.h>
#include <stdint.h>

#define SG_CTLA_LINE_MAX	8192	/* bytes of one command string */
#define SG_CTLA_WORDS_MAX	128
#define SG_CTLA_WORD_MAX	2048
#define SG_CTLA_ENV_MAX		32
#define SG_CTLA_ENV_VALUE_MAX	1024
#define SG_CTLA_ALLOW_MAX	64	/* --allow-net entries */
#define SG_CTLA_SECRETS_MAX	64
#define SG_CTLA_VOLUMES_MAX	8	/* --volume per sandbox */
#define SG_CTLA_MOUNT_MAX	200	/* bytes of a volume's mount path */
#define SG_CTLA_VOLUME_MIN	(16ull << 20)	/* volume create SIZE */
#define SG_CTLA_VOLUME_MAX	(16ull << 40)
#define SG_CTLA_TTL_MAX		(365ull * 86400)	/* expose --ttl */

enum sg_ctla_cmd {
	SG_CTLA_HELP,
	SG_CTLA_WHOAMI,
	SG_CTLA_LS,
	SG_CTLA_CREATE,
	SG_CTLA_INFO,
	SG_CTLA_EXTEND,
	SG_CTLA_KILL,
	SG_CTLA_SNAPSHOT,	/* snapshot SANDBOX SNAP */
	SG_CTLA_SNAPSHOT_LS,	/* snapshot ls */
	SG_CTLA_SNAPSHOT_RM,	/* snapshot rm SNAP */
	SG_CTLA_VOLUME_CREATE,	/* volume create VOL SIZE [--from SNAP] */
	SG_CTLA_VOLUME_LS,	/* volume ls */
	SG_CTLA_VOLUME_RM,	/* volume rm VOL */
	SG_CTLA_HIBERNATE,	/* hibernate NAME */
	SG_CTLA_EXPOSE,		/* expose NAME PORT [--public] [--ttl D] */
	SG_CTLA_UNEXPOSE,	/* unexpose NAME PORT */
};

/* One create --volume VOL:/path[:ro|:rw]. */
struct sg_ctla_vol {
	char *name;
	char *path;
	int ro;
};

/* A parsed request. Strings are owned by it; unset options are NULL or 0
 * (and has_* 0). */
struct sg_ctla {
	enum sg_ctla_cmd cmd;
	int json;
	char *name;		/* NAME (root: or an id); NULL for none */
	char *token;		/* --token (root only) */
	char *image;
	unsigned memory_mb, vcpus;
	int has_lifetime, has_idle;
	uint64_t lifetime_s, idle_s;
	uint64_t duration_s;	/* extend */
	int has_allow;		/* --allow-net given (its list may be empty) */
	char **allow;
	size_t nallow;
	int has_secrets;	/* --secret given ('' gives none) */
	char **secrets;
	size_t nsecrets;
	char **env;		/* KEY=VALUE */
	size_t nenv;
	char *snap;		/* snapshot SANDBOX SNAP, snapshot rm SNAP */
	char *from_snap;	/* create --snapshot SNAP, volume create --from */
	char *vol;		/* volume create VOL SIZE, volume rm VOL */
	uint64_t vol_bytes;	/* volume create: SIZE, a multiple of 1 MiB */
	struct sg_ctla_vol *vols;	/* create --volume */
	size_t nvols;
	uint16_t port;		/* expose, unexpose: 1..65535 */
	int public;		/* expose --public */
	uint64_t ttl_s;		/* expose --ttl; 0: none */
};

/* Splits a command string into words as a POSIX shell quotes them
 * ('...', "..." with \" \\ \$ \` and \newline, \ outside quotes) with no
 * expansion of any kind. Refuses (-EINVAL, a message in *ret_err) a
 * string over SG_CTLA_LINE_MAX, more than SG_CTLA_WORDS_MAX words, a word
 * over SG_CTLA_WORD_MAX, a NUL or other control byte (tab, newline and CR
 * separate words outside quotes), DEL, and an unfinished quote or escape.
 * On success *ret_argv holds *ret_argc words (NULL-terminated) to free
 * with sg_ctla_free_words(). -ENOMEM leaves *ret_err NULL. */
int sg_ctla_split(const char *line, size_t len, char ***ret_argv,
    size_t *ret_argc, char **ret_err);
void sg_ctla_free_words(char **argv, size_t argc);

/* Parses words into a request. root allows --token and ids. Returns 0 and
 * *ret (free with sg_ctla_free), -EINVAL with a usage message in
 * *ret_err, or -ENOMEM. An empty word list is a usage error. */
int sg_ctla_parse(size_t argc, char *const *argv, int root,
    struct sg_ctla **ret, char **ret_err);
void sg_ctla_free(struct sg_ctla *r);

/* The command list for `help` (text, one command a line), and each
 * command's usage and summary for `help --json`. */
const char *sg_ctla_help_text(int root);
size_t sg_ctla_ncommands(void);
void sg_ctla_command(size_t i, int root, const char **ret_name,
    const char **ret_usage, const char **ret_summary);

/* 1 when s is a sandbox name a token holder may create
 * ([a-z0-9][a-z0-9-]{0,31}: an SSH user name sandgated accepts; not
 * "sandbox"). */
int sg_ctla_valid_name(const char *s);

/* 1 when s is a snapshot name: [a-z0-9][a-z0-9-]{0,31}. */
int sg_ctla_valid_snapshot(const char *s);

/* 1 when s is a volume name (as a snapshot's). */
int sg_ctla_valid_volume(const char *s);

/* 1 when s is a path a volume may be mounted on in the guest: absolute,
 * at most SG_CTLA_MOUNT_MAX bytes of [A-Za-z0-9._@+-] and '/', no empty,
 * "." or ".." component, no trailing '/', and neither / nor a system
 * folder (/bin /boot /dev /etc /lib /lib64 /proc /run /sbin /sys /usr)
 * nor anything under one. */
int sg_ctla_valid_mount(const char *s);

/* Parses a volume size: a whole number of GiB ("10", "10G", "10GiB"),
 * MiB ("512M", "512MiB") or TiB ("1T", "1TiB"), from SG_CTLA_VOLUME_MIN
 * to SG_CTLA_VOLUME_MAX. Returns 0 and *ret bytes, or -EINVAL. */
int sg_ctla_parse_size(const char *s, uint64_t *ret);

#endif
