#!/bin/sh
# Lifetimes hold while sandgated is down. With sandgated killed (-9):
#   - a sandbox's shim ends it at its expiry: the session gets the message
#     and status 255, the guest powers off, its domain ends;
#   - a sandbox whose shim is gone too is powered off by its own agent at
#     the deadline the shim gave it (the lifetime plus 30 s);
# and a sandgated started again afterwards removes what is left.
# Two boots of the minimal image; about 80 s, most of it waiting.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
sg_setup "max_lifetime = 40s"

running() {	# running ID: the sandbox's domain is running
	[ "$(virsh -c qemu:///system domstate "sandgate-$1" 2>/dev/null | sed -n 1p)" = running ]
}
wait_down() {	# wait_down ID SECONDS
	_i=0
	while running "$1"; do
		_i=$((_i + 1))
		[ $_i -lt $(($2 * 5)) ] || return 1
		sleep 0.2
	done
}

note "a named sandbox (n1) and a fresh one (f1), each with a session"
sg_ssh n1@127.0.0.1 'echo up; sleep 600' >"$SG_T/n1" 2>&1 &
n1=$!
sg_ssh sandbox@127.0.0.1 'echo up; sleep 600' >"$SG_T/f1" 2>&1 &
f1=$!
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $n1 $f1"
sg_wait_for grep -q up "$SG_T/n1" || fail "n1 did not start: $(cat "$SG_T/n1")"
sg_wait_for grep -q up "$SG_T/f1" || fail "f1 did not start: $(cat "$SG_T/f1")"
sg_note_workers
n1id=$(sg_ctl list | awk '$3 == "n1" {print $1}')
f1id=$(sg_ctl list | awk 'NR > 1 && $3 == "-" {print $1}')
[ -n "$n1id" ] && [ -n "$f1id" ] || fail "ids: $(sg_ctl list)"
n1shim=$(sed -n "s/.*sandbox $n1id: shim started (pid \([0-9]*\).*/\1/p" "$SG_T/log")
[ -n "$n1shim" ] || fail "no shim pid for n1"

note "sandgated killed (-9); n1's shim killed too"
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null
SG_PID=
kill -9 "$n1shim"
wait "$n1"; st=$?
[ $st = 255 ] || fail "n1's session: status $st when its shim was killed"

note "f1: its shim ends it at its expiry"
wait "$f1"; st=$?
[ $st = 255 ] || fail "f1's session: status $st at its expiry: $(cat "$SG_T/f1")"
grep -q "maximum lifetime" "$SG_T/f1" || fail "f1's message: $(cat "$SG_T/f1")"
grep -q "shim: sandbox $f1id: its lifetime is over: powering it off" "$SG_T/log" ||
	fail "f1's shim did not end it"
wait_down "$f1id" 60 || fail "f1's guest still runs after its expiry"

note "n1: its agent powers it off at its own deadline"
running "$n1id" || note "(n1 was already down)"
wait_down "$n1id" 90 || fail "n1's guest still runs 90 s after its expiry"

note "sandgated again: nothing left"
sg_start
sg_wait_for sg_no_leftovers || fail "leftovers: $(sg_ctl list)"
echo PASS
