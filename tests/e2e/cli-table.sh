#!/usr/bin/env bash
# nix-analytics-ctl for people and for scripts, on the same data: on a terminal (a pty from
# script(1), sized with stty) the query verbs print tables with the TUI's columns and units;
# through a pipe the same verbs print the JSON scripts parse; --json and --table swap them;
# NO_COLOR, --color=never and --color=always decide the escapes; names are cut to the
# terminal's width without breaking alignment; empty lists say so in words. Real Nix builds
# (one fails with exit 3, one succeeds, one runs on) through ingest, the real daemon.
source "$(dirname "$0")/lib.sh"

check_binaries
command -v script >/dev/null || die "script(1) is missing (util-linux)"
nix_setup
start_daemon

# on_tty COLS CMD...: runs nix-analytics-ctl on a pty COLS wide (TERM=$TTY_TERM, else xterm),
# prints what it wrote (no \r).
on_tty() {
	local cols=$1 q
	shift
	printf -v q '%q ' "$NA_CTL" -s "$SOCKDIR" "$@"
	TERM=${TTY_TERM:-xterm} script -qec "stty cols $cols rows 50; $q" /dev/null </dev/null 2>&1 | tr -d '\r'
}
# widest LINES: the widest line in terminal cells.
widest() { python3 -c 'import sys, unicodedata
w = lambda s: sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
print(max((w(l) for l in sys.stdin.read().split("\n")), default=0))'; }
# aligned < TABLE: "aligned" when every row's cell starts under its title (left-aligned
# columns) or ends under its title's end (figures), else the first row that does not.
aligned() { python3 -c 'import sys
lines = [l for l in sys.stdin.read().split("\n") if l]
head, rows = lines[0], lines[1:]
right = {"KEY", "PROG", "ELAPSED", "ETA", "CPU%", "MEM", "PEAK"}
for t in head.split():
    i = head.index(t)
    for r in rows:
        if t in right:
            e = i + len(t)
            ok = r[e - 1] != " " and (len(r) == e or r[e] == " ")
        else:
            ok = r[i] != " " and r[i - 1] == " " if i > 0 else r[0] != " "
        if not ok:
            print("column %s not aligned in: %r" % (t, r)); sys.exit()
print("aligned")'; }

SUFFIX=$(printf '%s' "$NONCE" | sha256sum | cut -c1-6)
LONG="a-derivation-with-a-name-far-too-long-for-an-eighty-column-terminal-$SUFFIX-1.0"
cat >"$T/t.nix" <<NIX
{ nonce, what }: let mk = name: script: derivation {
  inherit name nonce; system = builtins.currentSystem; builder = "/bin/sh"; PATH = "/usr/bin:/bin";
  args = [ "-c" script ]; };
in {
  fail = mk "tbl-fail-x$SUFFIX" "echo going to fail; exit 3";
  ok = mk "tbl-ok-$SUFFIX-2.1" "echo fine; echo done > \$out";
  long = mk "$LONG" "echo running; sleep 120; echo x > \$out";
}.\${what}
NIX
nix_build() {
	nix-build "$T/t.nix" --argstr nonce "$NONCE" --argstr what "$1" --no-out-link \
		--log-format internal-json -v 2>&1 | ctl ingest --quiet >/dev/null
}
nix_build fail
nix_build ok
nix_build long &
LONG_PID=$!
track "$LONG_PID"
running() { [[ $(ctl list-builds --state running | jq '.builds | length') == 1 ]]; }
wait_for 60 "the long build runs" running || die "the long build never ran"
sampled() { ctl list-builds --state running | jq -e '.builds[0].usage.mem_current > 0' >/dev/null; }
wait_for 10 "the daemon sampled it" sampled

# --- list-builds: the table on a terminal, JSON through a pipe, the same builds ---
JSON=$(ctl list-builds)
assert_true "through a pipe list-builds prints JSON, as before tables" jq -e '.builds | length == 3' <<<"$JSON"
TABLE=$(on_tty 200 list-builds --color=never)
printf '%s\n' "$TABLE" >"$T/list-builds.txt"
HEADER=$(head -n 1 <<<"$TABLE")
# The TUI's columns (and the key), but for those no build has a value in: PHASE where this Nix
# reports no phases, ETA without history, MACHINE with every build local.
WANT="KEY NAME STATE"
jq -e 'any(.builds[]; .phase != null)' <<<"$JSON" >/dev/null && WANT+=" PHASE"
WANT+=" PROG USER ELAPSED"
jq -e 'any(.builds[]; .state == "running" and .eta != null)' <<<"$JSON" >/dev/null && WANT+=" ETA"
WANT+=" CPU% MEM PEAK"
assert_eq "the table's columns are the TUI's with something in them" "$WANT" "$(echo $HEADER)"
assert_eq "one row per build, under the title" 4 "$(wc -l <<<"$TABLE")"
for key in $(jq -r '.builds[].key' <<<"$JSON"); do
	name=$(jq -r --argjson k "$key" '.builds[] | select(.key == $k) | .name' <<<"$JSON")
	# A failed build's STATE says why, as the TUI's does (exit 3).
	state=$(jq -r --argjson k "$key" '.builds[] | select(.key == $k) |
		if .state == "failed" and .failure.kind == "exit-code" then "exit \(.failure.exit_code)" else .state end' <<<"$JSON")
	assert_match "build $key: the row has its key, name and state as the JSON says" \
		"^ *$key +$name +$state " "$(grep -E "^ *$key " <<<"$TABLE")"
done
FAIL_ROW=$(grep "tbl-fail-x$SUFFIX" <<<"$TABLE")
RUN_ROW=$(grep "$LONG" <<<"$TABLE")
assert_match "the failed build reads why it failed (exit 3), ran about no time ('0s', the TUI's unit)" ' exit 3 +.* [0-9]s( |$)' "$FAIL_ROW"
assert_match "the running build: running, its phase unknown, elapsed in seconds, CPU% and MEM" \
	' running +(- +)?- +root +[0-9]+s +[0-9.]+% +[0-9.]+[KMG] +[0-9.]+[KMG]$' "$RUN_ROW"
assert_match "the succeeded build reads 100% done" ' succeeded +(- +)?100% ' "$(grep "tbl-ok-$SUFFIX" <<<"$TABLE")"
assert_eq "columns line up: left ones start, figures end, under their titles" "aligned" "$(aligned <<<"$TABLE")"

# Narrow: the name is cut with "…" so rows fit 80 columns, the columns stay aligned.
NARROW=$(on_tty 80 list-builds --color=never)
printf '%s\n' "$NARROW" >"$T/list-builds-80.txt"
assert_le "at 80 columns no line is wider than 80 cells" 80 "$(widest <<<"$NARROW")"
assert_contains "at 80 columns the long name is cut with …" "a-derivation-with-a-name" "$NARROW"
assert_true "…and ends in …" grep -q '…' <<<"$NARROW"
assert_eq "at 80 columns the columns still line up" "aligned" "$(aligned <<<"$NARROW")"
NARROWER=$(COLUMNS=60 ctl --table list-builds)
assert_le "--table through a pipe fits \$COLUMNS (60)" 60 "$(widest <<<"$NARROWER")"

# --- --json on a terminal, --table through a pipe ---
assert_true "--json on a terminal prints the JSON" jq -e '.builds | length == 3' <<<"$(on_tty 200 list-builds --json)"
assert_true "--json before the verb too" jq -e '.builds | length == 3' <<<"$(on_tty 200 --json list-builds)"
PIPED=$(ctl list-builds --table)
assert_match "--table through a pipe prints the table" '^KEY +NAME +STATE' "$(head -n 1 <<<"$PIPED")"
assert_eq "--table through a pipe has no colour by default" 0 "$(grep -c $'\033' <<<"$PIPED")"

# --- colour: on a terminal by default, NO_COLOR and --color=never turn it off ---
COLORED=$(on_tty 200 list-builds)
assert_contains "on a terminal the failed row is red (bold red, as in the TUI)" $'\033[1;31m' "$(grep "tbl-fail-x$SUFFIX" <<<"$COLORED")"
assert_contains "on a terminal the running row is bold green" $'\033[1;32m' "$(grep "$LONG" <<<"$COLORED")"
NOCOLOR=$(NO_COLOR=1 on_tty 200 list-builds)
assert_eq "NO_COLOR: no escape codes" 0 "$(grep -c $'\033' <<<"$NOCOLOR")"
# (but for the running build's figures, which move)
assert_eq "NO_COLOR: the same table otherwise" "$(grep -v "$LONG" <<<"$TABLE")" "$(grep -v "$LONG" <<<"$NOCOLOR")"
assert_eq "TERM=dumb: no escape codes" 0 "$(grep -c $'\033' <<<"$(TTY_TERM=dumb on_tty 200 list-builds)")"
assert_eq "--color=never: no escape codes" 0 "$(grep -c $'\033' <<<"$(on_tty 200 list-builds --color=never)")"
assert_contains "--color=always through a pipe: escape codes" $'\033[1;31m' "$(ctl list-builds --table --color=always)"
assert_contains "--color=always beats NO_COLOR" $'\033[' "$(NO_COLOR=1 on_tty 200 list-builds --color=always)"
OUT=$("$NA_CTL" -s "$SOCKDIR" list-builds --color=sometimes 2>&1)
assert_contains "--color=sometimes is a usage error" "expected auto, always or never" "$OUT"

# --- empty lists say so in words ---
assert_eq "no killed builds: said in words" "no builds killed" "$(on_tty 200 list-builds --state killed)"
assert_eq "no matching name: said in words" "no builds match" "$(on_tty 200 list-builds --name 'nothing-*')"
assert_eq "through a pipe an empty list stays JSON" '{"builds":[]}' "$(ctl list-builds --state killed)"
assert_eq "no remote machines: said in words" "no remote machines (the builders setting is empty)" \
	"$(on_tty 200 list-machines)"

# --- the other verbs ---
wait_hist() { [[ $(ctl get-history | jq '.builds | length') -ge 2 ]]; }
wait_for 10 "history has the two ended builds" wait_hist
HIST=$(on_tty 200 get-history --color=never)
assert_match "get-history: the TUI's history columns" '^FINISHED +STATE +TIME +(CPU +)?(MEMPEAK +)?USER +NAME$' "$(head -n 1 <<<"$HIST")"
assert_match "get-history: the failed build, why (exit 3), with its time in seconds" \
	'^[0-9]{2}:[0-9]{2}:[0-9]{2} +exit 3 +[0-9]+s .* tbl-fail-' "$(grep "tbl-fail-x$SUFFIX" <<<"$HIST")"
assert_true "get-history through a pipe: JSON" jq -e '.builds | length == 2' <<<"$(ctl get-history)"
assert_eq "get-history --count: how many of how many" "2 of 2" "$(on_tty 200 get-history --count | tail -n 1)"
assert_eq "get-history --state killed: said in words" "no finished builds match" "$(on_tty 200 get-history --state killed)"

counted() { ctl status | jq -e '.recent.counts.failed == 1 and .recent.counts.succeeded == 1' >/dev/null; }
wait_for 10 "the daemon counted the last hour's outcomes" counted
STATUS=$(on_tty 200 status --color=never)
assert_match "status: builds by state, in words" '^builds +1 running, 0 queued, 0 frozen, 1 succeeded, 1 failed' \
	"$(grep '^builds' <<<"$STATUS")"
assert_match "status: the daemon's pid and uptime in the TUI's units" "^daemon +nix-analyticsd .*pid $DAEMON_PID, up [0-9]+(s|m[0-9]{2}s)" \
	"$(grep '^daemon' <<<"$STATUS")"
assert_match "status: the last hour's outcomes as the TUI's header says them" 'last hour: 1 ok 1 failed' "$STATUS"
assert_true "status through a pipe: JSON" jq -e '.builds.running == 1' <<<"$(ctl status)"

INV=$(on_tty 200 list-invocations --color=never)
assert_match "list-invocations: columns" '^ID +STATE +DONE +RUN +FAILED +STARTED +ELAPSED +USER +COMMAND$' "$(head -n 1 <<<"$INV")"
assert_match "list-invocations: the failed one counts its failure" ' done +1/1 +0 +1 ' "$(grep -- '--argstr what fail' <<<"$INV")"
assert_match "list-invocations: the running one" ' running +0/1 +1 +0 ' "$(grep -- '--argstr what long' <<<"$INV")"

STATS=$(on_tty 200 stats --color=never)
assert_match "stats: totals in words" '^2 builds since .*: 1 succeeded, 1 failed' "$(head -n 1 <<<"$STATS")"
# (its package name is its whole name: no dash before a digit in it)
assert_match "stats: the failing package" "^tbl-fail-x$SUFFIX +1 +1 " "$(grep "^tbl-fail-x$SUFFIX " <<<"$STATS")"

PS=$(on_tty 200 ps --color=never "$LONG")
assert_match "ps: the TUI's units (CPU%, RSS)" '^ +PID +PPID +USER +S +NI +CPU% +RSS +TIME +COMMAND$' "$(sed -n 2p <<<"$PS")"
assert_match "ps: the builder's sleep, indented under its shell" '^ *[0-9]+ .* [0-9.]+[KMG] +[0-9]+s +  sleep 120$' "$(grep 'sleep 120$' <<<"$PS")"
assert_true "ps --json: JSON" jq -e '.processes | length >= 2' <<<"$(ctl ps --json "$LONG")"

# --- the completion verb: names, keys and drvs of the running daemon; silent without one ---
assert_eq "complete builds: every name once, sorted" "$(jq -r '.builds[].name' <<<"$JSON" | LC_ALL=C sort -u)" "$(ctl complete builds)"
assert_eq "complete keys" "$(jq -r '.builds[].key' <<<"$JSON")" "$(ctl complete keys)"
assert_eq "complete --active drvs: the running build's drv" "$(jq -r '.builds[] | select(.state == "running") | .drv' <<<"$JSON")" \
	"$(ctl complete --active drvs)"
OUT=$("$NA_CTL" -s "$T/nowhere" --timeout 1 complete builds 2>&1)
assert_eq "complete without a daemon: exit 0" 0 "$?"
assert_eq "complete without a daemon: prints nothing, not even on stderr" "" "$OUT"

ctl kill "$LONG" >/dev/null 2>&1
wait "$LONG_PID" 2>/dev/null || true # nix-build fails: its build was killed
stop_daemon
