#!/bin/sh
# raw-boot.sh: boot the built `minimal` image with plain QEMU (TCG, no
# libvirt, no gateway) and check that sandgate-agent answers over
# virtio-serial: it becomes ready, runs `uname -r` (which must print the
# image's kernel_version) and reports exit statuses.
#
# Environment:
#   SG_IMAGE_DIR  the image folder (with image.conf), or a folder holding
#                 minimal/ (default: ./images/out/minimal in the build dir)
#   SGPROBE       the host test client (default: ./tests/tools/sgprobe)
#   SG_BOOT_TIMEOUT  seconds to wait for the agent (default 180)
# Exits 77 (skipped) when QEMU, sgprobe or the image is missing.
set -u

name=raw-boot
skip() { echo "$name: SKIP: $*"; exit 77; }
fail() {
	echo "$name: FAIL: $*"
	if [ -n "${tmp:-}" ] && [ -s "$tmp/console.log" ]; then
		echo "--- last lines of the guest console:"
		tail -n 30 "$tmp/console.log"
	fi
	exit 1
}

top=${abs_top_builddir:-$(pwd)}
img=${SG_IMAGE_DIR:-$top/images/out/minimal}
[ -f "$img/image.conf" ] || [ ! -f "$img/minimal/image.conf" ] || img=$img/minimal
probe=${SGPROBE:-$top/tests/tools/sgprobe}
boot_timeout=${SG_BOOT_TIMEOUT:-180}

qemu=$(command -v qemu-system-x86_64) ||
	skip "qemu-system-x86_64 not found (install the Debian package qemu-system-x86)"
command -v qemu-img >/dev/null || skip "qemu-img not found (install the Debian package qemu-utils)"
[ -f "$img/image.conf" ] || skip "no image at $img (build it with: make image-minimal)"
[ -x "$probe" ] || skip "$probe not built (make tests/tools/sgprobe)"

conf() { sed -n "s/^$1 *= *//p" "$img/image.conf" | head -n 1; }
kernel=$img/$(conf kernel)
initrd=$img/$(conf initrd)
rootfs=$img/$(conf rootfs)
cmdline=$(conf cmdline)
kver=$(conf kernel_version)
for f in "$kernel" "$initrd" "$rootfs"; do
	[ -f "$f" ] || fail "$img/image.conf names $f, which does not exist: rebuild with make image-minimal"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-raw-boot.XXXXXX") || fail "cannot create a temporary directory"
qpid=
cleanup() {
	if [ -n "$qpid" ]; then
		kill "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

qemu-img create -q -f qcow2 -F qcow2 -b "$(cd "$(dirname "$rootfs")" && pwd)/$(basename "$rootfs")" \
	"$tmp/overlay.qcow2" || fail "qemu-img could not create an overlay on $rootfs"

sock=$tmp/agent.sock
start=$(date +%s%N)
"$qemu" -accel tcg -M q35 -m 512 -smp 2 -nographic -no-user-config -nodefaults -no-reboot \
	-serial "file:$tmp/console.log" \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	-device virtio-serial-pci \
	-chardev "socket,id=agent,path=$sock,server=on,wait=off" \
	-device virtserialport,chardev=agent,name=org.sandgate.agent.0 \
	-drive "file=$tmp/overlay.qcow2,if=virtio,format=qcow2" \
	-netdev user,id=net0,restrict=on -device virtio-net-pci,netdev=net0 \
	-device virtio-rng-pci </dev/null >"$tmp/qemu.out" 2>&1 &
qpid=$!

# The socket exists once QEMU listens.
i=0
while [ ! -S "$sock" ]; do
	kill -0 "$qpid" 2>/dev/null || { cat "$tmp/qemu.out"; qpid=; fail "qemu exited before it listened on $sock"; }
	i=$((i + 1))
	[ $i -lt 500 ] || fail "qemu did not create $sock within 10 s"
	sleep 0.02
done

if ! ms=$(timeout $((boot_timeout + 10)) "$probe" --socket "$sock" --timeout "$boot_timeout" --wait-ready); then
	i=0	# a guest that powered off takes QEMU a moment to exit
	while [ $i -lt 20 ] && kill -0 "$qpid" 2>/dev/null; do i=$((i + 1)); sleep 0.1; done
	if kill -0 "$qpid" 2>/dev/null; then
		fail "the agent did not become ready within ${boot_timeout} s"
	fi
	cat "$tmp/qemu.out"
	fail "qemu exited before the agent was ready (the guest powered off or crashed)"
fi
end=$(date +%s%N)
echo "$name: agent ready: sgprobe says ${ms} ms, $(( (end - start) / 1000000 )) ms since qemu started"

out=$(timeout 60 "$probe" --socket "$sock" -- uname -r) || fail "uname -r failed in the guest (status $?)"
[ "$out" = "$kver" ] || fail "uname -r printed '$out', expected the image's kernel_version '$kver'"
echo "$name: uname -r: $out"

timeout 60 "$probe" --socket "$sock" -- /bin/sh -c 'exit 7'
st=$?
[ $st -eq 7 ] || fail "sh -c 'exit 7' in the guest gave status $st, expected 7"

# The image's modules: virtio_console gave the port, virtio_blk gives
# /dev/vda, virtio_net eth0 (the NIC is QEMU's user mode with restrict=on:
# it reaches nothing).
timeout 60 "$probe" --socket "$sock" -- /bin/sh -c 'test -b /dev/vda' ||
	fail "no /dev/vda in the guest: virtio_blk did not load (see /etc/sandgate/modules)"
timeout 60 "$probe" --socket "$sock" -- /bin/sh -c 'test -e /sys/class/net/eth0' ||
	fail "no eth0 in the guest: virtio_net did not load (see /etc/sandgate/modules)"
if timeout 60 "$probe" --socket "$sock" -- /bin/sh -c 'grep -q " /root ext4 " /proc/mounts'; then
	echo "$name: /dev/vda is mounted on /root (ext4)"
else
	echo "$name: note: /root is not an ext4 mount in the guest"
fi

echo "$name: PASS"
exit 0
