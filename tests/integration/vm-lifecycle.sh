#!/bin/sh
# vm-lifecycle.sh: gateway/libsgvm.a against the real libvirtd.
#
# Creates a sandbox domain (type qemu, virtio-serial), checks that it runs,
# that its folder is private, that list shows its metadata, that
# set-expires changes it, that the agent socket accepts a connection; then
# destroys it (twice) and checks that no domain, file or folder is left and
# that the image files were never chowned. Also: a start that libvirt
# refuses leaves nothing behind, cleanup removes leftover folders only, and
# the KVM probe's guest runs under TCG.
#
# Needs root and qemu:///system; exits 77 (skipped) otherwise.
# Environment:
#   VMTOOL              the driver (default ./tests/integration/vmtool)
#   SG_TEST_URI         libvirt URI (default qemu:///system)
#   SG_TEST_IMAGE_DIR   an image folder with image.conf whose guest stays up
#                       without a gateway (default: one made from the host's
#                       /boot kernel and initrd with rdinit=/bin/sh)
set -u

prog=vm-lifecycle
uri=${SG_TEST_URI:-qemu:///system}
vmtool=${VMTOOL:-./tests/integration/vmtool}
PATH=$PATH:/usr/sbin:/sbin

skip() { echo "$prog: SKIP: $*"; exit 77; }
fail() { echo "$prog: FAIL: $*"; failed=1; }
info() { echo "$prog: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (libvirt qemu:///system)"
[ -x "$vmtool" ] || skip "$vmtool not built (run make check)"
command -v virsh >/dev/null 2>&1 || skip "virsh not found: install libvirt-clients"
command -v qemu-img >/dev/null 2>&1 || skip "qemu-img not found: install qemu-utils"
command -v qemu-system-x86_64 >/dev/null 2>&1 || skip "qemu-system-x86_64 not found: install qemu-system-x86"
out=$("$vmtool" list "$uri" 2>&1) || skip "libvirtd not reachable at $uri: $out"

failed=0
ids=
work=$(mktemp -d "${TMPDIR:-/tmp}/sg-vmtest.XXXXXX") || exit 1
cleanup() {
	for i in $ids; do
		"$vmtool" destroy "$uri" "$work/state" "$i" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
# QEMU runs as its own user: it must be able to enter these folders
chmod 0711 "$work"
mkdir -m 0711 "$work/state"

newid() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }

# --- the image ---------------------------------------------------------------
if [ -n "${SG_TEST_IMAGE_DIR:-}" ]; then
	img=$SG_TEST_IMAGE_DIR
	[ -f "$img/image.conf" ] || skip "$img/image.conf not found"
else
	kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
	[ -n "$kernel" ] || skip "no kernel in /boot: install linux-image-amd64"
	initrd=/boot/initrd.img-${kernel#/boot/vmlinuz-}
	[ -r "$initrd" ] || skip "$initrd not found"
	img=$work/image
	mkdir -m 0755 "$img"
	cp "$kernel" "$img/vmlinuz" && cp "$initrd" "$img/initrd.img" || exit 1
	qemu-img create -q -f qcow2 "$img/rootfs.qcow2" 64M || exit 1
	chmod 0644 "$img/vmlinuz" "$img/initrd.img" "$img/rootfs.qcow2"
	cat >"$img/image.conf" <<-EOF
	[image]
	name = test
	kernel = vmlinuz
	initrd = initrd.img
	rootfs = rootfs.qcow2
	cmdline = console=ttyS0 panic=-1 rdinit=/bin/sh
	EOF
fi
owners_before=$(stat -c '%U:%G %a %n' "$img"/* | sort)

# --- create, run, list, extend, connect ------------------------------------
id=$(newid)
ids="$ids $id"
dir=$work/state/sandboxes/$id
if ! "$vmtool" create "$uri" "$work/state" "$img" "$id" virtio-serial dev-box; then
	fail "create failed"
	exit 1
fi
state=$(virsh -c "$uri" domstate "sandgate-$id" 2>&1)
[ "$state" = running ] || fail "domain sandgate-$id is '$state', not running"
[ -f "$dir/disk.qcow2" ] || fail "no overlay $dir/disk.qcow2"
perm=$(stat -c %a "$dir")
[ "$perm" = 710 ] || fail "$dir has mode $perm, not 710"
qemu-img info -U "$dir/disk.qcow2" 2>/dev/null | grep -q "backing file: $(realpath "$img")/rootfs.qcow2" ||
	fail "overlay is not backed by the image's rootfs.qcow2 (absolute path)"

dump=$(virsh -c "$uri" dumpxml "sandgate-$id")
case $dump in *"<interface"*) fail "the domain has a network interface" ;; esac
case $dump in *"<graphics"*) fail "the domain has graphics" ;; esac
case $dump in *"<memballoon model='none'"*) ;; *) fail "the domain has a balloon" ;; esac
case $dump in *"org.sandgate.agent.0"*) ;; *) fail "no agent channel in the domain" ;; esac

line=$("$vmtool" list "$uri" | grep "^id=$id ")
case $line in
*" token=test-token name=dev-box image=test transport=virtio-serial "*"state=running") ;;
*) fail "list shows '$line'" ;;
esac
"$vmtool" set-expires "$uri" "$id" 2000000000 || fail "set-expires failed"
"$vmtool" list "$uri" | grep -q "^id=$id .* expires=2000000000 " || fail "expires not updated"
"$vmtool" connect "$uri" "$work/state" "$id" >/dev/null || fail "cannot connect to agent.sock"

# the serial console reaches console.log
n=0
while [ ! -s "$dir/console.log" ] && [ $n -lt 120 ]; do sleep 0.5; n=$((n + 1)); done
[ -s "$dir/console.log" ] || fail "console.log stayed empty for 60 s"

# --- destroy -------------------------------------------------------------------
"$vmtool" destroy "$uri" "$work/state" "$id" || fail "destroy failed"
"$vmtool" destroy "$uri" "$work/state" "$id" || fail "second destroy failed (not idempotent)"
virsh -c "$uri" domstate "sandgate-$id" >/dev/null 2>&1 && fail "domain sandgate-$id still exists"
[ -e "$dir" ] && fail "$dir still exists"
"$vmtool" list "$uri" | grep -q "^id=$id " && fail "list still shows $id"

# --- a refused start leaves nothing ------------------------------------------
if [ ! -e /dev/vhost-vsock ]; then
	id2=$(newid)
	ids="$ids $id2"
	if out=$("$vmtool" create "$uri" "$work/state" "$img" "$id2" vsock 2>&1); then
		fail "vsock start without /dev/vhost-vsock succeeded"
	else
		case $out in *"libvirt refused to start the sandbox"*) ;; *) fail "unexpected message: $out" ;; esac
	fi
	[ -e "$work/state/sandboxes/$id2" ] && fail "a refused start left $work/state/sandboxes/$id2"
	virsh -c "$uri" domstate "sandgate-$id2" >/dev/null 2>&1 && fail "a refused start left a domain"
fi

# --- leftovers -------------------------------------------------------------------
id3=$(newid)
mkdir -p "$work/state/sandboxes/$id3" "$work/state/sandboxes/not-an-id"
: >"$work/state/sandboxes/$id3/disk.qcow2"
n=$("$vmtool" cleanup "$uri" "$work/state") || fail "cleanup failed"
[ "$n" = 1 ] || fail "cleanup removed $n folders, not 1"
[ -e "$work/state/sandboxes/$id3" ] && fail "cleanup left $id3"
[ -d "$work/state/sandboxes/not-an-id" ] || fail "cleanup removed a folder that is not a sandbox"

# --- the images were only read -----------------------------------------------------
owners_after=$(stat -c '%U:%G %a %n' "$img"/* | sort)
[ "$owners_before" = "$owners_after" ] || fail "image files changed owner or mode:
$owners_before
--
$owners_after"

# --- the KVM probe ------------------------------------------------------------------
"$vmtool" probe tcg 60000 >/dev/null || fail "the probe guest does not run under TCG"
info "KVM here: $("$vmtool" kvm 3000)"

[ $failed = 0 ] && info "PASS"
exit $failed
