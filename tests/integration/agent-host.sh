#!/bin/sh
# agent-host: runs sandgate-agent as an ordinary process (not PID 1) on a
# unix socket and drives it with sgprobe: output, exit codes, signals,
# stderr, 64 MiB through cat, a pty, many channels, TCP, resync after
# garbage, and flow control against a stopped reader.
# Exit 77 (skip) when a binary or tool is missing.
set -u

AGENT=${SANDGATE_AGENT:-${SG_BUILDDIR:-.}/agent/sandgate-agent}
PROBE=${SGPROBE:-${SG_BUILDDIR:-.}/tests/tools/sgprobe}
for b in "$AGENT" "$PROBE"; do
	if [ ! -x "$b" ]; then
		echo "skip: $b is not built (run make first)"
		exit 77
	fi
done
for t in sha256sum head awk mktemp; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "skip: $t is missing"
		exit 77
	fi
done

dir=$(mktemp -d /tmp/sg-agent-host.XXXXXX) || exit 99
sock=$dir/agent.sock
pids=""
cleanup() {
	for p in $pids; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$AGENT" --listen-unix "$sock" 2>"$dir/agent.log" &
apid=$!
pids="$apid"

fail=0
check() {
	if [ "$2" = "$3" ]; then
		echo "ok: $1"
	else
		echo "FAIL: $1: wanted [$2], got [$3]"
		fail=1
	fi
}
probe() {
	"$PROBE" --socket "$sock" --timeout 10 "$@"
}

check "echo" "hello" "$(probe -- echo hello)"
probe -- sh -c 'exit 7'
check "exit code" 7 $?
probe -- sh -c 'kill -TERM $$'
check "killed by a signal" 143 $?
probe --signal 15 -- sleep 30
check "SIGNAL frame" 143 $?

probe -- sh -c 'echo out; echo err >&2' >"$dir/out" 2>"$dir/err"
check "stderr separate: status" 0 $?
check "stderr separate: stdout" out "$(cat "$dir/out")"
check "stderr separate: stderr" err "$(cat "$dir/err")"

check "cmd via the shell" "a b" "$(probe --cmd 'echo a b')"
probe -- /nonexistent/program 2>"$dir/err"
check "exec failure status" 254 $?
check "exec failure message" 1 "$(grep -c 'cannot execute /nonexistent/program' "$dir/err")"

check "locked env wins" "locked x" \
    "$(probe --config env=SECRET=locked --env SECRET=client --env OTHER=x \
    -- sh -c 'echo $SECRET $OTHER')"
check "home" "/tmp" "$(probe --config home=/tmp -- pwd)"

head -c 67108864 /dev/urandom >"$dir/rand"
want=$(sha256sum <"$dir/rand" | awk '{print $1}')
got=$(probe -- cat <"$dir/rand" | sha256sum | awk '{print $1}')
check "64 MiB through cat" "$want" "$got"
rm -f "$dir/rand"

if command -v stty >/dev/null 2>&1; then
	check "pty size" "33 111" "$(probe --pty 33x111 -- stty size </dev/null | tr -d '\r')"
	check "pty resize" "50 132" "$(probe --pty 24x80 --resize 50x132 \
	    -- sh -c 'sleep 0.3; stty size' </dev/null | tr -d '\r')"
	echo abc | probe --pty 24x80 -- cat >/dev/null
	check "pty EOF ends cat" 0 $?
	check "pty TERM" "vt100" "$(probe --pty 24x80 --term vt100 -- sh -c 'echo $TERM' </dev/null | tr -d '\r')"
fi

check "8 channels at once" 8 "$(probe --channels 8 -- sh -c 'echo $$' | sort -u | wc -l)"

# Orphans are reaped: no zombie stays under the agent.
op=$(probe -- sh -c 'sleep 0.2 & echo $!')
i=0	# gone (not a zombie) once the agent reaped it
while kill -0 "$op" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "orphans reaped" 0 "$(ps -o stat= --ppid "$apid" | grep -c Z)"

if command -v python3 >/dev/null 2>&1; then
	python3 - "$dir/port" <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
c, _ = s.accept()
c.sendall(b"hi\n")
c.sendall(b"got " + c.recv(100))
c.close()
PY
	pids="$pids $!"
	i=0
	while [ ! -s "$dir/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	check "TCP channel" "hi got ping" \
	    "$(echo ping | probe --tcp "127.0.0.1:$(cat "$dir/port")" | tr '\n' ' ' | sed 's/ $//')"
	probe --tcp 127.0.0.1:1 </dev/null 2>"$dir/err"
	check "TCP refused" 1 "$(grep -c 'Connection refused' "$dir/err")"

	# Garbage before a HELLO on one connection: the agent resynchronizes.
	out=$(python3 - "$sock" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
nonce = 0x1122334455667788
hello = struct.pack(">HBBII", 0x5347, 1, 0, 0, 20) + b"sandgate" + \
    struct.pack(">HHQ", 1, 1, nonce)
s.sendall(os.urandom(5000) + b"SG\x01\x00" + hello)
s.settimeout(5)
buf = b""
while struct.pack(">Q", nonce) not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
print("ack" if struct.pack(">Q", nonce) in buf else "none")
PY
)
	check "resync after garbage" ack "$out"

	# CLOSE of a live channel ends its process; a protocol error
	# closes the connection.
	out=$(python3 - "$sock" <<'PY'
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
buf = b""
def frame(t, chan, payload=b"", stream=0):
    return struct.pack(">HBBII", 0x5347, t, stream, chan, len(payload)) + payload
def item(tag, v):
    return struct.pack(">BH", tag, len(v)) + v
def read_frame():
    global buf
    while True:
        if len(buf) >= 12:
            magic, t, st, chan, n = struct.unpack(">HBBII", buf[:12])
            if len(buf) >= 12 + n:
                p = buf[12:12 + n]
                buf = buf[12 + n:]
                return t, chan, p
        d = s.recv(65536)
        if not d:
            return None
        buf += d
def wait_for(t, chan):
    while True:
        f = read_frame()
        if f is None or (f[0] == t and f[1] == chan):
            return f
s.sendall(frame(1, 0, b"sandgate" + struct.pack(">HHQ", 1, 1, 7)))
wait_for(2, 0)
s.sendall(frame(16, 5, struct.pack(">BBHHI", 1, 0, 0, 0, 65536) +
    item(1, b"sleep") + item(1, b"100")))
f = wait_for(17, 5)
pid = struct.unpack(">II", f[2])[1]
s.sendall(frame(38, 5))
f = wait_for(38, 5)
time.sleep(1.5)
try:
    with open("/proc/%d/stat" % pid) as st:
        state = st.read().split(")")[1].split()[0]
except OSError:
    state = "gone"
print("close:" + ("gone" if state in ("gone", "Z") else state))
s.sendall(frame(2, 0, struct.pack(">HQ", 1, 1)))
print("proto:" + ("closed" if wait_for(255, 255) is None else "open"))
PY
)
	check "CLOSE ends the process; protocol error closes" \
	    "close:gone proto:closed" "$(echo $out)"
fi

# Flow control: a reader that stops must stop the writer, with the
# agent's memory bounded.
"$PROBE" --socket "$sock" --pid-file "$dir/w.pid" -- \
    dd if=/dev/zero bs=64k count=1000000 status=none >/dev/null 2>&1 &
ppid=$!
pids="$pids $ppid"
i=0
while [ ! -s "$dir/w.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
wpid=$(cat "$dir/w.pid")
sleep 0.5
kill -STOP "$ppid"
sleep 1
a=$(awk '/^wchar/ {print $2}' "/proc/$wpid/io")
sleep 1
b=$(awk '/^wchar/ {print $2}' "/proc/$wpid/io")
check "stopped reader stops the writer" "$a" "$b"
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$apid/status")
if [ "$rss" -lt 16384 ]; then
	echo "ok: agent RSS $rss kB"
else
	echo "FAIL: agent RSS $rss kB"
	fail=1
fi
kill -KILL "$ppid"
wait "$ppid" 2>/dev/null
# A new host's HELLO ends the old session's processes.
probe -- true
i=0	# killed at once; gone when the agent has reaped it
while kill -0 "$wpid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$wpid" 2>/dev/null; then
	echo "FAIL: HELLO did not end the previous channel's process"
	fail=1
else
	echo "ok: HELLO ends previous channels"
fi

if ! kill -0 "$apid" 2>/dev/null; then
	echo "FAIL: the agent died"
	fail=1
fi
if [ $fail -ne 0 ]; then
	echo "--- agent log"
	cat "$dir/agent.log"
fi
exit $fail
