# shellcheck shell=bash
# The release build every benchmark measures: sourced once ROOT and BUILD_DIR are set.
# bench_build [MESON-OPTION...] -- TARGET...: the dependencies (unless SKIP_DEPS=1), a release
# configuration of BUILD_DIR (sanitizers off even when it was configured with them), and the
# targets built.
bench_build() {
	local opts=()
	while (($# > 0)) && [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	shift
	[[ -n "${SKIP_DEPS:-}" ]] || bash "$ROOT/scripts/deps.sh" >/dev/null || return 1
	if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
		meson setup --reconfigure "$BUILD_DIR" "$ROOT" -Dbuildtype=release -Db_sanitize=none "${opts[@]}" >/dev/null
	else
		meson setup "$BUILD_DIR" "$ROOT" -Dbuildtype=release "${opts[@]}" >/dev/null
	fi || return 1
	ninja -C "$BUILD_DIR" "$@" >/dev/null
}
