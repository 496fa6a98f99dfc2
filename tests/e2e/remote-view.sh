#!/usr/bin/env bash
# A remote build as its machine's own nix-analyticsd sees it: a nix-build here (piped to
# ingest) dispatches a build over ssh-ng to the loopback remote (remote-lib.sh), where a
# nix-analyticsd runs under the ssh login. The daemon here polls the machine over ssh and
# gives the local build the remote daemon's view of the same .drv ("remote" in get-build):
# its CPU and memory, following the build poll after poll (every 5 s while it runs, though
# the interval is 30 s), and null while the machine runs no daemon. The TUI shows the remote's
# CPU% and MEM marked @, and the poll's age in the build's details.
#
# The remote daemon learns of the build without any plugin: it finds the builder under the
# root `nix-daemon --stdio` that ssh-ng runs, from the build log that process holds open
# (discover.c, discovery_find_served); any Nix. It runs in the remote's mount namespace (its
# store), where the .drv is absent (ssh-ng sends the derivation itself): how the build ended
# there comes from the outputs the builder's environment names, in the remote's database, and
# a build that fails there is failed, not taken for a success.
#
# Phases and log lines need a stream from that nix-daemon --stdio: its json-log-path on Nix
# 2.30 and later, or, with the plugin (argument 3) on a Nix whose plugin reports from
# `nix-daemon --stdio` (2.8), the plugin. A second build runs through a remote program that
# sends one: the remote daemon then has the build's phases and log lines too, and still one
# build of it (the stream's report and /proc's finding merge). Nix 2.9 to 2.29 offer neither.
source "$(dirname "$0")/plugin-lib.sh"
# The first free port from 2290, and build users named after it: other trees' runs of the
# remote tests may run at the same time.
REMOTE_PORT=${REMOTE_PORT:-2290}
REMOTE_BUILD_GROUP_PREFIX=nixv
source "$E2E_DIR/remote-lib.sh"
source "$E2E_DIR/tui-lib.sh"

if [[ -n "$NA_PLUGIN" ]]; then
	plugin_setup
else
	check_binaries
	nix_setup
fi
check_tui
trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT
[[ $(id -u) == 0 ]] || skip "a loopback remote builder with its own store needs root"
remote_setup

NIX_MINOR=$(nix-daemon --version | awk '{ print $NF }' | cut -d. -f2)
# The remote's nix-daemon (its own store, as remote-lib.sh's) with the plugin, reporting to
# the remote nix-analyticsd's socket directory.
[[ -n "$NA_PLUGIN" ]] && cat >"$T/remote-nix-daemon-plugin" <<EOF
#!/bin/sh
export NIX_CONFIG='build-users-group = $REMOTE_BUILD_GROUP
substituters =
sandbox = false'
exec unshare -m sh -c 'mount --bind $T/rnix /nix && exec $(command -v nix-daemon) --option plugin-files $NA_PLUGIN --option analytics-socket $T/rsock/events.sock "\$@"' nix-daemon "\$@"
EOF
[[ -n "$NA_PLUGIN" ]] && chmod +x "$T/remote-nix-daemon-plugin"
# Or the project's remote program, nix-analytics-remote-daemon: json-log-path to the remote
# nix-analyticsd's events socket (NIX_ANALYTICS_SOCKET_DIR from the login) on Nix 2.30 and
# later.
cat >"$T/remote-nix-daemon-jsonlog" <<EOF
#!/bin/sh
export NIX_CONFIG='build-users-group = $REMOTE_BUILD_GROUP
substituters =
sandbox = false'
export NIX_ANALYTICS_NIX_DAEMON=$(command -v nix-daemon)
exec unshare -m sh -c 'mount --bind $T/rnix /nix && exec $(cd "$E2E_DIR/../.." && pwd)/src/remote/nix-analytics-remote-daemon "\$@"' nix-analytics-remote-daemon "\$@"
EOF
chmod +x "$T/remote-nix-daemon-jsonlog"
NG_URI="ssh-ng://$REMOTE_HOST?remote-program=$T/remote-nix-daemon"
PLUGIN_URI="ssh-ng://$REMOTE_HOST?remote-program=$T/remote-nix-daemon-plugin"
JSONLOG_URI="ssh-ng://$REMOTE_HOST?remote-program=$T/remote-nix-daemon-jsonlog"
mkdir -p "$T/conf"
printf 'builders = %s x86_64-linux - 1 1\n' "$NG_URI" >"$T/conf/nix.conf"
start_daemon --nix-conf-dir "$T/conf" --machines-poll-interval 30 --machines-poll-timeout 10 \
	--machines-remote-ctl "$NA_CTL" --history-db none

remote_poll() { ctl list-machines | jq -c '.machines[] | select(.key == "ssh-ng://nixremote") | .poll'; }
remote_up() { remote_poll 2>/dev/null | jq -e '.state == "up"' >/dev/null 2>&1; }
wait_for 20 "the machine's first poll" remote_up

