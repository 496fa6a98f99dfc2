# Shared helpers for the end-to-end tests: a private nix-analyticsd, the real CLI, real Nix.
#
# Sourced by every tests/e2e/*.sh, which meson runs as `bash test.sh DAEMON CTL`.
# Everything started here is tracked by pid and stopped by pid on exit; nothing is ever
# killed by name and no system-wide daemon (Nix or ours) is touched.
#
# Assertions do not abort: they print expected vs actual, count the failure and let the
# test carry on so one run shows every broken expectation. `die` is for broken
# preconditions after which nothing meaningful can be checked.

set -uo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NA_DAEMON=${1:-${NA_DAEMON:-}}
NA_CTL=${2:-${NA_CTL:-}}
# Absolute, so that they also work from another directory (ssh logins, runuser).
[[ -n "$NA_DAEMON" ]] && NA_DAEMON=$(realpath -m "$NA_DAEMON")
[[ -n "$NA_CTL" ]] && NA_CTL=$(realpath -m "$NA_CTL")
TEST_NAME=$(basename "$0" .sh)

E2E_FAILS=0
E2E_CHECKS=0
E2E_PIDS=()

# Top-level scratch directory of this run: sockets, logs, captured outputs.
T=$(mktemp -d "${TMPDIR:-/tmp}/na-e2e-$TEST_NAME.XXXXXX")
SOCKDIR="$T/sock"

log() { printf '[%s %s] %s\n' "$TEST_NAME" "$(date +%T.%3N)" "$*" >&2; }

die() {
	printf 'FATAL: %s\n' "$*" >&2
	E2E_FAILS=$((E2E_FAILS + 1))
	exit 1
}

skip() {
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}

fail() {
	E2E_FAILS=$((E2E_FAILS + 1))
	printf 'FAIL: %s\n' "$1" >&2
	shift
	local l
	for l in "$@"; do printf '    %s\n' "$l" >&2; done
}

pass() {
	printf 'ok:   %s\n' "$1" >&2
}

# assert_eq DESCRIPTION EXPECTED ACTUAL
assert_eq() {
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if [[ "$2" == "$3" ]]; then
		pass "$1"
	else
		fail "$1" "expected: $2" "actual:   $3"
	fi
}

# assert_ne DESCRIPTION UNEXPECTED ACTUAL
assert_ne() {
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if [[ "$2" != "$3" ]]; then
		pass "$1"
	else
		fail "$1" "expected anything but: $2" "actual: $3"
	fi
}

# assert_ge DESCRIPTION MINIMUM ACTUAL (integers)
assert_ge() {
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if [[ "$3" =~ ^-?[0-9]+$ ]] && (($3 >= $2)); then
		pass "$1"
	else
		fail "$1" "expected: >= $2" "actual:   $3"
	fi
}

# assert_le DESCRIPTION MAXIMUM ACTUAL (integers)
assert_le() {
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if [[ "$3" =~ ^-?[0-9]+$ ]] && (($3 <= $2)); then
		pass "$1"
	else
		fail "$1" "expected: <= $2" "actual:   $3"
	fi
}

# assert_match DESCRIPTION EXTENDED-REGEX ACTUAL
assert_match() {
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if [[ "$3" =~ $2 ]]; then
		pass "$1"
	else
		fail "$1" "expected to match: $2" "actual: $3"
	fi
}

# assert_contains DESCRIPTION NEEDLE FILE-OR-TEXT...: fixed-string search in text.
assert_contains() {
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if [[ "$3" == *"$2"* ]]; then
		pass "$1"
	else
		fail "$1" "expected to contain: $2" "actual: $(printf '%s' "$3" | head -c 2000)"
	fi
}

# assert_true DESCRIPTION COMMAND...: the command succeeds.
assert_true() {
	local desc=$1
	shift
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if "$@"; then
		pass "$desc"
	else
		fail "$desc" "command failed: $*"
	fi
}

# assert_json DESCRIPTION JSON JQ-FILTER: the filter yields true on the document.
assert_json() {
	E2E_CHECKS=$((E2E_CHECKS + 1))
	local r
	r=$(printf '%s' "$2" | jq -e "$3" 2>&1)
	if [[ $? -eq 0 ]]; then
		pass "$1"
	else
		fail "$1" "expected: jq '$3' is true" "jq says: $r" \
			"document: $(printf '%s' "$2" | head -c 3000)"
	fi
}

