#!/bin/sh
# sandgate-proxy without a VM: the data-driven cases of tests/data/proxy
# (one file per case, in the manner of curl's test files) sent from a
# "guest" namespace through the real nftables redirect to the real proxy,
# which pxtool feeds a policy. Everything runs in namespaces this test
# makes:
#   HNS  plays the host: the nftables table (nptool), the proxy
#   GNS  the guest, behind a veth named like a sandbox tap
#   XNS  the upstreams: api.test (198.51.100.2, approved for the secret
#        KEY), other.test (.3, allowed), evil.test (.4, not allowed)
# Each case checks the status codes the guest gets and whether (and what)
# the upstream received.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
command -v nft >/dev/null || skip "no nft"
command -v openssl >/dev/null || skip "no openssl"
PXTOOL=$SG_BUILDDIR/tests/tools/pxtool
NPTOOL=$SG_BUILDDIR/tests/tools/nptool
PROXY=$SG_BUILDDIR/secrets/sandgate-proxy
for t in "$PXTOOL" "$NPTOOL" "$PROXY"; do
	[ -x "$t" ] || skip "$t not built"
done
getent passwd sandgate-proxy >/dev/null ||
	fail "no user sandgate-proxy (tools/quickstart creates it)"
here=$SG_SRCDIR/tests/integration

w=$(mktemp -d /tmp/sgpx.XXXXXX)
chmod 755 "$w"
HNS=sgph$$ GNS=sgpg$$ XNS=sgpx$$
tap=sg-pc$$
pids=
cleanup() {
	set +e
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	for ns in "$HNS" "$GNS" "$XNS"; do ip netns delete "$ns" 2>/dev/null; done
	[ -n "${SG_KEEP:-}" ] || rm -rf "$w"
}
trap cleanup EXIT INT TERM

for ns in "$HNS" "$GNS" "$XNS"; do
	ip netns add "$ns" || skip "cannot create network namespaces"
	ip -n "$ns" link set lo up
done
ip netns exec "$HNS" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' || fail "forwarding"
ip -n "$HNS" link add "$tap" type veth peer name eth0 netns "$GNS" || fail "veth"
ip -n "$HNS" link add up0 type veth peer name eth0 netns "$XNS" || fail "veth"
ip -n "$HNS" addr add 10.238.0.1/30 dev "$tap"
ip -n "$HNS" addr add 198.51.100.1/24 dev up0
ip -n "$GNS" addr add 10.238.0.2/30 dev eth0
for a in 2 3 4; do ip -n "$XNS" addr add "198.51.100.$a/24" dev eth0; done
ip -n "$HNS" link set "$tap" up
ip -n "$HNS" link set up0 up
ip -n "$GNS" link set eth0 up
ip -n "$XNS" link set eth0 up
ip -n "$GNS" route add default via 10.238.0.1
ip -n "$XNS" route add 10.238.0.0/30 via 198.51.100.1

# the upstreams' test CA and certificate
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$w/ca.key" -out "$w/ca.pem" -days 2 -subj "/CN=sandgate test CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	>/dev/null 2>&1 || fail "test CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$w/up.key" \
	-out "$w/up.csr" -subj "/CN=api.test" >/dev/null 2>&1 || fail "upstream key"
printf 'subjectAltName=DNS:api.test,DNS:other.test,DNS:evil.test\n' >"$w/ext"
openssl x509 -req -in "$w/up.csr" -CA "$w/ca.pem" -CAkey "$w/ca.key" \
	-CAcreateserial -days 2 -extfile "$w/ext" -out "$w/up.pem" >/dev/null 2>&1 ||
	fail "upstream certificate"
chmod 644 "$w"/*
for u in api:2 other:3 evil:4; do
	ip netns exec "$XNS" python3 "$here/proxyhost.py" --name "${u%%:*}" \
		--https "198.51.100.${u#*:}:443:$w/up.pem:$w/up.key" \
		--http "198.51.100.${u#*:}:80" --log "$w/up.log" \
		--ready "$w/up.${u%%:*}" --lifetime 300 &
	pids="$pids $!"
done

pport=$(( 20000 + $$ % 20000 ))
ip netns exec "$HNS" "$NPTOOL" -t sgpc -n 10.238.0.0/24 -P "$pport" setup ||
	fail "nptool setup"
ip netns exec "$HNS" "$NPTOOL" -t sgpc -n 10.238.0.0/24 -P "$pport" \
	add "$tap" 10.238.0.2 10.238.0.1 all || fail "nptool add"

PH=SANDGATE_SECRET_5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a
VALUE=sk-case-value-0123456789
# the second holds what percent-encoding and base64 treat apart
PH2=SANDGATE_SECRET_6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b
VALUE2='qk+R3al/v4lue=Z9 x&y<z>'
command -v brotli >/dev/null || skip "no brotli program (Debian package brotli)"
command -v zstd >/dev/null || skip "no zstd program (Debian package zstd)"
mkdir -p "$w/ca"
ip netns exec "$HNS" "$PXTOOL" --proxy "$PROXY" --user sandgate-proxy \
	--listen "0.0.0.0:$pport" --ca-dir "$w/ca" --extra-ca "$w/ca.pem" \
	--head-ms 3000 --idle-ms 4000 \
	--resolve api.test:198.51.100.2 --resolve other.test:198.51.100.3 \
	--resolve evil.test:198.51.100.4 \
	--secret "t1:KEY:$VALUE:api.test" \
	--secret "t1:QKEY:$VALUE2:api.test:header,query,body" \
	--sandbox "sb1:t1:10.238.0.2:api.test,other.test:KEY=$PH,QKEY=$PH2" \
	--ready-file "$w/proxy-ca.pem" >"$w/audit.out" 2>"$w/proxy.log" &
pids="$pids $!"
for f in up.api up.other up.evil proxy-ca.pem; do
	sg_wait_for test -f "$w/$f" || { cat "$w/proxy.log"; fail "$f did not appear"; }
done

ip netns exec "$GNS" python3 "$here/proxycases.py" \
	--cases "$SG_SRCDIR/tests/data/proxy" --uplog "$w/up.log" \
	--cafile "$w/proxy-ca.pem" --addr 198.51.100.2 \
	--secret "$PH=$VALUE" --secret "$PH2=$VALUE2" --audit "$w/audit.out" \
	${SG_PROXY_CASE:+--only "$SG_PROXY_CASE"} >"$w/cases.out"
rc=$?
cat "$w/cases.out"
if [ $rc -ne 0 ]; then
	echo "--- proxy log:"; tail -n 30 "$w/proxy.log"
	fail "$(grep -c '^FAIL' "$w/cases.out") cases failed"
fi
n=$(grep -c '^ok' "$w/cases.out")
[ "$n" -ge 40 ] || fail "only $n cases ran"
# the value never in the proxy's log or its audit events
! grep -q -F -e "$VALUE" -e "$VALUE2" "$w/proxy.log" "$w/audit.out" ||
	fail "a value in a log"
grep -q 'secret_alert' "$w/audit.out" || fail "no secret_alert event"
if grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$w/proxy.log"; then
	fail "sanitizer reports"
fi
echo "PASS: $n cases"
