#!/usr/bin/env bash
# A real nix-daemon serving two clients under two uids that build two graphs at the same time,
# seen through a route that needs no plugin (run as `bash nix-daemon-route.sh DAEMON CTL ROUTE`):
#   json-log  the nix-daemon writes every worker's records to nix-analyticsd's events socket
#             (`json-log-path`, CppNix 2.30 and later); the clients run plain nix-build;
#   ingest    each client pipes `nix-build --log-format internal-json -v` into
#             `nix-analytics-ctl ingest`, as a user of a Nix without json-log-path would.
# The checks are plugin-daemon.sh's: every build attributed to its requester, states, exit
# codes, dependency failures, phases, log lines (check_graph); two clients building the same
# derivation, the second one's build waiting for the lock on its output and then succeeded (an
# input-addressed and a content-addressed one, lock-lib.sh);
# then nix-analyticsd is killed mid-build and restarted, and the next build reaches it.
source "$(dirname "$0")/lib.sh"

ROUTE=${3:-}
case $ROUTE in
json-log | ingest) ;;
*) die "usage: $0 NIX-ANALYTICSD NIX-ANALYTICS-CTL json-log|ingest" ;;
esac
check_binaries
nix_setup
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate missing (package systemd)"
if [[ $ROUTE == json-log ]] && ((NIX_NUM < 230)); then
	skip "json-log-path needs Nix 2.30 or later; this is $NIX_VERSION"
fi
chmod 755 "$T" # the second user's ingest connects to the events socket in it
start_daemon
source "$E2E_DIR/lock-lib.sh"

USER_B=na-e2e-route
system_user "$USER_B"
UID_B=$(id -u "$USER_B")

NIXD="$T/nixd"
mkdir -p "$NIXD" "$T/home-b"
chown "$USER_B" "$T/home-b"
NIXD_OPTS=(--option sandbox false)
[[ $ROUTE == json-log ]] && NIXD_OPTS+=(--option json-log-path "$SOCKDIR/events.sock")
# umask 0: the socket must be connectable by the second user too.
(umask 0 && exec systemd-socket-activate -E NIX_CONFIG -l "$NIXD/nix.sock" nix-daemon "${NIXD_OPTS[@]}" \
	>"$NIXD/daemon.log" 2>&1) &
NIXD_PID=$!
track "$NIXD_PID"
wait_for 10 "the private nix-daemon socket" test -S "$NIXD/nix.sock" || die "no nix-daemon socket"
chmod 666 "$NIXD/nix.sock"
export NIX_REMOTE="unix://$NIXD/nix.sock"

# nix_build ARGS...: nix-build through the nix-daemon by the route under test, its output on
# stdout; its exit status is nix-build's.
nix_build() {
	if [[ $ROUTE == json-log ]]; then
		nix-build "$@" 2>&1
	else
		nix-build "$@" --log-format internal-json -v 2>&1 | "$NA_CTL" -s "$SOCKDIR" ingest 2>&1
		return "${PIPESTATUS[0]}"
	fi
}

CLIENTS="$E2E_DIR/nix/clients.nix"
declare -A LINES=([a]=300 [b]=700) CODE=([a]=3 [b]=4) DRVS
for c in a b; do
	DRVS[$c]=$(drvs_of "$CLIENTS" --argstr nonce "$NONCE" --argstr client "$c" \
		--arg lines "${LINES[$c]}" --arg failCode "${CODE[$c]}")
