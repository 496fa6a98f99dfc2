#!/usr/bin/env bash
# nix-analytics-ctl's contract at its edges: exit codes (0 ok, 1 daemon error, 2 usage,
# 3 unreachable, 4 protocol error), messages that say what failed on what, --help everywhere.
source "$(dirname "$0")/lib.sh"

check_binaries
PEER=(python3 "$E2E_DIR/badpeer.py")
SUBCOMMANDS=(status list-builds get-build log get-history stats deps list-invocations snapshot watch ingest)

# run_ctl ARGS...: sets RC, OUT, ERR (never fails the script).
run_ctl() {
	OUT=$(timeout 20 "$NA_CTL" "$@" 2>"$T/err" </dev/null)
	RC=$?
	ERR=$(cat "$T/err")
}

# --- no daemon: exit 3, naming the socket ---
NODIR="$T/nodaemon"
mkdir -p "$NODIR"
for cmd in status list-builds snapshot "get-build 1"; do
	# shellcheck disable=SC2086
	run_ctl -s "$NODIR" $cmd
	assert_eq "no daemon: '$cmd' exits 3" 3 "$RC"
	assert_contains "no daemon: '$cmd' names the socket" "$NODIR/control.sock" "$ERR"
done
run_ctl -s "$T/does/not/exist" status
assert_eq "missing socket directory: exit 3" 3 "$RC"
assert_contains "missing socket directory: names the socket" "$T/does/not/exist/control.sock" "$ERR"

# A stale socket file (nobody listening) is unreachable too.
STALE="$T/stale"
mkdir -p "$STALE"
"${PEER[@]}" stale-socket "$STALE/control.sock"
run_ctl -s "$STALE" status
assert_eq "stale socket: exit 3" 3 "$RC"
assert_contains "stale socket: names the socket" "$STALE/control.sock" "$ERR"

# ingest with nowhere to send: Nix must never be held up by us, so ingest passes the plain
# output on, says once that events are not recorded, and exits 0 at the end of its input.
OUT=$(printf '@nix {"action":"msg","level":5,"msg":"x"}\nplain line\n' |
	timeout 20 "$NA_CTL" -s "$NODIR" ingest 2>"$T/err")
RC=$?
assert_eq "no daemon: ingest exits 0 at end of input (never breaks the build)" 0 "$RC"
assert_eq "no daemon: ingest passes plain lines through" "plain line" "$OUT"
assert_contains "no daemon: ingest names the event socket it cannot reach" "$NODIR/events.sock" "$(cat "$T/err")"

# --- a peer that speaks garbage: exit 4 ---
FAKE="$T/fake"
mkdir -p "$FAKE"
"${PEER[@]}" fake-server "$FAKE/control.sock" 'this is not json' &
FAKE_PID=$!
track "$FAKE_PID"
wait_for 10 "the fake control socket" test -S "$FAKE/control.sock"
run_ctl -s "$FAKE" status
assert_eq "garbage answer: status exits 4 (protocol error)" 4 "$RC"
run_ctl -s "$FAKE" list-builds
assert_eq "garbage answer: list-builds exits 4" 4 "$RC"
stop_pid "$FAKE_PID"
rm -f "$FAKE/control.sock"
"${PEER[@]}" fake-server "$FAKE/control.sock" '{"id":"not-mine","result":{}}' &
FAKE_PID=$!
track "$FAKE_PID"
wait_for 10 "the second fake control socket" test -S "$FAKE/control.sock"
run_ctl -s "$FAKE" status
assert_eq "answer with the wrong id: exit 4" 4 "$RC"
stop_pid "$FAKE_PID"

# --- usage errors: exit 2, no daemon needed ---
usage_case() {
	local desc=$1
	shift
	run_ctl "$@"
	assert_eq "usage: $desc exits 2" 2 "$RC"
	assert_ne "usage: $desc says something on stderr" "" "$ERR"
}
usage_case "no subcommand" -s "$NODIR"
usage_case "unknown subcommand" -s "$NODIR" frobnicate
usage_case "unknown option" -s "$NODIR" list-builds --bogus
usage_case "unknown global option" --no-such-option status
usage_case "-s without a value" -s
usage_case "get-build without a build" -s "$NODIR" get-build
usage_case "log without a build" -s "$NODIR" log
usage_case "log -n not a number" -s "$NODIR" log 1 -n many
usage_case "log -n negative" -s "$NODIR" log 1 -n -5
usage_case "list-builds --state without a value" -s "$NODIR" list-builds --state
usage_case "status with an extra argument" -s "$NODIR" status extra

# --- --help for everything: exit 0, text on stdout ---
run_ctl --help
assert_eq "--help exits 0" 0 "$RC"
assert_ne "--help prints usage" "" "$OUT"
for c in "${SUBCOMMANDS[@]}"; do
	assert_contains "--help lists $c" "$c" "$OUT"
done
for c in "${SUBCOMMANDS[@]}"; do
	run_ctl "$c" --help
	assert_eq "$c --help exits 0" 0 "$RC"
	assert_ne "$c --help prints usage" "" "$OUT"
	run_ctl -s "$NODIR" "$c" --help
	assert_eq "-s DIR $c --help exits 0 (no daemon needed)" 0 "$RC"
done

