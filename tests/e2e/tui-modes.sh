#!/usr/bin/env bash
# The TUI's display modes and movement keys against real builds: NO_COLOR and the ASCII
# fallback (no colour codes, ASCII tree), colours and UTF-8 line drawing by default, folds
# (zc/zo/za), the sort key, the flat list and `a`, Ctrl-d/Ctrl-u/gg/G, details on Enter.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
nix_setup
[[ $(id -u) == 0 ]] || skip "building with nixbld users needs root"
source "$E2E_DIR/lib-proc.sh"
trap 'rc=$?; tui_cleanup; proc_cleanup; (exit $rc); e2e_cleanup' EXIT

# --- the command line ---
assert_match "--help explains itself" "usage: nix-analytics .*socket-dir" "$("$NA_TUI" --help | tr '\n' ' ')"
"$NA_TUI" -s "$SOCKDIR" </dev/null >"$T/notty.out" 2>&1
assert_eq "without a terminal: exit 1" 1 "$?"
assert_contains "without a terminal: says why and what to use" "needs a terminal (for scripts: nix-analytics-ctl)" "$(cat "$T/notty.out")"
"$NA_TUI" --fps 0 >"$T/badopt.out" 2>&1
assert_eq "a bad option value: exit 2" 2 "$?"
assert_contains "a bad option value: a clear error" "--fps: '0' is not a number from 1 to 1000" "$(cat "$T/badopt.out")"

# One remote builder that cannot be reached (nothing listens on port 1): the machines view
# shows it configured, polled and down, with ssh's reason.
mkdir -p "$T/conf"
printf 'builders = ssh://nobody@127.0.0.1:1 x86_64-linux - 2 1\n' >"$T/conf/nix.conf"
start_daemon --cgroup-root "$CGROOT" --nix-conf-dir "$T/conf" --machines-poll-interval 1 --machines-poll-timeout 5
FILE="$E2E_DIR/nix/tui.nix"
nix_bg "$FILE" -A a -A top -A quick --argstr nonce "$NONCE" --arg seconds 200 -k -j4
running() { [[ "$(field "$1" .state)" == running ]]; }
tracked() { running tui-a && running tui-b && running tui-c; }
wait_for 90 "the slow builds run" tracked || die "builds never ran"
wait_for 60 "tui-quick succeeded" bash -c "[[ \$('$NA_CTL' -s '$SOCKDIR' get-build tui-quick | jq -r .build.state) == succeeded ]]"

# colour SGR codes (foreground/background), as capture-pane -e shows them
has_colour() { tmux_ capture-pane -e -p -t "$TUI_SESSION" | grep -qE $'\e\\[([0-9;]*;)?(3[0-7]|4[0-7]|38;5;[0-9]+|48;5;[0-9]+)(;[0-9;]*)?m'; }

# --- defaults: colours, UTF-8 tree ---
tui_start 120 30
wait_screen "tui-quick .* succeeded" 20 "builds listed"
wait_screen "^├─tui-" 5 "UTF-8 line drawing by default"
assert_true "colours by default" has_colour

# --- the help page at 80x24: it scrolls to its last line and explains the columns, the
# colours and the failure words as well as the keys ---
tmux_ resize-window -t "$TUI_SESSION" -x 80 -y 24
keys '?'
wait_screen "^nix-analytics help +lines 1-23 of [0-9]+" 5 "? shows the help page, 23 lines at 80x24"
assert_le "the help fits 80 columns" 80 "$(screen | LC_ALL=C.UTF-8 wc -L)"
keys j
wait_screen "^nix-analytics help +lines 2-24 of" 5 "j scrolls the help a line"
keys k
wait_screen "^nix-analytics help +lines 1-23 of" 5 "k scrolls it back"
# Page by page to the end, keeping every page: the whole text must be reachable.
: >"$T/help.txt"
help_first() { screen | head -n 1 | sed -E 's/.*lines ([0-9]+)-.*/\1/'; }
running_attrs=
for _ in $(seq 1 20); do
	screen | tail -n +2 >>"$T/help.txt"
	row_of "^  running +a build that runs now" >/dev/null && running_attrs=$(attrs_at "^  running +a build that runs now" running)
	screen_has "end of help" && break
	before=$(help_first)
	keys NPage
	wait_for 5 "PgDn scrolls the help" bash -c '[[ "$(tmux -L "$1" capture-pane -p -t "$2" | head -n 1)" != *"lines $3-"* ]]' _ "$TMUX_SOCK" "$TUI_SESSION" "$before"
