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
#   GNS2 a second sandbox (10.238.0.6) whose allow_net is "*" and
#        10.0.0.0/8: it reaches the first sandbox on no port, through the
#        proxy or not; neither does a process on the host; and the first
#        sandbox's connection tracking entries go with its network.
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
HNS=sgph$$ GNS=sgpg$$ XNS=sgpx$$ GNS2=sgpq$$
tap=sg-pc$$ tap2=sg-pd$$
pids=
cleanup() {
	set +e
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	for ns in "$HNS" "$GNS" "$XNS" "$GNS2"; do ip netns delete "$ns" 2>/dev/null; done
	[ -n "${SG_KEEP:-}" ] || rm -rf "$w"
}
trap cleanup EXIT INT TERM

for ns in "$HNS" "$GNS" "$XNS" "$GNS2"; do
	ip netns add "$ns" || skip "cannot create network namespaces"
	ip -n "$ns" link set lo up
done
ip netns exec "$HNS" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' || fail "forwarding"
ip -n "$HNS" link add "$tap" type veth peer name eth0 netns "$GNS" || fail "veth"
ip -n "$HNS" link add up0 type veth peer name eth0 netns "$XNS" || fail "veth"
ip -n "$HNS" link add "$tap2" type veth peer name eth0 netns "$GNS2" || fail "veth"
ip -n "$HNS" addr add 10.238.0.5/30 dev "$tap2"
ip -n "$GNS2" addr add 10.238.0.6/30 dev eth0
ip -n "$HNS" link set "$tap2" up
ip -n "$GNS2" link set eth0 up
ip -n "$GNS2" route add default via 10.238.0.5
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
ip netns exec "$HNS" "$NPTOOL" -t sgpc -n 10.238.0.0/24 -P "$pport" \
	add "$tap2" 10.238.0.6 10.238.0.5 all 10.0.0.0/8 || fail "nptool add 2"

PH=SANDGATE_SECRET_5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a
VALUE=sk-case-value-0123456789
# the second holds what percent-encoding and base64 treat apart
PH2=SANDGATE_SECRET_6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b
VALUE2='qk+R3al/v4lue=Z9 x&y<z>'
# what KEY becomes at the reload (SIGUSR1 to pxtool)
VALUE_NEW=sk-case-value-after-the-reload-42
# a value too short to keep out of responses: the proxy refuses its use
PH3=SANDGATE_SECRET_7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c
command -v brotli >/dev/null || skip "no brotli program (Debian package brotli)"
command -v zstd >/dev/null || skip "no zstd program (Debian package zstd)"
mkdir -p "$w/ca"
ip netns exec "$HNS" "$PXTOOL" --proxy "$PROXY" --user sandgate-proxy \
	--listen "0.0.0.0:$pport" --ca-dir "$w/ca" --extra-ca "$w/ca.pem" \
	--head-ms 3000 --idle-ms 4000 \
	--resolve api.test:198.51.100.2 --resolve other.test:198.51.100.3 \
	--resolve evil.test:198.51.100.4 --resolve g1.test:10.238.0.2 \
	--pool 10.238.0.0/24 \
	--secret "t1:KEY:$VALUE:api.test" \
	--secret "t1:QKEY:$VALUE2:api.test:header,query,body" \
	--secret "t1:SHORT:abc12:api.test" \
	--reload-secret "t1:KEY:$VALUE_NEW:api.test" \
	--reload-secret "t1:QKEY:$VALUE2:api.test:header,query,body" \
	--sandbox "sb1:t1:10.238.0.2:api.test,other.test:KEY=$PH,QKEY=$PH2,SHORT=$PH3" \
	--sandbox "sb2:t2:10.238.0.6:*,10.0.0.0/8" \
	--ready-file "$w/proxy-ca.pem" >"$w/audit.out" 2>"$w/proxy.log" &
pxpid=$!
pids="$pids $pxpid"
for f in up.api up.other up.evil proxy-ca.pem; do
	sg_wait_for test -f "$w/$f" || { cat "$w/proxy.log"; fail "$f did not appear"; }
done

ip netns exec "$GNS" python3 "$here/proxycases.py" \
	--cases "$SG_SRCDIR/tests/data/proxy" --uplog "$w/up.log" \
	--cafile "$w/proxy-ca.pem" --addr 198.51.100.2 \
	--secret "$PH=$VALUE" --secret "$PH2=$VALUE2" --audit "$w/audit.out" \
	--sub "%PH3%=$PH3" \
	${SG_PROXY_CASE:+--only "$SG_PROXY_CASE"} >"$w/cases.out"
rc=$?
cat "$w/cases.out"
if [ $rc -ne 0 ]; then
	echo "--- proxy log:"; tail -n 30 "$w/proxy.log"
	fail "$(grep -c '^FAIL' "$w/cases.out") cases failed"
fi
n=$(grep -c '^ok' "$w/cases.out")
[ -n "${SG_PROXY_CASE:-}" ] || [ "$n" -ge 40 ] || fail "only $n cases ran"
# the value never in the proxy's log or its audit events
! grep -q -F -e "$VALUE" -e "$VALUE2" -e "$VALUE_NEW" "$w/proxy.log" \
	"$w/audit.out" || fail "a value in a log"
grep -q 'secret_alert' "$w/audit.out" || fail "no secret_alert event"
grep -q "secret_redacted .*secrets=KEY" "$w/audit.out" || fail "no secret_redacted event"
grep -q "secret SHORT: its value is shorter than 8 bytes" "$w/proxy.log" ||
	fail "the short secret was not refused at load"

