#!/bin/sh
# The warm pool ([sandbox] warm_pool = 1, default:1: one member of the
# configured image, minimal, and one of default) with the real OpenSSH
# client: a member boots with no token and waits paused (libvirt says
# so; root's list shows it, no token sees it); `ssh sandbox@host` takes
# it, and the guest is the token's: its id and hostname are the
# member's, its environment, secret placeholder and network policy the
# token's (one test host allowed, the other refused); `create NAME --env`
# takes the next one with its environment; `create --image default`
# takes the default image's member; a token whose memory differs boots
# cold and leaves the members alone; the pool refills after each claim.
# Faults: sandgated killed -9 while a member boots (the next one removes
# it and boots another, nothing left of it) and a token's sandbox is
# paused (as by a claim cut short: resumed); a member killed by root; a
# member whose QEMU died while it waited (the start boots the same
# sandbox cold). About a dozen VM boots, most in the background.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v python3 >/dev/null || skip "no python3"
[ -f "$SG_IMAGE_DIR/default/image.conf" ] || skip "no default image in $SG_IMAGE_DIR"

sg_setup "warm_pool = 1, default:1" "idle_timeout = 10m" "max_lifetime = 30m"
sg_webhosts 198.51.100.2 198.51.100.3
cat >>"$SG_T/tokens.conf" <<EOF
allow_net = 198.51.100.2:8080
secret.API_KEY = sk-test-0123456789abcdef
secret.API_KEY.hosts = 198.51.100.2
EOF
TOK2=$(sg_ctl token create t2) || fail "token create t2"
echo "memory_mb = 1024" >>"$SG_T/tokens.conf"	# [t2] is the last section
sg_wait_for grep -q "tokens reloaded.*2 tokens" "$SG_T/log" || fail "no reload"

