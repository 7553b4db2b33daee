#!/bin/sh
# The egress policy at the VM boundary, from inside real guests, against a
# test host in a network namespace this test makes (198.51.100.0/24,
# TEST-NET-2, reached only through a veth pair of its own):
#   - an allowed host:port (by name, through the sandbox's DNS) and a
#     literal address:port are reachable; another port, another address,
#     UDP, ICMP echo, IPv6 and a spoofed source address are not, and the
#     per-sandbox and per-reason counters show them; UDP 443 and TCP 80
#     (no secrets proxy yet) are refused at once;
#   - random subdomains of a name off the list never reach the test's
#     upstream DNS server (it records every question); a public name
#     answered with a private address gets no address (DNS rebinding);
#   - the gateway's SSH port, DoT and libvirt's port on the host, and
#     another sandbox (allow_net = *) are unreachable;
#   - with sandgated killed (-9), the rules stay closed; after a restart
#     the sandbox is adopted with its policy, and the tap, elements and
#     record of one that died meanwhile are removed;
#   - a /30 whose address is already on a host interface is skipped;
#   - another sandgated's table on the host (same tap prefix) does not
#     drop or redirect this one's traffic;
#   - after teardown no element, tap or namespace is left.
# Two boots: the default image (python3 runs the probes) and a minimal one.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v nft >/dev/null || skip "no nft"
command -v ip >/dev/null || skip "no ip"
[ -f "$SG_IMAGE_DIR/default/image.conf" ] ||
	skip "no default image in $SG_IMAGE_DIR (make image-default)"

here=$SG_SRCDIR/tests/integration

SG_TEST_IMAGE=default SG_TEST_MEMORY=1024 SG_TEST_LISTEN=0.0.0.0
SG_TEST_POOL=10.232.0.0/24
SG_TEST_NETWORK="dns = 198.51.100.2, 198.51.100.2:53"
sg_setup
sg_testhost 198.51.100.2 198.51.100.3
note "a test host in namespace $SG_TESTNS: 198.51.100.2 and .3, DNS on .2"
ip netns exec "$SG_TESTNS" python3 "$here/nshost.py" --log "$SG_T/ns.log" \
	--ready "$SG_T/ns.ready" --lifetime 900 \
	--tcp 198.51.100.2:8080:allowed-8080 --tcp 198.51.100.2:9090:other-port \
	--tcp 198.51.100.2:7070:literal-7070 --tcp 198.51.100.3:8080:other-addr \
	--tcp 198.51.100.2:80:plain-web --udp 198.51.100.2:5000 \
	--dns 198.51.100.2 --map allowed.test=198.51.100.2 \
	--map rebind.test=10.0.0.5 &
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
sg_wait_for test -f "$SG_T/ns.ready" || fail "the test host did not start"

printf 'allow_net = allowed.test:8080, rebind.test, 198.51.100.2:7070\n' >>"$SG_T/tokens.conf"
TOK2=$(sg_ctl token create t2) || fail "token create t2"
printf 'image = minimal\nmemory_mb = 768\nallow_net = *\n' >>"$SG_T/tokens.conf"
sg_wait_for sh -c "[ \$(grep -c 'tokens reloaded' '$SG_T/log') -ge 2 ]" || fail "no reload"

# The pool's first /30 is already on an interface of the host (another
# instance's tap, say): it is skipped, with a log line.
SG_EXTRA_LINKS="sgq$$"
ip tuntap add dev "sgq$$" mode tap && ip addr add 10.232.0.1/30 dev "sgq$$" ||
	fail "an interface for the first /30"
sg_ssh e1@127.0.0.1 'cat >/root/probe.py' <"$here/egress-probe.py" || fail "boot e1"
grep -q "network: 10.232.0.0/30 is already on interface sgq$$" "$SG_T/log" ||
	fail "no log line for the /30 on sgq$$"
P() { sg_ssh e1@127.0.0.1 python3 /root/probe.py "$@"; }
expect() {	# expect WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
counter() {	# counter NAME: packets of one of the table's counters
	nft list counter inet "$SG_NFT_TABLE" "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
hs=$(sg_ssh e1@127.0.0.1 "awk '/^nameserver/ {print \$2; exit}' /etc/resolv.conf")
case $hs in 10.232.0.1) fail "the guest got the /30 of sgq$$" ;;
10.232.0.*) ;; *) fail "the guest's DNS server is '$hs'" ;; esac
note "host-side address $hs"

# A second sandgated on this host (its own table, pool and proxy port, the
# same tap prefix, no sandboxes yet): its rules must leave this one's taps
# alone (they once dropped every sg-* packet they did not know, DNS first).
SG_EXTRA_TABLES="sgtestb_$$"
"$SG_BUILDDIR/tests/tools/nptool" -t "sgtestb_$$" -n 10.229.0.0/24 -P 1 setup ||
	fail "a second table"

