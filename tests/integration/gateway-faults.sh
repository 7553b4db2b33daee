#!/bin/sh
# Bad input and faults: authentication failures, the sandbox limit, a VM
# killed mid-session, a guest that never answers, an expired lifetime,
# libvirtd unreachable, and token changes while running.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
sg_setup "max_lifetime = 75s" "max_sandboxes = 1"

elapsed() { python3 -c 'import sys,time; print(int(time.time()*1000))'; }

note "wrong token: refused after a delay, slower when repeated, no VM"
t0=$(elapsed)
sg_ssh -T sg_wrongwrongwrong sandbox@127.0.0.1 true 2>"$SG_T/err"; st=$?
t1=$(elapsed)
sg_ssh -T sg_wrongwrongwrong sandbox@127.0.0.1 true 2>>"$SG_T/err"; st2=$?
t2=$(elapsed)
[ $st = 255 ] && [ $st2 = 255 ] || fail "wrong token status $st/$st2"
grep -q "Permission denied" "$SG_T/err" || fail "no permission denied: $(cat "$SG_T/err")"
note "first failure took $((t1 - t0)) ms, second $((t2 - t1)) ms"
[ $((t1 - t0)) -ge 900 ] || fail "first failure was not delayed"
[ $((t2 - t1)) -gt $((t1 - t0)) ] || fail "second failure was not slower"
[ -z "$(sg_sandbox_ids)" ] || fail "a VM was started for a failed login"

note "unknown public key: refused, no VM"
ssh-keygen -q -t ed25519 -N '' -f "$SG_T/id" >/dev/null
ssh -p "$SG_PORT" -i "$SG_T/id" -o IdentitiesOnly=yes -o BatchMode=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o LogLevel=ERROR sandbox@127.0.0.1 true 2>/dev/null; st=$?
[ $st = 255 ] || fail "unknown key status $st"
[ -z "$(sg_sandbox_ids)" ] || fail "a VM was started for an unknown key"

note "public key listed under the token: accepted"
printf 'authorized_key = %s\n' "$(cat "$SG_T/id.pub")" >>"$SG_T/tokens.conf"
sg_wait_for grep -q "tokens reloaded" "$SG_T/log" || fail "no reload"
# the monitor's answers, watched: the key query (before the signature)
# must not tell the unauthenticated worker the token's name
trace=
if command -v strace >/dev/null; then
	strace -e trace=sendmsg,sendto -e signal=none -xx -s 128 \
		-o "$SG_T/strace" -p "$SG_PID" 2>/dev/null &
	trace=$!
	SG_EXTRA_PIDS="$SG_EXTRA_PIDS $trace"
	sg_wait_for sh -c "grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/$SG_PID/status" ||
		fail "strace did not attach"
fi
out=$(ssh -p "$SG_PORT" -i "$SG_T/id" -o IdentitiesOnly=yes -o BatchMode=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o LogLevel=ERROR sandbox@127.0.0.1 'echo key-ok')
[ "$out" = key-ok ] || fail "public key login: '$out'"
if [ -n "$trace" ]; then
	kill "$trace"
	wait "$trace" 2>/dev/null
	# AUTH_RESULT: type 3, ok 1, u32 delay, then the name's u32 length
	ok=$(grep -o 'x03\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x[0-9a-f][0-9a-f]' \
		"$SG_T/strace" | sed 's/.*x//')
	[ "$(echo "$ok" | grep -c '^00$')" -ge 1 ] ||
		fail "no key query answered without a name: $ok"
	[ "$(echo "$ok" | grep -vc '^00$')" = 1 ] ||
		fail "the token's name sent more than once (only the login): $ok"
fi
# its sandbox goes when the monitor reaps the worker, which may be after
# the client exits: until then it counts against max_sandboxes
sg_wait_for sg_no_leftovers || fail "the key session's sandbox stayed"

note "the sandbox limit: a second concurrent sandbox is refused"
sg_ssh sandbox@127.0.0.1 'echo up; sleep 600' >"$SG_T/first" 2>&1 &
first=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $first"
sg_wait_for grep -q up "$SG_T/first" || fail "first session did not start"
sg_note_workers
sg_ssh sandbox@127.0.0.1 true 2>"$SG_T/err"; st=$?
[ $st = 255 ] || fail "over-limit status $st"
grep -q "sandbox could not be started: token t1 already has 1" "$SG_T/err" ||
	fail "over-limit message: $(cat "$SG_T/err")"

note "the VM killed mid-session: message and non-zero status"
id=$(sg_sandbox_ids | tail -n 1)
virsh -c qemu:///system destroy "sandgate-$id" >/dev/null
wait $first; st=$?
[ $st != 0 ] || fail "killed VM gave status 0"
grep -q "sandbox $id ended" "$SG_T/first" || fail "no message: $(cat "$SG_T/first")"
sg_wait_for sg_no_leftovers || fail "leftovers after the VM was killed"

