# Shared helpers for the gateway integration tests (sourced, POSIX sh).
#
# Each test script starts its own sandgated on a loopback port with its own
# state, tokens, control socket and audit log under a temp dir, talks to it
# with the real OpenSSH client, and removes everything it made on exit:
# domains, files and the processes it started (by pid).
#
# Environment (set by make check, defaults for running by hand):
#   SG_BUILDDIR   top build dir      SG_SRCDIR    top source dir
#   SG_IMAGE_DIR  dir holding minimal/ (the built guest image)

set -u
: "${SG_BUILDDIR:=$(pwd)}"
: "${SG_SRCDIR:=$SG_BUILDDIR}"
: "${SG_IMAGE_DIR:=$SG_BUILDDIR/images/out}"
SANDGATED=$SG_BUILDDIR/gateway/sandgated
SANDGATECTL=$SG_BUILDDIR/gateway/sandgatectl

skip() { echo "SKIP: $*"; exit 77; }
fail() {
	echo "FAIL: $*"
	if [ -n "${SG_T:-}" ] && [ -f "$SG_T/log" ]; then
		echo "--- last lines of the sandgated log:"
		tail -n 40 "$SG_T/log"
	fi
	exit 1
}
note() { echo "# $*"; }

# Ends a background job started as `sg_ssh ... &` (a subshell running
# ssh): its children first, by parent pid, then the subshell itself.
sg_kill_job() {
	pkill -TERM -P "$1" 2>/dev/null
	kill -TERM "$1" 2>/dev/null
}

# Pids of the shims, proxies and fronts this test's gateway started, from
# its log.
sg_helper_pids() {
	[ -n "${SG_T:-}" ] && [ -f "$SG_T/log" ] || return 0
	sed -n -e 's/.*shim started (pid \([0-9]*\).*/\1/p' \
	    -e 's/.*sandgate-proxy started (pid \([0-9]*\)).*/\1/p' \
	    -e 's/.*sandgate-front started (pid \([0-9]*\)).*/\1/p' \
	    "$SG_T/log" | sort -u
}

# sg_kill_pid PID: SIGKILL to a shim or proxy of ours (its name is
# checked, so a reused pid is left alone).
sg_kill_pid() {
	case "$(cat /proc/$1/comm 2>/dev/null)" in
	sandgate-shim|sandgate-proxy|sandgate-front) kill -9 "$1" 2>/dev/null ;;
	esac
	return 0
}

# Restarts libvirtd (SIGTERM to the pid in its pid file, then libvirtd
# -d) and waits until it answers; its guests run on meanwhile. Cleanup
# starts it again if a test stops between the two.
SG_LIBVIRTD_DOWN=0
sg_stop_libvirtd() {
	_lv=$(cat /run/libvirtd.pid 2>/dev/null)
	[ -n "$_lv" ] && kill -0 "$_lv" 2>/dev/null || fail "no libvirtd pid file"
	SG_LIBVIRTD_DOWN=1
	kill -TERM "$_lv"
	_sg_i=0
	while kill -0 "$_lv" 2>/dev/null; do
		_sg_i=$((_sg_i + 1))
		[ $_sg_i -lt 300 ] || fail "libvirtd did not stop"
		sleep 0.1
	done
}
sg_start_libvirtd() {
	libvirtd -d || fail "libvirtd -d"
	sg_wait_for virsh -c qemu:///system version >/dev/null 2>&1 ||
		fail "libvirtd did not come back"
	SG_LIBVIRTD_DOWN=0
}
sg_restart_libvirtd() {
	sg_stop_libvirtd
	sg_start_libvirtd
}

# Checks the things every gateway test needs; skips with a reason if not.
sg_require() {
	[ "$(id -u)" = 0 ] || skip "needs root (libvirt qemu:///system)"
	[ -x "$SANDGATED" ] || skip "sandgated not built"
	[ -f "$SG_IMAGE_DIR/minimal/image.conf" ] ||
		skip "no minimal image in $SG_IMAGE_DIR (make image-minimal)"
	command -v ssh >/dev/null || skip "no OpenSSH client"
	virsh -c qemu:///system version >/dev/null 2>&1 ||
		skip "libvirtd not reachable at qemu:///system"
	getent passwd sandgate >/dev/null || skip "no user sandgate (see tools/quickstart)"
}

# Picks a free loopback TCP port.
sg_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

