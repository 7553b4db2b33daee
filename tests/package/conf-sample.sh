#!/bin/sh
# The commented sample sandgate.conf (tools/sandgate.conf.in) against the
# key table of the sandgated it ships with: every key that
# `sandgated -T` prints must be in the sample, commented out, in the same
# section, at the value -T prints for it (an unset key: at any example
# value); the sample may hold no other key; and, as it is, the sample
# must load to exactly the defaults.
#
#   tests/package/conf-sample.sh [SANDGATED SAMPLE]
#
# Without arguments: the build tree's gateway/sandgated and
# tools/sandgate.conf (make check). tests/package/deb.sh runs it on the
# installed /usr/sbin/sandgated and /etc/sandgate/sandgate.conf. Reads
# only; writes an empty file in a temporary folder.
set -eu

: "${SG_BUILDDIR:=$(pwd)}"
sandgated=${1:-$SG_BUILDDIR/gateway/sandgated}
sample=${2:-$SG_BUILDDIR/tools/sandgate.conf}

fail() { echo "FAIL: $*"; exit 1; }
[ -x "$sandgated" ] || { echo "SKIP: no $sandgated (build it first)"; exit 77; }
[ -f "$sample" ] || fail "no sample $sample (make builds it from tools/sandgate.conf.in)"

T=$(mktemp -d "${TMPDIR:-/tmp}/sg-sample.XXXXXX") || fail "mktemp"
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
# sandgated reads only files of its own user that others cannot write
: >"$T/empty.conf"
chmod 600 "$T/empty.conf"
cp "$sample" "$T/sample.conf"
chmod 600 "$T/sample.conf"

"$sandgated" -T --config "$T/empty.conf" >"$T/defaults" 2>"$T/err" ||
	fail "sandgated -T on an empty file: $(cat "$T/err")"
"$sandgated" -T --config "$T/sample.conf" >"$T/from-sample" 2>"$T/err" ||
	fail "sandgated -T does not load the sample $sample (as $T/sample.conf): $(cat "$T/err")"
cmp -s "$T/defaults" "$T/from-sample" ||
	fail "the sample as shipped is not the defaults: $(diff "$T/defaults" "$T/from-sample" | head -n 10)"

# "section key value" (value "-" for an unset key) of -T, and
# "section key value" of the sample's commented-out keys.
awk '
	/^\[.*\]$/ { s = $0; next }
	/^# [a-z_]+ is unset$/ { print s, $2, "-"; next }
	/^[a-z_]+ = / { k = $1; sub(/^[a-z_]+ = /, ""); print s, k, $0 }
' "$T/defaults" | sort >"$T/want"
awk '
	/^\[.*\]$/ { s = $0; next }
	/^#[a-z_]+ = / { sub(/^#/, ""); k = $1; sub(/^[a-z_]+ = /, ""); print s, k, $0 }
' "$T/sample.conf" | sort >"$T/have"
[ -s "$T/want" ] || fail "sandgated -T printed no keys"

status=0
while read -r sec key val; do
	line=$(awk -v s="$sec" -v k="$key" '$1 == s && $2 == k' "$T/have")
	if [ -z "$line" ]; then
		echo "FAIL: $sample has no commented-out $sec $key (sandgated -T: ${val})"
		status=1
	elif [ "$val" != - ] && [ "$line" != "$sec $key $val" ]; then
		echo "FAIL: $sample: $sec #$key = ${line#"$sec $key "}, but its default is $val"
		status=1
	fi
done <"$T/want"
while read -r sec key val; do
	awk -v s="$sec" -v k="$key" '$1 == s && $2 == k { f = 1 } END { exit !f }' "$T/want" ||
		{ echo "FAIL: $sample has $sec $key, which sandgated does not know"; status=1; }
done <"$T/have"
[ $status = 0 ] || exit 1
echo "ok: $sample has all $(wc -l <"$T/want") keys at their defaults"