done
assert_contains "PgDn reaches the help's last line" "end of help: q, Esc or ? closes it" "$(cat "$T/help.txt")"
assert_match "a column explained, with its unit" "CPU% +CPU use now, % of one core" "$(cat "$T/help.txt")"
assert_match "memory columns say their unit" "PEAK +the most memory .*\(bytes: K, M, G\)" "$(cat "$T/help.txt")"
assert_match "a colour explained" "FROZEN +frozen \(K f\): its processes are stopped" "$(cat "$T/help.txt")"
assert_match "the dimmed rows of a host that is down explained" "dimmed row +a host that is down" "$(cat "$T/help.txt")"
assert_match "the limits marker explained" "n10 cpu0.5 mem64M" "$(cat "$T/help.txt")"
assert_match "a failure word explained" "oom-killed +the kernel's OOM killer ended one of its processes" "$(cat "$T/help.txt")"
assert_match "exit N explained" "exit N +the builder exited with status N" "$(cat "$T/help.txt")"
assert_match "a state explained" "lost +its nix process went away" "$(cat "$T/help.txt")"
assert_eq "the colour sample is drawn in the colour it explains (running: green)" "32" "$(cut -d' ' -f2 <<<"$running_attrs")"
keys g g
wait_screen "^nix-analytics help +lines 1-23 of" 5 "gg goes back to the help's top"
keys G
wait_screen "^  end of help: q, Esc or \? closes it" 5 "G goes to the help's last line"
keys PPage
wait_screen_gone "end of help" 5 "PgUp scrolls back a page"
keys q
wait_screen "^NAME" 5 "q closes the help (and does not quit)"
keys F1
wait_screen "^nix-analytics help +lines 1-" 5 "F1 shows the help too"
keys Escape
wait_screen_gone "^nix-analytics help" 5 "Esc closes the help"
tmux_ resize-window -t "$TUI_SESSION" -x 120 -y 30
tui_quit

# --- NO_COLOR and --ascii ---
TUI_ENV=(NO_COLOR=1)
tui_start 120 30 --ascii
wait_screen "tui-quick .* succeeded" 20 "builds listed (NO_COLOR, --ascii)"
wait_screen '^\|-tui-' 5 "ASCII tree with --ascii"
wait_screen '^`-tui-' 5 "ASCII corner"
wait_screen '^- #[0-9]+ root' 5 "ASCII fold marker"
no_colour() { ! has_colour; }
assert_true "no colour under NO_COLOR" no_colour
wait_screen "tui-a .* running" 5 "frozen/running states still readable without colour"
TUI_ENV=()
tui_quit

# --- a locale without UTF-8: the ASCII fallback by itself ---
# (With an X display and an xclip on PATH, which the yank below must feed: a stand-in that
# records what it is given.)
mkdir -p "$T/bin"
printf '#!/bin/sh\necho "$*" >"%s/xclip.args"\ncat >"%s/xclip.in"\n' "$T" "$T" >"$T/bin/xclip"
chmod +x "$T/bin/xclip"
TUI_ENV=(LANG=C LC_ALL=C DISPLAY=:99 "PATH=$T/bin:$PATH")
tui_start 120 30
wait_screen '^\|-tui-' 20 "ASCII tree in the C locale"
TUI_ENV=()

# --- folds ---
keys g g
keys z c
wait_screen '^\+ #[0-9]+ root' 5 "zc folds the invocation"
wait_screen_gone "tui-a" 5 "its builds are hidden"
keys z o
wait_screen "tui-a .* running" 5 "zo opens it again"
keys z a
wait_screen_gone "tui-a" 5 "za toggles it closed"
keys z a
wait_screen "tui-a .* running" 5 "za toggles it open"

# --- sort by name, then movement ---
keys s
wait_screen "sort: NAME" 5 "s sorts by the next column (NAME)"
wait_screen "^NAME\\^ " 5 "the sort column is marked, ascending (^ in ASCII)"
keys g g j Enter
wait_screen "details: tui-a" 5 "sorted by name: the first build is tui-a"
keys Escape G Enter
wait_screen "details: tui-top" 5 "G: the last row is tui-top"
keys Escape C-u C-u Enter
wait_screen "details: invocation" 5 "Ctrl-u goes up half a page at a time, to the invocation row"
keys Escape C-d Enter
wait_screen "details: tui-top" 5 "Ctrl-d goes down half a page (clamped at the last row)"
keys Escape S
wait_screen "descending" 5 "S reverses the order"
keys g g j Enter
wait_screen "details: tui-top" 5 "reversed: the first build is tui-top"
keys Escape

# --- mouse: xterm mouse reports typed into the pane (ESC [ M button x y, each + 32, 1-based) ---
# Rows now: invocation, tui-top, tui-quick, tui-c, tui-b, tui-a (screen rows 2..7).
# (A pause first: an Escape typed just before would run into the report's ESC.)
mouse() {
	sleep 0.2
	tmux_ send-keys -t "$TUI_SESSION" -l $'\e[M'"$1"
}
mouse ' !&'
mouse '#!&'
keys Enter
wait_screen "details: tui-c" 5 "a click selects the row under the mouse"
keys Escape
mouse '`!&'
keys Enter
wait_screen "details: invocation" 5 "the wheel scrolls up (3 rows)"
keys Escape
mouse 'a!&'
keys Enter
wait_screen "details: tui-c" 5 "the wheel scrolls down (3 rows)"
keys Escape

