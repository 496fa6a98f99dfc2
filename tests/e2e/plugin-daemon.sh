#!/usr/bin/env bash
# The plugin loaded into a private nix-daemon (the TunnelLogger route): two clients under two
# different uids build different graphs at the same time with no flag of their own; every
# build reaches nix-analyticsd attributed to its requester (uid, user, command line) with
# phases, log lines and failure reasons. Only daemon workers connect (never the build hook
# or a builder). Then nix-analyticsd is killed mid-build and restarted: the worker's plugin
# reconnects within a second and the build completes.
source "$(dirname "$0")/plugin-lib.sh"

plugin_setup
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate missing (package systemd)"
start_daemon

USER_B=na-e2e-plugin
id "$USER_B" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_B" ||
	die "cannot create test user $USER_B"
UID_B=$(id -u "$USER_B")

NIXD="$T/nixd"
mkdir -p "$NIXD" "$T/home-b"
chown "$USER_B" "$T/home-b"
# umask 0: the socket must be connectable by the second user too.
(umask 0 && exec systemd-socket-activate -E NIX_CONFIG -l "$NIXD/nix.sock" nix-daemon \
	--option plugin-files "$NA_PLUGIN" --option analytics-socket "$SOCKDIR/events.sock" \
	>"$NIXD/daemon.log" 2>&1) &
NIXD_PID=$!
track "$NIXD_PID"
wait_for 10 "the private nix-daemon socket" test -S "$NIXD/nix.sock" || die "no nix-daemon socket"
chmod 666 "$NIXD/nix.sock" # systemd-socket-activate makes it 0755: let the second user in
export NIX_REMOTE="unix://$NIXD/nix.sock"

CLIENTS="$E2E_DIR/nix/clients.nix"
declare -A LINES=([a]=300 [b]=700) CODE=([a]=3 [b]=4) DRVS
for c in a b; do
	DRVS[$c]=$(drvs_of "$CLIENTS" --argstr nonce "$NONCE" --argstr client "$c" \
		--arg lines "${LINES[$c]}" --arg failCode "${CODE[$c]}")
done

# Client a as root, client b as $USER_B; nothing on their command lines about analytics.
build_client() {
	local c=$1
	shift
	"$@" nix-build "$CLIENTS" --argstr nonce "$NONCE" --argstr client "$c" \
		--arg lines "${LINES[$c]}" --arg failCode "${CODE[$c]}" --no-out-link -k -j3 \
		>"$T/out.$c" 2>&1
	echo $? >"$T/rc.$c"
}
log "client a (root) and client b ($USER_B, uid $UID_B) at once through $NIX_REMOTE"
build_client a env &
PA=$!
build_client b runuser -u "$USER_B" -- env HOME="$T/home-b" NIX_REMOTE="$NIX_REMOTE" NIX_CONFIG="$NIX_CONFIG" &
PB=$!
wait "$PA" "$PB"
for c in a b; do
	assert_ne "client $c: nix-build fails (its graph has a failing derivation)" 0 "$(cat "$T/rc.$c")"
	assert_true "client $c: its build went through the daemon" grep -q "$c line ${LINES[$c]}" "$T/out.$c"
done
# systemd-socket-activate names the plugin in its own line: 'Execing …', in sid's systemd 262
# 'Executing: …'.
assert_true "the plugin patched TunnelLogger without a warning" \
	test -z "$(grep libnix-analytics "$NIXD/daemon.log" | grep -Ev '^Exec(ing|uting)')"
grep -q "user $USER_B" "$NIXD/daemon.log" || fail "the nix-daemon never saw $USER_B" "$(cat "$NIXD/daemon.log")"

wait_both_graphs 15

declare -A UIDS=([a]=0 [b]=$UID_B) USERS=([a]=root [b]=$USER_B)
for c in a b; do
	check_client "$c" "${UIDS[$c]}" "${USERS[$c]}" "^nix-build $CLIENTS --argstr nonce $NONCE --argstr client $c "
done

# Who connected: daemon workers only, one per client connection, each speaking for a
# client the nix-daemon accepted. A build hook or a builder would be a source of its own.
ctl_ok SNAP snapshot
printf '%s\n' "$SNAP" >"$T/snapshot.json"
ACCEPTED=$(sed -n 's/^accepted connection from pid \([0-9]*\),.*/\1/p' "$NIXD/daemon.log" | sort -u | jq -R 'tonumber' | jq -sc .)
assert_json "every source is a nix-daemon worker" "$SNAP" \
	"(.sources | length) >= 2 and all(.sources[]; .role == \"daemon-worker\" and .nix == \"$NIX_VERSION\")"
