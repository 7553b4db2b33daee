#!/bin/sh
# Resilience: load. SBX named sandboxes each run a command that streams
# for a while; meanwhile CONN SSH connections arrive at once, half with
# wrong tokens (from addresses of their own, so the per-address delays
# fall on them), half logging in to the named sandboxes. Checked: no
# crash, every legitimate login gets its answer, every wrong token is
# refused, each streaming command ran to its end with nothing lost, the
# monitor's memory is printed before and after and stays bounded.
#
# Bounded (make check): 3 sandboxes, 40 connections. make check-long
# (SG_LONG=1): 10 sandboxes, 200 connections. The pre-authentication
# limits are raised here: this measures load, preauth-flood.sh the limits.
. "$SG_SRCDIR/tests/integration/lib.sh"

sg_require
if [ "${SG_LONG:-0}" = 1 ]; then SBX=10 CONN=200; else SBX=3 CONN=40; fi
SBX=${SG_LOAD_SANDBOXES:-$SBX}
CONN=${SG_LOAD_CONNECTIONS:-$CONN}
STREAM=${SG_LOAD_STREAM_LINES:-300}

SG_TEST_GATEWAY='max_startups = 400:30:500
per_source_max_startups = 50'
sg_setup "max_sandboxes = $((SBX + 2))"
rss0=$(sg_rss)
note "monitor RSS before: ${rss0} kB"

# --- the sandboxes, each streaming ---------------------------------------
i=0
while [ $i -lt "$SBX" ]; do
	( sg_ssh "w$i@127.0.0.1" 'echo up' >"$SG_T/up.$i" 2>&1 ) &
	SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
	i=$((i + 1))
done
wait_up() {
	_j=0
	while [ $_j -lt "$SBX" ]; do
		grep -qx up "$SG_T/up.$_j" 2>/dev/null || return 1
		_j=$((_j + 1))
	done
}
sg_wait_long wait_up || fail "the $SBX sandboxes did not all start"
note "$SBX named sandboxes up"
# each prints STREAM numbered lines, 20 a second, then "done"
i=0
while [ $i -lt "$SBX" ]; do
	( sg_ssh "w$i@127.0.0.1" "i=0; while [ \$i -lt $STREAM ]; do echo \$i; \
i=\$((i + 1)); sleep 0.05; done; echo done" >"$SG_T/stream.$i" 2>&1 ) &
	SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
	i=$((i + 1))
done

# --- the connections -----------------------------------------------------
t0=$(date +%s)
i=0
while [ $i -lt "$CONN" ]; do
	src=127.$((3 + i % 2)).$((i / 250)).$((i % 250 + 1))
	if [ $((i % 2)) = 0 ]; then
		( sg_ssh -T "sg_wrong_token_$i" -b "$src" "sandbox@127.0.0.1" true \
		    >"$SG_T/conn.$i" 2>&1; echo "status $?" >>"$SG_T/conn.$i" ) &
	else
		( sg_ssh -b "$src" "w$((i % SBX))@127.0.0.1" "echo ok-$i" \
		    >"$SG_T/conn.$i" 2>&1; echo "status $?" >>"$SG_T/conn.$i" ) &
	fi
	SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
	i=$((i + 1))
done
all_done() {
	_j=0
	while [ $_j -lt "$CONN" ]; do
		grep -q '^status ' "$SG_T/conn.$_j" 2>/dev/null || return 1
		_j=$((_j + 1))
	done
}
sg_wait_long all_done || fail "connections still open after 6 minutes"
t1=$(date +%s)
ok=0 refused=0
i=0
while [ $i -lt "$CONN" ]; do
	if [ $((i % 2)) = 0 ]; then
		grep -qx 'status 255' "$SG_T/conn.$i" ||
			fail "wrong token $i was not refused: $(cat "$SG_T/conn.$i")"
		grep -q 'Permission denied' "$SG_T/conn.$i" ||
			fail "wrong token $i: $(cat "$SG_T/conn.$i")"
		refused=$((refused + 1))
	else
		grep -qx "ok-$i" "$SG_T/conn.$i" ||
			fail "login $i did not get its answer: $(cat "$SG_T/conn.$i")"
		ok=$((ok + 1))
	fi
	i=$((i + 1))
done
note "$CONN connections in $((t1 - t0)) s: $ok logins answered, $refused wrong tokens refused"

# --- the streams ran to their end ----------------------------------------
streams_done() {
	_j=0
	while [ $_j -lt "$SBX" ]; do
		grep -qx done "$SG_T/stream.$_j" 2>/dev/null || return 1
		_j=$((_j + 1))
	done
}
sg_wait_long streams_done || fail "a streaming command did not end"
i=0
while [ $i -lt "$SBX" ]; do
	n=$(grep -c '^[0-9][0-9]*$' "$SG_T/stream.$i")
	[ "$n" = "$STREAM" ] || fail "sandbox w$i streamed $n of $STREAM lines"
	i=$((i + 1))
done
note "$SBX streams of $STREAM lines each complete"

rss1=$(sg_rss)
note "monitor RSS after: ${rss1} kB (before: ${rss0} kB)"
[ "$rss1" -lt $((rss0 + 65536)) ] || fail "the monitor grew by more than 64 MiB"
sg_no_crash
echo "PASS: load"