# --- a reload: the value in force before it is still taken out ------------
# an upstream keeps the value (a webhook inspector), the secret's value
# changes, the guest asks to see what was kept: the old value must not
# come back, and the new one goes in from now on
G1() {
	ip netns exec "$GNS" curl -s --max-time 10 --cacert "$w/proxy-ca.pem" \
		--resolve api.test:443:198.51.100.2 "$@"
}
out=$(G1 -H "Authorization: Bearer $PH" -H "X-Test-Store: r1" \
	https://api.test/c-store)
nr=$(grep -c "secrets in force" "$w/proxy.log")
kill -USR1 "$pxpid"
sg_wait_for sh -c "[ \$(grep -c 'secrets in force' '$w/proxy.log') -gt $nr ]" ||
	fail "the proxy did not take the reload"
out=$(G1 -H "X-Test-Fetch: r1" https://api.test/c-fetch)
[ "$out" = "kept: Bearer $PH" ] || fail "after the reload, the kept value: $out"
out=$(G1 -H "Authorization: Bearer $PH" -H "X-Test-Echo: basic" \
	https://api.test/c-after-reload)
[ "$out" = "Bearer $PH" ] || fail "after the reload, the echo: $out"
grep -q "Bearer $VALUE_NEW" "$w/up.log" || fail "the new value did not go in"

# --- no path between sandboxes, nor from the host into one ---------------
# the first sandbox serves on 80 and 8080; the second, allowed "*" and
# 10.0.0.0/8, tries every way in, and so does a process on the host
ip netns exec "$GNS" python3 -m http.server 8080 --bind 10.238.0.2 \
	>/dev/null 2>&1 &
pids="$pids $!"
ip netns exec "$GNS" python3 -m http.server 80 --bind 10.238.0.2 \
	>/dev/null 2>&1 &
pids="$pids $!"
for p in 80 8080; do
	sg_wait_for ip netns exec "$GNS" curl -s -o /dev/null --max-time 2 \
		"http://10.238.0.2:$p/" || fail "the first sandbox's server on $p"
done
code=$(ip netns exec "$GNS2" curl -s -o "$w/pool.body" -w '%{http_code}' \
	--max-time 10 http://10.238.0.2/)
[ "$code" = 403 ] || fail "the second sandbox got $code from http://10.238.0.2/"
grep -q "a sandbox's address" "$w/pool.body" || fail "403 without the reason"
code=$(ip netns exec "$GNS2" curl -s -o /dev/null -w '%{http_code}' \
	--max-time 10 --cacert "$w/proxy-ca.pem" --resolve g1.test:443:10.238.0.2 \
	https://g1.test/)
[ "$code" = 403 ] || fail "the second sandbox got $code from https://g1.test/"
before=$(ip netns exec "$HNS" "$NPTOOL" -t sgpc reason sandbox | cut -d' ' -f1)
if ip netns exec "$GNS2" curl -s -o /dev/null --max-time 3 \
	http://10.238.0.2:8080/; then
	fail "the second sandbox reached the first on port 8080"
fi
after=$(ip netns exec "$HNS" "$NPTOOL" -t sgpc reason sandbox | cut -d' ' -f1)
[ "$after" -gt "$before" ] || fail "no drop counted as sandbox ($before, $after)"
before=$(ip netns exec "$HNS" "$NPTOOL" -t sgpc reason local | cut -d' ' -f1)
for p in 80 8080; do
	if ip netns exec "$HNS" curl -s -o /dev/null --max-time 3 \
		"http://10.238.0.2:$p/"; then
		fail "a host process reached the sandbox on port $p"
	fi
done
after=$(ip netns exec "$HNS" "$NPTOOL" -t sgpc reason local | cut -d' ' -f1)
[ "$after" -gt "$before" ] || fail "no drop counted as local ($before, $after)"
grep -q "host=g1.test.*status=403" "$w/audit.out" ||
	fail "no audit event for the refused pool address"

# --- the first sandbox's connections go with its network -----------------
# (and only its: the second's connection to an upstream stays)
code=$(ip netns exec "$GNS2" curl -s -o /dev/null -w '%{http_code}' \
	--max-time 10 --cacert "$w/proxy-ca.pem" --resolve api.test:443:198.51.100.2 \
	https://api.test/c-sb2)
[ "$code" = 200 ] || fail "the second sandbox got $code from https://api.test/"
n1=$(ip netns exec "$HNS" conntrack -L -s 10.238.0.2 2>/dev/null | grep -c src=)
[ "$n1" -gt 0 ] || fail "no connection tracking entry of the first sandbox"
ip netns exec "$HNS" "$NPTOOL" ct-flush 10.238.0.0/30 >/dev/null ||
	fail "nptool ct-flush"
n1=$(ip netns exec "$HNS" conntrack -L -s 10.238.0.2 2>/dev/null | grep -c src=)
n2=$(ip netns exec "$HNS" conntrack -L -d 10.238.0.2 2>/dev/null | grep -c src=)
[ "$n1" = 0 ] && [ "$n2" = 0 ] ||
	fail "entries of the first sandbox are left ($n1 from it, $n2 to it)"
n2=$(ip netns exec "$HNS" conntrack -L -s 10.238.0.6 2>/dev/null | grep -c src=)
[ "$n2" -gt 0 ] || fail "the second sandbox's entries went too"

! grep -q -F -e "$VALUE" -e "$VALUE2" -e "$VALUE_NEW" "$w/proxy.log" \
	"$w/audit.out" || fail "a value in a log"
if grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$w/proxy.log"; then
	fail "sanitizer reports"
fi
echo "PASS: $n cases; no path between sandboxes or from the host"
