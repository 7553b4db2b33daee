#!/bin/sh
# Start-up and restart: malformed config and tokens files, a restart that
# adopts a running sandbox, libvirt unreachable, a guest that never
# answers, sandgatectl list/extend/kill.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
sg_setup

mkfifo "$SG_T/fifo"

note "malformed config: refuses to start, names file, line and key"
bad=$SG_T/bad.conf
printf '[sandbox]\nvcpus = 2\nmemory_mb = 99999\n' >"$bad"
"$SANDGATED" --foreground --config "$bad" 2>"$SG_T/err"; st=$?
[ $st != 0 ] || fail "started with a bad config"
grep -q "bad.conf:3.*memory_mb" "$SG_T/err" || fail "message: $(cat "$SG_T/err")"

note "malformed tokens file: refuses to start, names file, line and key"
sed "s|tokens = .*|tokens = $SG_T/badtokens|" "$SG_T/sandgate.conf" >"$SG_T/c2.conf"
printf '[ok]\nhash = sha256:abc\n' >"$SG_T/badtokens"
"$SANDGATED" --foreground --config "$SG_T/c2.conf" 2>"$SG_T/err"; st=$?
[ $st != 0 ] || fail "started with a bad tokens file"
grep -q "badtokens:2.*hash" "$SG_T/err" || fail "message: $(cat "$SG_T/err")"

note "a session and a named sandbox; sandgated is killed and restarted:"
note "both sandboxes are adopted, with their shims"
sg_ssh keep@127.0.0.1 true || fail "named sandbox"
sg_ssh sandbox@127.0.0.1 'echo up; read line; echo "got $line"; exit 7' \
	<"$SG_T/fifo" >"$SG_T/s1" 2>&1 &
s1=$!
exec 9>"$SG_T/fifo"
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $s1"
sg_wait_for grep -q up "$SG_T/s1" || fail "session did not start"
sg_note_workers
keep=$(sg_sandbox_ids | sed -n 1p)
id=$(sg_sandbox_ids | sed -n 2p)
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null
sg_start
sg_wait_for grep -q "sandbox $id adopted" "$SG_T/log" || fail "not adopted"
sg_wait_for grep -q "sandbox $keep adopted" "$SG_T/log" || fail "named not adopted"
grep -q "sandbox $id: shim adopted" "$SG_T/log" || fail "its shim was not adopted"

note "the session goes on through its shim: its input, output and exit"
note "status get through; then its sandbox, which belonged to that"
note "connection, is destroyed"
echo hello >&9
exec 9>&-
wait $s1; st=$?
[ $st = 7 ] || fail "session status $st after the restart: $(cat "$SG_T/s1")"
grep -q "got hello" "$SG_T/s1" || fail "output: $(cat "$SG_T/s1")"
sg_wait_for sh -c "grep -q 'sandbox $id destroyed' '$SG_T/log'" ||
	fail "adopted sandbox not destroyed after its connection ended"

note "sandgatectl list and extend on the adopted named sandbox"
sg_ctl list >"$SG_T/list" || fail "sandgatectl list"
grep -q "^$keep .*keep .*idle" "$SG_T/list" || fail "list: $(cat "$SG_T/list")"
sg_ctl extend "$keep" 10m || fail "extend"
# its lifetime moved (LEFT is its idle end: it is idle)
sg_ctl info "$keep" --json | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["ends_in"] > 2000 else 1)' || fail "not extended"
sg_ctl extend nosuchid 10m 2>"$SG_T/err" && fail "extend of an unknown id worked"
grep -q "no sandbox nosuchid" "$SG_T/err" || fail "extend error: $(cat "$SG_T/err")"
sg_ctl kill "$keep" || fail "kill the named sandbox"
sg_wait_for sg_no_leftovers || fail "leftovers after kill"

note "sandgatectl kill ends a session with a message"
sg_ssh sandbox@127.0.0.1 'echo up; sleep 600' >"$SG_T/s2" 2>&1 &
s2=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $s2"
sg_wait_for grep -q up "$SG_T/s2" || fail "session did not start"
sg_note_workers
id=$(sg_sandbox_ids | tail -n 1)
sg_ctl kill "$id" || fail "kill"
wait $s2; st=$?
[ $st = 255 ] || fail "killed session status $st"
grep -q "destroyed by an administrator" "$SG_T/s2" || fail "kill message: $(cat "$SG_T/s2")"
sg_wait_for sg_no_leftovers || fail "leftovers after kill"

note "a guest that does not answer in time: clear error, status 255, nothing left"
kill "$SG_PID"; wait "$SG_PID" 2>/dev/null
printf 'boot_timeout = 1s\n' >>"$SG_T/sandgate.conf"
sg_start
sg_ssh sandbox@127.0.0.1 true 2>"$SG_T/err"; st=$?
[ $st = 255 ] || fail "boot timeout status $st"
grep -q "sandbox could not be started: the guest agent did not answer" "$SG_T/err" ||
	fail "boot timeout message: $(cat "$SG_T/err")"
sg_wait_for sg_no_leftovers || fail "leftovers after a boot timeout"

note "libvirtd unreachable: clear error, status 255, sandgated keeps serving"
kill "$SG_PID"; wait "$SG_PID" 2>/dev/null
sed -i 's|^uri = .*|uri = qemu+unix:///system?socket=/nonexistent/libvirt-sock|' \
	"$SG_T/sandgate.conf"
sg_start
for i in 1 2; do
	sg_ssh sandbox@127.0.0.1 true 2>"$SG_T/err"; st=$?
	[ $st = 255 ] || fail "libvirt down status $st"
	grep -q "sandbox could not be started: the gateway cannot reach libvirt yet" "$SG_T/err" ||
		fail "libvirt down message: $(cat "$SG_T/err")"
	# the host's details (its URI, what to fix) are the log's alone
	! grep -q "nonexistent" "$SG_T/err" || fail "the client got host details: $(cat "$SG_T/err")"
done
grep -q "cannot connect to libvirt at qemu+unix:///system?socket=/nonexistent" "$SG_T/log" ||
	fail "the log lacks libvirt's details"
kill -0 "$SG_PID" || fail "sandgated died"
echo PASS
