#!/bin/sh
# sandgated as a system service, with no VM booted: sd_notify (READY,
# STATUS, WATCHDOG, RELOADING, STOPPING) to a socket this test listens
# on as systemd would; priorities for journald ("<N>" prefixes when
# stderr is JOURNAL_STREAM), the proxy's lines included; the host key's
# fingerprint in the log, in `sandgatectl hostkey` and in the .pub file,
# equal to what an SSH client sees; SIGHUP reopening the audit log after
# the shipped logrotate file rotated it; the systemd unit verified; the
# proxy's program that its user cannot run, named with the reason.
set -eu
. "$SG_SRCDIR/tests/integration/lib.sh"
sg_require
command -v ssh-keyscan >/dev/null 2>&1 || skip "ssh-keyscan (openssh-client) is missing"

# --- the unit, tmpfiles.d, sysusers.d and logrotate files -----------------
unit=$SG_BUILDDIR/tools/systemd/sandgated.service
[ -f "$unit" ] || fail "$unit was not built"
if command -v systemd-analyze >/dev/null 2>&1; then
	d=$(mktemp -d /tmp/sgunit.XXXXXX)
	# the build tree's programs stand in for the installed ones
	sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/sandgated|\1$SG_BUILDDIR/gateway/sandgated|" \
		"$unit" >"$d/sandgated.service"
	out=$(systemd-analyze verify --man=no "$d/sandgated.service" 2>&1) ||
		{ rm -rf "$d"; fail "systemd-analyze verify: $out"; }
	rm -rf "$d"
	[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
	grep -q '^Type=notify$' "$unit" || fail "the unit is not Type=notify"
	grep -q '^KillMode=process$' "$unit" ||
		fail "the unit would kill the shims and the proxy on restart"
	note "systemd-analyze verify: the unit is clean"
else
	note "no systemd-analyze here: the unit is not verified"
fi
grep -q '^u sandgate-proxy ' "$SG_BUILDDIR/tools/systemd/sysusers/sandgate.conf" ||
	fail "sysusers.d does not make sandgate-proxy"
grep -q '^d /run/sandgate ' "$SG_BUILDDIR/tools/systemd/sandgate.conf" ||
	fail "tmpfiles.d does not make /run/sandgate"

# --- a notification socket and a journal stream, as systemd gives ---------
NS=$(mktemp -d /tmp/sgnotify.XXXXXX)
SG_EXTRA_DIRS=$NS
trap sg_cleanup EXIT INT TERM	# sg_setup sets it again, the same
python3 "$SG_SRCDIR/tests/integration/notifysock.py" "$NS/notify" "$NS/got" &
NPID=$!
SG_EXTRA_PIDS="$NPID"
sg_wait_for test -S "$NS/notify" || fail "the notify socket did not appear"
export NOTIFY_SOCKET="$NS/notify" WATCHDOG_USEC=1000000
# stderr is the file the log goes to: its device and inode, as journald's
SG_TEST_PROXY=1
export SG_TEST_PROXY
got() { grep -c "^$1" "$NS/got" 2>/dev/null || true; }
# has MSG N: at least N messages MSG came (for sg_wait_for, which runs it
# again each time)
has() { [ "$(got "$1")" -ge "$2" ]; }
# sg_setup writes the log; JOURNAL_STREAM must name it before sandgated
# starts, so the start is done here in two steps.
SG_PRE_START=journal_stream
journal_stream() {
	: >>"$SG_T/log"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$SG_T/log")
	export JOURNAL_STREAM
}
sg_setup

sg_wait_for has READY=1 1 || fail "no READY=1"
grep -q '^STATUS=0 sandboxes, 0 connections' "$NS/got" ||
	fail "no STATUS with READY: $(cat "$NS/got")"
# WATCHDOG_USEC=1 s: a keep-alive at least every half second
sg_wait_for has WATCHDOG=1 3 || fail "no WATCHDOG=1 keep-alives"
note "READY, STATUS and $(got WATCHDOG=1) watchdog keep-alives"

# --- priorities for journald ------------------------------------------------
grep -q '^<6>sandgated\[[0-9]*\]: listening on' "$SG_T/log" ||
	fail "info lines lack <6>: $(head -n 3 "$SG_T/log")"
sg_wait_for grep -q '^<[0-9]>sandgate-proxy\[' "$SG_T/log" ||
	fail "the proxy's lines lack their priority"
if grep -v '^<[0-7]>' "$SG_T/log" | grep -q .; then
	fail "lines without a priority: $(grep -v '^<[0-7]>' "$SG_T/log" | head -n 3)"
fi

# --- the host key: log, .pub, sandgatectl, the wire ------------------------
key=$SG_T/state/host_key
[ -f "$key.pub" ] || fail "no $key.pub beside the host key"
[ "$(stat -c %a "$key.pub")" = 644 ] || fail "$key.pub is not 0644"
want=$(ssh-keygen -lf "$key.pub" | cut -d' ' -f2)
case $want in SHA256:*) ;; *) fail "ssh-keygen -lf $key.pub: $want" ;; esac
grep -q "host key $want ED25519" "$SG_T/log" ||
	fail "the log does not show the fingerprint $want"
