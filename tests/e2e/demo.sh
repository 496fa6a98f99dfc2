#!/usr/bin/env bash
# scripts/demo.sh, as a user runs it, on this build's programs (NA_BIN_DIR, SKIP_DEPS=1):
#   (a) not in a terminal: exit 0, the watch stream, the table (five builds succeeded,
#       demo-fail failed with exit code 3, its two dependents dependency failures), `demo: OK`;
#       nothing it started is left running, its scratch directory is gone;
#   (b) with NIX_CONFIG='build-users-group = nosuch-group' (Nix builds nothing): a non-zero
#       exit and one `demo: FAILED:` line carrying Nix's own message about the group;
#   (c) in a terminal (tmux): the TUI shows the demo's builds live, full screen, with no stray
#       output over it, and stays after the build has ended; q, then the summary and exit 0.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
nix_setup
DEMO="$(cd "$E2E_DIR/../.." && pwd)/scripts/demo.sh"
[[ -f "$DEMO" ]] || die "scripts/demo.sh not found ($DEMO)"

# The programs under test, as an installed bin directory would hold them.
mkdir -p "$T/bin"
ln -s "$NA_DAEMON" "$T/bin/nix-analyticsd"
ln -s "$NA_CTL" "$T/bin/nix-analytics-ctl"
ln -s "$NA_TUI" "$T/bin/nix-analytics"
# (TMPDIR stays: Nix's build users must reach their build directories under it.)
DEMO_ENV=(NA_BIN_DIR="$T/bin" SKIP_DEPS=1 DEMO_TUI=1)

# run_demo NAME [VAR=VALUE...]: the demo with stdin from /dev/null, output in $T/NAME.out,
# exit status in RC; 180 s at most.
run_demo() {
	local name=$1 t0
	shift
	t0=$(now_ms)
	env "${DEMO_ENV[@]}" "$@" timeout -k 10 180 bash "$DEMO" </dev/null >"$T/$name.out" 2>&1
	RC=$?
	log "demo ($name) exited $RC after $((($(now_ms) - t0) / 1000)) s"
}

# check_table FILE: the summary table as the graph must end.
check_table() {
	local f=$1 n
	for n in phases long-log slow-a slow-b top; do
		assert_true "$2: the table shows demo-$n succeeded" grep -Eq "^demo-$n +succeeded " "$f"
	done
	assert_true "$2: the table shows demo-fail failed with exit code 3" grep -Eq '^demo-fail +failed .* exit-code 3$' "$f"
	for n in after-fail after-after; do
		assert_true "$2: the table shows demo-$n failed as a dependency failure" grep -Eq "^demo-$n +failed .* dependency$" "$f"
	done
	assert_true "$2: the long log has its 5,000 lines" grep -Eq '^demo-long-log +succeeded +[0-9.]+ +5000( |$)' "$f"
	assert_match "$2: the last line is the verdict demo: OK" '^demo: OK: ' "$(grep -v '^ *$' "$f" | tail -n 1)"
}

# --- (a) not in a terminal: the watch stream, the table, the verdict ---
run_demo plain
assert_eq "(a) the demo exits 0" 0 "$RC"
OUT=$(cat "$T/plain.out")
assert_contains "(a) the live watch stream is shown" "== nix-analytics-ctl watch (live events):" "$OUT"
assert_true "(a) the stream shows demo-fail finishing" grep -Eq '^[0-9:]+ build +finished +#[0-9]+ +demo-fail +failed ' "$T/plain.out"
check_table "$T/plain.out" "(a)"
assert_eq "(a) no FAILED line" 0 "$(grep -c 'FAILED' "$T/plain.out")"
DPID=$(sed -n 's/^== nix-analyticsd (pid \([0-9]*\)) on .*/\1/p' "$T/plain.out")
assert_match "(a) the demo names its daemon's pid" '^[0-9]+$' "$DPID"
[[ -n $DPID ]] && assert_true "(a) the demo's daemon (pid $DPID) is gone" bash -c "! kill -0 $DPID 2>/dev/null"
DSCRATCH=$(sed -n 's|^== nix-analyticsd (pid [0-9]*) on \(.*\)/sock$|\1|p' "$T/plain.out")
assert_match "(a) the demo names its socket directory" '/na-demo\.' "$DSCRATCH"
[[ -n $DSCRATCH ]] && assert_true "(a) the demo's scratch directory is gone" test ! -e "$DSCRATCH"
assert_eq "(a) no nix-build of the demo left running" "" \
	"$(pgrep -f "nix-build $(dirname "$DEMO")/demo.nix --argstr nonce demo-" || true)"

