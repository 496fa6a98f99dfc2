#!/usr/bin/env bash
# Issue 15, item 5: one unprivileged local user (na-e2e-hog, a real second uid) tries to take
# more than its share of a root nix-analyticsd:
#   (a) more event and control connections than its quota: the excess are refused, while
#       root's `status` and a root event connection (a plugin-like hello) still get in;
#   (c) one log line of almost 1 MiB: kept truncated to the 4 KiB cap, with the marker;
#   (b) 100 000 fake start records: at most its build quota is held, the daemon's RSS stays
#       bounded and `status` counts the refusals;
#   (d) a flood of fake failed builds: at most its history rows per hour reach history.
# Throughout, `status` must answer within a short deadline.
source "$(dirname "$0")/lib.sh"

check_binaries
[[ $(id -u) == 0 ]] || skip "a second uid against a root daemon needs root"
command -v python3 >/dev/null || skip "python3 missing"

HOG=na-e2e-hog
system_user "$HOG"
HOG_UID=$(id -u "$HOG")
# The hog's own directory for its script and its reports; a system python3 (root's PATH may
# lead into root's home, which the hog cannot read).
PY3=/usr/bin/python3
[[ -x $PY3 ]] || skip "no $PY3"
H="$T/hog"
mkdir -p "$H"
cp "$E2E_DIR/quota-hog.py" "$H/"
chown "$HOG" "$H"
chmod 755 "$T"
as_hog() { setpriv --reuid "$HOG_UID" --regid "$(id -g "$HOG")" --clear-groups -- "$PY3" "$H/quota-hog.py" "$SOCKDIR" "$@"; }

# Freed memory is held back by ASan (quarantine) in the sanitizer build: keep that small so
# the RSS bound means the same in both builds.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4"
N_BUILDS=50 N_ROWS=20
start_daemon --no-cgroups --max-clients 16 --max-sources 16 \
	--quota event-connections=4 --quota control-connections=3 --quota reserved-connections=4 \
	--quota builds=$N_BUILDS --quota history-rows-per-hour=$N_ROWS
chmod 755 "$SOCKDIR"