[ "$(sg_ctl hostkey | head -n 1)" = "$want (ED25519)" ] ||
	fail "sandgatectl hostkey: $(sg_ctl hostkey)"
sg_ctl hostkey --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["fingerprint"] == sys.argv[1], d
assert d["public_key"].startswith("ssh-ed25519 "), d' "$want" ||
	fail "sandgatectl hostkey --json"
wire=$(ssh-keyscan -T 10 -t ed25519 -p "$SG_PORT" 127.0.0.1 2>/dev/null |
	ssh-keygen -lf - | cut -d' ' -f2)
[ "$wire" = "$want" ] || fail "the server shows $wire, not $want"
# the private key unreadable (another user): the .pub answers
cp "$key.pub" "$NS/k.pub"
printf '[gateway]\nhost_key = %s\n' "$NS/k" >"$NS/c.conf"
chmod 600 "$NS/c.conf"
[ "$("$SANDGATECTL" --config "$NS/c.conf" hostkey | head -n 1)" = "$want (ED25519)" ] ||
	fail "sandgatectl hostkey from the .pub alone"
note "host key $want: in the log, the .pub, sandgatectl and on the wire"

# --- a user name that cannot be a sandbox: told, not counted ---------------
for u in Work my_box john.doe; do
	st=0
	sg_ssh "$u@127.0.0.1" true 2>"$SG_T/err" || st=$?
	[ "$st" = 255 ] || fail "ssh $u@: exit $st"
	grep -q "\"$u\" cannot be a sandbox name: use 1 to 32 lowercase letters" "$SG_T/err" ||
		fail "ssh $u@ does not say why: $(cat "$SG_T/err")"
done
! grep -q '"user": *"\(Work\|my_box\|john.doe\)"' "$SG_T/audit.jsonl" ||
	fail "a bad user name was counted as a failed login"
! grep -q 'authentication failed for user (invalid name)' "$SG_T/log" ||
	fail "a bad user name went to the monitor as an attempt"
note "ssh john.doe@ prints: $(head -n 1 "$SG_T/err")"

# --- a start that fails on the host: a short reason, the log the detail ---
TOK2=$(sg_ctl token create ghost)
sg_wait_for grep -q "tokens reloaded.*: 2 tokens" "$SG_T/log" || fail "token ghost not loaded"
nrel=$(grep -c "tokens reloaded" "$SG_T/log")
printf 'image = ghost\n' >>"$SG_T/tokens.conf"	# [ghost] is the last section
# (counted at each try: a $(...) here would be counted once, before the
# reload that may still be coming)
sg_wait_for sh -c "[ \$(grep -c 'tokens reloaded' '$SG_T/log') -gt $nrel ]" ||
	fail "the tokens file was not reloaded"
