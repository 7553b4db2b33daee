#!/bin/sh
# Snapshots through the control interface and sandgatectl, with the real
# OpenSSH client: a file written in a named sandbox is in the sandbox
# made from its snapshot; the snapshot's disk stands alone (no backing
# file) and keeps working once removed under a running sandbox; the
# sandbox snapshotted runs on. Every bad input gives a clear error and
# changes nothing: a name taken, a sandbox that does not exist, a bad
# name, another token's snapshot (create and rm), over max_snapshots,
# --image with --snapshot, root without --token. The image rebuilt (its
# files replaced) after the snapshot: the sandbox made from the snapshot
# still boots with its file. A snapshot a sandgated left unfinished is
# swept at the next start. A snapshot asked for while its sandbox is
# being killed is made first or refused, with nothing left. Two VM boots
# (minimal).
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v python3 >/dev/null || skip "no python3"
command -v qemu-img >/dev/null || skip "no qemu-img"

# the image in a folder of the test's own (hard links when they can be),
# so that it can be "rebuilt" under the snapshot
IMG=$(mktemp -d /tmp/sgimg.XXXXXX)
SG_EXTRA_DIRS=$IMG
trap sg_cleanup EXIT INT TERM	# sg_setup sets it again, the same
chmod 755 "$IMG"
cp -al "$SG_IMAGE_DIR/minimal" "$IMG/minimal" 2>/dev/null ||
	cp -a "$SG_IMAGE_DIR/minimal" "$IMG/minimal" || fail "copying the image"
SG_IMAGE_DIR=$IMG
sg_setup "max_snapshots = 2" "snapshot_quota_gb = 1" "idle_timeout = 10m"
TOK2=$(sg_ctl token create t2) || fail "token create t2"
sg_wait_for grep -q "tokens reloaded.*2 tokens" "$SG_T/log" || fail "no reload"

