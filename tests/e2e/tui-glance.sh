#!/usr/bin/env bash
# What a busy person reads at a glance (issue 21, points 1-5), at 140x40 and at 80x24, against
# the real daemon and real Nix builds: active work first and ended invocations folded on their
# own (a fold belongs to its invocation, not to its number), sorting the way people mean, failures
# in words and red, limits on the row, a log panel that says whether it follows and what it
# dropped, confirmations that name the builds they touch (and do not open for builds that cannot
# take the action), idle columns giving their room to the name, names cut keeping their version,
# and a selection unlike the title bar.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
nix_setup
[[ $(id -u) == 0 ]] || skip "acting on builds of nixbld users needs root"
source "$E2E_DIR/lib-proc.sh"
trap 'rc=$?; tui_cleanup; proc_cleanup; (exit $rc); e2e_cleanup' EXIT

# A small log ring: the slow builds' older lines are dropped within seconds.
DAEMON_ARGS=(--cgroup-root "$CGROOT" --sample-interval 0.5 --log-ring 30)
start_daemon "${DAEMON_ARGS[@]}"
FILE="$E2E_DIR/nix/glance.nix"

# The first invocation: its builds end at once (one succeeds, three fail three ways).
nix-build "$FILE" -A ok -A exit3 -A sig -A dep --argstr nonce "$NONCE" -k -j4 --no-out-link \
	--log-format internal-json -v 2>&1 | ctl ingest >"$T/ingest-ended.out" 2>&1
ended() { [[ "$(ctl list-invocations | jq '[.invocations[] | select(.state != "running")] | length')" -ge 1 ]]; }
# The second: two running builds (one using CPU), one queued behind one of them.
nix_bg "$FILE" -A busy -A long -A waits --argstr nonce "$NONCE" --arg seconds 300 -k -j2
# state_is NAME STATE: NAME is the start of the build's name (a glob for the daemon).
state_is() { [[ "$(field "$1*" .state)" == "$2" ]]; }
running() { state_is "$1" running; }
both_run() { running glance-busy && running glance-a-very-long; }
wait_for 90 "the two slow builds run" both_run || die "the slow builds never ran"
wait_for 30 "glance-waits is queued" state_is glance-waits queued
for b in glance-exit glance-sig glance-dep; do
	wait_for 30 "$b failed" state_is "$b" failed
done
log "failures: $(ctl list-builds | jq -c '[.builds[] | select(.failure) | [.name, .failure.kind, .failure.exit_code, .failure.signal]]')"
busy_cpu() { [[ "$(field 'glance-busy*' '.usage.cpu_percent // 0 | floor')" -ge 3 ]]; }
wait_for 30 "glance-busy uses some CPU" busy_cpu

# colours_at ROW TEXT: "FG/BG" at TEXT on that row (attrs_at, tui-lib.sh).
colours_at() {
	local a
	a=$(attrs_at "$1" "$2") || return 2
	read -r _ fg bg <<<"$a"
	echo "$fg/$bg"
}

# The rows' order: the line numbers of the first rows matching each pattern, ascending.
in_order() {
	local prev=0 pat n
	for pat in "$@"; do
		n=$(screen | grep -nE -m1 -- "$pat" | cut -d: -f1)
		[[ -n "$n" && "$n" -gt "$prev" ]] || return 1
		prev=$n
	done
}

# sort_to WHAT: s until the status line says "sort: WHAT" (one press at a time, each answer
# seen: each press says another column).
status_moved() { local cur; cur=$(status_line); [[ "$cur" != "$1" && "$cur" == "sort: "* ]]; }
sort_to() {
	local i prev
	for ((i = 0; i < 14; i++)); do
		prev=$(status_line)
		keys s
		wait_for 3 "the status line answers s" status_moved "$prev" || return 1
		status_line | grep -qF "sort: $1" && return 0
	done
	return 1
}