# --- with a daemon ---
start_daemon
run_ctl -s "$SOCKDIR" status
assert_eq "status exits 0" 0 "$RC"
assert_json "status: protocol 1, the daemon's pid and socket dir" "$OUT" \
	".protocol == 1 and .pid == $DAEMON_PID and .socket_dir == \"$SOCKDIR\" and (.version | type) == \"string\""
assert_json "status: counters start at zero" "$OUT" \
	'.events.total == 0 and .events.bad == 0 and .sources.connected == 0 and ([.builds[]] | add) == 0'
OUT=$(NIX_ANALYTICS_SOCKET_DIR="$SOCKDIR" timeout 20 "$NA_CTL" status 2>"$T/err")
assert_eq "NIX_ANALYTICS_SOCKET_DIR selects the daemon" "$DAEMON_PID" "$(printf '%s' "$OUT" | jq -r .pid 2>/dev/null)"

for c in list-builds get-history stats list-invocations snapshot; do
	run_ctl -s "$SOCKDIR" "$c"
	assert_eq "$c on an empty daemon exits 0" 0 "$RC"
	assert_true "$c prints JSON" jq -e . <<<"$OUT" >/dev/null
done
run_ctl -s "$SOCKDIR" list-builds
assert_eq "list-builds on an empty daemon" '{"builds":[]}' "$(jq -c . <<<"$OUT")"
run_ctl -s "$SOCKDIR" snapshot
assert_json "snapshot has status, sources, invocations, builds" "$OUT" \
	'(.status | type) == "object" and (.sources | type) == "array" and (.invocations | type) == "array" and (.builds | type) == "array"'

# A state that does not exist: refused (by ctl as usage, or by the daemon as bad-request).
run_ctl -s "$SOCKDIR" list-builds --state sleeping
assert_match "list-builds --state sleeping: exit 2 (usage) or 1 (bad-request)" '^[12]$' "$RC"
assert_contains "list-builds --state sleeping: names the bad state" sleeping "$ERR"

# Not found: exit 1 with the daemon's message.
for target in 999999 no-such-build /nix/store/00000000000000000000000000000000-none.drv 'nope-*'; do
	run_ctl -s "$SOCKDIR" get-build "$target"
	assert_eq "get-build $target: exit 1" 1 "$RC"
	assert_contains "get-build $target: says not-found" "not-found" "$ERR"
done
run_ctl -s "$SOCKDIR" log 999999
assert_eq "log of an unknown build: exit 1" 1 "$RC"
assert_contains "log of an unknown build: says not-found" "not-found" "$ERR"

# Ambiguous: two builds matching one glob -> exit 1, candidates named. The ingest stays
# connected (its stdin is a fifo we hold open) so the builds stay running.
mkfifo "$T/ingest.fifo"
timeout 120 "$NA_CTL" -s "$SOCKDIR" ingest <"$T/ingest.fifo" >"$T/ingest.out" 2>&1 &
INGEST_PID=$!
track "$INGEST_PID"
exec 7>"$T/ingest.fifo"
printf '%s\n' \
	'@nix {"action":"start","id":1,"level":3,"type":105,"text":"building","fields":["/nix/store/11111111111111111111111111111111-amb-one.drv","",1,1]}' \
	'@nix {"action":"start","id":2,"level":3,"type":105,"text":"building","fields":["/nix/store/22222222222222222222222222222222-amb-two.drv","",1,1]}' >&7
two_builds() { [[ "$(ctl list-builds --name 'amb-*' 2>/dev/null | jq '.builds | length')" == 2 ]]; }
wait_for 10 "two ingested builds amb-one, amb-two" two_builds
run_ctl -s "$SOCKDIR" get-build 'amb-*'
assert_eq "get-build of an ambiguous glob: exit 1" 1 "$RC"
assert_contains "ambiguous: says so" "ambiguous" "$ERR"
run_ctl -s "$SOCKDIR" get-build amb-one
assert_eq "get-build by exact name: exit 0" 0 "$RC"
assert_eq "get-build by exact name: the right drv" /nix/store/11111111111111111111111111111111-amb-one.drv \
	"$(jq -r .build.drv <<<"$OUT")"
KEY=$(jq -r .build.key <<<"$OUT")
run_ctl -s "$SOCKDIR" get-build "$KEY"
assert_eq "get-build by key: the same build" amb-one "$(jq -r .build.name <<<"$OUT")"
run_ctl -s "$SOCKDIR" list-builds --state running --name 'amb-t*'
assert_eq "list-builds --state running --name amb-t*" '["amb-two"]' "$(jq -c '[.builds[].name]' <<<"$OUT")"
# The stream ends without the builds' ends: they must not stay running.
exec 7>&-
wait "$INGEST_PID"
assert_eq "ingest exits 0 at the end of its input" 0 "$?"
not_running() { ctl list-builds --name 'amb-*' 2>/dev/null | jq -e '(.builds | length) == 2 and all(.builds[]; .state == "lost")' >/dev/null; }
wait_for 5 "builds of an ended stream turn lost" not_running && pass "builds of an ended stream turn lost"

# The daemon goes away: unreachable again.
stop_daemon
run_ctl -s "$SOCKDIR" status
assert_eq "daemon stopped: exit 3" 3 "$RC"
assert_contains "daemon stopped: names the socket" "$SOCKDIR/control.sock" "$ERR"