C() { sg_ssh sandgate@127.0.0.1 "$@"; }
C2() { sg_ssh -T "$TOK2" sandgate@127.0.0.1 "$@"; }
J() {	# J EXPR: evaluates a python expression over the JSON on stdin as d
	python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
snaps() { C snapshot ls --json | J '",".join(s["name"] for s in d["snapshots"])'; }
# refused STATUS TEXT ARGS...: the command fails with STATUS and says TEXT;
# the snapshots are as they were
refused() {
	st=$1 text=$2
	shift 2
	before=$(snaps)
	C "$@" >"$SG_T/out" 2>"$SG_T/err"; got=$?
	[ $got = "$st" ] || fail "'$*': status $got, want $st: $(cat "$SG_T/err")"
	grep -q -- "$text" "$SG_T/err" || fail "'$*': $(cat "$SG_T/err")"
	[ "$(snaps)" = "$before" ] || fail "'$*' changed the snapshots"
}
sdir=$SG_T/state/snapshots/t1

note "s1: a named sandbox with a file on its disk"
C create s1 >"$SG_T/out" 2>"$SG_T/err" || fail "create s1: $(cat "$SG_T/err")"
out=$(sg_ssh s1@127.0.0.1 'echo kept-by-snapshot >/root/note && sync && cat /root/note')
[ "$out" = kept-by-snapshot ] || fail "writing in s1: '$out'"

note "snapshot s1 snap1: made while s1 runs on"
C snapshot s1 snap1 >"$SG_T/out" 2>"$SG_T/err" || fail "snapshot: $(cat "$SG_T/err")"
grep -q "^snapshot snap1 of s1 made ([0-9]* MiB): create NAME --snapshot snap1" "$SG_T/out" ||
	fail "snapshot text: $(cat "$SG_T/out")"
[ "$(C snapshot ls --json | J 'd["snapshots"][0]["name"], d["snapshots"][0]["image"], d["snapshots"][0]["from"], d["snapshots"][0]["size"] > 0, d["max_snapshots"]')" = \
	"snap1 minimal s1 True 2" ] || fail "snapshot ls --json: $(C snapshot ls --json)"
C snapshot ls | grep -q "^snap1 .* t1 .* minimal" || fail "snapshot ls: $(C snapshot ls)"
[ "$(sg_ssh s1@127.0.0.1 'cat /root/note')" = kept-by-snapshot ] || fail "s1 after its snapshot"
qemu-img info -U "$sdir/snap1/rootfs.qcow2" >"$SG_T/info" || fail "qemu-img info"
! grep -q "backing file" "$SG_T/info" || fail "the snapshot's disk has a backing file: $(cat "$SG_T/info")"
grep -q "^snapshot_of = s1$" "$sdir/snap1/image.conf" || fail "image.conf: $(cat "$sdir/snap1/image.conf")"

note "the image rebuilt: its kernel, initrd and disk replaced"
for f in vmlinux initrd.img rootfs.qcow2; do
	echo "not a $f" >"$IMG/minimal/$f.new" && mv -f "$IMG/minimal/$f.new" "$IMG/minimal/$f" ||
		fail "replacing $f"
done

note "create s2 --snapshot snap1: it boots, the file is there"
C create s2 --snapshot snap1 >"$SG_T/out" 2>"$SG_T/err" || fail "create s2: $(cat "$SG_T/err")"
[ "$(sg_ssh s2@127.0.0.1 'cat /root/note')" = kept-by-snapshot ] || fail "s2 lacks the file"
[ "$(C info s2 --json | J 'd["image"]')" = minimal ] || fail "s2's image"

note "bad input: clear errors, nothing changed"
refused 1 "snapshot snap1 exists: snapshot rm snap1 first" snapshot s1 snap1
refused 1 "no sandbox nosuch" snapshot nosuch snapx
refused 2 "'Bad_Name' is not a snapshot name" snapshot s1 Bad_Name
refused 2 "usage: snapshot NAME SNAP" snapshot s1
refused 1 "no snapshot nosuch (see snapshot ls)" create s3 --snapshot nosuch
refused 2 "--image and --snapshot both" create s3 --snapshot snap1 --image minimal
C2 create x --snapshot snap1 >"$SG_T/out" 2>"$SG_T/err" && fail "t2 started from t1's snapshot"
grep -q "no snapshot snap1" "$SG_T/err" || fail "t2 create: $(cat "$SG_T/err")"
C2 snapshot rm snap1 >"$SG_T/out" 2>"$SG_T/err" && fail "t2 removed t1's snapshot"
grep -q "no snapshot snap1" "$SG_T/err" || fail "t2 rm: $(cat "$SG_T/err")"
[ "$(C2 snapshot ls --json | J 'len(d["snapshots"])')" = 0 ] || fail "t2 sees t1's snapshots"
[ -d "$sdir/snap1" ] || fail "snap1 is gone"

note "max_snapshots = 2: a third is refused"
C snapshot s2 snap2 >"$SG_T/out" 2>"$SG_T/err" || fail "snapshot snap2: $(cat "$SG_T/err")"
refused 1 "token t1 has 2 snapshots (max_snapshots = 2): snapshot rm one first" snapshot s1 snap3
[ -z "$(ls "$sdir" | grep -v '^snap[12]$')" ] || fail "left in $sdir: $(ls "$sdir")"

note "sandgatectl: every token's; rm needs --token; a removed snapshot's sandbox runs on"
sg_ctl snapshot ls | grep -q "^snap2 .* t1 " || fail "sandgatectl snapshot ls: $(sg_ctl snapshot ls)"
sg_ctl snapshot rm snap1 >"$SG_T/out" 2>"$SG_T/err"; st=$?
[ $st = 2 ] && grep -q -- "--token T" "$SG_T/err" || fail "root rm without --token: $st $(cat "$SG_T/err")"
sg_ctl snapshot rm snap1 --token t1 >"$SG_T/out" 2>"$SG_T/err" || fail "root rm: $(cat "$SG_T/err")"
grep -q "^snapshot snap1 removed" "$SG_T/out" || fail "rm text: $(cat "$SG_T/out")"
[ ! -e "$sdir/snap1" ] || fail "snap1's folder is still there"
[ "$(snaps)" = snap2 ] || fail "after rm: $(snaps)"
[ "$(sg_ssh s2@127.0.0.1 'cat /root/note')" = kept-by-snapshot ] ||
	fail "s2 stopped working once its snapshot was removed"
C snapshot rm snap2 >/dev/null || fail "rm snap2"
grep -q '"event":"snapshot_created"' "$SG_T/audit.jsonl" || fail "no snapshot_created audit"
grep -q '"event":"snapshot_removed"' "$SG_T/audit.jsonl" || fail "no snapshot_removed audit"

note "a snapshot left unfinished by a sandgated that died: swept at start"
mkdir -p "$sdir/stale.tmp" && echo partial >"$sdir/stale.tmp/rootfs.qcow2"
kill "$SG_PID"
wait "$SG_PID" 2>/dev/null
sg_start
[ ! -e "$sdir/stale.tmp" ] || fail "stale.tmp was not swept"
grep -q "removed $sdir/stale.tmp, a snapshot a sandgated before did not finish" "$SG_T/log" ||
	fail "the sweep is not in the log"
[ "$(sg_ssh s2@127.0.0.1 'cat /root/note')" = kept-by-snapshot ] || fail "s2 after the restart"

note "a snapshot of a sandbox being destroyed: made before, or refused"
# s2, whose disk stands on snap1's (s1's image was replaced under it
# above, so a copy of s1's disk chain cannot be read any more)
C kill s2 >/dev/null 2>&1 &
kpid=$!
if C snapshot s2 late >"$SG_T/out" 2>"$SG_T/err"; then
	note "the snapshot came first: $(cat "$SG_T/out")"
	C snapshot rm late >/dev/null || fail "rm late"
else
	grep -q -e "no sandbox s2" -e "snapshot late of s2 failed: the sandbox is gone" \
		-e "sandbox s2 is" "$SG_T/err" || fail "snapshot during kill: $(cat "$SG_T/err")"
	note "refused: $(cat "$SG_T/err")"
fi
wait "$kpid" || fail "kill s2"
sg_wait_for sh -c "[ ! -e '$sdir/late.tmp' ] && [ ! -e '$sdir/late' ]" || fail "left: $(ls -A "$sdir")"

note "the end: sandboxes killed, nothing left"
C kill s1 >/dev/null || fail "kill"
sg_wait_for sg_no_leftovers || fail "leftovers"
[ -z "$(ls -A "$sdir")" ] || fail "left in $sdir: $(ls -A "$sdir")"
sg_no_crash
echo PASS
