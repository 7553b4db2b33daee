#!/bin/sh
# netpolicy-host.sh: the host side of the egress policy (netpolicy's
# np_nft_* ruleset and np_tap_* taps, driven by nptool) against the real
# kernel, without a VM.
#
# Everything runs in network namespaces this script creates, so the real
# host's interfaces, tables and sysctls are never touched:
#   host    plays the sandgate host: the nftables table under test, IP
#           forwarding on (a per-namespace sysctl), a listener on 0.0.0.0
#           standing for the host's own services, DNS on port 53, a
#           "proxy" listener
#   guest   a sandbox: its eth0 is a veth whose host end is named like a
#           sandbox tap (sg-a<id>), /30 from a pool 10.213.N.0/24
#   other   a second sandbox (sg-b<id>), allowed everything
#   net     the outside: 198.51.100.2/24 (TEST-NET-2), TCP servers and a UDP
#           recorder; it has no route back to the pool, so replies work
#           only through the host's masquerade
# Checks: literal allow, other ports closed, dynamic entries and their
# timeouts, UDP not delivered (QUIC rejected at once), ICMP only to the
# host-side address, IPv6 dropped, spoofed sources dropped, the host's own
# services closed but DNS open, the other sandbox closed, TCP 80 reset
# without a proxy and redirected with one, counters, setup run again keeps
# elements, del removes everything, teardown, and np_tap_create/delete on a
# real tap.
#
# Needs root, ip (iproute2), nft and python3; exits 77 (skipped) otherwise.
# Environment:
#   NPTOOL   the driver (default $SG_BUILDDIR/tests/tools/nptool, with
#            SG_BUILDDIR defaulting to .)
set -u

prog=netpolicy-host
nptool=${NPTOOL:-${SG_BUILDDIR:-.}/tests/tools/nptool}
PATH=$PATH:/usr/sbin:/sbin

