#!/usr/bin/env bash
# P1 ingest benchmark (target and latest figures: docs/performance.md). A release build of
# nix-analyticsd takes a replayed realistic record mix on its event socket; we report
# records/s (end to end: until the daemon's status counts every record), the daemon's CPU
# time per record, and its memory at every million records to show it stays flat. Verdict
# against the target:
# >= 1,000,000 records/s and memory flat after 10 M records. The default runs 30 M records:
# growth that only shows past 10 M (a table filling page by page) shows within one run.
#
# usage: bench/run.sh [RECORDS (default 30000000)] [REPEATS (default 3)]
#   env: BUILD_DIR (default build/release), SKIP_DEPS=1, CONNECTIONS (default 1)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RECORDS=${1:-30000000}
REPEATS=${2:-3}
CONNECTIONS=${CONNECTIONS:-1}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
TARGET_RATE=1000000
# "Flat": over the last 30 % of the records RSS grows by at most 5 % + 1 MiB. (From 1 M on,
# a daemon legitimately grows while it fills its bounded tables, e.g. the finished builds it
# keeps; once they are full, more records must not cost more memory.)
FLAT_PCT=5
FLAT_SLACK_KB=1024

source "$ROOT/bench/lib-build.sh"
bench_build -- src/daemon/nix-analyticsd src/ctl/nix-analytics-ctl bench/replay || exit 1

DAEMON="$BUILD_DIR/src/daemon/nix-analyticsd"
REPLAY="$BUILD_DIR/bench/replay"
T=$(mktemp -d "${TMPDIR:-/tmp}/na-bench.XXXXXX")
DPID=

cleanup() {
	if [[ -n "$DPID" ]] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID"
		wait "$DPID" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT

# kv KEY LINE: the value of key=value in a line
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

run_once() {
	local i=$1
	local sock="$T/sock.$i"
	mkdir -p "$sock"
	"$DAEMON" --socket-dir "$sock" --history-db "$T/history.$i.db" >"$T/daemon.$i.log" 2>&1 &
	DPID=$!
	local deadline=$((SECONDS + 20))
	until [[ -S "$sock/control.sock" && -S "$sock/events.sock" ]]; do
		kill -0 "$DPID" 2>/dev/null || { cat "$T/daemon.$i.log" >&2; return 1; }
		((SECONDS < deadline)) || { echo "daemon did not start" >&2; return 1; }
		sleep 0.05
	done
	"$REPLAY" -s "$sock" -n "$RECORDS" -c "$CONNECTIONS" -p "$DPID" -k 1000000 >"$T/replay.$i.out" 2>"$T/replay.$i.err"
	local rc=$?
	kill -TERM "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
	return $rc
}

echo "P1 ingest: $RECORDS records, $CONNECTIONS connection(s), $REPEATS runs, $(nproc) cores, $(uname -r)"
RATES=()
VERDICT_MEM=flat
for ((i = 1; i <= REPEATS; i++)); do
	if ! run_once "$i"; then
		echo "run $i failed:" >&2
		cat "$T/replay.$i.err" "$T/replay.$i.out" >&2 || true
		exit 1
	fi
	res=$(grep '^result ' "$T/replay.$i.out")
	rate=$(kv rate "$res")
	RATES+=("$rate")
	echo
	echo "run $i: $(kv processed "$res") records in $(kv seconds "$res") s = $rate records/s" \
		"(client done sending after $(kv send_seconds "$res") s; $(kv bytes_per_record "$res") bytes/record;" \
		"control: status every 10 ms during the run answered in p50 $(kv status_p50_ms "$res") ms," \
		"p99 $(kv status_p99_ms "$res") ms, max $(kv status_max_ms "$res") ms)"
	printf '  %12s %9s %12s %10s %12s %10s %10s\n' records seconds "interval r/s" "cpu s" "cpu ns/rec" "RSS MiB" "HWM MiB"
	prev_n=0 prev_t=0 prev_c=0 rss1='' rss70='' n70=''
	while read -r line; do
		n=$(kv records "$line") t=$(kv seconds "$line") c=$(kv cpu_s "$line")
		rss=$(kv rss_kb "$line") hwm=$(kv hwm_kb "$line")
		((n == 0)) && { prev_c=$c; continue; }
		awk -v n="$n" -v t="$t" -v c="$c" -v pn="$prev_n" -v pt="$prev_t" -v pc="$prev_c" -v r="$rss" -v h="$hwm" 'BEGIN {
			ir = (t > pt) ? (n - pn) / (t - pt) : 0
			ns = (n > pn) ? (c - pc) * 1e9 / (n - pn) : 0
			printf "  %12d %9.2f %12.0f %10.2f %12.0f %10.1f %10.1f\n", n, t, ir, c, ns, r / 1024, h / 1024 }'
		[[ -z "$rss1" && $n -ge 1000000 ]] && rss1=$rss
		[[ -z "$rss70" && $((n * 10)) -ge $((RECORDS * 7)) ]] && rss70=$rss n70=$n
		prev_n=$n prev_t=$t prev_c=$c last_rss=$rss
	done < <(grep '^sample ' "$T/replay.$i.out")
	if [[ -n "$rss1" && -n "$rss70" ]]; then
		limit=$((rss70 + rss70 * FLAT_PCT / 100 + FLAT_SLACK_KB))
		echo "  memory: RSS ${rss1} kB at 1 M, ${rss70} kB at $n70, ${last_rss} kB at $prev_n records" \
			"($(awk -v a="$rss1" -v b="$last_rss" -v n="$prev_n" 'BEGIN { printf "%.1f", (b - a) * 1024 / (n - 1000000 + 1) }') bytes/record from 1 M on;" \
			"last 30 %: +$((last_rss - rss70)) kB, flat means <= +$((limit - rss70)) kB)"
		if ((n70 == prev_n)); then
			VERDICT_MEM="not judged (too few samples: run >= 4000000 records)"
		elif ((last_rss > limit)); then
			VERDICT_MEM="grows (run $i: RSS ${rss70} kB at $n70 records -> ${last_rss} kB at $prev_n)"
		fi
	fi
	grep -i -E 'error|warn' "$T/daemon.$i.log" | head -5 || true
done

MEDIAN=$(printf '%s\n' "${RATES[@]}" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}')
echo
echo "runs (records/s): ${RATES[*]}"
echo "median: $MEDIAN records/s (target >= $TARGET_RATE; Nix 2.8 itself emits at most ~130,000/s)"
VERDICT=PASS
((MEDIAN >= TARGET_RATE)) || VERDICT=FAIL
[[ $VERDICT_MEM == flat ]] || VERDICT=FAIL
echo "memory: $VERDICT_MEM"
echo "verdict P1: $VERDICT (rate $( ((MEDIAN >= TARGET_RATE)) && echo meets || echo misses) the target, memory $VERDICT_MEM; target: docs/performance.md P1)"
[[ $VERDICT == PASS ]]