# --- dependency tree: folds and search ---
keys g g j d
wait_screen "dependencies of invocation" 10 "d shows the dependency tree"
wait_screen "pending +tui-top" 10 "tui-top waits for its inputs"
wait_screen "^ {3,}building +tui-b" 5 "its inputs are shown under it, indented"
keys /
type_text tui-top
keys Enter
wait_screen "/tui-top: match 1 of 1 in dependencies" 5 "/ searches the dependency tree"
keys z c
wait_screen "^\\+ pending +tui-top" 5 "zc folds the node"
wait_screen_gone "building +tui-b" 5 "its inputs are hidden"
keys z o
wait_screen "building +tui-b" 5 "zo opens it"
keys z a
wait_screen_gone "building +tui-c" 5 "za toggles it closed"
keys z a
wait_screen "building +tui-c" 5 "za toggles it open"
# Search finds what folds hide: tui-b and tui-c (building) under a folded tui-top, tui-a
# (building) beside it; the first search from the top is match 1 of 3, then n and N step
# through the three, wrapping, and open the fold on the way.
keys z c
wait_screen_gone "building +tui-b" 5 "tui-top folded again"
keys Escape
wait_screen "search cleared" 5 "Esc clears the search"
keys g g /
type_text building
keys Enter
wait_screen "/building: match 1 of 3 in dependencies" 5 "the search counts the matches inside the folded node"
keys n
wait_screen "/building: match 2 of 3 in dependencies" 5 "n: match 2 of 3"
keys n
wait_screen "/building: match 3 of 3 in dependencies" 5 "n: match 3 of 3"
wait_screen "building +tui-b" 5 "a match inside the folded node opened it"
wait_screen "building +tui-c" 5 "both of its inputs shown"
keys n
wait_screen "/building: match 1 of 3 in dependencies" 5 "n wraps to the first match"
keys N
wait_screen "/building: match 3 of 3 in dependencies" 5 "N wraps back to the last"
keys N
wait_screen "/building: match 2 of 3 in dependencies" 5 "N: the previous match"
keys Escape Escape

# --- machines ---
keys r
wait_screen "^remote machines: 1" 10 "r: the machines view lists the configured builder"
wait_screen "ssh://nobody@127\.0\.0\.1:1 +down +0/2 .*ssh: connect to host 127.0.0.1 port 1" 20 "state down, slots 0/2, ssh's reason"
keys Enter
wait_screen "^details: ssh://nobody@127\.0\.0\.1:1" 5 "Enter shows the machine's details"
wait_screen "^max_jobs: 2" 5 "with its configuration"
keys Escape Escape
wait_screen "^NAME" 5 "Esc back to the build list"

# --- yank feeds xclip too when there is a display ---
keys g g j y n
wait_screen "yanked name .* by OSC 52 \\(tmux\\) \\+ xclip" 5 "y reports OSC 52 and xclip"
xclip_got() { [[ "$(cat "$T/xclip.in" 2>/dev/null)" == tui-top ]]; }
wait_for 5 "xclip received the name" xclip_got && pass "xclip got the yanked name on its stdin"
assert_eq "xclip was asked for the clipboard selection" "-selection clipboard" "$(cat "$T/xclip.args" 2>/dev/null)"

# --- a: what invocations do beside building (here a post-build hook, activity 110; Nix 2.8
# leaves OUT_PATHS empty, DRV_PATH names the build) ---
printf '#!/bin/sh\ncase "$DRV_PATH" in *tui-hooked*) sleep 40 ;; esac\n' >"$T/hook.sh"
chmod +x "$T/hook.sh"
nix-build "$FILE" -A hooked --argstr nonce "$NONCE" --option post-build-hook "$T/hook.sh" --no-out-link \
	--log-format internal-json -v 2>&1 | ctl ingest >"$T/ingest-hook.out" 2>&1 &
track $!
keys a
wait_screen "showing everything" 5 "a: everything"
wait_screen "\\[post-build-hook\\] tui-hooked +[0-9]+s" 60 "a shows the post-build hook running for tui-hooked"
keys a
wait_screen_gone "\\[post-build-hook\\]" 5 "a again hides it"

# --- flat list and a ---
keys t
wait_screen "flat list of active builds" 5 "t: the flat list"
wait_screen_gone "tui-quick" 5 "the flat list shows active builds only"
keys a
wait_screen "tui-quick .* succeeded" 5 "a shows finished ones too"
keys a t
wait_screen "tree by invocation" 5 "t: back to the tree"

tui_quit
