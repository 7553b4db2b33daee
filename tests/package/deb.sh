#!/bin/sh
# The Debian package, end to end, on this machine: build it from a copy of
# the tree (its tracked and new files, as they are now), install it with
# apt-get, check what it installed, build the minimal image with the
# installed sandgate-image, start the installed sandgated on a test
# configuration made from the installed sample, log in with the real
# OpenSSH client, run `echo ok`, and purge the package.
#
#   tests/package/deb.sh                   all of it (root, libvirtd; one VM)
#   SG_DEB_NO_VM=1 tests/package/deb.sh    stop after the image is built
#
# Environment (all optional):
#   SG_SRCDIR        the source tree (default: the one holding this script)
#   SG_DEB           a built sandgate_*.deb to test instead of building one
#   SG_DEB_NO_VM=1   no sandgated, no VM: build, install, check, image, purge
#   SG_DEB_DEFAULT=1 also build the default image (debootstrap: a minute
#                    and a Debian mirror)
#   SG_DEB_KEEP=1    leave the package installed at the end (folders moved
#                    aside then stay aside: the test says where)
#
# What it does to the machine: apt-get installs the package and whatever of
# its Depends is missing (those stay). /etc/sandgate, /var/lib/sandgate and
# /var/log/sandgate that exist before (tools/quickstart makes them) are
# moved aside while the package is installed and put back after the purge.
# The users sandgate, sandgate-proxy and sandgate-front stay (the package never removes
# them). The test's sandgated has its own port, state, tokens, control
# socket, audit log, image folder, nftables table (sgtest_PID) and pool
# (10.231.0.0/16), all under a temporary folder or removed at the end with
# its VM. It refuses to run when the sandgate package is installed already
# or a sandgated uses /var/lib/sandgate.

here=$(cd "$(dirname "$0")" && pwd)
: "${SG_SRCDIR:=$(cd "$here/../.." && pwd)}"
. "$SG_SRCDIR/tests/integration/lib.sh"
set -eu
# the installed programs, for lib.sh's helpers
SANDGATED=/usr/sbin/sandgated
SANDGATECTL=/usr/sbin/sandgatectl
img=/usr/sbin/sandgate-image
unitdir=/lib/systemd/system

[ "$(id -u)" = 0 ] || skip "needs root (installs a package)"
for c in dpkg-buildpackage:dpkg-dev dh:debhelper git:git apt-get:apt python3:python3 \
	setpriv:util-linux; do
	command -v "${c%%:*}" >/dev/null 2>&1 ||
		skip "no ${c%%:*}: install the Debian package ${c#*:}"
done
if [ "${SG_DEB_NO_VM:-0}" != 1 ]; then
	command -v ssh >/dev/null || skip "no OpenSSH client (apt-get install openssh-client)"
	virsh -c qemu:///system version >/dev/null 2>&1 ||
		skip "libvirtd not reachable at qemu:///system (or run with SG_DEB_NO_VM=1)"
fi
st=$(dpkg-query -W -f='${Status}' sandgate 2>/dev/null) || st=
case $st in
''|*not-installed) ;;
*) skip "the sandgate package is on this machine ($st): this test installs and purges it; remove it first (dpkg --purge sandgate)" ;;
esac
lockpid=$(head -n 1 /var/lib/sandgate/sandgated.lock 2>/dev/null) || lockpid=
if [ -n "$lockpid" ] && [ "$(cat "/proc/$lockpid/comm" 2>/dev/null)" = sandgated ]; then
	skip "a sandgated (pid $lockpid) uses /var/lib/sandgate: stop it first"
fi

