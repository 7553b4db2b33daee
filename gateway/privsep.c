/* sg_privsep: see privsep.h. */
#include "config.h"

#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "gateway/privsep.h"

void
sg_privsep_drop(uid_t uid, gid_t gid, const char *dir)
{
	if (dir != NULL && (chroot(dir) < 0 || chdir("/") < 0)) {
		sg_err("cannot chroot to %s: check [gateway] state_dir", dir);
		_exit(1);
	}
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		sg_err("cannot switch to the unprivileged user");
		_exit(1);
	}
	if (uid != 0 && setuid(0) == 0) {
		sg_err("root could be regained: refusing to continue");
		_exit(1);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		sg_err("cannot restrict the process (prctl)");
		_exit(1);
	}
}
