#!/usr/bin/env bash
# The plugin in nix-build run directly as root (the nix::logger wrapper): every build with its
# requester, phases, log lines and failures; only the nix-build process connects. Then a
# build that starts with nix-analyticsd absent: the plugin keeps a bounded buffer, drops and
# counts the rest, and once the daemon is started mid-build the later events arrive and the
# drop count is reported.
source "$(dirname "$0")/plugin-lib.sh"

plugin_setup
start_daemon
PLUGIN_OPTS=(--option plugin-files "$NA_PLUGIN" --option analytics-socket "$SOCKDIR/events.sock")

CLIENTS="$E2E_DIR/nix/clients.nix"
DRVS=$(drvs_of "$CLIENTS" --argstr nonce "$NONCE" --argstr client a --arg lines 500 --arg failCode 5)
nix-build "${PLUGIN_OPTS[@]}" "$CLIENTS" --argstr nonce "$NONCE" --argstr client a \
	--arg lines 500 --arg failCode 5 --no-out-link -k -j3 >"$T/out.a" 2>&1
assert_ne "nix-build fails (its graph has a failing derivation)" 0 $?

all_done() {
	ctl list-builds 2>/dev/null | jq -e '(.builds | length) == 6 and all(.builds[]; .state != "running" and .state != "queued")' >/dev/null
}
wait_for 15 "all 6 builds ended" all_done
ctl_ok BUILDS list-builds || die "list-builds failed"
assert_eq "exactly the 6 derivations of the graph" "$DRVS" "$(printf '%s' "$BUILDS" | jq -r '.builds[].drv' | sort)"
assert_eq "requester: root" "0 root" "$(printf '%s' "$BUILDS" | jq -r '[.builds[] | "\(.requester.uid) \(.requester.user)"] | unique | join(",")')"
assert_match "requester command line: this nix-build" "^nix-build --option plugin-files $NA_PLUGIN .* --argstr client a " \
	"$(printf '%s' "$BUILDS" | jq -r '[.builds[].requester.cmdline] | unique | join(",")')"
check_graph "$BUILDS" a 500 5 "$DRVS"
ctl_ok SNAP snapshot
assert_json "one source: the nix-build process (no build hook, no builder)" "$SNAP" \
	"(.sources | length) == 1 and .sources[0].role == \"cli\" and .sources[0].nix == \"$NIX_VERSION\""
assert_eq "the source is nix-build's own pid" "$(printf '%s' "$SNAP" | jq -r '.invocations[0].requester.pid')" \
	"$(printf '%s' "$SNAP" | jq -r '.sources[0].pid')"

# --- daemon absent at start, started mid-build ---
stop_daemon
LATE=$(cat <<X
(import $E2E_DIR/nix/mk.nix { nonce = "$NONCE-late"; }).mk "late-start" ''
  seq -f 'early line %g with some padding to make the records longer' 1 150000
  touch ready; while [ ! -e $T/go ]; do sleep 0.1; done
  for i in 1 2 3 4 5 6 7 8 9 10; do echo "late \$i"; sleep 0.1; done
  echo ok > \$out
'' [ ]
X
)
printf '%s\n' "$LATE" >"$T/late.nix"
nix-build "${PLUGIN_OPTS[@]}" "$T/late.nix" --no-out-link >"$T/out.late" 2>&1 &
LATE_PID=$!
wait_for 60 "the early lines are out" grep -q "early line 150000" "$T/out.late"
start_daemon
touch "$T/go"
wait "$LATE_PID"
assert_eq "the late-start build succeeds" 0 $?
# The daemon may have found the build in /proc before the plugin's records came in: the
# stream then takes that build over, so there is one late-start build, driven by the plugin.
late_build() {
	ctl snapshot 2>/dev/null | jq -c '[.sources[] | select(.role == "cli") | .id] as $s |
		[.builds[] | select(.name == "late-start" and (.source as $x | $s | index($x)))] | first // null'
}
late_done() { late_build | jq -e '.state == "succeeded"' >/dev/null; }
wait_for 15 "late-start is seen to succeed" late_done
ctl_ok SNAP snapshot
DROPPED=$(printf '%s' "$SNAP" | jq '.status.events.dropped_by_senders')
# Nix 2.8 reports each of the 150000 lines twice (a log-line result and a msg).
assert_ge "the plugin reported what it dropped while the daemon was absent" 200000 "$DROPPED"
assert_le "but kept a buffer's worth of early records" 295000 "$DROPPED"
LATE_KEY=$(late_build | jq -r .key)
assert_eq "one late-start build, not a second one rediscovered from /proc" 1 \
	"$(printf '%s' "$SNAP" | jq '[.builds[] | select(.name == "late-start")] | length')"
assert_eq "the later lines arrived" "$(printf 'late %s\n' 8 9 10)" "$(ctl log "$LATE_KEY" -n 3 2>&1)"
