#!/bin/sh
# Resilience: a guest whose agent has gone bad. The image "hostile" is the
# minimal one with tests/tools/hostile-agent as PID 1: it boots and answers
# the handshake, then, when the first channel opens, breaks the protocol as
# its sandbox's --env SG_HOSTILE says (random bytes, an oversized frame, a
# frame cut short, frames of the wrong state; make check-long adds 5000
# unopened channels and a flood past its credit). For each: the session
# ends with a message, the sandbox is ended and removed, its shim says
# why (for the flood, the worker that granted the credit ends the session
# and the sandbox stays its owner's to kill), and a well-behaved sandbox ("calm") streaming meanwhile sees no gap
# longer than the stated bound (5 s; printed). The control (no
# SG_HOSTILE) answers OPEN_FAIL and its sandbox lives on.
# Boots: calm, the control and one per mode (4; 6 in the long form).
. "$SG_SRCDIR/tests/integration/lib.sh"

sg_require
HOSTILE=$SG_BUILDDIR/tests/tools/hostile-agent
[ -x "$HOSTILE" ] || skip "tests/tools/hostile-agent not built (make check builds it)"
command -v cpio >/dev/null || skip "no cpio"
if [ "${SG_LONG:-0}" = 1 ]; then
	MODES="random oversized truncated state channels flood"
else
	MODES="random oversized truncated state"
fi
BOUND_MS=5000

# the test's own image_dir: minimal as built, and hostile
make_images() {
	d=$SG_T/images
	mkdir -p "$d/minimal" "$d/hostile" "$SG_T/ov" || fail "mkdir"
	for f in "$SG_IMAGE_DIR"/minimal/*; do
		ln -s "$f" "$d/minimal/$(basename "$f")" || fail "ln"
	done
	for f in vmlinux vmlinuz rootfs.qcow2; do
		[ -e "$SG_IMAGE_DIR/minimal/$f" ] &&
			ln -s "$SG_IMAGE_DIR/minimal/$f" "$d/hostile/$f"
	done
	cp "$HOSTILE" "$SG_T/ov/init" || fail "cp"
	# a second archive: the kernel unpacks it over the first, so its
	# /init replaces the agent
	(cd "$SG_T/ov" && echo init | cpio -o -H newc -R 0:0 --quiet) \
	    >"$SG_T/ov.cpio" || fail "cpio"
	cat "$SG_IMAGE_DIR/minimal/initrd.img" "$SG_T/ov.cpio" \
	    >"$d/hostile/initrd.img" || fail "initrd"
	sed 's/^name = minimal$/name = hostile/' \
	    "$SG_IMAGE_DIR/minimal/image.conf" >"$d/hostile/image.conf"
	sed -i "s|^image_dir = .*|image_dir = $d|" "$SG_T/sandgate.conf"
}
SG_PRE_START=make_images
sg_setup "idle_timeout = 10m" "max_sandboxes = 10" "boot_timeout = 120s"

ctl() { sg_ssh sandgate@127.0.0.1 "$@"; }
gone() { ! sg_ctl list | awk '{print $3}' | grep -qx "$1"; }

# calm: one line every 50 ms for the whole test, timed on arrival here
ctl create calm >/dev/null || fail "create calm"
mkfifo "$SG_T/calm.stop"
( sg_ssh calm@127.0.0.1 'i=0; while [ ! -e /tmp/stop ]; do echo $i; i=$((i + 1)); sleep 0.05; done; echo end' |
    python3 -u -c '
import sys, time
last = None
worst = 0
n = 0
for line in sys.stdin:
    now = time.monotonic()
    if last is not None:
        worst = max(worst, now - last)
    last = now
    n += 1
    if line.strip() == "end":
        break
print("lines %d worst_gap_ms %d" % (n, worst * 1000), flush=True)
' >"$SG_T/calm.out" 2>&1 ) &
SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"

# control: the hostile image without a mode answers OPEN_FAIL
ctl create ctrl --image hostile >/dev/null || fail "create ctrl (hostile image)"
out=$(sg_ssh ctrl@127.0.0.1 true 2>&1); st=$?
[ "$st" != 0 ] || fail "the control's channel was accepted"
ctl info ctrl >/dev/null || fail "the control sandbox was ended: $(ctl info ctrl 2>&1)"
note "control (no SG_HOSTILE): '$out', its sandbox lives on"

for m in $MODES; do
	ctl create "h-$m" --image hostile --env "SG_HOSTILE=$m" >/dev/null ||
		fail "create h-$m"
	id=$(sg_ctl list | awk -v n="h-$m" '$3 == n {print $1}')
	[ -n "$id" ] || fail "no id for h-$m"
	t0=$(date +%s)
	out=$(sg_ssh "h-$m@127.0.0.1" 'echo should not run' 2>&1); st=$?
	t1=$(date +%s)
	[ "$st" = 255 ] || fail "$m: session status $st: $out"
	printf '%s' "$out" | grep -q "should not run" && fail "$m: the command ran"
	if [ "$m" = flood ]; then
		# DATA past its credit: the worker that granted it ends the
		# session; the sandbox is the owner's to end
		grep -q "sandbox $id: the guest agent broke flow control" "$SG_T/log" ||
			fail "flood: the worker did not see the broken flow control"
		ctl kill "h-$m" >/dev/null || fail "flood: kill h-$m"
		sg_wait_for gone "h-$m" || fail "flood: still listed"
		note "flood: session ended after $((t1 - t0)) s (status 255); the worker: the guest agent broke flow control"
		continue
	fi
	sg_wait_for sh -c "! virsh -c qemu:///system domstate sandgate-$id >/dev/null 2>&1" ||
		fail "$m: its domain still runs"
	sg_wait_for gone "h-$m" || fail "$m: still listed: $(sg_ctl list)"
	why=$(sed -n "s/.*shim: sandbox $id: \(the guest agent [^(]*\).*/\1/p" "$SG_T/log" | head -n 1)
	[ -n "$why" ] || fail "$m: its shim did not say what the agent did"
	# its removal (a job) is done when the monitor says so
	sg_wait_for grep -q "sandbox $id destroyed" "$SG_T/log" ||
		fail "$m: the monitor did not finish destroying it"
	[ ! -e "$SG_T/state/sandboxes/$id" ] || fail "$m: its state is left behind"
	ip link show "sg-$id" >/dev/null 2>&1 && fail "$m: its tap is left behind"
	note "$m: session ended after $((t1 - t0)) s with: $(printf '%s' "$out" | tail -n 1); shim: $why"
done

sg_ssh calm@127.0.0.1 'touch /tmp/stop' || fail "calm does not answer"
sg_wait_for grep -q '^lines ' "$SG_T/calm.out" || fail "calm's stream did not end"
gap=$(sed -n 's/.*worst_gap_ms \([0-9]*\).*/\1/p' "$SG_T/calm.out")
note "calm streamed $(sed -n 's/^lines \([0-9]*\).*/\1/p' "$SG_T/calm.out") lines; its worst gap was $gap ms (bound $BOUND_MS ms)"
[ "$gap" -lt "$BOUND_MS" ] || fail "calm stalled for $gap ms while its neighbours misbehaved"
sg_no_crash
echo "PASS: hostile-guest"
