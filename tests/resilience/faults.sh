#!/bin/sh
# Resilience: faults beside those of gateway-faults.sh and
# gateway-survive.sh (which kill sandgated, a shim, a worker and a VM,
# and restart libvirtd). Here, with a named sandbox "keep" running a
# session throughout:
#   1. the proxy killed (-9): restarted, keep's session goes on;
#   2. the proxy's CA unreadable: the proxy cannot start and says why, the
#      monitor tries again less and less often, keep goes on; once
#      readable again the proxy is back;
#   3. state_dir full (a small loop-mounted ext4): a new sandbox is
#      refused with a message, nothing of it is left behind, keep goes on;
#      a snapshot of keep is refused the same way (keep resumed, nothing
#      of the snapshot left), and so is a new volume (nothing of it
#      left) and the hibernation of keep (its session goes on); once
#      space is free a new sandbox starts.
# Two boots of the minimal image (keep, and the one after the disk full).
. "$SG_SRCDIR/tests/integration/lib.sh"

sg_require
command -v mkfs.ext4 >/dev/null || skip "no mkfs.ext4 (e2fsprogs)"

mount_state() {
	truncate -s 48M "$SG_T/state.img" || fail "truncate"
	mkfs.ext4 -q -F "$SG_T/state.img" || fail "mkfs.ext4"
	mount -o loop "$SG_T/state.img" "$SG_T/state" || skip "cannot loop-mount"
	SG_EXTRA_MOUNTS="$SG_T/state"
}
SG_PRE_START=mount_state
SG_TEST_PROXY=1
sg_setup "idle_timeout = 10m"

# keep: a session that prints a line a second until its stdin closes
mkfifo "$SG_T/keep.in"
( sg_ssh keep@127.0.0.1 'while read -r l; do echo "got $l"; done' \
    <"$SG_T/keep.in" >"$SG_T/keep.out" 2>&1; echo "status $?" >>"$SG_T/keep.out" ) &
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
exec 8>"$SG_T/keep.in"
n=0
# keep_alive: keep's session answers a new line
keep_alive() {
	n=$((n + 1))
	echo "line$n" >&8
	sg_wait_for grep -qx "got line$n" "$SG_T/keep.out" ||
		fail "keep's session did not answer line$n: $(cat "$SG_T/keep.out")"
}
_i=0
until [ -s "$SG_T/keep.out" ] || grep -q "shim started" "$SG_T/log"; do
	_i=$((_i + 1)); [ $_i -lt 600 ] || fail "keep did not start"; sleep 0.2
done
keep_alive
keep_alive
note "keep's session runs"

proxy_pid() {
	sed -n 's/.*sandgate-proxy started (pid \([0-9]*\)).*/\1/p' "$SG_T/log" | tail -n 1
}
starts() { grep -c "sandgate-proxy started (pid" "$SG_T/log"; }

# --- 1. the proxy killed -------------------------------------------------
p1=$(proxy_pid)
[ -n "$p1" ] || fail "no proxy started"
s1=$(starts)
kill -9 "$p1"
sg_wait_for sh -c "[ \$(grep -c 'sandgate-proxy started (pid' '$SG_T/log') -gt $s1 ]" ||
	fail "the proxy was not restarted"
# one that had been ready is restarted at once, not with a back-off
grep -q "sandgate-proxy was killed by signal 9: restarting it in 1 s" "$SG_T/log" ||
	fail "the proxy killed after it was ready was not restarted in 1 s"
keep_alive
note "proxy $p1 killed: restarted as $(proxy_pid), keep goes on"

# --- 2. the CA unreadable ------------------------------------------------
key=$SG_T/state/proxy/ca.key
[ -f "$key" ] || fail "no $key"
chmod 000 "$key"
p2=$(proxy_pid)
s2=$(starts)
kill -9 "$p2"
sg_wait_for grep -q "cannot open $SG_T/state/proxy/ca.key" "$SG_T/log" ||
	fail "the proxy did not say why it cannot start"
keep_alive
# the restarts back off (1 s, 2 s, 4 s ...): no storm of restarts
_i=0
until grep -q "sandgate-proxy exited with status 1: restarting it in 4 s" "$SG_T/log"; do
	_i=$((_i + 1)); [ $_i -lt 600 ] || fail "the proxy's restarts do not back off"
	sleep 0.2
