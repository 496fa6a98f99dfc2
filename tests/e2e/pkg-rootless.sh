#!/usr/bin/env bash
# Rootless: a real unprivileged user runs its own nix-analyticsd with no options about
# sockets or history: it listens in $XDG_RUNTIME_DIR/nix-analytics and keeps history in
# $XDG_STATE_HOME/nix-analytics. That user's own nix-analytics-ctl finds it there.
#  A. A build the user starts through the root nix-daemon (fed by `ingest`) shows up with the
#     user as requester, ends succeeded and goes to history; the user's daemon cannot act on
#     its nixbld processes and says so.
#  B. A build in the user's own single-user store (NIX_STORE_DIR under its home; the daemon
#     restarted with --store-dir) runs as the user: no cgroup is delegated, so the daemon
#     acts by signals: freeze (SIGSTOP, log stops), thaw, nice work; CPU limits are refused.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "creating the unprivileged user needs root"
command -v setpriv >/dev/null || skip "setpriv missing (package util-linux)"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate missing (package systemd)"

source "$E2E_DIR/lib-rootless.sh"
rootless_setup
cp "$E2E_DIR/nix/rootless.nix" "$T/rootless.nix" && chmod 644 "$T/rootless.nix"

start_user_daemon
assert_eq "the daemon runs as $RU" "$RU" "$(ps -o user= -p "$DAEMON_PID" | tr -d ' ')"
ST=$(uctl status)
assert_json "status: its socket directory is \$XDG_RUNTIME_DIR/nix-analytics" "$ST" ".socket_dir == \"$USOCK\""
assert_json "status: it runs as the user's uid" "$ST" ".uid == $RUID"
assert_json "status: history in \$XDG_STATE_HOME/nix-analytics" "$ST" \
	".history.path == \"$XSTATE/nix-analytics/history.db\" and .history.state != \"disabled\""
assert_json "status: not a delegated service: the default cgroup root, where the user may create nothing" "$ST" \
	'.sampler.cgroup_root_source == "default" and .sampler.cgroup_service == null'
assert_eq "the sockets belong to the user" "$RU $RU" "$(stat -c %U "$USOCK/events.sock" "$USOCK/control.sock" | xargs)"
out=$(uctl list-builds)
assert_json "empty at first" "$out" '.builds == []'

# --- A: through the root nix-daemon ---
NIXD="$T/nixd"
mkdir -p "$NIXD" && chmod 755 "$NIXD"
systemd-socket-activate -E NIX_CONFIG -l "$NIXD/nix.sock" nix-daemon >"$NIXD/daemon.log" 2>&1 &
NIXD_PID=$!
track "$NIXD_PID"
wait_for 10 "the private nix-daemon's socket" test -S "$NIXD/nix.sock" || die "no nix-daemon socket"
chmod 666 "$NIXD/nix.sock" # what nix-daemon.socket gives every user
log "root nix-daemon (socket-activated, pid $NIXD_PID) on $NIXD/nix.sock"

nonce_a="$NONCE-a"
(
	NIX_REMOTE="unix://$NIXD/nix.sock"
	cd "$T" && as_user nix-build "$T/rootless.nix" --argstr nonce "$nonce_a" --argstr name rl-daemon \
		--arg seconds 4 --no-out-link --log-format internal-json -v 2>&1 |
		as_user "$NA_CTL" ingest >"$T/ingest-a.out" 2>"$T/ingest-a.err"
	echo "${PIPESTATUS[*]}" >"$T/rc-a"
) &
PIPE_A=$!
track "$PIPE_A"
running_a() { [[ "$(ufield rl-daemon .state)" == running ]]; }
wait_for 60 "rl-daemon running in the user's daemon" running_a || die "rl-daemon never ran: $(cat "$T/ingest-a.err")"
assert_eq "rl-daemon's requester is the user" "$RUID $RU" "$(ufield rl-daemon '"\(.requester.uid) \(.requester.user)"')"
builder_user() { ps -eo user:32=,args= | grep -F 'echo "rl-daemon line' | grep -v grep | awk '{print $1}' | sort -u; }
assert_match "its builder runs as a nixbld user (the root daemon's)" '^nixbld[0-9]+$' "$(builder_user)"
out=$(uctl freeze rl-daemon 2>&1)
assert_eq "the user's daemon cannot freeze a nixbld build (exit 1)" 1 "$?"
log "freeze through the root daemon answered: $out"
assert_contains "it says it knows no process of that build" "no-process" "$out"
done_a() { [[ -s "$T/rc-a" ]]; }
wait_for 60 "the build through the root daemon ends" done_a
assert_eq "nix-build and ingest exit 0" "0 0" "$(cat "$T/rc-a")"
ended_a() { [[ "$(ufield rl-daemon .state)" == succeeded ]]; }
wait_for 10 "rl-daemon succeeded" ended_a && pass "rl-daemon succeeded"
assert_ge "its log lines reached the user's daemon" 16 "$(ufield rl-daemon .log_lines)"
in_history() { uctl get-history --name rl-daemon | jq -e '.builds | length == 1 and .[0].state == "succeeded"' >/dev/null; }
wait_for 10 "rl-daemon in the user's history" in_history && pass "rl-daemon is in the user's history"
assert_true "the history file is in the user's state directory, owned by the user" \
	test "$(stat -c %U "$XSTATE/nix-analytics/history.db" 2>/dev/null)" = "$RU"

