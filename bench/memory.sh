#!/usr/bin/env bash
# P7 memory benchmark (target and latest figures: docs/performance.md). A release build of
# nix-analyticsd with HISTORY_ROWS history rows on disk takes BUILDS active builds and LINES
# log lines for each (bench/memory-daemon.py); its RSS once the rings are full is read
# REPEATS times, each with a fresh daemon. Prints every run, the median and the spread, and
# the verdict against the target: RSS <= 32 MiB.
#
# usage: bench/memory.sh [BUILDS (default 1000)] [LINES (default 1000)] [REPEATS (default 3)]
#   env: BUILD_DIR (default build/release), SKIP_DEPS=1, HISTORY_ROWS (default 1000000; 0: no
#   history database), DAEMON_ARGS (more nix-analyticsd options, e.g. --log-budget 8M)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILDS=${1:-1000}
LINES=${2:-1000}
REPEATS=${3:-3}
HISTORY_ROWS=${HISTORY_ROWS:-1000000}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}

source "$ROOT/bench/lib-build.sh"
bench_build -- src/daemon/nix-analyticsd bench/history-bench || exit 1

T=$(mktemp -d "${TMPDIR:-/tmp}/na-memory-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
HISTORY_DB=
if ((HISTORY_ROWS > 0)); then
	echo "filling a history database with $HISTORY_ROWS rows (history-bench)..."
	"$BUILD_DIR/bench/history-bench" "$HISTORY_ROWS" "$T/history.db" >/dev/null
	HISTORY_DB=$T/history.db
fi

rss=()
for ((i = 1; i <= REPEATS; i++)); do
	echo "== run $i of $REPEATS"
	HISTORY_DB=$HISTORY_DB python3 "$ROOT/bench/memory-daemon.py" "$BUILD_DIR/src/daemon/nix-analyticsd" \
		"$BUILDS" "$LINES" | tee "$T/run.$i" || true
	rss+=("$(sed -n 's/^result rss_kb=\([0-9]*\).*/\1/p' "$T/run.$i")")
done

printf '%s\n' "${rss[@]}" | sort -n | awk -v target=32 -v n="$REPEATS" '
	{ v[NR] = $1 / 1024 }
	END {
		if (NR != n) { print "P7: a run gave no figure"; exit 1 }
		med = v[int((NR + 1) / 2)]
		printf "P7: RSS with the rings full, %d runs: median %.1f MiB, spread %.1f-%.1f MiB\n", NR, med, v[1], v[NR]
		printf "P7 verdict: %s (target: <= %d MiB)\n", med <= target ? "PASS" : "FAIL", target
		exit med <= target ? 0 : 1
	}'
