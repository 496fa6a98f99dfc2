# The remote-kill tests (remote-kill.sh through ingest, plugin-remote-kill.sh through a
# nix-daemon with the plugin), sourced after lib.sh, remote-lib.sh and lib-proc.sh. The
# caller defines ROUTE (words for the log), DISPATCHER (the comm of the nix process that
# dispatches the builds), NIX_OUT (where Nix's messages land) and
# start_builds NIX-BUILD-ARGS... (starts nix-build in the background; its exit status in
# $T/nix.rc) and builds_done (stops what start_builds left running).

FILE="$E2E_DIR/nix/remote-kill.nix"

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
# pid_start PID: the start time (clock ticks since boot) of a live process PID (a zombie is
# not live): a pid with its start time names one process, even when the pid is used again.
pid_start() { awk '$3 ~ /^[RSDT]$/ {print $22}' "/proc/$1/stat" 2>/dev/null; }
# A build hook's command line: "build-remote ..." as Debian 12's Nix 2.8 runs it, "nix __build-remote ..."
# (the nix binary under its own name) as Nix 2.26 does.
HOOK_CMDLINE_RE='^(build-remote|[^ ]*nix __build-remote)( |$)'
# hooks_of PID: the build hooks (build-remote) that are children of nix process PID.
hooks_of() {
	local p pids=()
	for p in /proc/[0-9]*; do
		[[ $(awk '{print $4}' "$p/stat" 2>/dev/null) == "$1" ]] || continue
		[[ $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) =~ $HOOK_CMDLINE_RE ]] && pids+=("${p#/proc/}")
	done
	echo "${pids[*]}"
}

