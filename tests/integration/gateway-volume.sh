#!/bin/sh
# Volumes through the control interface and sandgatectl, with the real
# OpenSSH client. A file written in a volume (no sync: killing the
# sandbox syncs it) is there for the next sandboxes; a volume made from a
# snapshot holds that sandbox's disk; one sandbox writes a volume, or
# many read it; QEMU holds a volume's file only while a sandbox mounts
# it. Every bad input gives a clear error and changes nothing: another
# token's volume (mount and rm), a volume mounted read-write (mounted
# again either way, or removed), one mounted read-only (mounted
# read-write, or removed), over max_volumes and volume_quota_gb, a size
# too small for the snapshot, bad names, sizes and paths, a volume that
# does not hold a filesystem. Which sandbox mounts what survives a
# restart of sandgated; a volume left unfinished is swept at the start.
# Four VM boots (minimal; the last fails at once).
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v python3 >/dev/null || skip "no python3"
command -v mkfs.ext4 >/dev/null || skip "no mkfs.ext4 (e2fsprogs)"

sg_setup "max_volumes = 3" "volume_quota_gb = 2" "disk_gb = 1" "idle_timeout = 10m"
TOK2=$(sg_ctl token create t2) || fail "token create t2"
sg_wait_for grep -q "tokens reloaded.*2 tokens" "$SG_T/log" || fail "no reload"

