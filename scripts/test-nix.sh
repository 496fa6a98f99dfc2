#!/usr/bin/env bash
# The Nix version matrix, one Nix at a time: run inside a Debian root whose nix-bin is the Nix
# under test (trixie: 2.26, sid: 2.34), e.g.
#
#   bash scripts/fresh-root.sh --suite trixie -- bash scripts/test-nix.sh
#
# Sets the root up as the project's own setup does (scripts/deps.sh, scripts/nix-src.sh), builds
# the gcc build against that Nix and runs the end-to-end tests of each route into nix-analyticsd
# that this Nix offers, against its real nix-daemon:
#   ingest           nix-build | nix-analytics-ctl ingest (tests/e2e/ingest.sh)     every Nix
#   ingest-daemon    two users through one nix-daemon, each client piped into ingest every Nix
#   json-log-daemon  the same, seen through the nix-daemon's json-log-path          2.30 and later
#   nix-cgroups      builds in Nix's own cgroups under allocated uids, measured and acted on
#                    there (use-cgroups, auto-allocate-uids)                    2.12 and later
#   plugin-daemon    the same, seen by the plugin loaded into the nix-daemon        a Nix that can
#                    load it (one whose libnixstore is a shared library: not Debian 13's or sid's)
# Like scripts/test.sh, the last line is "N passed, N failed" (CI=true: a skip is a failure) and
# the exit status is non-zero when anything failed.
set -uo pipefail

if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "$0: run as root (sudo is not installed)" >&2; exit 1; }
	exec sudo bash "$0" "$@"
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
T0=$SECONDS
CI=${CI:-}
BUILD=build/nix-matrix
# shellcheck source=scripts/lib-tally.sh
source "$ROOT/scripts/lib-tally.sh"

note() { printf '\n==== test-nix: %s (%ds)\n' "$*" $((SECONDS - T0)); }
finish() {
	tally_finish "test-nix: Nix ${NIX_VERSION:-?} in $(. /etc/os-release && echo "$PRETTY_NAME"): $((SECONDS - T0)) s"
}

note "dependencies"
bash scripts/deps.sh || { failure "deps: scripts/deps.sh failed"; finish; }
NIX_VERSION=$(nix-build --version | awk '{ print $NF }')
echo "Nix under test: $NIX_VERSION"

# The plugin is built where this release's Nix source can be had (apt-get source nix: bookworm,
# trixie); the mirror serves none for sid.
PLUGIN_OPTS=(-Dplugin=disabled)
if NIX_SRC_OPTS=$(bash scripts/nix-src.sh); then
	# shellcheck disable=SC2206
	PLUGIN_OPTS=(-Dplugin=enabled $NIX_SRC_OPTS)
else
	echo "test-nix: no Nix $NIX_VERSION source here: the plugin is not built"
fi

note "configure $BUILD (gcc ${PLUGIN_OPTS[*]})"
mkdir -p build
if ! CC=gcc meson setup --wipe "$BUILD" -Dwerror=true -Dtests=enabled "${PLUGIN_OPTS[@]}" >"$BUILD.setup.log" 2>&1 &&
	! CC=gcc meson setup "$BUILD" -Dwerror=true -Dtests=enabled "${PLUGIN_OPTS[@]}" >"$BUILD.setup.log" 2>&1; then
	tail -n 30 "$BUILD.setup.log"
	failure "meson setup failed ($BUILD.setup.log)"
	finish
fi
grep -E 'plugin libnix-analytics.so' "$BUILD.setup.log" | sed 's/^Message: /test-nix: /'

note "build"
if ! nice ninja -C "$BUILD" >"$BUILD.build.log" 2>&1; then
	grep -E -A 12 '^FAILED' "$BUILD.build.log" | grep -v '^\[' | head -n 80
	failure "build failed ($BUILD.build.log)"
	finish
fi

TESTS=(ingest ingest-daemon)
minor=$(cut -d. -f2 <<<"$NIX_VERSION")
((minor >= 30)) && TESTS+=(json-log-daemon)
# Nix's own build cgroups (use-cgroups, sandboxed builds) and allocated uids: 2.12 and later.
((minor >= 12)) && TESTS+=(nix-cgroups)
if meson test -C "$BUILD" --list 2>/dev/null | grep -q 'plugin-daemon$'; then
	TESTS+=(plugin-daemon)
elif grep -q 'cannot load it' "$BUILD.setup.log"; then
	echo "test-nix: plugin-daemon not run: Nix $NIX_VERSION here is linked statically and exports none of its symbols, so it cannot load a plugin"
fi

note "test ${TESTS[*]}"
rm -f "$BUILD/meson-logs/testlog.json"
meson test -C "$BUILD" --print-errorlogs "${TESTS[@]}"
if [[ -f $BUILD/meson-logs/testlog.json ]]; then
	count_testlog "" "$BUILD/meson-logs/testlog.json"
	# Every failed check of every test (meson shows only a failed test's last lines).
	jq -r 'select(.result != "OK") | .name as $n | ((.stdout // "") + "\n" + (.stderr // "")) | split("\n")[] |
		select(test("^(FAIL|FATAL|SKIP):|timed out")) | "\($n): \(.)"' "$BUILD/meson-logs/testlog.json" |
		cut -c1-200 | sed '1i\\nfailed checks:'
else
	failure "meson test wrote no testlog.json"
fi
finish
