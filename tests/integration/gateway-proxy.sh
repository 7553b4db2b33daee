#!/bin/sh
# The secrets proxy, from inside a real guest (the default image: curl,
# python3, git), against HTTPS/HTTP test upstreams in a network namespace
# this test makes (198.51.100.0/24), each recording what it received:
#   .2 api.test    approved for the secrets API_KEY, QKEY and HTTPKEY
#   .3 other.test  on allow_net, approved for nothing
#   .4 evil.test   off allow_net; also "the attacker's address"
# Upstream certificates come from a test CA (sandgate.conf extra_ca);
# names reach the proxy and the sandbox's DNS through [network] resolve.
# Checked:
#   - the guest has placeholders, the proxy CA and the *_CA_BUNDLE family;
#   - the real value reaches the approved host (Bearer, Basic, query and
#     body where opted in); the echo of it never comes back to the guest;
#   - a placeholder to another allowed host is blocked (also base64- and
#     percent-encoded) and audited; a denied host gets the 403; another
#     sandbox's placeholder is worthless; no substitution over plain HTTP
#     unless allow_http;
#   - an approved SNI sent to the attacker's address reaches the real
#     host; Host != SNI, no SNI, raw bytes on 443, ALPN h2 only, HTTP/2
#     prior knowledge, h2c, smuggling pairs are refused and not relayed;
#   - 100-continue, WebSocket, 20 pipelined requests, git over HTTPS;
#   - the real values appear nowhere in the guest (environment, /proc,
#     files), the logs or the audit log;
#   - the proxy killed (-9) is restarted, and a request made meanwhile
#     waits for it; sandgated killed (-9) adopts the sandbox and the
#     proxy, which went on: the same placeholders still work.
# Two boots: the default image (e1) and a minimal one (e2).
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v nft >/dev/null || skip "no nft"
command -v openssl >/dev/null || skip "no openssl"
[ -x "$SG_BUILDDIR/secrets/sandgate-proxy" ] || skip "sandgate-proxy not built"
getent passwd sandgate-proxy >/dev/null ||
	fail "no user sandgate-proxy (tools/quickstart creates it)"
[ -f "$SG_IMAGE_DIR/default/image.conf" ] ||
	skip "no default image in $SG_IMAGE_DIR (make image-default)"

here=$SG_SRCDIR/tests/integration
REAL_API=sk-test-0f1e2d3c4b5a69788796a5b4c3d2e1f0-REAL
REAL_Q=qk-real-7d6c5b4a39281706f5e4d3c2b1a0
REAL_HTTP=hk-real-aa55aa55aa55aa55
export SG_TEST_QKEY="$REAL_Q"	# secret.QKEY = env:SG_TEST_QKEY

# --- the test CA and the upstreams' certificate --------------------------
ca=$(mktemp -d /tmp/sgca.XXXXXX)
trap 'rm -rf "$ca"' EXIT INT TERM	# sg_setup's trap is added to below
chmod 755 "$ca"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$ca/ca.key" -out "$ca/ca.pem" -days 2 -subj "/CN=sandgate test CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	>/dev/null 2>&1 || fail "test CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$ca/up.key" -out "$ca/up.csr" -subj "/CN=api.test" >/dev/null 2>&1 ||
	fail "upstream key"
printf 'subjectAltName=DNS:api.test,DNS:other.test,DNS:evil.test\n' >"$ca/ext"
openssl x509 -req -in "$ca/up.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
	-CAcreateserial -days 2 -extfile "$ca/ext" -out "$ca/up.pem" >/dev/null 2>&1 ||
	fail "upstream certificate"
