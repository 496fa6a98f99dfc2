#!/usr/bin/env bash
# History that lasts: three real Nix runs of a 5-derivation graph whose builders sleep known
# times (hist-a 1 s, hist-b 2 s after hist-a, hist-c fails after 1 s, hist-d 1 s beside them,
# hist-top after a and b),
# piped through `nix-analytics-ctl ingest`. After run 1 the history database holds exactly
# those builds with their states and durations; after a daemon restart it still does, with
# no duplicates; runs 2 and 3 show ETAs computed from the earlier runs' durations (the
# median of 1 and of 2 samples, checked against the durations history reports).
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
start_daemon

GRAPH="$E2E_DIR/nix/history.nix"

# run N: one nix-build of the graph with a fresh nonce, watched; sets DRVS (sorted drv list).
run_graph() {
	local n=$1 nonce="$NONCE-$1"
	DRVS=$(drvs_of "$GRAPH" --argstr nonce "$nonce")
	ctl watch --json >"$T/watch$n.jsonl" 2>/dev/null &
	local watch=$!
	track "$watch"
	wait_for 10 "watch $n is connected" watch_connected
	nix-build "$GRAPH" --argstr nonce "$nonce" --no-out-link --log-format internal-json -v -k -j2 2>&1 |
		ctl ingest >/dev/null 2>"$T/ingest$n.err"
	wait_for 20 "run $n: 5 rows written" written_at_least $((n * 5))
	stop_pid "$watch"
}
watch_connected() { ctl status 2>/dev/null | jq -e '.control.clients >= 2' >/dev/null; }
written_at_least() { ctl status 2>/dev/null | jq -e ".history.rows >= $1 and .history.queued == 0" >/dev/null; }

# ---- run 1: exactly those builds, states and durations ----
run_graph 1
RUN1=$DRVS
ctl_ok H get-history --count
assert_eq "history holds exactly run 1's derivations" "$RUN1" "$(jq -r '.builds[].drv' <<<"$H" | sort)"
assert_eq "history total is 5 (--count)" 5 "$(jq .total <<<"$H")"
ctl_ok H0 get-history
assert_eq "without --count: the same rows, total null (no count per page)" "null $RUN1" \
	"$(jq .total <<<"$H0") $(jq -r '.builds[].drv' <<<"$H0" | sort)"
state_of() { jq -r --arg n "$2" '[.builds[] | select(.name == $n)][0].state' <<<"$1"; }
dur_of() { jq -r --arg n "$2" '[.builds[] | select(.name == $n)][0].duration' <<<"$1"; }
assert_eq "hist-a succeeded" succeeded "$(state_of "$H" hist-a)"
assert_eq "hist-b succeeded" succeeded "$(state_of "$H" hist-b)"
assert_eq "hist-top succeeded" succeeded "$(state_of "$H" hist-top)"
assert_eq "hist-c failed" failed "$(state_of "$H" hist-c)"
assert_json "hist-c: exit code 3 stored with its log tail" "$H" \
	'[.builds[] | select(.name == "hist-c")][0] | .failure.kind == "exit-code" and .failure.exit_code == 3 and (.log_tail | index("c")) != null'
# Times are when the daemon received the events (Nix 2.8 sends none): a start read a little
# late from the pipe shortens a duration by that much, hence the 0.2 s of slack below.
assert_json "hist-a took about 1 s (sleep 1)" "$H" '[.builds[] | select(.name == "hist-a")][0].duration | . >= 0.8 and . < 3'
assert_json "hist-b took about 2 s (sleep 2)" "$H" '[.builds[] | select(.name == "hist-b")][0].duration | . >= 1.8 and . < 4'
assert_json "rows carry pname, machine, requester" "$H" \
	'all(.builds[]; .pname == .name and .machine == "" and .requester.uid == 0 and .kind == "build")'
assert_json "hist-b finished after hist-a (its dependency)" "$H" \
	'([.builds[] | select(.name == "hist-b")][0].started) >= ([.builds[] | select(.name == "hist-a")][0].finished)'
B1=$(dur_of "$H" hist-b)
A1=$(dur_of "$H" hist-a)
D1=$(dur_of "$H" hist-d)
T1=$(dur_of "$H" hist-top)