SG_T=$(mktemp -d /tmp/sgdeb.XXXXXX)
# libvirt's QEMU reads the image and the overlays under it; apt's _apt the .deb
chmod 755 "$SG_T"
SG_NFT_TABLE=sgtest_$$
aside=
installed=0
# purge_check: purges the package (unless SG_DEB_KEEP=1) and checks that
# its programs and configuration are gone and its users are not.
purge_check() {
	if [ "${SG_DEB_KEEP:-0}" = 1 ]; then
		note "SG_DEB_KEEP=1: the sandgate package stays installed (dpkg --purge sandgate removes it)"
		installed=0
		return 0
	fi
	dpkg --purge sandgate >"$SG_T/purge.log" 2>&1 ||
		{ cat "$SG_T/purge.log"; fail "dpkg --purge sandgate"; }
	installed=0
	[ ! -e /usr/sbin/sandgated ] || fail "/usr/sbin/sandgated is still there after the purge"
	[ ! -e /etc/sandgate ] || fail "/etc/sandgate is still there after the purge: $(ls -A /etc/sandgate)"
	[ ! -e /var/lib/sandgate ] || fail "/var/lib/sandgate is still there after the purge"
	getent passwd sandgate >/dev/null || fail "the purge removed the user sandgate"
	note "purged: programs, configuration and state gone, users kept"
}
# On exit: the test's gateway, its VM, taps, table and helpers (lib.sh's
# helpers, by the ids and pids in its log), the package, then the folders
# moved aside, then the temporary folder.
deb_cleanup() {
	set +e
	if [ -n "$SG_PID" ]; then
		kill "$SG_PID" 2>/dev/null
		wait "$SG_PID" 2>/dev/null
	fi
	for p in $(sg_helper_pids); do sg_kill_pid "$p"; done
	sg_destroy_domains
	sg_destroy_network
	if [ $installed = 1 ] && [ "${SG_DEB_KEEP:-0}" != 1 ]; then
		dpkg --purge sandgate >"$SG_T/purge.log" 2>&1 ||
			{ cat "$SG_T/purge.log"; echo "# dpkg --purge sandgate failed"; }
	fi
	for d in $aside; do
		if [ -e "$d" ]; then
			echo "# $d exists after the test: left as it is; the original is $d.sgdeb$$"
		else
			mv "$d.sgdeb$$" "$d" && echo "# put $d back"
		fi
	done
	rm -rf "$SG_T"
}
trap deb_cleanup EXIT
trap 'exit 1' INT TERM

# ---- build ------------------------------------------------------------------
if [ -n "${SG_DEB:-}" ]; then
	deb=$(cd "$(dirname "$SG_DEB")" && pwd)/$(basename "$SG_DEB")
	[ -f "$deb" ] || fail "SG_DEB=$SG_DEB: no such file"
	note "testing $deb"