done
keep_alive
note "CA unreadable: $(grep -c "cannot open $SG_T/state/proxy/ca.key" "$SG_T/log") failed starts, backing off"
chmod 600 "$key"
_i=0
until [ "$(starts)" -gt "$s2" ]; do
	_i=$((_i + 1)); [ $_i -lt 600 ] || fail "the proxy did not come back"; sleep 0.2
done
keep_alive
note "CA readable again: the proxy is back as $(proxy_pid)"

# --- 3. state_dir full ---------------------------------------------------
dd if=/dev/zero of="$SG_T/state/filler" bs=1M 2>/dev/null
note "state_dir: $(df -k "$SG_T/state" | awk 'NR == 2 {print $4}') kB free"
before_ids=$(sg_sandbox_ids | wc -l)
out=$(sg_ssh sandbox@127.0.0.1 true 2>&1); st=$?
[ "$st" != 0 ] || fail "a sandbox started on a full disk"
note "with state_dir full the client is told: $(printf '%s' "$out" | head -n 2)"
printf '%s' "$out" | grep -qi "could not be started\|cannot\|space\|disk" ||
	fail "no reason given to the client: $out"
grep -qi "no space left on device" "$SG_T/log" || fail "the log does not say the disk is full"
keep_alive
# a snapshot of keep on the full disk: refused, keep paused and resumed
out=$(sg_ssh sandgate@127.0.0.1 snapshot keep full1 2>&1); st=$?
[ "$st" = 1 ] || fail "a snapshot on a full disk: status $st: $out"
printf '%s' "$out" | grep -q "snapshot full1 of keep failed: the gateway is out of disk space" ||
	fail "the snapshot's refusal: $out"
[ -z "$(ls -A "$SG_T/state/snapshots/t1" 2>/dev/null)" ] ||
	fail "left of the snapshot: $(ls -A "$SG_T/state/snapshots/t1")"
keep_alive
note "a snapshot on the full disk: $(printf '%s' "$out" | head -n 1)"
# a volume on the full disk: refused, nothing of it left
out=$(sg_ssh sandgate@127.0.0.1 volume create full2 64M 2>&1); st=$?
[ "$st" = 1 ] || fail "a volume on a full disk: status $st: $out"
printf '%s' "$out" | grep -q "volume full2 could not be made: the gateway is out of disk space" ||
	fail "the volume's refusal: $out"
[ -z "$(ls -A "$SG_T/state/volumes/t1" 2>/dev/null)" ] ||
	fail "left of the volume: $(ls -A "$SG_T/state/volumes/t1")"
sg_ssh sandgate@127.0.0.1 volume ls --json | grep -q '"volumes": \[\]' ||
	fail "volume ls after the refusal: $(sg_ssh sandgate@127.0.0.1 volume ls --json)"
note "a volume on the full disk: $(printf '%s' "$out" | head -n 1)"
# hibernating keep on the full disk: refused before its sessions end
out=$(sg_ssh sandgate@127.0.0.1 hibernate keep 2>&1); st=$?
[ "$st" = 1 ] || fail "hibernate on a full disk: status $st: $out"
printf '%s' "$out" | grep -q "sandbox keep cannot be hibernated: the gateway is out of disk space (.* MiB free, its memory takes up to .* MiB); it runs on" ||
	fail "the hibernation's refusal: $out"
keep_alive
note "hibernate on the full disk: $(printf '%s' "$out" | head -n 1)"
# nothing of the refused sandbox is left: the only sandbox dir and
# network record are keep's (waited for: the removal is a job)
only_keep() {
	[ "$(ls "$SG_T/state/sandboxes" | wc -l)" = 1 ] &&
	    [ "$(ls "$SG_T/state/net" | wc -l)" = 1 ]
}
sg_wait_for only_keep || fail "left in state_dir: $(ls "$SG_T/state/sandboxes" "$SG_T/state/net")"
[ "$(sg_domain_count)" = 1 ] || fail "$(sg_domain_count) domains running, want keep's only"
rm -f "$SG_T/state/filler"
out=$(sg_ssh sandbox@127.0.0.1 'echo fresh' 2>&1) || fail "no sandbox once space was free: $out"
[ "$out" = fresh ] || fail "fresh sandbox said: $out"
keep_alive
note "space freed: a new sandbox starts"

exec 8>&-
sg_wait_for grep -q '^status 0$' "$SG_T/keep.out" ||
	fail "keep's session did not end cleanly: $(tail -n 3 "$SG_T/keep.out")"
sg_no_crash
echo "PASS: faults"