# glance COLS ROWS: points 1, 2 and 5 on a screen of that size.
glance() {
	local cols=$1 rows=$2 sz="$1x$2"
	tui_start "$cols" "$rows"
	wait_screen "glance-busy" 20 "$sz: builds listed"
	# 1. Active work first; the ended invocation folded on its own.
	wait_screen "^▾ #[0-9]+ root \[0/3 done, 2 running, 1 queued" 5 "$sz: the running invocation is open"
	wait_screen "^▸ #[0-9]+ root \[5/5 done, 0 running, 3 failed, 1 dependency failed, ended\]" 5 \
		"$sz: the ended invocation is folded on its own"
	assert_true "$sz: the running invocation comes before the ended one" in_order "^▾ #.* running" "^▸ #.*ended"
	assert_true "$sz: running builds before the queued one" in_order "glance-busy-5.0 .* running" "glance-waits-6.0 .* queued"
	assert_true "$sz: the ended invocation's builds are hidden" bash -c "! tmux -L '$TMUX_SOCK' capture-pane -p -t '$TUI_SESSION' | grep -q glance-exit"
	# The user reopens it: the failures in words, red.
	keys G

	keys z o
	wait_screen "glance-exit-2.0 .* exit 3 " 5 "$sz: exit 3 on the row"
	wait_screen "glance-sig-3.0 .* signal 9 " 5 "$sz: signal 9 on the row"
	wait_screen "glance-dep-4.0 .* dep failed " 5 "$sz: a dependency failure on the row"
	wait_screen "glance-ok-1.0 .* succeeded " 5 "$sz: the build that succeeded"
	assert_match "$sz: a failed row's name is red" "^31/" "$(colours_at "glance-exit-2.0" "glance-exit")"
	assert_match "$sz: its STATE too" "^31/" "$(colours_at "glance-exit-2.0" "exit 3")"
	assert_match "$sz: a succeeded row's name is not" "^-/" "$(colours_at "glance-ok-1.0" "glance-ok")"
	keys z c
	wait_screen_gone "glance-exit" 5 "$sz: z c folds it again"
	# 1. Sorting: the first press of s on CPU% puts the most CPU on top, empty values last;
	# the arrow points down for descending; no title is cut.
	keys gg
	sort_to "CPU%, "
	wait_screen "CPU%▼" 5 "$sz: CPU% sorted highest first, the arrow down"
	wait_screen "sort: CPU%, descending, highest first" 2 "$sz: the status line says so"
	assert_true "$sz: the busy build on top, the queued one (no CPU) last" \
		in_order "glance-busy-5.0 .* running" "glance-a-very.* running" "glance-waits-6.0 .* queued"
	keys S
	wait_screen "CPU%▲" 5 "$sz: S reverses, the arrow up"
	assert_true "$sz: lowest first, the empty value still last" \
		in_order "glance-a-very.* running" "glance-busy-5.0 .* running" "glance-waits-6.0 .* queued"
	sort_to "PROG, "
	wait_screen "PROG▼" 5 "$sz: the sort mark fits the PROG title"
	assert_true "$sz: no column title is cut" bash -c "! tmux -L '$TMUX_SOCK' capture-pane -p -t '$TUI_SESSION' | grep -qE '^NAME.*…'"
	sort_to "running first"
	wait_screen "sort: running first, then queued, then ended" 5 "$sz: back to the default order"
	# 5. Idle columns, names keeping their version, the selection's colours.
	if ((cols <= 100)); then
		wait_screen "^NAME +STATE +PROG +USER +ELAPSED" 5 "$sz: no PHASE or MACHINE column (none carries anything here)"
	else
		wait_screen "^NAME +PHASE +STATE +PROG +USER +MACHINE +ELAPSED" 5 "$sz: every column at a wide screen"
	fi
	wait_screen "glance-a-very-.*…-2\.34\.1 " 5 "$sz: a long name is cut in its middle, its version kept"
	keys gg
	local head sel
	head=$(colours_at "nix-analytics @" "nix-analytics") sel=$(colours_at "^▾ #" "#")
	assert_ne "$sz: the selection's colours ($sel) are not the title bar's ($head)" "$head" "$sel"
	assert_le "$sz: nothing wider than the screen" "$cols" "$(screen | LC_ALL=C.UTF-8 wc -L)"
	tui_quit
}