# --- (b) Nix cannot build: one line says why, with Nix's own error ---
run_demo nogroup NIX_CONFIG='build-users-group = nosuch-group'
assert_ne "(b) the demo exits non-zero when Nix builds nothing" 0 "$RC"
assert_eq "(b) exactly one FAILED line" 1 "$(grep -c '^demo: FAILED: ' "$T/nogroup.out")"
LAST=$(tail -n 1 "$T/nogroup.out")
assert_match "(b) the last line is the reason" '^demo: FAILED: ' "$LAST"
assert_match "(b) the reason carries Nix's message about the group" \
	"error: the group 'nosuch-group' specified in 'build-users-group' does not exist" "$LAST"
assert_true "(b) no OK verdict" bash -c "! grep -q '^demo: OK' '$T/nogroup.out'"
KEPT=$(printf '%s' "$LAST" | sed -n 's/.*logs in \([^)]*\)).*/\1/p')
assert_true "(b) the named logs are kept (nix.err)" test -f "$KEPT/nix.err"
[[ $KEPT == */na-demo.* && -d $KEPT ]] && rm -rf "$KEPT"

# --- (c) in a terminal: the TUI on the live build, q, the summary ---
TMUX_SOCK="$TMUX_BASE-demo"
# The pane's command, in a file: the environment tmux would not pass on, given explicitly;
# timeout --foreground: the demo stays in the terminal's foreground process group (it reads
# a key, and the TUI runs there).
{
	printf '%q ' env LANG=C.UTF-8 "${DEMO_ENV[@]}" "NIX_CONFIG=$NIX_CONFIG" \
		timeout --foreground -k 10 240 bash "$DEMO"
	printf '\necho $? >%q\nsleep 600\n' "$T/tty.rc"
} >"$T/tty.sh"
trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT
tmux_ -f /dev/null new-session -d -s "$TUI_SESSION" -x 150 -y 40 "bash $(printf '%q' "$T/tty.sh")" ||
	die "tmux new-session failed"
tmux_ set-option -g remain-on-exit on >/dev/null 2>&1
track "$(tmux_ display-message -p '#{pid}')"

# Each step needs the one before: the first that fails ends the test.
wait_screen "^== the TUI on the live build: q quits .*\\? help" 30 "(c) the keys are told in one line first" ||
	die "no key line"
wait_screen '^ nix-analytics @ .*daemon up' 30 "(c) the TUI comes up, full screen" || die "no TUI"
wait_screen 'demo-(long-log|slow-a|slow-b|phases|fail) .*running' 60 "(c) the TUI shows the demo's builds running" ||
	die "no build running in the TUI"
# demo-fail fails while the others run; once all ended the invocation folds itself into its
# summary line (its rows are then behind the fold).
wait_screen 'demo-fail .*exit 3' 60 "(c) the TUI shows demo-fail failed, why on its row (exit 3)"
wait_screen '\[8/8 done, 0 running, 1 failed, 2 dependency failed, ended\]' 60 \
	"(c) the TUI shows the invocation ended: its 8 builds counted, the failures by kind" ||
	die "the build did not end in the TUI"
E2E_CHECKS=$((E2E_CHECKS + 1))
if screen_has '^ nix-analytics @' && ! screen_has '^(== |demo: )'; then
	pass "(c) the TUI stays after the build ended (the summary waits for q)"
else
	fail "(c) the TUI stays after the build ended" "$(screen)"
fi
E2E_CHECKS=$((E2E_CHECKS + 1))
if screen_has 'error:|warning:|@nix|building .*drv|nix-analyticsd:'; then
	fail "(c) no output of Nix or the daemon over the TUI" "$(screen)"
else
	pass "(c) no output of Nix or the daemon over the TUI"
fi
keys q
wait_for 60 "(c) the demo exits after q" test -s "$T/tty.rc" || die "the demo did not exit after q: $(screen)"
assert_eq "(c) the demo exits 0" 0 "$(cat "$T/tty.rc" 2>/dev/null)"
screen >"$T/tty.screen"
check_table "$T/tty.screen" "(c)"
tui_cleanup
