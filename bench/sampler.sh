#!/usr/bin/env bash
# P6 sampler benchmark (target and latest figures: docs/performance.md): 200 synthetic
# builds with 2,000 processes (each builder a session leader under a "nix" process, with 9
# children), announced to a release nix-analyticsd through ingest. Once the daemon tracks
# them all, we measure its CPU time over a window (sampling once a second, nothing else to
# do) as a percentage of one core, with cgroups (every build adopted into a group of its
# own) and without (--no-cgroups).
# Verdict: <= 2 % of one core.
#
# usage: bench/sampler.sh [BUILDS (200)] [PROCS_PER_BUILD (10)] [SECONDS (20)]
#   env: BUILD_DIR (default build/release), SKIP_DEPS=1. Root (builders' environ, cgroups).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-200}
K=${2:-10}
WINDOW=${3:-20}
TARGET_PCT=2
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}

source "$ROOT/bench/lib-build.sh"
bench_build -- src/daemon/nix-analyticsd src/ctl/nix-analytics-ctl || exit 1
DAEMON="$BUILD_DIR/src/daemon/nix-analyticsd"
CTL="$BUILD_DIR/src/ctl/nix-analytics-ctl"

T=$(mktemp -d "${TMPDIR:-/tmp}/na-bench-sampler.XXXXXX")
CGROOT="/nix-analytics-bench-$$"
DPID= FPID= IPID=
cleanup() {
	local p
	for p in $IPID $FPID $DPID; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	sleep 0.3
	local d
	for d in /sys/fs/cgroup/*"$CGROOT" /sys/fs/cgroup/"$CGROOT"; do
		[[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

# The store: N .drv files whose single output the builders name in their environment.
mkdir -p "$T/store"
python3 - "$T/store" "$N" >"$T/hashes" 2>"$T/drvs" <<'PY'
import random, sys
store, n = sys.argv[1], int(sys.argv[2])
alpha = "0123456789abcdfghijklmnpqrsvwxyz"
rnd = random.Random(6)
for i in range(n):
    h = "".join(rnd.choice(alpha) for _ in range(32))
    d = "".join(rnd.choice(alpha) for _ in range(32))
    open(f"{store}/{d}-bench-{i}.drv", "w").write(
        f'Derive([("out","{store}/{h}-bench-{i}","","")],[],[],"x86_64-linux","/bin/sh",[],[])')
    print(h)
    print(f"{store}/{d}-bench-{i}.drv", file=sys.stderr)
PY

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {
	local mode=$1 args=()
	[[ $mode == cgroups ]] && args=(--cgroup-root "$CGROOT") || args=(--no-cgroups)
	mkdir -p "$T/sock-$mode"
	"$DAEMON" -s "$T/sock-$mode" -q --store-dir "$T/store" --history-db "$T/history-$mode.db" --discover-scope $$ "${args[@]}" 2>"$T/daemon-$mode.log" &
	DPID=$!
	for _ in $(seq 100); do "$CTL" -s "$T/sock-$mode" status >/dev/null 2>&1 && break; sleep 0.05; done

	# The "nix" process and its builders.
	REAL_PY=$(readlink -f /usr/bin/python3) # Debian's (deps.sh), not a shim
	cp "$REAL_PY" "$T/nix-bench"
	"$T/nix-bench" "$ROOT/bench/fake-builders.py" "$T/store" "$N" "$K" "$T/hashes" >"$T/builders" &
	FPID=$!
	for _ in $(seq 200); do [[ $(wc -l <"$T/builders") -ge $N ]] && break; sleep 0.05; done

	# One build activity per drv, from an ingest that stays connected.
	awk '{printf "@nix {\"action\":\"start\",\"id\":%d,\"level\":3,\"type\":105,\"text\":\"building\",\"fields\":[\"%s\",\"\",1,1]}\n", NR, $0}' \
		"$T/drvs" >"$T/events"
	rm -f "$T/fifo" && mkfifo "$T/fifo"
	"$CTL" -s "$T/sock-$mode" ingest <"$T/fifo" >/dev/null 2>&1 &
	IPID=$!
	exec 9>"$T/fifo"
	cat "$T/events" >&9

	local tracked=0
	for _ in $(seq 300); do
		tracked=$("$CTL" -s "$T/sock-$mode" status | jq -r '.sampler.builds')
		((tracked >= N)) && break
		sleep 0.1
	done
	local procs
	procs=$("$CTL" -s "$T/sock-$mode" snapshot | jq '[.builds[].usage.procs // 0] | add')
	sleep 2
	local s1 s2 c1 c2 w1 w2
	s1=$("$CTL" -s "$T/sock-$mode" status)
	c1=$(cpu_ticks "$DPID") w1=$(date +%s%N)
	sleep "$WINDOW"
	c2=$(cpu_ticks "$DPID") w2=$(date +%s%N)
	s2=$("$CTL" -s "$T/sock-$mode" status)
	local hz pct per_sample max scanned
	hz=$(getconf CLK_TCK)
	pct=$(jq -n "($c2 - $c1) / $hz / (($w2 - $w1) / 1e9) * 100")
	per_sample=$(jq -n --argjson a "$s1" --argjson b "$s2" \
		'($b.sampler.total_ms - $a.sampler.total_ms) / ([($b.sampler.samples - $a.sampler.samples), 1] | max)')
	max=$(printf '%s' "$s2" | jq .sampler.max_ms)
	scanned=$(printf '%s' "$s2" | jq .sampler.processes_scanned)
	printf '%-9s builds tracked %d/%d, their processes %s, host processes scanned %s\n' "$mode" "$tracked" "$N" \
		"$procs" "$scanned"
	printf '%-9s daemon CPU %.2f %% of one core over %d s; per sample %.2f ms (max %.2f ms)\n' "$mode" "$pct" \
		"$WINDOW" "$per_sample" "$max"
	VERDICTS+=("$mode $(jq -n "if $pct <= $TARGET_PCT and $tracked >= $N then \"PASS\" else \"FAIL\" end" -r) ($(printf '%.2f' "$pct") % <= $TARGET_PCT %)")

	exec 9>&- # ingest sees the end of its input and leaves
	wait "$IPID" 2>/dev/null || true
	kill -TERM "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null || true
	kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null || true
	IPID= FPID= DPID=
	sleep 0.5
}

VERDICTS=()
echo "P6 sampler: $N builds x $K processes, sampling every 1 s"
run cgroups
run proc
for v in "${VERDICTS[@]}"; do echo "verdict P6: $v (target: docs/performance.md P6)"; done
