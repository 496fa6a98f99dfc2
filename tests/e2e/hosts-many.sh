#!/usr/bin/env bash
# Many hosts in one TUI (`nix-analytics -H alpha -H beta`): two loopback sshd instances
# (remote-lib.sh's remote_add_host), each an ssh host of its own whose logins get their own
# socket directory, each in front of a nix-analyticsd with real Nix builds of its own. In tmux:
#   - every host's builds are listed together, each with its HOST, and a header line per host;
#   - H, and the filter host:NAME, keep one host's builds;
#   - a kill from the TUI on a build of beta ends that build on beta's daemon only (the builds
#     of both daemons have the same keys: a build is named by its host and its key);
#   - alpha's sshd going away (the listener and its sessions) shows alpha DOWN in its header
#     line, while beta's builds keep changing on screen and keys keep working.
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
assert_eq "both daemons number their builds alike (the same keys on two hosts)" \
	"$("$NA_CTL" -s "$T/sock-alpha" list-builds | jq -c '[.builds[].key] | sort')" \
	"$("$NA_CTL" -s "$T/sock-beta" list-builds | jq -c '[.builds[].key] | sort')"

printf '# nothing but comments\n\n' >"$T/no-hosts"
"$NA_TUI" --hosts-file "$T/no-hosts" </dev/null >/dev/null 2>"$T/no-hosts.err"
assert_eq "a hosts file without a host is a usage error (not the local daemon instead)" 2 $?
assert_match "... and says so" "no host in it" "$(cat "$T/no-hosts.err")"
printf '# the far hosts\nbeta  # the second\n\n' >"$T/hosts"
TUI_ENV=("NIX_SSHOPTS=$NIX_SSHOPTS")
TUI_NO_SOCKET_DIR=1
tui_start 160 40 -H alpha --hosts-file "$T/hosts" --remote-ctl "$NA_CTL"
wait_screen "alpha +.*mh-alpha-one" 30 "alpha's build is listed with its HOST"
wait_screen "beta +.*mh-beta-one" 30 "beta's build is listed with its HOST"
assert_true "the HOST column has a title" screen_has "^HOST +NAME|^HOST "
assert_true "a header line for alpha: up, its builds" screen_has "^ alpha \(.*\): up .*2 running"
assert_true "a header line for beta (from --hosts-file): up, its builds" screen_has "^ beta \(.*\): up .*2 running"
assert_true "the summary: two hosts, both up" screen_has "2 hosts, 2 up \| 4 running"

# ---- H: one host, the next, all ----
keys H
wait_screen "filter: host:alpha" 5 "H: alpha's builds alone"
wait_screen_gone "mh-beta-one" 10 "... beta's are hidden"
keys H
wait_screen "filter: host:beta" 5 "H again: beta's"
wait_screen_gone "mh-alpha-one" 10 "... alpha's are hidden"
keys H
wait_screen "alpha +.*mh-alpha-one" 10 "H once more: every host's builds"
assert_true "... beta's too" screen_has "beta +.*mh-beta-one"

# ---- host:NAME ----
keys f
wait_screen "filter builds" 5 "f opens the filter prompt" >/dev/null
type_text "host:beta"
keys Enter
wait_screen_gone "mh-alpha-one" 10 "host:beta hides alpha's builds"
assert_true "... and keeps beta's" screen_has "beta +.*mh-beta-two"

# ---- a kill on beta reaches beta only ----
keys f C-u
type_text "host:beta mh-beta-two"
keys Enter
wait_screen "filter: host:beta mh-beta-two" 5 "the list is down to beta's mh-beta-two"
keys G K k
wait_screen "kill mh-beta-two: done" 15 "K k from the TUI reports"
wait_for 20 "mh-beta-two ends killed on beta's daemon" far_state beta mh-beta-two killed &&
	pass "the TUI's kill reached beta"
assert_true "alpha's build with the same key still runs" far_state alpha mh-alpha-two running
assert_true "beta's other build still runs" far_state beta mh-beta-one running
keys l
wait_screen "log: mh-beta-two on beta .*lines" 10 "the log panel follows beta's build, from beta"
keys p
wait_screen "processes of mh-beta-two on beta" 10 "the process view asks beta"
keys Escape l
wait_screen_gone "log: mh-beta-two" 5 "l closes the log panel"
keys f C-u Enter
wait_screen "alpha +.*mh-alpha-two" 10 "the filter cleared: every host's builds again"

# ---- a: every host asked for its activities (each apart) ----
keys a
wait_screen "showing everything" 5 "a: everything, from both hosts"
assert_true "... alpha's builds still listed" screen_has "alpha +.*mh-alpha-one"
assert_true "... beta's too" screen_has "beta +.*mh-beta-one"
keys a
wait_screen "showing active builds" 5 "a again: back to active builds"

# ---- alpha goes away: its sshd and its sessions ----
pkill -P "${SSHD_PIDS[alpha]}"
stop_pid "${SSHD_PIDS[alpha]}"
wait_screen "^ alpha: DOWN \(.*(refused|closed|ssh)" 30 "alpha's header line says it is down, and why"
assert_true "beta stays up" screen_has "^ beta \(.*\): up"
log "the screen with alpha down:"; screen >&2
"$NA_CTL" -s "$T/sock-beta" kill mh-beta-one >/dev/null || fail "ctl kill on beta failed"
# (Its invocation then ends with nothing running, and folds itself: its row counts the kill.)
wait_screen "beta +.*mh-beta-one.*killed|^beta +▸ #[0-9]+ root \[.*, 2 killed, ended\]" 15 \
	"beta's builds keep updating while alpha is down"
keys '?'
wait_screen "^nix-analytics help .*q/Esc close" 5 "keys still work while alpha is down (? opens the help)"
keys Escape
tui_quit

# ---- more hosts than header lines (a third of the screen): the last line counts the rest ----
tui_start 160 6 -H beta -H closedport -H alpha --remote-ctl "$NA_CTL"
wait_screen "^ beta \(.*\): up" 20 "beta's header line, beside two hosts that cannot be reached"
wait_screen "^ \.\.\. 2 more hosts, 2 of them down" 20 "the hosts past the header's room are counted, the down ones too"
tui_quit

for h in alpha beta; do stop_pid "${FAR[$h]}"; done
