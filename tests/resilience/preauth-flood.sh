#!/bin/sh
# Resilience: a pre-authentication flood. sandgated runs in a network
# namespace of the test's own (its loopback carries 127.0.0.0/8 and the
# IPv6 test addresses) with a short kex_timeout, and is flooded:
#   1. per source: 15 connections from one address: 10 held, 5 refused
#      ([gateway] per_source_max_startups);
#   2. per IPv6 /64: one connection from each of 12 addresses of one /64:
#      10 held, 2 refused; an address of another /64 still gets in;
#   3. SG_FLOOD connections (500; half silent, half a slow handshake) from
#      SG_FLOOD_SOURCES loopback addresses: at most FULL (100) held
#      held, the rest refused; meanwhile a legitimate login (the control
#      interface: no VM) gets in, within a bounded number of tries;
#   4. every held connection is ended by the kex deadline, the monitor
#      has no worker left, its memory is printed, no worker crashed.
# No VM boots. make check-long (SG_LONG=1) floods with 2000 from 400.
. "$SG_SRCDIR/tests/integration/lib.sh"

sg_require
command -v python3 >/dev/null || skip "no python3"
if [ "${SG_LONG:-0}" = 1 ]; then FLOOD=2000 NSRC=400; else FLOOD=500 NSRC=100; fi
FLOOD=${SG_FLOOD:-$FLOOD}
NSRC=${SG_FLOOD_SOURCES:-$NSRC}

# the namespace is made once sg_setup's cleanup is in place
SG_TESTNS=sgr$$
make_ns() {
	ip netns add "$SG_TESTNS" || fail "ip netns add"
	ip netns exec "$SG_TESTNS" ip link set lo up || fail "lo up"
	i=1
	while [ $i -le 12 ]; do
		ip netns exec "$SG_TESTNS" ip -6 addr add "2001:db8:5a:1::$i/128" \
		    dev lo nodad || fail "ip -6 addr add"
		i=$((i + 1))
	done
	ip netns exec "$SG_TESTNS" ip -6 addr add 2001:db8:5a:2::1/128 dev lo \
	    nodad || fail "ip -6 addr add"
}
SG_PRE_START=make_ns
SG_WRAP="ip netns exec $SG_TESTNS"
SG_TEST_LISTEN='[::]'
SG_TEST_GATEWAY='kex_timeout = 4s
login_grace_time = 20s
max_startups = 20:30:100
per_source_max_startups = 10
per_source_net_block = 32:64'
sg_setup
FLOOD_PY=$SG_SRCDIR/tests/resilience/flood.py

# flood NAME HOST [flood.py args...]: starts flood.py in the namespace,
# its stdin a fifo held open on descriptor 9 (closing 9 ends it), and
# waits for its first line (the classification).
flood() {
	_n=$1
	_h=$2
	shift 2
	mkfifo "$SG_T/$_n.in"
	$SG_WRAP python3 "$FLOOD_PY" "$_h" "$SG_PORT" "$@" \
	    <"$SG_T/$_n.in" >"$SG_T/$_n.out" 2>"$SG_T/$_n.err" &
	SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
	exec 9>"$SG_T/$_n.in"
	_i=0
	until [ "$(wc -l <"$SG_T/$_n.out")" -ge 1 ]; do
		_i=$((_i + 1))
		[ $_i -lt 600 ] || { cat "$SG_T/$_n.err"; fail "$_n: no answer"; }
		sleep 0.1
	done
	head -n 1 "$SG_T/$_n.out"
}
# field NAME KEY: a number from flood NAME's first line
field() {
	head -n 1 "$SG_T/$1.out" | python3 -c \
	    "import json,sys; print(json.load(sys.stdin)['$2'])"
}
# unflood NAME: closes its stdin and waits for its second line
unflood() {
	exec 9>&-
	_i=0
	until [ "$(wc -l <"$SG_T/$1.out")" -ge 2 ]; do
		_i=$((_i + 1))
		[ $_i -lt 300 ] || fail "$1: did not end"
		sleep 0.1
	done
	sed -n 2p "$SG_T/$1.out"
}
# no_workers: the monitor has no child left (no proxy, no sandbox here)
no_workers() { [ -z "$(pgrep -P "$SG_PID")" ]; }

rss0=$(sg_rss)
note "monitor RSS before: ${rss0} kB"

# --- 1. per source -------------------------------------------------------
# (IPv4 clients reach the [::] socket as ::ffff:127.x; the monitor counts
# them as IPv4.)
flood one 127.0.0.1 --count 15 --mode silent 127.0.0.9 >/dev/null
note "per source: $(head -n 1 "$SG_T/one.out")"
[ "$(field one admitted)" = 10 ] || fail "one source: $(field one admitted) held, want 10"
[ "$(field one refused)" = 5 ] || fail "one source: $(field one refused) refused, want 5"
grep -q "refusing a connection from ::ffff:127.0.0.9: 10 connections from 127.0.0.9/32 are still authenticating (\[gateway\] per_source_max_startups)" \
    "$SG_T/log" || fail "no per-source refusal in the log"
