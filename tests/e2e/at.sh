#!/usr/bin/env bash
# After the fact (issue 19): `nix-analytics-ctl at TIME` shows the builds running at a past
# instant with what each held then, and the machine then, from the builds the daemon holds
# and, after a restart, from history. A real nix-build (through ingest) of at.nix: 64 MiB held
# for 10 s in growPhase, then a quiet phase. At an instant of each phase, `at` must show the
# build with its memory then (>= 60 MiB, then < 20 MiB), running then and succeeded now, and
# a machine sample of that time; before the build, nothing. The history row keeps the phases
# with their durations. The table on a terminal, the forms of TIME people type, and a bad TIME
# refused. Another user sees the build then, not its requester's command line.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"
check_binaries
check_tui
trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT
nix_setup
start_daemon

# The machine's figures come every 10 s (on whole tens of seconds): the first before the build.
sampled() { ctl status | jq -e '.host.sample.mem_total > 0' >/dev/null 2>&1; }
wait_for 15 "the daemon's first machine sample" sampled
T_BEFORE=$(date +%s.%N)
sleep 1
(
	nix-build "$E2E_DIR/nix/at.nix" --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v 2>&1 |
		tee "$T/events.raw" | ctl ingest >"$T/ingest.out" 2>&1
	echo "${PIPESTATUS[0]}" >"$T/nix.rc"
) &
track $!
holding() { grep -q 'holding 67108864' "$T/events.raw" 2>/dev/null; }
wait_for 60 "the build holds its 64 MiB" holding || die "the build never got to hold its memory"
sleep 4
T_MEM=$(date +%s.%N)
quiet() { grep -q '"fields":\["quiet"\]' "$T/events.raw" 2>/dev/null; }
wait_for 30 "the build's quiet phase" quiet || die "the build never got to its quiet phase"
sleep 5 # history keeps a point per 4 s: one wholly inside the quiet phase
T_QUIET=$(date +%s.%N)
wait_for 60 "nix-build ends" test -f "$T/nix.rc"
assert_eq "nix-build succeeds" 0 "$(cat "$T/nix.rc")"
sleep 1

# check_at LABEL SLACK: the answers at T_MEM, T_QUIET and T_BEFORE; the point shown is at most
# SLACK seconds from the instant (a sample a second while the daemon holds the build, a point
# per 4 s in history).
check_at() {
	local label=$1 slack=$2 A
	ctl_ok A at "@$T_MEM"
	printf '%s\n' "$A" >"$T/at-mem-$label.json"
	assert_json "$label: at the memory phase, the build is listed, succeeded now" "$A" \
		'[.builds[] | select(.name == "at-mem")] | length == 1 and .[0].state == "succeeded"'
	assert_json "$label: it held >= 60 MiB then, with its processes" "$A" \
		'.builds[] | select(.name == "at-mem") | .then.mem >= 62914560 and .then.procs >= 1'
	assert_json "$label: the point shown is of that time (within $slack s)" "$A" \
		".builds[] | select(.name == \"at-mem\") | (.then.t - $T_MEM) | fabs <= $slack"
	assert_json "$label: the machine then (a 10 s sample, memory known)" "$A" \
		".machine.mem_total > 0 and .machine.mem_used > 0 and ($T_MEM - .machine.t) >= 0 and ($T_MEM - .machine.t) <= 20"
	ctl_ok A at "@$T_QUIET"
	assert_json "$label: in its quiet phase it held < 20 MiB" "$A" \
		'.builds[] | select(.name == "at-mem") | .then.mem < 20971520'
	ctl_ok A at "@$T_BEFORE"
	assert_json "$label: before it started, it is not listed" "$A" '[.builds[] | select(.name == "at-mem")] | length == 0'
}
check_at live 2

# --- the history row: phases with their durations ---
ctl_ok H get-history --name at-mem
assert_json "history: growPhase lasted about 10 s, then quietPhase about 6 s" "$H" \
	'.builds[0].phases | map({(.name): .duration}) | add | (.growPhase > 9 and .growPhase < 14) and (.quietPhase > 5 and .quietPhase < 9)'

# --- stats: the packages that held the most memory, with the peak beside the median time ---
ctl_ok S stats
assert_json "stats: at-mem ranks by memory, its peak >= 60 MiB, its median time about 17 s" "$S" \
	'.memory[0].pname == "at-mem" and .memory[0].mem_peak >= 62914560 and (.memory[0].median_duration > 14 and .memory[0].median_duration < 25)'
assert_json "stats: and by CPU, with its peak" "$S" '[.cpu[] | select(.pname == "at-mem")][0].mem_peak >= 62914560'
OUT=$(script -qec "stty cols 160; $NA_CTL -s $SOCKDIR stats --color=never" /dev/null | tr -d '\r')
assert_match "stats table: MOST MEMORY with PEAK and MEDIAN TIME" 'MOST MEMORY +BUILDS +PEAK +MEAN PEAK +MEDIAN TIME' "$OUT"
# What it held: its 64 MiB, or up to twice that where a sample (or the kernel's peak of its
# group) caught the instant bash's $(...) held the text twice (its buffer and the copy).
HELD='(6[4-9]|[7-9][0-9]|1[0-3][0-9])(\.[0-9])?M'
assert_match "stats table: the build's row" "at-mem +1 +$HELD +$HELD +1[0-9]s" "$OUT"

