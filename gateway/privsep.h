/* sg_privsep: how the monitor's children give up root. */
#ifndef SG_PRIVSEP_H
#define SG_PRIVSEP_H

#include <sys/types.h>

/* chroots to dir (an empty root-owned directory; NULL: none), switches
 * every uid and gid to uid/gid with no supplementary groups, checks that
 * root cannot be regained, sets no_new_privs and makes the process
 * non-dumpable (no core files holding keys or secrets). Exits the process
 * with a message on any failure: a child that keeps root must not run. */
void sg_privsep_drop(uid_t uid, gid_t gid, const char *dir);

#endif
