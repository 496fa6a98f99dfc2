#!/usr/bin/env bash
# The terminal UI against the real daemon and real Nix builds, driven inside tmux: it starts
# without a daemon, shows builds appear and end with the right states, and its keys really
# act on the builds (freeze, thaw, nice, CPU and memory limits, kill, visual ranges), filter,
# search, log panel, yank (OSC 52 into tmux's buffer), views, resize and a daemon restart.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
nix_setup
[[ $(id -u) == 0 ]] || skip "acting on builds of nixbld users needs root"
source "$E2E_DIR/lib-proc.sh"
trap 'rc=$?; tui_cleanup; proc_cleanup; (exit $rc); e2e_cleanup' EXIT

DAEMON_ARGS=(--cgroup-root "$CGROOT" --sample-interval 0.5)

# --- no daemon yet: a clear message, and it keeps trying ---
tui_start 120 40
wait_screen "nix-analyticsd is not running" 15 "without a daemon: a clear message"
wait_screen "daemon DOWN" 5 "the header says the daemon is down"
start_daemon "${DAEMON_ARGS[@]}"
wait_screen "daemon up" 10 "the daemon started later is found (retry)"

# --- builds appear and end with their states ---
FILE="$E2E_DIR/nix/tui.nix"
# Two invocations: one whose builds end quickly (one fails: Nix stops, its end is reported at
# once), and three slow builds to act on.
nix-build "$FILE" -A quick -A fail --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v -j2 2>&1 |
	ctl ingest >"$T/ingest-quick.out" 2>&1 &
track $!
nix_bg "$FILE" -A a -A b -A c --argstr nonce "$NONCE" --arg seconds 400 -k -j3
for n in tui-a tui-b tui-c; do
	wait_screen "$n .* running " 90 "$n appears running"
done
wait_screen "#[0-9]+ root \\[[0-9]+/[0-9]+ done, [0-9]+ running.*\\]: nix-build .*tui.nix -A a -A b -A c" 5 "the tree groups builds under the invocation (requester and command)"
# The invocation that ended is folded on its own (nothing of it runs), after the running one.
wait_screen "^▸ #[0-9]+ root \\[.*, ended\\]: nix-build .*tui.nix -A quick -A fail" 60 "each invocation has its own group; the ended one folded"
keys G z o
wait_screen "tui-quick .* succeeded" 10 "tui-quick ends succeeded"
wait_screen "tui-fail .* exit 3 " 10 "tui-fail ends failed, why on its row (exit 3)"
wait_screen "#[0-9]+ root \\[[0-9]+/3 done, [0-9]+ running, ETA unknown\\]: nix-build .*tui.nix -A a -A b -A c" 5 \
	"an invocation whose builds have no history says its ETA is unknown (not a 0 standing still)"
wait_screen "NAME +PHASE +STATE +PROG +USER +MACHINE +ELAPSED +ETA +CPU% +MEM" 5 "the columns of the issue"
wait_screen "[0-9] running [0-9] queued [0-9] frozen \\| last hour: 1 ok 1 failed \\|" 10 "the header counts what runs, and how the last hour's builds ended (from history)"
tracked() { [[ -n "$(builder_of tui-a)" && -n "$(builder_of tui-b)" && -n "$(builder_of tui-c)" ]]; }
wait_for 60 "the builders of the three slow builds are found" tracked || die "builds never tracked"

state_is() { [[ "$(field "$1" .state)" == "$2" ]]; }

# select BUILD: filter the list down to it and move the cursor onto its row.
select_build() {
	keys f
	wait_screen "filter builds" 5 "f opens the filter prompt" >/dev/null
	keys C-u
	type_text "$1"
	keys Enter
	wait_screen "filter: $(printf '%s' "$1" | sed 's/[][*.?]/\\&/g')" 5 "the header shows the filter $1"
	keys G
}

# --- freeze and thaw ---
select_build tui-a
keys K
wait_screen "action: k kill +f freeze +u unfreeze" 5 "K shows the action prompt"
keys f
wait_screen "freeze tui-a: done.*\(by cgroup" 10 "K f reports the mechanism"
wait_for 10 "tui-a frozen (daemon)" state_is tui-a frozen && pass "K f really froze tui-a"
wait_screen "tui-a .* FROZEN" 5 "the frozen build is unmistakable"
assert_true "the kernel says frozen" grep -qx "frozen 1" "$(ctl ps --json tui-a | jq -r .cgroup.v2)/cgroup.events"
keys K u
wait_screen "thaw tui-a: done" 10 "K u reports"
wait_for 10 "tui-a running again" state_is tui-a running && pass "K u really thawed tui-a"
wait_screen "tui-a .* running " 5 "shown running again"

