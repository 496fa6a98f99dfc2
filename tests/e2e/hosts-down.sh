#!/usr/bin/env bash
# A host that goes down keeps its builds on screen (`nix-analytics -H alpha -H beta`, in tmux):
# two loopback sshd instances (remote-lib.sh's remote_add_host), each in front of a
# nix-analyticsd with real Nix builds of its own. When alpha's sshd goes away:
#   - alpha's rows stay, drawn dim (checked in tmux's attributes), its header line says DOWN
#     and how many builds are greyed; their elapsed times stand still; beta's rows are not dim;
#   - an action on a greyed row is refused, naming the host, and nothing reaches alpha;
# (and, before that, the history, machines and dependency views follow the host of the row
# under the cursor, or the host a filter names when no row is there, and say which);
# and when alpha's sshd is back, alpha's rows are reloaded from its daemon: not dim, ticking.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/remote-lib.sh"
source "$(dirname "$0")/hosts-lib.sh"
source "$(dirname "$0")/tui-lib.sh"

check_binaries
check_tui
trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT
nix_setup
remote_setup

far_hosts_start alpha beta

TUI_ENV=("NIX_SSHOPTS=$NIX_SSHOPTS")
TUI_NO_SOCKET_DIR=1
tui_start 160 30 -H alpha -H beta --remote-ctl "$NA_CTL"
wait_screen "alpha +.*mh-alpha-one .* running" 30 "alpha's builds are listed"
wait_screen "beta +.*mh-beta-one .* running" 30 "beta's builds are listed"
# The row's elapsed time moves while its host is up (the frame ticks every second).
ROW1=$(row_of "alpha +.*mh-alpha-one")
row_moved() { [[ "$(row_of "$1")" != "$2" ]]; }
wait_for 5 "alpha's row ticks" row_moved "alpha +.*mh-alpha-one" "$ROW1" &&
	pass "a live row's elapsed time moves"
row_dim "alpha +.*mh-alpha-one" "mh-alpha-one"
assert_eq "a live row is not dim" 1 $?

# ---- the history, machines and dependency views ask the host of the row under the cursor ----
keys f C-u
type_text "host:beta mh-beta-one"
keys Enter
wait_screen "filter: host:beta mh-beta-one" 5 "the list is down to beta's mh-beta-one"
keys G h
wait_screen "^history on beta: " 10 "h on beta's build: beta's history, the title says so"
keys Escape r
wait_screen "^remote machines on beta: " 10 "r: beta's machines"
keys Escape
keys f C-u
type_text "host:alpha"
keys Enter
keys G d
wait_screen "dependencies of invocation #[0-9]+ on alpha" 10 "d on alpha's build: alpha's dependency tree"
keys Escape
# No row under the cursor: the host the filter names (beta, not the first host).
keys f C-u
type_text "host:beta no-such-build"
keys Enter
wait_screen "no build matches the filter" 5 "a filter on beta that matches no build"
keys h
wait_screen "^history on beta: " 10 "h with no row: the history of the host the filter names"
keys Escape f C-u Enter
wait_screen "beta +.*mh-beta-two" 10 "the filter cleared"

# ---- alpha goes away: its sshd and its sessions ----
pkill -P "${SSHD_PIDS[alpha]}"
stop_pid "${SSHD_PIDS[alpha]}"
wait_screen "^ alpha: DOWN \(2 builds greyed, as last seen; " 30 \
	"alpha's header line says it is down, and that its 2 builds are greyed"
log "the screen with alpha down:"; screen >&2
assert_true "alpha's builds stay listed" screen_has "alpha +.*mh-alpha-one .* running"
assert_true "... both" screen_has "alpha +.*mh-alpha-two .* running"
row_dim "alpha +.*mh-alpha-one" "mh-alpha-one"
assert_eq "alpha's row is dim (SGR 2)" 0 $?
row_dim "alpha +.*mh-alpha-two" "alpha"
assert_eq "... its HOST cell too" 0 $?
row_dim "beta +.*mh-beta-one" "mh-beta-one"
assert_eq "beta's rows are not dim" 1 $?
ROW1=$(row_of "alpha +.*mh-alpha-one")
ROW2=$(row_of "alpha +.*mh-alpha-two")
sleep 2.5
assert_eq "alpha's greyed row stands still (elapsed, ETA) after 2.5 s" "$ROW1" "$(row_of "alpha +.*mh-alpha-one")"
assert_eq "... the other too" "$ROW2" "$(row_of "alpha +.*mh-alpha-two")"

# An action on a greyed row: refused at once, naming the host; nothing reaches alpha.
keys f C-u
type_text "host:alpha mh-alpha-two"
keys Enter
wait_screen "filter: host:alpha mh-alpha-two" 5 "the list is down to alpha's mh-alpha-two"
keys G K k
wait_screen "kill refused: alpha is down: this build is greyed, as last seen \(nothing sent\)" 10 \
	"K k on a greyed row is refused, naming the host"
assert_true "the build still runs on alpha" far_state alpha mh-alpha-two running
keys f C-u Enter
wait_screen "beta +.*mh-beta-two" 10 "the filter cleared"

# ---- alpha's sshd is back: a connection reloads its builds ----
/usr/sbin/sshd -D -e -f "$T/sshd_config-alpha" >>"$T/sshd-alpha.log" 2>&1 &
SSHD_PIDS[alpha]=$!
track "${SSHD_PIDS[alpha]}"
wait_screen "^ alpha \(.*\): up .*2 running" 30 "alpha is up again (the TUI retries every 5 s)"
alpha_live() { ! row_dim "alpha +.*mh-alpha-one" "mh-alpha-one"; }
wait_for 10 "alpha's rows are no longer dim" alpha_live && pass "alpha's rows are live again (not dim)"
assert_true "... still both listed" screen_has "alpha +.*mh-alpha-two .* running"
ROW1=$(row_of "alpha +.*mh-alpha-one")
wait_for 5 "alpha's row ticks again" row_moved "alpha +.*mh-alpha-one" "$ROW1" &&
	pass "its elapsed time moves again"
tui_quit

for h in alpha beta; do stop_pid "${FAR[$h]}"; done
