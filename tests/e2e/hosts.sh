#!/usr/bin/env bash
# Another host's daemon through ssh (`nix-analytics-ctl -H`): a real sshd on loopback
# (remote-lib.sh; its logins get NIX_ANALYTICS_SOCKET_DIR=$T/rsock) in front of a second
# nix-analyticsd with a real Nix build of its own, beside the local daemon. Through the
# bridge (`nix-analytics-ctl bridge` run by ssh on the far side):
#   - queries answer with the far daemon's builds, not the local one's;
#   - actions are authorised by the far daemon as the ssh login's user: an unprivileged login
#     is refused the kill of root's build, root's login kills it;
#   - a host that cannot be reached, a missing remote command and a host without a daemon
#     each end with exit status 3 and say which it was; ingest refuses -H.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/remote-lib.sh"

check_binaries
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
(nix-build "$E2E_DIR/nix/hosts.nix" --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v 2>&1 |
	"$NA_CTL" -s "$T/rsock" ingest >/dev/null 2>"$T/ingest.err") &
track $!
far_running() { "$NA_CTL" -s "$T/rsock" list-builds 2>/dev/null | jq -e '.builds[] | select(.name == "hosts-long" and .state == "running")' >/dev/null; }
wait_for 30 "hosts-long runs on the far daemon" far_running || die "no build on the far daemon"

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
far_killed() { "$NA_CTL" -s "$T/rsock" list-builds 2>/dev/null | jq -e '.builds[] | select(.name == "hosts-long" and .state == "killed")' >/dev/null; }
wait_for 20 "the far build ends killed" far_killed || fail "the far build was not killed" "$("$NA_CTL" -s "$T/rsock" list-builds | jq -c '.builds[] | {name, state}')"

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
