#!/bin/sh
# default-boot.sh: boot the built `default` image (Debian bookworm) with
# plain QEMU (TCG, no libvirt, no gateway) on a qcow2 overlay and check,
# through sandgate-agent over virtio-serial, that the initramfs handed over
# to the agent on the real root: bash, python3, git, curl and sftp-server
# are there, the working directory is /root on the disk, files can be
# written, and the sftp subsystem answers an SFTP INIT.
#
# Environment:
#   SG_DEFAULT_IMAGE  the image folder (with image.conf); default: the first
#                     of $SG_IMAGE_DIR/default, $SG_IMAGE_DIR (if it is a
#                     default image), ./images/out/default in the build dir,
#                     /var/lib/sandgate/images/default
#   SGPROBE           the host test client (default: ./tests/tools/sgprobe)
#   SG_BOOT_TIMEOUT   seconds to wait for the agent (default 180)
# Exits 77 (skipped) when not root, or QEMU, sgprobe or the image is missing
# (build it with: make image-default, as root).
set -u

name=default-boot
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
probe=${SGPROBE:-$top/tests/tools/sgprobe}
boot_timeout=${SG_BOOT_TIMEOUT:-180}
is_default() { [ -f "$1/image.conf" ] && grep -q '^name *= *default$' "$1/image.conf"; }
img=${SG_DEFAULT_IMAGE:-}
if [ -z "$img" ]; then
	for d in ${SG_IMAGE_DIR:+"$SG_IMAGE_DIR/default" "$SG_IMAGE_DIR"} \
	    "$top/images/out/default" /var/lib/sandgate/images/default; do
		if is_default "$d"; then img=$d; break; fi
	done
fi

[ "$(id -u)" = 0 ] || skip "needs root (like the other VM tests)"
qemu=$(command -v qemu-system-x86_64) ||
	skip "qemu-system-x86_64 not found (install the Debian package qemu-system-x86)"
command -v qemu-img >/dev/null || skip "qemu-img not found (install the Debian package qemu-utils)"
[ -n "$img" ] && [ -f "$img/image.conf" ] ||
	skip "no default image (build it as root with: make image-default, or set SG_DEFAULT_IMAGE)"
[ -x "$probe" ] || skip "$probe not built (make tests/tools/sgprobe)"

conf() { sed -n "s/^$1 *= *//p" "$img/image.conf" | head -n 1; }
kernel=$img/$(conf kernel)
initrd=$img/$(conf initrd)
rootfs=$img/$(conf rootfs)
cmdline=$(conf cmdline)
kver=$(conf kernel_version)
for f in "$kernel" "$initrd" "$rootfs"; do
	[ -f "$f" ] || fail "$img/image.conf names $f, which does not exist: rebuild with make image-default"
done
echo "$name: image $img"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-default-boot.XXXXXX") || fail "cannot create a temporary directory"
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

i=0
while [ ! -S "$sock" ]; do
	kill -0 "$qpid" 2>/dev/null || { cat "$tmp/qemu.out"; qpid=; fail "qemu exited before it listened on $sock"; }
	i=$((i + 1))
	[ $i -lt 500 ] || fail "qemu did not create $sock within 10 s"
	sleep 0.02
done

if ! ms=$(timeout $((boot_timeout + 10)) "$probe" --socket "$sock" --timeout "$boot_timeout" --wait-ready); then
	i=0
	while [ $i -lt 20 ] && kill -0 "$qpid" 2>/dev/null; do i=$((i + 1)); sleep 0.1; done
	if kill -0 "$qpid" 2>/dev/null; then
		fail "the agent did not become ready within ${boot_timeout} s"
	fi
	cat "$tmp/qemu.out"
	fail "qemu exited before the agent was ready (the guest powered off or crashed)"
fi
end=$(date +%s%N)
echo "$name: agent ready: sgprobe says ${ms} ms, $(( (end - start) / 1000000 )) ms since qemu started"

