#!/usr/bin/env bash
# P2 and P3 (docs targets.md): the plugin's cost on a real build. A derivation printing
# 200,000 lines is built through a private nix-daemon that loads libnix-analytics.so and
# through one that does not, alternating, 5 pairs each (a fresh derivation every run):
#   P2  the plugin's nix-daemon reports to a live nix-analyticsd with a `watch` client
#       subscribed (the TUI's stand-in);
#   P3  the same with nix-analyticsd stopped (SIGSTOP): the plugin must neither block nor
#       slow the build; it drops and counts.
# Prints each pair, the median of the per-pair ratios and a verdict against <= 1.03.
#
# usage: bench/plugin.sh [LINES (default 200000)] [PAIRS (default 5)]
#   env: BUILD_DIR (default build/release), SKIP_DEPS=1
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LINES=${1:-200000}
PAIRS=${2:-5}
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
TARGET=1.03

((EUID == 0)) || { echo "bench/plugin.sh: run as root (private nix-daemons, the Nix store)" >&2; exit 1; }
[[ -n "${SKIP_DEPS:-}" ]] || bash "$ROOT/scripts/deps.sh" >/dev/null
# shellcheck disable=SC2046
if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
	meson setup --reconfigure "$BUILD_DIR" "$ROOT" -Dbuildtype=release -Db_sanitize=none -Dplugin=enabled \
		$(bash "$ROOT/scripts/nix-src.sh") >/dev/null
else
	meson setup "$BUILD_DIR" "$ROOT" -Dbuildtype=release -Dplugin=enabled $(bash "$ROOT/scripts/nix-src.sh") >/dev/null
fi
ninja -C "$BUILD_DIR" src/daemon/nix-analyticsd src/ctl/nix-analytics-ctl src/plugin/libnix-analytics.so >/dev/null
PLUGIN=$BUILD_DIR/src/plugin/libnix-analytics.so

T=$(mktemp -d /tmp/na-bench-plugin.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
export NIX_CONFIG='substituters ='
unset NIX_PATH

mkdir -p "$T/sock" "$T/plain" "$T/plugged"
"$BUILD_DIR/src/daemon/nix-analyticsd" --socket-dir "$T/sock" >"$T/analyticsd.log" 2>&1 &
AD=$!
PIDS+=("$AD")
systemd-socket-activate -E NIX_CONFIG -l "$T/plain/nix.sock" nix-daemon >"$T/plain/log" 2>&1 &
PIDS+=($!)
systemd-socket-activate -E NIX_CONFIG -l "$T/plugged/nix.sock" nix-daemon --option plugin-files "$PLUGIN" \
	--option analytics-socket "$T/sock/events.sock" >"$T/plugged/log" 2>&1 &
PIDS+=($!)
for i in $(seq 100); do
	[[ -S $T/sock/control.sock && -S $T/plain/nix.sock && -S $T/plugged/nix.sock ]] && break
	sleep 0.05
done
"$BUILD_DIR/src/ctl/nix-analytics-ctl" -s "$T/sock" watch --json >/dev/null 2>&1 &
PIDS+=($!)

# run DAEMON-DIR TAG: wall seconds of one fresh 200k-line build through that nix-daemon.
run() {
	local nonce="$2-$RANDOM$RANDOM-$(date +%s%N)" t0 t1
	cat >"$T/b.nix" <<X
derivation { name = "bench-lines"; system = builtins.currentSystem; builder = "/bin/sh";
  PATH = "/usr/bin:/bin"; nonce = "$nonce";
  args = [ "-c" "seq -f 'bench line %g: some text of a usual build log line length, like a compiler' 1 $LINES; echo ok > \$out" ]; }
X
	nix-instantiate "$T/b.nix" >/dev/null 2>&1
	t0=$(date +%s%N)
	NIX_REMOTE="unix://$1/nix.sock" nix-build "$T/b.nix" --no-out-link >/dev/null 2>&1
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b - a) / 1e9}'
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# series NAME: PAIRS alternating pairs; prints the median ratio.
series() {
	local name=$1 i a b ratios=()
	run "$T/plain" warm >/dev/null
	run "$T/plugged" warm >/dev/null
	for ((i = 1; i <= PAIRS; i++)); do
		if ((i % 2)); then
			a=$(run "$T/plain" p)
			b=$(run "$T/plugged" q)
		else
			b=$(run "$T/plugged" q)
			a=$(run "$T/plain" p)
		fi
		ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.4f\n", b / a}')")
		printf '  %s pair %d: without plugin %6.3f s, with plugin %6.3f s, ratio %s\n' "$name" "$i" "$a" "$b" "${ratios[-1]}" >&2
	done
	printf '%s\n' "${ratios[@]}" | median
}

# cpu_ticks PID: user + system clock ticks the process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "P2: $LINES-line build, plugin + live nix-analyticsd + a watch client, $PAIRS alternating pairs"
AD_CPU0=$(cpu_ticks "$AD")
P2=$(series P2)
AD_CPU=$(awk -v a="$AD_CPU0" -v b="$(cpu_ticks "$AD")" -v hz="$(getconf CLK_TCK)" -v n="$((PAIRS + 1))" \
	'BEGIN {printf "%.2f", (b - a) / hz / n}')
echo "P2: nix-analyticsd used $AD_CPU s of CPU per plugged-in build (the 2-core machine's other core is shared with it)"
DROPPED0=$("$BUILD_DIR/src/ctl/nix-analytics-ctl" -s "$T/sock" status | jq .events.dropped_by_senders)
TOTAL=$("$BUILD_DIR/src/ctl/nix-analytics-ctl" -s "$T/sock" status | jq .events.total)
echo "P2: median ratio $P2 (target <= $TARGET); nix-analyticsd received $TOTAL records, senders dropped $DROPPED0"

echo "P3: the same with nix-analyticsd stopped (SIGSTOP)"
kill -STOP "$AD"
P3=$(series P3)
kill -CONT "$AD"
sleep 2
DROPPED=$("$BUILD_DIR/src/ctl/nix-analytics-ctl" -s "$T/sock" status | jq .events.dropped_by_senders)
echo "P3: median ratio $P3 (target <= $TARGET); records the plugin dropped and reported: $((DROPPED - DROPPED0))"

verdict() { if awk -v r="$2" -v t="$TARGET" 'BEGIN {exit !(r <= t)}'; then echo "$1: PASS ($2 <= $TARGET)"; else echo "$1: FAIL ($2 > $TARGET)"; fi; }
verdict P2 "$P2"
verdict P3 "$P3"
