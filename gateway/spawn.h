/* sg_spawn: starts a helper of the monitor (sandgate-proxy,
 * sandgate-front) as its own user, with descriptor 3 its listening
 * socket, 4 one end of a SOCK_SEQPACKET feed and 5 (optional) its
 * rendezvous socket, and nothing else open. The child reports why it
 * could not run the program over a close-on-exec pipe, so the caller
 * gets a message naming the user or the program, not a bare exit. */
#ifndef SG_SPAWN_H
#define SG_SPAWN_H

#include <sys/types.h>

struct sg_spawn {
	const char *program;
	const char *user;	/* not root */
	const char *section;	/* "proxy", "expose": for messages */
	char *const *argv;	/* argv[0] is the program's name */
	int listen_fd;		/* becomes 3 */
	int rdv_fd;		/* becomes 5; -1: none */
};

/* Starts sp->program. On success *ret_pid and *ret_fd (the monitor's end
 * of the feed, blocking, close-on-exec) are set. */
int sg_spawn_helper(const struct sg_spawn *sp, pid_t *ret_pid, int *ret_fd,
    char **ret_err);

#endif
