#!/usr/bin/env bash
# The screenshots of docs/tui.md ("Screenshots") are what the TUI shows now: the main views
# captured from tmux at 100x30 against the real daemon and real Nix builds, compared with the
# docs' copies once the volatile parts (times, durations, figures, hashes, pids, sizes, the
# scratch paths, which of the three alike slow builds comes first) are placeholders and runs of
# spaces one space.
# TUI_SHOTS_UPDATE=1 writes the new captures into docs/tui.md instead of comparing:
#   TUI_SHOTS_UPDATE=1 meson test -C build/gcc tui-shots
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
nix_setup
[[ $(id -u) == 0 ]] || skip "building with nixbld users needs root"
source "$E2E_DIR/lib-proc.sh"
trap 'rc=$?; tui_cleanup; proc_cleanup; (exit $rc); e2e_cleanup' EXIT

DOC=$(realpath "$E2E_DIR/../../docs/tui.md")
# A nonce of one length every run, and the Nix files by a relative name: the command lines
# on screen are cut at the same place whatever the checkout's path.
NONCE="shots-$(date +%s%N)"
cd "$E2E_DIR/nix" || die "no $E2E_DIR/nix"

# normalise: a capture (or the docs' copy) with its volatile parts as placeholders.
normalise() {
	perl -pe '
		BEGIN { ($tmp, $nonce) = @ARGV; @ARGV = () }
		s/\Q$nonce\E/NONCE/g;
		s/\Q$tmp\E/TMP/g if length $tmp;
		s{/nix/store/[0-9a-z]{32}-}{/nix/store/HASH-}g;
		# The three slow builds start together and their order follows their store paths
		# (the nonce changes them): any of them in any order.
		s/\btui-[abc]\b/tui-X/g;
		# Sparklines: as many blocks as samples so far, of any height.
		s/(?:\xe2\x96[\x81-\x88])+/GRAPH/g;
		s/\b\d\d-\d\d \d\d:\d\d\b/TIME/g;
		s/\b\d\d?:\d\d(:\d\d)?\b/TIME/g;
		s/[+~]?\b\d+[dhms](\d+[hms])?\b/DUR/g;
		s/\b\d+(\.\d+)?%/PCT/g;
		s/\b\d+(\.\d+)?[KMGTP]i?B?\b/SIZE/g;
		s/\d+(\.\d+)?/N/g;
		s/ +/ /g;
		s/ +$//;
	' "$T" "$NONCE"
}

# The screen once it holds still (after normalising) for a second: clocks tick, figures move.
capture_still() {
	local prev= cur i
	for i in $(seq 1 30); do
		cur=$(screen)
		[[ -n "$prev" && "$(normalise <<<"$cur")" == "$(normalise <<<"$prev")" ]] && break
		prev=$cur
		sleep 1
	done
	printf '%s\n' "$cur"
}

