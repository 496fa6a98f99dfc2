#!/usr/bin/env bash
# Stalls (issue 19, item 3), real Nix through ingest: a build that writes 50 MiB in its build
# directory (on a 64 MiB tmpfs) shows that usage and its nearly full filesystem; a build
# that prints a line and then
# nothing for 10 s shows how long it has been silent (silent_for >= 9, from its last line,
# not its start; in the TUI's detail panel too); a second nix-build of a derivation a first
# one is building waits for the lock on its output, and its build says so
# (waiting_for_lock, and the TUI's detail panel) until the first is done.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
nix_setup
SMALL=
trap 'rc=$?; tui_cleanup; [[ -n $SMALL ]] && umount -l "$SMALL" && rmdir "$SMALL"; (exit $rc); e2e_cleanup' EXIT
start_daemon
tui_start 160 40

NIXF="$E2E_DIR/nix/stalls.nix"
drv_of() { nix-instantiate "$NIXF" -A "$1" --argstr nonce "$NONCE" 2>"$T/instantiate.err" || die "nix-instantiate -A $1: $(cat "$T/instantiate.err")"; }
build() { # build ATTR: nix-build of ATTR through ingest, in the background
	local where=()
	# Nix without a daemon makes the build directory under its TMPDIR; from 2.26 on the
	# build-dir setting says where (2.30 and later default to <state>/builds, not TMPDIR).
	if [[ -n ${BUILD_TMPDIR:-} ]]; then
		where=(env TMPDIR="$BUILD_TMPDIR")
		((NIX_NUM >= 226)) && set -- "$1" --option build-dir "$BUILD_TMPDIR"
	fi
	${where[@]+"${where[@]}"} nix-build "$NIXF" -A "$@" --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v 2>&1 |
		ctl ingest >/dev/null 2>>"$T/ingest.err" &
	track $!
}

# --- build directory ---
# Its build directory on a 64 MiB tmpfs of the test's own: 50 MiB written there leave it
# nearly full. Not under /tmp: later Nix refuses a build-dir with a world-writable directory
# above it.
SMALL=$(mktemp -d /run/na-e2e-stalls.XXXXXX) || die "cannot make a directory in /run"
chmod 0755 "$SMALL"
mount -t tmpfs -o size=64m,mode=0755 tmpfs "$SMALL" || { rmdir "$SMALL"; SMALL=; die "cannot mount a tmpfs"; }
D_TMP=$(drv_of tmp)
BUILD_TMPDIR="$SMALL" build tmp
measured() {
	ctl get-build "$D_TMP" 2>/dev/null >"$T/tmp.json" &&
		jq -e '.build.state == "running" and .build.build_dir.used >= 52428800' "$T/tmp.json" >/dev/null
}
wait_for 60 "stall-tmp's build directory is measured at 50 MiB or more" measured || die "no measure: $(cat "$T/tmp.json")"
assert_json "its path is the build directory Nix made there (nix-build-<name>-N, or nix-<pid>-N from 2.30)" \
	"$(cat "$T/tmp.json")" ".build.build_dir.path | test(\"^$SMALL/nix-[^/]+\$\")"
assert_json "its filesystem (the 64 MiB tmpfs): size, free space, nearly full" "$(cat "$T/tmp.json")" \
	'.build.build_dir | .fs_size == 67108864 and .fs_free < 16777216 and .fs_nearly_full and (.truncated | not)'
tmp_done() { ctl get-build "$D_TMP" 2>/dev/null | jq -e '.build.state == "succeeded"' >/dev/null; }
wait_for 30 "stall-tmp succeeds" tmp_done
umount "$SMALL" && rmdir "$SMALL" && SMALL=

# --- silence ---
D_SILENT=$(drv_of silent)
build silent
printed() {
	ctl get-build "$D_SILENT" 2>/dev/null >"$T/silent.json" &&
		jq -e '.build.state == "running" and .build.last_output != null' "$T/silent.json" >/dev/null
}
wait_for 60 "stall-silent runs and has printed its first line" printed || die "stall-silent never printed"
assert_json "just after its line: silent for less than 3 s, since its last line (not its start)" \
	"$(cat "$T/silent.json")" '.build.silent_for < 3 and .build.last_output >= .build.started'