done
# build_client CLIENT COMMAND...: its graph, with COMMAND before nix-build (env, runuser).
build_client() {
	local c=$1
	shift
	"$@" bash -c "$(declare -f nix_build); ROUTE=$ROUTE NA_CTL=$NA_CTL SOCKDIR=$SOCKDIR"'; nix_build "$@"' bash \
		"$CLIENTS" --argstr nonce "$NONCE" --argstr client "$c" \
		--arg lines "${LINES[$c]}" --arg failCode "${CODE[$c]}" --no-out-link -k -j3 >"$T/out.$c"
	echo $? >"$T/rc.$c"
}
log "route $ROUTE: client a (root) and client b ($USER_B, uid $UID_B) at once through $NIX_REMOTE ($NIX_VERSION)"
build_client a env &
PA=$!
build_client b runuser -u "$USER_B" -- env HOME="$T/home-b" NIX_REMOTE="$NIX_REMOTE" NIX_CONFIG="$NIX_CONFIG" &
PB=$!
wait "$PA" "$PB"
for c in a b; do
	assert_ne "client $c: nix-build fails (its graph has a failing derivation)" 0 "$(cat "$T/rc.$c")"
done
grep -q "user $USER_B" "$NIXD/daemon.log" || log "note: the nix-daemon log does not name $USER_B"

wait_both_graphs 20

declare -A UIDS=([a]=0 [b]=$UID_B) USERS=([a]=root [b]=$USER_B)
for c in a b; do
	# The requester's command line: its nix-build's; but an ingest run by another user than
	# root is not believed about the process it speaks for (docs/protocol.md, Hello): its own.
	want="^nix-build $CLIENTS --argstr nonce $NONCE --argstr client $c "
	[[ $ROUTE == ingest && $c == b ]] && want="^$NA_CTL -s $SOCKDIR ingest\$"
	check_client "$c" "${UIDS[$c]}" "${USERS[$c]}" "$want"
done
ctl_ok SNAP snapshot
printf '%s\n' "$SNAP" >"$T/snapshot.json"
want_role=json-log
[[ $ROUTE == ingest ]] && want_role=ingest
assert_json "every source is a $want_role stream" "$SNAP" \
	"(.sources | length) >= 2 and all(.sources[]; .role == \"$want_role\")"
assert_json "the two graphs came from two sources" "$BUILDS" '[.builds[].source] | unique | length == 2'
assert_json "nothing dropped or bad" "$SNAP" '.status.events.dropped_by_senders == 0 and .status.events.bad == 0'

# --- a lock wait: two clients build the same derivation at once ---
# The second one's goal waits for the lock on the output the first one builds (activity 111).
# Through json-log-path that wait comes from inside the nix-daemon, with no plan: the daemon
# finds the derivation of the output in Nix's database. A content-addressed output's lock,
# "<drv>.out", names the derivation itself.
LOCK_NIX_BUILD=nix_build
lock_pair lock
lock_pair lock-ca

# --- nix-analyticsd killed mid-build and restarted: the next build reaches it ---
slow_nix() {
	cat <<X
(import $E2E_DIR/nix/mk.nix { nonce = "$NONCE-$1"; }).mk "$1" ''
  for i in \$(seq 1 $2); do echo "tick \$i"; sleep 0.1; done; echo ok > \$out
'' [ ]
X
}
slow_nix restart-slow 30 >"$T/slow.nix"
slow_nix after-restart 5 >"$T/after.nix"
nix_build "$T/slow.nix" --no-out-link >"$T/out.slow" &
SLOW_PID=$!
wait_for 20 "restart-slow is running" sh -c "'$NA_CTL' -s '$SOCKDIR' list-builds --state running 2>/dev/null | grep -q restart-slow"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon
wait "$SLOW_PID"
assert_eq "the build running while nix-analyticsd was killed completes" 0 $?
nix_build "$T/after.nix" --no-out-link >"$T/out.after"
assert_eq "a build after the restart succeeds" 0 $?
after_seen() { ctl list-builds --name after-restart 2>/dev/null | jq -e '.builds[0].state == "succeeded" and .builds[0].log_lines == 5' >/dev/null; }
wait_for 10 "the build after the restart reaches nix-analyticsd, succeeded with its 5 lines" after_seen &&
	pass "the build after the restart reaches nix-analyticsd, succeeded with its 5 lines"

stop_pid "$NIXD_PID" 10