# build_bg TAG SPIN QUIET [URI]: nix-build -j 0 of remote-view.nix in the background, piped to
# ingest, built on the machine URI (default NG_URI: no plugin on the remote).
build_bg() {
	(
		nix-build "$E2E_DIR/nix/remote-view.nix" --argstr nonce "$NONCE" --argstr tag "$1" \
			--argstr spin "$2" --argstr quiet "$3" --argstr fail "${FAIL:-0}" --no-out-link -j 0 --builders "${4:-$NG_URI} x86_64-linux - 1 1" \
			--log-format internal-json -v 2>&1 | ctl ingest >"$T/ingest-$1.out" 2>&1
		echo "${PIPESTATUS[0]}" >"$T/nix-$1.rc"
	) &
	BUILD_BG=$!
	track "$BUILD_BG"
}
build_json() { ctl get-build "rview-$1" 2>/dev/null | jq -c '.build'; }
rctl() { "$NA_CTL" -s "$T/rsock" "$@"; }
# samples TAG: get-build every 0.3 s into $T/samples-TAG.jsonl until the nix-build ends, with
# how many builds of it each daemon lists (here: "here", the remote's: "there").
samples() {
	while [[ ! -f "$T/nix-$1.rc" ]]; do
		local here there
		here=$(ctl list-builds --name "rview-$1" 2>/dev/null | jq '.builds | length')
		there=$(rctl list-builds --name "rview-$1" 2>/dev/null | jq '[.builds[] | select(.state == "running")] | length')
		build_json "$1" | jq -c --arg now "$(date +%s.%N)" --argjson here "${here:-null}" \
			--argjson there "${there:-null}" '. + {now: ($now | tonumber), here: $here, there: $there}' 2>/dev/null
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
# Idle: it reads /proc only every few intervals until a nix process serves a client. It sees
# the remote's store, as the remote programs do.
ssh -F "$T/ssh_config" -o BatchMode=yes "$REMOTE_HOST" \
	"echo \$\$ >$T/rdaemon.pid; exec unshare -m sh -c 'mount --bind $T/rnix /nix && exec $NA_DAEMON --history-db none --machines-poll-interval 0 -v --discover-scope $$ --cgroup-root /nix-analytics-e2e-rv-$$'" \
	>"$T/rdaemon.log" 2>&1 &
track $!
wait_for 10 "the remote daemon's socket" test -S "$T/rsock/control.sock" || die "no remote daemon"
RDAEMON=$(cat "$T/rdaemon.pid")
[[ -n "$RDAEMON" ]] && track "$RDAEMON"

# run_view TAG SPIN QUIET URI: a build seen by the remote daemon, followed here; leaves its
# running samples in S and those with a remote view in RS.
run_view() {
	build_bg "$1" "$2" "$3" "$4"
	wait_for 60 "$1: the build runs on the remote" running_there "$1"
	samples "$1" &
	SAMPLER=$!
	track "$SAMPLER"
}
end_view() {
	wait "$SAMPLER"
	assert_eq "$1: nix-build succeeds" 0 "$(cat "$T/nix-$1.rc")"
	S=$(jq -s -c '[.[] | select(.state == "running")]' "$T/samples-$1.jsonl")
	RS=$(printf '%s' "$S" | jq -c '[.[] | select(.remote != null) | .remote]')
	log "$1: samples: $(printf '%s' "$S" | jq length) running, $(printf '%s' "$RS" | jq length) with a remote view"
	assert_json "$1: the remote daemon's own build (running, one process or more)" "$RS" \
		'any(.[]; .state == "running" and .procs >= 1 and .mem_current > 0 and .mem_peak >= .mem_current)'
	assert_json "$1: it follows: at least 3 polls, seen growing" "$RS" \
		'([.[].seen] | unique | length) >= 3 and ([.[].seen] == ([.[].seen] | sort))'
	assert_json "$1: polled every 5 s while it runs (interval 30 s): no gap above 9 s" "$RS" \
		'[.[].seen] | unique | [range(1; length) as $i | .[$i] - .[$i - 1]] | all(. <= 9)'
	assert_json "$1: each view at most one busy interval old (+ ssh) when read" "$S" \
		'[.[] | select(.remote != null) | .now - .remote.seen] | all(. < 10)'
	assert_json "$1: one build of it here, one running there (never two)" "$S" \
		'all(.[]; .here == 1) and all(.[]; .there == null or .there <= 1) and any(.[]; .there == 1)'
}

# --- no plugin on the remote: the remote daemon finds the build in /proc ---
tui_start 160 60
run_view view 20 10 "$NG_URI"
# The TUI: the remote's CPU and memory, marked with @; the poll's age in the build's details.
wait_screen 'rview-view .*[0-9]%@ +[0-9.]+[KMG]?@' 30 "tui: the remote's CPU%@ and MEM@"
keys t
wait_screen '^.*rview-view' 5 "tui: the flat list of active builds" && keys Enter
wait_screen 'seen: .*\([0-9]+ s ago\)' 10 "tui: the details show the remote view's age"
keys Escape
end_view view
# A poll that fails while the build runs (the daemon logs the machine "down") leaves the build
# without a remote view and the next poll a backoff away: say why sshd refused it, if it did
# (OpenSSH 9.8+ drops connections from a source it penalises: every loopback client of every
# run on this machine is 127.0.0.1).
if grep -q ': down: ' "$T/daemon.log" 2>/dev/null; then
	log "view: a poll failed while the build ran: $(grep ': down: ' "$T/daemon.log" | head -n 3 | tr '\n' ' ')"
	grep -E 'penalt|drop connection|MaxStartups' "$T/sshd.log" | tail -n 5 >&2 || true
fi
assert_json "view: the spin keeps one CPU busy (> 30 %), then the quiet part (< 30 %)" "$RS" \
	'[.[] | .cpu_percent // empty] as $c | ($c | map(. > 30) | index(true)) as $i | $i != null and ($c[$i:] | any(. < 30))'
assert_json "view: list-builds carries the remote view too" "$(ctl list-builds --name rview-view)" \
	'.builds[0].remote | type == "object" and .state != null'
assert_json "view: the remote daemon found it in /proc (no plugin there)" \
	"$(rctl list-builds --name rview-view | jq -c '.builds[0]')" '.drv | endswith("-rview-view.drv")'
grep -q 'of serving nix pid' "$T/rdaemon.log" || fail "view: the remote daemon's log does not say it found the build under a serving nix process"
# How it ended there: the .drv is not in the remote's store (ssh-ng sends the derivation
# itself), so the outputs its builder's environment names decide, in the remote's database.
remote_state() { rctl list-builds --name "rview-$1" 2>/dev/null | jq -r '.builds[0].state // empty'; }
remote_ended() { [[ $(remote_state "$1") =~ ^(succeeded|failed|killed|lost)$ ]]; }
wait_for 15 "view: the remote daemon ends its build" remote_ended view
assert_eq "view: the remote daemon says it succeeded" succeeded "$(remote_state view)"

# --- a build that fails there: failed in the remote daemon's view too, never "succeeded" ---
# (12 s: an idle remote daemon looks for serving processes every 5 s)
FAIL=3 build_bg fail 2 10
wait_for 60 "fail: nix-build ends" test -f "$T/nix-fail.rc"
assert_ne "fail: nix-build fails" 0 "$(cat "$T/nix-fail.rc")"
wait_for 20 "fail: the remote daemon ends its build" remote_ended fail ||
	log "fail: the remote daemon has: $(rctl list-builds --name rview-fail 2>&1 | jq -c '.builds' 2>&1); its log: $(grep -E 'rview-fail|build [0-9]+:' "$T/rdaemon.log" | tail -n 8 | tr '\n' ' ')"
assert_json "fail: the remote daemon found it and says it failed (its outputs never registered)" \
	"$(rctl list-builds --name rview-fail | jq -c '.builds[0]')" \
	'.state == "failed" and (.drv | endswith("-rview-fail.drv"))'

# --- a stream from the remote's nix-daemon --stdio: phases and log lines, one build ---
# Its json-log-path (2.30 and later), or the plugin, which reports from that process on Nix
# 2.8 (docs/protocol.md, "Remote builders").
STREAM_URI=
((NIX_MINOR >= 30)) && STREAM_URI=$JSONLOG_URI
[[ -n "$NA_PLUGIN" ]] && ((NIX_MINOR < 30)) && STREAM_URI=$PLUGIN_URI
if [[ -n $STREAM_URI ]]; then
	log "plug: the stream from the remote's nix-daemon --stdio: ${STREAM_URI##*remote-nix-daemon-}"
	run_view plug 12 8 "$STREAM_URI"
	wait_screen 'rview-plug +spin .*[0-9]%@ +[0-9.]+[KMG]?@' 30 "tui: the remote's spin phase, CPU%@ and MEM@"
	wait_screen 'rview-plug +quiet .*%@' 30 "tui: the remote's quiet phase follows"
	end_view plug
	assert_json "plug: spinPhase seen with the remote's CPU (one core busy: > 30 %)" "$RS" \
		'any(.[]; .phase == "spinPhase" and .cpu_percent > 30)'
	assert_json "plug: then quietPhase, the CPU down (< 30 %)" "$RS" \
		'any(.[]; .phase == "quietPhase" and .cpu_percent < 30)'
	assert_json "plug: log lines growing" "$RS" '([.[].log_lines] | unique | length) >= 3'
else
	# Not a skip: what this Nix offers ran above.
	if [[ -n "$NA_PLUGIN" ]]; then
		log "plug: not run: Nix 2.$NIX_MINOR has no json-log-path and its plugin reports nothing from nix-daemon --stdio"
	else
		log "plug: not run: Nix 2.$NIX_MINOR has no json-log-path, and this build has no plugin that Nix loads"
	fi
fi