C() { sg_ssh sandgate@127.0.0.1 "$@"; }
C2() { sg_ssh -T "$TOK2" sandgate@127.0.0.1 "$@"; }
J() {	# J EXPR: evaluates a python expression over the JSON on stdin as d
	python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
vols() { C volume ls --json | J '",".join(v["name"] for v in d["volumes"])'; }
# refused STATUS TEXT ARGS...: the command fails with STATUS and says TEXT;
# the volumes and the sandboxes are as they were
refused() {
	st=$1 text=$2
	shift 2
	before=$(vols) nsb=$(sg_domain_count)
	C "$@" >"$SG_T/out" 2>"$SG_T/err"; got=$?
	[ $got = "$st" ] || fail "'$*': status $got, want $st: $(cat "$SG_T/err")"
	grep -q -- "$text" "$SG_T/err" || fail "'$*': $(cat "$SG_T/err")"
	[ "$(vols)" = "$before" ] || fail "'$*' changed the volumes"
	[ "$(sg_domain_count)" = "$nsb" ] || fail "'$*' left a domain"
}
vdir=$SG_T/state/volumes/t1
owner() { stat -c '%u:%g %a' "$1"; }

note "volume create data 64M: a sparse file of root's with ext4 in it"
C volume create data 64M >"$SG_T/out" 2>"$SG_T/err" || fail "volume create: $(cat "$SG_T/err")"
grep -q "^volume data made (64 MiB): create NAME --volume data:/PATH mounts it" "$SG_T/out" ||
	fail "volume create text: $(cat "$SG_T/out")"
[ "$(owner "$vdir/data/volume.img")" = "0:0 600" ] || fail "the new volume: $(owner "$vdir/data/volume.img")"
[ "$(stat -c %s "$vdir/data/volume.img")" = 67108864 ] || fail "its size"
[ "$(stat -c %b "$vdir/data/volume.img")" -lt 65536 ] || fail "it is not sparse"
[ "$(C volume ls --json | J 'd["volumes"][0]["name"], d["volumes"][0]["size"], d["volumes"][0]["from"], d["volumes"][0]["mounts"], d["max_volumes"]')" = \
	"data 67108864 None [] 3" ] || fail "volume ls --json: $(C volume ls --json)"

note "w1 writes data at /data (no sync)"
C create w1 --volume data:/data >"$SG_T/out" 2>"$SG_T/err" || fail "create w1: $(cat "$SG_T/err")"
out=$(sg_ssh w1@127.0.0.1 'grep " /data " /proc/mounts | cut -d" " -f3,4 | cut -d, -f1; echo kept-in-volume >/data/note; echo on-root >/root/rootnote && sync /root/rootnote')
[ "$out" = "ext4 rw" ] || fail "/data in w1: '$out'"
[ "$(C info w1 --json | J 'd["volumes"]')" = "[{'volume': 'data', 'path': '/data', 'ro': False}]" ] ||
	fail "info w1: $(C info w1 --json)"
C info w1 | grep -q "^volumes: *data:/data$" || fail "info w1 text: $(C info w1)"
disk=$(ls "$SG_T"/state/sandboxes/*/disk.qcow2)
[ "$(owner "$vdir/data/volume.img")" = "$(owner "$disk")" ] ||
	fail "the volume w1 writes is not QEMU's: $(owner "$vdir/data/volume.img") vs $(owner "$disk")"

note "bad input while w1 writes data: clear errors, nothing changed"
refused 1 "volume data is mounted read-write by sandbox w1: one sandbox at a time" create w2 --volume data:/d
refused 1 "volume data is mounted read-write by sandbox w1" create w2 --volume data:/d:ro
refused 1 "volume data is mounted by sandbox w1: kill it first" volume rm data
refused 1 "no volume nosuch (see volume ls)" create w2 --volume nosuch:/d
refused 1 "volume data exists: volume rm data first" volume create data 1G
refused 2 "'Bad_Name' is not a volume name" volume create Bad_Name 1G
refused 2 "size '1.5G'" volume create v 1.5G
refused 2 "from 16M to 16T" volume create v 1M
refused 2 "cannot be mounted on" create w2 --volume data:/etc
refused 2 "overlap" create w2 --volume data:/x --volume other:/x/y
refused 2 "usage: volume create VOL SIZE" volume create v
refused 1 "no snapshot nosuch (see snapshot ls)" volume create v 1G --from nosuch
C2 create x --volume data:/d >"$SG_T/out" 2>"$SG_T/err" && fail "t2 mounted t1's volume"
grep -q "no volume data" "$SG_T/err" || fail "t2 create: $(cat "$SG_T/err")"
C2 volume rm data >"$SG_T/out" 2>"$SG_T/err" && fail "t2 removed t1's volume"
grep -q "no volume data" "$SG_T/err" || fail "t2 rm: $(cat "$SG_T/err")"
[ "$(C2 volume ls --json | J 'len(d["volumes"])')" = 0 ] || fail "t2 sees t1's volumes"

note "a volume from w1's snapshot; the quotas"
C snapshot w1 snapw1 >"$SG_T/out" 2>"$SG_T/err" || fail "snapshot w1: $(cat "$SG_T/err")"
refused 2 "the snapshot's disk is 1024 MiB: make the volume at least that large" \
	volume create fromsnap 512M --from snapw1
[ -z "$(ls "$vdir" | grep -v '^data$')" ] || fail "left in $vdir: $(ls "$vdir")"
C volume create fromsnap 1G --from snapw1 >"$SG_T/out" 2>"$SG_T/err" ||
	fail "volume create --from: $(cat "$SG_T/err")"
[ "$(C volume ls --json | J '[v["from"] for v in d["volumes"]]')" = "[None, 'snapw1']" ] ||
	fail "volume ls: $(C volume ls --json)"
refused 1 "would take token t1's volumes to 2112 MiB (volume_quota_gb = 2)" volume create big 1G
C volume create small 16M >/dev/null 2>"$SG_T/err" || fail "volume create small: $(cat "$SG_T/err")"
refused 1 "token t1 has 3 volumes (max_volumes = 3): volume rm one first" volume create more 16M

note "w1 killed right after a write: it is on the volume, which is root's again"
sg_ssh w1@127.0.0.1 'echo written-last >/data/last' || fail "the last write"
C kill w1 >/dev/null || fail "kill w1"
grep -q "sandbox .*: its guest synced its volumes and powered off" "$SG_T/log" ||
	fail "w1's guest did not sync before it was stopped"
sg_wait_for sh -c "[ \$(ls '$SG_T/state/sandboxes' | wc -l) = 0 ]" || fail "w1 not gone"
sg_wait_for sh -c "[ \"\$(stat -c '%u:%g %a' '$vdir/data/volume.img')\" = '0:0 600' ]" ||
	fail "after w1: $(owner "$vdir/data/volume.img")"
grep -q "sandbox .* destroyed (killed by its token)" "$SG_T/log" || fail "no destroyed line"

note "r1 and r2 read data; r1 also mounts the volume made from the snapshot"
C create r1 --volume data:/data:ro --volume fromsnap:/snap >"$SG_T/out" 2>"$SG_T/err" ||
	fail "create r1: $(cat "$SG_T/err")"
out=$(sg_ssh r1@127.0.0.1 'cat /data/note /data/last /snap/rootnote; touch /data/x 2>&1 || echo refused; grep " /data " /proc/mounts | cut -d" " -f4 | cut -d, -f1')
[ "$out" = "kept-in-volume
written-last
on-root
touch: /data/x: Read-only file system
refused
ro" ] || fail "r1: '$out'"
C create r2 --volume data:/mnt/data:ro >"$SG_T/out" 2>"$SG_T/err" || fail "create r2: $(cat "$SG_T/err")"
[ "$(sg_ssh r2@127.0.0.1 'cat /mnt/data/note')" = kept-in-volume ] || fail "r2 lacks the file"
qgid=$(stat -c %g "$(ls "$SG_T"/state/sandboxes/*/disk.qcow2 | head -n 1)")
[ "$(owner "$vdir/data/volume.img")" = "0:$qgid 640" ] ||
	fail "a volume read: $(owner "$vdir/data/volume.img"), QEMU's group $qgid"
refused 1 "volume data is mounted read-only by sandbox r[12] and others: mount it with :ro" \
	create w3 --volume data:/data
refused 1 "volume data is mounted by sandbox r[12] and others: kill it first" volume rm data
C volume ls | grep -q "^data .* t1 .*  64M .*r[12]:/[a-z/]*:ro,r[12]:/[a-z/]*:ro$" ||
	fail "volume ls: $(C volume ls)"

note "sandgated restarted: r1 and r2 still hold data; a half-made volume is swept"
mkdir -p "$vdir/stale.tmp" && echo partial >"$vdir/stale.tmp/volume.img"
kill "$SG_PID"
wait "$SG_PID" 2>/dev/null
sg_start
[ ! -e "$vdir/stale.tmp" ] || fail "stale.tmp was not swept"
grep -q "removed $vdir/stale.tmp, a volume a sandgated before did not finish" "$SG_T/log" ||
	fail "the sweep is not in the log"
[ "$(C volume ls --json | J 'sorted(m["sandbox"] for m in d["volumes"][0]["mounts"])')" = "['r1', 'r2']" ] ||
	fail "after the restart: $(C volume ls --json)"
refused 1 "volume data is mounted read-only by sandbox" create w3 --volume data:/data
[ "$(sg_ssh r1@127.0.0.1 'cat /data/note')" = kept-in-volume ] || fail "r1 after the restart"

note "a volume without a filesystem: the sandbox does not start, and says why"
dd if=/dev/zero of="$vdir/small/volume.img" bs=64k count=16 conv=notrunc 2>/dev/null || fail "dd"
C create w4 --volume small:/b >"$SG_T/out" 2>"$SG_T/err" && fail "w4 started"
grep -q "sandbox w4 could not be started: the sandbox could not be set up: volume sgvol0: cannot mount /dev/vdb on /b" \
	"$SG_T/err" || fail "w4: $(cat "$SG_T/err")"
sg_wait_for sh -c "[ \$(ls '$SG_T/state/sandboxes' | wc -l) = 2 ]" || fail "w4 left its folder"
# given back once w4's destruction is done (a job, then the loop)
sg_wait_for sh -c "[ \"\$(stat -c '%u:%g %a' '$vdir/small/volume.img')\" = '0:0 600' ]" ||
	fail "small after w4: $(owner "$vdir/small/volume.img")"

note "the readers killed: data is removed; sandgatectl removes the rest with --token"
C kill r1 >/dev/null && C kill r2 >/dev/null || fail "kill r1, r2"
sg_wait_for sg_no_leftovers || fail "leftovers"
C volume rm data >"$SG_T/out" 2>"$SG_T/err" || fail "volume rm data: $(cat "$SG_T/err")"
grep -q "^volume data removed" "$SG_T/out" || fail "rm text: $(cat "$SG_T/out")"
[ ! -e "$vdir/data" ] || fail "data's folder is still there"
sg_ctl volume ls | grep -q "^fromsnap .* t1 " || fail "sandgatectl volume ls: $(sg_ctl volume ls)"
sg_ctl volume rm small >"$SG_T/out" 2>"$SG_T/err"; st=$?
[ $st = 2 ] && grep -q -- "--token T" "$SG_T/err" || fail "root rm without --token: $st $(cat "$SG_T/err")"
sg_ctl volume rm small --token t1 >/dev/null && sg_ctl volume rm fromsnap --token t1 --json |
	J 'd["removed"]' | grep -qx fromsnap || fail "sandgatectl volume rm"
C snapshot rm snapw1 >/dev/null || fail "snapshot rm"
[ -z "$(ls -A "$vdir")" ] || fail "left in $vdir: $(ls -A "$vdir")"
grep -q '"event":"volume_created"' "$SG_T/audit.jsonl" || fail "no volume_created audit"
grep -q '"event":"volume_removed"' "$SG_T/audit.jsonl" || fail "no volume_removed audit"
sg_no_crash
echo PASS
