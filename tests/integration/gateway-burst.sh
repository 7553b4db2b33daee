#!/bin/sh
# While 8 fresh sandboxes start at once, the monitor keeps answering:
# sandgatectl list, a login to a running named sandbox and a DNS answer
# in it each complete while the burst's sandboxes are still starting (an
# order of events, not a time limit: bench/startup measures the times).
# Then all 8 starts finish with their output and status, and nothing is
# left. Nine boots of the minimal image, eight of them at once.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
sg_setup "max_sandboxes = 12"
ms() { date +%s%3N; }

note "a named sandbox, running"
out=$(sg_ssh keep@127.0.0.1 'echo up')
[ "$out" = up ] || fail "keep: '$out'"

note "8 sandboxes start at once"
pids=
i=0
while [ $i -lt 8 ]; do
	sg_ssh sandbox@127.0.0.1 "echo done-$i" >"$SG_T/b.$i" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $pids"
# starting: created, being defined and started by a job; booting: the
# domain runs, its agent has not answered yet
pending() { sg_ctl list | awk '$6 == "starting" || $6 == "booting"' | wc -l; }
under_way() { [ "$(pending)" -ge 4 ]; }
sg_wait_for under_way ||
	fail "the burst did not get under way: $(sg_ctl list)"

t0=$(ms)
list=$(sg_ctl list) || fail "sandgatectl list during the burst"
t1=$(ms)
echo "$list" | grep -q "^[0-9a-f]\{12\} .* keep " || fail "keep is not in the list: $list"
out=$(sg_ssh keep@127.0.0.1 'ns=$(sed -n "s/^nameserver //p" /etc/resolv.conf)
	echo login-ok; nslookup burst.invalid "$ns" 2>&1; echo dns-done')
t2=$(ms)
left=$(pending)
echo "$out" | grep -q "^login-ok" || fail "the login during the burst: '$out'"
echo "$out" | grep -q "^dns-done" || fail "no DNS answer during the burst: '$out'"
echo "$out" | grep -qi "timed out" && fail "DNS timed out during the burst: '$out'"
note "during the burst: list $((t1 - t0)) ms; login with a DNS answer $((t2 - t1)) ms; $left still starting after both"
[ "$left" -ge 1 ] || fail "the burst ended before the list and the login did: nothing shown"
grep -q '"event":"dns_refused".*burst.invalid' "$SG_T/audit.jsonl" ||
	fail "the DNS question was not answered by the sandbox's resolver"

note "all 8 starts finish"
i=0
for p in $pids; do
	wait "$p" || fail "start $i: status $? ($(cat "$SG_T/b.$i"))"
	grep -q "^done-$i\$" "$SG_T/b.$i" || fail "start $i: $(cat "$SG_T/b.$i")"
	i=$((i + 1))
done
sg_ctl kill "$(sg_ctl list | awk '$3 == "keep" {print $1}')" || fail "kill keep"
sg_wait_for sg_no_leftovers || fail "leftovers: $(sg_ctl list)"
echo PASS
