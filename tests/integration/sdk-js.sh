#!/bin/sh
# The JavaScript SDK's own tests (node --test, sdk/js/test) against a real
# gateway and VMs of the default image (SFTP needs its sftp-server): the
# Deno-style surface end to end (await using included), and a narrowed
# allow_net shown to hold inside the guest.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v node >/dev/null ||
	fail "no node: apt-get install nodejs npm (tools/quickstart does)"
[ -d "$SG_SRCDIR/sdk/js/node_modules/ssh2" ] ||
	fail "sdk/js has no node_modules: cd sdk/js && npm ci --omit=optional --ignore-scripts (tools/quickstart check does)"

sg_sdk_setup
node --test "$SG_SRCDIR/sdk/js/test/" >"$SG_T/node.out" 2>&1; st=$?
if [ $st != 0 ]; then
	# what failed and why, first: a CI log may keep only its head and tail
	echo "--- failures (the whole output follows):"
	grep -E '^ *(not ok|error:|failureType:|# (Warning|Error))' "$SG_T/node.out" |
		grep -v -e cancelledByParent -e 'did not finish before its parent' |
		head -n 40
	echo "---"
fi
cat "$SG_T/node.out"
[ $st = 0 ] || fail "node --test"
# every test ran: the live ones against this gateway included
grep -q '^# skipped 0$' "$SG_T/node.out" || fail "some tests were skipped"
sg_wait_for sg_no_leftovers || fail "leftovers after the SDK's tests"
note "ok"