SG_T=
SG_PID=
SG_EXTRA_PIDS=
SG_EXTRA_TABLES=
SG_EXTRA_LINKS=
SG_EXTRA_MOUNTS=
SG_EXTRA_DIRS=		# folders a test made outside $SG_T
sg_cleanup() {
	set +e
	for p in $SG_EXTRA_PIDS; do sg_kill_job "$p"; done
	if [ -n "$SG_PID" ]; then
		kill "$SG_PID" 2>/dev/null
		wait "$SG_PID" 2>/dev/null
	fi
	# Workers, shims and the proxy outlive the monitor by design: end
	# those of this test (pids from its log, checked by name).
	if [ -n "$SG_T" ] && [ -f "$SG_T/workers" ]; then
		for p in $(cat "$SG_T/workers"); do kill "$p" 2>/dev/null; done
	fi
	for p in $(sg_helper_pids); do sg_kill_pid "$p"; done
	if [ "$SG_LIBVIRTD_DOWN" = 1 ] && ! virsh -c qemu:///system version >/dev/null 2>&1; then
		libvirtd -d
		sg_wait_for virsh -c qemu:///system version >/dev/null 2>&1
	fi
	sg_destroy_domains
	sg_destroy_network
	# lazily: a helper that has not exited yet may still hold it
	for mnt in $SG_EXTRA_MOUNTS; do umount -l "$mnt" >/dev/null 2>&1; done
	for t in $SG_EXTRA_TABLES; do nft delete table inet "$t" >/dev/null 2>&1; done
	for l in $SG_EXTRA_LINKS; do ip link delete "$l" >/dev/null 2>&1; done
	if [ -n "$SG_TESTNS" ]; then
		ip link delete "sgv$$" >/dev/null 2>&1
		ip netns delete "$SG_TESTNS" >/dev/null 2>&1
	fi
	for d in $SG_EXTRA_DIRS; do rm -rf "$d"; done
	[ -n "$SG_T" ] && rm -rf "$SG_T"
}

# sg_testhost ADDR...: a test host in a network namespace of this test's
# own ($SG_TESTNS), on TEST-NET-2 through a veth pair: the host side is
# 198.51.100.1/24, the namespace has each ADDR (/24). sg_cleanup removes
# both. Run its servers with: ip netns exec "$SG_TESTNS" ...
SG_TESTNS=
sg_testhost() {
	SG_TESTNS=sgt$$
	ip netns add "$SG_TESTNS" || fail "ip netns add $SG_TESTNS"
	ip link add "sgv$$" type veth peer name "sgp$$" || fail "veth"
	ip link set "sgp$$" netns "$SG_TESTNS" || fail "veth into $SG_TESTNS"
	ip addr add 198.51.100.1/24 dev "sgv$$"
	ip link set "sgv$$" up
	for a in "$@"; do
		ip -n "$SG_TESTNS" addr add "$a/24" dev "sgp$$" || fail "address $a"
	done
	ip -n "$SG_TESTNS" link set "sgp$$" up
	ip -n "$SG_TESTNS" link set lo up
}

# sg_webhosts ADDR...: a test host (sg_testhost) whose every ADDR serves
# $SG_T/www over HTTP on port 8080 (ok.txt holds "web-ok"); returns once
# each listens.
sg_webhosts() {
	sg_testhost "$@"
	mkdir -p "$SG_T/www"
	echo web-ok >"$SG_T/www/ok.txt"
	for a in "$@"; do
		ip netns exec "$SG_TESTNS" /usr/bin/python3 -m http.server \
			--bind "$a" --directory "$SG_T/www" 8080 \
			>>"$SG_T/http.log" 2>&1 &
		SG_EXTRA_PIDS="$SG_EXTRA_PIDS $!"
	done
	for a in "$@"; do
		sg_wait_for sh -c "ip netns exec '$SG_TESTNS' ss -ltn | grep -q '$a:8080'" ||
			fail "the test host's web server on $a did not start"
	done
}

# sg_sdk_setup: a gateway for an SDK's own tests: the default image (its
# sftp-server), a test host with web servers on 198.51.100.2 and .3 (port
# 8080) that the token may reach, and the SANDGATE_TEST_* variables the
# SDKs' live tests read, exported.
sg_sdk_setup() {
	SG_TEST_IMAGE=default SG_TEST_MEMORY=1024
	sg_setup "idle_timeout = 10m" "max_lifetime = 30m"
	sg_webhosts 198.51.100.2 198.51.100.3
	printf 'max_sandboxes = 4\nallow_net = 198.51.100.2:8080, 198.51.100.3:8080\n' \
		>>"$SG_T/tokens.conf"
	sg_wait_for sh -c "[ \$(grep -c 'tokens reloaded' '$SG_T/log') -ge 1 ]" ||
		fail "no reload"
	SANDGATE_TEST_HOST=127.0.0.1
	SANDGATE_TEST_PORT=$SG_PORT
	SANDGATE_TEST_TOKEN=$SG_TOKEN
	SANDGATE_TEST_IMAGE=default
	SANDGATE_TEST_HOST_KEY=$(ssh-keygen -y -f "$SG_T/state/host_key")
	SANDGATE_TEST_ALLOWED_URL=http://198.51.100.2:8080/ok.txt
	SANDGATE_TEST_OTHER_URL=http://198.51.100.3:8080/ok.txt
	export SANDGATE_TEST_HOST SANDGATE_TEST_PORT SANDGATE_TEST_TOKEN \
		SANDGATE_TEST_IMAGE SANDGATE_TEST_HOST_KEY \
		SANDGATE_TEST_ALLOWED_URL SANDGATE_TEST_OTHER_URL
}

