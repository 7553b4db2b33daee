#!/bin/sh
# One sandbox, many session channels: the OpenSSH client's connection
# sharing (ControlMaster) keeps one SSH connection, hence one VM, for all
# the cases below; each `ssh -S` is a new session channel on it.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
sg_setup

ctl=$SG_T/mux
mux() { sg_ssh -S "$ctl" -o ControlMaster=no "$@"; }

note "master connection (boots one sandbox)"
sg_ssh -M -S "$ctl" -o ControlPersist=yes -f -N -E "$SG_T/master.log" -v \
	sandbox@127.0.0.1 || fail "master connection"
sg_note_workers

note "stdout only, nothing added on a session without a pty"
out=$(mux x 'echo hello' 2>"$SG_T/err") || fail "echo failed"
[ "$out" = hello ] || fail "stdout was '$out'"
[ ! -s "$SG_T/err" ] || fail "stderr not empty: $(cat "$SG_T/err")"

note "exit status"
mux x 'exit 7'; st=$?
[ $st = 7 ] || fail "exit 7 gave $st"

note "stdout and stderr arrive separately"
mux x 'echo out; echo err >&2' >"$SG_T/o" 2>"$SG_T/e"
[ "$(cat "$SG_T/o")" = out ] || fail "stdout: $(cat "$SG_T/o")"
[ "$(cat "$SG_T/e")" = err ] || fail "stderr: $(cat "$SG_T/e")"

note "a command killed by a signal is reported as exit-signal"
mux x 'kill -TERM $$'; st=$?
[ $st = 255 ] || fail "signal gave $st"
sg_wait_for grep -q "rtype exit-signal" "$SG_T/master.log" ||
	fail "no exit-signal seen by the client"


note "64 MiB of random bytes round-trip through cat"
head -c 64M /dev/urandom >"$SG_T/rand"
want=$(sha256sum <"$SG_T/rand" | cut -d' ' -f1)
got=$(mux x cat <"$SG_T/rand" | sha256sum | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "sha256 mismatch after cat"
rm -f "$SG_T/rand"

note "stdin EOF reaches the process"
out=$(printf 'a\nb\nc\n' | mux x 'wc -l')
[ "$(echo $out)" = 3 ] || fail "wc -l gave '$out'"

note "interactive shell with a pty: banner, prompt, stty size, resize"
cat >"$SG_T/pty.script" <<'EOF'
expect sandbox [0-9a-f]{12}, image minimal
send stty size\r
expect 24 80
resize 30 100
send stty size\r
expect 30 100
send exit 3\r
wait-exit
EOF
python3 "$SG_SRCDIR/tests/integration/ptydrive.py" "$SG_T/pty.script" -- \
	env SSH_ASKPASS="$SG_T/askpass" SSH_ASKPASS_REQUIRE=force \
	ssh -S "$ctl" -o ControlMaster=no -tt -p "$SG_PORT" x >"$SG_T/pty.out"
st=$?
[ $st = 3 ] || { cat "$SG_T/pty.out"; fail "pty session status $st"; }

note "flow control: a client that stops reading stops the writer"
worker=$(tail -n 1 "$SG_T/workers")
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$worker/status")
mkfifo "$SG_T/fifo"
mux x 'head -c 104857600 /dev/zero' >"$SG_T/fifo" &
reader_src=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $reader_src"
exec 3<"$SG_T/fifo"
sleep 8
rss1=$(awk '/VmRSS/ {print $2}' "/proc/$worker/status")
sleep 4
rss2=$(awk '/VmRSS/ {print $2}' "/proc/$worker/status")
note "worker RSS: $rss0 kB before, $rss1 kB then $rss2 kB with 100 MiB waiting"
# Unbounded buffering would grow by the 100 MiB the guest is trying to
# write; the windows on the way allow a few MiB (ASan adds its own).
[ $((rss2 - rss0)) -lt 32768 ] || fail "worker memory grew by $((rss2 - rss0)) kB"
[ $((rss2 - rss1)) -lt 4096 ] || fail "worker memory still growing: $rss1 -> $rss2 kB"
got=$(wc -c <&3)
exec 3<&-
wait $reader_src || fail "writer session failed"
[ "$got" = 104857600 ] || fail "reader got $got bytes, not 100 MiB"

note "environment from the client (a connection of its own: OpenSSH's"
note "multiplexing client does not pass SetEnv), and it cannot override ours"
note "and OpenSSH keepalives are answered (the client gives up otherwise)"
out=$(sg_ssh -o SetEnv="SG_TEST_VAR=xyz SANDGATE_SANDBOX_ID=evil" \
	-o ServerAliveInterval=1 -o ServerAliveCountMax=2 \
	sandbox@127.0.0.1 'sleep 5; echo $SG_TEST_VAR $SANDGATE_SANDBOX_ID')
case $out in
"xyz evil"|"xyz ") fail "env: '$out'" ;;
"xyz "[0-9a-f]*) ;;
*) fail "env: '$out'" ;;
esac

note "closing the connection destroys the sandbox"
sg_ssh -S "$ctl" -O exit x 2>/dev/null
sg_wait_for sg_no_leftovers || fail "sandbox left behind after disconnect"
sg_wait_for grep -q '"event":"sandbox_destroyed"' "$SG_T/audit.jsonl" || fail "no audit event"
grep -q '"event":"login"' "$SG_T/audit.jsonl" || fail "no login audit event"
echo "PASS"