now_ms() { date +%s%3N; }

# system_user NAME [GROUP]: a system user for the tests (no home, no shell), made once and
# kept; with GROUP (a system group, made too) among its groups.
system_user() {
	local u=$1 g=${2:-}
	if [[ -n $g ]]; then
		getent group "$g" >/dev/null || groupadd --system "$g" || die "cannot create group $g"
	fi
	id "$u" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin ${g:+-G "$g"} "$u" ||
		die "cannot create user $u"
	[[ -z $g ]] || id -nG "$u" | grep -qw "$g" || usermod -aG "$g" "$u"
}

# mallory_user: the security tests' unprivileged second uid, na-e2e-mallory (MALLORY, MUID,
# MGID), as_mallory CMD... to run as her (setpriv: no other groups), PY3 the system's python
# (a root-only pyenv shim may come first in PATH).
mallory_user() {
	MALLORY=na-e2e-mallory
	system_user "$MALLORY"
	MUID=$(id -u "$MALLORY")
	MGID=$(id -g "$MALLORY")
	PY3=/usr/bin/python3
	[[ -x $PY3 ]] || PY3=$(command -v python3)
}
as_mallory() { setpriv --reuid="$MUID" --regid="$MGID" --clear-groups -- "$@"; }

# probe_status_while PID WHAT: while PID runs, status every 0.25 s, each answered within 1 s
# (a failed check otherwise); PROBES and SLOWEST (ms) after.
probe_status_while() {
	local pid=$1 what=$2 t0 ms out
	PROBES=0 SLOWEST=0
	while kill -0 "$pid" 2>/dev/null; do
		t0=$(now_ms)
		out=$(timeout 10 "$NA_CTL" -s "$SOCKDIR" status 2>&1)
		ms=$(($(now_ms) - t0))
		PROBES=$((PROBES + 1))
		((ms > SLOWEST)) && SLOWEST=$ms
		if ! printf '%s' "$out" | jq -e .pid >/dev/null 2>&1 || ((ms >= 1000)); then
			fail "status answers within 1 s $what (probe $PROBES)" "after ${ms} ms: $(head -c 300 <<<"$out")"
		fi
		sleep 0.25
	done
}

# assert_status_within MS DESCRIPTION: the daemon answers status, within MS milliseconds.
assert_status_within() {
	local t0 ms out rc
	t0=$(now_ms)
	out=$(timeout 10 "$NA_CTL" -s "$SOCKDIR" status 2>&1)
	rc=$?
	ms=$(($(now_ms) - t0))
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if ((rc == 0)) && ((ms < $1)) && printf '%s' "$out" | jq -e '.pid' >/dev/null 2>&1; then
		pass "$2 (${ms} ms)"
	else
		fail "$2" "exit $rc after ${ms} ms" "output: $(printf '%s' "$out" | head -c 300)"
	fi
}

# wait_for TIMEOUT_SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
# Returns 1 (after reporting) when the deadline passes.
wait_for() {
	local timeout=$1 desc=$2
	shift 2
	local deadline=$(($(now_ms) + timeout * 1000)) delay=0.02
	while :; do
		if "$@"; then
			return 0
		fi
		if (($(now_ms) >= deadline)); then
			fail "timed out after ${timeout}s waiting for: $desc"
			return 1
		fi
		sleep "$delay"
		# Back off gently: fast first answers, no busy loop on slow ones.
		case $delay in 0.02) delay=0.05 ;; 0.05) delay=0.1 ;; 0.1) delay=0.2 ;; esac
	done
}

# track PID: stop it (TERM, then KILL after a deadline) on exit.
track() { E2E_PIDS+=("$1"); }