else
	src=$SG_T/src/sandgate
	mkdir -p "$src"
	# what git tracks and what is new but not ignored: no build trees, no
	# generated autotools files (dh_autoreconf makes them)
	(cd "$SG_SRCDIR" && git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf -) 2>"$SG_T/copy.log" |
		tar -xf - -C "$src" || fail "cannot copy $SG_SRCDIR: $(cat "$SG_T/copy.log")"
	[ ! -s "$SG_T/copy.log" ] || note "copy: $(cat "$SG_T/copy.log")"
	note "dpkg-buildpackage -b -uc -us in a copy of $SG_SRCDIR"
	t0=$(date +%s)
	(cd "$src" && nice -n 10 dpkg-buildpackage -b -uc -us) >"$SG_T/build.log" 2>&1 ||
		{ tail -n 40 "$SG_T/build.log"; fail "dpkg-buildpackage failed (above)"; }
	note "built in $(($(date +%s) - t0)) s"
	set -- "$SG_T"/src/sandgate_*_amd64.deb
	[ $# = 1 ] && [ -f "$1" ] || fail "dpkg-buildpackage made no single sandgate_*_amd64.deb: $*"
	deb=$1
fi

# ---- install ----------------------------------------------------------------
for d in /etc/sandgate /var/lib/sandgate /var/log/sandgate; do
	if [ -e "$d" ]; then
		mv "$d" "$d.sgdeb$$" || fail "cannot move $d aside"
		aside="$aside $d"
		note "moved $d aside to $d.sgdeb$$ (put back at the end)"
	fi
done
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >"$SG_T/install.log" 2>&1 ||
	{ cat "$SG_T/install.log"; fail "apt-get install $deb failed"; }
note "installed $(dpkg-query -W -f='${Package} ${Version}' sandgate)"

# ---- what it installed --------------------------------------------------------
for f in /usr/sbin/sandgated /usr/sbin/sandgatectl /usr/sbin/sandgate-proxy \
	/usr/sbin/sandgate-front \
	/usr/sbin/sandgate-image /usr/libexec/sandgate/sandgate-shim \
	/usr/libexec/sandgate/sandgate-agent /usr/libexec/sandgate/build-minimal \
	/usr/libexec/sandgate/build-default; do
	[ -f "$f" ] && [ -x "$f" ] || fail "$f is not installed or not executable"
done
for f in $unitdir/sandgated.service /usr/lib/sysusers.d/sandgate.conf \
	/usr/lib/tmpfiles.d/sandgate.conf /etc/logrotate.d/sandgate \
	/etc/sandgate/sandgate.conf /usr/share/doc/sandgate/README.Debian; do
	[ -f "$f" ] || fail "$f is not installed"
done
for m in man8/sandgated.8 man8/sandgatectl.8 man8/sandgate-proxy.8 man8/sandgate-shim.8 \
	man8/sandgate-agent.8 man8/sandgate-image.8 man5/sandgate.conf.5 \
	man5/sandgate-tokens.5 man7/sandgate-ssh.7; do
	[ -f "/usr/share/man/$m.gz" ] || fail "no manual page /usr/share/man/$m.gz"
done
file -b /usr/libexec/sandgate/sandgate-agent | grep -q 'statically linked' ||
	fail "the installed agent is not statically linked: $(file -b /usr/libexec/sandgate/sandgate-agent)"
dpkg-query -W -f='${Conffiles}\n' sandgate | grep -q ' /etc/sandgate/sandgate.conf ' ||
	fail "/etc/sandgate/sandgate.conf is not a conffile"
dpkg-query -W -f='${Conffiles}\n' sandgate | grep -q ' /etc/sandgate/tokens.conf ' &&
	fail "/etc/sandgate/tokens.conf is a conffile (it is data)"
[ "$(stat -c '%a %U' /etc/sandgate/tokens.conf 2>/dev/null)" = "600 root" ] ||
	fail "/etc/sandgate/tokens.conf is not there with mode 600, owner root"
for u in sandgate sandgate-proxy sandgate-front; do
	getent passwd "$u" >/dev/null || fail "no user $u after the installation"
done
[ -L /etc/systemd/system/multi-user.target.wants/sandgated.service ] ||
	fail "sandgated.service is not enabled"
if [ -d /run/systemd/system ]; then
	note "systemd runs here: sandgated.service must not have been started"
	systemctl is-active --quiet sandgated.service && fail "the installation started sandgated"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	out=$(systemd-analyze verify --man=no "$unitdir/sandgated.service" 2>&1) ||
		fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
fi
note "programs, agent, builders, unit, man pages, conffile, tokens file and users are in place"

# The paths built in, and the sample against the key table.
conf=$("$SANDGATED" -T) || fail "sandgated -T with the installed configuration"
for kv in "shim_program = /usr/libexec/sandgate/sandgate-shim" \
	"program = /usr/sbin/sandgate-proxy" "tokens = /etc/sandgate/tokens.conf" \
	"image_dir = /var/lib/sandgate/images" "state_dir = /var/lib/sandgate"; do
	printf '%s\n' "$conf" | grep -qx "$kv" || fail "sandgated -T has no '$kv'"
done
out=$("$SG_SRCDIR/tests/package/conf-sample.sh" "$SANDGATED" /etc/sandgate/sandgate.conf) ||
	fail "the installed sample: $out"
note "$out"

# sandgated -t before any image: that, and only that, may be wrong
# (libvirtd may not run here with SG_DEB_NO_VM=1).
status=0
out=$("$SANDGATED" -t 2>&1) || status=$?
[ $status = 1 ] || fail "sandgated -t before an image: status $status, expected 1: $out"
printf '%s\n' "$out" | grep -q 'images/default' ||
	fail "sandgated -t does not say that the default image is missing: $out"
if printf '%s\n' "$out" | grep -v 'images/default' | grep -v -i 'libvirt' | grep -q .; then
	fail "sandgated -t finds more than the missing image: $out"
fi
note "sandgated -t: $(printf '%s\n' "$out" | grep 'images/default' | head -n 1)"

# ---- sandgate-image -------------------------------------------------------------
$img --help | grep -q '^usage: sandgate-image build' || fail "sandgate-image --help"
status=0
out=$($img build nosuch 2>&1) || status=$?
[ $status = 2 ] && printf '%s\n' "$out" | grep -q "unknown image 'nosuch'" ||
	fail "sandgate-image build nosuch: status $status: $out"
status=0
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	$img build minimal --image-dir "$SG_T/x" 2>&1) || status=$?
[ $status = 1 ] && printf '%s\n' "$out" | grep -q 'must run as root' ||
	fail "sandgate-image build as nobody: status $status: $out"
SG_IMAGE_DIR=$SG_T/images
t0=$(date +%s)
$img build minimal --image-dir "$SG_IMAGE_DIR" >"$SG_T/image.log" 2>&1 ||
	{ cat "$SG_T/image.log"; fail "sandgate-image build minimal"; }
