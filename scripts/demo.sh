#!/usr/bin/env bash
# A live demo that checks itself: builds nix-analytics, starts nix-analyticsd on a private
# socket directory and runs a real Nix build of a small graph (scripts/demo.nix: parallel
# builds, phases, a 5,000-line log, a failure with exit code 3 and its two dependents; about
# 20 s) piped through `nix-analytics-ctl ingest`.
#
# In a terminal (stdin and stdout are ttys) the terminal UI shows the live build, full screen,
# while the build runs in the background (Nix's and the daemon's output go to files); after q
# the demo waits for the build. Elsewhere (CI) the live `nix-analytics-ctl watch` stream is
# shown instead. Then a table of the builds, and a check of the daemon's picture: the five
# builds that should succeed succeeded, demo-fail failed with exit code 3, its two dependents
# are dependency failures. The last line is the verdict: `demo: OK: ...` (exit 0), or
# `demo: FAILED: ...` saying what differs, or why Nix built nothing with Nix's own error
# (exit 1; the logs are kept and named).
#
# Everything it starts is stopped by pid on exit (Ctrl-C included). Safe to re-run.
#
# usage: scripts/demo.sh
# env:   BUILD_DIR   where to build (default build/demo)
#        NA_BIN_DIR  use the programs there instead of building: an installed bin directory
#                    (nix-analyticsd, nix-analytics-ctl, nix-analytics) or a build directory
#        SKIP_DEPS=1 do not run scripts/deps.sh
#        DEMO_TUI=0  the watch stream even in a terminal
#        NIX_CONFIG  kept: the demo appends `substituters =` (no network) to it
set -euo pipefail

# Root is needed (packages, Nix's store, cgroups): another user goes through sudo.
if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "$0: run as root (sudo is not installed)" >&2; exit 1; }
	exec sudo bash "$0" "$@"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/demo}
T0=$SECONDS
TUI_MODE=0
[[ -t 0 && -t 1 && ${DEMO_TUI:-1} != 0 ]] && TUI_MODE=1

[[ -n "${SKIP_DEPS:-}" ]] || bash "$ROOT/scripts/deps.sh"
for c in jq nix-build setsid; do
	command -v "$c" >/dev/null || { echo "demo: FAILED: $c is not installed (scripts/deps.sh installs it)" >&2; exit 1; }
done

if [[ -n "${NA_BIN_DIR:-}" ]]; then
	if [[ -e "$NA_BIN_DIR/nix-analyticsd" ]]; then
		DAEMON="$NA_BIN_DIR/nix-analyticsd"
		CTL="$NA_BIN_DIR/nix-analytics-ctl"
		TUI="$NA_BIN_DIR/nix-analytics"
	else
		DAEMON="$NA_BIN_DIR/src/daemon/nix-analyticsd"
		CTL="$NA_BIN_DIR/src/ctl/nix-analytics-ctl"
		TUI="$NA_BIN_DIR/src/tui/nix-analytics"
	fi
	echo "== using the programs in $NA_BIN_DIR"
else
	echo "== building in $BUILD_DIR"
	mkdir -p "$BUILD_DIR"
	SETUP_LOG="$BUILD_DIR.setup.log"
	if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
		meson setup --reconfigure "$BUILD_DIR" "$ROOT" >"$SETUP_LOG" 2>&1
	else
		meson setup "$BUILD_DIR" "$ROOT" >"$SETUP_LOG" 2>&1
	fi || { tail -n 30 "$SETUP_LOG" >&2; echo "demo: FAILED: meson setup failed ($SETUP_LOG)" >&2; exit 1; }
	TARGETS=(src/daemon/nix-analyticsd src/ctl/nix-analytics-ctl)
	((TUI_MODE)) && TARGETS+=(src/tui/nix-analytics)
	ninja -C "$BUILD_DIR" "${TARGETS[@]}" >/dev/null
	DAEMON="$BUILD_DIR/src/daemon/nix-analyticsd"
	CTL="$BUILD_DIR/src/ctl/nix-analytics-ctl"
	TUI="$BUILD_DIR/src/tui/nix-analytics"
fi
for p in "$DAEMON" "$CTL"; do
	[[ -x "$p" ]] || { echo "demo: FAILED: $p is missing" >&2; exit 1; }
done
if ((TUI_MODE)) && [[ ! -x "$TUI" ]]; then
	echo "demo: FAILED: $TUI is missing (the terminal UI; DEMO_TUI=0 shows the watch stream instead)" >&2
	exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/na-demo.XXXXXX")
SOCKDIR="$T/sock"
KEEP_T=0
PIDS=()     # stopped in reverse order on exit
BUILD_PID=  # the build's session (nix-build | ingest): stopped as a process group

