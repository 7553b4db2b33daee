/* sg_tokencmd: "sandgatectl token create|list|revoke", editing the tokens
 * file directly (no daemon needed: sandgated notices the change).
 *
 * Every change rewrites the whole file atomically: a new file (mode 0600)
 * in the same directory is written, fsync'ed and renamed over the old one,
 * under an flock(2) on the directory so that two sandgatectl runs do not
 * lose each other's change. Everything outside the section added or
 * removed stays byte for byte (comments, spacing, other tokens). A file
 * that does not load is never rewritten: the error says what to fix. */
#ifndef SG_TOKENCMD_H
#define SG_TOKENCMD_H

/* Runs one token subcommand on the tokens file at tokens_path. argv[0] is
 * the subcommand ("create", "list", "revoke" or "help") and argv[1..] its
 * arguments, i.e. what follows the word "token" on the command line.
 *   create NAME  adds [NAME] with the hash of a new random token and
 *                prints the token, alone, on stdout
 *   list         one line per token on stdout: NAME<TAB>KEYS<TAB>IMAGE<TAB>
 *                ALLOW_NET ("-" for an unset image or allow_net)
 *   revoke NAME  removes [NAME], with the comment lines right above it
 * Messages go to stderr. Returns the exit status: 0 on success, 1 when the
 * command failed, 2 for a usage error. */
int sg_tokencmd_main(const char *tokens_path, int argc, char **argv);

#endif
