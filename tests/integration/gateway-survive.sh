#!/bin/sh
# Sessions outlive sandgated, and a fault ends only what it hits:
#   - sandgated killed (-9), then stopped (SIGTERM) and started again while
#     sessions run: a running command finishes and its output and exit
#     status reach the client, an interactive shell stays usable, a port
#     forward stays open;
#   - one shim killed: only its sandbox's sessions end (a message, 255);
#   - one worker killed: only its connection ends;
#   - a guest that floods its shim (DNS queries, output) slows only itself;
#   - libvirtd restarted: sessions go on, new sandboxes start;
#   - nothing is left behind once the sandboxes end.
# Three boots of the minimal image (keep, s1, flood) and one after the
# libvirtd restart.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v curl >/dev/null || skip "no curl"
sg_setup "idle_timeout = 10m"
mkfifo "$SG_T/fifo1" "$SG_T/fifo2"

note "named sandbox keep: a web server on its loopback, a forward to it"
out=$(sg_ssh keep@127.0.0.1 'mkdir -p /root/www && echo forwarded-ok >/root/www/t.txt &&
	{ setsid httpd -f -p 127.0.0.1:8080 -h /root/www </dev/null >/dev/null 2>&1 & } &&
	i=0; until wget -q -O - http://127.0.0.1:8080/t.txt 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done')
[ "$out" = forwarded-ok ] || fail "could not start the guest's server: '$out'"
keep=$(sg_sandbox_ids | sed -n 1p)
lport=$(sg_free_port)
sg_ssh -N -L "$lport:127.0.0.1:8080" -o ExitOnForwardFailure=yes \
	keep@127.0.0.1 2>"$SG_T/fwd.err" &
fwd=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $fwd"
sg_wait_for curl -s --max-time 10 -o /dev/null "http://127.0.0.1:$lport/" ||
	fail "no -L listener: $(cat "$SG_T/fwd.err")"

note "an interactive shell in keep, through a pty"
cat >"$SG_T/pty.script" <<EOF
expect sandbox [0-9a-f]{12}, image minimal
send echo before-\$((6*7))\\r
expect before-42
waitfile $SG_T/go1
send echo after-kill-\$((6*7))\\r
expect after-kill-42
waitfile $SG_T/go2
send echo after-term-\$((6*7))\\r
expect after-term-42
send exit 5\\r
wait-exit
EOF
sg_askpass "$SG_TOKEN"
PTYDRIVE_TIMEOUT=60 python3 "$SG_SRCDIR/tests/integration/ptydrive.py" \
	"$SG_T/pty.script" -- env SSH_ASKPASS="$SG_T/askpass" \
	SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh -tt -p "$SG_PORT" \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o LogLevel=ERROR -o PubkeyAuthentication=no keep@127.0.0.1 \
	>"$SG_T/pty.out" 2>&1 &
pty=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $pty"
sg_wait_for grep -q before-42 "$SG_T/pty.out" || fail "pty: $(cat "$SG_T/pty.out")"

note "a command in a fresh sandbox (s1), waiting for its input"
sg_ssh sandbox@127.0.0.1 'echo up; read line; echo "got $line"; exit 7' \
	<"$SG_T/fifo1" >"$SG_T/s1" 2>&1 &
s1=$!
exec 8>"$SG_T/fifo1"
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $s1"
sg_wait_for grep -q up "$SG_T/s1" || fail "s1 did not start: $(cat "$SG_T/s1")"
s1id=$(sg_sandbox_ids | sed -n 2p)
sg_note_workers

note "sandgated killed (-9) and started again"
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null
sg_start
sg_wait_for grep -q "sandbox $s1id: shim adopted" "$SG_T/log" || fail "s1's shim not adopted"
sg_wait_for grep -q "sandbox $keep: shim adopted" "$SG_T/log" || fail "keep's shim not adopted"
echo hello >&8
exec 8>&-
wait $s1; st=$?
[ $st = 7 ] || fail "s1: status $st after the restart: $(cat "$SG_T/s1")"
grep -q "got hello" "$SG_T/s1" || fail "s1 output: $(cat "$SG_T/s1")"
touch "$SG_T/go1"
sg_wait_for grep -q after-kill-42 "$SG_T/pty.out" || fail "pty after kill: $(cat "$SG_T/pty.out")"
out=$(curl -s --max-time 20 "http://127.0.0.1:$lport/t.txt")
[ "$out" = forwarded-ok ] || fail "the forward after kill -9 gave '$out'"
sg_wait_for sh -c "grep -q 'sandbox $s1id destroyed' '$SG_T/log'" ||
	fail "s1 not destroyed after its connection ended"

note "sandgated stopped (SIGTERM) and started again, as for an upgrade"
sg_ssh keep@127.0.0.1 'echo up; read line; echo "got $line"; exit 3' \
	<"$SG_T/fifo2" >"$SG_T/s2" 2>&1 &
s2=$!
exec 8>"$SG_T/fifo2"
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $s2"
sg_wait_for grep -q up "$SG_T/s2" || fail "s2 did not start: $(cat "$SG_T/s2")"
sg_note_workers
kill -TERM "$SG_PID"
wait "$SG_PID"; st=$?
[ $st = 0 ] || fail "sandgated exit status $st on SIGTERM"
sg_start
echo again >&8
exec 8>&-
wait $s2; st=$?
[ $st = 3 ] || fail "s2: status $st after SIGTERM: $(cat "$SG_T/s2")"
grep -q "got again" "$SG_T/s2" || fail "s2 output: $(cat "$SG_T/s2")"
touch "$SG_T/go2"
wait $pty; st=$?
[ $st = 5 ] || fail "pty session status $st: $(cat "$SG_T/pty.out")"
grep -q after-term-42 "$SG_T/pty.out" || fail "pty: $(cat "$SG_T/pty.out")"
out=$(curl -s --max-time 20 "http://127.0.0.1:$lport/t.txt")
[ "$out" = forwarded-ok ] || fail "the forward after SIGTERM gave '$out'"

note "a guest floods its shim (DNS queries, output it cannot send) and"
note "the monitor, the other sandbox and its DNS answer all the while"
# its output goes to a fifo this script reads 3 bytes of, then no more
mkfifo "$SG_T/flood.fifo"
sg_ssh sandbox@127.0.0.1 'dns=$(sed -n "s/^nameserver //p" /etc/resolv.conf)
	for i in 1 2 3 4; do
		( while :; do nslookup flood$i.invalid "$dns" >/dev/null 2>&1; done ) &
	done
	cat /dev/zero' 2>"$SG_T/flood.err" >"$SG_T/flood.fifo" &
flood=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $flood"
exec 9<"$SG_T/flood.fifo"
dd bs=1 count=3 <&9 >"$SG_T/flood" 2>/dev/null
[ -s "$SG_T/flood" ] || fail "the flood did not start: $(cat "$SG_T/flood.err")"
floodid=$(sg_sandbox_ids | tail -n 1)
sg_wait_for grep -q "dns_refused.*$floodid" "$SG_T/audit.jsonl" || fail "no flood seen"
i=0
while [ $i -lt 5 ]; do
	sg_ctl list | grep -q "^$keep " || fail "list during the flood"
	out=$(sg_ssh keep@127.0.0.1 'hostname; nslookup localhost.invalid $(sed -n "s/^nameserver //p" /etc/resolv.conf) >/dev/null 2>&1; echo dns-$?')
	echo "$out" | grep -q "^dns-" || fail "keep during the flood: '$out'"
	i=$((i + 1))
done

note "the flooding sandbox's shim is killed: only its session ends"
shim=$(sed -n "s/.*sandbox $floodid: shim started (pid \([0-9]*\).*/\1/p" "$SG_T/log" | tail -n 1)
[ -n "$shim" ] || fail "no shim pid for $floodid"
kill -9 "$shim"
# the client reads again: what was on its way comes, then the message
cat <&9 >/dev/null &
exec 9<&-
wait $flood; st=$?
[ $st = 255 ] || fail "the flood session: status $st after its shim was killed"
grep -q "sandgate: sandbox $floodid ended: " "$SG_T/flood.err" ||
	fail "no message for the flood session: $(cat "$SG_T/flood.err")"
sg_wait_for sh -c "grep -q 'sandbox $floodid destroyed' '$SG_T/log'" ||
	fail "the flood sandbox not destroyed with its shim"
out=$(curl -s --max-time 20 "http://127.0.0.1:$lport/t.txt")
[ "$out" = forwarded-ok ] || fail "the forward after a shim kill gave '$out'"

note "one worker is killed: only its connection ends"
sg_ssh keep@127.0.0.1 'echo up; sleep 600' >"$SG_T/s3" 2>&1 &
s3=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $s3"
sg_wait_for grep -q up "$SG_T/s3" || fail "s3 did not start"
sg_note_workers
w=$(tail -n 1 "$SG_T/workers")
kill -9 "$w"
wait $s3; st=$?
[ $st = 255 ] || fail "s3: status $st after its worker was killed"
out=$(curl -s --max-time 20 "http://127.0.0.1:$lport/t.txt")
[ "$out" = forwarded-ok ] || fail "the forward after a worker kill gave '$out'"

note "libvirtd restarted while sessions run; a new sandbox starts after"
sg_ssh keep@127.0.0.1 'echo up; read line; echo "got $line"; exit 4' \
	<"$SG_T/fifo1" >"$SG_T/s4" 2>&1 &
s4=$!
exec 8>"$SG_T/fifo1"
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $s4"
sg_wait_for grep -q up "$SG_T/s4" || fail "s4 did not start"
sg_restart_libvirtd
echo libvirt >&8
exec 8>&-
wait $s4; st=$?
[ $st = 4 ] || fail "s4: status $st across the libvirtd restart: $(cat "$SG_T/s4")"
out=$(sg_ssh sandbox@127.0.0.1 'echo fresh')
[ "$out" = fresh ] || fail "a new sandbox after the libvirtd restart: '$out'"
out=$(curl -s --max-time 20 "http://127.0.0.1:$lport/t.txt")
[ "$out" = forwarded-ok ] || fail "the forward after the libvirtd restart gave '$out'"

note "the end: nothing left behind"
sg_kill_job "$fwd"
sg_ctl kill "$keep" || fail "kill keep"
sg_wait_for sg_no_leftovers || fail "leftovers: $(sg_ctl list)"
for p in $(sg_helper_pids); do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = sandgate-shim ] && fail "shim $p left"
done
if grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$SG_T/log"; then
	fail "sanitizer reports in the log"
fi
echo PASS
