#!/bin/sh
# Port forwarding: ssh -L and ssh -D reach a server listening on the
# guest's loopback through direct-tcpip channels; nothing listening fails
# at once; ssh -R is refused cleanly.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v curl >/dev/null || skip "no curl"
sg_setup

note "a web server on the guest's loopback (busybox httpd) in named sandbox fwd"
out=$(sg_ssh fwd@127.0.0.1 'mkdir -p /root/www && echo forwarded-ok >/root/www/t.txt &&
	{ setsid httpd -f -p 127.0.0.1:8080 -h /root/www </dev/null >/dev/null 2>&1 & } &&
	i=0; until wget -q -O - http://127.0.0.1:8080/t.txt 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done')
[ "$out" = forwarded-ok ] || fail "could not start the guest's server: '$out'"

lport=$(sg_free_port)
dport=$(sg_free_port)
note "ssh -L $lport:127.0.0.1:8080 and ssh -D $dport on one connection"
sg_ssh -N -L "$lport:127.0.0.1:8080" -D "$dport" -o ExitOnForwardFailure=yes \
	fwd@127.0.0.1 2>"$SG_T/fwd.err" &
fwd=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $fwd"
sg_wait_for curl -s --max-time 10 -o /dev/null "http://127.0.0.1:$lport/" || fail "no -L listener: $(cat "$SG_T/fwd.err")"

out=$(curl -s --max-time 20 "http://127.0.0.1:$lport/t.txt")
[ "$out" = forwarded-ok ] || fail "ssh -L gave '$out'"
out=$(curl -s --max-time 20 --socks5-hostname "127.0.0.1:$dport" "http://127.0.0.1:8080/t.txt")
[ "$out" = forwarded-ok ] || fail "ssh -D gave '$out'"
out=$(curl -s --max-time 20 --socks5-hostname "127.0.0.1:$dport" "http://localhost:8080/t.txt")
[ "$out" = forwarded-ok ] || fail "ssh -D by name gave '$out'"

note "many forwarded connections in a row"
n=0
while [ $n -lt 20 ]; do
	out=$(curl -s --max-time 20 "http://127.0.0.1:$lport/t.txt")
	[ "$out" = forwarded-ok ] || fail "request $n gave '$out'"
	n=$((n + 1))
done

note "nothing listening: the forwarded connection fails at once"
t0=$(date +%s)
curl -s --max-time 20 --socks5-hostname "127.0.0.1:$dport" "http://127.0.0.1:8099/" \
	>/dev/null 2>&1 && fail "a closed port answered"
t1=$(date +%s)
[ $((t1 - t0)) -lt 10 ] || fail "a closed port took $((t1 - t0)) s to fail"
sg_kill_job $fwd

note "ssh -R is refused cleanly"
sg_ssh -N -R 127.0.0.1:9999:127.0.0.1:22 -o ExitOnForwardFailure=yes \
	fwd@127.0.0.1 2>"$SG_T/r.err"; st=$?
[ $st = 255 ] || fail "ssh -R status $st"
grep -qi "remote port forwarding failed" "$SG_T/r.err" || fail "ssh -R: $(cat "$SG_T/r.err")"

note "sftp against an image without sftp-server: a clear error, not a hang"
# sftp -b is batch mode (no password prompts): log in with a key.
ssh-keygen -q -t ed25519 -N '' -f "$SG_T/id" >/dev/null
printf 'authorized_key = %s\n' "$(cat "$SG_T/id.pub")" >>"$SG_T/tokens.conf"
sg_wait_for grep -q "tokens reloaded" "$SG_T/log" || fail "no reload"
echo 'ls' >"$SG_T/batch"
timeout 60 sftp -P "$SG_PORT" -i "$SG_T/id" -o IdentitiesOnly=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o LogLevel=ERROR -b "$SG_T/batch" \
	fwd@127.0.0.1 >"$SG_T/sftp.out" 2>&1; st=$?
[ $st != 0 ] && [ $st != 124 ] || fail "sftp status $st"
grep -q "no sftp-server" "$SG_T/sftp.out" || fail "sftp said: $(cat "$SG_T/sftp.out")"
echo PASS