# --- nice, CPU and memory limits ---
keys n
wait_screen "nice for tui-a \(-20..19\)" 5 "n without a search opens the nice prompt"
type_text 7
keys Enter
wait_screen "nice tui-a: done, nice 7 \\(by .*setpriority" 10 "nice reports the value and setpriority"
all_nice() {
	local p ni n=0
	for p in $(ctl ps --json tui-a | jq -r '.processes[].pid'); do
		ni=$(ps -o ni= -p "$p" 2>/dev/null | tr -d ' ')
		[[ -z "$ni" ]] && continue
		[[ "$ni" == 7 ]] || return 1
		n=$((n + 1))
	done
	((n > 0))
}
wait_for 10 "every process of tui-a runs at nice 7" all_nice && pass "the nice prompt really applied"
keys c
wait_screen "CPU limit for tui-a" 5 "c opens the CPU prompt"
type_text 0.5
keys Enter
wait_screen "cpu-limit tui-a: done, limit 0.5 cores \\(by " 10 "the CPU limit reports its value and mechanism"
wait_for 5 "usage.cpu_limit is 0.5" bash -c "[[ \$('$NA_CTL' -s '$SOCKDIR' get-build tui-a | jq -r .build.usage.cpu_limit) == 0.5 ]]" &&
	pass "the CPU limit really applied"
keys m
wait_screen "memory limit for tui-a" 5 "m opens the memory prompt"
type_text 256M
keys Enter
wait_screen "mem-limit tui-a: done, limit 256M \\(by " 10 "the memory limit reports its value and mechanism"
wait_for 5 "usage.mem_limit is 256 MiB" bash -c "[[ \$('$NA_CTL' -s '$SOCKDIR' get-build tui-a | jq -r .build.usage.mem_limit) == 268435456 ]]" &&
	pass "the memory limit really applied"
keys m
type_text lots
keys Enter
wait_screen 'mem-limit tui-a refused \[bad-request\]: "bytes" must be' 10 "a refused action shows the daemon's error"

# --- log panel ---
keys l
wait_screen "^log: tui-a .*following" 10 "l opens the log panel on the selected build"
wait_screen "^tui-a line [0-9]+" 10 "the log panel shows the builder's lines"
keys Tab
wait_screen "focused: j/k scroll" 5 "Tab focuses the log panel"
keys /
wait_screen "search log: /" 5 "/ in the focused log panel searches the log"
type_text "tui-a line 2"
keys Enter
wait_screen "/tui-a line 2: match [0-9]+ of [0-9]+ in log" 5 "the log search finds the builder's lines"
keys Escape
wait_screen "search cleared" 5 "Esc clears the log search"
keys Tab l
wait_screen_gone "^log: tui-a" 5 "l closes the log panel"

# --- yank: OSC 52 into tmux's buffer ---
tmux_ set-option -g set-clipboard on
DRV_A=$(field tui-a .drv)
keys y
wait_screen "yank: d drv" 5 "y shows the fields"
keys d
wait_screen "yanked drv path .* by OSC 52" 5 "y d reports the OSC 52 copy"
buffer_is() { [[ "$(tmux_ show-buffer 2>/dev/null)" == "$1" ]]; }
wait_for 5 "tmux's buffer holds the drv path" buffer_is "$DRV_A" && pass "y d copied the drv path ($DRV_A)"
keys y n
wait_for 5 "tmux's buffer holds the name" buffer_is tui-a && pass "y n copied the name"
keys y p
wait_for 5 "tmux's buffer holds the builder pid" buffer_is "$(builder_of tui-a)" && pass "y p copied the builder pid"
keys y o
wait_for 5 "tmux's buffer holds the output path" buffer_is "$(nix-store -q --outputs "$DRV_A")" &&
	pass "y o copied the output path"
keys y c
wait_for 5 "tmux's buffer holds the requester's command line" buffer_is "$(field tui-a .requester.cmdline)" &&
	pass "y c copied the command line"
keys y r
wait_for 5 "tmux's buffer holds the requester" buffer_is "root (uid 0, pid $(field tui-a .requester.pid))" &&
	pass "y r copied the requester"
keys y l
log_yanked() { tmux_ show-buffer 2>/dev/null | grep -q "^tui-a line 3$"; }
wait_for 5 "tmux's buffer holds the log" log_yanked && pass "y l copied the log lines"