# run WHAT ARGV...: runs ARGV in the guest; its stdout goes to $out.
run() {
	what=$1; shift
	out=$(timeout 60 "$probe" --socket "$sock" -- "$@" 2>"$tmp/err") ||
		fail "$what failed in the guest (status $?): $(cat "$tmp/err")"
}

run "uname -r" uname -r
[ "$out" = "$kver" ] || fail "uname -r printed '$out', expected the image's kernel_version '$kver'"

run "the root check" sh -c 'grep " / ext4 " /proc/mounts; grep -c " /root " /proc/mounts || :'
case $out in
/dev/vda\ /\ ext4\ *rw*) ;;
*) fail "/ is not /dev/vda mounted rw as ext4: $out" ;;
esac
[ "${out##*
}" = 0 ] || fail "/root is a separate mount: the agent mounted /dev/vda again ($out)"
echo "$name: / is /dev/vda (ext4, rw); /root is on it"

run "bash" bash -c 'echo $BASH_VERSION'
case $out in [5-9].*) ;; *) fail "bash -c 'echo \$BASH_VERSION' printed '$out'" ;; esac
echo "$name: bash $out"

out=$(timeout 60 "$probe" --socket "$sock" --cmd 'echo "$0 $BASH_VERSION"' 2>&1) ||
	fail "a command through root's shell failed: $out"
case $out in *bash\ [5-9].*) ;; *) fail "root's shell is not bash: '$out'" ;; esac

run "python3" python3 -c 'print(1+1)'
[ "$out" = 2 ] || fail "python3 -c 'print(1+1)' printed '$out'"

run "sftp-server" test -x /usr/lib/openssh/sftp-server

run "git" git --version
case $out in git\ version\ *) ;; *) fail "git --version printed '$out'" ;; esac
echo "$name: $out"

run "curl" curl --version
case $out in curl\ *) ;; *) fail "curl --version printed '$out'" ;; esac
echo "$name: ${out%%
*}"

run "wget, ssh, ip, ps, less" sh -c 'for p in wget ssh scp ip ps less tar gzip; do command -v $p >/dev/null || { echo "no $p"; exit 1; }; done'

run "pwd" pwd
[ "$out" = /root ] || fail "the working directory is '$out', expected /root"
run "HOME" sh -c 'echo $HOME'
[ "$out" = /root ] || fail "HOME is '$out', expected /root"

run "a write under /root" sh -c 'echo sandgate >/root/default-boot.txt && sync && cat /root/default-boot.txt && rm /root/default-boot.txt'
[ "$out" = sandgate ] || fail "a file written under /root read back as '$out'"
echo "$name: pwd /root, writes under /root work"

# SFTP INIT (length 5, type 1, version 3); the server answers VERSION (type
# 2). stdin stays open until the answer is in: sftp-server quits on EOF
# without flushing what it has not written yet.
mkfifo "$tmp/in" || fail "cannot make a fifo in $tmp"
timeout 60 "$probe" --socket "$sock" --subsystem sftp <"$tmp/in" >"$tmp/sftp.out" 2>"$tmp/err" &
ppid=$!
exec 3>"$tmp/in"
printf '\000\000\000\005\001\000\000\000\003' >&3
i=0
while [ "$(stat -c %s "$tmp/sftp.out")" -lt 9 ] && [ $i -lt 300 ] && kill -0 $ppid 2>/dev/null; do
	i=$((i + 1))
	sleep 0.1
done
exec 3>&-
wait $ppid || fail "the sftp subsystem failed (status $?): $(cat "$tmp/err")"
reply=$(od -An -tu1 -j 4 -N 5 "$tmp/sftp.out" 2>/dev/null | tr -s ' ' | sed 's/^ //; s/ $//')
[ "$reply" = "2 0 0 0 3" ] || fail "the sftp subsystem did not answer SSH_FXP_VERSION 3 (got: '$reply')"
echo "$name: sftp subsystem answers SSH_FXP_VERSION 3"

echo "$name: PASS"
exit 0
