#!/bin/sh
# What a new user's first commands do, without doing it (no root, no VM):
# - tools/quickstart's run mode installs what building and running need,
#   not the test suite's packages, and builds without -Werror or tests;
#   check mode adds both;
# - ./configure puts the files where the docs say (/etc/sandgate,
#   /var/lib/sandgate, /run/sandgate) unless told otherwise.
set -eu
fail() { echo "FAIL: $*"; exit 1; }
note() { echo "# $*"; }
T=$(mktemp -d /tmp/sgqs.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM

"$SG_SRCDIR/tools/quickstart" plan >"$T/run" || fail "quickstart plan"
"$SG_SRCDIR/tools/quickstart" plan check >"$T/check" || fail "quickstart plan check"
words() { sed -n "s/^$1: //p" "$2" | tr ' ' '\n' | grep -v '^$'; }
for p in libcmocka-dev clang-14 libclang-rt-14-dev python3-pytest \
    python3-paramiko conntrack brotli zstd openssh-sftp-server; do
	! words packages "$T/run" | grep -qx -- "$p" ||
		fail "run mode installs the test package $p"
	words packages "$T/check" | grep -qx -- "$p" ||
		fail "check mode lacks the test package $p"
done
for p in libvirt-daemon-system qemu-system-x86 libsystemd-dev openssh-client; do
	words packages "$T/run" | grep -qx -- "$p" || fail "run mode lacks $p"
done
! words configure "$T/run" | grep -qx -- --enable-werror ||
	fail "run mode builds with -Werror"
words configure "$T/run" | grep -qx -- --disable-tests ||
	fail "run mode builds the tests"
words configure "$T/check" | grep -qx -- --enable-werror ||
	fail "check mode builds without -Werror"
note "run: $(words packages "$T/run" | wc -l) packages, configure $(sed -n 's/^configure: //p' "$T/run");" \
	"check: $(words packages "$T/check" | wc -l), configure $(sed -n 's/^configure: //p' "$T/check")"

# configure with no directory options: the paths of the docs
mkdir "$T/b1" "$T/b2"
(cd "$T/b1" && "$SG_SRCDIR/configure" -q --disable-tests >/dev/null) ||
	fail "configure"
for kv in "sysconfdir = /etc" "localstatedir = /var" "runstatedir = /run"; do
	grep -qx "$kv" "$T/b1/Makefile" || fail "configure: no '$kv' in the Makefile"
done
# ... and what it is told
(cd "$T/b2" && "$SG_SRCDIR/configure" -q --disable-tests --sysconfdir=/opt/sg/etc \
	--localstatedir=/opt/sg/var >/dev/null) || fail "configure with directories"
grep -qx "sysconfdir = /opt/sg/etc" "$T/b2/Makefile" || fail "--sysconfdir was not kept"
grep -qx "localstatedir = /opt/sg/var" "$T/b2/Makefile" || fail "--localstatedir was not kept"
note "configure: /etc, /var, /run by default; given directories kept"
echo PASS