# --- kill ---
BUILDER_A=$(builder_of tui-a)
keys K k
wait_screen "kill tui-a: done" 10 "K k reports"
wait_for 15 "tui-a ends killed" state_is tui-a killed && pass "K k really killed tui-a"
wait_screen "tui-a .* killed" 10 "shown killed"
assert_true "its builder $BUILDER_A is gone" bash -c "! kill -0 $BUILDER_A 2>/dev/null"

# --- visual mode: freeze and thaw two builds at once, after a confirmation ---
keys Escape
wait_screen "filter cleared" 5 "Esc clears the filter"
select_build 'tui-[bc]'
keys g g j
keys V
wait_screen "^-- VISUAL --" 5 "V enters visual mode (shown in the status line)"
keys j K f
wait_screen "freeze 2 builds \(tui-[abc], tui-[abc]\)\? \(y/n\)" 5 "an action on a range asks first"
keys y
wait_screen "freeze 2 builds: all done" 10 "both frozen, reported once"
both() { state_is tui-b "$1" && state_is tui-c "$1"; }
wait_for 10 "tui-b and tui-c frozen" both frozen && pass "V range really froze both"
keys g g j V j K u
wait_screen "thaw 2 builds \(tui-[abc], tui-[abc]\)\? \(y/n\)" 5 "thaw asks too"
keys n
wait_screen "cancelled" 5 "n at the confirmation cancels"
assert_true "still frozen after cancelling" both frozen
wait_screen "^-- VISUAL --" 5 "still in visual mode after cancelling"
keys K u y
wait_screen "thaw 2 builds: all done" 10 "both thawed"
wait_for 10 "tui-b and tui-c running" both running && pass "V range really thawed both"
keys g g j V j n
wait_screen "nice for 2 builds \\(tui-[bc], tui-[bc]\\) \\(-20..19\\)" 5 "n on a range: the nice prompt for both"
type_text 5
keys Enter
wait_screen "nice 2 builds \\(tui-[abc], tui-[abc]\\) to 5\\? \\(y/n\\)" 5 "asks before renicing two builds"
keys y
wait_screen "nice 2 builds: all done, nice 5" 10 "both reniced, reported once"
real_nice() { [[ "$(ps -o ni= -p "$(builder_of "$1")" | tr -d ' ')" == 5 ]]; }
both_nice() { real_nice tui-b && real_nice tui-c; }
wait_for 10 "the builders of tui-b and tui-c run at nice 5" both_nice &&
	pass "the range's nice really applied to both"
keys Escape Escape

# --- search and n/N ---
keys t
wait_screen "flat list of active builds" 5 "t switches to the flat list"
keys /
wait_screen "search builds: /" 5 "/ opens the search prompt"
type_text tui-c
keys Enter
wait_screen "/tui-c: match 1 of 1 in builds" 5 "the search finds its row"
wait_screen "search /tui-c in builds: n next match" 20 "the status line says n now means next match"
keys Enter
wait_screen "details: tui-c" 5 "the search moved the cursor to tui-c (Enter shows its details)"
wait_screen "drv: /nix/store/.*-tui-c.drv" 5 "the details show its fields"
keys /
type_text log_tail
keys Enter
wait_screen "^log_tail:" 10 "the details of a build carry its log tail (get-build)"
keys j j j
wait_screen "^  \\[[0-9]+\\]: tui-c line [0-9]+" 5 "with the builder's lines"
keys Escape /
type_text builder
keys Enter
keys j j
wait_screen "^  builder: [0-9]+" 5 "and its processes"
keys Escape Escape
keys n
wait_screen "/tui-c: match 1 of 1 in builds" 5 "n steps to the next match (not the nice prompt)"
keys Escape Escape
# Several matches: n and N step forward and back between them.
detail_name() { screen | sed -nE 's/.*details: ([^ ]+) .*/\1/p' | head -n 1; }
name_on_cursor() {
	keys Enter
	wait_screen "details: tui-" 5 "Enter shows the details of the build under the cursor" >/dev/null
	detail_name
	keys Escape
	wait_screen_gone "details: tui-" 5 "Esc leaves the details" >/dev/null
}
keys /
wait_screen "search builds: /" 5 "/ opens the search prompt again" >/dev/null
keys C-u
type_text "tui-"
keys Enter
wait_screen "/tui-: match [0-9]+ of [2-9]" 5 "a search matching several builds counts them"
FIRST=$(name_on_cursor)
keys n
SECOND=$(name_on_cursor)
keys N
BACK=$(name_on_cursor)
log "search /tui-: cursor on $FIRST, n -> $SECOND, N -> $BACK"
assert_true "n moves to another matching build ($FIRST -> $SECOND)" test -n "$SECOND" -a "$SECOND" != "$FIRST"
assert_eq "N moves back to the previous match" "$FIRST" "$BACK"
keys Escape Escape
keys /
type_text nothing-like-this
keys Enter
wait_screen "/nothing-like-this: not found" 5 "a search without match says so"
keys Escape t

