#!/usr/bin/env bash
# P2, the ingest route (targets and latest figures: docs/performance.md): what
#   nix-build --log-format internal-json -v 2>&1 | nix-analytics-ctl ingest
# costs against a plain nix-build, on a real build of a derivation printing 200,000 lines,
# a fresh derivation every run, in alternating pairs (which side goes first alternates too):
#   A/A   plain nix-build against itself: the noise floor, what a ratio means when nothing
#         differs;
#   JSON  nix-build --log-format internal-json -v 2>/dev/null: Nix's own JSON logger, its
#         output thrown away: the share of the cost that is Nix's, whatever reads it;
#   P2    the whole route, into a live nix-analyticsd.
# nix-analyticsd is stopped (SIGSTOP) during the other builds: running, it would watch them
# through /proc and make the baseline pay for monitoring too. Prints each pair, then per series
# the median of the per-pair ratios (the figure the target is about), their spread, their
# geometric mean with a 95 % confidence interval, and a verdict on P2 against <= 1.05. Also the
# CPU time of nix-analytics-ctl ingest and of nix-analyticsd per build.
#
# usage: bench/ingest.sh [LINES (default 200000)] [PAIRS (default 11)]
#   env: BUILD_DIR (default build/release), SKIP_DEPS=1, NOISE=0 (no A/A series)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LINES=${1:-200000}
PAIRS=${2:-11}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
TARGET=1.05

((EUID == 0)) || { echo "bench/ingest.sh: run as root (builds in the Nix store)" >&2; exit 1; }
source "$ROOT/bench/lib-build.sh"
bench_build -- src/daemon/nix-analyticsd src/ctl/nix-analytics-ctl || exit 1
CTL=$BUILD_DIR/src/ctl/nix-analytics-ctl
# shellcheck source=bench/lib-pairs.sh
. "$ROOT/bench/lib-pairs.sh"

T=$(mktemp -d /tmp/na-bench-ingest.XXXXXX)
AD=
cleanup() {
	if [[ -n $AD ]]; then
		kill -CONT "$AD" 2>/dev/null || true
		kill -TERM "$AD" 2>/dev/null || true
		wait "$AD" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT
export NIX_CONFIG='substituters ='
unset NIX_PATH

mkdir -p "$T/sock"
"$BUILD_DIR/src/daemon/nix-analyticsd" --socket-dir "$T/sock" --history-db "$T/history.db" >"$T/analyticsd.log" 2>&1 &
AD=$!
for i in $(seq 100); do
	[[ -S $T/sock/control.sock ]] && break
	sleep 0.05
done
kill -STOP "$AD"
export NIX_ANALYTICS_SOCKET_DIR=$T/sock

# run plain|json|ingest TAG: wall seconds of one fresh LINES-line build that way.
run() {
	local nonce t0 t1
	nonce="$2-$RANDOM$RANDOM-$(date +%s%N)"
	cat >"$T/b.nix" <<X
derivation { name = "bench-lines"; system = builtins.currentSystem; builder = "/bin/sh";
  PATH = "/usr/bin:/bin"; nonce = "$nonce";
  args = [ "-c" "seq -f 'bench line %g: some text of a usual build log line length, like a compiler' 1 $LINES; echo ok > \$out" ]; }
X
	nix-instantiate "$T/b.nix" >/dev/null 2>&1
	[[ $1 != ingest ]] || { kill -CONT "$AD"; sleep 0.3; }
	t0=$(date +%s%N)
	case $1 in
	plain) nix-build "$T/b.nix" --no-out-link >/dev/null 2>&1 ;;
	json) nix-build "$T/b.nix" --no-out-link --log-format internal-json -v >/dev/null 2>&1 ;;
	ingest) nix-build "$T/b.nix" --no-out-link --log-format internal-json -v 2>&1 | "$CTL" ingest >/dev/null 2>>"$T/ingest.err" ;;
	esac
	t1=$(date +%s%N)
	[[ $1 != ingest ]] || kill -STOP "$AD"
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b - a) / 1e9}'
}

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows as spread)"
if [[ ${NOISE:-1} != 0 ]]; then
	echo "A/A: $LINES-line build, plain nix-build against itself, $PAIRS alternating pairs"
	LABEL_A="run a" LABEL_B="run b"
	AA=$(series A/A plain plain)
	echo "A/A: median ratio $AA (1 is no difference; the distance from 1 is this run's noise)"
fi
echo "JSON: Nix's internal-json logger alone (-v, output to /dev/null) against plain nix-build"
LABEL_A="plain" LABEL_B="internal-json"
JSON=$(series JSON plain json)
echo "JSON: median ratio $JSON (Nix's own share of the ingest route's cost)"

echo "P2: the ingest route into a live nix-analyticsd against plain nix-build, $PAIRS alternating pairs"
LABEL_A="plain" LABEL_B="ingest"
AD_CPU0=$(cpu_ticks "$AD")
P2=$(series P2 plain ingest)
per_build() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" -v n="$((PAIRS + 1))" 'BEGIN {printf "%.3f", (b - a) / hz / n}'; }
kill -CONT "$AD"
TOTAL=$("$CTL" -s "$T/sock" status | jq .events.total)
DROPPED=$("$CTL" -s "$T/sock" status | jq .events.dropped_by_senders)
kill -STOP "$AD"
echo "P2: CPU per ingest build: nix-analyticsd $(per_build "$AD_CPU0" "$(cpu_ticks "$AD")") s; nix-analyticsd received $TOTAL records, senders dropped $DROPPED"
# Its stderr holds Nix's messages it echoes, as nix-build shows them; anything else is news.
if grep -iE "warning|error|cannot|lost|gave up" "$T/ingest.err" | grep -v "^error: builder" | head -5 | grep .; then
	echo "(nix-analytics-ctl ingest said the above)"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v r="$P2" -v t="$TARGET" 'BEGIN {exit !(r <= t)}'; then
	echo "P2 (ingest): PASS ($P2 <= $TARGET; docs/performance.md P2)"
else
	echo "P2 (ingest): FAIL ($P2 > $TARGET; docs/performance.md P2; Nix's JSON output alone: $JSON)"
fi
