#!/usr/bin/env bash
# Build and test everything, as CI does:
#   build/gcc    gcc,   -Werror              unit + fuzz + plugin-e2e + pkg + demo + rules suites
#   build/clang  clang, -Werror              unit + fuzz suites
#   build/asan   clang, ASan+UBSan           unit + fuzz + e2e suites (the real daemon under ASan)
# Results come from each run's meson-logs/testlog.json. With CI=true a skipped test (exit 77)
# counts as failed: CI must run the real thing. A build that fails counts as one failure.
# The last line of output is exactly "N passed, N failed"; the exit status is non-zero when
# anything failed.
#
# usage: scripts/test.sh [BUILD...]   (default: gcc clang asan)
set -uo pipefail

# Root is needed (packages, private nix-daemons, cgroups): another user goes through sudo.
if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "$0: run as root (sudo is not installed)" >&2; exit 1; }
	exec sudo bash "$0" "$@"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
T0=$SECONDS
CI=${CI:-}
RESULTS="$ROOT/build/results"

# shellcheck source=scripts/lib-tally.sh
source "$ROOT/scripts/lib-tally.sh"

note() { printf '\n==== %s (%ds)\n' "$*" $((SECONDS - T0)); }
finish() { tally_finish "total time: $((SECONDS - T0)) s"; }

note "dependencies"
if ! bash scripts/deps.sh; then
	failure "deps: scripts/deps.sh failed"
	finish
fi

# configure NAME CC MESON-OPTION...
configure() {
	local name=$1 cc=$2 dir="build/$1"
	shift 2
	if [[ -f "$dir/meson-private/coredata.dat" ]]; then
		meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1 ||
			CC=$cc meson setup --wipe "$dir" "$@" >"$dir.setup.log" 2>&1
	else
		mkdir -p build
		CC=$cc meson setup "$dir" "$@" >"build/$name.setup.log" 2>&1
	fi
}

# build_and_test NAME CC "MESON-TEST-ARGS" MESON-SETUP-OPTION...
build_and_test() {
	local name=$1 cc=$2 dir="build/$1" t
	# shellcheck disable=SC2206
	local test_args=($3)
	shift 3
	note "$name: configure ($cc $*)"
	if ! configure "$name" "$cc" "$@"; then
		cat "build/$name.setup.log"
		failure "$name: meson setup failed (build/$name.setup.log)"
		return
	fi
	note "$name: build"
	if ! ninja -C "$dir" >"build/$name.build.log" 2>&1; then
		# the failing commands with what the compiler or linker said about them
		grep -E -A 12 '^FAILED' "build/$name.build.log" | grep -v '^\[' | head -n 80
		failure "$name: build failed (build/$name.build.log)"
		return
	fi
	note "$name: test ${test_args[*]}"
	rm -f "$dir/meson-logs/testlog.json"
	t=$SECONDS
	meson test -C "$dir" --print-errorlogs "${test_args[@]}"
	echo "($name tests: $((SECONDS - t)) s)"
	mkdir -p "$RESULTS"
	if [[ -f "$dir/meson-logs/testlog.json" ]]; then
		cp "$dir/meson-logs/testlog.json" "$RESULTS/$name.json"
		count_testlog "$name: " "$dir/meson-logs/testlog.json"
	else
		failure "$name: meson test wrote no testlog.json"
	fi
}

# Nix headers for the plugin (Debian ships none): Debian's own Nix source, fetched once.
if ! NIX_SRC_OPTS=$(bash scripts/nix-src.sh); then
	failure "deps: scripts/nix-src.sh failed (no Nix headers for the plugin)"
	NIX_SRC_OPTS=
fi
# shellcheck disable=SC2206
NIX_SRC_OPTS=($NIX_SRC_OPTS)

BUILDS=("$@")
((${#BUILDS[@]})) || BUILDS=(gcc clang asan)
rm -rf "$RESULTS"
for b in "${BUILDS[@]}"; do
	case $b in
	# The plugin is built (and must be: -Dplugin=enabled) in gcc and clang; its end-to-end
	# tests (suite plugin-e2e) run in the gcc build, since Nix cannot load a sanitizer-built
	# .so (the asan build leaves the plugin out).
	gcc) build_and_test gcc gcc "--no-suite e2e" -Dwerror=true -Dtests=enabled -Dplugin=enabled "${NIX_SRC_OPTS[@]}" ;;
	# -Dfuzz=true: the libFuzzer binaries must build too (they are not run here).
	# The packaging tests (suite pkg: installing the plugin too), the demo's (suite demo) and
	# the checks on the source tree (suite rules: include layers, formatting) run once, in the
	# gcc build.
	clang) build_and_test clang clang "--no-suite e2e --no-suite plugin-e2e --no-suite pkg --no-suite demo --no-suite rules" -Dwerror=true -Dtests=enabled -Dfuzz=true \
		-Dplugin=enabled "${NIX_SRC_OPTS[@]}" ;;
	asan)
		# halt_on_error: a UBSan report fails the test instead of scrolling by.
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
			build_and_test asan clang "--timeout-multiplier 3 --no-suite pkg --no-suite demo --no-suite rules" \
			-Dtests=enabled -Db_sanitize=address,undefined -Db_lundef=false
		;;
	*)
		echo "unknown build '$b' (gcc, clang, asan)" >&2
		failure "usage: unknown build $b"
		;;
	esac
done
finish