# --- after a restart: from history ---
stop_daemon
start_daemon
check_at restarted 4.5

# --- what another user sees of it then (the trust model's rules hold in replay) ---
mallory_user
chmod 755 "$T" "$SOCKDIR"
ctl_ok A at "@$T_MEM"
assert_json "root sees the requester's command line then" "$A" \
	'.builds[] | select(.name == "at-mem") | .requester.uid == 0 and (.requester.cmdline | type) == "string"'
MA=$(as_mallory "$NA_CTL" -s "$SOCKDIR" at --json "@$T_MEM") || die "mallory cannot ask at"
printf '%s\n' "$MA" >"$T/at-mallory.json"
assert_json "another user sees the build and its memory then, not its command line" "$MA" \
	'.builds[] | select(.name == "at-mem") | .then.mem >= 62914560 and .requester.uid == 0 and .requester.cmdline == null'

# --- for people: the table, the forms of TIME, a bad TIME ---
OUT=$(script -qec "stty cols 160; $NA_CTL -s $SOCKDIR at @$T_MEM" /dev/null | tr -d '\r')
printf '%s\n' "$OUT" >"$T/at-table.txt"
assert_match "table: the machine line" 'machine: CPU .*, load [0-9.]+, memory [0-9.]+[KMGT]? of [0-9.]+[KMGT]?' "$OUT"
assert_match "table: the columns" 'STARTED +STATE +CPU% +MEM +PROCS' "$OUT"
assert_match "table: the build, its memory then in MiB" "succeeded .* $HELD .* at-mem" "$OUT"
ctl_ok A at -- -1m
assert_json "TIME -1m: a minute ago" "$A" "(.at - $(date +%s) + 60) | fabs <= 3"
ctl_ok A at "$(date -d "@${T_MEM%.*}" +%H:%M:%S)"
assert_json "TIME HH:MM:SS (local): the same build" "$A" '[.builds[] | select(.name == "at-mem")] | length == 1'
ctl_ok A at "$(date -d "@${T_MEM%.*}" +%Y-%m-%dT%H:%M:%S)"
assert_json "TIME ISO (local): the same build" "$A" '[.builds[] | select(.name == "at-mem")] | length == 1'
ERR=$("$NA_CTL" -s "$SOCKDIR" at "soon-ish" 2>&1)
assert_eq "a bad TIME: exit 2" 2 "$?"
assert_match "a bad TIME: says which forms it takes" "cannot read 'soon-ish' as a time" "$ERR"
"$NA_CTL" -s "$SOCKDIR" at "+2h" >/dev/null 2>&1
assert_eq "a future TIME: refused" 2 "$?"

# --- the TUI: --at TIME, moving through time, @ from the history view ---
MEM_CLOCK=$(date -d "@${T_MEM%.*}" +%H:%M:%S)
tui_start 140 30 --at "@$T_MEM"
wait_screen "^at $MEM_CLOCK" 10 "tui --at: the instant in the header"
wait_screen 'machine: CPU [0-9.]+%, load [0-9.]+, memory [0-9.]+[KMGT]? of' 10 "tui --at: the machine then"
wait_screen "succeeded +[0-9.]+% +$HELD +[0-9]+ .*at-mem" 10 "tui --at: the build, its memory then"
keys '['
wait_screen "^at $(date -d "@$((${T_MEM%.*} - 60))" +%H:%M:%S)" 10 "tui: [ moves a minute back"
wait_screen '\(no builds were running\)' 10 "tui: a minute before, the build had not started"
keys ']'
wait_screen "^at $MEM_CLOCK" 10 "tui: ] moves a minute on, back to the instant"
wait_screen 'at-mem' 10 "tui: the build again"
keys '@'
wait_screen 'at \(03:12, -2h, yesterday 14:00\):' 5 "tui: @ asks for a time"
type_text "@${T_BEFORE%.*}"
keys Enter
wait_screen "^at $(date -d "@${T_BEFORE%.*}" +%H:%M:%S)" 10 "tui: the time typed"
wait_screen '\(no builds were running\)' 10 "tui: before the build, nothing ran"
keys Escape
keys h
wait_screen '^history' 10 "tui: the history view"
wait_screen 'at-mem' 10 "tui: the build in the history view"
keys '@'
wait_screen '^at [0-9:]+ ' 10 "tui: @ on a history row opens the at view"
wait_screen 'succeeded .*at-mem' 10 "tui: at the middle of that build, the build itself"
tui_quit

# --- the header's machine graph: the daemon's 10 s samples since the TUI started ---
tui_start 200 30
BLOCK='(▁|▂|▃|▄|▅|▆|▇|█)'
wait_screen "cpu $BLOCK$BLOCK+ mem $BLOCK$BLOCK+" 30 "tui: the header graphs the machine's CPU and memory"
tui_quit
