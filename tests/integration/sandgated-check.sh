#!/bin/sh
# sandgated -t and -T, without VMs: a good tree (configuration, tokens
# file, an image folder with its files, a proxy program) passes -t
# silently; then one thing at a time is broken, and -t must exit 1 with a
# line naming the file and line or the thing. -T must print a
# configuration that loads back to the same print.
#
# Needs root (the configuration's owner checks, the proxy's user switch)
# and a user "nobody"; starts nothing, touches nothing outside its
# temporary folder.

. "${SG_SRCDIR:-.}/tests/integration/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x "$SANDGATED" ] || skip "no $SANDGATED (build it first)"
id nobody >/dev/null 2>&1 || skip "no user nobody"

T=$(mktemp -d /tmp/sg-check.XXXXXX) || fail "mktemp"
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
# the proxy runs as nobody, which must reach its program
chmod 755 "$T"
umask 022

# ---- the good tree ----
mkdir -p "$T/bin" "$T/images/default" "$T/log"
printf '#!/bin/sh\nexit 0\n' >"$T/bin/sandgate-proxy"
chmod 755 "$T/bin/sandgate-proxy"
for f in vmlinuz initrd.img rootfs.qcow2; do
	: >"$T/images/default/$f"
done
cat >"$T/images/default/image.conf" <<EOF
[image]
kernel = vmlinuz
initrd = initrd.img
rootfs = rootfs.qcow2
EOF
cat >"$T/tokens.conf" <<EOF
[t1]
hash = sha256:$(printf %064d 0)
max_lifetime = 1h30m
EOF
good_conf() {
	cat <<EOF
[gateway]
listen = 127.0.0.1:2222
tokens = $T/tokens.conf
state_dir = $T/state
control_socket = $T/run/control.sock
audit_log = $T/log/audit.jsonl
user = nobody
[sandbox]
image_dir = $T/images
max_lifetime = 1h30m
idle_timeout = 90
[network]
resolve = api.example.com:192.0.2.10
resolve = api.example.com:[2001:db8::1]
[proxy]
user = nobody
program = $T/bin/sandgate-proxy
EOF
}
good_conf >"$T/sandgate.conf"

# run_t: sandgated -t on $T/sandgate.conf; its stderr in $T/err, its
# status in $rc, its stdout must be empty.
run_t() {
	rc=0
	"$SANDGATED" -t -c "$T/sandgate.conf" >"$T/out" 2>"$T/err" || rc=$?
	[ ! -s "$T/out" ] || fail "-t wrote to stdout: $(cat "$T/out")"
}

# expect_ok WHAT: -t exits 0 and prints nothing.
expect_ok() {
	run_t
	[ "$rc" = 0 ] || fail "$1: -t exited $rc: $(cat "$T/err")"
	[ ! -s "$T/err" ] || fail "$1: -t printed: $(cat "$T/err")"
}

# expect_bad WHAT PATTERN...: -t exits 1 and each PATTERN (grep -E) is
# on one line of its stderr.
expect_bad() {
	_what=$1
	shift
	run_t
	[ "$rc" = 1 ] || fail "$_what: -t exited $rc, not 1: $(cat "$T/err")"
	for _p in "$@"; do
		grep -Eq -- "$_p" "$T/err" ||
			fail "$_what: no line matching '$_p' in: $(cat "$T/err")"
	done
	note "$_what: $(head -n 1 "$T/err")"
}

# reset: back to the good tree.
reset() {
	good_conf >"$T/sandgate.conf"
	cp "$T/tokens.good" "$T/tokens.conf"
	rm -f "$T/hostkey"
	chmod 755 "$T/bin"
}
cp "$T/tokens.conf" "$T/tokens.good"

note "a good tree: -t is silent, exits 0; --check-config is -t"
expect_ok "good tree"
"$SANDGATED" --check-config -c "$T/sandgate.conf" >"$T/out" 2>&1 ||
	fail "--check-config: $(cat "$T/out")"
[ ! -s "$T/out" ] || fail "--check-config printed: $(cat "$T/out")"
[ ! -e "$T/state" ] || fail "-t made state_dir"
[ ! -e "$T/run" ] || fail "-t made the control socket's directory"

note "a host key: a real one passes, garbage does not"
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" >/dev/null 2>&1 ||
	skip "ssh-keygen cannot make an ed25519 key"
sed -i "/^\[gateway\]/a host_key = $T/hostkey" "$T/sandgate.conf"
expect_ok "an ed25519 host key"
echo garbage >"$T/hostkey"
expect_bad "garbage host key" \
	"^$T/sandgate.conf:2: \[gateway\] host_key = $T/hostkey: not a private key"
reset

note "a host key whose directory cannot be made"
: >"$T/afile"
sed -i "/^\[gateway\]/a host_key = $T/afile/key" "$T/sandgate.conf"
expect_bad "host key under a file" \
	"^$T/sandgate.conf:2: \[gateway\] host_key = $T/afile/key: .*$T/afile is not a directory"
reset

note "an unknown key: the configuration's own error"
sed -i '/^\[sandbox\]/a bogus = 1' "$T/sandgate.conf"
expect_bad "unknown key" "^$T/sandgate.conf:9: \[sandbox\] bogus: unknown key"
reset

note "a tokens file with a syntax error: the loader's FILE:LINE"
printf 'this is not ini\n' >>"$T/tokens.conf"
expect_bad "tokens syntax" "^$T/tokens.conf:4: cannot parse this line"
reset

note "no tokens file: an error, as at start"
rm "$T/tokens.conf"
expect_bad "no tokens file" \
	"^$T/sandgate.conf:3: \[gateway\] tokens = $T/tokens.conf: the tokens file does not exist"
reset

