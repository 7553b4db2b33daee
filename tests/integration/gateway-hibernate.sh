#!/bin/sh
# Hibernation with the real OpenSSH client: `hibernate NAME` saves a named
# sandbox with its memory (its domain ends, its folder keeps memory.save
# and the record), `ssh NAME@host` resumes it with its processes and what
# it held in memory (a file on tmpfs), and hibernate_after (the token's)
# does the same by itself. A hibernated sandbox outlives sandgated
# (adopted from its folder); extend moves its end; it is snapshotted
# without a domain. Bad input and faults: hibernate of one that sleeps,
# of an unknown name, without a name; sandgated killed during a save
# (the next one finishes what libvirt saved, or finds it running) and
# during a resume (found running, or still hibernated); a corrupted save
# file (it boots again from its disk: files kept, the
# loss said in the log, the audit and the metrics). Two VM boots
# (minimal), the second the boot after the corrupted save.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v python3 >/dev/null || skip "no python3"

sg_setup "idle_timeout = 10m" "max_hibernated = 1h"
C() { sg_ssh sandgate@127.0.0.1 "$@"; }
J() {	# J EXPR: evaluates a python expression over the JSON on stdin as d
	python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
state() { C info h1 --json | J 'd["state"]'; }
sbdir() { echo "$SG_T/state/sandboxes/$(C info h1 --json | J 'd["id"]')"; }

note "h1: a process, a file on tmpfs (memory) and one on its disk"
C create h1 --lifetime 10m >"$SG_T/out" 2>"$SG_T/err" || fail "create h1: $(cat "$SG_T/err")"
sg_ssh h1@127.0.0.1 'setsid sleep 100000 </dev/null >/dev/null 2>&1 &
	echo in-memory >/tmp/mem; echo on-disk >/root/note; sync' || fail "writing in h1"
pid=$(sg_ssh h1@127.0.0.1 'pidof sleep') || fail "no sleep in h1"
dir=$(sbdir)

note "hibernate h1: saved, its domain ended"
C hibernate h1 >"$SG_T/out" 2>"$SG_T/err" || fail "hibernate: $(cat "$SG_T/err")"
grep -q "^h1 is hibernated: ssh h1@HOST resumes it" "$SG_T/out" || fail "hibernate text: $(cat "$SG_T/out")"
[ "$(state)" = hibernated ] || fail "state after hibernate: $(state)"
[ -f "$dir/memory.save" ] && [ -f "$dir/hibernated.xml" ] || fail "no save in $dir: $(ls "$dir")"
[ "$(sg_domain_count)" = 0 ] || fail "h1's domain still runs"
C ls | grep -q "^[0-9a-f]* .* h1 .* hibernated " || fail "ls: $(C ls)"

note "bad input: clear errors, nothing changed"
C hibernate h1 >"$SG_T/out" 2>"$SG_T/err" && fail "hibernated twice"
grep -q "sandbox h1 is hibernated already" "$SG_T/err" || fail "twice: $(cat "$SG_T/err")"
C hibernate nosuch >"$SG_T/out" 2>"$SG_T/err" && fail "hibernated nosuch"
grep -q "no sandbox nosuch" "$SG_T/err" || fail "nosuch: $(cat "$SG_T/err")"
C hibernate >"$SG_T/out" 2>"$SG_T/err"; [ $? = 2 ] || fail "hibernate with no name"
grep -q "usage: hibernate NAME" "$SG_T/err" || fail "usage: $(cat "$SG_T/err")"
[ -f "$dir/memory.save" ] || fail "the save is gone"

note "extend while it sleeps; a snapshot of it; sandgated restarted"
ends=$(C info h1 --json | J 'd["ends"]')
C extend h1 10m >/dev/null || fail "extend"
[ "$(C info h1 --json | J 'd["ends"]')" = $((ends + 600)) ] || fail "extend did not move its end"
C snapshot h1 slept >"$SG_T/out" 2>"$SG_T/err" || fail "snapshot of a hibernated one: $(cat "$SG_T/err")"
C snapshot rm slept >/dev/null || fail "snapshot rm"
kill "$SG_PID"
wait "$SG_PID" 2>/dev/null
sg_start
sg_wait_for grep -q "sandbox .* adopted, hibernated (token t1)" "$SG_T/log" || fail "not adopted"
[ "$(state)" = hibernated ] || fail "after the restart: $(state)"
[ "$(C info h1 --json | J 'd["ends"]')" = $((ends + 600)) ] || fail "the extension was lost"

note "ssh h1@: resumed with its memory and its process"
out=$(sg_ssh h1@127.0.0.1 "cat /tmp/mem /root/note; kill -0 $pid && echo alive") ||
	fail "ssh h1 after hibernation: $out"
[ "$out" = "in-memory
on-disk
alive" ] || fail "h1 resumed: '$out'"
[ ! -e "$dir/memory.save" ] && [ ! -e "$dir/hibernated.xml" ] || fail "the save is still there: $(ls "$dir")"
grep -q "sandbox .* resumed after [0-9]*s hibernated" "$SG_T/log" || fail "no resume in the log"
grep -q '"event":"sandbox_resumed"' "$SG_T/audit.jsonl" || fail "no sandbox_resumed audit"
# (counted since this sandgated started: the hibernation was the last's)
[ "$(sg_metrics 'm["sandgate_sandbox_resumes_total{memory=\"restored\"}"] == 1' \
    'm["sandgate_sandbox_hibernations_total"] == 0')" = "True
True" ] || fail "metrics: $(grep -e resumes -e hibernations "$SG_T/metrics.txt")"

note "hibernate_after = 3s (the token's): it sleeps by itself once idle"
reloads() { grep -c 'tokens reloaded' "$SG_T/log"; }
n=$(reloads)
sed -i '/^\[t1\]/a hibernate_after = 3s' "$SG_T/tokens.conf"
sg_wait_for sh -c "[ \$(grep -c 'tokens reloaded' '$SG_T/log') -gt $n ]" || fail "no reload"
sg_ssh h1@127.0.0.1 true || fail "touching h1"
sg_wait_for grep -q "sandbox [0-9a-f]* hibernated (hibernate_after)$" "$SG_T/log" ||
	fail "not hibernated by hibernate_after"
[ "$(state)" = hibernated ] || fail "after hibernate_after: $(state)"
[ "$(sg_metrics 'm["sandgate_sandbox_hibernations_total"] == 1' \
    'm["sandgate_sandboxes{image=\"minimal\",state=\"hibernated\"}"] == 1')" = "True
True" ] || fail "metrics: $(grep -e hibernat "$SG_T/metrics.txt")"

note "sandgated killed during a save: h1 is found hibernated or running"
n=$(reloads)
sed -i '/^hibernate_after = 3s/d' "$SG_T/tokens.conf"
sg_wait_for sh -c "[ \$(grep -c 'tokens reloaded' '$SG_T/log') -gt $n ]" || fail "no reload"
out=$(sg_ssh h1@127.0.0.1 "kill -0 $pid && echo alive") || fail "resume 2: $out"
[ "$out" = alive ] || fail "resume 2: '$out'"
n=$(grep -c "hibernating (hibernate by its token)" "$SG_T/log")
C hibernate h1 >/dev/null 2>&1 &
sg_wait_for sh -c "[ \$(grep -c 'hibernating (hibernate by its token)' '$SG_T/log') -gt $n ]" ||
	fail "no hibernation began"
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null
wait
sg_start
sg_wait_for sh -c "grep -q 'sandbox .* adopted' '$SG_T/log'" || fail "h1 not adopted"
st=$(state)
case $st in hibernated|idle|restarting|booting) ;; *) fail "h1 after the kill: $st" ;; esac
note "after the kill h1 was $st"
out=$(sg_ssh h1@127.0.0.1 "cat /root/note; kill -0 $pid && echo alive") || fail "h1 after the kill: $out"
[ "$out" = "on-disk
alive" ] || fail "h1 after the kill: '$out'"
[ ! -e "$dir/memory.save.tmp" ] && [ ! -e "$dir/hibernated.xml" ] || fail "left: $(ls "$dir")"

note "sandgated killed during a resume: h1 is found running or hibernated"
C hibernate h1 >/dev/null || fail "hibernate before the resume"
n=$(grep -c "sandbox [0-9a-f]*: resuming" "$SG_T/log")
sg_ssh h1@127.0.0.1 true >/dev/null 2>&1 &
sg_wait_for sh -c "[ \$(grep -c 'sandbox [0-9a-f]*: resuming' '$SG_T/log') -gt $n ]" ||
	fail "no resume began"
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null
wait
sg_start
sg_wait_for sh -c "[ \$(grep -c 'sandbox .* adopted' '$SG_T/log') -ge 3 ]" || fail "h1 not adopted"
note "after the kill h1 was $(state)"
out=$(sg_ssh h1@127.0.0.1 "cat /root/note; kill -0 $pid && echo alive") || fail "h1 after the kill: $out"
[ "$out" = "on-disk
alive" ] || fail "h1 after a kill during its resume: '$out'"

note "a corrupted save: it boots from its disk, its files kept"
C hibernate h1 >/dev/null || fail "hibernate 3"
truncate -s 1M "$dir/memory.save" || fail "truncate"
out=$(sg_ssh h1@127.0.0.1 'cat /root/note; cat /tmp/mem 2>/dev/null || echo memory-lost') ||
	fail "h1 after a corrupted save: $out"
[ "$out" = "on-disk
memory-lost" ] || fail "h1 after a corrupted save: '$out'"
grep -q "sandbox .*: its memory could not be restored (libvirt could not restore" "$SG_T/log" ||
	fail "the log does not say the memory was lost"
grep -q '"event":"sandbox_resumed".*"memory":"lost"' "$SG_T/audit.jsonl" || fail "no audit of the loss"
[ "$(sg_metrics 'm["sandgate_sandbox_resumes_total{memory=\"lost\"}"] == 1')" = True ] ||
	fail "metrics: $(grep resumes "$SG_T/metrics.txt")"

note "kill of a hibernated sandbox removes it"
C hibernate h1 >/dev/null || fail "hibernate 4"
C kill h1 >/dev/null || fail "kill a hibernated one"
[ ! -e "$dir" ] || fail "its folder is still there"
sg_wait_for sg_no_leftovers || fail "leftovers"
sg_no_crash
echo PASS