glance 140 40
# The help says what is seen, not only the keys.
tui_start 140 40
wait_screen "glance-busy" 20 "builds listed" >/dev/null
keys '?'
wait_screen "Running builds come first, then queued ones, then those that ended; an invocation whose builds all ended folds itself" 5 "the help explains the order"
wait_screen "^ *│? *F +the log panel follows again" 2 "... and F"
keys G
wait_screen "^ +exit N +the builder exited with status N" 5 "... the failure words (at its end)"
wait_screen "^ +n10 cpu0.5 mem64M$" 2 "... the limits marker"
wait_screen "^ +the limits marker at a row's end: nice, CPU limit \(cores\), memory limit in force" 2 "... what it says"
keys Escape
tui_quit
glance 80 24
# 100 columns: idle columns give their room to the name, which is then whole.
tui_start 100 30
wait_screen "^NAME +STATE +PROG +USER +ELAPSED +ETA +CPU% +MEM +PEAK" 20 "100x30: PHASE and MACHINE give way, PEAK stays"
wait_screen "glance-a-very-long-pa.*…-2\.34\.1 " 5 "100x30: the name has their room, its version kept"
tui_quit

# actions SZ COLS ROWS: point 4 (and the limits marker of point 2).
actions() {
	local cols=$1 rows=$2 sz="$1x$2"
	tui_start "$cols" "$rows"
	wait_screen "glance-busy-5.0 .* running" 20 "$sz: builds listed"
	keys gg
	wait_screen "^▾ #[0-9]+ root \[0/3 done" 5 "$sz: the running invocation on top" >/dev/null
	# The invocation row stands for its builds that can take the action: not the queued one.
	keys K f
	wait_screen "freeze 2 builds \((glance-busy-5.0, glance-.*-2\.34\.1|glance-.*-2\.34\.1, glance-busy-5.0)\)\? \(y/n\)" 5 \
		"$sz: freezing the invocation names its two running builds (the queued one left out)"
	keys n
	wait_screen "cancelled" 5 "$sz: n cancels" >/dev/null
	assert_true "$sz: nothing was frozen" running glance-busy
	# A filter hides the long build: the invocation row then stands for glance-busy alone.
	keys f C-u
	type_text "glance-busy"
	keys Enter
	keys gg K f
	wait_screen "freeze glance-busy-5.0: done" 10 "$sz: with a filter, only the build shown is frozen (no question for one)"
	wait_for 10 "glance-busy frozen" state_is glance-busy frozen
	assert_true "$sz: the hidden build still runs" running glance-a-very-long
	keys K f
	wait_screen "freeze: glance-busy-5.0 is FROZEN: only running builds can be frozen" 5 \
		"$sz: freezing a frozen build: no prompt, the status line says why"
	keys K u
	wait_screen "thaw glance-busy-5.0: done" 10 "$sz: thawed"
	# The limits in force show on the row.
	keys G n
	wait_screen "nice for glance-busy-5.0" 5 "$sz: the nice prompt names the build" >/dev/null
	type_text 10
	keys Enter
	wait_screen "nice glance-busy-5.0: done" 10 "$sz: reniced" >/dev/null
	keys c
	type_text 0.5
	keys Enter
	wait_screen "cpu-limit glance-busy-5.0: done" 10 "$sz: CPU limit set" >/dev/null
	keys m
	type_text 64M
	keys Enter
	wait_screen "mem-limit glance-busy-5.0: done" 10 "$sz: memory limit set" >/dev/null
	if ((cols > 80)); then
		wait_screen "glance-busy-5.0 +n10 cpu0.5 mem64M .* running" 10 "$sz: the limits in force on the row"
	else
		wait_screen "glance-.*5\.0 n10 c0\.5.* running" 10 "$sz: the limits in force on the row (compact, cut)"
	fi
	keys c
	type_text none
	keys Enter
	keys m
	type_text none
	keys Enter
	keys n
	type_text 0
	keys Enter
	wait_screen_gone "n10|cpu0\.5|mem64M" 10 "$sz: lifted limits leave the row"
	# Ended builds cannot take an action: no prompt, the reason in the status line.
	keys f C-u
	type_text "glance-ok"
	keys Enter
	keys G z o
	wait_screen "glance-ok-1.0 .* succeeded" 5 "$sz: the ended build shown" >/dev/null
	keys G K k
	wait_screen "kill: glance-ok-1.0 is succeeded: only running or frozen builds can be killed" 5 \
		"$sz: killing an ended build: refused at once, saying why"
	keys n
	wait_screen "nice: glance-ok-1.0 is succeeded: only running or frozen builds take it" 5 \
		"$sz: no nice prompt for an ended build"
	keys f C-u Enter
	tui_quit
}
actions 140 40

