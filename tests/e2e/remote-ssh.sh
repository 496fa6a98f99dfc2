#!/usr/bin/env bash
# Remote builders over a real ssh on loopback (remote-lib.sh): the daemon reads the builders
# setting from its own nix.conf, polls the machines over ssh (one up, one at a closed port),
# sees a remote nix-analyticsd through ssh with its running build, and attributes every build
# of a -j 0 graph built over ssh:// and then ssh-ng:// to the machine, with slot counts and
# waiting builds right while they run.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/remote-lib.sh"

check_binaries
nix_setup
remote_setup

# The daemon's Nix configuration: both protocols of the remote, and one at a closed port.
mkdir -p "$T/conf"
printf 'builders = @%s/conf/machines\nbuilders-use-substitutes = true\n' "$T" >"$T/conf/nix.conf"
SSH_URI="ssh://$REMOTE_HOST?remote-program=$T/remote-nix-store"
NG_URI="ssh-ng://$REMOTE_HOST?remote-program=$T/remote-nix-daemon"
{
	echo "# the loopback remote, both protocols"
	echo "$SSH_URI x86_64-linux - 2 1"
	echo "$NG_URI x86_64-linux - 2 1 ; ssh://closedport - - 1"
	echo "not-a-number - - many"
} >"$T/conf/machines"
start_daemon --nix-conf-dir "$T/conf" --machines-poll-interval 1 --machines-poll-timeout 5 \
	--machines-remote-ctl "$NA_CTL" --history-db none

machine_of() { # LIST-MACHINES-JSON KEY
	printf '%s' "$1" | jq -c --arg k "$2" '[.machines[] | select(.key == $k)] | first // null'
}
ctl_ok LM list-machines
assert_eq "three machines configured, in order" \
	'["ssh://nixremote","ssh-ng://nixremote","ssh://closedport"]' "$(printf '%s' "$LM" | jq -c '[.machines[].key]')"
assert_json "the malformed entry is reported with its line" "$LM" \
	'.config.errors | any(test("machines:4: field 4 \\(maxJobs\\)"))'
assert_json "config: builders-use-substitutes read" "$LM" '.config.builders_use_substitutes == true'
assert_json "ssh machine: all fields" "$(machine_of "$LM" ssh://nixremote)" \
	".uri == \"$SSH_URI\" and .max_jobs == 2 and .speed_factor == 1 and .systems == [\"x86_64-linux\"] and .slots.total == 2"

# --- polling: up with figures, the closed port down with ssh's error, within the timeout ---
T0=$(now_ms)
closed_down() { ctl list-machines 2>/dev/null | jq -e '.machines[] | select(.key == "ssh://closedport") | .poll.state == "down"' >/dev/null; }
wait_for 10 "the closed-port machine shows down" closed_down
assert_le "down within the 5 s poll timeout (+1 s interval, ms)" 7000 $(($(now_ms) - T0))
ctl_ok LM list-machines
assert_json "closed port: the ssh error" "$(machine_of "$LM" ssh://closedport)" \
	'.poll.error | test("port '"$CLOSED_PORT"': Connection refused")'
remote_up() { ctl list-machines 2>/dev/null | jq -e '.machines[] | select(.key == "ssh://nixremote") | .poll.state == "up"' >/dev/null; }
wait_for 20 "the loopback machine shows up" remote_up
ctl_ok LM list-machines
assert_json "up: latency, load, CPUs, memory" "$(machine_of "$LM" ssh://nixremote)" \
	'.poll.latency_ms > 0 and (.poll.load | length) == 3 and .poll.cpus >= 1 and .poll.mem_total > 0 and .poll.mem_available > 0 and .poll.mem_available <= .poll.mem_total'
assert_json "up: nix-analytics-ctl found on the remote, no daemon there yet" "$(machine_of "$LM" ssh://nixremote)" \
	'.poll.remote.ctl == true and (.poll.remote.error | type) == "string"'

# --- a nix-analyticsd on the remote (under the ssh login: its own socket directory) ---
ssh -F "$T/ssh_config" -o BatchMode=yes "$REMOTE_HOST" \
	"echo \$\$ >$T/rdaemon.pid; exec $NA_DAEMON --history-db none --machines-poll-interval 0 -v" >"$T/rdaemon.log" 2>&1 &
track $!
wait_for 10 "the remote daemon's socket" test -S "$T/rsock/control.sock"
RDAEMON=$(cat "$T/rdaemon.pid")
[[ -n "$RDAEMON" ]] && track "$RDAEMON"
# a build on the remote, reported to the remote daemon by ingest run there
cat >"$T/busy.nix" <<BUSY
derivation { name = "remote-busy"; nonce = "$NONCE"; system = builtins.currentSystem; builder = "/bin/sh";
  args = [ "-c" "for i in \$(seq 1 60); do echo busy \$i; sleep 0.25; done; echo ok > \$out" ]; PATH = "/usr/bin:/bin"; }