# stop_pid PID [GROUP]: SIGTERM, up to 10 s to exit, then SIGKILL; GROUP: the whole process
# group PID leads.
stop_pid() {
	local pid=$1 target=$1 i
	[[ -n ${2:-} ]] && target=-$1
	if kill -TERM -- "$target" 2>/dev/null; then
		for ((i = 0; i < 200; i++)); do
			kill -0 -- "$target" 2>/dev/null || break
			# our own child, exited: a zombie until waited for
			[[ -z ${2:-} && "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && break
			sleep 0.05
		done
		kill -KILL -- "$target" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM HUP
	[[ -n $BUILD_PID ]] && stop_pid "$BUILD_PID" group
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[i]}"
	done
	if ((KEEP_T)); then
		rm -rf "$SOCKDIR"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT TERM HUP

mkdir -p "$SOCKDIR"
# --discover-scope: builds rediscovered from /proc are only those under this script (other
# Nix builds may run on the machine); --cgroup-root: cgroups of this demo only, removed by
# the daemon when it exits.
"$DAEMON" --socket-dir "$SOCKDIR" --history-db "$T/history.db" --discover-scope $$ \
	--cgroup-root "/nix-analytics-demo-$$" >"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
PIDS+=("$DAEMON_PID")
for _ in $(seq 200); do
	"$CTL" -s "$SOCKDIR" status >/dev/null 2>&1 && break
	if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		tail -n 20 "$T/daemon.log" >&2
		echo "demo: FAILED: nix-analyticsd exited at start-up (above)" >&2
		exit 1
	fi
	sleep 0.05
done
"$CTL" -s "$SOCKDIR" status >/dev/null 2>&1 || { echo "demo: FAILED: nix-analyticsd does not answer on $SOCKDIR" >&2; exit 1; }
echo "== nix-analyticsd (pid $DAEMON_PID) on $SOCKDIR"

# The caller's NIX_CONFIG is kept; no substituters: nothing is fetched, everything is built.
NIX_CONFIG="${NIX_CONFIG:+$NIX_CONFIG$'\n'}substituters ="
export NIX_CONFIG
NONCE="demo-$(date +%s%N)-$$"
GRAPH="$ROOT/scripts/demo.nix"

# start_build: nix-build | ingest in a session of its own (stopped as one group on exit; a
# Ctrl-C in the TUI's terminal does not reach it). Nix's stdout (passed through by ingest) and
# its messages (errors, as text) go to files; nix-build's exit status to $T/nix.rc.
start_build() {
	# shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
	setsid bash -c '
		nix-build "$1" --argstr nonce "$2" --no-out-link --log-format internal-json -v -k -j3 2>&1 |
			"$3" -s "$4" ingest --echo-level 0 >"$5/nix.out" 2>"$5/nix.err"
		echo "${PIPESTATUS[0]}" >"$5/nix.rc"
	' demo-build "$GRAPH" "$NONCE" "$CTL" "$SOCKDIR" "$T" </dev/null >"$T/build.log" 2>&1 &
	BUILD_PID=$!
}

# How many builds really ran, from list-builds: one succeeded, or got to its exit code 3.
RAN_JQ='[.builds[] | select(.state == "succeeded" or .failure.exit_code == 3)] | length'

build_running() { kill -0 "$BUILD_PID" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$BUILD_PID/stat" 2>/dev/null)" != Z ]]; }

echo "== nix-build scripts/demo.nix -k -j3 | nix-analytics-ctl ingest"
echo "   8 derivations, about 20 s; one fails on purpose (exit code 3), two depend on it"
if ((TUI_MODE)); then
	start_build
	# one line, 80 columns: the keys that matter (any key starts the TUI before the 3 s)
	echo "== the TUI on the live build: q quits (summary after), ? help, l a build's log"
	read -r -s -n 1 -t 3 _ || true
	# Nix already gave up without building anything (no build users, say): straight to why.
	if ! build_running && [[ "$("$CTL" -s "$SOCKDIR" list-builds 2>/dev/null | jq "$RAN_JQ")" == 0 ]]; then
		echo "== (nix-build ended without building anything: no TUI)"
	else
		set +e
		"$TUI" -s "$SOCKDIR" 2>"$T/tui.err"
		TUI_RC=$?
		set -e
		if ((TUI_RC != 0)); then
			tail -n 5 "$T/tui.err" >&2
			echo "== (nix-analytics exited with status $TUI_RC)" >&2
		fi
	fi
	build_running && echo "== waiting for nix-build to end (Ctrl-C stops it)"