# Removes the taps of this test's sandboxes and its own nftables table
# (sandgated leaves both in place when it stops: fail closed).
sg_destroy_network() {
	[ -n "$SG_T" ] || return 0
	for id in $(sg_sandbox_ids); do
		ip link delete "sg-$id" >/dev/null 2>&1
	done
	nft delete table inet "$SG_NFT_TABLE" >/dev/null 2>&1
	return 0
}

# Destroys the domains this test's gateway made (their ids are in its
# state dir or its log), never anyone else's.
sg_destroy_domains() {
	[ -n "$SG_T" ] || return 0
	for id in $(sg_sandbox_ids); do
		virsh -c qemu:///system destroy "sandgate-$id" >/dev/null 2>&1 || :
	done
}

# Ids of sandboxes this gateway created, from its log, oldest first.
sg_sandbox_ids() {
	[ -f "$SG_T/log" ] || return 0
	sed -n 's/.*sandbox \([0-9a-f]\{12\}\) created.*/\1/p' "$SG_T/log" |
		awk '!seen[$0]++'
}

# sg_setup [EXTRA CONFIG LINES...]: writes config and tokens, creates the
# token "t1" (in $SG_TOKEN) and starts sandgated.
sg_setup() {
	SG_T=$(mktemp -d /tmp/sgtest.XXXXXX)
	SG_NFT_TABLE=sgtest_$$
	chmod 755 "$SG_T"
	trap sg_cleanup EXIT INT TERM
	SG_PORT=$(sg_free_port)
	mkdir -p "$SG_T/state"
	: >"$SG_T/tokens.conf"
	chmod 600 "$SG_T/tokens.conf"
	{
		echo "[gateway]"
		echo "listen = ${SG_TEST_LISTEN:-127.0.0.1}:$SG_PORT"
		echo "host_key = $SG_T/state/host_key"
		echo "tokens = $SG_T/tokens.conf"
		echo "state_dir = $SG_T/state"
		echo "control_socket = $SG_T/control.sock"
		echo "audit_log = $SG_T/audit.jsonl"
		echo "metrics = $SG_T/metrics.sock"
		[ -n "${SG_TEST_GATEWAY:-}" ] && printf '%s\n' "$SG_TEST_GATEWAY"
		echo "[libvirt]"
		echo "uri = ${SG_LIBVIRT_URI:-qemu:///system}"
		echo "domain_type = qemu"
		# A table and pool of the test's own: never a running
		# sandgated's. SG_TEST_NETWORK adds lines to [network].
		echo "[network]"
		echo "pool = ${SG_TEST_POOL:-10.231.0.0/16}"
		echo "table = $SG_NFT_TABLE"
		[ -n "${SG_TEST_NETWORK:-}" ] && printf '%s\n' "$SG_TEST_NETWORK"
		# The secrets proxy only where a test asks for it (with
		# SG_TEST_PROXY=1, SG_TEST_PROXY_LINES adds lines to [proxy]);
		# elsewhere TCP 80/443 are refused.
		echo "[proxy]"
		if [ "${SG_TEST_PROXY:-0}" = 1 ]; then
			SG_PROXY_PORT=$(sg_free_port)
			echo "port = $SG_PROXY_PORT"
			echo "program = $SG_BUILDDIR/secrets/sandgate-proxy"
			echo "user = sandgate-proxy"
			[ -n "${SG_TEST_EXTRA_CA:-}" ] && echo "extra_ca = $SG_TEST_EXTRA_CA"
			[ -n "${SG_TEST_PROXY_LINES:-}" ] && printf '%s\n' "$SG_TEST_PROXY_LINES"
		else
			echo "port = 0"
		fi
		echo "[sandbox]"
		echo "image = ${SG_TEST_IMAGE:-minimal}"
		echo "image_dir = $SG_IMAGE_DIR"
		echo "memory_mb = ${SG_TEST_MEMORY:-768}"
		echo "vcpus = 1"
		for l in "$@"; do echo "$l"; done
	} >"$SG_T/sandgate.conf"
	SG_TOKEN=$(sg_ctl token create t1) || fail "token create"
	# SG_PRE_START: a command run before sandgated starts (a test that
	# mounts a filesystem on its state dir)
	[ -n "${SG_PRE_START:-}" ] && $SG_PRE_START
	sg_start
}