# status_fast STEP: root's status answers within 3 s (a few ms normally; ASan is slower).
status_fast() {
	local t0 out rc
	t0=$(now_ms)
	out=$(ctl --timeout 5 status 2>&1)
	rc=$?
	local ms=$(($(now_ms) - t0))
	assert_eq "$1: root's status answers" 0 "$rc"
	assert_le "$1: root's status within 3000 ms (took $ms ms)" 3000 "$ms"
	STATUS=$out
}
# exits_within SECONDS PID: waits for a hog to finish by itself, then reaps it.
exited() { [[ ! -e /proc/$1 || "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" == Z ]]; }
exits_within() {
	wait_for "$1" "pid $2 exits" exited "$2" || fail "pid $2 did not finish within $1 s"
	stop_pid "$2"
}
# Every connection closed is seen by the daemon (its quota given back).
no_sources() { [[ "$(ctl status 2>/dev/null | jq -r .sources.connected)" == 0 ]]; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status"; }
refused() { ctl status | jq -r ".quotas.refused.$1"; }

status_fast "at start"
assert_json "status shows the quota limits" "$STATUS" \
	".quotas.limits.builds == $N_BUILDS and .quotas.limits.event_connections == 4 and .quotas.limits.log_line_bytes == 4096"

# --- (a) connections ---
as_hog conns 10 10 "$H/conns.out" "$H/conns.stop" &
HOG_PID=$!
track "$HOG_PID"
wait_for 20 "the hog opened its connections" test -s "$H/conns.out" || die "the hog script did not report"
assert_eq "(a) the hog keeps 4 event and 3 control connections, the rest refused" "events=4 control=3" \
	"$(cat "$H/conns.out")"
status_fast "(a) while the hog holds its connections"
assert_json "(a) status counts the refused connections" "$STATUS" \
	'.quotas.refused.event_connections == 6 and .quotas.refused.control_connections == 7'
# Root's plugin-like event connection: a hello, then a fake build of root's, accepted.
ROOT_DRV="/nix/store/$(printf '%032d' 7)-root-build.drv"
python3 - "$SOCKDIR/events.sock" "$ROOT_DRV" "$T/root.stop" <<'PY' &
import json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
hello = {"action": "hello", "protocol": 1, "pid": os.getpid(), "uid": 0, "role": "daemon-worker", "nix": "2.8.0"}
start = {"action": "start", "id": 1, "level": 3, "type": 105, "text": "", "fields": [sys.argv[2], ""]}
s.sendall((json.dumps(hello) + "\n" + json.dumps(start) + "\n").encode())
end = time.time() + 60
while not os.path.exists(sys.argv[3]) and time.time() < end:
    time.sleep(0.05)
PY
ROOT_CLIENT=$!
track "$ROOT_CLIENT"
root_build_seen() { [[ "$(ctl list-builds 2>/dev/null | jq -r --arg d "$ROOT_DRV" '[.builds[] | select(.drv == $d)] | length')" == 1 ]]; }
wait_for 10 "(a) root's event connection is accepted and its build shown" root_build_seen &&
	pass "(a) root's event connection accepted while the hog holds its quota"
touch "$H/conns.stop" "$T/root.stop"
stop_pid "$HOG_PID"
stop_pid "$ROOT_CLIENT"
wait_for 10 "the hog's and root's event connections are closed" no_sources

# --- (c) one huge log line ---
as_hog logline $((1024 * 1024 - 200)) "$H/log.out" "$H/log.stop" &
HOG_PID=$!
track "$HOG_PID"
LOG_DRV="/nix/store/$(printf '%032d' 0)-hog-log-0.drv"
log_kept() { [[ "$(ctl get-build "$LOG_DRV" 2>/dev/null | jq -r '.build.log_tail | length')" -ge 1 ]]; }
wait_for 20 "(c) the hog's log line arrived" log_kept || fail "(c) the hog's log line never showed"
LINE=$(ctl get-build "$LOG_DRV" | jq -r '.build.log_tail[-1]')
assert_eq "(c) the 1 MiB log line is kept as 4096 bytes plus the marker" "4108" "${#LINE}"
assert_match "(c) with the truncation marker" ' \[truncated\]$' "${LINE: -40}"
status_fast "(c) after the huge log line"
touch "$H/log.stop"
exits_within 10 "$HOG_PID"
wait_for 10 "the hog's event connection is closed" no_sources

# --- (b) 100 000 fake start records ---
RSS0=$(rss_kb)
EV0=$(ctl status | jq -r .events.total)
N_STARTS=100000
as_hog starts "$N_STARTS" &
HOG_PID=$!
track "$HOG_PID"
# status answers while the flood is read
sleep 0.3
status_fast "(b) during the start flood"
exits_within 60 "$HOG_PID"
all_read() { (($(ctl status | jq -r .events.total) >= EV0 + N_STARTS)); }
wait_for 60 "(b) the daemon read every start record" all_read || fail "(b) not every record was read"
RSS1=$(rss_kb)
REFUSED_BUILDS=$(refused builds)
log "(b) RSS ${RSS0} kB -> ${RSS1} kB after $N_STARTS fake starts; builds refused: $REFUSED_BUILDS"
echo "R8 rss_before_kb=$RSS0 rss_after_kb=$RSS1 starts=$N_STARTS refused_builds=$REFUSED_BUILDS" >&2
assert_ge "(b) status counts the refused builds" $((N_STARTS - N_BUILDS)) "$REFUSED_BUILDS"
HELD=$(ctl list-builds --requester "$HOG" 2>/dev/null | jq '.builds | length')
assert_le "(b) at most $N_BUILDS of the hog's builds are held" "$N_BUILDS" "$HELD"
assert_le "(b) the daemon grew by less than 40 MB" $((40 * 1024)) $((RSS1 - RSS0))
status_fast "(b) after the start flood"

# --- (d) a flood of fake failed builds ---
# (b)'s builds hold the hog's whole build quota until they end (lost, once its process is
# gone): only then may (d)'s builds be held, and end, and ask for history rows.
hog_builds_ended() {
	ctl list-builds --requester "$HOG" 2>/dev/null |
		jq -e 'all(.builds[]; .state | IN("queued", "running", "frozen") | not)' >/dev/null
}
wait_for 30 "(b) the hog's builds have ended" hog_builds_ended
N_FAILS=300
as_hog fail "$N_FAILS" &
HOG_PID=$!
track "$HOG_PID"
status_fast "(d) during the failed-build flood"
exits_within 60 "$HOG_PID"
rows_refused() { (($(refused history_rows) >= N_FAILS - N_ROWS - N_BUILDS)); }
wait_for 30 "(d) history rows past the hourly cap are refused" rows_refused ||
	fail "(d) history rows refused: $(refused history_rows)"
history_idle() { [[ "$(ctl status | jq -r .history.queued)" == 0 ]]; }
wait_for 20 "(d) the history writer is idle" history_idle
HOG_ROWS=$(ctl get-history --requester "$HOG_UID" --limit 10000 | jq '.builds | length')
log "(d) history rows of the hog: $HOG_ROWS; refused: $(refused history_rows)"
assert_le "(d) at most $N_ROWS history rows from the hog" "$N_ROWS" "$HOG_ROWS"
assert_ge "(d) some of the hog's builds did reach history" 1 "$HOG_ROWS"
ROOT_ROWS=$(ctl get-history --requester root --limit 10000 | jq '.builds | length')
status_fast "(d) after the failed-build flood"
assert_true "the daemon logged a refusal for the hog's uid" grep -q "quota: uid $HOG_UID refused" "$T/daemon.log"
