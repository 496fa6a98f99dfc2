# Helpers for the TUI's end-to-end tests: the real nix-analytics inside a private tmux server,
# keys sent with send-keys, the screen read with capture-pane. Sourced after lib.sh.
#
# The binary comes from $NA_TUI (meson passes it). Its exit status lands in $T/tui.rc and
# its stderr (sanitizer reports included) in $T/tui.err.

NA_TUI=${NA_TUI:-}
[[ -n "$NA_TUI" ]] && NA_TUI=$(realpath -m "$NA_TUI")
TMUX_BASE="na-e2e-$TEST_NAME-$$"
TMUX_SOCK=$TMUX_BASE
TUI_RUNS=0
TUI_SESSION=tui

tmux_() { tmux -L "$TMUX_SOCK" "$@"; }

check_tui() {
	[[ -n "$NA_TUI" && -x "$NA_TUI" ]] || die "nix-analytics binary missing (NA_TUI=$NA_TUI)"
	command -v tmux >/dev/null || skip "tmux is not installed (scripts/deps.sh installs it)"
}

# tui_start COLS ROWS [ARGS...]: nix-analytics in a new tmux server, on our socket directory.
tui_start() {
	local cols=$1 rows=$2
	shift 2
	rm -f "$T/tui.rc"
	# A server of its own per run: a server being shut down keeps its socket for a moment.
	TUI_RUNS=$((TUI_RUNS + 1))
	TMUX_SOCK="$TMUX_BASE-$TUI_RUNS"
	# The pane's command: the environment tmux would not pass on is given explicitly.
	local cmd sock=(-s "$SOCKDIR")
	# TUI_NO_SOCKET_DIR: no -s (with -H it would be every far host's socket directory).
	[[ -n ${TUI_NO_SOCKET_DIR:-} ]] && sock=()
	cmd=$(printf '%q ' env "LANG=${LANG:-C.UTF-8}" "ASAN_OPTIONS=${ASAN_OPTIONS:-}" \
		"UBSAN_OPTIONS=${UBSAN_OPTIONS:-}" "LSAN_OPTIONS=${LSAN_OPTIONS:-}" ${TUI_ENV[@]+"${TUI_ENV[@]}"} \
		"$NA_TUI" ${sock[@]+"${sock[@]}"} "$@")
	tmux_ -f /dev/null new-session -d -s "$TUI_SESSION" -x "$cols" -y "$rows" \
		"$cmd 2>>'$T/tui.err'; echo \$? >'$T/tui.rc'; sleep 600" || die "tmux new-session failed"
	tmux_ set-option -g remain-on-exit on >/dev/null 2>&1
	TMUX_PID=$(tmux_ display-message -p '#{pid}')
	track "$TMUX_PID"
	log "nix-analytics in tmux (server pid $TMUX_PID, ${cols}x$rows)"
}

# The screen as text, one line per row.
screen() { tmux_ capture-pane -p -t "$TUI_SESSION"; }

# keys KEY...: tmux key names (Enter, Escape, C-d, ...) or literal strings with -l.
keys() { tmux_ send-keys -t "$TUI_SESSION" "$@"; }
# type TEXT: literal characters.
type_text() { tmux_ send-keys -t "$TUI_SESSION" -l "$1"; }

screen_has() { screen | grep -Eq -- "$1"; }

# The screen with its attributes: tmux's SGR escapes before the characters they apply to.
screen_attrs() { tmux_ capture-pane -p -e -t "$TUI_SESSION"; }