# a held worker is boxed: not the monitor's network namespace, not root, a
# seccomp filter (mode 2), no new privileges, no processes, no files
wpid=$(pgrep -P "$SG_PID" | head -n 1)
[ -n "$wpid" ] || fail "no worker to look at"
st=/proc/$wpid/status
grep -q '^Seccomp:[[:space:]]*2$' "$st" || fail "worker $wpid: $(grep Seccomp: "$st")"
grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || fail "worker $wpid: no_new_privs not set"
[ "$(awk '/^Uid:/ {print $2}' "$st")" != 0 ] || fail "worker $wpid runs as root"
[ "$(readlink "/proc/$wpid/ns/net")" != "$(readlink "/proc/$SG_PID/ns/net")" ] ||
	fail "worker $wpid shares the monitor's network namespace"
grep -q '^Max processes  *0  *0 ' "/proc/$wpid/limits" || fail "worker $wpid: RLIMIT_NPROC is not 0"
grep -q '^Max file size  *0  *0 ' "/proc/$wpid/limits" || fail "worker $wpid: RLIMIT_FSIZE is not 0"
note "worker $wpid: seccomp filter, empty netns, uid $(awk '/^Uid:/ {print $2}' "$st"), NPROC 0, FSIZE 0"
unflood one >/dev/null
sg_wait_for no_workers || fail "workers left after the per-source case"

# --- 2. per IPv6 /64 ---------------------------------------------------
src6=
i=1
while [ $i -le 12 ]; do src6="$src6 2001:db8:5a:1::$i"; i=$((i + 1)); done
flood six 2001:db8:5a:1::1 --count 12 --mode silent $src6 >/dev/null
note "one /64, 12 addresses: $(head -n 1 "$SG_T/six.out")"
[ "$(field six admitted)" = 10 ] || fail "one /64: $(field six admitted) held, want 10"
[ "$(field six refused)" = 2 ] || fail "one /64: $(field six refused) refused, want 2"
# (12 addresses, one connection each: only counting by /64 refuses;
# the log line may be folded into the next, one a second at most)
# another /64 is another source (the total, 11, is under START)
ip netns exec "$SG_TESTNS" python3 "$FLOOD_PY" 2001:db8:5a:1::1 "$SG_PORT" \
    --count 1 --settle 10 2001:db8:5a:2::1 </dev/null >"$SG_T/other.out" ||
	fail "flood.py failed"
out=$(head -n 1 "$SG_T/other.out")
note "another /64: $out"
case $out in *'"admitted": 1'*) ;; *) fail "another /64 was refused: $out" ;; esac
unflood six >/dev/null
sg_wait_for no_workers || fail "workers left after the /64 case"

# --- 3. the flood, and a legitimate login through it ---------------------
srcs=
i=0
while [ $i -lt "$NSRC" ]; do
	srcs="$srcs 127.1.$((i / 250)).$((i % 250 + 1))"
	i=$((i + 1))
done
t0=$(date +%s)
flood big 127.0.0.1 --count "$FLOOD" --mode mixed --settle 3 $srcs >/dev/null
note "flood of $FLOOD from $NSRC addresses: $(head -n 1 "$SG_T/big.out")"
held=$(field big admitted)
[ "$held" -le 100 ] || fail "$held unauthenticated connections held, max_startups FULL is 100"
[ "$(field big refused)" -ge $((FLOOD - 100 - $(field big unanswered))) ] ||
	fail "too few refused"
grep -q "are still authenticating (\[gateway\] max_startups)" "$SG_T/log" ||
	fail "no max_startups refusal in the log"
note "refusals logged: $(grep -c 'refusing a connection' "$SG_T/log") lines for $(($(field one refused) + $(field six refused) + $(field big refused))) refused"
# a legitimate login: refused while the flood holds its slots, in once
# the kex deadline (4 s) frees them
tries=0
while :; do
	tries=$((tries + 1))
	got=$(sg_ssh -o ConnectTimeout=10 sandgate@127.0.0.1 whoami 2>/dev/null) && break
	[ $tries -lt 40 ] || fail "no legitimate login in 40 tries"
	sleep 0.5
done
t1=$(date +%s)
case $got in "token:"*t1*) ;; *) fail "whoami said: $got" ;; esac
note "legitimate login in after $tries tries, $((t1 - t0)) s after the flood began"
sg_wait_for no_workers || fail "workers left after the flood"
unflood big >"$SG_T/big.end"
note "held: $(cat "$SG_T/big.end")"
ended=$(python3 -c "import json,sys; print(json.load(sys.stdin)['ended_by_server'])" <"$SG_T/big.end")
[ "$ended" = "$held" ] || fail "$ended of $held held connections ended by the kex deadline"
rss1=$(sg_rss)
note "monitor RSS after: ${rss1} kB (before: ${rss0} kB)"
[ "$rss1" -lt $((rss0 + 65536)) ] || fail "the monitor grew by more than 64 MiB"
sg_no_crash
echo "PASS: preauth-flood"
