#!/bin/sh
# The control interface over SSH (docs/control.md) through the real
# OpenSSH client: whoami, ls, create with settings, info, extend, kill,
# help, text and --json (parsed by python3's json); a narrowed allow_net,
# --env and --secret shown inside the guest; every bad input the issue
# names gives a clear error and changes nothing; sandgatectl says the
# same things over every token. Two VM boots (minimal image). (Debian's
# busybox wget crashes with -T: timeout bounds it instead.)
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v python3 >/dev/null || skip "no python3"

sg_setup "idle_timeout = 10m" "max_lifetime = 30m"
sg_webhosts 198.51.100.2 198.51.100.3

cat >>"$SG_T/tokens.conf" <<EOF
max_sandboxes = 2
allow_net = 198.51.100.2:8080, 198.51.100.3:8080
secret.API_KEY = sk-test-0123456789abcdef
secret.API_KEY.hosts = 198.51.100.2
secret.OTHER_KEY = other-0123456789abcdef
secret.OTHER_KEY.hosts = 198.51.100.2
EOF
TOK2=$(sg_ctl token create t2) || fail "token create t2"
sg_wait_for grep -q "tokens reloaded.*2 tokens" "$SG_T/log" || fail "no reload"

C() { sg_ssh sandgate@127.0.0.1 "$@"; }
C2() { sg_ssh -T "$TOK2" sandgate@127.0.0.1 "$@"; }
J() {	# J EXPR: evaluates a python expression over the JSON on stdin as d
	python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
nboxes() { C ls --json | J 'len(d["sandboxes"])'; }
# refused STATUS CODE TEXT ARGS...: the command fails with STATUS, its
# --json error has CODE, its text error says TEXT, and nothing changed
refused() {
	st=$1 code=$2 text=$3
	shift 3
	before=$(sg_ctl ls --json | J 'sorted((s["id"], s["ends"]) for s in d["sandboxes"])')
	C "$@" >"$SG_T/out" 2>"$SG_T/err"; got=$?
	[ $got = "$st" ] || fail "'$*': status $got, want $st: $(cat "$SG_T/err")"
	[ ! -s "$SG_T/out" ] || fail "'$*': stdout: $(cat "$SG_T/out")"
	grep -q "^sandgate: .*$text" "$SG_T/err" || fail "'$*': message: $(cat "$SG_T/err")"
	C "$@" --json >"$SG_T/out" 2>"$SG_T/err"
	got=$(J 'd["error"]["code"]' <"$SG_T/err") || fail "'$*' --json: stderr: $(cat "$SG_T/err")"
	[ "$got" = "$code" ] || fail "'$*': code $got, want $code"
	after=$(sg_ctl ls --json | J 'sorted((s["id"], s["ends"]) for s in d["sandboxes"])')
	[ "$before" = "$after" ] || fail "'$*' changed the sandboxes: $before -> $after"
	note "refused ($code): $(printf '%.70s' "$*")"
}

note "help, whoami and ls with nothing running"
C help >"$SG_T/out" || fail "help"
grep -q "create NAME" "$SG_T/out" || fail "help: $(cat "$SG_T/out")"
[ "$(C help --json | J '",".join(c["name"] for c in d["commands"])')" = \
	"help,whoami,ls,create,info,extend,kill,hibernate,snapshot,volume,expose,unexpose" ] ||
	fail "help --json: $(C help --json)"
C whoami | grep -q "^token: *t1" || fail "whoami: $(C whoami)"
[ "$(C whoami --json | J 'd["token"], d["limits"]["max_sandboxes"], d["limits"]["secrets"], d["usage"]["sandboxes"]')" = \
	"t1 2 ['API_KEY', 'OTHER_KEY'] 0" ] || fail "whoami --json: $(C whoami --json)"
[ "$(nboxes)" = 0 ] || fail "ls is not empty"
C ls | head -n 1 | grep -q "^ID .*NAME" || fail "ls header: $(C ls)"

note "create c1: narrowed allow_net, one secret, an environment variable"
C "create c1 --allow-net 198.51.100.2:8080 --secret API_KEY --env 'GREETING=hello world' --env 'X=\$(id);\`id\`' --memory 768 --lifetime 20m --idle-timeout 5m --json" \
	>"$SG_T/c1.json" 2>"$SG_T/err" || fail "create c1: $(cat "$SG_T/err")"
[ "$(J 'd["name"], d["state"], d["memory_mb"], d["allow_net"], d["secrets"], d["idle_timeout"], 1150 < d["ends_in"] <= 1200' <"$SG_T/c1.json")" = \
	"c1 idle 768 ['198.51.100.2:8080'] ['API_KEY'] 300 True" ] || fail "create c1 JSON: $(cat "$SG_T/c1.json")"
id1=$(J 'd["id"]' <"$SG_T/c1.json")
out=$(sg_ssh c1@127.0.0.1 'echo "$GREETING|$X|${API_KEY%%_*}|${OTHER_KEY:-unset}"
	timeout 8 wget -q -O - http://198.51.100.2:8080/ok.txt || echo fail-2
	timeout 8 wget -q -O - http://198.51.100.3:8080/ok.txt 2>/dev/null || echo blocked-3')
[ "$out" = "hello world|\$(id);\`id\`|SANDGATE|unset
web-ok
blocked-3" ] || fail "inside c1: '$out'"
note "in c1: the environment as given, one placeholder, .2 reachable, .3 not"

note "text output: info, ls"
C info c1 | grep -q "^allow_net: *198.51.100.2:8080$" || fail "info: $(C info c1)"
C ls | awk -v id="$id1" '$1 == id && $3 == "c1" && $6 == "idle" { ok = 1 } END { exit !ok }' ||
	fail "ls: $(C ls)"
[ "$(C ls --json | J '[s["name"] for s in d["sandboxes"]]')" = "['c1']" ] || fail "ls --json"
# idle, c1 ends at its idle_timeout (5m), not at its lifetime (20m)
C info c1 --json >"$SG_T/c1i.json"
[ "$(J '0 < d["left"] <= 300, d["idle_ends"] is not None, d["ends_in"] > 600' <"$SG_T/c1i.json")" = \
	"True True True" ] || fail "idle c1's time left: $(cat "$SG_T/c1i.json")"
C ls | awk -v id="$id1" '$1 == id && $5 ~ /^([0-4]m([0-9]+s)?|5m|[0-9]+s)$/ { ok = 1 } END { exit !ok }' ||
	fail "ls LEFT of idle c1: $(C ls)"
C info c1 | grep -q "^ends in: .*(idle_timeout: no connection)$" || fail "info ends in: $(C info c1)"
# /metrics saw c1 start, boot and log in
[ "$(sg_metrics 'm["sandgate_sandbox_starts_total"] >= 1' \
	'm["sandgate_sandbox_start_seconds_count"] >= 1' \
	'm.get("sandgate_sandboxes{image=\"minimal\",state=\"idle\"}")' \
	'm["sandgate_logins_total"] >= 1' | tr '\n' ' ')" = "True True 1.0 True " ] ||
	fail "/metrics after c1: $(grep -v '^#' "$SG_T/metrics.txt" | head -n 30)"

note "extend within max_lifetime from now; beyond it is refused"
ends=$(C info c1 --json | J 'd["ends"]')
C extend c1 5m --json >"$SG_T/out" || fail "extend"
[ "$(J 'd["ends"]' <"$SG_T/out")" = $((ends + 300)) ] || fail "extend: $(cat "$SG_T/out")"
C extend c1 1m | grep -q "^c1 now ends in" || fail "extend text"

note "bad input: a clear error, nothing created, nothing changed"
refused 2 usage "unknown command 'frobnicate'" frobnicate
refused 2 usage "unknown option '--all'" ls --all
refused 2 usage "unknown option '--token'" ls --token t2
refused 2 usage "usage: info NAME" info
refused 1 not_found "no sandbox nosuch" info nosuch
refused 1 exists "sandbox c1 exists already" create c1
refused 1 limit "--memory 4096" create c9 --memory 4096
refused 1 limit "--vcpus 4" create c9 --vcpus 4
refused 1 limit "--lifetime: the token allows 30m" create c9 --lifetime 2h
refused 1 limit "max_lifetime" extend c1 1d
refused 1 refused "--allow-net 198.51.100.0/24:8080 is outside" create c9 --allow-net 198.51.100.0/24:8080
refused 1 refused "--allow-net 198.51.100.2 is outside" create c9 --allow-net 198.51.100.2
refused 1 refused "--allow-net \\*.test is outside" create c9 --allow-net "'*.test'"
refused 1 refused "--secret NOPE" create c9 --secret NOPE
refused 1 refused "--env API_KEY" create c9 --env API_KEY=x
refused 1 not_found "no image nosuchimage" create c9 --image nosuchimage
refused 2 usage "--memory 'lots'" create c9 --memory lots
refused 2 usage "--allow-net" create c9 --allow-net "'foo..com'"
refused 2 usage "not a sandbox name" create "'c9;touch /tmp/sgpwn.$$'"
refused 2 usage "not a sandbox name" create Work
refused 2 usage "unknown command 'ls;'" "ls;" "touch /tmp/sgpwn.$$"
refused 2 usage "usage: ls" "ls \$(touch /tmp/sgpwn.$$)"
refused 2 usage "longer than 2048" create "$(head -c 3000 /dev/zero | tr '\0' a)"
refused 2 usage "control bytes" create "c9$(printf '\001')"
refused 2 usage "unfinished single quote" create "'c9"
[ ! -e /tmp/sgpwn.$$ ] || { rm -f /tmp/sgpwn.$$; fail "a shell ran an argument"; }

note "another token cannot see or touch c1"
C2 ls --json | J 'd["sandboxes"]' | grep -q '^\[\]$' || fail "t2 sees sandboxes"
C2 info c1 2>"$SG_T/err" && fail "t2 info c1 worked"
grep -q "no sandbox c1" "$SG_T/err" || fail "t2 info c1: $(cat "$SG_T/err")"
C2 kill c1 2>/dev/null && fail "t2 kill c1 worked"
C2 extend c1 10m 2>/dev/null && fail "t2 extend c1 worked"
C info c1 >/dev/null || fail "c1 is gone after t2's attempts"

note "create c2: no secrets, the token's whole allow_net; max_sandboxes holds"
C "create c2 --secret ''" >"$SG_T/out" || fail "create c2"
grep -q "^c2 is ready" "$SG_T/out" || fail "create c2 text: $(cat "$SG_T/out")"
[ "$(C info c2 --json | J 'd["secrets"], d["allow_net"]')" = \
	"[] ['198.51.100.2:8080', '198.51.100.3:8080']" ] || fail "c2: $(C info c2 --json)"
out=$(sg_ssh c2@127.0.0.1 'echo "${API_KEY:-none}"; timeout 8 wget -q -O - http://198.51.100.3:8080/ok.txt')
[ "$out" = "none
web-ok" ] || fail "inside c2: '$out'"
refused 1 limit "max_sandboxes = 2" create c3

note "a pty changes nothing; a shell prints help (status 2); sftp is refused"
sg_ssh -tt sandgate@127.0.0.1 ls 2>/dev/null | grep -q "c2" || fail "ls with a pty"
sg_ssh -o RequestTTY=no sandgate@127.0.0.1 </dev/null >"$SG_T/out" 2>&1; st=$?
[ $st = 2 ] || fail "shell: status $st"
grep -q "create NAME" "$SG_T/out" || fail "shell: $(cat "$SG_T/out")"
sg_ssh -s sandgate@127.0.0.1 sftp </dev/null >/dev/null 2>&1 && fail "an sftp subsystem was granted"

note "sandgatectl: the same shapes over every token"
sg_ctl ls --json | J '[s["token"] for s in d["sandboxes"]]' | grep -q "'t1', 't1'" || fail "sandgatectl ls"
sg_ctl ls --token t2 --json | J 'd["sandboxes"]' | grep -q '^\[\]$' || fail "ls --token t2"
[ "$(sg_ctl info "$id1" --json | J 'd["name"]')" = c1 ] || fail "sandgatectl info ID"
[ "$(sg_ctl info c2 --token t1 --json | J 'd["name"]')" = c2 ] || fail "sandgatectl info NAME --token"
sg_ctl whoami --token t1 --json | J 'd["usage"]["sandboxes"]' | grep -q '^2$' || fail "whoami --token"
sg_ctl create r1 2>"$SG_T/err"; [ $? = 2 ] || fail "root create without --token"
grep -q "\-\-token T" "$SG_T/err" || fail "root create: $(cat "$SG_T/err")"
sg_ctl list | awk '$3 == "c1"' | grep -q idle || fail "sandgatectl list"

note "kill: c1 by its token (JSON), c2 by root with kill --token"
C kill c1 --json >"$SG_T/out" || fail "kill c1"
[ "$(J 'd["killed"][0]["name"]' <"$SG_T/out")" = c1 ] || fail "kill c1: $(cat "$SG_T/out")"
C info c1 2>/dev/null && fail "c1 is still there"
sg_ctl kill --token t1 | grep -q "killing .* (c2)" || fail "kill --token t1"
sg_wait_for sg_no_leftovers || fail "leftovers after kill"
[ "$(nboxes)" = 0 ] || fail "sandboxes left"
grep -q '"event":"sandbox_killed".*"caller":"t1"' "$SG_T/audit.jsonl" || fail "no audit of the kill"
note "ok"