# --- views ---
select_build tui-b
keys p
wait_screen "processes of tui-b" 10 "p shows the process view"
BUILDER_B=$(builder_of tui-b)
wait_screen "^ *$BUILDER_B nixbld[0-9]+ +S .*sh -c" 10 "the builder's process with its user, state and command"
keys p d
wait_screen "dependencies of invocation #[0-9]+" 10 "d shows the dependency tree"
wait_screen "building +tui-b" 10 "with the nodes' states"
wait_screen "building +tui-c" 5 "every node of the invocation"
keys d
select_build tui-fail
keys d
wait_screen "failed +tui-fail" 10 "the other invocation's tree: the failed node"
wait_screen "done +tui-quick" 5 "and the built one"
keys Escape
select_build tui-b
keys h
wait_screen "^history: [0-9]+\+? rows" 10 "h shows history"
wait_screen "succeeded .* tui-quick" 15 "the finished build is in the history"
keys s
wait_screen "^history: .* by started descending" 10 "s orders the history by another column"
keys S
wait_screen "^history: .* by started ascending" 10 "S reverses it"
keys Enter
wait_screen "^details: tui-" 5 "Enter on a history row shows its details"
# The page in words (its timeline, when it comes, adds graph lines above the raw fields; these
# lines stay at the top either way).
wait_screen "^drv +/nix/store/[a-z0-9]{32}-tui-[a-z]+\.drv$" 5 "with its fields"
wait_screen "^state +(succeeded|killed|exit [0-9]+)" 5 "and how it ended"
keys Escape
wait_screen "^history: " 5 "Esc goes back to the history"
keys h r
wait_screen "remote machines: 0" 10 "r shows the machines view"
keys r '?'
wait_screen "^nix-analytics help" 5 "? shows the help"
keys Escape
wait_screen_gone "^nix-analytics help" 5 "Esc closes the help"

# --- resize ---
tmux_ resize-window -t "$TUI_SESSION" -x 80 -y 24
wait_screen "^NAME +STATE .*ELAPSED .*CPU% +MEM *$" 10 "at 80 columns the narrow columns go, the essential stay"
wait_screen "tui-b .* running" 5 "the build list at 80x24"
assert_le "nothing wider than 80 columns" 80 "$(screen | LC_ALL=C.UTF-8 wc -L)"
tmux_ resize-window -t "$TUI_SESSION" -x 120 -y 40
wait_screen "^NAME +PHASE +STATE" 10 "back at 120 columns"

# --- daemon restart ---
# While the daemon is away its rows stay, as last seen: greyed, their clocks stopped, and not
# acted on; the restarted daemon's lists replace them.
row_dim "tui-b .* running" "tui-b"
assert_eq "a live row is not dim" 1 $?
stop_daemon
wait_screen "daemon DOWN" 10 "the daemon stopping is shown"
wait_screen "not running \([0-9]+ builds? greyed, as last seen; no answer" 5 "the header says its builds are greyed"
assert_true "tui-b's row stays" screen_has "tui-b .* running"
row_dim "tui-b .* running" "tui-b"
assert_eq "... drawn dim (SGR 2)" 0 $?
ROW_B=$(row_of "tui-b .* running")
sleep 2.5
assert_eq "... standing still (elapsed, ETA) after 2.5 s" "$ROW_B" "$(row_of "tui-b .* running")"
keys K f
wait_screen "freeze refused: $(hostname) is down: this build is greyed, as last seen \(nothing sent\)" 5 \
	"an action on a greyed row is refused, naming the host"
start_daemon "${DAEMON_ARGS[@]}"
wait_screen "daemon up" 10 "the TUI reconnects to the restarted daemon"
keys Escape
wait_screen "tui-b .* running" 15 "the running builds come back (rediscovered)"
tui_b_live() { ! row_dim "tui-b .* running" "tui-b"; }
wait_for 10 "tui-b's row is live again" tui_b_live && pass "the restarted daemon's rows are not dim"

tui_quit

# The remaining builds end with the test (proc_cleanup stops nix-build).
