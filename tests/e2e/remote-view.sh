#!/usr/bin/env bash
# A remote build as its machine's own nix-analyticsd sees it: a nix-build here (piped to
# ingest) dispatches a build over ssh-ng to the loopback remote (remote-lib.sh), whose
# nix-daemon loads the plugin and reports to a nix-analyticsd running under the ssh login.
# The daemon here polls the machine over ssh and gives the local build the remote daemon's
# view of the same .drv ("remote" in get-build): its phase, CPU and memory, following the
# build poll after poll (every 5 s while it runs, though the interval is 30 s), and null
# while the machine runs no daemon. The TUI shows the remote's phase, CPU% and MEM marked @,
# and the poll's age in the build's details.
source "$(dirname "$0")/plugin-lib.sh"
# The first free port from 2290, and build users named after it: other trees' runs of the
# remote tests may run at the same time.
REMOTE_PORT=${REMOTE_PORT:-2290}
REMOTE_BUILD_GROUP_PREFIX=nixv
source "$E2E_DIR/remote-lib.sh"
source "$E2E_DIR/tui-lib.sh"

plugin_setup
check_tui
[[ $(id -u) == 0 ]] || skip "a loopback remote builder with its own store needs root"
remote_setup

# The remote's nix-daemon (its own store, as remote-lib.sh's) with the plugin, reporting to
# the remote nix-analyticsd's socket directory.
cat >"$T/remote-nix-daemon-plugin" <<EOF
#!/bin/sh
export NIX_CONFIG='build-users-group = $REMOTE_BUILD_GROUP
substituters =
sandbox = false'
exec unshare -m sh -c 'mount --bind $T/rnix /nix && exec nix-daemon --option plugin-files $NA_PLUGIN --option analytics-socket $T/rsock/events.sock "\$@"' nix-daemon "\$@"
EOF
chmod +x "$T/remote-nix-daemon-plugin"
NG_URI="ssh-ng://$REMOTE_HOST?remote-program=$T/remote-nix-daemon-plugin"
mkdir -p "$T/conf"
printf 'builders = %s x86_64-linux - 1 1\n' "$NG_URI" >"$T/conf/nix.conf"
start_daemon --nix-conf-dir "$T/conf" --machines-poll-interval 30 --machines-poll-timeout 10 \
	--machines-remote-ctl "$NA_CTL" --history-db none

remote_poll() { ctl list-machines | jq -c '.machines[] | select(.key == "ssh-ng://nixremote") | .poll'; }
remote_up() { remote_poll 2>/dev/null | jq -e '.state == "up"' >/dev/null 2>&1; }
wait_for 20 "the machine's first poll" remote_up

# build_bg TAG SPIN QUIET: nix-build -j 0 of remote-view.nix in the background, piped to ingest.
build_bg() {
	(
		nix-build "$E2E_DIR/nix/remote-view.nix" --argstr nonce "$NONCE" --argstr tag "$1" \
			--argstr spin "$2" --argstr quiet "$3" --no-out-link -j 0 --builders "$NG_URI x86_64-linux - 1 1" \
			--log-format internal-json -v 2>&1 | ctl ingest >"$T/ingest-$1.out" 2>&1
		echo "${PIPESTATUS[0]}" >"$T/nix-$1.rc"
	) &
	BUILD_BG=$!
	track "$BUILD_BG"
}
build_json() { ctl get-build "rview-$1" 2>/dev/null | jq -c '.build'; }
# samples TAG: get-build every 0.3 s into $T/samples-TAG.jsonl until the nix-build ends.
samples() {
	while [[ ! -f "$T/nix-$1.rc" ]]; do
		build_json "$1" | jq -c --arg now "$(date +%s.%N)" '. + {now: ($now | tonumber)}' 2>/dev/null
		sleep 0.3
	done >"$T/samples-$1.jsonl"
}