note "a token created while running works at once; a revoked one stops"
tok2=$(sg_ctl token create t2) || fail "token create t2"
sg_wait_for grep -q "tokens reloaded.*2 tokens" "$SG_T/log" || fail "no reload"
sg_ctl token list | grep -q '^t2' || fail "token list lacks t2"
out=$(sg_ssh -T "$tok2" sandbox@127.0.0.1 'echo t2-ok') || fail "new token refused"
[ "$out" = t2-ok ] || fail "new token session: '$out'"
sg_wait_for sg_no_leftovers || fail "leftovers after the t2 session"
sg_ctl token revoke t2 || fail "revoke"
sg_wait_for grep -q "tokens reloaded.*1 tokens" "$SG_T/log" || fail "no reload"
sg_ssh -T "$tok2" sandbox@127.0.0.1 true 2>/dev/null; st=$?
[ $st = 255 ] || fail "revoked token still works"

note "SIGHUP re-reads the tokens file"
kill -HUP "$SG_PID"
sg_wait_for grep -q "tokens reloaded.*(SIGHUP)" "$SG_T/log" || fail "no reload on SIGHUP"

note "a broken tokens file keeps the previous tokens in force"
cp "$SG_T/tokens.conf" "$SG_T/tokens.good"
printf '[bad name!]\nhash = nope\n' >>"$SG_T/tokens.conf"
sg_wait_for grep -q "keeping the tokens loaded before" "$SG_T/log" ||
	fail "broken tokens file not reported"
grep "keeping the tokens" "$SG_T/log" | grep -q "tokens.conf:[0-9]" ||
	fail "the report does not name file and line"
cp "$SG_T/tokens.good" "$SG_T/tokens.conf"

note "lifetime: a warning on the terminal, then the end"
cat >"$SG_T/life.script" <<'EOF'
expect will be destroyed in
expect ended: the sandbox reached its maximum lifetime
wait-exit
EOF
sg_askpass "$SG_TOKEN"
t0=$(elapsed)
PTYDRIVE_TIMEOUT=120 \
python3 "$SG_SRCDIR/tests/integration/ptydrive.py" "$SG_T/life.script" -- \
	env SSH_ASKPASS="$SG_T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	ssh -tt -p "$SG_PORT" -o StrictHostKeyChecking=no \
	-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	-o PubkeyAuthentication=no sandbox@127.0.0.1 'sleep 600' >"$SG_T/life.out"
st=$?
[ $st = 255 ] || { cat "$SG_T/life.out"; fail "expiry status $st"; }
note "expired after $(( ($(elapsed) - t0) / 1000 )) s"
sg_wait_for sg_no_leftovers || fail "leftovers after expiry"

note "sandgated keeps serving: still listening"
kill -0 "$SG_PID" || fail "sandgated died"
grep -q '"event":"login_failed"' "$SG_T/audit.jsonl" || fail "no login_failed audit"

note "a second sandgated: not on the same state_dir, nor on the same table"
out=$("$SANDGATED" --foreground --config "$SG_T/sandgate.conf" 2>&1) &&
	fail "a second sandgated on the same state_dir started"
echo "$out" | grep -q "another sandgated (pid $SG_PID) uses state_dir" ||
	fail "second on the state_dir: $out"
mkdir -m 0700 "$SG_T/state2"
sed "s|^state_dir = .*|state_dir = $SG_T/state2|; s|^control_socket = .*|control_socket = $SG_T/control2.sock|" \
	"$SG_T/sandgate.conf" >"$SG_T/second.conf"
grep -q "^state_dir = $SG_T/state2" "$SG_T/second.conf" || fail "second.conf"
out=$("$SANDGATED" --foreground --config "$SG_T/second.conf" 2>&1) &&
	fail "a second sandgated on the same table started"
echo "$out" | grep -q "another sandgated (pid $SG_PID) uses \[network\] table" ||
	fail "second on the table: $out"

note "detached (no --foreground): the parent exits once the service listens"
kill -TERM "$SG_PID"
wait "$SG_PID" 2>/dev/null
SG_PID=
n=$(grep -c "listening on" "$SG_T/log")
"$SANDGATED" --config "$SG_T/sandgate.conf" >>"$SG_T/log" 2>&1 ||
	fail "detached start: status $?"
[ "$(grep -c "listening on" "$SG_T/log")" -gt "$n" ] ||
	fail "the parent exited before the service listened"
SG_PID=$(sed -n 1p "$SG_T/state/sandgated.lock")
[ "$(cat "/proc/$SG_PID/comm" 2>/dev/null)" = sandgated ] ||
	fail "the lock holds pid '$SG_PID', not the running sandgated"
sg_ctl list >/dev/null || fail "the detached sandgated does not answer"
out=$(sg_ssh sandbox@127.0.0.1 'echo detached-ok') || fail "a login to the detached sandgated"
[ "$out" = detached-ok ] || fail "detached: '$out'"
kill -TERM "$SG_PID"
sg_wait_for sh -c "! kill -0 $SG_PID 2>/dev/null" || fail "the detached sandgated did not stop"
SG_PID=
echo PASS
