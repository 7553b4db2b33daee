#!/bin/sh
# bench/egress runs to its end, beside a second sandgate table on the
# host (same tap prefix, its own pool and proxy port), as it does next to
# the service that tools/quickstart starts. It once failed every time
# there: the other table's rules dropped its guest's DNS questions.
# One boot of the default image; 2 MiB, one run (a check, not a
# measurement: no ratio is asserted).
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
command -v nft >/dev/null || skip "no nft"
[ -f "$SG_IMAGE_DIR/default/image.conf" ] ||
	skip "no default image in $SG_IMAGE_DIR (make image-default)"

SG_EXTRA_TABLES="sgtestq_$$"
trap sg_cleanup EXIT INT TERM
"$SG_BUILDDIR/tests/tools/nptool" -t "sgtestq_$$" -n 10.228.0.0/24 -P 1 setup ||
	fail "the second table"
out=$(sh "$SG_SRCDIR/bench/egress" "$SG_BUILDDIR" 2 1 2>&1) ||
	fail "bench/egress: $out"
echo "$out"
echo "$out" | grep -Eq '^  TCP connections +[0-9.]+ /s +[0-9.]+ /s +[0-9.]+$' ||
	fail "no connection rates in the output"
echo "$out" | grep -Eq '^  bulk send \(2 MiB\) +[0-9.]+ MB/s +[0-9.]+ MB/s +[0-9.]+$' ||
	fail "no bulk rates in the output"
nft list table inet "sgtestq_$$" >/dev/null 2>&1 ||
	fail "bench/egress removed a table that is not its own"
echo PASS