# round SCHEME REMOTE-PROGRAM: one nix-build of four builds over SCHEME, one killed.
round() {
	SCHEME=$1
	URI="$1://$REMOTE_HOST?remote-program=$T/$2"
	local x n k
	declare -gA OUT=() BUILDER=() NAME=()
	for x in a b c d; do
		OUT[rkill-$x]=$(nix-store -q --outputs "$(nix-instantiate "$FILE" -A "$x" --argstr nonce "$NONCE-$SCHEME" 2>/dev/null)")
		[[ ${OUT[rkill-$x]} == /nix/store/* ]] || die "cannot instantiate $FILE -A $x"
	done

	log "$SCHEME: nix-build -A a -A b -A c -A d -k -j 0 on $URI (3 slots), $ROUTE"
	start_builds -A a -A b -A c -A d --argstr nonce "$NONCE-$SCHEME" -k -j 0 --builders "$URI x86_64-linux - 3 1"
	running_here() { # the builds of this round running on the machine, by start time
		ctl list-builds --name 'rkill-*' --state running 2>/dev/null |
			jq -c --arg m "$URI" '[.builds[] | select(.machine == $m)] | sort_by(.started)'
	}
	waiting_here() { # the build of this round waiting for a machine
		ctl list-builds --name 'rkill-*' --state queued 2>/dev/null |
			jq -c '[.builds[] | select(.waiting_for_machine)]'
	}
	remote_builders() { # how many builds of this round have their builder on the remote
		local n=0 x
		for x in a b c d; do [[ -n $(remote_builder "${OUT[rkill-$x]}") ]] && n=$((n + 1)); done
		echo "$n"
	}
	three_remote_one_waiting() {
		[[ $(running_here | jq length) == 3 && $(waiting_here | jq length) == 1 && $(remote_builders) == 3 ]]
	}
	wait_for 120 "$SCHEME: three builds running on the remote machine (builders seen there), one waiting for a slot" \
		three_remote_one_waiting || die "the builds never ran on the remote: $(tail -c 2000 "$NIX_OUT")"
	# What a test wants to look at while three builds run remotely and one waits.
	if declare -F while_three_remote >/dev/null; then while_three_remote; fi
	local nixpid hooks waiting src
	# The nix process that dispatches (nix-build, or the nix-daemon worker serving it): the
	# builds' source, as the daemon knows it.
	src=$(running_here | jq -r '.[0].source')
	nixpid=$(ctl snapshot 2>/dev/null | jq -r --argjson s "$src" '.sources[] | select(.id == $s) | .pid')
	assert_match "$SCHEME: the dispatching nix process is known ($ROUTE)" '^[0-9]+$' "$nixpid"
	assert_eq "$SCHEME: it is a $DISPATCHER process" "$DISPATCHER" "$(cat "/proc/$nixpid/comm" 2>/dev/null)"
	hooks=$(hooks_of "$nixpid")
	waiting=$(waiting_here | jq -r '.[0].key')
	assert_eq "$SCHEME: the nix process runs four build hooks (three took builds, one waits for the next)" 4 \
		"$(wc -w <<<"$hooks")"

	# The victim: dispatched in the middle (by start time), so that the right hook is
	# neither the first nor the last one.
	local running
	running=$(running_here)
	mapfile -t ORDER < <(printf '%s' "$running" | jq -r '.[].key')
	for k in "${ORDER[@]}"; do
		NAME[$k]=$(printf '%s' "$running" | jq -r --argjson k "$k" '.[] | select(.key == $k) | .name')
		BUILDER[$k]=$(remote_builder "${OUT[${NAME[$k]}]}")
		assert_match "$SCHEME: ${NAME[$k]}: its remote builder runs as a remote build user" "^$REMOTE_BUILD_GROUP" \
			"$(ps -o user= -p "${BUILDER[$k]}")"
	done
	local victim=${ORDER[1]} survivors=("${ORDER[0]}" "${ORDER[2]}")
	local out_v=${OUT[${NAME[$victim]}]} remote_v p
	remote_v=$(remote_procs "$out_v")
	declare -A START=()
	for p in $remote_v; do START[$p]=$(pid_start "$p"); done
	log "$SCHEME: dispatch order ${NAME[${ORDER[0]}]} ${NAME[${ORDER[1]}]} ${NAME[${ORDER[2]}]}; killing build $victim (${NAME[$victim]}, remote builder ${BUILDER[$victim]}, processes $remote_v)"

	# --- what cannot be done honestly from here says so, and changes nothing ---
	local verb out rc
	for verb in freeze thaw "nice 10" "cpu-limit 0.5" "mem-limit 1G"; do
		# shellcheck disable=SC2086
		if [[ $verb == *" "* ]]; then out=$(ctl ${verb%% *} "$victim" ${verb#* } 2>&1); else out=$(ctl "$verb" "$victim" 2>&1); fi
		rc=$?
		assert_eq "$SCHEME: ${verb%% *} on a remote build: exit status 1 (the daemon said no)" 1 "$rc"
		assert_contains "$SCHEME: ${verb%% *}: unsupported, says why and where it can be done" \
			"unsupported: build $victim (${NAME[$victim]}) runs on the remote machine $URI" "$out"
	done
	assert_eq "$SCHEME: the victim still runs after the refused actions" running "$(field "$victim" .state)"
	assert_match "$SCHEME: its remote builder is not stopped" '^[RS]$' \
		"$(awk '{print $3}' "/proc/${BUILDER[$victim]}/stat" 2>/dev/null)"

	# --- ps: what runs here for it is its build hook and the hook's ssh ---
	local ps_json ps_hook
	ps_json=$(ctl ps --json "$victim" 2>/dev/null)
	assert_json "$SCHEME: ps: the victim is acted on through its build hook" "$ps_json" \
		'.control == "remote-hook" and (.hook | type) == "number" and .builder == null'
	ps_hook=$(jq -r .hook <<<"$ps_json")
	assert_json "$SCHEME: ps: lists the hook and its ssh to the machine" "$ps_json" \
		"any(.processes[]; .pid == $ps_hook and (.cmdline | test(\"$HOOK_CMDLINE_RE\"))) and any(.processes[]; .comm == \"ssh\" and .ppid == $ps_hook and (.cmdline | test(\"nixremote\")))"
	assert_contains "$SCHEME: ps (text) names the hook" "build hook $ps_hook here" "$(ctl ps "$victim" 2>&1)"

	# --- kill ---
	local kill_json hook
	ctl_ok kill_json kill "$victim"
	printf '%s\n' "$kill_json" >"$T/kill-$SCHEME.json"
	assert_json "$SCHEME: kill names the mechanism" "$kill_json" \
		'.action == "kill" and (.mechanism | startswith("remote-hook-kill"))'
	hook=$(printf '%s' "$kill_json" | jq -r '.mechanism | capture("hook (?<p>[0-9]+)").p')
	assert_contains "$SCHEME: the hook killed is one of the nix process's" " $hook " " $hooks "
	assert_eq "$SCHEME: the hook killed is the one ps showed" "$ps_hook" "$hook"
	hook_gone() { [[ " $(hooks_of "$nixpid") " != *" $hook "* ]]; }
	wait_for 10 "$SCHEME: the killed build hook is gone" hook_gone
	assert_eq "$SCHEME: three build hooks left" 3 "$(wc -w <<<"$(hooks_of "$nixpid")")"
	victim_remote_gone() { [[ -z $(remote_procs "$out_v") ]]; }
	wait_for 20 "$SCHEME: the victim's processes on the remote machine are gone" victim_remote_gone
	for p in $remote_v; do
		assert_eq "$SCHEME: remote process $p of the victim is gone (not that pid with that start time)" "" \
			"$(pid_start "$p" | grep -Fx "${START[$p]}")"
	done
	victim_killed() { [[ $(field "$victim" .state) == killed ]]; }
	wait_for 20 "$SCHEME: the victim ends killed" victim_killed
	local v
	ctl_ok v get-build "$victim"
	assert_json "$SCHEME: the victim: killed, on the machine, by signal 9" "$v" \
		".build.state == \"killed\" and .build.machine == \"$URI\" and .build.failure.kind == \"signal\" and .build.failure.signal == 9"
	for k in "${survivors[@]}"; do
		assert_eq "$SCHEME: ${NAME[$k]} still runs" running "$(field "$k" .state)"
		assert_eq "$SCHEME: ${NAME[$k]}: its remote builder still runs, untouched" "${BUILDER[$k]}" \
			"$(remote_builder "${OUT[${NAME[$k]}]}")"
	done
	assert_json "$SCHEME: ps of the killed build: no hook, no process" "$(ctl ps --json "$victim" 2>/dev/null)" \
		'.hook == null and (.processes | length) == 0 and .state == "killed"'
	out=$(ctl kill "$victim" 2>&1)
	assert_contains "$SCHEME: killing it again: not running" "not-running: build $victim (${NAME[$victim]}) is killed" "$out"

	# --- the waiting build takes the freed slot; the others finish ---
	waiting_runs() { [[ $(field "$waiting" .state) == running && $(field "$waiting" .machine) == "$URI" ]]; }
	wait_for 60 "$SCHEME: the waiting build runs on the machine in the freed slot" waiting_runs
	survivors+=("$waiting")
	NAME[$waiting]=$(field "$waiting" .name)
	wait_for 120 "$SCHEME: nix-build ends" nix_done
	assert_ne "$SCHEME: nix-build fails (one build was killed)" 0 "$(nix_rc)"
	build_succeeded() { [[ $(field "$1" .state) == succeeded ]]; }
	for k in "${survivors[@]}"; do
		wait_for 20 "$SCHEME: ${NAME[$k]} succeeds" build_succeeded "$k"
		assert_true "$SCHEME: ${NAME[$k]}: its output is in the local store" test -s "${OUT[${NAME[$k]}]}"
	done
	assert_true "$SCHEME: the victim's output is not" test ! -e "$out_v"
	assert_contains "$SCHEME: Nix says the victim's hook died of signal 9" "failed due to signal 9" "$(cat "$NIX_OUT")"
	builds_done
}
