#!/bin/sh
# The `default` image used like a remote machine, with real OpenSSH clients,
# all in one named sandbox (one boot):
#   - a VS Code-like flow: `ssh -T -D PORT dev@host bash` fed a script on
#     stdin that writes a file, starts a server on 127.0.0.1 and prints a
#     key==value== marker; a second connection uploads with scp; a third
#     reaches the server through the first one's SOCKS port;
#   - scp of 100 MiB in SFTP mode and with -O (legacy protocol over exec),
#     both ways, SHA-256 compared;
#   - an sftp -b batch: mkdir, put, get, rename, chmod, ls, rm;
#   - ssh -L to `python3 -m http.server` fetched with curl;
#   - the root filesystem spans the sandbox's disk (disk_gb), not the
#     image's 2 GiB.
# Skipped when the default image is not built (make image-default).
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v curl >/dev/null || skip "no curl"
command -v scp >/dev/null && command -v sftp >/dev/null || skip "no scp/sftp"
[ -f "$SG_IMAGE_DIR/default/image.conf" ] ||
	skip "no default image in $SG_IMAGE_DIR (make image-default)"
SG_TEST_IMAGE=default SG_TEST_MEMORY=1024
sg_setup "disk_gb = 6"

# scp and sftp -b log in with a key listed under the token, as VS Code
# and scripts do.
ssh-keygen -q -t ed25519 -N '' -f "$SG_T/id" >/dev/null
printf 'authorized_key = %s\n' "$(cat "$SG_T/id.pub")" >>"$SG_T/tokens.conf"
sg_wait_for grep -q "tokens reloaded" "$SG_T/log" || fail "no reload of the tokens file"
kopts="-i $SG_T/id -o IdentitiesOnly=yes -o StrictHostKeyChecking=no
	-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes
	-o ConnectTimeout=60"
# shellcheck disable=SC2086
kssh() { ssh -p "$SG_PORT" $kopts "$@"; }
# shellcheck disable=SC2086
kscp() { scp -P "$SG_PORT" $kopts "$@"; }
# shellcheck disable=SC2086
ksftp() { sftp -P "$SG_PORT" $kopts "$@"; }

note "VS Code-like: ssh -T -D PORT dev@host bash, the script fed on stdin"
socks=$(sg_free_port)
cat >"$SG_T/install.sh" <<'EOF'
set -e
mkdir -p /root/srv
echo served-by-vscode-like-server >/root/srv/hello.txt
cd /root/srv
setsid python3 -m http.server --bind 127.0.0.1 8000 </dev/null >/root/srv.log 2>&1 &
i=0
until python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8000), 1)' 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "start==failed=="; exit 1; }; sleep 0.2
done
echo "listeningOn==8000=="
echo "osReleaseId==$(. /etc/os-release; echo "$ID")=="
EOF
mkfifo "$SG_T/stdin"
kssh -T -D "127.0.0.1:$socks" -o ExitOnForwardFailure=yes dev@127.0.0.1 bash \
	<"$SG_T/stdin" >"$SG_T/vscode.out" 2>"$SG_T/vscode.err" &
vsc=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $vsc"
# keep bash's stdin open, as VS Code does, after the script
{ cat "$SG_T/install.sh"; sleep 600; } >"$SG_T/stdin" &
feeder=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $feeder"
i=0
until grep -q '^osReleaseId==' "$SG_T/vscode.out" 2>/dev/null; do
	kill -0 $vsc 2>/dev/null || fail "ssh -T bash exited: $(cat "$SG_T/vscode.err")"
	i=$((i + 1))
	[ $i -lt 900 ] || fail "no marker after 180 s: $(cat "$SG_T/vscode.out")"
	sleep 0.2
done
first=$(head -n 1 "$SG_T/vscode.out")
[ "$first" = "listeningOn==8000==" ] || fail "output before the script's own: '$first'"
grep -qx 'osReleaseId==debian==' "$SG_T/vscode.out" || fail "marker: $(cat "$SG_T/vscode.out")"

note "a second connection uploads with scp (SFTP mode) while the first stays"
head -c 1048576 /dev/urandom >"$SG_T/small"
kscp -q "$SG_T/small" dev@127.0.0.1:/root/srv/upload.bin || fail "scp upload"
a=$(sha256sum <"$SG_T/small" | cut -d' ' -f1)
b=$(kssh dev@127.0.0.1 'sha256sum </root/srv/upload.bin' | cut -d' ' -f1)
[ "$a" = "$b" ] || fail "uploaded file differs: $a vs $b"

