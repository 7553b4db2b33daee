#!/bin/sh
# An exposed port in a real browser: Debian's chromium, headless, with a
# CA of the test's own in its NSS store and *.sandgate.test resolved to
# the front. The signed link (303, the cookie, the clean URL) shows the
# guest's page; the clean URL again in the same profile shows it (the
# cookie kept); a fresh profile gets the front's 401. The audit log says
# how each request got in. Skips without chromium and certutil
# (apt-get install chromium libnss3-tools; tools/quickstart check does).
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v chromium >/dev/null || skip "no chromium (apt-get install chromium)"
command -v certutil >/dev/null || skip "no certutil (apt-get install libnss3-tools)"
getent passwd sandgate-front >/dev/null ||
	skip "no user sandgate-front (tools/quickstart makes it)"
T=$(mktemp -d /tmp/sgbrowser.XXXXXX)
SG_EXTRA_DIRS="$T"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=sgtest browser CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/leaf.key" -out "$T/leaf.csr" -subj "/CN=*.sandgate.test" >/dev/null 2>&1
printf 'subjectAltName=DNS:*.sandgate.test\nextendedKeyUsage=serverAuth\n' >"$T/ext"
openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-days 2 -extfile "$T/ext" -out "$T/leaf.pem" >/dev/null 2>&1
chmod 600 "$T/leaf.key"
FP=$(sg_free_port)
sg_setup "[expose]" "listen = 127.0.0.1:$FP" "domain = sandgate.test" "cert = $T/leaf.pem" \
	"key = $T/leaf.key" "program = $SG_BUILDDIR/expose/sandgate-front"
C() { sg_ssh sandgate@127.0.0.1 "$@"; }
C create web >/dev/null || fail "create"
sg_ssh web@127.0.0.1 'mkdir -p /root/www && echo "<html><body><p id=m>hello browser from the sandbox</p></body></html>" >/root/www/index.html &&
	{ setsid httpd -f -p 8000 -h /root/www </dev/null >/dev/null 2>&1 & }' || fail "httpd"
C expose web 8000 >"$T/exp" || fail "expose"
URL=$(sed -n 1p "$T/exp"); LINK=$(sed -n 2p "$T/exp")
mkdir -p "$T/home/.pki/nssdb"
certutil -d "sql:$T/home/.pki/nssdb" -N --empty-password
certutil -d "sql:$T/home/.pki/nssdb" -A -t "C,," -n sgtest -i "$T/ca.pem"
B() {	# B PROFILE URL: the page's DOM
	HOME=$T/home timeout 60 chromium --headless=new --no-sandbox --disable-gpu \
		--no-first-run --user-data-dir="$T/$1" \
		--host-resolver-rules="MAP *.sandgate.test 127.0.0.1" \
		--virtual-time-budget=5000 --dump-dom "$2" 2>"$T/$1.err"
}
echo "# the link, in profile a"
B a "$LINK" | tee "$T/1" | grep -q "hello browser from the sandbox" || { cat "$T/1" "$T/a.err" | tail -20; fail "link"; }
echo "# the clean URL, profile a again (its cookie)"
B a "$URL" | tee "$T/2" | grep -q "hello browser from the sandbox" || { cat "$T/2" "$T/a.err" | tail -20; fail "reload"; }
echo "# the clean URL, a fresh profile b"
B b "$URL" | tee "$T/3" | grep -q "this URL is private" || { cat "$T/3" "$T/b.err" | tail -20; fail "fresh profile"; }
# how each request got in: the link, then its cookie; none in profile b
grep '"event":"expose_request"' "$SG_T/audit.jsonl" |
	sed 's/.*"path":"\([^"]*\)","status":"\([0-9]*\)".*"auth":"\([a-z]*\)".*/\1 \2 \3/' >"$T/audit"
grep -qx "/__sandgate/link 303 link" "$T/audit" || fail "audit of the link: $(cat "$T/audit")"
grep -q "^/ 20[0-9] cookie\$\|^/ 304 cookie\$" "$T/audit" || fail "audit of the cookie: $(cat "$T/audit")"
grep -qx "/ 401 none" "$T/audit" || fail "audit of profile b: $(cat "$T/audit")"
sg_no_crash
echo PASS