BUSY
ssh -F "$T/ssh_config" -o BatchMode=yes "$REMOTE_HOST" \
	"NIX_CONFIG='substituters =' nix-build $T/busy.nix --no-out-link --log-format internal-json -v 2>&1 | $NA_CTL ingest" \
	>"$T/rbusy.log" 2>&1 &
RBUSY=$!
track "$RBUSY"
remote_busy_seen() {
	ctl list-machines 2>/dev/null |
		jq -e '.machines[] | select(.key == "ssh://nixremote") | .poll.remote.builds // [] | any(.name == "remote-busy" and .state == "running")' >/dev/null 2>&1
}
wait_for 20 "the remote daemon's running build seen through ssh" remote_busy_seen &&
	pass "list-machines shows the remote daemon's running build remote-busy"

# --- a -j 0 graph over each protocol ---
for scheme in ssh ssh-ng; do
	if [[ $scheme == ssh ]]; then uri=$SSH_URI key=ssh://nixremote; else uri=$NG_URI key=ssh-ng://nixremote; fi
	EXPECTED=$(drvs_of "$E2E_DIR/nix/remote.nix" --argstr nonce "$NONCE" --argstr prefix "r$scheme")
	poll_machines() {
		while :; do
			ctl list-machines 2>/dev/null | jq -c --arg k "$key" \
				'{m: ([.machines[] | select(.key == $k)] | first), waiting: .waiting}' 2>/dev/null
			sleep 0.2
		done >"$T/poll-$scheme.jsonl"
	}
	poll_machines &
	POLLER=$!
	track "$POLLER"
	log "nix-build -j 0 over $scheme"
	nix-build "$E2E_DIR/nix/remote.nix" --argstr nonce "$NONCE" --argstr prefix "r$scheme" --no-out-link \
		-j 0 --builders "$uri x86_64-linux - 2 1" --log-format internal-json -v 2>&1 |
		ctl ingest >"$T/ingest-$scheme.out" 2>"$T/ingest-$scheme.err"
	RCS=("${PIPESTATUS[@]}")
	assert_eq "$scheme: nix-build succeeds" 0 "${RCS[0]}"
	builds_done() {
		ctl list-builds --name "r$scheme-*" 2>/dev/null | jq -e '.builds | length == 5 and all(.state == "succeeded")' >/dev/null
	}
	wait_for 15 "$scheme: the 5 builds succeeded" builds_done
	stop_pid "$POLLER"
	ctl_ok B list-builds --name "r$scheme-*"
	assert_eq "$scheme: exactly the graph's derivations" "$EXPECTED" "$(printf '%s' "$B" | jq -r '.builds[].drv' | sort)"
	assert_json "$scheme: every build attributed to the machine" "$B" "all(.builds[]; .machine == \"$uri\")"
	if [[ $scheme == ssh-ng ]]; then
		assert_json "ssh-ng: the remote's phase reached the build (two activities, one build)" "$B" \
			'[.builds[] | select(.name | test("leaf")) | .phase] | all(. == "buildPhase")'
	fi
	POLLS=$(jq -s -c . "$T/poll-$scheme.jsonl")
	assert_eq "$scheme: 2 of 2 slots in use at the busiest" 2 "$(printf '%s' "$POLLS" | jq '[.[].m.slots.used] | max')"
	assert_json "$scheme: slots used never above max_jobs, running lists match" "$POLLS" \
		'all(.[]; .m.slots.used <= 2 and .m.slots.used == (.m.running | length))'
	assert_json "$scheme: builds seen waiting for a machine (globally and for this machine)" "$POLLS" \
		'any(.[]; (.waiting | length) >= 1 and (.m.waiting | length) >= 1 and all(.waiting[]; .state == "queued"))'
	assert_json "$scheme: the waiting builds are leaves of this graph" "$POLLS" \
		"[.[].m.waiting[].name] | unique | length >= 1 and all(test(\"^r$scheme-leaf\"))"
	ctl_ok LM list-machines
	assert_json "$scheme: 5 builds dispatched to the machine, none running or waiting now" "$(machine_of "$LM" "$key")" \
		'.builds_total == 5 and .slots.used == 0 and (.waiting | length) == 0'
	assert_json "$scheme: copies from the machine counted (5 outputs), none under way" "$(machine_of "$LM" "$key")" \
		'.copies.paths_from == 5 and .copies.to == 0 and .copies.from == 0'
	assert_json "$scheme: get-build shows the machine" "$(ctl get-build "r$scheme-top")" ".build.machine == \"$uri\""
done

# --- the closed-port machine never held anything up ---
ctl_ok LM list-machines
assert_json "the closed-port machine is still down, the daemon answers" "$(machine_of "$LM" ssh://closedport)" \
	'.poll.state == "down" and .poll.failures >= 2'
