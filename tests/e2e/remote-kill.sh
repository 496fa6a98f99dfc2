#!/usr/bin/env bash
# Killing a build that runs on a remote machine, from this machine, over a real ssh on
# loopback (remote-lib.sh): three builds of one nix-build are dispatched to the remote at
# once (three slots); the one dispatched in the middle is killed with `nix-analytics-ctl
# kill`. Its build hook and ssh go, its processes on the remote go, it ends killed; the
# other two carry on and succeed. Freeze, thaw, nice and limits answer "unsupported" for a
# remote build and change nothing.
source "$(dirname "$0")/lib.sh"
# A port of our own: remote-ssh.sh (2222) may run at the same time from another tree.
REMOTE_PORT=${REMOTE_PORT:-2232}
source "$(dirname "$0")/remote-lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "a loopback remote builder with its own store needs root"
remote_setup
source "$E2E_DIR/lib-proc.sh"

start_daemon --machines-poll-interval 0 --history-db none

FILE="$E2E_DIR/nix/remote-kill.nix"
SSH_URI="ssh://$REMOTE_HOST?remote-program=$T/remote-nix-store"
declare -A OUT
for x in a b c; do
	OUT[rkill-$x]=$(nix-store -q --outputs "$(nix-instantiate "$FILE" -A "$x" --argstr nonce "$NONCE" 2>/dev/null)")
	[[ ${OUT[rkill-$x]} == /nix/store/* ]] || die "cannot instantiate $FILE -A $x"
done

# remote_procs OUT: live processes (the remote builder and its children) whose environment
# holds out=OUT. The loopback remote's processes are visible here, under its build users.
remote_procs() {
	local p pids=()
	for p in /proc/[0-9]*; do
		[[ $(awk '{print $3}' "$p/stat" 2>/dev/null) == [RSDT] ]] || continue
		grep -qzx "out=$1" "$p/environ" 2>/dev/null && pids+=("${p#/proc/}")
	done
	echo "${pids[*]}"
}
# remote_builder OUT: the one of them that leads its session (the builder Nix started there).
remote_builder() {
	local p
	for p in $(remote_procs "$1"); do
		[[ $(awk '{print $6}' "/proc/$p/stat" 2>/dev/null) == "$p" ]] && echo "$p"
	done
}
# hooks_of PID: the build hooks (build-remote) that are children of nix process PID.
hooks_of() {
	local p pids=()
	for p in /proc/[0-9]*; do
		[[ $(awk '{print $4}' "$p/stat" 2>/dev/null) == "$1" ]] || continue
		[[ $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) == build-remote* ]] && pids+=("${p#/proc/}")
	done
	echo "${pids[*]}"
}

log "nix-build -A a -A b -A c -k -j 0 on $SSH_URI (3 slots) | ingest"
nix_bg "$FILE" -A a -A b -A c --argstr nonce "$NONCE" -k -j 0 --builders "$SSH_URI x86_64-linux - 3 1"

all_remote() {
	ctl list-builds --name 'rkill-*' 2>/dev/null |
		jq -e --arg m "$SSH_URI" '[.builds[] | select(.state == "running" and .machine == $m)] | length == 3' >/dev/null &&
		[[ -n $(remote_builder "${OUT[rkill-a]}") && -n $(remote_builder "${OUT[rkill-b]}") &&
			-n $(remote_builder "${OUT[rkill-c]}") ]]
}
wait_for 120 "the three builds running on the remote machine, their builders seen there" all_remote ||
	die "the builds never ran on the remote: $(tail -c 2000 "$T/events.raw")"
NIXPID=$(cat "$T/nix.pid")
HOOKS=$(hooks_of "$NIXPID")
assert_eq "nix-build runs three build hooks" 3 "$(wc -w <<<"$HOOKS")"

# The victim: dispatched in the middle (by start time), so that the right hook is neither
# the first nor the last one.
ctl_ok B list-builds --name 'rkill-*'
mapfile -t ORDER < <(printf '%s' "$B" | jq -r '.builds | sort_by(.started) | .[].name')
VICTIM=${ORDER[1]}
SURVIVORS=("${ORDER[0]}" "${ORDER[2]}")
declare -A BUILDER
for n in "${ORDER[@]}"; do
	BUILDER[$n]=$(remote_builder "${OUT[$n]}")
	assert_match "$n: its remote builder runs as a remote build user" '^nixrbld' "$(ps -o user= -p "${BUILDER[$n]}")"
done
REMOTE_V=$(remote_procs "${OUT[$VICTIM]}")
log "dispatch order ${ORDER[*]}; killing $VICTIM (remote builder ${BUILDER[$VICTIM]}, processes $REMOTE_V)"

# --- what cannot be done honestly from here says so, and changes nothing ---
KEY_V=$(field "$VICTIM" .key)
for verb in freeze thaw "nice 10" "cpu-limit 0.5" "mem-limit 1G"; do
	# shellcheck disable=SC2086
	if [[ $verb == *" "* ]]; then OUT_T=$(ctl ${verb%% *} "$VICTIM" ${verb#* } 2>&1); else OUT_T=$(ctl "$verb" "$VICTIM" 2>&1); fi
	RC=$?
	assert_eq "${verb%% *} on a remote build: exit status 1 (the daemon said no)" 1 "$RC"
	assert_contains "${verb%% *}: unsupported, says why and where it can be done" \
		"unsupported: build $KEY_V ($VICTIM) runs on the remote machine $SSH_URI" "$OUT_T"
done
assert_eq "the victim still runs after the refused actions" running "$(field "$VICTIM" .state)"
assert_match "its remote builder is not stopped" '^[RS]$' "$(awk '{print $3}' "/proc/${BUILDER[$VICTIM]}/stat" 2>/dev/null)"

# --- kill ---
ctl_ok K kill "$VICTIM"
printf '%s\n' "$K" >"$T/kill.json"
assert_json "kill names the mechanism" "$K" '.action == "kill" and (.mechanism | startswith("remote-hook-kill"))'
HOOK=$(printf '%s' "$K" | jq -r '.mechanism | capture("hook (?<p>[0-9]+)").p')
assert_contains "the hook killed is one of nix-build's" " $HOOK " " $HOOKS "
hook_gone() { [[ " $(hooks_of "$NIXPID") " != *" $HOOK "* ]] && ! kill -0 "$HOOK" 2>/dev/null; }
wait_for 10 "the killed build hook is gone" hook_gone
assert_eq "two build hooks left" 2 "$(wc -w <<<"$(hooks_of "$NIXPID")")"
victim_remote_gone() { [[ -z $(remote_procs "${OUT[$VICTIM]}") ]]; }
wait_for 20 "the victim's processes on the remote machine are gone" victim_remote_gone
for p in $REMOTE_V; do
	assert_true "remote process $p of the victim is gone" bash -c "! kill -0 $p 2>/dev/null"
done
victim_killed() { [[ $(field "$VICTIM" .state) == killed ]]; }
wait_for 20 "the victim ends killed" victim_killed
ctl_ok V get-build "$VICTIM"
assert_json "the victim: killed, on the machine, by signal 9" "$V" \
	".build.state == \"killed\" and .build.machine == \"$SSH_URI\" and .build.failure.kind == \"signal\" and .build.failure.signal == 9"
for n in "${SURVIVORS[@]}"; do
	assert_eq "$n still runs" running "$(field "$n" .state)"
	assert_eq "$n: its remote builder still runs, untouched" "${BUILDER[$n]}" "$(remote_builder "${OUT[$n]}")"
done
OUT_T=$(ctl kill "$VICTIM" 2>&1)
assert_contains "killing it again: not running" "not-running: build $KEY_V ($VICTIM) is killed" "$OUT_T"

# --- the others finish ---
wait_for 120 "nix-build ends" nix_done
assert_ne "nix-build fails (one build was killed)" 0 "$(nix_rc)"
for n in "${SURVIVORS[@]}"; do
	done_ok() { [[ $(field "$1" .state) == succeeded ]]; }
	wait_for 20 "$n succeeds" done_ok "$n"
	assert_true "$n: its output is in the local store" test -s "${OUT[$n]}"
done
assert_true "the victim's output is not" test ! -e "${OUT[$VICTIM]}"
assert_contains "Nix says the victim's hook died of signal 9" "failed due to signal 9" "$(cat "$T/events.raw")"