# stop_pid PID [TIMEOUT_SECONDS]: TERM, wait with deadline, KILL. Sets STOP_RC to the exit
# status. (Not usable inside $(...): only the parent shell can wait for its children.)
stop_pid() {
	local pid=$1 timeout=${2:-5} deadline
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null
		STOP_RC=$?
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	deadline=$(($(now_ms) + timeout * 1000))
	while kill -0 "$pid" 2>/dev/null && (($(now_ms) < deadline)); do
		# A child of ours that exited is a zombie until waited for: kill -0 still works on
		# it, so check its state in /proc too.
		[[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; then
		log "pid $pid did not exit within ${timeout}s of SIGTERM: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	STOP_RC=$?
}

e2e_cleanup() {
	local rc=$? i pid
	trap - EXIT
	for ((i = ${#E2E_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${E2E_PIDS[i]}
		[[ -n "$pid" ]] && stop_pid "$pid"
	done
	if [[ -n "${DAEMON_PID:-}" ]]; then
		stop_daemon
	fi
	if ((E2E_FAILS > 0)) || { ((rc != 0)) && ((rc != 77)); }; then
		if [[ -f "$T/daemon.log" ]]; then
			echo "---- last lines of the daemon log ($T/daemon.log), connects left out ----" >&2
			grep -v -E 'source [0-9]+: (connected|disconnected)' "$T/daemon.log" | tail -n 40 >&2
		fi
		echo "RESULT: $TEST_NAME: $E2E_FAILS failed of $E2E_CHECKS checks (scratch kept in $T)" >&2
		((rc == 0)) && rc=1
	else
		echo "RESULT: $TEST_NAME: all $E2E_CHECKS checks passed" >&2
		[[ -n "${E2E_KEEP:-}" ]] || rm -rf "$T"
	fi
	exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

check_binaries() {
	[[ -n "$NA_DAEMON" && -n "$NA_CTL" ]] || die "usage: $0 NIX-ANALYTICSD NIX-ANALYTICS-CTL"
	[[ -x "$NA_DAEMON" ]] || die "daemon binary missing or not executable: $NA_DAEMON"
	[[ -x "$NA_CTL" ]] || die "ctl binary missing or not executable: $NA_CTL"
	command -v jq >/dev/null || skip "jq is not installed (scripts/deps.sh installs it)"
}

# ctl ARGS...: the real CLI against our private daemon.
ctl() { "$NA_CTL" -s "$SOCKDIR" "$@"; }

# ctl_ok OUTVAR ARGS...: run ctl, require exit 0 and JSON on stdout, store stdout in OUTVAR.
ctl_ok() {
	local __var=$1 __out __rc
	shift
	__out=$(ctl "$@" 2>"$T/ctl.err")
	__rc=$?
	if ((__rc != 0)); then
		fail "nix-analytics-ctl $* exited $__rc" "stderr: $(head -c 1000 "$T/ctl.err")"
		printf -v "$__var" '%s' ""
		return 1
	fi
	if ! printf '%s' "$__out" | jq -e . >/dev/null 2>&1; then
		fail "nix-analytics-ctl $* did not print JSON" "stdout: $(printf '%s' "$__out" | head -c 1000)"
		printf -v "$__var" '%s' ""
		return 1
	fi
	printf -v "$__var" '%s' "$__out"
}

# start_daemon [EXTRA-ARGS...]: private nix-analyticsd on $SOCKDIR, ready when status answers.
start_daemon() {
	mkdir -p "$SOCKDIR"
	# --discover-scope: a daemon rediscovers running builds from /proc at start-up; only
	# those of this test are its business (other Nix builds may run on the machine).
	# History in the scratch directory unless the test says otherwise (a later --history-db wins).
	# --cgroup-root: builds adopted into cgroups of this test only (the daemon removes the
	# root when it exits), never shared with another daemon on the machine.
	"$NA_DAEMON" --socket-dir "$SOCKDIR" --history-db "$T/history.db" -v --discover-scope $$ \
		--cgroup-root "/nix-analytics-e2e-$$" "$@" >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	log "nix-analyticsd pid $DAEMON_PID on $SOCKDIR"
	if ! wait_for 20 "nix-analyticsd answers status on $SOCKDIR" daemon_ready; then
		tail -n 30 "$T/daemon.log" >&2
		die "daemon did not come up"
	fi
}

daemon_ready() {
	kill -0 "$DAEMON_PID" 2>/dev/null || die "nix-analyticsd exited early: $(tail -n 20 "$T/daemon.log")"
	[[ -S "$SOCKDIR/events.sock" && -S "$SOCKDIR/control.sock" ]] &&
		ctl status >/dev/null 2>&1
}

# stop_daemon: SIGTERM, wait; the daemon must exit 0 and its log must be free of
# sanitizer reports (the e2e suite runs it under ASan+UBSan).
stop_daemon() {
	local pid=$DAEMON_PID
	DAEMON_PID=
	[[ -n "$pid" ]] || return 0
	stop_pid "$pid" 10
	assert_eq "nix-analyticsd exits 0 on SIGTERM" 0 "$STOP_RC"
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$T/daemon.log" 2>/dev/null; then
		fail "sanitizer report in the daemon log" "$(grep -m 5 -E 'ERROR:|runtime error:|SUMMARY:' "$T/daemon.log")"
	fi
}

# ---- Nix ----

nix_setup() {
	command -v nix-build >/dev/null || skip "nix-build is not installed (scripts/deps.sh installs nix-bin)"
	# Single-user Nix (Debian's nix-bin, no daemon) writes the store itself: root only.
	# (On a fresh machine the store does not exist until the first build makes it.)
	[[ $(id -u) == 0 || -w /nix/store ]] || skip "/nix/store is not writable by $(id -un): the Nix tests run as root"
	# No network: without this every build waits on DNS retries for cache.nixos.org. No
	# sandbox: the tests' builders are /bin/sh and the host's tools, which a sandbox hides
	# (Debian 12 ships sandbox = false, Debian 13 and later sandbox = true).
	export NIX_CONFIG='substituters =
sandbox = false
warn-dirty = false'
	# The Nix under test (the version matrix runs these tests on 2.8, 2.26 and 2.34):
	# NIX_VERSION as it prints it, NIX_NUM major * 100 + minor.
	NIX_VERSION=$(nix-build --version | awk '{ print $NF }')
	[[ $NIX_VERSION =~ ^([0-9]+)\.([0-9]+) ]] || die "cannot read Nix's version from: $(nix-build --version)"
	NIX_NUM=$((BASH_REMATCH[1] * 100 + BASH_REMATCH[2]))
	export NIX_VERSION NIX_NUM
	unset NIX_REMOTE NIX_PATH
	# A fresh nonce per run, or Nix reuses cached outputs and builds nothing.
	NONCE="$(date +%s%N)-$$-$RANDOM"
	export NONCE
}

# history_add_rows DB NAME PNAME MACHINE SECONDS...: one successful build of NAME per duration,
# an hour ago (inside any retention), written straight into the history database DB.
history_add_rows() {
	python3 - "$@" <<'PY'
import sqlite3, sys, time
db, name, pname, machine = sys.argv[1:5]
c = sqlite3.connect(db, timeout=10)
for i, secs in enumerate(int(s) for s in sys.argv[5:]):
    q = int((time.time() - 3600 + i * 100) * 1e6)
    c.execute("INSERT INTO builds (drv, name, pname, machine, state, queued, started, finished, duration)"
              " VALUES (?, ?, ?, ?, 'succeeded', ?, ?, ?, ?)",
              ("/nix/store/%032d-%s.drv" % (i, name), name, pname, machine, q, q, q + secs * 1000000,
               secs * 1000000))
c.commit()
PY
}

# drvs_of NIXFILE ARGS...: the sorted .drv closure of the file's derivations.
drvs_of() {
	local roots
	roots=$(nix-instantiate "$@" 2>"$T/instantiate.err") ||
		die "nix-instantiate $* failed: $(cat "$T/instantiate.err")"
	# shellcheck disable=SC2086
	nix-store -q --requisites $roots | grep '\.drv$' | sort
}

# drv_by_name DRVLIST NAME: the drv whose derivation name is NAME.
drv_by_name() {
	printf '%s\n' "$1" | grep -E "^/nix/store/[a-z0-9]{32}-$2\.drv$"
}

# ---- JSON helpers over ctl output ----

# build_of BUILDS-JSON DRV: the build object (or null) for DRV from a list-builds result.
build_of() {
	printf '%s' "$1" | jq -c --arg d "$2" '[.builds[] | select(.drv == $d)] | first // null'
}

# wait_both_graphs SECONDS: clients a and b built their graphs (DRVS[a], DRVS[b]: 12
# derivations in all) at once; waits until the daemon lists their builds ended, then checks
# they are exactly those derivations. Sets BUILDS (also in $T/list-builds.json).
wait_both_graphs() {
	all_done() {
		ctl list-builds 2>/dev/null | jq -e '(.builds | length) >= 12 and all(.builds[]; .state != "running" and .state != "queued")' >/dev/null
	}
	wait_for "$1" "all 12 builds ended" all_done
	ctl_ok BUILDS list-builds || die "list-builds failed"
	printf '%s\n' "$BUILDS" >"$T/list-builds.json"
	assert_eq "exactly the 12 derivations of both graphs" \
		"$(printf '%s\n' "${DRVS[a]}" "${DRVS[b]}" | sort)" "$(printf '%s' "$BUILDS" | jq -r '.builds[].drv' | sort)"
}

# check_client C UID USER CMDLINE-RE: client C's builds in BUILDS were asked for by UID (USER)
# with a command line matching CMDLINE-RE, and its graph ended as Nix built it (check_graph,
# with LINES[C], CODE[C], DRVS[C]).
check_client() {
	local c=$1 uid=$2 user=$3 want=$4 drvs_json mine
	drvs_json=$(printf '%s\n' "${DRVS[$c]}" | jq -R . | jq -sc .)
	mine=$(printf '%s' "$BUILDS" | jq -c --argjson d "$drvs_json" '[.builds[] | select(.drv as $x | $d | index($x))]')
	assert_eq "client $c: requester uid and user of all its builds" "$uid $user" \
		"$(printf '%s' "$mine" | jq -r '[.[] | "\(.requester.uid) \(.requester.user)"] | unique | join(",")')"
	assert_match "client $c: requester command line ($want)" "$want" \
		"$(printf '%s' "$mine" | jq -r '[.[].requester.cmdline] | unique | join(",")')"
	check_graph "$BUILDS" "$c" "${LINES[$c]}" "${CODE[$c]}" "${DRVS[$c]}"
}

# check_graph BUILDS-JSON CLIENT LINES CODE DRVS: the clients.nix graph of one client (the
# tests of a nix-daemon serving two clients) as nix-analytics-ctl shows it: states, exit code and message, phases, log lines.
check_graph() {
	local builds=$1 c=$2 lines=$3 code=$4 drvs=$5 n bf
	d() { drv_by_name "$drvs" "$c-$1"; }
	b() { build_of "$builds" "$(d "$1")"; }
	for n in phases logs slow top; do
		assert_eq "client $c: $c-$n succeeded" succeeded "$(b "$n" | jq -r .state)"
	done
	bf=$(b fail)
	assert_eq "client $c: $c-fail failed with exit code $code" "failed $code" \
		"$(printf '%s' "$bf" | jq -r '"\(.state) \(.failure.exit_code)"')"
	# Nix's wording: "builder for '…' failed with exit code N" up to 2.2x, "Cannot build '…'.
	# Reason: builder failed with exit code N." in 2.34.
	assert_match "client $c: the failure's reason names its drv and exit code $code" \
		"'$(d fail)'.* failed with exit code $code" "$(printf '%s' "$bf" | jq -r .failure.message)"
	assert_eq "client $c: $c-dep failed as a dependency" "failed dependency" \
		"$(b dep | jq -r '"\(.state) \(.failure.kind)"')"
	assert_eq "client $c: phases" "[\"$c-unpack\",\"$c-build\",\"$c-install\"]" \
		"$(b phases | jq -c '[.phases[].name]')"
	assert_eq "client $c: $c-logs log_lines" "$lines" "$(b logs | jq -r .log_lines)"
	assert_eq "client $c: last log line of $c-logs" "$c line $lines" \
		"$(ctl log "$(d logs)" --json -n 1 2>&1 | jq -r '.lines[-1]')"
	assert_eq "client $c: $c-slow log" "$(printf "$c slow %s\n" 1 2 3 4)" "$(ctl log "$(d slow)" 2>&1)"
}
