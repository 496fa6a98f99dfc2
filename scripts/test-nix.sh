#!/usr/bin/env bash
# The Nix version matrix, one Nix at a time: run inside a Debian root whose nix-bin is the Nix
# under test (trixie: 2.26, sid: 2.34), e.g.
#
#   bash scripts/fresh-root.sh --suite trixie -- bash scripts/test-nix.sh --shared-nix
#
# Sets the root up as the project's own setup does (scripts/deps.sh, scripts/nix-src.sh), builds
# the gcc build against that Nix (build/nix-matrix) and runs the end-to-end tests of each route
# into nix-analyticsd that this Nix offers, against the real nix-daemon of Debian's own nix-bin
# (the Nix users of this release run):
#   ingest           nix-build | nix-analytics-ctl ingest (tests/e2e/ingest.sh)     every Nix
#   ingest-daemon    two users through one nix-daemon, each client piped into ingest every Nix
#   remote-view      a build dispatched over ssh-ng to a loopback remote whose own daemon
#                    finds it under the remote's nix-daemon --stdio, seen here     every Nix
#   json-log-daemon  the same, seen through the nix-daemon's json-log-path          2.30 and later
#   nix-cgroups      builds in Nix's own cgroups under allocated uids, measured and acted on
#                    there (use-cgroups, auto-allocate-uids)                    2.12 and later
#   truth-*          the truth suite: states, failure kinds, counts, durations, memory,
#                    restarts, compared with what this Nix, its store and the kernel say  every Nix
#   plugin-daemon    the same, seen by the plugin loaded into the nix-daemon        a Nix that can
#                    load it (one whose libnixstore is a shared library: not Debian 13's or sid's)
# --shared-nix: the plugin route too where nix-bin cannot load a plugin. Builds the same Debian
# source of Nix with shared libraries (scripts/nix-shared-build.sh: apt-get build-dep nix, then
# a quarter of an hour on two cores for 2.26) into /opt/nix-VERSION, builds the project against
# it (build/nix-shared: the plugin compiled with that Nix's headers and linked to its libraries)
# and runs suite plugin-e2e against that build's real nix-daemon (PATH=/opt/nix-VERSION/bin:
# two uids building two graphs at once, each build attributed to its requester, phases, log
# lines, failures with exit codes, dependency failures, daemon restart and reconnect, remote
# kill, the rootless install, the refusal of an unknown Logger). Every other test still runs
# against Debian's nix-bin. Needs the release's Nix source (trixie, not sid: the mirror has none).
# Like scripts/test.sh, the last line is "N passed, N failed" (CI=true: a skip is a failure),
# above it every test with the Nix it ran against; the exit status is non-zero when anything
# failed.
#
# NIX_MATRIX_ONLY="TEST..." runs only those tests (no truth suite; with --shared-nix, those
# of suite plugin-e2e against the shared Nix): for working on one of them.
#
# usage: scripts/test-nix.sh [--shared-nix]
set -uo pipefail

usage() { sed -n '2,/^# usage/{s/^# \{0,1\}//;p}' "$0"; }
SHARED_NIX=0
for arg; do
	case $arg in
	--shared-nix) SHARED_NIX=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "$0: unknown argument '$arg'" >&2; echo "usage: $0 [--shared-nix]" >&2; exit 2 ;;
	esac
done

if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "$0: run as root (sudo is not installed)" >&2; exit 1; }
	exec sudo bash "$0" "$@"
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
T0=$SECONDS
CI=${CI:-}
# shellcheck source=scripts/lib-tally.sh
source "$ROOT/scripts/lib-tally.sh"
RAN=()   # "RESULT  TEST  NIX" for every test run