note "a missing image file is named"
mv "$T/images/default/initrd.img" "$T/initrd.img"
expect_bad "missing initrd" \
	"^$T/sandgate.conf: \[sandbox\] image = default \(the default\): .*initrd = $T/images/default/initrd.img: No such file"
mv "$T/initrd.img" "$T/images/default/initrd.img"

note "an image a token names, missing"
printf 'image = other\n' >>"$T/tokens.conf"
expect_bad "token's image" "^$T/tokens.conf:1: \[t1\] image = other: .*$T/images/other"
reset

note "a missing proxy program"
mv "$T/bin/sandgate-proxy" "$T/proxy.moved"
expect_bad "missing proxy program" \
	"^$T/sandgate.conf:17: \[proxy\] program = $T/bin/sandgate-proxy: cannot execute"
mv "$T/proxy.moved" "$T/bin/sandgate-proxy"

note "a proxy program its user cannot reach"
chmod 700 "$T/bin"
expect_bad "proxy program not for nobody" \
	"\[proxy\] program = $T/bin/sandgate-proxy: $T/bin/sandgate-proxy is not executable by user nobody"
reset

note "a proxy user that does not exist"
sed -i 's/^user = nobody$/user = sg-no-such-user/' "$T/sandgate.conf"
expect_bad "no proxy user" \
	"^$T/sandgate.conf:7: \[gateway\] user = sg-no-such-user: no such user" \
	"^$T/sandgate.conf:16: \[proxy\] user = sg-no-such-user: no such user"
reset

note "a state_dir under a file"
sed -i -e "s|^state_dir = .*|state_dir = $T/afile/state|" "$T/sandgate.conf"
expect_bad "state_dir" \
	"^$T/sandgate.conf:4: \[gateway\] state_dir = $T/afile/state: .*not a directory"
reset

note "a host name to listen on: refused when the file loads"
sed -i -e 's|^listen = .*|listen = localhost:2222|' "$T/sandgate.conf"
expect_bad "listen" \
	"^$T/sandgate.conf:2: \[gateway\] listen = localhost:2222: \"localhost\" is not an IPv4 address"
reset

note "ports that clash, a metrics socket under a file"
sed -i -e 's|^\[proxy\]$|[proxy]\nport = 2222|' "$T/sandgate.conf"
expect_bad "proxy port" \
	"^$T/sandgate.conf:[0-9]+: \[proxy\] port = 2222: is also the port of \[gateway\] listen"
reset
sed -i -e '0,/^user = nobody$/s||user = nobody\nmetrics = 0.0.0.0:2222|' "$T/sandgate.conf"
expect_bad "metrics port" \
	"^$T/sandgate.conf:8: \[gateway\] metrics = 0.0.0.0:2222: is also where \[gateway\] listen takes SSH clients"
reset
sed -i -e "0,/^user = nobody\$/s||user = nobody\nmetrics = $T/afile/m.sock|" "$T/sandgate.conf"
expect_bad "metrics socket" \
	"^$T/sandgate.conf:8: \[gateway\] metrics = $T/afile/m.sock: .*not a directory"
reset

note "every problem is reported, not only the first"
rm "$T/images/default/rootfs.qcow2"
rm "$T/bin/sandgate-proxy"
printf 'vcpus = many\n' >>"$T/tokens.conf"
expect_bad "three problems" "rootfs" "\[proxy\] program" "^$T/tokens.conf:4: \[t1\] vcpus = many"
[ "$(wc -l <"$T/err")" = 3 ] || fail "expected 3 lines, got: $(cat "$T/err")"

note "-T prints a configuration that loads back to the same print"
"$SANDGATED" -T -c "$T/sandgate.conf" >"$T/print1" 2>"$T/err" ||
	fail "-T: $(cat "$T/err")"
[ ! -s "$T/err" ] || fail "-T wrote to stderr: $(cat "$T/err")"
"$SANDGATED" -T -c "$T/print1" >"$T/print2" 2>"$T/err" ||
	fail "-T of the print: $(cat "$T/err")"
cmp -s "$T/print1" "$T/print2" || fail "-T twice differs: $(diff "$T/print1" "$T/print2")"
grep -qx 'max_lifetime = 1h30m' "$T/print1" || fail "-T: max_lifetime: $(cat "$T/print1")"
grep -qx 'idle_timeout = 1m30s' "$T/print1" || fail "-T: idle_timeout: $(cat "$T/print1")"
grep -qx 'resolve = api.example.com:\[2001:db8::1\]' "$T/print1" || fail "-T: resolve"
grep -qx '# extra_ca is unset' "$T/print1" || fail "-T: extra_ca"
grep -qx "host_key = $T/state/ssh_host_ed25519_key" "$T/print1" || fail "-T: host_key"
grep -q 'sha256\|hash' "$T/print1" && fail "-T printed something of the tokens file"
[ "$(grep -c '^\[' "$T/print1")" = 6 ] || fail "-T: not 6 sections"

note "-T only parses: a bad configuration exits 1, the rest is not checked"
"$SANDGATED" -T -c "$T/sandgate.conf" >/dev/null 2>&1 || fail "-T checked more than the syntax"
sed -i '/^\[sandbox\]/a bogus = 1' "$T/sandgate.conf"
rc=0
"$SANDGATED" -T -c "$T/sandgate.conf" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "-T of a bad file exited $rc"
grep -q "^$T/sandgate.conf:9: \[sandbox\] bogus" "$T/err" || fail "-T error: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "-T of a bad file printed: $(cat "$T/out")"

note "-t and -T together: a usage error"
rc=0
"$SANDGATED" -t -T -c "$T/sandgate.conf" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "-t -T exited $rc, not 2"

echo "PASS"
