#!/usr/bin/env bash
# Another host's daemon through ssh (`nix-analytics-ctl -H`): a real sshd on loopback
# (remote-lib.sh; its logins get NIX_ANALYTICS_SOCKET_DIR=$T/rsock) in front of a second
# nix-analyticsd with a real Nix build of its own, beside the local daemon. Through the
# bridge (`nix-analytics-ctl bridge` run by ssh on the far side):
#   - queries answer with the far daemon's builds, not the local one's;
#   - actions are authorised by the far daemon as the ssh login's user: an unprivileged login
#     is refused the kill of root's build, root's login kills it;
#   - a host that cannot be reached, a missing remote command and a host without a daemon
#     each end with exit status 3 and say which it was; ingest refuses -H;
#   - the TUI (`nix-analytics -H`, in tmux) shows the far builds, kills one there, says when
#     the far daemon is gone while its keys keep working, and shows the builds again when it
#     is back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/remote-lib.sh"
source "$(dirname "$0")/tui-lib.sh"

check_binaries
check_tui
trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT
nix_setup
remote_setup
start_daemon --history-db none

# The far daemon, on the socket directory the ssh logins are given.
"$NA_DAEMON" --socket-dir "$T/rsock" --history-db none --discover-scope $$ \
	--cgroup-root "/nix-analytics-e2e-r-$$" -v >>"$T/rdaemon.log" 2>&1 &
RDAEMON=$!
track "$RDAEMON"
rdaemon_ready() { "$NA_CTL" -s "$T/rsock" status >/dev/null 2>&1; }
wait_for 20 "the far daemon answers" rdaemon_ready || die "far daemon: $(tail -n 20 "$T/rdaemon.log")"

# An unprivileged login on the same sshd: a user with a shell, the keys readable by her.
SSHUSER=na-e2e-sshuser
id "$SSHUSER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh "$SSHUSER" ||
	die "cannot create $SSHUSER"
# "*": no password, and not locked ("!"), which sshd without PAM refuses even for a key.
usermod -p "*" "$SSHUSER"
chmod 711 "$T"
chmod 644 "$T/authorized_keys"
cat >>"$T/ssh_config" <<EOF2
Host userremote
  HostName 127.0.0.1
  Port $REMOTE_PORT
  User $SSHUSER
  IdentityFile $T/id
  IdentitiesOnly yes
  HostKeyAlias $REMOTE_HOST
  UserKnownHostsFile $T/known_hosts
  StrictHostKeyChecking yes
EOF2
R() { "$NA_CTL" -H "$REMOTE_HOST" --remote-ctl "$NA_CTL" "$@"; }
U() { "$NA_CTL" -H userremote --remote-ctl "$NA_CTL" "$@"; }

# ---- a build on the far daemon only ----
(nix-build "$E2E_DIR/nix/hosts.nix" --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v -k -j2 2>&1 |
	"$NA_CTL" -s "$T/rsock" ingest >/dev/null 2>"$T/ingest.err") &
track $!
far_state() { "$NA_CTL" -s "$T/rsock" list-builds 2>/dev/null | jq -e --arg n "$1" --arg s "$2" '.builds[] | select(.name == $n and .state == $s)' >/dev/null; }
far_running() { far_state hosts-long running && far_state hosts-tui running; }
wait_for 30 "hosts-long and hosts-tui run on the far daemon" far_running || die "no build on the far daemon"

OUT=$(R list-builds)
assert_eq "-H: list-builds answers (exit 0)" 0 $?
assert_json "-H: the far daemon's build is listed" "$OUT" '[.builds[] | select(.name == "hosts-long")] | length == 1'
ctl_ok L list-builds
assert_json "the local daemon has no such build" "$L" '[.builds[] | select(.name == "hosts-long")] | length == 0'
ST=$(R status)
assert_json "-H: status is the far daemon's (its socket directory)" "$ST" ".socket_dir == \"$T/rsock\""
assert_ne "-H: and its pid, not the local one's" "$DAEMON_PID" "$(jq -r .pid <<<"$ST")"

# ---- actions, authorised by the far daemon as the login's user ----
U kill hosts-long >"$T/ukill.out" 2>"$T/ukill.err"
assert_eq "an unprivileged login may not kill root's build (exit 1: the daemon's error)" 1 $?
assert_match "... and says why" "permission-denied|not permitted|may not" "$(cat "$T/ukill.err")"
assert_true "the build still runs" far_running
R kill hosts-long >"$T/rkill.out" 2>"$T/rkill.err"
assert_eq "root's login kills it (exit 0)" 0 $?
wait_for 20 "the far build ends killed" far_state hosts-long killed ||
	fail "the far build was not killed" "$("$NA_CTL" -s "$T/rsock" list-builds | jq -c '.builds[] | {name, state}')"