chmod 644 "$ca"/*

SG_TEST_IMAGE=default SG_TEST_MEMORY=1024 SG_TEST_POOL=10.233.0.0/24
SG_TEST_PROXY=1 SG_TEST_EXTRA_CA=$ca/ca.pem
SG_TEST_NETWORK="resolve = api.test:198.51.100.2
resolve = other.test:198.51.100.3
resolve = evil.test:198.51.100.4
resolve = down.test:198.51.100.5
resolve = badcert.test:198.51.100.2"
SG_TEST_PROXY_LINES="max_connections = 8"
sg_setup
trap 'sg_cleanup; rm -rf "$ca"' EXIT INT TERM
sg_testhost 198.51.100.2 198.51.100.3 198.51.100.4 198.51.100.5
cert=$ca/up.pem:$ca/up.key
ip netns exec "$SG_TESTNS" python3 "$here/proxyhost.py" --name api \
	--https "198.51.100.2:443:$cert" --http 198.51.100.2:80 \
	--log "$SG_T/up.log" --ready "$SG_T/up1.ready" --lifetime 900 &
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
ip netns exec "$SG_TESTNS" python3 "$here/proxyhost.py" --name other \
	--https "198.51.100.3:443:$cert" --http 198.51.100.3:80 \
	--log "$SG_T/up.log" --ready "$SG_T/up2.ready" --lifetime 900 &
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
ip netns exec "$SG_TESTNS" python3 "$here/proxyhost.py" --name attacker \
	--https "198.51.100.4:443:$cert" --http 198.51.100.4:80 \
	--log "$SG_T/up.log" --ready "$SG_T/up3.ready" --lifetime 900 &
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
for i in 1 2 3; do
	sg_wait_for test -f "$SG_T/up$i.ready" || fail "upstream $i did not start"
done
printf '%s\n' "$REAL_HTTP" >"$SG_T/httpkey"
chmod 600 "$SG_T/httpkey"

cat >>"$SG_T/tokens.conf" <<EOF
allow_net = api.test, other.test, down.test, badcert.test
secret.API_KEY = $REAL_API
secret.API_KEY.hosts = api.test
secret.QKEY = env:SG_TEST_QKEY
secret.QKEY.hosts = api.test
secret.QKEY.in = header, query, body
secret.HTTPKEY = file:$SG_T/httpkey
secret.HTTPKEY.hosts = api.test
secret.HTTPKEY.allow_http = yes
EOF
TOK2=$(sg_ctl token create t2) || fail "token create t2"
cat >>"$SG_T/tokens.conf" <<EOF
image = minimal
memory_mb = 768
allow_net = api.test
secret.API_KEY = $REAL_API
secret.API_KEY.hosts = api.test
EOF
sg_wait_for sh -c "[ \$(grep -c 'secrets in force' '$SG_T/log') -ge 3 ]" ||
	fail "the proxy did not get the reloaded secrets"

G() { sg_ssh e1@127.0.0.1 "$@"; }
expect() {	# expect WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
has() {		# has WHAT TEXT NEEDLE
	case $2 in *"$3"*) ;; *) fail "$1: '$3' not in: $2" ;; esac
}
hasnt() {
	case $2 in *"$3"*) fail "$1: '$3' found in: $2" ;; esac
}
# uplog LABEL PATH: the last request LABEL received for PATH, as JSON
uplog() {
	python3 - "$SG_T/up.log" "$1" "$2" <<'EOF'
import json, sys
last = ""
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("upstream") == sys.argv[2] and r.get("target", "").split("?")[0] == sys.argv[3]:
        last = line.strip()
print(last)
EOF
}
CURL="curl -sS --max-time 20"

G 'cat >/root/probe.py' <"$here/proxyprobe.py" || fail "boot e1"
# runs the probe in e1 with each argument quoted for the remote shell
PR() {
	_q=
	for _a in "$@"; do
		_q="$_q '$(printf %s "$_a" | sed "s/'/'\\\\''/g")'"
	done
	G "python3 /root/probe.py$_q --cafile /etc/ssl/certs/ca-certificates.crt"
}

note "the guest: placeholders in the environment, the CA bundle variables"
env=$(G env)
ph=$(echo "$env" | sed -n 's/^API_KEY=//p')
qph=$(echo "$env" | sed -n 's/^QKEY=//p')
hph=$(echo "$env" | sed -n 's/^HTTPKEY=//p')
echo "$ph" | grep -Eq '^SANDGATE_SECRET_[0-9a-f]{32}$' || fail "API_KEY is '$ph'"
echo "$qph" | grep -Eq '^SANDGATE_SECRET_[0-9a-f]{32}$' || fail "QKEY is '$qph'"
[ "$ph" != "$qph" ] || fail "two secrets share a placeholder"
for v in SSL_CERT_FILE REQUESTS_CA_BUNDLE NODE_EXTRA_CA_CERTS CURL_CA_BUNDLE \
	GIT_SSL_CAINFO DENO_CERT; do
	has "$v" "$env" "$v=/etc/ssl/certs/ca-certificates.crt"
done

note "the approved host gets the real value: Bearer, Basic, query and body"
out=$(G "$CURL https://api.test/bearer -H \"Authorization: Bearer \$API_KEY\"") ||
	{ [ -n "${SG_HOLD:-}" ] && sleep 120; fail "curl api.test: $out"; }
rec=$(uplog api /bearer)
has "api.test got the real value" "$rec" "Bearer $REAL_API"
has "the echo comes back" "$out" "Bearer $ph"
hasnt "the echo of the real value" "$out" "$REAL_API"
G "$CURL -u \"user:\$API_KEY\" https://api.test/basic" >/dev/null || fail "curl -u"
b64=$(printf 'user:%s' "$REAL_API" | base64 -w0)
has "Basic auth" "$(uplog api /basic)" "Basic $b64"
out=$(G "$CURL \"https://api.test/q?k=\$QKEY&a=\$API_KEY\" -d \"{\\\"q\\\":\\\"\$QKEY\\\"}\"") ||
	fail "query/body: $out"
rec=$(uplog api /q)
has "QKEY in the query" "$rec" "k=$REAL_Q"
[ "$(echo "$rec" | grep -o "$REAL_Q" | wc -l)" -ge 2 ] || fail "QKEY in the body: $rec"
has "API_KEY (header only) stays in the query" "$rec" "a=$ph"
hasnt "the echo of QKEY" "$out" "$REAL_Q"
G "$CURL https://api.test/chunked -H \"X-Key: \$API_KEY\"" >"$SG_T/ch.out" ||
	fail "chunked echo"
hasnt "chunked echo" "$(cat "$SG_T/ch.out")" "$REAL_API"
has "chunked echo" "$(cat "$SG_T/ch.out")" "$ph"
note "python requests-style client (urllib) through the proxy CA"
out=$(G "python3 -c 'import os,urllib.request as u; r=u.Request(\"https://api.test/py\", headers={\"X-Api-Key\": os.environ[\"API_KEY\"]}); print(u.urlopen(r).status)'")
expect "python urllib" "$out" "200"
has "python's header" "$(uplog api /py)" "$REAL_API"
note "git over HTTPS trusts the proxy CA"
out=$(G 'git ls-remote https://api.test/repo.git 2>&1')
hasnt "git TLS" "$out" "SSL certificate"
hasnt "git TLS" "$out" "certificate problem"

note "blocked: a placeholder to a host not approved for it, however encoded"
# complete requests other.test received (a head may arrive before a
# placeholder in the body is seen; the body never does)
other_reqs() { grep '"upstream": "other"' "$SG_T/up.log" | grep -c '"target"'; }
b0=$(other_reqs)
out=$(G "$CURL -o /dev/null -w '%{http_code}' https://other.test/x -H \"X-Key: \$API_KEY\"")
expect "other.test with the placeholder" "$out" "403"
out=$(G "$CURL https://other.test/x -H \"X-Key: \$API_KEY\"")
has "403 text" "$out" "placeholder of secret API_KEY"
out=$(G "$CURL -o /dev/null -w '%{http_code}' https://other.test/b64 --data \"\$(printf %s \"\$API_KEY\" | base64)\"")
expect "base64 in the body" "$out" "403"
out=$(G "$CURL -o /dev/null -w '%{http_code}' \"https://other.test/pct?x=\$(echo \$API_KEY | sed 's/_/%5F/g')\"")
expect "percent-encoded in the query" "$out" "403"
# split across writes: the body sent in two parts, 1 s apart
out=$(PR tls --sni other.test --gap 1 \
	--send "POST /split HTTP/1.1\r\nHost: other.test\r\nContent-Length: 48\r\n\r\n$(printf %s "$ph" | head -c 20)" \
	--send "$(printf %s "$ph" | tail -c 28)")
has "split placeholder" "$out" '"statuses": [403]'
expect "other.test received no request" "$(other_reqs)" "$b0"
for part in "$(printf %s "$ph" | head -c 20)" "$(printf %s "$ph" | tail -c 28)"; do
	! grep '"upstream": "other"' "$SG_T/up.log" | grep -q -e "$part" ||
		fail "other.test received a part of the placeholder"
done
grep -q '"event":"secret_alert".*"secret":"API_KEY"' "$SG_T/audit.jsonl" ||
	fail "no secret_alert in the audit log"

note "denied: a host off allow_net gets a 403 naming it, over a minted certificate"
out=$(G "$CURL --resolve evil.test:443:198.51.100.4 https://evil.test/")
has "evil.test" "$out" "evil.test (port 443) is not on this sandbox's allow_net"
# the monitor writes what the proxy sent on the feed: not before the 403
sg_wait_for grep -q '"event":"proxy_request".*"host":"evil.test".*"decision":"denied"' \
	"$SG_T/audit.jsonl" || fail "no denied event in the audit log"

note "an approved SNI sent to the attacker's address still reaches api.test"
G "$CURL --resolve api.test:443:198.51.100.4 https://api.test/detour" >/dev/null ||
	fail "detour"
[ -n "$(uplog api /detour)" ] || fail "api.test did not get /detour"
[ -z "$(uplog attacker /detour)" ] || fail "the attacker got /detour"

note "plain HTTP: no substitution unless allow_http"
out=$(G "$CURL -o /dev/null -w '%{http_code}' http://api.test/h1 -H \"X: \$API_KEY\"")
expect "API_KEY over http" "$out" "403"
G "$CURL http://api.test/h2 -H \"X: \$HTTPKEY\"" >/dev/null || fail "HTTPKEY over http"
has "HTTPKEY over http" "$(uplog api /h2)" "$REAL_HTTP"

note "refused and not relayed: Host != SNI, no SNI, raw bytes, h2, smuggling"
n0=$(wc -l <"$SG_T/up.log")
out=$(PR tls --sni api.test --send 'GET /mis HTTP/1.1\r\nHost: other.test\r\n\r\n')
has "Host != SNI" "$out" '"statuses": [421]'
out=$(PR tls --addr 198.51.100.2 --no-sni --send 'GET / HTTP/1.1\r\nHost: api.test\r\n\r\n')
has "no SNI" "$out" '"handshake": false'
out=$(G python3 /root/probe.py raw 198.51.100.2:443 --send "'GET / HTTP/1.1\r\nHost: api.test\r\n\r\n'")
has "raw bytes on 443" "$out" '"received": ""'
out=$(PR tls --sni api.test --alpn h2 --send 'x')
has "ALPN h2 only" "$out" '"handshake": false'
out=$(PR tls --sni api.test --send 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
has "HTTP/2 prior knowledge" "$out" '"statuses": [505]'
out=$(PR tls --sni api.test --send 'GET /h2c HTTP/1.1\r\nHost: api.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n')
has "h2c" "$out" '"statuses": [400]'
for req in \
	'POST /s1 HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
	'POST /s2 HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!' \
	'POST /s3 HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n' \
	'GET /s4 HTTP/1.1\r\nHost: api.test\r\nX-A: 1\r\n folded\r\n\r\n' \
	'GET /s5 HTTP/1.1\nHost: api.test\n\n' \
	'GET /s6 HTTP/1.1\r\nHost: api.test\r\nHost: other.test\r\n\r\n'; do
	out=$(PR tls --sni api.test --send "$req")
	echo "$out" | grep -Eq '"statuses": \[(400|501)\]' ||
		fail "smuggling case $req: $out"
done
expect "nothing of these reached an upstream" "$(wc -l <"$SG_T/up.log")" "$n0"

note "100-continue, WebSocket, 20 pipelined requests"
out=$(PR expect --sni api.test --host api.test --path /cont --body hello)
has "100-continue" "$out" '"got_100": true'
has "100-continue" "$out" '"status": 200'
out=$(PR ws --sni api.test --host api.test --path /ws --message "hi there")
has "WebSocket" "$out" '"status": 101'
has "WebSocket echo" "$out" '"echo": "hi '
out=$(PR pipeline --sni api.test --host api.test --count 20)
has "pipelined" "$out" '"count": 20'
[ "$(echo "$out" | grep -o 200 | wc -l)" -ge 20 ] || fail "pipelined: $out"

note "upstream failures: 502 with the reason; Expect answered after the checks"
out=$(G "$CURL https://down.test/")
has "down.test" "$out" "down.test (198.51.100.5)"
out=$(G "$CURL -w ' %{http_code}' https://badcert.test/")
has "badcert.test" "$out" "the certificate of badcert.test is not trusted"
has "badcert.test" "$out" " 502"
out=$(PR expect --addr 198.51.100.4 --sni evil.test --host evil.test --path /e --body x)
has "Expect to a denied host" "$out" '"got_100": false'
has "Expect to a denied host" "$out" '"status": 403'

note "at most max_connections (8) at once per sandbox"
out=$(G "python3 -c '
import socket, ssl
c = ssl.create_default_context()
held, ok = [], 0
for i in range(10):
    try:
        s = c.wrap_socket(socket.create_connection((\"api.test\", 443), timeout=5), server_hostname=\"api.test\")
        held.append(s)
        ok += 1
    except OSError:
        pass
print(ok)
'")
expect "connections held at once" "$out" "8"
G "$CURL -o /dev/null -w '%{http_code}' https://api.test/after-cap" | grep -q 200 ||
	fail "a connection after the held ones were closed"

note "another sandbox's placeholder is worthless"
ph2=$(sg_ssh -T "$TOK2" e2@127.0.0.1 'echo $API_KEY') || fail "boot e2"
echo "$ph2" | grep -Eq '^SANDGATE_SECRET_[0-9a-f]{32}$' || fail "e2's API_KEY '$ph2'"
[ "$ph2" != "$ph" ] || fail "two sandboxes share a placeholder"
out=$(G "$CURL -o /dev/null -w '%{http_code}' https://api.test/foreign -H 'X-Key: $ph2'")
expect "e2's placeholder from e1" "$out" "403"
[ -z "$(uplog api /foreign)" ] || fail "api.test got e2's placeholder"

note "the real values are nowhere in the guest, the logs or the audit"
for v in "$REAL_API" "$REAL_Q" "$REAL_HTTP"; do
	# a pattern that is not the value itself: grep's own command line
	# must not match
	re=$(printf '%s' "$v" | sed 's/^\(..........\)\(.\)/\1[\2]/')
	out=$(G "grep -rls -e '$re' /proc/[0-9]*/environ /proc/[0-9]*/cmdline /etc /root /tmp /home /var /run 2>/dev/null; env | grep -c -e '$re'")
	expect "value in the guest" "$out" "0"
	! grep -q -e "$v" "$SG_T/log" "$SG_T/audit.jsonl" || fail "a value in the logs"