# filters, paging, ordering
ctl_ok F get-history --state failed
assert_eq "--state failed: hist-c only" hist-c "$(jq -r '[.builds[].name] | join(",")' <<<"$F")"
ctl_ok F get-history --name 'hist-[ab]' --order duration --asc
assert_eq "--name glob, --order duration --asc" "hist-a,hist-b" "$(jq -r '[.builds[].name] | join(",")' <<<"$F")"
ctl_ok F get-history --count --limit 1 --offset 2 --order name
assert_eq "paging: third by name descending" hist-c "$(jq -r '.builds[0].name' <<<"$F")"
assert_eq "paging: total counts every match" 5 "$(jq .total <<<"$F")"
ctl_ok F get-history --count --requester root --machine local --since 1h
assert_eq "--requester root --machine local --since 1h: all 5" 5 "$(jq .total <<<"$F")"
ctl_ok F get-history --count --until 1h
assert_eq "--until 1h: none" 0 "$(jq .total <<<"$F")"
ctl_ok S stats
assert_json "stats: totals 5 builds, 4 succeeded, 1 failed" "$S" \
	'.totals.builds == 5 and .totals.succeeded == 4 and .totals.failed == 1'
assert_json "stats: hist-b is the slowest" "$S" '.slowest[0].pname == "hist-b"'
assert_json "stats: hist-c is the most failing" "$S" '.failing[0].pname == "hist-c" and .failing[0].failures == 1'
assert_json "stats: root is the busiest requester, one day" "$S" \
	'.requesters[0].user == "root" and .requesters[0].builds == 5 and (.by_day | length) == 1 and .by_day[0].builds == 5'

# ---- a restart keeps history, without duplicates ----
stop_daemon
start_daemon
ctl_ok H get-history
assert_eq "after a restart: the same 5 rows" "$RUN1" "$(jq -r '.builds[].drv' <<<"$H" | sort)"
assert_json "after a restart: status shows the stored rows" "$(ctl status)" '.history.state == "ok" and .history.rows == 5'
# SIGKILL: what was committed stays, nothing is written twice.
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon
ctl_ok H get-history
assert_eq "after SIGKILL and a restart: the same 5 rows" "$RUN1" "$(jq -r '.builds[].drv' <<<"$H" | sort)"


# eta_of N NAME: the ETA object a watch of run N saw for NAME when it started.
eta_of() {
	jq -c --arg n "$2" 'select(.event == "build" and .build.name == $n and .build.eta != null) | .build.eta' \
		"$T/watch$1.jsonl" | head -n 1
}

# ---- run 2: ETAs from run 1 (one sample: that duration) ----
run_graph 2
E=$(eta_of 2 hist-b)
assert_json "run 2: hist-b's ETA is run 1's duration ($B1 s), one sample, same machine" "${E:-null}" \
	"(.expected - $B1 | fabs) < 0.000001 and .samples == 1 and .confidence == \"low\" and .basis == \"same-machine\""
E=$(eta_of 2 hist-a)
assert_json "run 2: hist-a's ETA is run 1's duration ($A1 s)" "${E:-null}" "(.expected - $A1 | fabs) < 0.000001"
assert_eq "run 2: no ETA for hist-c (it never succeeded)" "" "$(eta_of 2 hist-c)"
# The invocation's ETA, as soon as its graph is known (5 builds left): at least the longest
# chain hist-a -> hist-b -> hist-top, and at least all the work (hist-d too) spread over as
# many builds at once as Nix has run for it so far (-j2 here, seen once two ran); hist-c has
# no successful history.
E=$(jq -c 'select(.event == "invocation" and .invocation.eta != null and .invocation.eta.left == 5) | .invocation.eta' \
	"$T/watch2.jsonl" | head -n 1)
assert_json "run 2: the invocation's critical path is a+b+top ($A1+$B1+$T1), its work all of them (+ $D1)" "${E:-null}" \
	"(.critical_path - ($A1 + $B1 + $T1) | fabs) < 0.01 and (.work - ($A1 + $B1 + $T1 + $D1) | fabs) < 0.01 and .unknown == 1 and .confidence == \"low\""
assert_json "run 2: its ETA is the larger of the chain and the work over its slots" "${E:-null}" \
	"(.remaining - ([.critical_path, .work / .slots] | max) | fabs) < 0.01 and .slots >= 1 and .slots <= 2"
ctl_ok H get-history --name hist-b
B2=$(jq -r '.builds[0].duration' <<<"$H")

# ---- run 3: the median of two samples is their mean ----
run_graph 3
E=$(eta_of 3 hist-b)
assert_json "run 3: hist-b's ETA is the median of $B1 and $B2" "${E:-null}" \
	"(.expected - (($B1 + $B2) / 2) | fabs) < 0.000001 and .samples == 2"
