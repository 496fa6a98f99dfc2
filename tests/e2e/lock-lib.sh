# Lock waits seen from inside a real nix-daemon: two clients build the same derivation of
# nix/stalls.nix at once, and the second one's goal waits for the lock on the output the first
# one builds (activity 111, "waiting for lock on '<output>'"; for a content-addressed output,
# whose path is not known before it is built, "<drv path>.out"). Sourced after lib.sh, with
# NIX_REMOTE set to the nix-daemon under test.
#
# LOCK_NIX_BUILD: the command that runs nix-build through the route under test (its exit status
# nix-build's); nix-build by default.

LOCK_NIXF="$E2E_DIR/nix/stalls.nix"

# Content-addressed derivations are experimental in every Nix tested (2.8 to 2.34): for the
# nix-daemon (started after this is sourced, with -E NIX_CONFIG) and its clients.
export NIX_CONFIG="$NIX_CONFIG
extra-experimental-features = ca-derivations"

lock_client() { # lock_client N ATTR: nix-build of ATTR through the daemon, in the background
	"${LOCK_NIX_BUILD:-nix-build}" "$LOCK_NIXF" -A "$2" --argstr nonce "$NONCE" --no-out-link \
		>"$T/out.lock.$1" 2>&1 &
	track $!
	printf -v "LOCK_CLIENT_$1" '%s' $!
}
lock_running() { # lock_running DRV: a build of DRV runs
	ctl list-builds 2>/dev/null |
		jq -e --arg d "$1" 'any(.builds[]; .drv == $d and .state == "running")' >/dev/null
}
lock_waiting() { # lock_waiting DRV: a build of DRV is queued, waiting for a lock (list in $T/lock-builds.json)
	ctl list-builds 2>/dev/null >"$T/lock-builds.json" &&
		jq -e --arg d "$1" 'any(.builds[]; .drv == $d and .state == "queued" and .waiting_for_lock)' \
			"$T/lock-builds.json" >/dev/null
}
lock_none_waits() { # lock_none_waits DRV: no build of DRV waits
	ctl list-builds 2>/dev/null |
		jq -e --arg d "$1" 'all(.builds[] | select(.drv == $d); .waiting_for_lock | not)' >/dev/null
}
lock_both_ended() { # lock_both_ended DRV: two builds of DRV, both ended (list in $T/lock-ended.json)
	ctl list-builds 2>/dev/null >"$T/lock-ended.json" && jq -e --arg d "$1" \
		'[.builds[] | select(.drv == $d)] | length == 2 and all(.state != "queued" and .state != "running")' \
		"$T/lock-ended.json" >/dev/null
}

# lock_pair ATTR [HOOK]: the two clients build ATTR (lock: its output's path is known; lock-ca:
# content-addressed). While the second one waits, list-builds and get-build say so (get-build's
# answer in $LOCK_GB, the list in $T/lock-builds.json) and HOOK runs, if given; then both
# clients and both builds succeed (the waiting one: built by the other). Sets LOCK_DRV.
lock_pair() {
	local attr=$1 hook=${2:-} name key lock a b pid
	LOCK_DRV=$(nix-instantiate "$LOCK_NIXF" -A "$attr" --argstr nonce "$NONCE" 2>"$T/instantiate.err") ||
		die "nix-instantiate: $(cat "$T/instantiate.err")"
	name=${LOCK_DRV##*/}
	name=${name#*-}
	name=${name%.drv}
	if [[ $attr == lock-ca ]]; then
		lock="$LOCK_DRV.out"
	else
		lock=$(nix-store -q --outputs "$LOCK_DRV")
	fi
	a=${attr//-/_}1
	b=${attr//-/_}2
	lock_client "$a" "$attr"
	wait_for 60 "the first client's $name runs" lock_running "$LOCK_DRV" ||
		die "$name never ran: $(cat "$T/out.lock.$a")"
	lock_client "$b" "$attr"
	wait_for 20 "the second client's $name waits for the lock on $lock" lock_waiting "$LOCK_DRV" ||
		die "no build waits: $(cat "$T/lock-builds.json" "$T/out.lock.$b")"
	assert_json "two builds of $name: one running, one queued waiting for the lock" "$(cat "$T/lock-builds.json")" \
		"[.builds[] | select(.drv == \"$LOCK_DRV\")] | length == 2 and (map(select(.state == \"running\")) | length == 1 and all(.waiting_for_lock | not)) and (map(select(.state == \"queued\")) | length == 1 and all(.waiting_for_lock))"
	key=$(jq --arg d "$LOCK_DRV" '[.builds[] | select(.drv == $d and .state == "queued")][0].key' "$T/lock-builds.json")
	ctl_ok LOCK_GB get-build "$key"
	assert_json "get-build: the queued $name waits for the lock" "$LOCK_GB" \
		".build.state == \"queued\" and .build.waiting_for_lock and .build.drv == \"$LOCK_DRV\""
	[[ -n $hook ]] && "$hook"

	wait_for 40 "once the first $name is done, nothing waits for the lock" lock_none_waits "$LOCK_DRV"
	pid="LOCK_CLIENT_$a"
	wait "${!pid}"
	assert_eq "the first client of $name succeeds" 0 $?
	pid="LOCK_CLIENT_$b"
	wait "${!pid}"
	assert_eq "the second client of $name succeeds" 0 $?
	wait_for 30 "both $name builds ended" lock_both_ended "$LOCK_DRV" ||
		die "not ended: $(cat "$T/lock-ended.json")"
	assert_json "both $name builds succeeded (the waiting one: built by the other), neither waits" \
		"$(cat "$T/lock-ended.json")" \
		"[.builds[] | select(.drv == \"$LOCK_DRV\")] | map(.state) == [\"succeeded\", \"succeeded\"] and all(.[]; .waiting_for_lock | not)"
}