# --- B: the user's own single-user store, builds run as the user ---
stop_daemon
start_user_daemon --store-dir "$RSTORE/store" --sample-interval 0.5
assert_true "its sockets are back in the same place" test -S "$USOCK/control.sock"
(
	unset NIX_REMOTE
	cd "$T" && as_user "${USER_STORE_ENV[@]}" nix-build "$T/rootless.nix" --argstr nonce "$NONCE-b" --argstr name rl-own --arg seconds 12 \
		--option sandbox false --no-out-link --log-format internal-json -v 2>&1 |
		as_user "$NA_CTL" ingest >"$T/ingest-b.out" 2>"$T/ingest-b.err"
	echo "${PIPESTATUS[*]}" >"$T/rc-b"
) &
PIPE_B=$!
track "$PIPE_B"
tracked_b() { [[ "$(uctl ps --json rl-own 2>/dev/null | jq -r '.builder // empty')" =~ ^[0-9]+$ ]]; }
wait_for 60 "rl-own running with its builder found" tracked_b || die "rl-own's builder never found: $(cat "$T/ingest-b.err")"
PB=$(uctl ps --json rl-own)
BUILDER=$(printf '%s' "$PB" | jq -r .builder)
assert_eq "rl-own's builder runs as the user" "$RU" "$(ps -o user= -p "$BUILDER" | tr -d ' ')"
assert_match "rl-own's drv is in the user's store" "^$RSTORE/store/[a-z0-9]{32}-rl-own\.drv\$" "$(ufield rl-own .drv)"
assert_json "no cgroup delegated: control by signals" "$PB" '.control == "signals" and .cgroup == null'
assert_true "the daemon said it falls back to signals" grep -q "acting by signals" "$T/daemon.log"

out=$(uctl freeze rl-own)
assert_eq "freeze exits 0" 0 "$?"
assert_match "freeze: SIGSTOP to the builder's process group" "^SIGSTOP to process group $BUILDER" "$(printf '%s' "$out" | jq -r .mechanism)"
frozen() { [[ "$(ufield rl-own .state)" == frozen ]]; }
wait_for 5 "rl-own shows frozen" frozen && pass "rl-own is frozen"
assert_eq "its builder is stopped (T)" T "$(ps -o stat= -p "$BUILDER" | cut -c1)"
sleep 0.6 # a line in flight
L1=$(ufield rl-own .log_lines)
sleep 2
assert_eq "frozen: the log stops" "$L1" "$(ufield rl-own .log_lines)"
out=$(uctl thaw rl-own)
assert_match "thaw: SIGCONT" "SIGCONT" "$(printf '%s' "$out" | jq -r .mechanism)"
resumed() { (($(ufield rl-own .log_lines) > L1 + 2)); }
wait_for 5 "rl-own's log resumes" resumed && pass "thawed: the log resumes"
assert_eq "running again" running "$(ufield rl-own .state)"
out=$(uctl nice rl-own 7)
assert_contains "nice: by setpriority" "setpriority" "$(printf '%s' "$out" | jq -r .mechanism)"
assert_eq "the builder has niceness 7" 7 "$(ps -o ni= -p "$BUILDER" | tr -d ' ')"
out=$(uctl cpu-limit rl-own 0.5 2>&1)
assert_eq "cpu-limit without a cgroup exits 1" 1 "$?"
assert_contains "and says why" "no writable cpu controller" "$out"
done_b() { [[ -s "$T/rc-b" ]]; }
wait_for 60 "rl-own ends" done_b
assert_eq "nix-build in the user's store and ingest exit 0" "0 0" "$(cat "$T/rc-b")"
ended_b() { [[ "$(ufield rl-own .state)" == succeeded ]]; }
wait_for 10 "rl-own succeeded" ended_b && pass "rl-own succeeded after freeze and thaw"
assert_true "its output is in the user's store" bash -c "ls -d '$RSTORE'/store/*-rl-own >/dev/null"
in_history_b() { uctl get-history --name 'rl-*' | jq -e '[.builds[].name] | sort == ["rl-daemon", "rl-own"]' >/dev/null; }
wait_for 10 "both builds in the user's history" in_history_b && pass "the history kept both builds across the restart"