sg_ctl() { "$SANDGATECTL" --config "$SG_T/sandgate.conf" "$@"; }

# sg_metrics EXPR...: scrapes the test gateway's /metrics and evaluates
# each EXPR over it (tests/integration/promparse.py), one line each.
sg_metrics() {
	curl -sf --max-time 10 --unix-socket "$SG_T/metrics.sock" \
		http://localhost/metrics >"$SG_T/metrics.txt" || return 1
	python3 "$SG_SRCDIR/tests/integration/promparse.py" "$@" <"$SG_T/metrics.txt"
}

# Starts sandgated and waits for its port.
sg_start() {
	before=$(grep -c "listening on" "$SG_T/log" 2>/dev/null) || before=0
	# SG_WRAP: a command to run it under (ip netns exec NS)
	${SG_WRAP:-} "$SANDGATED" --foreground --config "$SG_T/sandgate.conf" \
		>>"$SG_T/log" 2>&1 &
	SG_PID=$!
	_sg_i=0
	until _sg_n=$(grep -c "listening on" "$SG_T/log" 2>/dev/null); \
	    [ "${_sg_n:-0}" -gt "$before" ]; do
		kill -0 "$SG_PID" 2>/dev/null || { cat "$SG_T/log"; fail "sandgated exited"; }
		_sg_i=$((_sg_i + 1))
		[ $_sg_i -lt 300 ] || { cat "$SG_T/log"; fail "sandgated did not start"; }
		sleep 0.1
	done
}

# Remembers worker pids (from the log) so cleanup can end them.
sg_note_workers() {
	sed -n 's/.*(worker \([0-9]*\)).*/\1/p' "$SG_T/log" >"$SG_T/workers"
}

# The askpass helper gives the token to ssh without a terminal.
sg_askpass() {
	cat >"$SG_T/askpass" <<EOF
#!/bin/sh
echo '$1'
EOF
	chmod 700 "$SG_T/askpass"
}

# sg_ssh [-T TOKEN] [ssh options...] USER [command]: runs the real OpenSSH
# client against the test gateway, authenticating with the token.
sg_ssh() {
	tok=$SG_TOKEN
	if [ "${1:-}" = "-T" ]; then tok=$2; shift 2; fi
	# one helper per token: concurrent calls may use different tokens
	_ap=$SG_T/askpass.$(printf '%s' "$tok" | cksum | cut -d' ' -f1)
	if [ ! -x "$_ap" ]; then
		_apt=$(mktemp "$SG_T/ap.XXXXXX")
		printf '#!/bin/sh\necho '"'%s'"'\n' "$tok" >"$_apt"
		chmod 700 "$_apt"
		mv -f "$_apt" "$_ap"
	fi
	SSH_ASKPASS=$_ap SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
	${SG_WRAP:-} ssh -p "$SG_PORT" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o PreferredAuthentications=password,keyboard-interactive \
		-o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
		-o ConnectTimeout=20 "$@"
}

# Number of running domains this gateway made.
sg_domain_count() {
	n=0
	for id in $(sg_sandbox_ids); do
		virsh -c qemu:///system domstate "sandgate-$id" >/dev/null 2>&1 && n=$((n + 1))
	done
	echo $n
}

# sg_wait_for CMD...: retries CMD for up to 30 s.
sg_wait_for() {
	_sg_i=0
	until "$@"; do
		_sg_i=$((_sg_i + 1))
		[ $_sg_i -lt 150 ] || return 1
		sleep 0.2
	done
}

# sg_wait_long CMD...: retries CMD for up to 6 minutes (many VMs at once
# under TCG).
sg_wait_long() {
	_sg_i=0
	until "$@"; do
		_sg_i=$((_sg_i + 1))
		[ $_sg_i -lt 1800 ] || return 1
		sleep 0.2
	done
}

# The monitor's resident memory, in kB.
sg_rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SG_PID/status"; }

# Fails when the log shows a child that crashed or that its system call
# filter stopped.
sg_no_crash() {
	_sg_bad="died of signal\|stopped by its\|forbidden system call"
	if grep -q "$_sg_bad" "$SG_T/log"; then
		grep "$_sg_bad" "$SG_T/log" | head -n 5
		fail "a process crashed or was stopped by its filter"
	fi
	kill -0 "$SG_PID" 2>/dev/null || fail "sandgated is gone"
}

sg_no_leftovers() {
	[ "$(sg_domain_count)" = 0 ] || return 1
	[ -z "$(ls -A "$SG_T/state/sandboxes" 2>/dev/null)" ] || return 1
	[ -z "$(ls -A "$SG_T/state/net" 2>/dev/null)" ] || return 1
	for id in $(sg_sandbox_ids); do
		! ip link show "sg-$id" >/dev/null 2>&1 || return 1
	done
}
