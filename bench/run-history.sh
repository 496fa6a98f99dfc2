#!/usr/bin/env bash
# P8 and P9 (targets and latest figures: docs/performance.md): a release build, then
#   graph-bench       the graph code alone on a synthetic 20,000-derivation closure;
#   graph-daemon.py   the same closure announced to a real nix-analyticsd as one build plan,
#                     with a control client measuring status round trips meanwhile;
#   history-bench     "last 100 builds" and "ETA for this name" over 1,000,000 history rows,
#                     in the library;
#   history-daemon.py every history query the TUI and nix-analytics-ctl send, through a real
#                     nix-analyticsd on that same database (P9 as served);
#   timeline-bench    the after-the-fact store: insert cost and disk of timelines and machine
#                     samples at ROWS builds, and `at` for one instant (replay, <= 50 ms).
# Each prints figures and a verdict against docs/performance.md. The machines are shared:
# run it twice, quote medians.
#
# usage: bench/run-history.sh [NODES (default 20000)] [ROWS (default 1000000)]
#   env: BUILD_DIR (default build/release), SKIP_DEPS=1
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODES=${1:-20000}
ROWS=${2:-1000000}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}

source "$ROOT/bench/lib-build.sh"
bench_build -- src/daemon/nix-analyticsd bench/graph-bench bench/history-bench bench/timeline-bench || exit 1

rc=0
echo "== P8: graph code, $NODES derivations"
"$BUILD_DIR/bench/graph-bench" "$NODES" || rc=1
echo "== P8: through nix-analyticsd, $NODES derivations in one plan"
python3 "$ROOT/bench/graph-daemon.py" "$BUILD_DIR/src/daemon/nix-analyticsd" "$NODES" || rc=1
DB_DIR=$(mktemp -d /tmp/na-history-bench.XXXXXX)
trap 'rm -rf "$DB_DIR"' EXIT
echo "== P9: history in the library, $ROWS rows"
"$BUILD_DIR/bench/history-bench" "$ROWS" "$DB_DIR/history.db" || rc=1
echo "== P9: history as served by nix-analyticsd, $ROWS rows"
python3 "$ROOT/bench/history-daemon.py" "$BUILD_DIR/src/daemon/nix-analyticsd" "$DB_DIR/history.db" || rc=1
echo "== replay: timelines and machine samples, $ROWS builds"
"$BUILD_DIR/bench/timeline-bench" "$ROWS" "$DB_DIR" || rc=1
exit $rc
