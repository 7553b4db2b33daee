#!/bin/sh
# The JavaScript SDK's own tests (node --test, sdk/js/test) against a real
# gateway and VMs of the default image (SFTP needs its sftp-server): the
# Deno-style surface end to end (await using included), and a narrowed
# allow_net shown to hold inside the guest.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v node >/dev/null || skip "no node"
[ -d "$SG_SRCDIR/sdk/js/node_modules/ssh2" ] ||
	skip "sdk/js has no node_modules (run: cd sdk/js && npm ci --omit=optional --ignore-scripts)"

sg_sdk_setup
node --test "$SG_SRCDIR/sdk/js/test/" || fail "node --test"
sg_wait_for sg_no_leftovers || fail "leftovers after the SDK's tests"
note "ok"