[ -f "$SG_IMAGE_DIR/minimal/image.conf" ] || fail "no $SG_IMAGE_DIR/minimal/image.conf"
note "sandgate-image build minimal: $(($(date +%s) - t0)) s"
$img build minimal --image-dir "$SG_IMAGE_DIR" | grep -q 'image up to date' ||
	fail "a second build of the minimal image is not 'up to date'"
$img list --image-dir "$SG_IMAGE_DIR" | grep -q '^minimal ' ||
	fail "sandgate-image list does not show minimal"
# Without --image-dir: where the installed configuration says, in this
# test's own /var/lib/sandgate (one from before was moved aside).
$img build minimal >"$SG_T/image2.log" 2>&1 ||
	{ cat "$SG_T/image2.log"; fail "sandgate-image build minimal (into the configured image_dir)"; }
[ -f /var/lib/sandgate/images/minimal/image.conf ] ||
	fail "sandgate-image build minimal made no /var/lib/sandgate/images/minimal/image.conf"
grep -q 'set \[sandbox\] image = minimal' "$SG_T/image2.log" ||
	fail "sandgate-image does not say how to use the minimal image: $(cat "$SG_T/image2.log")"
$img list | grep -q '^minimal ' || fail "sandgate-image list (configured image_dir) does not show minimal"
if [ "${SG_DEB_DEFAULT:-0}" = 1 ]; then
	t0=$(date +%s)
	$img build default --image-dir "$SG_IMAGE_DIR" >"$SG_T/default.log" 2>&1 ||
		{ tail -n 30 "$SG_T/default.log"; fail "sandgate-image build default"; }
	[ -f "$SG_IMAGE_DIR/default/image.conf" ] || fail "no $SG_IMAGE_DIR/default/image.conf"
	note "sandgate-image build default: $(($(date +%s) - t0)) s"
fi

if [ "${SG_DEB_NO_VM:-0}" = 1 ]; then
	note "SG_DEB_NO_VM=1: no sandgated, no VM"
	purge_check
	echo "PASS (without the login: SG_DEB_NO_VM=1)"
	exit 0
fi

# ---- the installed sandgated, on a test configuration ---------------------------
# The installed sample with the keys a test needs uncommented: its own
# port, files, table, pool and image, and no proxy.
SG_PORT=$(sg_free_port)
mkdir -p "$SG_T/state"
: >"$SG_T/tokens.conf"
chmod 600 "$SG_T/tokens.conf"
cp /etc/sandgate/sandgate.conf "$SG_T/sandgate.conf"
set_key() { # set_key KEY VALUE: uncomments KEY's first line in the test configuration
	# (the first: [expose] has a listen of its own, which stays unset)
	sed -i "0,/^#$1 = /s|^#$1 = .*|$1 = $2|" "$SG_T/sandgate.conf"
	grep -qx "$1 = $2" "$SG_T/sandgate.conf" || fail "no '#$1 = ' in the installed sample"
}
set_key listen "127.0.0.1:$SG_PORT"
set_key host_key "$SG_T/state/host_key"
set_key tokens "$SG_T/tokens.conf"
set_key state_dir "$SG_T/state"
set_key control_socket "$SG_T/control.sock"
set_key audit_log "$SG_T/audit.jsonl"
set_key metrics "$SG_T/metrics.sock"
set_key domain_type qemu
set_key image minimal
set_key image_dir "$SG_IMAGE_DIR"
set_key memory_mb 768
set_key vcpus 1
set_key pool 10.231.0.0/16
set_key table "$SG_NFT_TABLE"
set_key port 0
"$SANDGATED" -t --config "$SG_T/sandgate.conf" >"$SG_T/check.log" 2>&1 ||
	{ cat "$SG_T/check.log"; fail "sandgated -t on the test configuration"; }
SG_TOKEN=$(sg_ctl token create t1) || fail "sandgatectl token create"
sg_start
note "the installed sandgated listens on 127.0.0.1:$SG_PORT"
out=$(sg_ssh sandbox@127.0.0.1 'echo ok' 2>&1) || fail "ssh sandbox@127.0.0.1 'echo ok': $out"
[ "$out" = ok ] || fail "ssh printed '$out', expected 'ok'"
sg_no_crash
note "logged in with OpenSSH and ran 'echo ok'"
kill "$SG_PID"
wait "$SG_PID" 2>/dev/null || :
SG_PID=
for p in $(sg_helper_pids); do sg_kill_pid "$p"; done
sg_destroy_domains

purge_check
echo PASS
