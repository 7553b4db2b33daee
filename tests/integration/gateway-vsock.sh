#!/bin/sh
# The vsock transport end to end: sandgated with transport = vsock, a
# session, a named sandbox reconnect. Needs /dev/vhost-vsock (KVM hosts);
# where it is missing this test says SKIP and why.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
[ -c /dev/vhost-vsock ] ||
	skip "no /dev/vhost-vsock on this machine: the vsock transport is not tested here (virtio-serial is)"
sg_require
sg_setup "transport = vsock"
out=$(sg_ssh sandbox@127.0.0.1 'echo vsock-ok; exit 3'); st=$?
[ "$out" = vsock-ok ] && [ $st = 3 ] || fail "vsock session: '$out' status $st"
sg_ssh vs@127.0.0.1 'echo kept >/root/f' || fail "named sandbox over vsock"
out=$(sg_ssh vs@127.0.0.1 'cat /root/f')
[ "$out" = kept ] || fail "vsock reconnect: '$out'"
echo PASS