tui_detail stall-silent
wait_screen "silent for [0-9]+s: no output since [0-9:]+" 5 "the detail panel shows the build's silence"
wait_screen "silent for [3-9]s" 10 "the silence counts on in the detail panel"
# The panel reads as a page (issue 21): state and times in words, local and relative, the
# requester, the command line, usage and limits, CPU and memory over its life as sparklines.
wait_screen '^state +running' 5 "detail page: its state in words"
wait_screen '^started +[0-9]{2}:[0-9]{2}:[0-9]{2}, [0-9]+s ago' 5 "detail page: started, local and relative"
wait_screen '^requester +[a-z0-9_-]+ \(uid [0-9]+\)' 5 "detail page: who asked"
wait_screen '^command +.*nix-build' 5 "detail page: the whole command line"
wait_screen '^usage +CPU [0-9.]+% now, .* in all; MEM [0-9.]+[KMG]? \(peak [0-9.]+[KMG]?\); processes [0-9]+' 5 \
	"detail page: what it uses"
wait_screen '^limits +none' 5 "detail page: the limits on it (none)"
BLOCK='(▁|▂|▃|▄|▅|▆|▇|█)'
wait_screen "^cpu +$BLOCK$BLOCK+ +\(top [0-9.]+%\)" 10 "detail page: its CPU over its life"
wait_screen "^memory +$BLOCK$BLOCK+ +\(top [0-9.]+[KMG]?\)" 5 "detail page: its memory over its life"
wait_screen '^every field:' 5 "detail page: then every field"
silent_long() {
	ctl get-build "$D_SILENT" 2>/dev/null >"$T/silent.json" &&
		jq -e '.build.state == "running" and .build.silent_for >= 9' "$T/silent.json" >/dev/null
}
wait_for 15 "stall-silent shows silent_for >= 9 after 10 s without a line" silent_long
assert_json "the silence is measured from the last line: last_output + silent_for is about now" \
	"$(cat "$T/silent.json")" "(.build.last_output + .build.silent_for - $(date +%s)) | fabs < 3"
over() { ctl get-build "$D_SILENT" 2>/dev/null | jq -e '.build.state == "succeeded"' >/dev/null; }
wait_for 20 "stall-silent succeeds" over
ctl_ok GB get-build "$D_SILENT"
assert_json "a finished build has no silence, keeps its last output time" "$GB" \
	'.build.silent_for == null and .build.last_output != null'

# --- lock wait ---
D_LOCK=$(drv_of lock)
build lock
lock_running() {
	ctl list-builds 2>/dev/null |
		jq -e --arg d "$D_LOCK" 'any(.builds[]; .drv == $d and .state == "running")' >/dev/null
}
wait_for 60 "the first nix-build of stall-lock runs" lock_running || die "stall-lock never ran"
build lock
waiting() {
	ctl list-builds 2>/dev/null >"$T/builds.json" &&
		jq -e --arg d "$D_LOCK" 'any(.builds[]; .drv == $d and .state == "queued" and .waiting_for_lock)' \
			"$T/builds.json" >/dev/null
}
wait_for 20 "the second nix-build's stall-lock waits for the lock on its output" waiting
tui_lock_wait_detail stall-lock
assert_json "the running one does not wait for a lock" "$(cat "$T/builds.json")" \
	"[.builds[] | select(.drv == \"$D_LOCK\" and .state == \"running\")] | length == 1 and all(.waiting_for_lock | not)"
no_wait() {
	ctl list-builds 2>/dev/null |
		jq -e --arg d "$D_LOCK" 'all(.builds[] | select(.drv == $d); .waiting_for_lock | not)' >/dev/null
}
wait_for 30 "once the first is done, nothing waits for the lock" no_wait
# The second nix-build found the output built and ended: its build succeeded (the first one
# built it), neither cancelled nor failed, here and in history.
both_ended() {
	ctl list-builds 2>/dev/null | jq -e --arg d "$D_LOCK" \
		'[.builds[] | select(.drv == $d)] | length == 2 and all(.state != "queued" and .state != "running")' >/dev/null
}
wait_for 30 "both nix-builds' stall-lock builds ended" both_ended
assert_json "both stall-lock builds succeeded (the waiting one: built by the other)" "$(ctl list-builds)" \
	"[.builds[] | select(.drv == \"$D_LOCK\") | .state] == [\"succeeded\", \"succeeded\"]"
tui_quit