note() { printf '\n==== test-nix: %s (%ds)\n' "$*" $((SECONDS - T0)); }
finish() {
	if ((${#RAN[@]})); then
		echo
		echo "tests, and the Nix each ran against:"
		printf '  %s\n' "${RAN[@]}"
	fi
	tally_finish "test-nix: Nix ${NIX_VERSION:-?} in $(. /etc/os-release && echo "$PRETTY_NAME"): $((SECONDS - T0)) s"
}

# configure_build DIR MESON-OPTION...: a fresh gcc -Werror build in DIR; a failure is counted
# (and the log's tail shown).
configure_build() {
	local dir=$1
	shift
	note "configure $dir (gcc $*)"
	mkdir -p build
	if ! CC=gcc meson setup --wipe "$dir" -Dwerror=true -Dtests=enabled "$@" >"$dir.setup.log" 2>&1 &&
		! CC=gcc meson setup "$dir" -Dwerror=true -Dtests=enabled "$@" >"$dir.setup.log" 2>&1; then
		tail -n 30 "$dir.setup.log"
		failure "$dir: meson setup failed ($dir.setup.log)"
		return 1
	fi
	grep -E 'plugin libnix-analytics.so' "$dir.setup.log" | sed 's/^Message: /test-nix: /'
	note "build $dir"
	if ! nice ninja -C "$dir" >"$dir.build.log" 2>&1; then
		grep -E -A 12 '^FAILED' "$dir.build.log" | grep -v '^\[' | head -n 80
		failure "$dir: build failed ($dir.build.log)"
		return 1
	fi
}

# run_tests DIR NIX-LABEL MESON-TEST-ARG...: run tests of DIR against the Nix first on PATH and
# count them, each named with NIX-LABEL.
run_tests() {
	local dir=$1 label=$2 log=$1/meson-logs/testlog.json
	shift 2
	note "test $* in $dir, against $label: $(command -v nix-daemon)"
	rm -f "$log"
	meson test -C "$dir" --print-errorlogs "$@"
	if [[ ! -f $log ]]; then
		failure "$label: meson test wrote no testlog.json"
		return
	fi
	count_testlog "$label: " "$log"
	mapfile -t -O "${#RAN[@]}" RAN < <(jq -r --arg nix "$label" '"\(.result)\t\(.name | sub(".*/ "; ""))\t\($nix)"' "$log" |
		awk -F '\t' '{ printf "%-8s %-20s %s\n", $1, $2, $3 }')
	# Every failed check of every test (meson shows only a failed test's last lines).
	jq -r 'select(.result != "OK") | .name as $n | ((.stdout // "") + "\n" + (.stderr // "")) | split("\n")[] |
		select(test("^(FAIL|FATAL|SKIP):|timed out")) | "\($n): \(.)"' "$log" |
		cut -c1-200 | sed '1i\\nfailed checks:'
}

note "dependencies"
bash scripts/deps.sh || { failure "deps: scripts/deps.sh failed"; finish; }
NIX_VERSION=$(nix-build --version | awk '{ print $NF }')
NIX_LABEL="Debian nix-bin $NIX_VERSION"
echo "Nix under test: $NIX_LABEL ($(command -v nix-daemon))"

# The plugin is built where this release's Nix source can be had (apt-get source nix: bookworm,
# trixie); the mirror serves none for sid.
PLUGIN_OPTS=(-Dplugin=disabled)
if NIX_SRC_OPTS=$(bash scripts/nix-src.sh); then
	# shellcheck disable=SC2206
	PLUGIN_OPTS=(-Dplugin=enabled $NIX_SRC_OPTS)
else
	echo "test-nix: no Nix $NIX_VERSION source here: the plugin is not built"
fi

ONLY=()
[[ -n ${NIX_MATRIX_ONLY:-} ]] && read -ra ONLY <<<"$NIX_MATRIX_ONLY"
BUILD=build/nix-matrix
if configure_build "$BUILD" "${PLUGIN_OPTS[@]}"; then
	TESTS=(ingest ingest-daemon remote-view)
	minor=$(cut -d. -f2 <<<"$NIX_VERSION")
	((minor >= 30)) && TESTS+=(json-log-daemon)
	# Nix's own build cgroups (use-cgroups, sandboxed builds) and allocated uids: 2.12 and later.
	((minor >= 12)) && TESTS+=(nix-cgroups)
	if meson test -C "$BUILD" --list 2>/dev/null | grep -q 'plugin-daemon$'; then
		TESTS+=(plugin-daemon)
	elif grep -q 'cannot load it' "$BUILD.setup.log"; then
		echo "test-nix: plugin-daemon not run against $NIX_LABEL: it is linked statically and exports none of its symbols, so it cannot load a plugin"
		((SHARED_NIX)) && echo "test-nix: --shared-nix: suite plugin-e2e runs against Nix $NIX_VERSION built with shared libraries below"
	fi
	if ((${#ONLY[@]})); then
		run_tests "$BUILD" "$NIX_LABEL" "${ONLY[@]}"
	else
		run_tests "$BUILD" "$NIX_LABEL" "${TESTS[@]}"
		# The truth suite: the daemon's states, counts, durations and figures against what
		# this Nix, its store and the kernel say (one outcome model across Nix versions).
		run_tests "$BUILD" "$NIX_LABEL" --suite truth
	fi
fi
((SHARED_NIX)) || finish

note "Nix $NIX_VERSION with shared libraries (scripts/nix-shared-build.sh)"
# Its stderr (progress, and the tail of whichever log failed) goes to the terminal; its stdout
# is the options and PATH to build and run against it.
if ! SHARED_ENV=$(bash scripts/nix-shared-build.sh); then
	failure "Nix $NIX_VERSION shared: scripts/nix-shared-build.sh failed (logs in ${NA_NIX_BUILD_DIR:-/var/tmp/nix-shared-build})"
	finish
fi
NIX_SHARED_OPTS=
eval "$SHARED_ENV"
SHARED_VERSION=$(nix-daemon --version | awk '{ print $NF }')
SHARED_LABEL="Nix $SHARED_VERSION shared ($(dirname "$(command -v nix-daemon)"))"
[[ -n $NIX_SHARED_OPTS && $SHARED_VERSION == "$NIX_VERSION" ]] || {
	failure "$SHARED_LABEL: scripts/nix-shared-build.sh printed no options, or another Nix than $NIX_VERSION is first on PATH"
	finish
}
BUILD=build/nix-shared
# shellcheck disable=SC2086 # NIX_SHARED_OPTS is three options
if configure_build "$BUILD" -Dplugin=enabled $NIX_SHARED_OPTS; then
	if grep -q 'cannot load it' "$BUILD.setup.log"; then
		failure "$SHARED_LABEL: the plugin was not linked to its libraries ($BUILD.setup.log)"
	else
		if ((${#ONLY[@]})); then
			run_tests "$BUILD" "$SHARED_LABEL" "${ONLY[@]}"
		else
			run_tests "$BUILD" "$SHARED_LABEL" --suite plugin-e2e
		fi
	fi
fi
finish