# The docs' copy of shot NAME: the fenced block after "<!-- tui-shot NAME -->".
doc_shot() {
	awk -v name="$1" '
		$0 == "<!-- tui-shot " name " -->" { want = 1; next }
		want && /^```/ { if (inside) exit; inside = 1; next }
		inside { print }' "$DOC"
}

UPDATED=0
# shot NAME DESCRIPTION [full]: captures the screen, once the status line shows its key hints
# again (a message stays 15 s, gone or not by the time of a capture), and compares it with the
# docs' copy (or writes it). full: a page over the whole screen, without a status line.
shot() {
	local name=$1 desc=$2 got
	[[ ${3:-} == full ]] || wait_screen "^\? help +q quit" 30 "the status line is back to its key hints" >/dev/null
	got=$(capture_still)
	printf '%s\n' "$got" >"$T/shot-$name.txt"
	if [[ -n ${TUI_SHOTS_UPDATE:-} ]]; then
		SHOT="$T/shot-$name.txt" perl -0pi -e '
			my $name = "'"$name"'";
			open my $f, "<", $ENV{SHOT} or die; local $/; my $new = <$f>;
			s/(<!-- tui-shot \Q$name\E -->\n```\n).*?(```)/$1$new$2/s or die "no shot $name in the docs\n";
		' "$DOC" || die "could not write shot $name into $DOC"
		UPDATED=$((UPDATED + 1))
		log "shot $name written into $DOC"
		return
	fi
	local want
	want=$(doc_shot "$name")
	[[ -n "$want" ]] || { fail "docs/tui.md has the $desc screenshot" "no block after <!-- tui-shot $name -->"; return; }
	E2E_CHECKS=$((E2E_CHECKS + 1))
	if [[ "$(normalise <<<"$got")" == "$(normalise <<<"$want")" ]]; then
		pass "docs/tui.md's $desc screenshot is what the TUI shows"
	else
		fail "docs/tui.md's $desc screenshot is what the TUI shows (TUI_SHOTS_UPDATE=1 rewrites it)" \
			"$(diff <(normalise <<<"$want") <(normalise <<<"$got") | head -n 40)"
	fi
}

# The TUI under a host name of its own (a UTS namespace): the header, cut at 100 columns, is
# cut at the same place on every machine.
unshare --uts true 2>/dev/null || die "unshare --uts fails here (the shots need a fixed host name)"
printf '#!/bin/sh\nexec unshare --uts sh -c '\''echo shots >/proc/sys/kernel/hostname && exec "$@"'\'' sh %q "$@"\n' \
	"$NA_TUI" >"$T/tui-shots"
chmod +x "$T/tui-shots"
NA_TUI="$T/tui-shots"
# Sampled often enough that tui-quick's second has its figures.
start_daemon --cgroup-root "$CGROOT" --sample-interval 0.2
# One invocation that failed (exit 3), then one with three slow builds, one waiting for two
# of them and one that succeeded quickly.
nix-build tui.nix -A fail -k --no-out-link --log-format internal-json -v --argstr nonce "$NONCE" 2>&1 |
	tee "$T/events-fail.raw" | ctl ingest >"$T/ingest-fail.out" 2>&1
failed() { [[ "$(field tui-fail .state)" == failed ]]; }
if ! wait_for 60 "tui-fail failed" failed; then
	grep -v '^@nix' "$T/events-fail.raw" | tail -n 20 >&2
	ctl list-builds >&2
	die "tui-fail did not fail"
fi
nix_bg tui.nix -A a -A top -A quick --arg seconds 400 -k -j4 --argstr nonce "$NONCE"
running() { [[ "$(field "$1" .state)" == running ]]; }
sampled() { [[ "$(field "$1" '.usage.procs // 0')" -ge 1 ]]; }
all_run() { running tui-a && running tui-b && running tui-c && sampled tui-a && sampled tui-b && sampled tui-c; }
wait_for 90 "the slow builds run, sampled" all_run || die "builds never ran"
wait_for 60 "tui-quick succeeded" bash -c "[[ \$('$NA_CTL' -s '$SOCKDIR' get-build tui-quick | jq -r .build.state) == succeeded ]]"
# Enough log lines for the panel to be full.
wait_for 30 "tui-a logged 30 lines" grep -q "tui-a line 30" "$T/events.raw"

tui_start 100 30
wait_screen "tui-quick .* succeeded" 20 "builds listed"
wait_screen "tui-c .*%" 10 "with their CPU figures"
wait_screen "#[0-9]+ root .*ended" 10 "and the failed invocation, folded"
shot builds "build list"

# The cursor to tui-a by a search, which Esc then clears (the status line's messages go after
# a few seconds: the shots wait for the screen to hold still).
keys /
type_text tui-a
keys Enter
wait_screen "/tui-a: match 1 of 1 in builds" 5 "/tui-a finds tui-a"
keys Escape Enter
wait_screen "^details: tui-a" 5 "Enter: the details of tui-a"
shot detail "detail view"
keys Escape

keys l
wait_screen "^log: tui-a" 10 "l: the log panel follows tui-a"
wait_screen "tui-a line [0-9]+" 10 "with its lines"
shot log "log panel"
keys l

keys h
wait_screen "succeeded .* tui-quick" 15 "h: the history"
shot history "history view"
keys h

keys d
wait_screen "building +tui-b" 10 "d: the dependency tree"
shot deps "dependency tree"
keys d

keys '?'
wait_screen "^nix-analytics help" 5 "?: the help"
shot help "help page" full
keys q
wait_screen "^NAME" 5 "the help closes"
tui_quit

if [[ -n ${TUI_SHOTS_UPDATE:-} ]]; then
	assert_eq "every shot written into docs/tui.md" 6 "$UPDATED"
fi