# 3. The log panel: following only while it follows; dropped lines said, with where the whole
# log is.
logpanel() {
	local cols=$1 rows=$2 sz="$1x$2"
	tui_start "$cols" "$rows"
	wait_screen "glance-busy-5.0 .* running" 20 "$sz: builds listed" >/dev/null
	keys f C-u
	type_text "glance-a-very"
	keys Enter G l
	wait_screen "^log: glan.*-2\.34\.1  [0-9]+ lines  following" 10 "$sz: the panel follows the build"
	wait_screen "^[0-9]+ older lines dropped by the daemon; its last [0-9]+: nix-analytics-ctl log [0-9]+" 20 \
		"$sz: the lines the daemon dropped are counted, with the CLI for the rest"
	wait_screen "^whole log \(once ended\): nix log /nix/store/[a-z0-9]{32}" 2 "$sz: ... and nix log for the whole"
	keys Tab k k
	wait_screen "^log: glan.*-2\.34\.1  [0-9]+ lines  paused at line [0-9]+ \(G or F: follow\)" 5 "$sz: scrolling up pauses, and says so"
	assert_true "$sz: no longer 'following'" bash -c "! tmux -L '$TMUX_SOCK' capture-pane -p -t '$TUI_SESSION' | grep -q 'following'"
	keys G
	wait_screen "^log: glan.*-2\.34\.1  [0-9]+ lines  following" 5 "$sz: G resumes"
	keys k F
	wait_screen "^log: glan.*-2\.34\.1  [0-9]+ lines  following" 5 "$sz: F resumes"
	keys Tab f C-u Enter
	tui_quit
}
dropped() { [[ "$(ctl log --json -n 1 'glance-a-very*' | head -n 1 | jq .truncated)" -gt 0 ]]; }
wait_for 60 "the daemon dropped older lines of glance-a-very-..." dropped
logpanel 140 40
logpanel 80 24
actions 80 24

# A fold belongs to its invocation, not to its number: the daemon restarted numbers anew, and
# the running invocation may get the number the folded one had.
tui_start 140 40
wait_screen "^▸ #[0-9]+ root .*-A ok" 20 "the ended invocation folded"
keys G z c
stop_daemon
start_daemon "${DAEMON_ARGS[@]}"
wait_screen "daemon up" 20 "reconnected to the restarted daemon"
wait_screen "^▾ #1 root \[0/2 done, 2 running" 30 "the running invocation, now #1, is open: the fold was the ended #1's"
wait_screen "glance-busy-5.0 .* running" 5 "its builds are listed"
log "after the restart: $(ctl list-invocations | jq -c '[.invocations[] | [.id, .state]]')"
tui_quit
