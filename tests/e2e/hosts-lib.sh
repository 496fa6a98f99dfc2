# The far hosts of the TUI's several-host tests (sourced after lib.sh and remote-lib.sh, once
# remote_setup ran): each a loopback sshd of its own (remote_add_host) whose logins get the
# socket directory $T/sock-NAME, in front of a nix-analyticsd there running real Nix builds
# (nix/hosts-many.nix: mh-NAME-one and mh-NAME-two, each until killed, at most 60 s).

declare -A FAR # NAME: its daemon's pid
far_up() { "$NA_CTL" -s "$T/sock-$1" status >/dev/null 2>&1; }
# far_state NAME BUILD STATE: the build is in that state on NAME's daemon.
far_state() { "$NA_CTL" -s "$T/sock-$1" list-builds 2>/dev/null | jq -e --arg n "$2" --arg s "$3" '.builds[] | select(.name == $n and .state == $s)' >/dev/null; }
far_running() {
	local h
	for h in "$@"; do
		far_state "$h" "mh-$h-one" running && far_state "$h" "mh-$h-two" running || return 1
	done
}

# far_hosts_start NAME...: the hosts up, their two builds running on each.
far_hosts_start() {
	local h
	for h in "$@"; do
		remote_add_host "$h" "$T/sock-$h"
		"$NA_DAEMON" --socket-dir "$T/sock-$h" --history-db none --discover-scope $$ \
			--cgroup-root "/nix-analytics-e2e-$h-$$" -v >>"$T/daemon-$h.log" 2>&1 &
		FAR[$h]=$!
		track "${FAR[$h]}"
		wait_for 20 "the daemon of $h answers" far_up "$h" ||
			die "daemon of $h: $(tail -n 20 "$T/daemon-$h.log")"
	done
	# The same derivation shapes on each, named after their host. nix-build's own pid is
	# tracked: ending it ends its ingest too (end of input).
	for h in "$@"; do
		nix-build "$E2E_DIR/nix/hosts-many.nix" --argstr nonce "$NONCE" --argstr host "$h" --no-out-link \
			--log-format internal-json -v -k -j2 \
			2> >("$NA_CTL" -s "$T/sock-$h" ingest >/dev/null 2>"$T/ingest-$h.err") >/dev/null &
		track $!
	done
	wait_for 40 "two builds run on each far daemon" far_running "$@" || die "the far builds do not run"
}