note "a third connection reaches the server through the SOCKS port"
out=$(curl -s --max-time 30 --socks5-hostname "127.0.0.1:$socks" http://127.0.0.1:8000/hello.txt)
[ "$out" = served-by-vscode-like-server ] || fail "through -D: '$out'"
out=$(curl -s --max-time 30 --socks5-hostname "127.0.0.1:$socks" http://localhost:8000/upload.bin | sha256sum | cut -d' ' -f1)
[ "$out" = "$a" ] || fail "the upload through -D differs"

note "ssh -L to python3 -m http.server, fetched with curl"
lport=$(sg_free_port)
kssh -N -L "127.0.0.1:$lport:127.0.0.1:8000" -o ExitOnForwardFailure=yes \
	dev@127.0.0.1 2>"$SG_T/L.err" &
lj=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $lj"
sg_wait_for curl -s --max-time 10 -o /dev/null "http://127.0.0.1:$lport/" ||
	fail "no -L listener: $(cat "$SG_T/L.err")"
out=$(curl -s --max-time 30 "http://127.0.0.1:$lport/hello.txt")
[ "$out" = served-by-vscode-like-server ] || fail "through -L: '$out'"
sg_kill_job $lj

note "scp 100 MiB up and back, SFTP mode and -O, SHA-256 compared"
head -c 104857600 /dev/urandom >"$SG_T/big"
sum=$(sha256sum <"$SG_T/big" | cut -d' ' -f1)
for mode in sftp legacy; do
	flag=; [ $mode = legacy ] && flag=-O
	t0=$(date +%s)
	# shellcheck disable=SC2086
	kscp -q $flag "$SG_T/big" "dev@127.0.0.1:/root/big.$mode" || fail "scp $mode upload"
	t1=$(date +%s)
	gsum=$(kssh dev@127.0.0.1 "sha256sum </root/big.$mode" | cut -d' ' -f1)
	[ "$gsum" = "$sum" ] || fail "scp $mode upload: guest has $gsum, want $sum"
	rm -f "$SG_T/back"
	# shellcheck disable=SC2086
	kscp -q $flag "dev@127.0.0.1:/root/big.$mode" "$SG_T/back" || fail "scp $mode download"
	t2=$(date +%s)
	bsum=$(sha256sum <"$SG_T/back" | cut -d' ' -f1)
	[ "$bsum" = "$sum" ] || fail "scp $mode download: got $bsum, want $sum"
	note "scp $mode: up $((t1 - t0)) s, down $((t2 - t1)) s"
done
kssh dev@127.0.0.1 'rm -f /root/big.sftp /root/big.legacy' || fail "rm"

note "sftp -b batch: mkdir, put, get, rename, chmod, ls, rm"
cat >"$SG_T/batch" <<EOF
mkdir /root/batch
cd /root/batch
put $SG_T/small one.bin
get one.bin $SG_T/got.bin
rename one.bin two.bin
chmod 600 two.bin
ls -l
rm two.bin
rmdir /root/batch
EOF
ksftp -b "$SG_T/batch" dev@127.0.0.1 >"$SG_T/sftp.out" 2>&1 ||
	fail "sftp -b: $(cat "$SG_T/sftp.out")"
cmp -s "$SG_T/small" "$SG_T/got.bin" || fail "sftp get gave a different file"
grep -q -- '-rw-------.* two.bin' "$SG_T/sftp.out" ||
	fail "ls after rename and chmod: $(cat "$SG_T/sftp.out")"
kssh dev@127.0.0.1 'test ! -e /root/batch' || fail "the batch left /root/batch"

note "the root filesystem spans the sandbox's disk"
kb=$(kssh dev@127.0.0.1 "df -k / | awk 'NR==2 {print \$2}'")
[ "${kb:-0}" -gt 5000000 ] || fail "/ has $kb KiB, want about 6 GiB"

note "the first connection is still up"
kill -0 $vsc 2>/dev/null || fail "the VS Code-like connection ended"
sg_kill_job $feeder
sg_kill_job $vsc
echo PASS
