#!/usr/bin/env bash
# P5 (targets and latest figures: docs/performance.md): the TUI's own cost. A release build
# of nix-analyticsd and nix-analytics; the TUI runs in a private tmux (120x40) against the
# daemon; then
#   idle      no build at all, for IDLE seconds                       target <= 0.2 % of a core
#   loaded    1,000 active builds and 10,000 events/s (bench/tui-feed.py) for LOAD seconds
#                                                                     target <= 5 % of a core
#   frames    the TUI's own frame times (--stats: average, 99th percentile, longest)
#                                                                     target p99 <= 5 ms
# CPU from /proc/<pid>/stat (utime + stime) over each phase. The machine is shared: run it
# twice and quote the medians.
#
# usage: bench/tui.sh [BUILDS (default 1000)] [RATE (default 10000)] [LOAD (default 20)] [IDLE (default 10)]
#   env: BUILD_DIR (default build/release), SKIP_DEPS=1
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILDS=${1:-1000}
RATE=${2:-10000}
LOAD=${3:-20}
IDLE=${4:-10}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}

source "$ROOT/bench/lib-build.sh"
source "$ROOT/bench/lib-tui.sh"
bench_build -- src/daemon/nix-analyticsd src/tui/nix-analytics || exit 1

T=$(mktemp -d /tmp/na-bench-tui.XXXXXX)
SOCK="na-bench-tui-$$"
PIDS=()
cleanup() {
	tmux -L "$SOCK" kill-server 2>/dev/null || true
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/sock" "$T/store"

"$BUILD_DIR/src/daemon/nix-analyticsd" --socket-dir "$T/sock" --store-dir "$T/store" --history-db none \
	--discover-scope $$ --no-cgroups -q >"$T/daemon.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -S "$T/sock/control.sock" ]] && break; sleep 0.05; done

bench_tui_start "$SOCK" 120 40 "LANG=C.UTF-8 $BUILD_DIR/src/tui/nix-analytics -s $T/sock --stats $T/stats.json" ||
	exit 1
until tmux -L "$SOCK" capture-pane -p -t b | grep -q "daemon up"; do sleep 0.1; done

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# measure SECONDS: percent of one core the TUI used over that time
measure() {
	local c0 c1 t0 t1
	c0=$(cpu_ticks "$TUI")
	t0=$(date +%s.%N)
	sleep "$1"
	c1=$(cpu_ticks "$TUI")
	t1=$(date +%s.%N)
	echo "$c0 $c1 $t0 $t1 $TICK" | awk '{ printf "%.2f", 100 * ($2 - $1) / $5 / ($4 - $3) }'
}

sleep 2
IDLE_PCT=$(measure "$IDLE")
echo "idle (no build, ${IDLE} s): TUI CPU ${IDLE_PCT} % of a core (target <= 0.2 %)"

# P4's TUI part: from a build's start record sent to the daemon to its row on the screen
# (capture-pane polled; one probe build at a time, 5 probes, the median).
LAT=()
for k in 1 2 3 4 5; do
	FEED_PREFIX="probe$k-" FEED_HOLD=3 python3 "$ROOT/bench/tui-feed.py" "$T/sock/events.sock" "$T/store" 1 1 0 \
		>"$T/probe.out" &
	PROBE=$!
	until grep -q '^started' "$T/probe.out" 2>/dev/null; do sleep 0.005; done
	until tmux -L "$SOCK" capture-pane -p -t b | grep -q "probe$k-0"; do :; done
	SEEN=$(date +%s.%N)
	LAT+=("$(awk -v a="$(awk '/^started/ { print $2 }' "$T/probe.out")" -v b="$SEEN" 'BEGIN { printf "%.0f", (b - a) * 1000 }')")
	wait "$PROBE" || true
done
LAT_MED=$(printf '%s\n' "${LAT[@]}" | sort -n | sed -n 3p)
echo "new build on screen: ${LAT[*]} ms, median ${LAT_MED} ms (P4 target <= 100 ms; includes capture-pane polling)"

# (The feeder keeps its connection afterwards, so the builds stay active for the idle phase.)
FEED_HOLD=$((IDLE + 10)) python3 "$ROOT/bench/tui-feed.py" "$T/sock/events.sock" "$T/store" "$BUILDS" "$RATE" \
	"$((LOAD + 5))" >"$T/feed.out" &
FEED=$!
PIDS+=("$FEED")
until tmux -L "$SOCK" capture-pane -p -t b | grep -q "$BUILDS running"; do sleep 0.1; done
# The log panel open on the first build, as a user watching would have it.
tmux -L "$SOCK" send-keys -t b j l
sleep 2
LOAD_PCT=$(measure "$LOAD")
until grep -q '^feed:' "$T/feed.out"; do sleep 0.1; done
grep '^feed:' "$T/feed.out"
echo "loaded ($BUILDS active builds, $RATE events/s, ${LOAD} s): TUI CPU ${LOAD_PCT} % of a core (target <= 5 %)"
tmux -L "$SOCK" capture-pane -p -t b | head -n 3 | sed 's/^/  screen: /'

sleep 2
IDLE2_PCT=$(measure "$IDLE")
echo "idle with $BUILDS active builds listed, no events (${IDLE} s; the clock columns redrawn once a second): TUI CPU ${IDLE2_PCT} % of a core"
wait "$FEED" || true

tmux -L "$SOCK" send-keys -t b q
for _ in $(seq 100); do [[ -s "$T/stats.json" ]] && break; sleep 0.05; done
STATS=$(cat "$T/stats.json")
echo "TUI stats: $STATS"
AVG=$(printf '%s' "$STATS" | jq -r .frame_avg_ms)
P99=$(printf '%s' "$STATS" | jq -r .frame_p99_ms)
MAX=$(printf '%s' "$STATS" | jq -r .frame_max_ms)
echo "frames: average ${AVG} ms, 99th percentile ${P99} ms, longest ${MAX} ms (target <= 5 ms)"

verdict() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo PASS || echo FAIL; }
echo "P4 (TUI part) verdict: $(verdict "$LAT_MED" 100) (target: docs/performance.md P4)"
echo "P5 verdict: loaded CPU $(verdict "$LOAD_PCT" 5), idle CPU $(verdict "$IDLE_PCT" 0.2), frame p99 $(verdict "$P99" 5) (longest $MAX ms on a shared machine; target: docs/performance.md P5)"
