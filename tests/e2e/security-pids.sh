#!/usr/bin/env bash
# Issue 15, items 4 and 7, run against a root daemon with a real Nix build by root:
#  - privacy: root builds with `--option access-tokens github.com=SECRET123`; the secret is in
#    no reply (root's included), no history row and not in the history database file; a
#    second, unprivileged uid sees no command line of root's build (requester and processes);
#  - nice: that uid may not renice root's build at all, an admin may lower it (nice -5);
#  - a gone builder: the test kills the builder with SIGKILL while a child of its session keeps
#    the build running; freeze and kill must then say "no-process" and touch nothing (the
#    child, still in the builder's process group, is not stopped or killed);
#  - the daemon answers status promptly throughout.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "acting on builds of nixbld users needs root"
source "$E2E_DIR/lib-proc.sh"

ACTOR=na-e2e-actor ADMIN=na-e2e-admin ADMINS=na-e2e-admins
system_user "$ADMIN" "$ADMINS"
system_user "$ACTOR"

start_daemon --no-cgroups --sample-interval 0.5 --admin-group "$ADMINS"
chmod 755 "$T" "$SOCKDIR"
as_actor() { runuser -u "$ACTOR" -- "$NA_CTL" -s "$SOCKDIR" "$@"; }
as_admin() { runuser -u "$ADMIN" -- "$NA_CTL" -s "$SOCKDIR" "$@"; }
status_fast() {
	local t0=$(now_ms)
	ctl status >/dev/null 2>&1 || return 1
	(($(now_ms) - t0 < 1000))
}

log "nix-build -A orphan --option access-tokens github.com=SECRET123"
nix_bg "$E2E_DIR/nix/security.nix" -A orphan --argstr nonce "$NONCE" --option access-tokens github.com=SECRET123
wait_for 90 "sec-orphan running with its builder found" bash -c "[[ -n \$('$NA_CTL' -s '$SOCKDIR' ps --json sec-orphan 2>/dev/null | jq -r '.builder // empty') ]]" ||
	die "the build never showed its builder"
BUILDER=$(builder_of sec-orphan)

# --- privacy ---
ROOT_VIEW=$(ctl get-build sec-orphan)
assert_json "root sees the requester's command line" "$ROOT_VIEW" '.build.requester.cmdline | test("nix-build")'
assert_json "with the token redacted" "$ROOT_VIEW" '.build.requester.cmdline | test("access-tokens <redacted>")'
for view in "list-builds" "get-build sec-orphan" "ps --json sec-orphan" "snapshot"; do
	# shellcheck disable=SC2086
	out=$(ctl $view 2>&1)
	assert_true "root's $view has no SECRET123" bash -c "! grep -q SECRET123 <<<\"\$1\"" _ "$out"
	# shellcheck disable=SC2086
	out=$(as_actor $view 2>&1)
	assert_true "$ACTOR's $view has no SECRET123" bash -c "! grep -q SECRET123 <<<\"\$1\"" _ "$out"
done
out=$(as_actor get-build sec-orphan)
assert_json "$ACTOR sees no command line of root's build" "$out" '.build.requester.cmdline == null'
assert_json "$ACTOR still sees who requested it" "$out" '.build.requester.uid == 0'
assert_json "$ACTOR sees no command line of its processes" "$out" \
	'(.processes.processes | length) > 0 and all(.processes.processes[]; .cmdline == null)'
out=$(as_actor ps --json sec-orphan)
assert_json "$ACTOR's ps shows the processes without command lines" "$out" \
	"any(.processes[]; .pid == $BUILDER) and all(.processes[]; .cmdline == null)"
out=$(as_admin ps --json sec-orphan)
assert_json "an admin sees them" "$out" "any(.processes[]; .pid == $BUILDER and (.cmdline | test(\"orphan line\")))"

# --- nice ---
out=$(as_actor nice sec-orphan 5 2>&1)
assert_contains "$ACTOR may not renice root's build" "permission-denied" "$out"
out=$(as_admin nice sec-orphan -5 2>&1)
assert_eq "an admin may lower its niceness (nice -5)" 0 "$?"
assert_json "and it was applied" "$out" '.action == "nice" and .nice == -5'
assert_eq "the builder runs at nice -5" -5 "$(ps -o ni= -p "$BUILDER" | tr -d ' ')"

# --- a gone builder: nothing is acted on through its pid, group or session ---
CHILD=$(pgrep -P "$BUILDER" -f '^sleep 600$' | head -n 1)
[[ -n "$CHILD" ]] || die "no background child of the builder"
assert_eq "the child is in the builder's process group" "$BUILDER" "$(ps -o pgid= -p "$CHILD" | tr -d ' ')"
kill -KILL "$BUILDER"
builder_dead() { [[ "$(ps -o stat= -p "$BUILDER")" != [RS]* ]]; }
wait_for 10 "the builder is dead (a zombie until Nix reaps it, or gone)" builder_dead
assert_eq "the build still runs (the child holds its log open)" running "$(field sec-orphan .state)"
out=$(ctl freeze sec-orphan 2>&1)
assert_contains "freeze says the builder is gone" "no-process" "$out"
out=$(ctl kill sec-orphan 2>&1)
assert_contains "kill says the builder is gone" "no-process" "$out"
sleep 0.5
assert_true "the child in the builder's group was neither stopped nor killed" \
	bash -c "[[ \$(ps -o stat= -p $CHILD) == S* ]]"
assert_true "the daemon answers status within 1 s" status_fast

kill -KILL "$CHILD"
wait_for 60 "nix-build ends" nix_done || die "nix-build did not end"

# --- history: the secret was never stored ---
wait_for 20 "the build is in history" bash -c "'$NA_CTL' -s '$SOCKDIR' get-history 2>/dev/null | grep -q sec-orphan"
out=$(ctl get-history 2>&1)
assert_true "get-history (root) has no SECRET123" bash -c "! grep -q SECRET123 <<<\"\$1\"" _ "$out"
assert_json "get-history keeps the redacted form" "$out" \
	'any(.builds[]; .name == "sec-orphan" and (.requester_cmdline // .requester.cmdline | test("access-tokens <redacted>")))'

out=$(as_actor get-history 2>&1)
assert_json "$ACTOR sees no command line in root's history rows" "$out" \
	'any(.builds[]; .name == "sec-orphan") and all(.builds[]; (.requester_cmdline // .requester.cmdline) == null)'
assert_true "get-history ($ACTOR) has no SECRET123" bash -c "! grep -q SECRET123 <<<\"\$1\"" _ "$out"
stop_daemon
assert_true "the history database holds no SECRET123" bash -c "! grep -aq SECRET123 '$T'/history.db*"
if command -v sqlite3 >/dev/null; then
	assert_eq "no row carries it" 0 "$(sqlite3 "$T/history.db" "select count(*) from builds where requester_cmdline like '%SECRET123%'")"
fi