note "allowed: the name through the sandbox's DNS, and a literal address:port"
out=$(P resolve allowed.test tcp allowed.test 8080 tcp 198.51.100.2 7070 ping "$hs")
expect "resolve allowed.test" "$(echo "$out" | sed -n 1p)" "addr 198.51.100.2"
expect "allowed.test:8080" "$(echo "$out" | sed -n 2p)" "open allowed-8080"
expect "198.51.100.2:7070" "$(echo "$out" | sed -n 3p)" "open literal-7070"
expect "ping the host-side address" "$(echo "$out" | sed -n 4p)" "reply"

note "not allowed: another port, another address, UDP, ICMP, IPv6, a spoofed source"
for c in d_tcp d_udp d_icmp d_ipv6 d_spoof; do eval "b_$c=\$(counter $c)"; done
# the guest gives itself other addresses to send from
sg_ssh e1@127.0.0.1 'ip addr add 10.232.0.200/32 dev eth0 && ip addr add 10.232.0.201/32 dev eth0' ||
	fail "cannot add addresses in the guest"
out=$(P tcp 198.51.100.2 9090 tcp 198.51.100.3 8080 udp 198.51.100.2 5000 \
	ping 198.51.100.2 tcpsrc 10.232.0.200 198.51.100.2 7070)
expect "198.51.100.2:9090" "$(echo "$out" | sed -n 1p)" "timeout"
expect "198.51.100.3:8080" "$(echo "$out" | sed -n 2p)" "timeout"
expect "UDP 5000" "$(echo "$out" | sed -n 3p)" "sent"
expect "ping 198.51.100.2" "$(echo "$out" | sed -n 4p)" "timeout"
expect "spoofed source" "$(echo "$out" | sed -n 5p)" "timeout"
sg_ssh e1@127.0.0.1 'ip -6 addr add fd00:5a::2/64 dev eth0 nodad 2>/dev/null; python3 /root/probe.py udp6 fd00:5a::1 5000' >/dev/null
! grep -q '^udp 5000' "$SG_T/ns.log" || fail "a UDP datagram reached the test host"
for c in d_tcp d_udp d_icmp d_ipv6 d_spoof; do
	eval "b=\$b_$c"
	a=$(counter $c)
	[ "${a:-0}" -gt "${b:-0}" ] || fail "counter $c did not grow ($b -> $a)"
done
note "counters grew: d_tcp d_udp d_icmp d_ipv6 d_spoof"

note "refused at once: UDP 443 (QUIC) and TCP 80 (no secrets proxy yet)"
out=$(P udp 198.51.100.2 443 tcp 198.51.100.2 80)
expect "UDP 443" "$(echo "$out" | sed -n 1p)" "refused"
expect "TCP 80" "$(echo "$out" | sed -n 2p)" "refused"

note "the host's own services: the gateway's SSH port, DoT, libvirt"
sg_wait_for sh -c "python3 -c 'import socket; socket.create_connection((\"198.51.100.1\", $SG_PORT), 2)'" ||
	fail "the gateway does not listen on 198.51.100.1:$SG_PORT (the control)"
out=$(P tcp "$hs" "$SG_PORT" tcp 198.51.100.1 "$SG_PORT" tcp "$hs" 853 tcp "$hs" 16509 udp "$hs" 853)
for i in 1 2 3 4; do
	expect "host service $i" "$(echo "$out" | sed -n ${i}p)" "timeout"
done

note "DNS: names off the list never reach the upstream server"
i=0; names=
while [ $i -lt 5 ]; do names="$names resolve x$i$$.evil.test"; i=$((i + 1)); done
# shellcheck disable=SC2086
out=$(P $names resolve rebind.test)
[ "$(echo "$out" | grep -c '^none$')" = 6 ] || fail "off-list or rebinding names resolved: $out"
! grep -q 'evil' "$SG_T/ns.log" || fail "the upstream server saw: $(grep evil "$SG_T/ns.log")"
grep -q '^dns allowed.test 1$' "$SG_T/ns.log" || fail "allowed.test never went upstream (the control)"
grep -q '^dns rebind.test 1$' "$SG_T/ns.log" || fail "rebind.test never went upstream"
expect "AAAA for allowed.test" "$(P resolve6 allowed.test)" "none"
! grep -q '^dns allowed.test 28$' "$SG_T/ns.log" || fail "an AAAA query went upstream"
grep -q '"event":"dns_refused".*evil.test' "$SG_T/audit.jsonl" || fail "no dns_refused audit event"