# ---- the TUI on the far host ----
TUI_ENV=("NIX_SSHOPTS=$NIX_SSHOPTS")
tui_start 140 40 -s "$T/rsock" -H "$REMOTE_HOST" --remote-ctl "$NA_CTL"
wait_screen "hosts-tui" 20 "the TUI shows the far daemon's build"
assert_true "... and not the local daemon's view (no local build there)" screen_has "daemon up"
keys f
wait_screen "filter builds" 5 "f opens the filter prompt" >/dev/null
type_text hosts-tui
keys Enter
wait_screen "filter: hosts-tui" 5 "the list is down to hosts-tui"
keys G K k
wait_screen "kill hosts-tui: done" 10 "K k from the TUI reports"
wait_for 20 "hosts-tui ends killed on the far daemon" far_state hosts-tui killed && pass "the TUI's kill reached the far host"
# Its invocation ends with it, and folds itself (nothing of it runs): z o opens it.
wait_screen "hosts-tui .* killed|^▸ #[0-9]+ root \[.*killed, ended\]" 10 "the TUI shows it killed (or its ended invocation, folded)" >/dev/null
keys G z o
wait_screen "hosts-tui .* killed" 10 "the TUI shows it killed"

# The far daemon goes away: the TUI says so and stays responsive; it comes back by itself.
stop_pid "$RDAEMON"
wait_screen "daemon DOWN" 15 "the header says the far daemon is down"
wait_screen "no daemon at ssh $REMOTE_HOST: .*cannot connect to the daemon at $T/rsock/control.sock" 15 \
	"the status line gives the far side's reason"
keys '?'
wait_screen "^nix-analytics help .*q/Esc close" 5 "keys still work while the host is down (? opens the help)"
keys Escape
"$NA_DAEMON" --socket-dir "$T/rsock" --history-db none --discover-scope $$ \
	--cgroup-root "/nix-analytics-e2e-r-$$" -v >>"$T/rdaemon.log" 2>&1 &
RDAEMON=$!
track "$RDAEMON"
wait_screen "daemon up" 20 "the TUI reconnects once the far daemon is back"
tui_quit

# ---- what goes wrong, said plainly ----
"$NA_CTL" -H closedport --remote-ctl "$NA_CTL" status >/dev/null 2>"$T/closed.err"
assert_eq "an unreachable host: exit 3" 3 $?
assert_match "... ssh could not connect" "closedport: ssh could not connect or log in" "$(cat "$T/closed.err")"
"$NA_CTL" -H "$REMOTE_HOST" --remote-ctl /nonexistent/nix-analytics-ctl status >/dev/null 2>"$T/noctl.err"
assert_eq "no remote command there: exit 3" 3 $?
assert_match "... it says which" "'/nonexistent/nix-analytics-ctl' was not found there" "$(cat "$T/noctl.err")"
R -s "$T/nodaemon" status >/dev/null 2>"$T/nodaemon.err"
assert_eq "no daemon on that host's socket: exit 3" 3 $?
assert_match "... it says so, with the bridge's own reason" "no nix-analytics daemon is running there" "$(cat "$T/nodaemon.err")"
assert_match "... the far side's message reaches the user" "cannot connect to the daemon at $T/nodaemon/control.sock" "$(cat "$T/nodaemon.err")"
R ingest </dev/null >/dev/null 2>"$T/ingest-h.err"
assert_eq "ingest with -H is a usage error" 2 $?
"$NA_CTL" -H "-oProxyCommand=x" status >/dev/null 2>"$T/opt.err"
assert_eq "a host that looks like an ssh option is refused (exit 2)" 2 $?

# ---- the bridge alone: a session relayed byte for byte ----
printf '{"id":1,"cmd":"hello","args":{"protocol":1,"client":"bridge-test"}}\n{"id":2,"cmd":"status"}\n' |
	"$NA_CTL" -s "$T/rsock" bridge >"$T/bridge.out"
assert_eq "bridge: exit 0 once the client is done" 0 $?
assert_eq "bridge: both answers, in order" "1 2" "$(jq -r .id "$T/bridge.out" | tr '\n' ' ' | sed 's/ $//')"

stop_pid "$RDAEMON"
stop_daemon
