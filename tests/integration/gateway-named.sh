#!/bin/sh
# Named sandboxes: created on first use, shared by concurrent connections
# of one token, kept across disconnects and gateway or shim restarts (files
# and detached processes included), separate per token, destroyed after
# their idle timeout.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
sg_setup "idle_timeout = 10m"

note "first use creates box1; a detached process and a file are left in it"
out=$(sg_ssh box1@127.0.0.1 'echo data >/root/f; setsid sleep 999 </dev/null >/dev/null 2>&1 & hostname')
case $out in sandbox-[0-9a-f]*) ;; *) fail "hostname: '$out'" ;; esac
host1=$out

note "two concurrent connections share it"
sg_ssh box1@127.0.0.1 'echo a; i=0; while [ ! -s /root/g ] && [ $i -lt 300 ]; do
	sleep 0.1; i=$((i + 1)); done; cat /root/g' >"$SG_T/c1" 2>&1 &
c1=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $c1"
sg_wait_for grep -q '^a$' "$SG_T/c1" || fail "first concurrent session"
out=$(sg_ssh box1@127.0.0.1 'echo shared >/root/g; hostname')
[ "$out" = "$host1" ] || fail "second connection landed in '$out', not '$host1'"
wait $c1 || fail "first concurrent session failed"
grep -q '^shared$' "$SG_T/c1" || fail "not shared: $(cat "$SG_T/c1")"

note "another token's box1 is another sandbox"
tok2=$(sg_ctl token create t2) || fail "token create t2"
sg_wait_for grep -q "tokens reloaded.*2 tokens" "$SG_T/log" || fail "no reload"
out=$(sg_ssh -T "$tok2" box1@127.0.0.1 'hostname; cat /root/f 2>&1 || true')
echo "$out" | grep -q "$host1" && fail "token t2 reached token t1's box1"
echo "$out" | grep -q '^data$' && fail "token t2 read token t1's file"
id2=$(echo "$out" | sed -n 's/^sandbox-//p')
sg_ctl kill "$id2" || fail "kill t2's box1"

note "sandgated killed and restarted: box1 is adopted with its files and processes"
kill -9 "$SG_PID"; wait "$SG_PID" 2>/dev/null
sg_start
id=$(echo "$host1" | sed 's/^sandbox-//')
sg_wait_for grep -q "sandbox $id adopted" "$SG_T/log" || fail "not adopted"
out=$(sg_ssh box1@127.0.0.1 'hostname; cat /root/f; ps -o args | grep -c "^sleep 999"')
[ "$(echo "$out" | sed -n 1p)" = "$host1" ] || fail "reconnect landed elsewhere: $out"
[ "$(echo "$out" | sed -n 2p)" = data ] || fail "file lost: $out"
[ "$(echo "$out" | sed -n 3p)" = 1 ] || fail "detached process lost: $out"

note "its shim crashes: the monitor starts another, box1 lives on"
shim=$(sed -n "s/.*sandbox $id: shim started (pid \([0-9]*\).*/\1/p" "$SG_T/log" | tail -n 1)
[ -n "$shim" ] || fail "no shim pid in the log"
kill -9 "$shim"
sg_wait_for sh -c "[ \$(grep -c 'sandbox $id: shim started' '$SG_T/log') -ge 2 ]" ||
	fail "shim not restarted"
out=$(sg_ssh box1@127.0.0.1 'hostname; cat /root/f')
[ "$out" = "$host1
data" ] || fail "after the shim restart: '$out'"

note "idle_timeout after the last connection destroys it (token's own: 5s)"
# The ssh client can exit before its worker has; the monitor counts the
# connection gone when the worker is reaped.
box1_idle() { sg_ctl list | grep -q "box1 .*idle"; }
sg_wait_for box1_idle || fail "list: $(sg_ctl list)"
sed -i '/^\[t1\]/a idle_timeout = 5s' "$SG_T/tokens.conf"
sg_wait_for sh -c "[ \$(grep -c 'tokens reloaded' '$SG_T/log') -ge 2 ]" || fail "no reload"
sg_wait_for sh -c "grep -q 'sandbox $id destroyed (idle_timeout)' '$SG_T/log'" ||
	fail "box1 not destroyed after its idle timeout"
sg_wait_for sg_no_leftovers || fail "leftovers after the idle timeout"
echo PASS