skip() { echo "$prog: SKIP: $*"; exit 77; }
fail() { echo "$prog: FAIL: $*"; failed=1; }
info() { echo "$prog: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
[ -x "$nptool" ] || skip "$nptool not built (run make check)"
command -v ip >/dev/null 2>&1 || skip "ip not found: install iproute2"
command -v nft >/dev/null 2>&1 || skip "nft not found: install nftables"
py=$(command -v python3) || skip "python3 not found"
case $nptool in /*) ;; *) nptool=$(pwd)/$nptool ;; esac

failed=0
pids=
nss=
id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
N=$(( 0x${id%????} ))          # third octet of the test pool
pool=10.213.$N
table=sgtest_$$
HNS=sgnp-$id-host GNS=sgnp-$id-guest ONS=sgnp-$id-other XNS=sgnp-$id-net
tapa=sg-a$id tapb=sg-b$id tapt=sg-t$id
work=$(mktemp -d "${TMPDIR:-/tmp}/sg-nptest.XXXXXX") || exit 1

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	# the table, the veths and the taps live in these namespaces
	for ns in $nss; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

inh() { ip netns exec "$HNS" "$@"; }
np() { ip netns exec "$HNS" "$nptool" -t "$table" -n "$pool.0/24" "$@"; }

# --- helper: TCP/UDP servers, clients and ping in one small program ----------
cat >"$work/np.py" <<'EOF'
import errno, os, select, socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e)
m = sys.argv[1]
if m == 'serve':        # serve LIFETIME TAG SPEC...: tcp:ADDR:PORT udp:ADDR:PORT:LOG udpecho:ADDR:PORT
    end = time.monotonic() + float(sys.argv[2]); tag = sys.argv[3]; socks = {}
    for spec in sys.argv[4:]:
        f = spec.split(':')
        if f[0] == 'tcp':
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((f[1], int(f[2]))); s.listen(16)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((f[1], int(f[2])))
        socks[s] = f
    while time.monotonic() < end:
        r, _, _ = select.select(list(socks), [], [], 0.5)
        for s in r:
            f = socks[s]
            if f[0] == 'tcp':
                c, peer = s.accept()
                try: c.sendall(('%s %s\n' % (tag, peer[0])).encode())
                except OSError: pass
                c.close()
            else:
                data, peer = s.recvfrom(2048)
                if f[0] == 'udpecho': s.sendto(data, peer)
                else:
                    with open(f[3], 'a') as fp: fp.write('%s %r\n' % (peer[0], data))
elif m == 'tcp':        # tcp HOST PORT TIMEOUT [SRC]
    s = socket.socket(); s.settimeout(float(sys.argv[4]))
    if len(sys.argv) > 5: s.bind((sys.argv[5], 0))
    t0 = time.monotonic()
    try:
        s.connect((sys.argv[2], int(sys.argv[3])))
        print('open ' + s.recv(128).decode(errors='replace').strip())
    except socket.timeout: print('timeout')
    except ConnectionRefusedError: print('refused %.2f' % (time.monotonic() - t0))
    except OSError as e: print('error ' + ename(e))
elif m == 'hammer':     # hammer HOST PORT SECONDS: connects again and again, prints the successes
    end = time.monotonic() + float(sys.argv[4]); ok = 0
    while time.monotonic() < end:
        s = socket.socket(); s.settimeout(0.05)
        try: s.connect((sys.argv[2], int(sys.argv[3]))); ok += 1
        except OSError: pass
        s.close()
    print(ok)
elif m == 'udp':        # udp HOST PORT TIMEOUT: sends one datagram, waits for a reply
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(float(sys.argv[4]))
    t0 = time.monotonic()
    try:
        s.connect((sys.argv[2], int(sys.argv[3]))); s.send(b'sandbox-udp')
        s.recv(2048); print('reply')
    except socket.timeout: print('timeout')
    except ConnectionRefusedError: print('refused %.2f' % (time.monotonic() - t0))
    except OSError as e: print('error ' + ename(e))
elif m in ('ping', 'ping6'):   # ping ADDR TIMEOUT, ping6 ADDR IFNAME TIMEOUT
    v6 = m == 'ping6'
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                      socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xffff
    pkt = struct.pack('!BBHHH', 128 if v6 else 8, 0, 0, ident, 1) + b'sandgate'
    if v6:
        dst = (sys.argv[2], 0, 0, socket.if_nametoindex(sys.argv[3])); tmo = float(sys.argv[4])
    else:
        pkt = pkt[:2] + struct.pack('!H', csum(pkt)) + pkt[4:]
        dst = (sys.argv[2], 0); tmo = float(sys.argv[3])
    end = time.monotonic() + tmo
    try: s.sendto(pkt, dst)
    except OSError as e: print('error ' + ename(e)); sys.exit(0)
    while True:
        left = end - time.monotonic()
        if left <= 0: print('timeout'); break
        r, _, _ = select.select([s], [], [], left)
        if not r: continue
        data, peer = s.recvfrom(2048)
        icmp = data if v6 else data[(data[0] & 15) * 4:]
        if len(icmp) >= 8 and icmp[0] == (129 if v6 else 0) and struct.unpack('!H', icmp[4:6])[0] == ident:
            print('reply'); break
elif m == 'tapopen':    # tapopen NAME: attaches as libvirt/QEMU would (single queue, vnet_hdr)
    import fcntl
    fd = os.open('/dev/net/tun', os.O_RDWR)
    ifr = struct.pack('16sH', sys.argv[2].encode(), 0x0002 | 0x1000 | 0x4000)
    try: fcntl.ioctl(fd, 0x400454ca, ifr); print('attached')
    except OSError as e: print('error ' + ename(e))
EOF
# run NS MODE ARGS...: runs the helper in a namespace
run() { ns=$1; shift; ip netns exec "$ns" "$py" "$work/np.py" "$@"; }
# expect WHAT GOT PATTERN: fails unless GOT matches the case PATTERN
expect() {
	# shellcheck disable=SC2254
	case $2 in $3) ;; *) fail "$1: got '$2', expected '$3'" ;; esac
}
counter() { np counters "$@" 2>&1 | cut -d' ' -f1; }
reason() { np reason "$1" 2>&1 | cut -d' ' -f1; }

# --- namespaces and links -------------------------------------------------------
for ns in "$HNS" "$GNS" "$ONS" "$XNS"; do
	ip netns add "$ns" 2>/dev/null || skip "cannot create network namespaces"
	nss="$nss $ns"
	ip -n "$ns" link set lo up
done
inh sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' || exit 1
# the sandboxes: host end named like a tap, guest end eth0
ip -n "$HNS" link add "$tapa" type veth peer name eth0 netns "$GNS" || exit 1
ip -n "$HNS" link add "$tapb" type veth peer name eth0 netns "$ONS" || exit 1
ip -n "$HNS" link add up0 type veth peer name eth0 netns "$XNS" || exit 1
ip -n "$HNS" addr add "$pool.1/30" dev "$tapa"
ip -n "$HNS" addr add "$pool.5/30" dev "$tapb"
ip -n "$HNS" addr add 198.51.100.1/24 dev up0
ip -n "$GNS" addr add "$pool.2/30" dev eth0
ip -n "$ONS" addr add "$pool.6/30" dev eth0
ip -n "$XNS" addr add 198.51.100.2/24 dev eth0
ip -n "$XNS" addr add 198.51.100.3/24 dev eth0
for l in "$tapa" "$tapb" up0; do ip -n "$HNS" link set "$l" up; done
for ns in "$GNS" "$ONS" "$XNS"; do ip -n "$ns" link set eth0 up; done
ip -n "$GNS" route add default via "$pool.1"
ip -n "$ONS" route add default via "$pool.5"

# --- servers (bounded lifetime, ended by pid at exit) -----------------------------
hport=$(( 20000 + $$ % 20000 ))   # the host's own service
pport=$(( hport + 1 ))            # the proxy
ip netns exec "$XNS" "$py" "$work/np.py" serve 240 net \
	tcp:0.0.0.0:80 tcp:0.0.0.0:443 tcp:0.0.0.0:5432 tcp:0.0.0.0:5433 \
	tcp:0.0.0.0:7000 tcp:0.0.0.0:7001 tcp:0.0.0.0:7002 tcp:0.0.0.0:7003 \
	udp:0.0.0.0:5353:"$work/udp.log" udp:0.0.0.0:443:"$work/udp.log" &
pids="$pids $!"
ip netns exec "$HNS" "$py" "$work/np.py" serve 240 host \
	tcp:0.0.0.0:$hport tcp:0.0.0.0:53 udpecho:0.0.0.0:53 &
pids="$pids $!"
ip netns exec "$HNS" "$py" "$work/np.py" serve 240 proxy tcp:0.0.0.0:$pport &
pids="$pids $!"
ip netns exec "$ONS" "$py" "$work/np.py" serve 240 other tcp:0.0.0.0:9000 &
pids="$pids $!"
ip netns exec "$GNS" "$py" "$work/np.py" serve 240 guest tcp:0.0.0.0:9000 &
pids="$pids $!"
n=0
until inh "$py" -c "import socket; socket.create_connection(('127.0.0.1', $pport), 1)" \
	2>/dev/null && run "$XNS" tcp 127.0.0.1 7003 1 | grep -q open; do
	n=$((n + 1)); [ $n -lt 50 ] || { fail "servers did not start"; exit 1; }
	sleep 0.1
done

# without the table the host's service is open to the guest: the
# topology works (the outside has no route back to the pool: replies to
# the guest's own address need the masquerade of the table)
expect "host service before the table" "$(run "$GNS" tcp "$pool.1" "$hport" 2)" "open host $pool.2"

# --- setup (twice), sandboxes ----------------------------------------------------------
np setup || { fail "setup failed"; exit 1; }
np setup || fail "second setup failed"
np add "$tapa" "$pool.2" "$pool.1" 198.51.100.2:5432 203.0.113.0/24:22 || fail "add $tapa failed"
np add "$tapb" "$pool.6" "$pool.5" all || fail "add $tapb failed"
got=$(np list | tr '\n' ' ')
expect "list" "$got" "$tapa $tapb "
out=$(np add "$tapa" "$pool.2" 10.99.0.1 2>&1) && fail "add accepted a host address outside the pool"
out=$(np add "x$tapa" "$pool.2" "$pool.1" 2>&1) && fail "add accepted a tap without the prefix"
out=$(np -t 'bad;table' setup 2>&1) && fail "setup accepted a bad table name"
out=$(np add 'sg-a"b' "$pool.2" "$pool.1" 2>&1) && fail "add accepted a bad tap name"

# --- TCP ---------------------------------------------------------------------------
T=1.5
expect "literal 198.51.100.2:5432" "$(run "$GNS" tcp 198.51.100.2 5432 $T)" "open net 198.51.100.1"
expect "port 5433 (not allowed)" "$(run "$GNS" tcp 198.51.100.2 5433 $T)" timeout
expect "port 7000 before allow" "$(run "$GNS" tcp 198.51.100.2 7000 $T)" timeout
before=$(counter "$tapa")
[ "${before:-0}" -ge 2 ] 2>/dev/null || fail "counter of $tapa is '$before' after 2 drops"

# dynamic entries: addr.port, and addr (any port); the timeout restarts
np allow "$tapa" 198.51.100.2 7000 3 || fail "allow 7000 failed"
np allow "$tapa" 198.51.100.2 7001 2 || fail "allow 7001 failed"
np allow "$tapa" 198.51.100.3 0 60 || fail "allow any port failed"
expect "dynamic 7000" "$(run "$GNS" tcp 198.51.100.2 7000 $T)" "open net*"
expect "dynamic any port (.3:7002)" "$(run "$GNS" tcp 198.51.100.3 7002 $T)" "open net*"
expect "not allowed (.2:7002)" "$(run "$GNS" tcp 198.51.100.2 7002 $T)" timeout
out=$(np allow "$tapa" 198.51.100.2 7000 0 2>&1) && fail "allow accepted timeout 0"
out=$(np allow sg-nothere 198.51.100.2 7000 5 2>&1) && fail "allow for a missing sandbox succeeded"
expect "allow message" "$out" "*no sandbox on tap sg-nothere*"
sleep 1
np allow "$tapa" 198.51.100.2 7001 6 || fail "allow 7001 again failed"
sleep 2.5
expect "7001 after its timeout was restarted" "$(run "$GNS" tcp 198.51.100.2 7001 $T)" "open net*"

# --- setup again keeps elements and opens no window; the proxy mode ---------------------------
run "$GNS" hammer 198.51.100.2 5433 3 >"$work/hammer" &
hp=$!
pids="$pids $hp"
n=0
while [ $n -lt 10 ]; do
	np setup || fail "setup while traffic flows failed"
	np add "$tapa" "$pool.2" "$pool.1" 198.51.100.2:5432 203.0.113.0/24:22 ||
		fail "add again while traffic flows failed"
	n=$((n + 1))
done
wait $hp
expect "connections to 5433 during setup and add" "$(cat "$work/hammer")" 0
expect "dynamic entry after setup" "$(run "$GNS" tcp 198.51.100.3 7002 $T)" "open net*"
expect "list after setup" "$(np list | tr '\n' ' ')" "$tapa $tapb "

# TCP 80/443 without a proxy: reset at once, to anywhere
got=$(run "$GNS" tcp 198.51.100.2 80 $T)
expect "TCP 80 without proxy" "$got" "refused 0.*"
expect "TCP 443 to the host address" "$(run "$GNS" tcp "$pool.1" 443 $T)" "refused 0.*"
# with a proxy: redirected to it, whatever the destination
np -P "$pport" setup || fail "setup with a proxy port failed"
expect "TCP 80 with proxy" "$(run "$GNS" tcp 198.51.100.2 80 $T)" "open proxy $pool.2"
expect "TCP 443 with proxy" "$(run "$GNS" tcp 203.0.113.9 443 $T)" "open proxy $pool.2"
expect "proxy port, not redirected" "$(run "$GNS" tcp "$pool.1" "$pport" $T)" timeout
np setup || fail "setup back without a proxy failed"
expect "TCP 80 after the proxy is gone" "$(run "$GNS" tcp 198.51.100.2 80 $T)" "refused 0.*"

# --- UDP, ICMP, IPv6 --------------------------------------------------------------------------
expect "UDP 5353" "$(run "$GNS" udp 198.51.100.2 5353 1)" timeout
expect "UDP 443 (QUIC)" "$(run "$GNS" udp 198.51.100.2 443 $T)" "refused 0.*"
sleep 0.3
[ -s "$work/udp.log" ] && fail "UDP reached the outside: $(cat "$work/udp.log")"
expect "ping net" "$(run "$GNS" ping 198.51.100.2 1)" timeout
expect "ping host-side address" "$(run "$GNS" ping "$pool.1" 1)" reply
expect "ping the other tap's host address" "$(run "$GNS" ping "$pool.5" 1)" timeout
ll=$(ip -n "$HNS" -6 addr show dev "$tapa" scope link 2>/dev/null |
	sed -n 's/.*inet6 \(fe80::[0-9a-f:]*\)\/64.*/\1/p' | head -n 1)
if [ -n "$ll" ]; then
	i6=$(reason ipv6)
	expect "ping6 host link-local" "$(run "$GNS" ping6 "$ll" eth0 1)" timeout
	[ "$(reason ipv6)" -gt "${i6:-0}" ] 2>/dev/null || fail "ipv6 counter did not grow"
else
	info "no IPv6 link-local on $tapa: IPv6 check skipped"
fi

# --- DNS and the host's own services ---------------------------------------------------------
expect "UDP 53 to the host-side address" "$(run "$GNS" udp "$pool.1" 53 $T)" reply
expect "TCP 53 to the host-side address" "$(run "$GNS" tcp "$pool.1" 53 $T)" "open host*"
expect "UDP 53 to the other tap's host address" "$(run "$GNS" udp "$pool.5" 53 1)" timeout
expect "UDP 53 to the host's uplink address" "$(run "$GNS" udp 198.51.100.1 53 1)" timeout
expect "host service on the host-side address" "$(run "$GNS" tcp "$pool.1" "$hport" $T)" timeout
expect "host service on the uplink address" "$(run "$GNS" tcp 198.51.100.1 "$hport" $T)" timeout
expect "host service from the outside (not our traffic)" \
	"$(run "$XNS" tcp 198.51.100.1 "$hport" $T)" "open host 198.51.100.2"
expect "DoT 853 to the host" "$(run "$GNS" tcp "$pool.1" 853 $T)" timeout

# --- other sandboxes, inbound, spoofing --------------------------------------------------------
expect "guest to the other sandbox" "$(run "$GNS" tcp "$pool.6" 9000 $T)" timeout
expect "other (allow all) to the guest" "$(run "$ONS" tcp "$pool.2" 9000 $T)" timeout
expect "other (allow all) to the outside" "$(run "$ONS" tcp 198.51.100.2 5433 $T)" "open net*"
ip -n "$XNS" route add "$pool.0/24" via 198.51.100.1
expect "outside to the guest (new inbound)" "$(run "$XNS" tcp "$pool.2" 9000 $T)" timeout
ip -n "$GNS" addr add "$pool.9/32" dev eth0
ip -n "$GNS" addr add "$pool.6/32" dev eth0
expect "spoofed source $pool.9" "$(run "$GNS" tcp 198.51.100.2 5432 $T "$pool.9")" timeout
expect "spoofed source (the other sandbox's)" \
	"$(run "$GNS" tcp 198.51.100.2 5432 $T "$pool.6")" timeout
expect "literal still open from the real address" \
	"$(run "$GNS" tcp 198.51.100.2 5432 $T "$pool.2")" "open net*"

# --- counters -----------------------------------------------------------------------------------
for r in spoof host sandbox inbound udp icmp tcp web; do
	v=$(reason $r)
	[ "$v" -gt 0 ] 2>/dev/null || fail "drop counter '$r' is '$v'"
done
a=$(counter "$tapa") b=$(counter "$tapb") tot=$(counter)
[ "$a" -gt "$before" ] 2>/dev/null || fail "counter of $tapa did not grow ($before -> $a)"
[ "$b" -gt 0 ] 2>/dev/null || fail "counter of $tapb is '$b'"
[ "$tot" -ge $((a + b)) ] 2>/dev/null || fail "total $tot < $a + $b"
info "dropped: $tapa $a, $tapb $b, total $tot"

# --- dynamic entry expiry (on a fresh sandbox of its own) --------------------------------------
np add "$tapa" "$pool.2" "$pool.1" 198.51.100.2:5432 || fail "re-add failed"
np del "$tapa" || fail "del failed"
np add "$tapa" "$pool.2" "$pool.1" || fail "add after del failed"
expect "dynamic entry after del and add" "$(run "$GNS" tcp 198.51.100.3 7002 $T)" timeout
np allow "$tapa" 198.51.100.2 7000 2 || fail "allow 7000 (2 s) failed"
expect "dynamic 7000 (2 s)" "$(run "$GNS" tcp 198.51.100.2 7000 $T)" "open net*"
sleep 3
expect "dynamic 7000 after its timeout" "$(run "$GNS" tcp 198.51.100.2 7000 $T)" timeout

# --- del removes everything; the tap then fails closed ------------------------------------------
np allow "$tapa" 198.51.100.2 7000 60 || fail "allow before del failed"
np del "$tapa" || fail "del failed"
np del "$tapa" || fail "second del failed (not idempotent)"
listing=$(inh nft list table inet "$table")
case $listing in *"$tapa"*) fail "the table still mentions $tapa after del" ;; esac
expect "list after del" "$(np list | tr '\n' ' ')" "$tapb "
out=$(np counters "$tapa" 2>&1) && fail "counters of a deleted sandbox succeeded"
# a tap that is not in the table is not this table's to judge (it may be
# a second sandgated's, with a table of its own under the same prefix);
# sandgated never leaves one of its own so: the tap goes before the rules
expect "guest after del (a tap not in the table)" "$(run "$GNS" tcp 198.51.100.2 5432 $T)" "open net*"
expect "other sandbox after del of the first" "$(run "$ONS" tcp 198.51.100.2 5433 $T)" "open net*"

