#!/usr/bin/env bash
# A live demo: builds nix-analytics, starts nix-analyticsd on a private socket directory,
# shows `nix-analytics-ctl watch` while a real Nix build of a small graph (parallel builds,
# phases, a failure and its dependents, a few seconds long) is piped through `ingest`, then
# prints a summary of the builds. Everything it starts is stopped on exit. Safe to re-run.
#
# usage: scripts/demo.sh   (env: BUILD_DIR, default build/demo; SKIP_DEPS=1)
set -euo pipefail

# Root is needed (packages, private nix-daemons, cgroups): another user goes through sudo.
if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "$0: run as root (sudo is not installed)" >&2; exit 1; }
	exec sudo bash "$0" "$@"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/demo}

[[ -n "${SKIP_DEPS:-}" ]] || bash "$ROOT/scripts/deps.sh"

echo "== building in $BUILD_DIR"
if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
	meson setup --reconfigure "$BUILD_DIR" "$ROOT" >/dev/null
else
	meson setup "$BUILD_DIR" "$ROOT" >/dev/null
fi
ninja -C "$BUILD_DIR" src/daemon/nix-analyticsd src/ctl/nix-analytics-ctl >/dev/null
DAEMON="$BUILD_DIR/src/daemon/nix-analyticsd"
CTL="$BUILD_DIR/src/ctl/nix-analytics-ctl"

T=$(mktemp -d "${TMPDIR:-/tmp}/na-demo.XXXXXX")
SOCKDIR="$T/sock"
PIDS=()
cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[i]}" 2>/dev/null || true
		wait "${PIDS[i]}" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$SOCKDIR"
"$DAEMON" --socket-dir "$SOCKDIR" --history-db "$T/history.db" >"$T/daemon.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
	"$CTL" -s "$SOCKDIR" status >/dev/null 2>&1 && break
	kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$T/daemon.log" >&2; exit 1; }
	sleep 0.05
done
echo "== nix-analyticsd (pid ${PIDS[0]}) on $SOCKDIR"

echo "== nix-analytics-ctl watch (live events):"
"$CTL" -s "$SOCKDIR" watch &
PIDS+=($!)
sleep 0.2

export NIX_CONFIG='substituters ='
NONCE="demo-$(date +%s%N)"
GRAPH="$ROOT/tests/e2e/nix/graph.nix"
echo "== nix-build $GRAPH -k -j3 | nix-analytics-ctl ingest"
set +e
nix-build "$GRAPH" --argstr nonce "$NONCE" --argstr prefix demo --no-out-link \
	--log-format internal-json -v -k -j3 2>&1 | "$CTL" -s "$SOCKDIR" ingest --echo-level 0 >"$T/ingest.out"
set -e
echo "== (nix-build is done; one derivation fails on purpose, two depend on it)"
sleep 0.5

echo
echo "== nix-analytics-ctl list-builds"
"$CTL" -s "$SOCKDIR" list-builds | jq -r '
	["NAME", "STATE", "SECONDS", "LOG LINES", "PHASES", "FAILURE"],
	(.builds[] | [.name, .state,
		(if .duration == null then "-" else (.duration * 10 | round / 10 | tostring) end),
		(.log_lines | tostring),
		([.phases[]?.name] | join(",")),
		(if .failure == null then "" else "\(.failure.kind)\(if .failure.exit_code then " \(.failure.exit_code)" else "" end)" end)])
	| @tsv' | awk -F'\t' '{ printf "%-20s %-10s %7s %9s  %-44s %s\n", $1, $2, $3, $4, $5, $6 }'
echo
"$CTL" -s "$SOCKDIR" status | jq -c '{events, builds}'