# --- no daemon on the remote yet: the build runs there, its remote view is null ---
build_bg nodaemon 4 0
running_there() { build_json "$1" | jq -e '.state == "running" and .machine != ""' >/dev/null 2>&1; }
wait_for 60 "nodaemon: the build runs on the remote" running_there nodaemon
T0=$(date +%s.%N)
polled_since() { remote_poll 2>/dev/null | jq -e --argjson t "$1" '.state == "up" and .checked > $t' >/dev/null 2>&1; }
wait_for 10 "nodaemon: a poll within seconds of the dispatch (interval 30 s)" polled_since "$T0"
B=$(build_json nodaemon)
assert_json "nodaemon: running on the machine, remote null" "$B" \
	".state == \"running\" and .machine == \"$NG_URI\" and .remote == null"
assert_json "nodaemon: the poll found nix-analytics-ctl but no daemon" "$(remote_poll)" \
	'.remote.ctl == true and (.remote.error | type) == "string" and .remote.builds == null'
wait_for 60 "nodaemon: nix-build ends" test -f "$T/nix-nodaemon.rc"
assert_eq "nodaemon: nix-build succeeds" 0 "$(cat "$T/nix-nodaemon.rc")"

# --- a nix-analyticsd on the remote (under the ssh login: its own socket directory) ---
ssh -F "$T/ssh_config" -o BatchMode=yes "$REMOTE_HOST" \
	"echo \$\$ >$T/rdaemon.pid; exec $NA_DAEMON --history-db none --machines-poll-interval 0 -v" >"$T/rdaemon.log" 2>&1 &
track $!
wait_for 10 "the remote daemon's socket" test -S "$T/rsock/control.sock" || die "no remote daemon"
RDAEMON=$(cat "$T/rdaemon.pid")
[[ -n "$RDAEMON" ]] && track "$RDAEMON"

tui_start 160 60
build_bg view 12 10
wait_for 60 "view: the build runs on the remote" running_there view
samples view &
SAMPLER=$!
track "$SAMPLER"
# The TUI: the remote's phase, CPU and memory, marked with @; the poll's age in the details.
wait_screen 'rview-view +spin .*[0-9]%@ +[0-9.]+[KMG]?@' 20 "tui: the remote's spin phase, CPU%@ and MEM@"
keys t
wait_screen '^.*rview-view' 5 "tui: the flat list of active builds" && keys Enter
wait_screen 'seen: .*\([0-9]+ s ago\)' 10 "tui: the details show the remote view's age"
keys Escape
wait_screen 'rview-view +quiet .*%@' 30 "tui: the remote's quiet phase follows"
wait "$SAMPLER"
assert_eq "view: nix-build succeeds" 0 "$(cat "$T/nix-view.rc")"
S=$(jq -s -c '[.[] | select(.state == "running")]' "$T/samples-view.jsonl")
RS=$(printf '%s' "$S" | jq -c '[.[] | select(.remote != null) | .remote]')
log "samples: $(printf '%s' "$S" | jq length) running, $(printf '%s' "$RS" | jq length) with a remote view"
assert_json "view: the remote daemon's own build (running, one process or more)" "$RS" \
	'any(.[]; .state == "running" and .procs >= 1 and .mem_current > 0 and .mem_peak >= .mem_current)'
assert_json "view: spinPhase seen with the remote's CPU (one core busy: > 30 %)" "$RS" \
	'any(.[]; .phase == "spinPhase" and .cpu_percent > 30)'
assert_json "view: then quietPhase, the CPU down (< 30 %)" "$RS" \
	'any(.[]; .phase == "quietPhase" and .cpu_percent < 30)'
assert_json "view: it follows: at least 3 polls, seen and log_lines growing" "$RS" \
	'([.[].seen] | unique | length) >= 3 and ([.[].log_lines] | unique | length) >= 3 and ([.[].seen] == ([.[].seen] | sort))'
assert_json "view: polled every 5 s while it runs (interval 30 s): no gap above 9 s" "$RS" \
	'[.[].seen] | unique | [range(1; length) as $i | .[$i] - .[$i - 1]] | all(. <= 9)'
assert_json "view: each view at most one busy interval old (+ ssh) when read" "$S" \
	'[.[] | select(.remote != null) | .now - .remote.seen] | all(. < 10)'
assert_json "view: list-builds carries the remote view too" "$(ctl list-builds --name rview-view)" \
	'.builds[0].remote | type == "object" and .state != null'