done

note "the proxy killed (-9) is restarted; sandgated killed (-9) adopts"
ppid=$(sed -n 's/.*sandgate-proxy started (pid \([0-9]*\)).*/\1/p' "$SG_T/log" | tail -n 1)
[ -n "$ppid" ] || fail "no proxy pid in the log"
kill -9 "$ppid"
# at once, not waiting for the new proxy: the connection waits in the
# listen queue until the new one has every sandbox's policy (START)
G "$CURL https://api.test/after-proxy -H \"X-K: \$API_KEY\"" >/dev/null ||
	fail "a request while the proxy restarts"
# logged just after START was sent, which may be after the answer
sg_wait_for sh -c "[ \$(grep -c 'sandgate-proxy started' '$SG_T/log') -ge 2 ]" ||
	fail "the proxy was not restarted"
has "after the proxy restart" "$(uplog api /after-proxy)" "$REAL_API"
ppid=$(sed -n 's/.*sandgate-proxy started (pid \([0-9]*\)).*/\1/p' "$SG_T/log" | tail -n 1)
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null
# the proxy goes on serving the guests with what it knows, and the next
# sandgated finds it on its rendezvous socket and adopts it
sg_wait_for grep -q "the monitor closed the feed: serving on" "$SG_T/log" ||
	fail "the proxy did not see sandgated go"