C() { sg_ssh sandgate@127.0.0.1 "$@"; }
C2() { sg_ssh -T "$TOK2" sandgate@127.0.0.1 "$@"; }
J() {	# J EXPR: evaluates a python expression over the JSON on stdin as d
	python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
lines() { wc -l <"$SG_T/log"; }
# member IMAGE N: waits for a member of IMAGE ready after line N of the
# log, and prints its id
member() {
	_re="warm pool: sandbox [0-9a-f]\{12\} of image $1 ready (paused)\$"
	sg_wait_long sh -c "tail -n +$(($2 + 1)) '$SG_T/log' | grep -q '$_re'" ||
		fail "no member of $1 got ready: $(grep 'warm pool' "$SG_T/log" | tail -n 3)"
	tail -n "+$(($2 + 1))" "$SG_T/log" | grep "$_re" | head -n 1 |
		sed 's/.*warm pool: sandbox \([0-9a-f]*\) .*/\1/'
}
domstate() { virsh -c qemu:///system domstate "sandgate-$1" 2>/dev/null | head -n 1; }

note "a member boots with no token and waits paused"
a=$(member minimal 0)
[ "$(domstate "$a")" = paused ] || fail "member $a is '$(domstate "$a")' in libvirt"
sg_ctl list | grep -q "^$a  (warm pool) .* minimal .* pooled " || fail "list: $(sg_ctl list)"
[ "$(C ls --json | J 'd["sandboxes"]')" = "[]" ] || fail "the token sees the pool: $(C ls)"
[ "$(sg_metrics 'm["sandgate_pool_members{image=\"minimal\",state=\"ready\"}"]' \
    'm["sandgate_pool_target{image=\"minimal\"}"]' 'm["sandgate_pool_target{image=\"default\"}"]')" = "1.0
1.0
1.0" ] || fail "metrics: $(grep pool "$SG_T/metrics.txt")"

note "ssh sandbox@: the member is the token's (identity, environment, policy)"
out=$(sg_ssh sandbox@127.0.0.1 'echo "$SANDGATE_SANDBOX_ID $(hostname) ${API_KEY%%_*}"
	timeout 8 wget -q -O - http://198.51.100.2:8080/ok.txt || echo fail-2
	timeout 8 wget -q -O - http://198.51.100.3:8080/ok.txt 2>/dev/null || echo blocked-3')
[ "$out" = "$a sandbox-$a SANDGATE
web-ok
blocked-3" ] || fail "inside the claimed member: '$out'"
grep -q "sandbox $a created for token t1 (.*, from the warm pool)" "$SG_T/log" ||
	fail "no claim in the log: $(grep "$a" "$SG_T/log")"
grep -q "\"event\":\"sandbox_created\",.*\"sandbox\":\"$a\".*\"from\":\"warm_pool\"" "$SG_T/audit.jsonl" ||
	fail "no audit of the claim: $(grep "$a" "$SG_T/audit.jsonl")"
sg_wait_for sh -c "grep -q 'sandbox $a destroyed' '$SG_T/log'" || fail "$a outlived its session"
[ -z "$(domstate "$a")" ] || fail "$a's domain is left"

note "the pool refills; create --env takes the next member with its environment"
b=$(member minimal "$(grep -n "sandbox $a created for token" "$SG_T/log" | cut -d: -f1)")
C "create p2 --env 'GREETING=hello pool' --json" >"$SG_T/p2.json" 2>"$SG_T/err" ||
	fail "create p2: $(cat "$SG_T/err")"
[ "$(J 'd["id"], d["token"], d["state"]' <"$SG_T/p2.json")" = "$b t1 idle" ] ||
	fail "p2 is not member $b: $(cat "$SG_T/p2.json")"
out=$(sg_ssh p2@127.0.0.1 'echo "$GREETING"') || fail "ssh p2: $out"
[ "$out" = "hello pool" ] || fail "p2's environment: '$out'"
[ "$(sg_metrics 'm["sandgate_pool_starts_total{from=\"pool\"}"]' 'm["sandgate_pool_boots_total{result=\"ready\"}"] >= 2')" = "2.0
True" ] || fail "metrics: $(grep pool "$SG_T/metrics.txt")"

note "sandgated killed -9 while a member boots: removed at the next start"
# and p2 left paused, as by a claim or a snapshot that a crash cut short
virsh -c qemu:///system suspend "sandgate-$b" >/dev/null || fail "virsh suspend p2"
# the member made after p2 took b: booting, or paused by now
claimed=$(grep -n "sandbox $b created for token" "$SG_T/log" | cut -d: -f1)
sg_wait_long sh -c "tail -n +$claimed '$SG_T/log' | grep -q 'warm pool: sandbox [0-9a-f]* created'" ||
	fail "the pool did not refill: $(grep 'warm pool' "$SG_T/log" | tail -n 3)"
c=$(tail -n "+$claimed" "$SG_T/log" |
	sed -n 's/.*warm pool: sandbox \([0-9a-f]\{12\}\) created.*/\1/p' | tail -n 1)
# its domain exists (booting, or paused already: removed either way)
sg_wait_for sh -c "[ -n \"\$(virsh -c qemu:///system domstate sandgate-$c 2>/dev/null)\" ]" ||
	fail "member $c has no domain"
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null
restart=$(lines)
sg_start
sg_wait_long sh -c "grep -q 'sandbox $c destroyed (pool member left by a restart)' '$SG_T/log'" ||
	fail "member $c not removed: $(grep "$c" "$SG_T/log" | tail -n 3)"
# (in libvirt's state then: running, or paused if libvirt was starting
# it or had paused it)
grep -q "warm pool: sandbox $c of an earlier sandgated ([a-z ]*): removed" "$SG_T/log" ||
	fail "no word of $c: $(grep "$c" "$SG_T/log" | tail -n 3)"
grep -q "sandbox $b was left paused (.*): resumed" "$SG_T/log" || fail "no word of p2 paused"
[ "$(domstate "$b")" = running ] || fail "p2 is '$(domstate "$b")'"
out=$(sg_ssh p2@127.0.0.1 'echo "$GREETING"') || fail "ssh p2 after the restart: $out"
[ "$out" = "hello pool" ] || fail "p2 after the restart: '$out'"
C kill p2 >/dev/null || fail "kill p2"
[ -z "$(domstate "$c")" ] || fail "$c's domain is still there: $(domstate "$c")"
[ ! -e "$SG_T/state/sandboxes/$c" ] && [ ! -e "$SG_T/state/net/$c" ] ||
	fail "files of $c left: $(ls "$SG_T/state/sandboxes" "$SG_T/state/net")"
! ip link show "sg-$c" >/dev/null 2>&1 || fail "the tap of $c is left"

note "create --image default takes the default image's member"
d=$(member minimal "$restart")
dd=$(member default "$restart")
C create big --image default >/dev/null 2>"$SG_T/err" || fail "create big: $(cat "$SG_T/err")"
[ "$(C info big --json | J 'd["id"], d["image"]')" = "$dd default" ] || fail "big: $(C info big)"
grep -q "sandbox $dd created for token t1 (.*, image default, 768 MiB, 1 vCPU, from the warm pool)$" "$SG_T/log" ||
	fail "big: $(grep "$dd" "$SG_T/log")"
C kill big >/dev/null || fail "kill big"

note "another shape (t2's memory) boots cold; the member stays paused"
C2 create cold1 >/dev/null 2>"$SG_T/err" || fail "create cold1: $(cat "$SG_T/err")"
id=$(C2 info cold1 --json | J 'd["id"]')
grep -q "sandbox $id created for token t2 (.*, image minimal, 1024 MiB, 1 vCPU)$" "$SG_T/log" ||
	fail "cold1: $(grep "$id" "$SG_T/log")"
[ "$(domstate "$d")" = paused ] || fail "member $d is '$(domstate "$d")'"
C2 kill cold1 >/dev/null || fail "kill cold1"

note "root kills a member: the pool boots another"
n=$(lines)
sg_ctl kill "$d" >/dev/null || fail "sandgatectl kill $d"
e=$(member minimal "$n")
grep -q "sandbox $d destroyed (killed by administrator)" "$SG_T/log" || fail "no kill of $d"
[ -z "$(domstate "$d")" ] || fail "$d's domain is left"

note "a member whose QEMU died while it waited: the start boots cold, same sandbox"
qpid=$(pgrep -f "guest=sandgate-$e" | head -n 1)
[ -n "$qpid" ] || fail "no QEMU for member $e"
kill -9 "$qpid"
sg_wait_for sh -c "[ -z \"\$(virsh -c qemu:///system domstate sandgate-$e 2>/dev/null)\" ]" ||
	fail "member $e's domain outlived its QEMU"
out=$(sg_ssh sandbox@127.0.0.1 'echo "$SANDGATE_SANDBOX_ID ${API_KEY%%_*}"
	timeout 8 wget -q -O - http://198.51.100.2:8080/ok.txt || echo fail-2') ||
	fail "start after the member died: $out"
[ "$out" = "$e SANDGATE
web-ok" ] || fail "the cold start: '$out'"
grep -q "sandbox $e: the warm pool member could not be claimed (.*): booted cold" "$SG_T/log" ||
	fail "no word of the cold start: $(grep "$e" "$SG_T/log" | tail -n 5)"
sg_wait_for sh -c "grep -q 'sandbox $e destroyed' '$SG_T/log'" || fail "$e outlived its session"
sg_no_crash
note "ok"