note "another sandbox (token t2, allow_net = *) is unreachable"
sg_ssh -T "$TOK2" o1@127.0.0.1 '{ setsid nc -ll -p 7777 -e /bin/echo other </dev/null >/dev/null 2>&1 & }; sleep 0.5; ip -4 -o addr show eth0' >"$SG_T/o1" ||
	fail "boot o1"
oip=$(sed -n 's/.*inet \([0-9.]*\)\/.*/\1/p' "$SG_T/o1")
[ -n "$oip" ] || fail "no address in o1: $(cat "$SG_T/o1")"
b=$(counter d_sandbox)
out=$(P tcp "$oip" 7777 ping "$oip")
expect "other sandbox tcp" "$(echo "$out" | sed -n 1p)" "timeout"
expect "other sandbox ping" "$(echo "$out" | sed -n 2p)" "timeout"
[ "$(counter d_sandbox)" -gt "${b:-0}" ] || fail "d_sandbox did not grow"

e1=$(sg_ctl list | awk '$3 == "e1" {print $1}')
o1=$(sg_ctl list | awk '$3 == "o1" {print $1}')
drops=$(sg_ctl list | awk '$3 == "e1" {print $7}')
[ "${drops:-0}" -gt 0 ] || fail "sandgatectl list shows no drops for e1: $(sg_ctl list)"
note "sandgatectl list: e1 ($e1) dropped $drops packets"

note "sandgated killed (-9): the rules stay closed"
sg_ssh e1@127.0.0.1 '{ setsid sh -c "for i in 1 2 3 4; do python3 /root/probe.py tcp 198.51.100.3 8080 tcp 198.51.100.2 9090 tcpsrc 10.232.0.201 198.51.100.2 7070; done >/root/leak.log 2>&1" </dev/null >/dev/null 2>&1 & }'
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null
SG_PID=
nft list chain inet "$SG_NFT_TABLE" filt_fwd >/dev/null || fail "the forward chain is gone"
ip link show "sg-$e1" >/dev/null || fail "the tap is gone"
# o1 dies while nobody watches: the restart must remove what it left
virsh -c qemu:///system destroy "sandgate-$o1" >/dev/null 2>&1 || fail "destroy o1"
sleep 12
sg_start
sg_wait_for sh -c "grep -q 'sandbox $e1 adopted' '$SG_T/log'" || fail "e1 not adopted"
i=0
until [ "$(sg_ssh e1@127.0.0.1 'wc -l </root/leak.log' 2>/dev/null)" -ge 12 ] 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 60 ] || fail "the probe loop did not finish: $(sg_ssh e1@127.0.0.1 cat /root/leak.log)"
	sleep 1
done
leak=$(sg_ssh e1@127.0.0.1 'grep -v -c "^timeout$" /root/leak.log')
[ "$leak" = 0 ] || fail "while sandgated was dead: $(sg_ssh e1@127.0.0.1 cat /root/leak.log)"
! ip link show "sg-$o1" >/dev/null 2>&1 || fail "the tap of dead sandbox o1 is left"
! nft list table inet "$SG_NFT_TABLE" | grep -q "sg-$o1" || fail "elements of dead o1 are left"
[ ! -e "$SG_T/state/net/$o1" ] || fail "the network record of dead o1 is left"
out=$(P tcp allowed.test 8080 tcp 198.51.100.2 9090)
expect "after restart, allowed" "$(echo "$out" | sed -n 1p)" "open allowed-8080"
expect "after restart, other port" "$(echo "$out" | sed -n 2p)" "timeout"

note "teardown: no element, tap, record or connection tracking entry left"
ct_left() {
	{ conntrack -L -s "$SG_TEST_POOL"; conntrack -L -d "$SG_TEST_POOL"; } \
		2>/dev/null | grep -c src=
}
if command -v conntrack >/dev/null; then
	[ "$(ct_left)" -gt 0 ] || fail "no connection tracking entry of the sandboxes"
fi
for id in $(sg_ctl list | awk 'NR > 1 && $1 != "ok" {print $1}'); do
	sg_ctl kill "$id" >/dev/null || fail "kill $id"
done
sg_wait_for sg_no_leftovers || fail "leftovers: $(ip -br link | grep sg-) $(ls "$SG_T/state/net")"
# the next sandbox given one of these /30s starts with none of theirs
if command -v conntrack >/dev/null; then
	[ "$(ct_left)" = 0 ] || fail "entries of the sandboxes are left: $(
		conntrack -L -s "$SG_TEST_POOL" 2>/dev/null; conntrack -L -d "$SG_TEST_POOL" 2>/dev/null)"
fi
if nft list table inet "$SG_NFT_TABLE" | grep -q 'sg-[0-9a-f]'; then
	fail "elements left: $(nft list table inet "$SG_NFT_TABLE" | grep 'sg-[0-9a-f]')"
fi
echo PASS
