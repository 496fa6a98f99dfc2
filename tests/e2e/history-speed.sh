#!/usr/bin/env bash
# ETAs from other machines are scaled by their speed factor from the builders setting.
# History holds two successful builds of pname hist-speed on ssh://fast (speedFactor 4),
# taking 10 s and 12 s there; nothing of hist-speed was built here. A real local build of
# hist-speed-1.0 is then expected to take the median of 4 x 10 and 4 x 12 s: 44 s.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup

mkdir -p "$T/conf"
printf 'builders = @%s/conf/machines\n' "$T" >"$T/conf/nix.conf"
printf 'ssh://fast x86_64-linux - 1 4\n' >"$T/conf/machines"
DAEMON_OPTS=(--nix-conf-dir "$T/conf" --machines-poll-interval 0)

# The daemon makes the database; the remote rows go in while it is stopped.
start_daemon "${DAEMON_OPTS[@]}"
history_ok() { ctl status 2>/dev/null | jq -e '.history.state == "ok"' >/dev/null; }
wait_for 10 "the history database is open" history_ok
ctl_ok LM list-machines
assert_json "ssh://fast is configured with speed factor 4" "$LM" \
	'any(.machines[]; .key == "ssh://fast" and .speed_factor == 4)'
stop_daemon
history_add_rows "$T/history.db" hist-speed-1.0 hist-speed ssh://fast 10 12 || die "cannot add the history rows"
start_daemon "${DAEMON_OPTS[@]}"

FILE="$T/speed.nix"
cat >"$FILE" <<X
(import $E2E_DIR/nix/mk.nix { nonce = "$NONCE"; }).mk "hist-speed-1.0" ''
  for i in 1 2 3 4 5 6 7 8; do echo "line \$i"; sleep 0.5; done; echo ok > \$out
'' [ ]
X
nix-build "$FILE" --no-out-link --log-format internal-json -v 2>&1 | ctl ingest >/dev/null 2>"$T/ingest.err" &
NB=$!
track "$NB"
eta_known() { ctl get-build hist-speed-1.0 2>/dev/null | jq -e '.build.state == "running" and .build.eta != null' >/dev/null; }
wait_for 20 "the running build has an ETA" eta_known
ctl_ok B get-build hist-speed-1.0
log "eta: $(printf "%s" "$B" | jq -c .build.eta)"
assert_json "ETA from the other machine, scaled by its speed: median(4 x 10, 4 x 12) = 44 s" "$B" \
	'.build.eta.expected == 44 and .build.eta.basis == "other-machines" and .build.eta.samples == 2'
wait "$NB"
assert_eq "the build succeeds" 0 $?