st=0
sg_ssh -T "$TOK2" sandbox@127.0.0.1 true 2>"$SG_T/err" || st=$?
[ "$st" = 255 ] || fail "a start with a missing image: exit $st"
grep -q "sandbox could not be started: its image is not installed on this gateway (sandbox [0-9a-f]\{12\}: the gateway's log has the details)" "$SG_T/err" ||
	fail "missing image: the client is told $(cat "$SG_T/err")"
! grep -q "$SG_IMAGE_DIR\|image_dir\|sandgate.conf" "$SG_T/err" ||
	fail "the client got host paths or admin hints: $(cat "$SG_T/err")"
grep -q "could not be started: .*image_dir" "$SG_T/log" ||
	fail "the log lacks the detail: $(grep 'could not be started' "$SG_T/log")"
sg_wait_for sg_no_leftovers || fail "leftovers after a failed start"
note "missing image: the client reads \"$(head -n 1 "$SG_T/err")\""
# keyboard-interactive alone: its response carries no user name, and is
# not taken for a bad one (the start then fails on the image: auth passed)
st=0
SSH_ASKPASS="$SG_T/askpass.$(printf '%s' "$TOK2" | cksum | cut -d' ' -f1)" \
SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh -p "$SG_PORT" \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	-o PreferredAuthentications=keyboard-interactive -o PubkeyAuthentication=no \
	-o NumberOfPasswordPrompts=1 -o ConnectTimeout=20 sandbox@127.0.0.1 true \
	2>"$SG_T/err" || st=$?
[ "$st" = 255 ] || fail "keyboard-interactive: exit $st"
grep -q "its image is not installed" "$SG_T/err" ||
	fail "keyboard-interactive login did not get through: $(cat "$SG_T/err")"
# a wrong token is a plain refusal, never the bad-name message
st=0
sg_ssh -T sg_wrong_token_0 sandbox@127.0.0.1 true 2>"$SG_T/err" || st=$?
[ "$st" = 255 ] && grep -q "Permission denied" "$SG_T/err" &&
	! grep -q "cannot be a sandbox name" "$SG_T/err" ||
	fail "a wrong token: exit $st, $(cat "$SG_T/err")"
note "keyboard-interactive alone gets in; a wrong token reads Permission denied"

# --- /metrics: the counters of what this test did --------------------------
out=$(sg_metrics 'm["sandgate_sandbox_starts_total"]' \
	'm["sandgate_sandbox_start_failures_total{stage=\"create\"}"]' \
	'm["sandgate_logins_total"]' 'm["sandgate_auth_failures_total"]' \
	'm["sandgate_sandbox_start_seconds_count"]' 'm["sandgate_proxy_up"]' \
	'len([k for k in m if k.startswith("sandgate_packets_dropped_total{reason=")]) >= 10' \
	'm["sandgate_connections{phase=\"authenticated\"}"]' \
	'm["sandgate_build_info{version=\"'"$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$SG_BUILDDIR/config.h")"'\"}"]' |
	tr '\n' ' ') || fail "scraping /metrics: $(cat "$SG_T/metrics.txt" 2>/dev/null | head -n 5)"
# two starts (both on the missing image), two logins, and the two
# attempts of the wrong token (password, then keyboard-interactive): the
# bad user names above were not attempts
[ "$out" = "2.0 2.0 2.0 2.0 0.0 1.0 True 0.0 1.0 " ] ||
	fail "/metrics does not count what happened: $out"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	--unix-socket "$SG_T/metrics.sock" "$@"; }
[ "$(code http://localhost/other)" = 404 ] || fail "/other is not 404"
[ "$(code -X POST http://localhost/metrics)" = 405 ] || fail "POST is not 405"
[ "$(code --request-target '*' http://localhost/metrics)" = 400 ] || fail "GET * is not 400"
[ "$(code -H "X-Pad: $(head -c 5000 /dev/zero | tr '\0' a)" http://localhost/metrics)" = 431 ] ||
	fail "a 5000-byte head is not 431"
