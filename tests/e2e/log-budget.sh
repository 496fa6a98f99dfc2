#!/usr/bin/env bash
# The daemon's log budget as a user meets it: two real builds print 3,000 lines each under
# --log-budget 64K (less than their 1,000-line rings would take). While they run, status
# keeps the log memory within the budget, `nix-analytics-ctl log` prints the newest lines in
# order and says how many older ones were dropped and where the whole log is, the TUI's log
# panel says the same, and once the builds have ended `nix log` does have every line.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
nix_setup
source "$E2E_DIR/lib-proc.sh"
trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT

LINES=3000
# The builders (nixbld users) look for $T/release: they may pass through $T, not list it.
chmod o+x "$T"
start_daemon --log-budget 64K
FILE="$E2E_DIR/nix/log-budget.nix"
NIX_ARGS=(--argstr nonce "$NONCE" --arg lines "$LINES" --argstr release "$T/release")
DRVS=$(drvs_of "$FILE" "${NIX_ARGS[@]}")
D_A=$(drv_by_name "$DRVS" budget-a)
nix_bg "$FILE" -A a -A b "${NIX_ARGS[@]}" -j2

printed_all() {
	ctl list-builds --state running 2>/dev/null |
		jq -e --argjson n "$LINES" '[.builds[] | select(.log_lines == $n)] | length == 2' >/dev/null
}
wait_for 120 "both builds running with their $LINES lines printed" printed_all || die "the builds never printed their lines"

# --- status: the log memory within the budget ---
if ctl_ok ST status; then
	assert_eq "status: the budget" 65536 "$(printf '%s' "$ST" | jq -r .logs.budget)"
	assert_json "status: the log memory is within the budget" "$ST" '.logs.memory > 0 and .logs.memory <= .logs.budget'
	assert_json "status: lines dropped for the budget" "$ST" '.logs.dropped > 2000'
fi

# --- nix-analytics-ctl log: the newest lines, and how many older ones are gone ---
ctl log "$D_A" >"$T/log.out" 2>"$T/log.err"
assert_eq "ctl log exits 0" 0 $?
KEPT=$(wc -l <"$T/log.out")
assert_ge "ctl log prints some lines" 10 "$KEPT"
assert_le "ctl log prints fewer lines than the 1,000-line ring would keep (the budget binds)" 999 "$KEPT"
assert_match "ctl log ends with the newest line" "^budget-a line $LINES: " "$(tail -n 1 "$T/log.out")"
FIRST=$((LINES - KEPT + 1))
assert_match "ctl log starts at line $FIRST: the lines are the newest, in order" "^budget-a line $FIRST: " \
	"$(head -n 1 "$T/log.out")"
assert_eq "the lines are consecutive" "$(seq "$FIRST" "$LINES")" \
	"$(sed -E 's/^budget-a line ([0-9]+):.*/\1/' "$T/log.out")"
assert_contains "ctl log says how many older lines were dropped and where the whole log is" \
	"($((LINES - KEPT)) earlier lines are no longer kept by the daemon; once the build has ended, 'nix log $D_A' shows them all)" \
	"$(cat "$T/log.err")"

# --- the TUI's log panel says the same ---
tui_start 200 40
keys f
wait_screen "filter builds" 10 "f opens the filter prompt" >/dev/null
type_text budget-a
keys Enter G l
wait_screen "^log: budget-a .*following" 15 "l opens the log panel on budget-a"
wait_screen "^[0-9]+ older lines dropped by the daemon; its last [0-9]+: nix-analytics-ctl log [0-9]+" 10 \
	"the log panel says how many older lines were dropped and how to read what the daemon keeps"
wait_screen "^whole log \\(once ended\\): nix log $D_A" 5 "the log panel says where the whole log is"
wait_screen "^budget-a line $LINES: " 10 "the log panel shows the newest line"
DROPPED=$(screen | sed -nE 's/^([0-9]+) older lines dropped by the daemon.*/\1/p' | head -n 1)
assert_ge "the TUI's count of dropped lines is at least what ctl saw dropped" "$((LINES - KEPT))" "${DROPPED:-0}"
tui_cleanup

# --- once the builds end, Nix has the whole log ---
touch "$T/release"
wait_for 60 "nix-build ends" nix_done || die "nix-build did not end"
assert_eq "nix-build succeeded" 0 "$(nix_rc)"
nix --extra-experimental-features nix-command log "$D_A" >"$T/nixlog.out" 2>"$T/nixlog.err"
assert_eq "nix log exits 0" 0 $?
assert_eq "nix log has every line" "$LINES" "$(grep -c '^budget-a line ' "$T/nixlog.out")"

stop_daemon