# attrs_at ROW TEXT: the attributes in effect at the first character of TEXT on the first row
# matching the extended regex ROW, as "DIM FG BG" (DIM 1 or 0, FG and BG the SGR colour codes
# or "-" for the default), "none" when the row lacks TEXT; exit 2 without such a row. (tmux's
# capture gives only changes, also from one line to the next: they are carried over.)
attrs_at() {
	screen_attrs | perl -e '
		my ($row, $text) = @ARGV;
		my ($dim, $fg, $bg) = (0, "-", "-");
		while (my $line = <STDIN>) {
			my ($plain, @at) = ("");
			while ($line =~ /\G(?:\e\[([0-9;]*)m|(.))/gs) {
				if (defined $1) {
					my @p = split /;/, $1 eq "" ? "0" : $1;
					while (defined(my $p = shift @p)) {
						if ($p eq "38" || $p eq "48") { splice @p, 0, ($p[0] // "") eq "5" ? 2 : 4; next }
						($dim, $fg, $bg) = (0, "-", "-") if $p eq "0";
						$dim = 1 if $p eq "2";
						$dim = 0 if $p eq "22";
						$fg = $p if $p =~ /^(3[0-7]|9[0-7])$/;
						$fg = "-" if $p eq "39";
						$bg = $p if $p =~ /^(4[0-7]|10[0-7])$/;
						$bg = "-" if $p eq "49";
					}
				} else {
					$plain .= $2;
					push @at, "$dim $fg $bg";
				}
			}
			next unless $plain =~ /$row/;
			my $i = index($plain, $text);
			print $i >= 0 ? $at[$i] : "none", "\n";
			exit 0;
		}
		exit 2;' "$1" "$2"
}

# row_dim ROW TEXT: whether TEXT, on the first row matching ROW, is drawn dim (SGR 2 in
# effect at its first character; 0 and 22 end it); 2 without such a row.
row_dim() {
	local a
	a=$(attrs_at "$1" "$2") || return 2
	[[ $a == "1 "* ]]
}

# row_of ROW: the first row matching the extended regex ROW, as text.
row_of() { screen | grep -E -m1 -- "$1"; }

# wait_screen PATTERN TIMEOUT [DESCRIPTION]: poll the screen until an extended regex matches
# a line; on timeout, count a failure and print the screen.
wait_screen() {
	local pat=$1 timeout=$2 desc=${3:-screen shows /$1/}
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if wait_for "$timeout" "$desc" screen_has "$pat"; then
		pass "$desc"
		return 0
	fi
	printf '    screen:\n' >&2
	screen | sed 's/^/    | /' >&2
	return 1
}

# wait_screen_gone PATTERN TIMEOUT [DESCRIPTION]
wait_screen_gone() {
	local pat=$1 timeout=$2 desc=${3:-screen no longer shows /$1/}
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if wait_for "$timeout" "$desc" bash -c "! tmux -L '$TMUX_SOCK' capture-pane -p -t '$TUI_SESSION' | grep -Eq -- \"\$1\"" _ "$pat"; then
		pass "$desc"
		return 0
	fi
	screen | sed 's/^/    | /' >&2
	return 1
}

# The status line (the last row).
status_line() { screen | tail -n 1; }

# tui_quit: q, then the TUI must exit 0 with nothing from the sanitizers on stderr.
tui_quit() {
	keys q
	wait_for 15 "nix-analytics exits after q" test -s "$T/tui.rc"
	assert_eq "nix-analytics exits 0" 0 "$(cat "$T/tui.rc" 2>/dev/null)"
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$T/tui.err" 2>/dev/null; then
		fail "sanitizer report from nix-analytics" "$(grep -m 20 -E 'ERROR:|runtime error:|SUMMARY:|#[0-9]' "$T/tui.err")"
	else
		pass "no sanitizer report from nix-analytics"
	fi
	tmux_ kill-server 2>/dev/null
}

# The TUI ends on its terminal's hangup. An ASan build's LeakSanitizer can hang in its exit
# check and spin there: one left behind took a core for half an hour after a passing test, so
# what is still running 3 s after the hangup is killed.
tui_cleanup() {
	tmux_ kill-server 2>/dev/null
	local i pattern="$NA_TUI -s $SOCKDIR"
	for ((i = 0; i < 30; i++)); do
		pgrep -f -- "$pattern" >/dev/null || return 0
		sleep 0.1
	done
	pkill -9 -f -- "$pattern"
	return 0
}

# tui_filtered_detail NAME: the builds view filtered to NAME, the details of its last row. Its
# invocation may have ended and folded itself (where tui_detail's search does not reach): z o
# opens it, then the last row is the build.
tui_filtered_detail() {
	keys f
	wait_screen "filter builds" 5 "f opens the filter prompt" >/dev/null
	keys C-u
	type_text "$1"
	keys Enter
	wait_screen "filter: $1" 5 "filtered to $1" >/dev/null
	keys g g z o G Enter
	wait_screen "details: $1" 5 "Enter shows its details"
}

# tui_lock_wait_detail NAME: the details of NAME's queued build, one of two rows the search
# finds (the other, running, holds the lock), say that it waits for a lock.
tui_lock_wait_detail() {
	tui_detail "$1"
	wait_screen "^state +(queued|running)" 5 "the details show the build's state" >/dev/null
	if ! screen_has "^state +queued"; then
		keys Escape n Enter
		wait_screen "^state +queued" 5 "n and Enter: the details of the queued $1" >/dev/null
	fi
	wait_screen "waiting for a lock: another process builds or fetches its output" 5 \
		"the detail panel of the waiting build says it waits for a lock"
}

# tui_detail NAME: the builds view's search puts the cursor on NAME, Enter shows its details.
tui_detail() {
	keys Escape Escape /
	wait_screen "search builds: /" 5 "/ opens the search prompt" >/dev/null
	type_text "$1"
	keys Enter
	wait_screen "/$1: ([0-9]+ matching rows|match [0-9]+ of [0-9]+)" 10 "the search finds $1" >/dev/null
	keys Enter
	wait_screen "details: $1" 5 "Enter shows the details of $1" >/dev/null
}
