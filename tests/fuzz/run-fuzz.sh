#!/bin/sh
# Runs one libFuzzer harness for a bounded time over a temporary copy of
# its seed corpus (the source tree is never written).
#
#   run-fuzz.sh NAME [FUZZER]
#
# NAME picks the seeds in tests/fuzz/corpus/NAME next to this script;
# FUZZER defaults to tests/fuzz/fuzz_NAME under the current directory.
# SG_FUZZ_SECONDS sets the run time (default 10). On a failure the
# temporary directory (corpus and crash input) is kept and named.
set -u

name=${1:-}
if [ -z "$name" ]; then
	echo "usage: run-fuzz.sh NAME [FUZZER]" >&2
	exit 99
fi
fuzzer=${2:-tests/fuzz/fuzz_$name}
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/corpus/$name
secs=${SG_FUZZ_SECONDS:-10}

if [ ! -x "$fuzzer" ]; then
	echo "run-fuzz.sh: $fuzzer is not built; configure with" \
	    "CC=clang-14 --enable-fuzzing and run make check" >&2
	exit 99
fi
if [ ! -d "$seeds" ]; then
	echo "run-fuzz.sh: no seed corpus at $seeds" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sg-fuzz-$name.XXXXXX") || exit 99
trap 'rm -rf "$tmp"; exit 99' INT TERM HUP
mkdir "$tmp/corpus" "$tmp/artifacts" || exit 99
cp -R "$seeds/." "$tmp/corpus/" || exit 99

echo "run-fuzz.sh: $fuzzer for ${secs}s over $(ls "$tmp/corpus" | wc -l) seeds"
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=70000 -print_final_stats=1 \
    -artifact_prefix="$tmp/artifacts/" "$tmp/corpus"
status=$?

trap - INT TERM HUP
if [ "$status" -eq 0 ]; then
	rm -rf "$tmp"
	exit 0
fi
echo "run-fuzz.sh: $name failed (status $status); inputs kept in $tmp" >&2
for f in "$tmp"/artifacts/*; do
	[ -f "$f" ] || continue
	echo "run-fuzz.sh: reproduce with: $fuzzer $f" >&2
	echo "run-fuzz.sh: $(basename "$f") as base64:" >&2
	base64 "$f" >&2
done
# never 77 (skip) or 99 by accident: a fuzzer failure is a plain failure
exit 1
