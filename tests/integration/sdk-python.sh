#!/bin/sh
# The Python SDK's own tests (pytest, sdk/python/tests) against a real
# gateway and VMs of the default image (SFTP needs its sftp-server): the
# Deno-style surface end to end, and a narrowed allow_net shown to hold
# inside the guest against two web servers of a test host.
. "${SG_SRCDIR:-.}/tests/integration/lib.sh"
sg_require
/usr/bin/python3 -c 'import paramiko, pytest' 2>/dev/null ||
	fail "no python3-paramiko or python3-pytest: apt-get install python3-paramiko python3-pytest (tools/quickstart does)"

sg_sdk_setup
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$SG_SRCDIR/sdk/python \
	/usr/bin/python3 -m pytest -q -p no:cacheprovider -rs --durations=6 \
	"$SG_SRCDIR/sdk/python/tests" >"$SG_T/pytest.out" 2>&1; st=$?
cat "$SG_T/pytest.out"
[ $st = 0 ] || fail "pytest"
# every test ran: the live ones against this gateway included
! grep -q " skipped" "$SG_T/pytest.out" || fail "some tests were skipped"
sg_wait_for sg_no_leftovers || fail "leftovers after the SDK's tests"

note "pip install ./sdk/python (offline, from a copy of the tree)"
/usr/bin/python3 -m pip --version >/dev/null 2>&1 ||
	fail "no pip: apt-get install python3-pip python3-wheel (tools/quickstart does)"
cp -r "$SG_SRCDIR/sdk/python" "$SG_T/src"
/usr/bin/python3 -m pip install -q --no-build-isolation --no-deps \
	--no-index --target "$SG_T/site" "$SG_T/src" 2>"$SG_T/pip.err" ||
	fail "pip install: $(cat "$SG_T/pip.err")"
(cd / && PYTHONPATH=$SG_T/site /usr/bin/python3 -c \
	'import sandgate; assert sandgate.Sandbox.create and sandgate.Client') ||
	fail "the installed package does not import"
note "ok"