assert_json "no more sources than client connections ($ACCEPTED)" "$SNAP" ".sources | length <= ($ACCEPTED | length)"
assert_json "every invocation's requester is a client the nix-daemon accepted" "$SNAP" \
	"all(.invocations[]; .requester.pid as \$p | $ACCEPTED | index(\$p) != null)"
assert_json "the two graphs came from two sources" "$BUILDS" '[.builds[].source] | unique | length == 2'
assert_json "nothing dropped" "$SNAP" '.status.events.dropped_by_senders == 0 and .status.events.bad == 0'

# --- nix-analyticsd killed mid-build and restarted ---
SLOW=$(cat <<X
(import $E2E_DIR/nix/mk.nix { nonce = "$NONCE-restart"; }).mk "restart-slow" ''
  for i in \$(seq 1 60); do echo "tick \$i"; sleep 0.1; done; echo ok > \$out
'' [ ]
X
)
printf '%s\n' "$SLOW" >"$T/slow.nix"
nix-build "$T/slow.nix" --no-out-link >"$T/out.slow" 2>&1 &
SLOW_PID=$!
wait_for 20 "restart-slow is running" sh -c "'$NA_CTL' -s '$SOCKDIR' list-builds --state running 2>/dev/null | grep -q restart-slow"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
sleep 1
RESTART_MS=$(now_ms)
start_daemon
got_worker() { ctl snapshot 2>/dev/null | jq -e '[.sources[] | select(.role == "daemon-worker")] | length >= 1' >/dev/null; }
wait_for 5 "the worker's plugin reconnects" got_worker
ctl_ok SNAP2 snapshot
CONNECTED_MS=$(printf '%s' "$SNAP2" | jq '[.sources[] | select(.role == "daemon-worker") | .connected] | min * 1000 | floor')
[[ $CONNECTED_MS =~ ^[0-9]+$ ]] || CONNECTED_MS=$((RESTART_MS + 999999))
assert_le "plugin reconnected within 1 s of the restart ($((CONNECTED_MS - RESTART_MS)) ms)" 1000 $((CONNECTED_MS - RESTART_MS))
wait "$SLOW_PID"
assert_eq "the build completes across the restart" 0 $?
got_ticks() { ctl status 2>/dev/null | jq -e '.events.total > 5' >/dev/null; }
wait_for 5 "later events reach the restarted daemon" got_ticks

# --- nix-analyticsd stopped (SIGSTOP) for a whole build ---
# The build is not held up; the worker drops what does not fit and, at its exit, reports
# everything it could not deliver (a second connection waits in the stopped daemon's backlog).
status_of() { ctl status 2>/dev/null | jq -r ".events.$1"; }
DROPPED0=$(status_of dropped_by_senders)
TOTAL0=$(status_of total)
STOPPED_LINES=150000
cat >"$T/stopped.nix" <<X
(import $E2E_DIR/nix/mk.nix { nonce = "$NONCE-stopped"; }).mk "stopped-flood" ''
  seq -f 'flood line %g with some padding to make the records longer' 1 $STOPPED_LINES; echo ok > \$out
'' [ ]
X
kill -STOP "$DAEMON_PID"
timeout 120 nix-build "$T/stopped.nix" --no-out-link >"$T/out.stopped" 2>&1
STOPPED_RC=$?
kill -CONT "$DAEMON_PID"
assert_eq "a build completes while nix-analyticsd is stopped" 0 "$STOPPED_RC"
reported() { (($(status_of dropped_by_senders) - DROPPED0 >= STOPPED_LINES / 2)); }
wait_for 10 "the worker's drop count reaches the resumed daemon" reported
DROPPED=$(($(status_of dropped_by_senders) - DROPPED0))
ARRIVED=$(($(status_of total) - TOTAL0))
log "stopped daemon: $ARRIVED records arrived later, $DROPPED reported dropped"
assert_ge "every log line arrived or was counted dropped" $STOPPED_LINES $((ARRIVED + DROPPED))
assert_le "nothing counted twice" $((STOPPED_LINES + 1000)) $((ARRIVED + DROPPED))

stop_pid "$NIXD_PID" 10
