#!/bin/sh
# Exposed ports ([expose], sandgate-front) with real clients: curl and
# python3 against a guest's HTTP/1.1 server (tests/integration/
# exposeserver.py, the default image's python3) through the front's TLS
# (a CA and a *.sandgate.test certificate made here).
#  - `expose web 8000` prints the URL and the signed link (--json too);
#    ls and info show the port; the URL is private: no credential 401,
#    another token's Bearer 403, the owner's Bearer 200; the link sets a
#    cookie for that host only (HttpOnly, Secure, SameSite=Lax) and
#    redirects to the clean URL, where the cookie works; a forged link,
#    an expired one (--ttl), a cookie of another exposed port: 403;
#  - the guest sees X-Forwarded-For/Proto/Host and never the token nor
#    sandgate's cookie; keep-alive (one guest connection for three
#    requests), pipelining, chunked and 4 MiB bodies both ways, a
#    WebSocket echo;
#  - bad input: unknown host, a port not exposed, an unknown label (404),
#    an oversized head (431), smuggling pairs (400), a slow head (408),
#    a port nothing listens on (502); nothing of them reaches the guest;
#  - --public: no credential needed, visible in ls;
#  - another sandbox's port: the front's user cannot reach it (nftables),
#    nor can root; unexpose and the sandbox's end: 404;
#  - every request audited (expose_request); the exposure survives a
#    restart of sandgated and a kill -9 of the front.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v python3 >/dev/null || skip "no python3"
command -v openssl >/dev/null || skip "no openssl"
command -v curl >/dev/null || skip "no curl"
getent passwd sandgate-front >/dev/null ||
	skip "no user sandgate-front (tools/quickstart makes it)"
[ -f "$SG_IMAGE_DIR/default/image.conf" ] || skip "no default image in $SG_IMAGE_DIR"

T=$(mktemp -d /tmp/sgexp.XXXXXX)
SG_EXTRA_DIRS="$T"
# a CA and a wildcard certificate for the test's domain
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=sgtest expose CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign" >/dev/null 2>&1 || fail "openssl CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/leaf.key" -out "$T/leaf.csr" -subj "/CN=*.sandgate.test" \
	>/dev/null 2>&1 || fail "openssl leaf key"
printf 'subjectAltName=DNS:*.sandgate.test\nextendedKeyUsage=serverAuth\n' >"$T/ext"
openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	-CAcreateserial -days 2 -extfile "$T/ext" -out "$T/leaf.pem" \
	>/dev/null 2>&1 || fail "openssl leaf"
chmod 600 "$T/leaf.key"

FP=$(sg_free_port)
SG_TEST_IMAGE=default sg_setup "[expose]" "listen = 127.0.0.1:$FP" \
	"domain = sandgate.test" "cert = $T/leaf.pem" "key = $T/leaf.key" \
	"program = $SG_BUILDDIR/expose/sandgate-front" "max_ports = 3"
sg_wait_for grep -q "sandgate-front started (pid [0-9]*) on 127.0.0.1 port $FP" "$SG_T/log" ||
	fail "no front: $(grep -i front "$SG_T/log")"
TOK2=$(sg_ctl token create t2) || fail "token create t2"
sg_wait_for grep -q "tokens reloaded.*2 tokens" "$SG_T/log" || fail "no reload"