# --- teardown ----------------------------------------------------------------------------------
np teardown || fail "teardown failed"
inh nft list table inet "$table" >/dev/null 2>&1 && fail "the table exists after teardown"
np teardown || fail "second teardown failed (not idempotent)"
expect "list without a table" "$(np list 2>&1)" ""

# --- taps --------------------------------------------------------------------------------------
np tap-create "$tapt" "$pool.101/30" || fail "tap-create failed"
d=$(ip -n "$HNS" -d link show dev "$tapt" 2>&1)
case $d in *"tun type tap"*) ;; *) fail "$tapt is not a tap: $d" ;; esac
case $d in *"<"*UP*">"*) ;; *) fail "$tapt is not up: $d" ;; esac
case $d in *multi_queue*) fail "$tapt is multiqueue: $d" ;; esac
case $d in *"persist off"*) fail "$tapt is not persistent: $d" ;; esac
expect "address of $tapt" "$(ip -n "$HNS" -4 -o addr show dev "$tapt" | awk '{print $4}')" "$pool.101/30"
expect "addr_gen_mode on $tapt" "$(inh cat /proc/sys/net/ipv6/conf/"$tapt"/addr_gen_mode 2>&1)" 1
expect "accept_ra on $tapt" "$(inh cat /proc/sys/net/ipv6/conf/"$tapt"/accept_ra 2>&1)" 0
expect "no IPv6 address on $tapt" "$(ip -n "$HNS" -6 -o addr show dev "$tapt")" ""
expect "tap-list" "$(np tap-list sg- | tr '\n' ' ')" "$tapt "
np tap-create "$tapt" "$pool.105/30" || fail "tap-create again failed"
expect "address after re-create" "$(ip -n "$HNS" -4 -o addr show dev "$tapt" | awk '{print $4}' | tr '\n' ' ')" "$pool.105/30 "
expect "libvirt-style attach" "$(run "$HNS" tapopen "$tapt")" attached
out=$(np tap-delete "$tapa" 2>&1) && fail "tap-delete deleted a veth"
ip -n "$HNS" link show dev "$tapa" >/dev/null 2>&1 || fail "tap-delete removed the veth $tapa"
np tap-delete "$tapt" || fail "tap-delete failed"
ip -n "$HNS" link show dev "$tapt" >/dev/null 2>&1 && fail "$tapt exists after tap-delete"
np tap-delete "$tapt" || fail "second tap-delete failed (not idempotent)"
out=$(np tap-create 'bad/name' "$pool.101/30" 2>&1) && fail "tap-create accepted a bad name"

[ $failed = 0 ] && info "PASS"
exit $failed
