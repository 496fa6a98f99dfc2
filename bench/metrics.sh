#!/usr/bin/env bash
# The metrics endpoint's cost (docs/performance.md, "Metrics scrape"): a release
# nix-analyticsd with --metrics-listen holds BUILDS active builds (bench/tui-feed.py, which
# keeps them running with RATE records/s); then, side by side in one run, ROUNDS pairs of
#   quiet   SECONDS without a scrape
#   scraped SECONDS with a scrape every 300 ms (past the endpoint's 250 ms reuse, so each
#           scrape is rendered afresh on the event loop)
# and prints the daemon's CPU per scrape (scraped minus quiet, over the scrapes), the scrape
# time seen by curl (median, 99th percentile), the exposition's size and its series.
#
# usage: bench/metrics.sh [BUILDS (default 1000)] [RATE (default 1000)] [SECONDS (default 10)] [ROUNDS (default 3)]
#   env: BUILD_DIR (default build/release), SKIP_DEPS=1
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILDS=${1:-1000}
RATE=${2:-1000}
SECONDS_PER=${3:-10}
ROUNDS=${4:-3}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}

source "$ROOT/bench/lib-build.sh"
bench_build -- src/daemon/nix-analyticsd || exit 1

T=$(mktemp -d /tmp/na-bench-metrics.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/sock" "$T/store"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT/metrics"

"$BUILD_DIR/src/daemon/nix-analyticsd" --socket-dir "$T/sock" --store-dir "$T/store" --history-db none \
	--discover-scope $$ --no-cgroups -q --metrics-listen "127.0.0.1:$PORT" >"$T/daemon.log" 2>&1 &
DAEMON=$!
PIDS+=("$DAEMON")
for _ in $(seq 100); do [[ -S "$T/sock/control.sock" ]] && break; sleep 0.05; done

TOTAL=$((SECONDS_PER * 2 * ROUNDS + 30))
FEED_HOLD=$TOTAL python3 "$ROOT/bench/tui-feed.py" "$T/sock/events.sock" "$T/store" "$BUILDS" "$RATE" "$TOTAL" \
	>"$T/feed.log" 2>&1 &
PIDS+=($!)
active() { curl -s "$URL" | awk '$1 == "nix_analytics_builds{state=\"running\"}" { print $2 }'; }
for _ in $(seq 200); do [[ "$(active)" == "$BUILDS" ]] && break; sleep 0.1; done
[[ "$(active)" == "$BUILDS" ]] || { echo "bench/metrics.sh: the daemon does not hold $BUILDS running builds" >&2; exit 1; }

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON/stat"; }

quiet() { sleep "$SECONDS_PER"; }
scraped() {
	local end=$(($(date +%s%N) + SECONDS_PER * 1000000000))
	while (($(date +%s%N) < end)); do
		curl -s -o /dev/null -w '%{time_total}\n' -H 'Accept: application/openmetrics-text' "$URL" >>"$T/times"
		echo >>"$T/scrapes"
		sleep 0.3
	done
}
: >"$T/times"
per_scrape=()
for r in $(seq "$ROUNDS"); do
	c0=$(cpu_ticks)
	quiet
	c1=$(cpu_ticks)
	: >"$T/scrapes"
	scraped
	c2=$(cpu_ticks)
	n=$(wc -l <"$T/scrapes")
	ms=$(echo "$c0 $c1 $c2 $n $TICK" | awk '{ printf "%.2f", 1000 * (($3 - $2) - ($2 - $1)) / $5 / $4 }')
	per_scrape+=("$ms")
	echo "round $r: daemon CPU quiet $((c1 - c0)) ticks, scraped $((c2 - c1)) ticks over $n scrapes: ${ms} ms per scrape"
done

curl -s "$URL" >"$T/body"
SERIES=$(grep -vc '^#' "$T/body")
BYTES=$(wc -c <"$T/body")
sort -n "$T/times" | awk -v n="$(wc -l <"$T/times")" '
	{ t[NR] = $1 }
	END { printf "scrape time (curl, %d scrapes): median %.2f ms, p99 %.2f ms, max %.2f ms\n", n,
	      1000 * t[int((n + 1) / 2)], 1000 * t[int(0.99 * n + 0.99)], 1000 * t[n] }'
echo "exposition: $BYTES bytes, $SERIES series, with $BUILDS active builds"
echo "daemon CPU per scrape (scraped minus quiet): ${per_scrape[*]} ms"