[ "$(curl -sI --max-time 10 --unix-socket "$SG_T/metrics.sock" http://localhost/metrics |
	head -n 1 | tr -d '\r')" = "HTTP/1.0 200 OK" ] || fail "HEAD /metrics"
[ "$(stat -c %a "$SG_T/metrics.sock")" = 700 ] || fail "the metrics socket is not root's alone"
note "/metrics: $(grep -c '^sandgate_' "$SG_T/metrics.txt") samples; 404, 405, 400, 431 as due"

# --- SIGHUP after logrotate: a new audit log ---------------------------------
sg_ssh -T sg_wrong_token sandbox@127.0.0.1 true >/dev/null 2>&1 || true
sg_wait_for grep -q '"login_failed"' "$SG_T/audit.jsonl" || fail "no login_failed"
lr=$SG_T/logrotate.conf
sed -e "s|/var/log/sandgate/audit.jsonl|$SG_T/audit.jsonl|" \
    -e "/systemctl kill/,/|| true/c\\		kill -HUP $SG_PID" \
    "$SG_SRCDIR/tools/systemd/sandgate.logrotate" >"$lr"
grep -q "kill -HUP $SG_PID" "$lr" || fail "could not adapt the logrotate file"
before=$(got READY=1)
nold=$(grep -c login_failed "$SG_T/audit.jsonl")
logrotate -f -s "$SG_T/logrotate.state" "$lr" || fail "logrotate failed"
[ -f "$SG_T/audit.jsonl.1" ] || fail "logrotate did not rotate"
sg_wait_for has READY=1 $((before + 1)) || fail "no READY=1 after SIGHUP"
[ "$(got RELOADING=1)" -ge 1 ] || fail "no RELOADING=1 on SIGHUP"
grep -q '^MONOTONIC_USEC=[0-9]' "$NS/got" || fail "RELOADING without MONOTONIC_USEC"
sg_ssh -T sg_wrong_token_2 sandbox@127.0.0.1 true >/dev/null 2>&1 || true
sg_wait_for grep -q '"login_failed"' "$SG_T/audit.jsonl" ||
	fail "no event in the new audit log after SIGHUP"
[ "$(grep -c login_failed "$SG_T/audit.jsonl.1")" = "$nold" ] ||
	fail "the rotated file got lines after SIGHUP"
[ "$(sg_metrics 'm["sandgate_auth_failures_total"] >= 2')" = True ] ||
	fail "wrong tokens are not counted: $(grep auth_fail "$SG_T/metrics.txt")"
note "logrotate + SIGHUP: the audit log goes on in a new file"

# --- stopping ---------------------------------------------------------------
kill -TERM "$SG_PID"
wait "$SG_PID" 2>/dev/null || true
SG_PID=
[ "$(got STOPPING=1)" -ge 1 ] || fail "no STOPPING=1"
for p in $(sg_helper_pids); do sg_kill_pid "$p"; done
note "STOPPING on SIGTERM"

# --- the proxy's program that its user cannot run -----------------------
unset NOTIFY_SOCKET WATCHDOG_USEC JOURNAL_STREAM
mkdir -m 700 "$SG_T/private"
cp "$SG_BUILDDIR/secrets/sandgate-proxy" "$SG_T/private/"
sed -i "s|^program = .*|program = $SG_T/private/sandgate-proxy|" "$SG_T/sandgate.conf"
: >"$SG_T/log"
sg_start
sg_wait_for grep -q "cannot run $SG_T/private/sandgate-proxy as user sandgate-proxy: Permission denied" "$SG_T/log" ||
	fail "the proxy's exec failure is not named: $(grep proxy "$SG_T/log")"
note "a proxy its user cannot run: $(grep -o 'cannot run.*Permission denied' "$SG_T/log" | head -n 1)"
echo "PASS"