ctl_ok H get-history --count
assert_eq "15 rows after three runs" 15 "$(jq .total <<<"$H")"
assert_eq "no drv recorded twice" 15 "$(jq -r '.builds[].drv' <<<"$H" | sort -u | wc -l)"

# ---- a substitution is a row too ----
ONE="$E2E_DIR/nix/history-one.nix"
OUT=$(nix-build "$ONE" --argstr nonce "$NONCE-subst" --argstr name hist-subst --no-out-link 2>"$T/subst.err") ||
	die "building hist-subst failed: $(cat "$T/subst.err")"
nix --extra-experimental-features nix-command copy --to "file://$T/cache" "$OUT" 2>>"$T/subst.err" ||
	die "nix copy failed: $(cat "$T/subst.err")"
nix-store --delete "$OUT" >/dev/null 2>>"$T/subst.err" || die "cannot delete $OUT: $(cat "$T/subst.err")"
nix-build "$ONE" --argstr nonce "$NONCE-subst" --argstr name hist-subst --no-out-link \
	--option substituters "file://$T/cache" --option require-sigs false --log-format internal-json -v 2>&1 |
	ctl ingest >/dev/null 2>>"$T/subst.err"
assert_true "the path was substituted, not built" test -e "$OUT"
subst_row() { ctl get-history --count --name hist-subst 2>/dev/null | jq -e '.total >= 1' >/dev/null; }
wait_for 10 "the substitution reaches history" subst_row
ctl_ok H get-history --count --name hist-subst
assert_json "history: one substitution row, from the file cache, succeeded" "$H" \
	".total == 1 and .builds[0].kind == \"substitution\" and .builds[0].drv == \"$OUT\" and .builds[0].state == \"succeeded\" and .builds[0].machine == \"file://$T/cache\" and .builds[0].duration >= 0"
ctl_ok S stats
assert_json "stats count builds only by default" "$S" '.totals.builds == 15'
ctl_ok S stats --kind substitution
assert_json "stats --kind substitution: the one substitution" "$S" '.totals.builds == 1 and .totals.succeeded == 1'
ctl_ok H get-history --count --kind build --name 'hist-subst'
assert_eq "get-history --kind build: no build of hist-subst was recorded" 0 "$(jq .total <<<"$H")"

# ---- what a build cost reaches its row (sampled by the daemon while it ran) ----
nix-build "$E2E_DIR/nix/history-cpu.nix" --argstr nonce "$NONCE-cpu" --no-out-link --log-format internal-json -v 2>&1 |
	ctl ingest >/dev/null 2>>"$T/cpu.err"
cpu_row() { ctl get-history --count --name hist-cpu 2>/dev/null | jq -e '.total == 1' >/dev/null; }
wait_for 10 "hist-cpu reaches history" cpu_row
ctl_ok H get-history --name hist-cpu
assert_json "hist-cpu's row carries its CPU time (a builder doing ~3 s of CPU work: over 1 s of CPU)" "$H" \
	'.builds[0].usage != null and (.builds[0].usage.cpu_user + .builds[0].usage.cpu_system) > 1'

# ---- retention: by age and by row count, applied when the daemon opens the database ----
stop_daemon
ROWS=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM builds').fetchone()[0])" "$T/history.db")
python3 - "$T/history.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("INSERT INTO builds (drv, name, pname, state, queued, finished) VALUES"
          " ('/nix/store/00000000000000000000000000000000-ancient.drv', 'ancient', 'ancient', 'succeeded',"
          " 1500000000000000, 1500000001000000)")
c.commit()
PY
NEWEST=$(python3 -c "import sqlite3,sys; print('\n'.join(r[0] for r in sqlite3.connect(sys.argv[1]).execute('SELECT name FROM builds ORDER BY finished DESC, id DESC LIMIT 5')))" "$T/history.db")
start_daemon --history-max-age 30 --history-max-rows 5
pruned() { ctl status 2>/dev/null | jq -e '.history.rows == 5' >/dev/null; }
wait_for 20 "retention leaves 5 rows" pruned
assert_json "status: the rows deleted by retention are counted" "$(ctl status)" ".history.pruned == $((ROWS + 1 - 5))"
ctl_ok H get-history
assert_eq "the 5 newest rows are kept (the 2017 one went by age, the rest by count)" "$NEWEST" \
	"$(jq -r '.builds[].name' <<<"$H")"