kill -0 "$ppid" || fail "the proxy ended with sandgated"
sg_start
sg_wait_for grep -q "sandbox .* adopted" "$SG_T/log" || fail "no adoption"
sg_wait_for grep -q "sandgate-proxy adopted (pid $ppid)" "$SG_T/log" ||
	fail "the proxy was not adopted: $(grep proxy "$SG_T/log" | tail -n 5)"
out=$(G "echo \$API_KEY; $CURL https://api.test/after-restart -H \"X-K: \$API_KEY\" >/dev/null && echo ok")
expect "after the restart" "$out" "$ph
ok"
has "after the restart" "$(uplog api /after-restart)" "$REAL_API"

note "sandgated restarted while libvirtd is down: the proxy keeps every policy"
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null
SG_PID=
sg_stop_libvirtd
nl=$(grep -c "cannot list running sandboxes" "$SG_T/log")
sg_start
sg_wait_for sh -c "[ \$(grep -c 'sandgate-proxy adopted (pid $ppid)' '$SG_T/log') -ge 2 ]" ||
	fail "the proxy was not adopted again"
sg_wait_for sh -c "[ \$(grep -c 'cannot list running sandboxes' '$SG_T/log') -gt $nl ]" ||
	fail "sandgated reached a libvirtd that is down"
! grep -q "dropped (gone while sandgated restarted)" "$SG_T/log" ||
	fail "the proxy dropped policies while libvirt was unreachable"
na=$(grep -c "sandboxes running (libvirt)" "$SG_T/log")
sg_start_libvirtd
sg_wait_for sh -c "[ \$(grep -c 'sandboxes running (libvirt)' '$SG_T/log') -gt $na ]" ||
	fail "no adoption once libvirtd is back"
out=$(G "$CURL https://api.test/after-libvirt -H \"X-K: \$API_KEY\" >/dev/null && echo ok")
expect "after libvirtd came back" "$out" "ok"
has "after libvirtd came back" "$(uplog api /after-libvirt)" "$REAL_API"
! grep -q "dropped (gone while sandgated restarted)" "$SG_T/log" ||
	fail "the proxy dropped a policy at the adoption"
for v in "$REAL_API" "$REAL_Q" "$REAL_HTTP"; do
	! grep -q -e "$v" "$SG_T/log" "$SG_T/audit.jsonl" || fail "a value in the logs"
done
# under ASan+UBSan, the proxy's and sandgated's reports land in the log
if grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$SG_T/log"; then
	fail "sanitizer reports in the log"
fi
echo "PASS"