else
	echo "== nix-analytics-ctl watch (live events):"
	"$CTL" -s "$SOCKDIR" watch 2>"$T/watch.err" &
	WATCH_PID=$!
	PIDS+=("$WATCH_PID")
	# subscribed when the daemon counts it besides the client asking
	for _ in $(seq 100); do
		"$CTL" -s "$SOCKDIR" status 2>/dev/null | jq -e '.control.clients >= 2' >/dev/null && break
		sleep 0.05
	done
	start_build
fi
wait "$BUILD_PID" 2>/dev/null || true
BUILD_PID=
NIX_RC=$(cat "$T/nix.rc" 2>/dev/null || echo "?")

# The daemon's picture settles a moment after ingest has handed everything over: wait (10 s
# at most) until every invocation is done and nothing is queued or running.
settled() {
	"$CTL" -s "$SOCKDIR" list-invocations 2>/dev/null | jq -e '.invocations | all(.state == "done")' >/dev/null &&
		"$CTL" -s "$SOCKDIR" status 2>/dev/null | jq -e '.builds.running == 0 and .builds.queued == 0' >/dev/null
}
for _ in $(seq 100); do
	settled && break
	sleep 0.1
done
if [[ -n ${WATCH_PID:-} ]]; then
	sleep 0.2 # the last events of the stream
	stop_pid "$WATCH_PID"
fi

BUILDS=$("$CTL" -s "$SOCKDIR" list-builds) || { echo "demo: FAILED: nix-analytics-ctl list-builds failed (daemon log: $T/daemon.log)" >&2; KEEP_T=1; exit 1; }

echo
echo "== nix-analytics-ctl list-builds (nix-build exited $NIX_RC)"
printf '%s' "$BUILDS" | jq -r '
	["NAME", "STATE", "SECONDS", "LOG LINES", "PHASES", "FAILURE"],
	(.builds[] | [.name, .state,
		(if .duration == null then "-" else (.duration * 10 | round / 10 | tostring) end),
		(.log_lines | tostring),
		([.phases[]?.name] | join(",")),
		(if .failure == null then "" else "\(.failure.kind)\(if .failure.exit_code then " \(.failure.exit_code)" else "" end)" end)])
	| @tsv' | awk -F'\t' '{ printf "%-20s %-10s %7s %9s  %-50s %s\n", $1, $2, $3, $4, $5, $6 }' | sed 's/ *$//'
echo
"$CTL" -s "$SOCKDIR" status | jq -c '{events, builds}' || true

# --- the verdict: the daemon's picture against what the graph does ---
WANT='{"demo-phases": "succeeded", "demo-long-log": "succeeded", "demo-slow-a": "succeeded",
	"demo-slow-b": "succeeded", "demo-top": "succeeded", "demo-fail": "exit 3",
	"demo-after-fail": "dependency", "demo-after-after": "dependency"}'
# One string per difference: what the daemon shows against what was wanted.
DIFFS=$(printf '%s' "$BUILDS" | jq -r --argjson want "$WANT" '
	.builds as $b
	| def shown: "\(.state)\(if .failure == null then "" else " (\(.failure.kind)\(if .failure.exit_code != null then " \(.failure.exit_code)" else "" end))" end)";
	[$want | to_entries[] | .key as $n | .value as $w
		| ([$b[] | select(.name == $n)] | last) as $x
		| if $x == null then "\($n) is missing"
		elif $w == "succeeded" then
			(if $x.state == "succeeded" then empty else "\($n) is \($x | shown), want succeeded" end)
		elif $w == "exit 3" then
			(if $x.state == "failed" and $x.failure.kind == "exit-code" and $x.failure.exit_code == 3 then empty
			else "\($n) is \($x | shown), want failed (exit-code 3)" end)
		else
			(if $x.state == "failed" and $x.failure.kind == "dependency" then empty
			else "\($n) is \($x | shown), want failed (dependency)" end)
		end]
	| join("; ")')
RAN=$(printf '%s' "$BUILDS" | jq "$RAN_JQ")
# Nix's own first error, without colours: its messages (ingest's echo), else its plain output.
NIX_ERR=$(cat "$T/nix.err" "$T/nix.out" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | grep -m 1 '^error:' || true)
ELAPSED=$((SECONDS - T0))
if ((RAN == 0)); then
	KEEP_T=1
	echo "demo: FAILED: Nix built nothing (nix-build exited $NIX_RC): ${NIX_ERR:-no error from Nix; see $T/nix.err} (logs in $T)" >&2
	exit 1
fi
if [[ -n $DIFFS ]]; then
	KEEP_T=1
	echo "demo: FAILED: the daemon's picture differs: $DIFFS (nix-build exited $NIX_RC; logs in $T)" >&2
	exit 1
fi
echo "demo: OK: 5 builds succeeded, demo-fail failed with exit code 3 and its 2 dependents as dependency failures, as Nix did (${ELAPSED}s)"
