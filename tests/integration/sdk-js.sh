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

SG_TEST_IMAGE=default SG_TEST_MEMORY=1024
sg_setup "idle_timeout = 10m" "max_lifetime = 30m"
sg_webhosts 198.51.100.2 198.51.100.3
printf 'max_sandboxes = 4\nallow_net = 198.51.100.2:8080, 198.51.100.3:8080\n' >>"$SG_T/tokens.conf"
sg_wait_for sh -c "[ \$(grep -c 'tokens reloaded' '$SG_T/log') -ge 1 ]" || fail "no reload"

SANDGATE_TEST_HOST=127.0.0.1 SANDGATE_TEST_PORT=$SG_PORT \
SANDGATE_TEST_TOKEN=$SG_TOKEN SANDGATE_TEST_IMAGE=default \
SANDGATE_TEST_HOST_KEY=$(ssh-keygen -y -f "$SG_T/state/host_key") \
SANDGATE_TEST_ALLOWED_URL=http://198.51.100.2:8080/ok.txt \
SANDGATE_TEST_OTHER_URL=http://198.51.100.3:8080/ok.txt \
	node --test "$SG_SRCDIR/sdk/js/test/" || fail "node --test"
sg_wait_for sg_no_leftovers || fail "leftovers after the SDK's tests"
note "ok"