C() { sg_ssh sandgate@127.0.0.1 "$@"; }
J() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# Q URL [curl options]: status, then the body, over the front
Q() {
	_u=$1
	shift
	_h=${_u#https://}
	_h=${_h%%/*}
	_h=${_h%%:*}
	curl -s --max-time 20 --cacert "$T/ca.pem" --resolve "$_h:$FP:127.0.0.1" \
		-o "$T/body" -w '%{http_code}' "$@" "$_u"
}
PY() { python3 "$SG_SRCDIR/tests/integration/exposeclient.py" "$T/ca.pem" "127.0.0.1:$FP" "$@"; }

note "a named sandbox of the default image runs the guest's server"
C create web >/dev/null 2>"$SG_T/err" || fail "create web: $(cat "$SG_T/err")"
sg_ssh web@127.0.0.1 'cat >/root/s.py' <"$SG_SRCDIR/tests/integration/exposeserver.py" ||
	fail "copy the server"
sg_ssh web@127.0.0.1 '{ setsid python3 /root/s.py 8000 </dev/null >/dev/null 2>&1 & } ;
	{ setsid python3 /root/s.py 8001 </dev/null >/dev/null 2>&1 & } ;
	i=0; until python3 -c "import socket; socket.create_connection((\"127.0.0.1\", 8001)).close()" 2>/dev/null ||
	[ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done' || fail "start the server"

note "expose prints the URL and the signed link; the URL is private"
C expose web 8000 >"$T/exp" 2>"$SG_T/err" || fail "expose: $(cat "$SG_T/err")"
[ "$(wc -l <"$T/exp")" = 2 ] || fail "expose printed: $(cat "$T/exp")"
URL=$(sed -n 1p "$T/exp")
LINK=$(sed -n 2p "$T/exp")
case "$URL" in
https://8000-web-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].sandgate.test:$FP/) ;;
*) fail "URL: $URL" ;;
esac
case "$LINK" in "${URL}__sandgate/link?t="*) ;; *) fail "link: $LINK" ;; esac
HOST=${URL#https://}
HOST=${HOST%%:*}
C expose web 8000 --json | J 'd["url"], d["public"], d["port"], d["link"].startswith(d["url"])' \
	>"$T/j" || fail "expose --json"
[ "$(cat "$T/j")" = "$URL False 8000 True" ] || fail "expose --json: $(cat "$T/j")"
C ls | grep -q "  8000\$" || fail "ls: $(C ls)"
C info web | grep -q "^exposed:     8000 $URL\$" || fail "info: $(C info web)"
[ "$(C info web --json | J 'd["exposed"]')" = "[{'port': 8000, 'public': False, 'url': '$URL'}]" ] ||
	fail "info --json: $(C info web --json)"
wid=$(C info web --json | J 'd["id"]')
nft list set inet "$SG_NFT_TABLE" exposed | grep -q "\"sg-$wid\" \. 8000" ||
	fail "the front may not reach it: $(nft list set inet "$SG_NFT_TABLE" exposed)"

[ "$(Q "$URL")" = 401 ] || fail "no credential: $(cat "$T/body")"
grep -q "this URL is private" "$T/body" || fail "401 body: $(cat "$T/body")"
curl -s --cacert "$T/ca.pem" --resolve "$HOST:$FP:127.0.0.1" -D - -o /dev/null "$URL" |
	grep -qi '^www-authenticate: Bearer realm="sandgate"' || fail "no WWW-Authenticate"
[ "$(Q "$URL" -H "Authorization: Bearer $TOK2")" = 403 ] || fail "t2's token: $(cat "$T/body")"
grep -q "does not own this URL" "$T/body" || fail "403 body: $(cat "$T/body")"
[ "$(Q "$URL" -H "Authorization: Bearer $SG_TOKEN")" = 200 ] || fail "owner: $(cat "$T/body")"
[ "$(cat "$T/body")" = "hello from the sandbox" ] || fail "body: $(cat "$T/body")"

note "what the guest sees: forwarding fields, never the token or the cookie"
[ "$(Q "${URL}echo?q=1" -H "Authorization: Bearer $SG_TOKEN" -H "X_Forwarded_For: 6.6.6.6" \
	-H "X-Forwarded-For: 6.6.6.6" -H "Cookie: a=1; __Host-sandgate=x; b=2")" = 200 ] ||
	fail "echo: $(cat "$T/body")"
J 'sorted((k.lower(), v) for k, v in d["headers"] if k.lower().replace("_", "-") in
	("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "authorization",
	 "cookie", "host")), d["path"]' <"$T/body" >"$T/seen"
[ "$(cat "$T/seen")" = "[('cookie', 'a=1; b=2'), ('host', '$HOST:$FP'), ('x-forwarded-for', '127.0.0.1'), ('x-forwarded-host', '$HOST:$FP'), ('x-forwarded-proto', 'https')] /echo?q=1" ] ||
	fail "the guest saw: $(cat "$T/seen")"

note "the signed link: a cookie for this host, then the clean URL"
curl -s --max-time 20 --cacert "$T/ca.pem" --resolve "$HOST:$FP:127.0.0.1" \
	-D - -o /dev/null "$LINK" | tr -d '\r' >"$T/h" || fail "link"
head -n 1 "$T/h" | grep -q "^HTTP/1.1 303" || fail "link: $(cat "$T/h")"
grep -qi "^location: /\$" "$T/h" || fail "link location: $(cat "$T/h")"
grep -i "^set-cookie: __Host-sandgate=[0-9]*\.[A-Za-z0-9_-]*; Max-Age=[0-9]*; Path=/; Secure; HttpOnly; SameSite=Lax" "$T/h" >/dev/null ||
	fail "link cookie: $(grep -i set-cookie "$T/h")"
[ "$(Q "$LINK" -L -c "$T/jar" -b "$T/jar")" = 200 ] || fail "link followed: $(cat "$T/body")"
[ "$(cat "$T/body")" = "hello from the sandbox" ] || fail "after the link: $(cat "$T/body")"
[ "$(Q "${URL}echo" -b "$T/jar")" = 200 ] || fail "cookie: $(cat "$T/body")"
J '[v for k, v in d["headers"] if k.lower() == "cookie"]' <"$T/body" | grep -q "^\[\]\$" ||
	fail "the guest saw the cookie: $(cat "$T/body")"
# the cookie from a page of another origin (another exposed port)
[ "$(Q "${URL}echo" -b "$T/jar" -H "Origin: https://8001-web-x.sandgate.test:$FP")" = 403 ] ||
	fail "a cross-origin request with the cookie: $(cat "$T/body")"
grep -q "another site" "$T/body" || fail "cross-origin 403 body: $(cat "$T/body")"
[ "$(Q "${URL}echo" -b "$T/jar" -H "Origin: https://$HOST:$FP")" = 200 ] ||
	fail "a same-origin request with the cookie: $(cat "$T/body")"
# a forged link, and one for another port
bad=$(printf '%s' "$LINK" | sed 's/.$/A/')
[ "$bad" = "$LINK" ] && bad=$(printf '%s' "$LINK" | sed 's/.$/B/')
[ "$(Q "$bad")" = 403 ] || fail "forged link: $(cat "$T/body")"
grep -q "this link is not valid" "$T/body" || fail "forged link body: $(cat "$T/body")"
C expose web 8001 --ttl 1s >"$T/exp1" || fail "expose 8001"
URL1=$(sed -n 1p "$T/exp1")
LINK1=$(sed -n 2p "$T/exp1")
HOST1=${URL1#https://}
HOST1=${HOST1%%:*}
sg_wait_for sh -c "curl -s --cacert '$T/ca.pem' --resolve '$HOST1:$FP:127.0.0.1' '$LINK1' | grep -q 'has expired'" ||
	fail "an expired link: $(Q "$LINK1"; cat "$T/body")"
# port 8000's cookie sent to port 8001's host
cookie=$(sed -n 's/.*__Host-sandgate\t//p' "$T/jar")
[ -n "$cookie" ] || fail "no cookie in the jar"
[ "$(Q "$URL1" -H "Cookie: __Host-sandgate=$cookie")" = 403 ] ||
	fail "another port's cookie: $(cat "$T/body")"
grep -q "not valid for this URL" "$T/body" || fail "cookie 403 body: $(cat "$T/body")"

note "bodies, keep-alive, pipelining, WebSocket"
AUTH="Bearer $SG_TOKEN"
[ "$(Q "${URL}stream" -H "Authorization: $AUTH")" = 200 ] || fail "stream"
[ "$(cat "$T/body")" = "chunk0
chunk1
chunk2" ] || fail "stream body: $(cat "$T/body")"
[ "$(Q "${URL}big" -H "Authorization: $AUTH")" = 200 ] || fail "big"
want=$(python3 -c "import hashlib; print(hashlib.sha256((b'0123456789abcdef' * 65536) * 4).hexdigest())")
[ "$(sha256sum <"$T/body" | cut -d' ' -f1)" = "$want" ] || fail "4 MiB body damaged"
head -c 4194304 /dev/urandom >"$T/up"
up=$(sha256sum <"$T/up" | cut -d' ' -f1)
[ "$(Q "${URL}up" -H "Authorization: $AUTH" --data-binary @"$T/up")" = 200 ] || fail "upload"
[ "$(J 'd["len"], d["sha256"]' <"$T/body")" = "4194304 $up" ] || fail "upload: $(cat "$T/body")"
[ "$(Q "${URL}up" -H "Authorization: $AUTH" -H "Transfer-Encoding: chunked" \
	--data-binary @"$T/up")" = 200 ] || fail "chunked upload"
[ "$(J 'd["len"], d["sha256"]' <"$T/body")" = "4194304 $up" ] || fail "chunked upload: $(cat "$T/body")"
PY "$HOST" keepalive "$AUTH" 3 >"$T/ka" || fail "keepalive"
[ "$(cut -d' ' -f1 "$T/ka" | tr '\n' ' ')" = "200 200 200 " ] || fail "keepalive: $(cat "$T/ka")"
[ "$(cut -d' ' -f2 "$T/ka" | sort -u | wc -l)" = 1 ] || fail "keep-alive to the guest: $(cat "$T/ka")"
[ "$(PY "$HOST" pipeline "$AUTH")" = "HTTP/1.1 200 OK
HTTP/1.1 200 OK" ] || fail "pipelining: $(PY "$HOST" pipeline "$AUTH")"
[ "$(PY "$HOST" ws "$AUTH")" = ws-ok ] || fail "websocket: $(PY "$HOST" ws "$AUTH")"

note "bad input: a clear status, nothing for the guest"
before=$(grep -c '"event":"expose_request"' "$SG_T/audit.jsonl")
[ "$(Q "https://8000-web-00000000.sandgate.test:$FP/" -k)" = 404 ] || fail "unknown label"
grep -q "nothing is exposed at this address" "$T/body" || fail "404 body: $(cat "$T/body")"
tag=${HOST#8000-web-}
tag=${tag%%.*}
[ "$(Q "https://9999-web-$tag.sandgate.test:$FP/" -H "Authorization: $AUTH")" = 404 ] ||
	fail "a port not exposed"
[ "$(curl -s -k --max-time 20 --resolve "other.test:$FP:127.0.0.1" -o /dev/null -w '%{http_code}' \
	"https://other.test:$FP/")" = 404 ] || fail "a host not under the domain"
python3 -c "print('GET / HTTP/1.1\nHost: $HOST\nX-Big: ' + 'a' * 40000 + '\n')" >"$T/req"
[ "$(PY "$HOST" raw "$T/req")" = "HTTP/1.1 431 Request Header Fields Too Large" ] ||
	fail "oversized head: $(PY "$HOST" raw "$T/req")"
printf 'POST / HTTP/1.1\nHost: %s\nAuthorization: %s\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\n\nGET /echo HTTP/1.1\nHost: %s\n\n' \
	"$HOST" "$AUTH" "$HOST" >"$T/req"
[ "$(PY "$HOST" raw "$T/req")" = "HTTP/1.1 400 Bad Request" ] || fail "CL+TE: $(PY "$HOST" raw "$T/req")"
printf 'POST / HTTP/1.1\nHost: %s\nAuthorization: %s\nContent-Length: 5\nContent-Length: 6\n\nhello!' \
	"$HOST" "$AUTH" >"$T/req"
[ "$(PY "$HOST" raw "$T/req")" = "HTTP/1.1 400 Bad Request" ] || fail "CL twice"
[ "$(PY "$HOST" slow)" = "HTTP/1.1 408 Request Timeout" ] || fail "slow head: $(PY "$HOST" slow)"
C expose web 8002 >/dev/null || fail "expose 8002"
[ "$(Q "https://8002-web-$tag.sandgate.test:$FP/" -H "Authorization: $AUTH")" = 502 ] ||
	fail "nothing listens: $(cat "$T/body")"
grep -q "nothing listens on port 8002" "$T/body" || fail "502 body: $(cat "$T/body")"
C expose web 8003 2>"$SG_T/err" && fail "a fourth port (max_ports = 3)"
grep -q "the most a sandbox may have" "$SG_T/err" || fail "max_ports: $(cat "$SG_T/err")"
C unexpose web 8002 >/dev/null || fail "unexpose 8002"
C unexpose web 8002 2>"$SG_T/err" && fail "unexpose twice"
grep -q "port 8002 of web is not exposed" "$SG_T/err" || fail "unexpose twice: $(cat "$SG_T/err")"
# the guest's server saw none of the refused requests
after=$(grep -c '"event":"expose_request"' "$SG_T/audit.jsonl")
[ $((after - before)) -ge 8 ] || fail "refusals not audited: $before -> $after"
grep '"event":"expose_request"' "$SG_T/audit.jsonl" | grep '"status":"431"' |
	grep -q '"client":"127.0.0.1"' || fail "no audit of the 431"
grep '"event":"expose_request"' "$SG_T/audit.jsonl" | grep -q \
	"\"sandbox\":\"[0-9a-f]*\",\"token\":\"t1\",\"port\":\"8000\",\"host\":\"$HOST\",\"method\":\"GET\",\"path\":\"/echo\",\"status\":\"200\",\"bytes\":\"[0-9]*\",\"bytes_in\":\"0\",\"client\":\"127.0.0.1\",\"auth\":\"bearer\"" ||
	fail "audit of a request: $(grep expose_request "$SG_T/audit.jsonl" | grep /echo | head -n 2)"
grep expose_request "$SG_T/audit.jsonl" | grep -q 'q=1' && fail "a query in the audit"

note "--public: anyone with the URL; ls says so"
C expose web 8001 --public >/dev/null || fail "expose --public"
[ "$(Q "$URL1")" = 200 ] || fail "public: $(cat "$T/body")"
C ls | grep -q "  8000,8001(public)\$" || fail "ls: $(C ls)"

note "another sandbox's port: neither the front's user nor root reaches it"
C create other --image minimal >/dev/null 2>"$SG_T/err" || fail "create other: $(cat "$SG_T/err")"
oaddr=$(sg_ssh other@127.0.0.1 '{ setsid httpd -f -p 8000 -h /etc </dev/null >/dev/null 2>&1 & } ; ip -4 -o addr show eth0' |
	sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p')
[ -n "$oaddr" ] || fail "other's address"
waddr=$(sg_ssh web@127.0.0.1 'ip -4 -o addr show eth0' | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p')
# the front's user reaches web:8000 (exposed) but not other:8000
setpriv --reuid sandgate-front --regid sandgate-front --clear-groups \
	curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$waddr:8000/" >"$T/c" || true
[ "$(cat "$T/c")" = 200 ] || fail "the front's user cannot reach web:8000: $(cat "$T/c")"
setpriv --reuid sandgate-front --regid sandgate-front --clear-groups \
	curl -s --max-time 3 -o /dev/null "http://$oaddr:8000/" && fail "the front's user reached other:8000"
curl -s --max-time 3 -o /dev/null "http://$waddr:8000/" && fail "root reached web:8000"

note "the exposure outlives sandgated's restart and the front's death"
kill "$SG_PID"
wait "$SG_PID" 2>/dev/null
sg_start
sg_wait_for grep -q "found the sandgate-front of the sandgated before" "$SG_T/log" ||
	fail "front not adopted: $(grep -i front "$SG_T/log" | tail -n 3)"
sg_wait_for sh -c "[ \"\$(curl -s --cacert '$T/ca.pem' --resolve '$HOST:$FP:127.0.0.1' -o /dev/null -w '%{http_code}' -H 'Authorization: $AUTH' '$URL')\" = 200 ]" ||
	fail "after the restart: $(Q "$URL" -H "Authorization: $AUTH"; cat "$T/body")"
[ "$(Q "$URL" -b "$T/jar")" = 200 ] || fail "cookie after the restart"
fpid=$(pgrep -u sandgate-front -x sandgate-front | head -n 1)
[ -n "$fpid" ] || fail "no front process"
kill -9 "$fpid"
sg_wait_for grep -q "the adopted sandgate-front went away" "$SG_T/log" ||
	fail "the front's end unnoticed: $(grep -i front "$SG_T/log" | tail -n 3)"
sg_wait_long sh -c "[ \"\$(curl -s --cacert '$T/ca.pem' --resolve '$HOST:$FP:127.0.0.1' -o /dev/null -w '%{http_code}' -H 'Authorization: $AUTH' '$URL')\" = 200 ]" ||
	fail "after the front's death: $(grep -i front "$SG_T/log" | tail -n 3)"
# [expose] changed while sandgated was down: the adopted front is replaced
kill "$SG_PID"
wait "$SG_PID" 2>/dev/null
sed -i 's/^max_ports = 3$/max_ports = 3\nmax_connections = 32/' "$SG_T/sandgate.conf"
sg_start
sg_wait_for grep -q "runs with another \[expose\] configuration" "$SG_T/log" ||
	fail "a changed [expose] kept the old front: $(grep -i front "$SG_T/log" | tail -n 3)"
sg_wait_long sh -c "[ \"\$(curl -s --cacert '$T/ca.pem' --resolve '$HOST:$FP:127.0.0.1' -o /dev/null -w '%{http_code}' -H 'Authorization: $AUTH' '$URL')\" = 200 ]" ||
	fail "after the new configuration: $(grep -i front "$SG_T/log" | tail -n 3)"

note "unexpose, and the sandbox's end: 404"
C unexpose web 8001 >/dev/null || fail "unexpose 8001"
[ "$(Q "$URL1")" = 404 ] || fail "unexposed port: $(cat "$T/body")"
setpriv --reuid sandgate-front --regid sandgate-front --clear-groups \
	curl -s --max-time 3 -o /dev/null "http://$waddr:8001/" && fail "8001 still open to the front"
C kill web >/dev/null || fail "kill web"
[ "$(Q "$URL" -H "Authorization: $AUTH")" = 404 ] || fail "ended sandbox: $(cat "$T/body")"
nft list set inet "$SG_NFT_TABLE" exposed | grep -q 'elements' && fail "exposed set not emptied: $(nft list set inet "$SG_NFT_TABLE" exposed)"
C kill other >/dev/null || fail "kill other"
# the front ended only when the test killed it
! grep -q "sandgate-front was killed\|sandgate-front exited\|AddressSanitizer\|runtime error:" "$SG_T/log" ||
	fail "the front crashed: $(grep -A40 "sandgate-front was\|sandgate-front exited\|Sanitizer\|runtime error" "$SG_T/log" | head -n 60)"
sg_no_crash
echo "PASS"
