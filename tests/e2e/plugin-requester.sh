#!/usr/bin/env bash
# A requester's rights over her own build, end to end: two unprivileged users each run a
# real slow build through a private nix-daemon with the plugin loaded, so nix-analyticsd
# (root) learns each build's requester from the nix-daemon worker. Then, with
# nix-analytics-ctl run as each user:
#   - alice may raise the niceness of her own build (nice 5 is applied to its processes)
#     but not lower it (nice 2, below the current 5) nor make it negative (nice -5);
#   - bob may not kill, freeze or renice alice's build: it keeps running, untouched;
#   - alice may freeze, thaw and kill her own build; bob's build is untouched and succeeds;
#   - root's status answers promptly throughout.
source "$(dirname "$0")/plugin-lib.sh"

plugin_setup
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate missing (package systemd)"
[[ $(id -u) == 0 ]] || skip "acting on builds of nixbld users needs root"
source "$E2E_DIR/lib-proc.sh"

ALICE=na-e2e-alice BOB=na-e2e-bob
system_user "$ALICE"
system_user "$BOB"
UID_A=$(id -u "$ALICE")

start_daemon --sample-interval 0.5
chmod 755 "$T" "$SOCKDIR"

NIXD="$T/nixd"
mkdir -p "$NIXD"
(umask 0 && exec systemd-socket-activate -E NIX_CONFIG -l "$NIXD/nix.sock" nix-daemon \
	--option plugin-files "$NA_PLUGIN" --option analytics-socket "$SOCKDIR/events.sock" \
	>"$NIXD/daemon.log" 2>&1) &
NIXD_PID=$!
track "$NIXD_PID"
wait_for 10 "the private nix-daemon socket" test -S "$NIXD/nix.sock" || die "no nix-daemon socket"
chmod 666 "$NIXD/nix.sock"
NIX_REMOTE_URI="unix://$NIXD/nix.sock"

# build_as USER PREFIX: a 40 s build of actions.nix (a line every 0.5 s) named PREFIX-a, as
# USER through the private nix-daemon, in the background; its exit status lands in $T/rc.PREFIX.
FILE="$E2E_DIR/nix/actions.nix"
build_as() {
	local u=$1 p=$2
	mkdir -p "$T/home-$p"
	chown "$u" "$T/home-$p"
	(
		runuser -u "$u" -- env HOME="$T/home-$p" NIX_REMOTE="$NIX_REMOTE_URI" NIX_CONFIG="$NIX_CONFIG" \
			nix-build "$FILE" -A a --argstr nonce "$NONCE" --argstr prefix "$p" --arg seconds 40 \
			--no-out-link >"$T/out.$p" 2>&1 &
		echo $! >"$T/pid.$p"
		wait $!
		echo $? >"$T/rc.$p"
	) &
}
# On the way out, the clients first (their nix-daemon workers then end the builds).
requester_cleanup() {
	local p
	for p in alice bob; do
		[[ -s "$T/pid.$p" && ! -s "$T/rc.$p" ]] && kill -TERM "$(cat "$T/pid.$p")" 2>/dev/null
	done
	proc_cleanup
}
trap 'rc=$?; requester_cleanup; (exit $rc); e2e_cleanup' EXIT

log "alice ($ALICE, uid $UID_A) builds alice-a, bob ($BOB) builds bob-a, through $NIX_REMOTE_URI"
build_as "$ALICE" alice
build_as "$BOB" bob

as() {
	local u=$1
	shift
	runuser -u "$u" -- "$NA_CTL" -s "$SOCKDIR" "$@"
}
tracked() { [[ "$(ctl ps --json "$1" 2>/dev/null | jq -r '.builder // empty')" =~ ^[0-9]+$ ]]; }
both_tracked() { tracked alice-a && tracked bob-a; }
wait_for 90 "both builds running with their builder found" both_tracked ||
	die "builds never showed their processes: $(tail -n 5 "$T/out.alice" "$T/out.bob" "$NIXD/daemon.log")"
BUILDER_A=$(ctl ps --json alice-a | jq -r .builder)
BUILDER_B=$(ctl ps --json bob-a | jq -r .builder)

# status_prompt WHEN: root's status answers, within a second.
status_prompt() {
	local t0 rc
	t0=$(now_ms)
	ctl status >/dev/null 2>&1
	rc=$?
	assert_eq "root's status answers ($1)" 0 "$rc"
	assert_le "root's status answers within 1 s ($1)" 1000 $(($(now_ms) - t0))
}
status_prompt "both builds running"

# --- attribution ---
GA=$(as "$ALICE" get-build alice-a 2>&1)
assert_json "alice sees alice-a requested by her (uid $UID_A, user $ALICE)" "$GA" \
	".build.requester.uid == $UID_A and .build.requester.user == \"$ALICE\""
assert_json "alice sees her own command line" "$GA" '.build.requester.cmdline | test("^nix-build ")'
assert_json "bob sees bob-a requested by him" "$(as "$BOB" get-build bob-a 2>&1)" \
	".build.requester.uid == $(id -u "$BOB") and .build.requester.user == \"$BOB\""
assert_json "bob sees alice-a's requester but not her command line" "$(as "$BOB" get-build alice-a 2>&1)" \
	".build.requester.user == \"$ALICE\" and .build.requester.cmdline == null"

# nice_is BUILD N: every live process of BUILD (at least one) has niceness N.
nice_is() {
	local p ni n=0
	for p in $(ctl ps --json "$1" 2>/dev/null | jq -r '.processes[].pid'); do
		ni=$(ps -o ni= -p "$p" 2>/dev/null | tr -d ' ')
		[[ -z "$ni" ]] && continue
		[[ "$ni" == "$2" ]] || return 1
		n=$((n + 1))
	done
	((n >= 1))
}
# refused USER WHAT ARGS...: the action is refused as permission-denied (exit 1).
refused() {
	local u=$1 what=$2 out rc
	shift 2
	out=$(as "$u" "$@" 2>&1)
	rc=$?
	assert_eq "$what: exit 1" 1 "$rc"
	assert_contains "$what: permission-denied" "permission-denied" "$out"
}
field_is() { [[ "$(field "$1" "$2")" == "$3" ]]; }

# --- alice renices her own build: up only ---
out=$(as "$ALICE" nice alice-a 5 2>&1)
assert_eq "alice may set nice 5 on her build (exit 0)" 0 "$?"
assert_json "the answer says nice 5" "$out" '.action == "nice" and .nice == 5'
wait_for 5 "every process of alice-a has niceness 5" nice_is alice-a 5 && pass "alice-a runs at niceness 5"
wait_for 5 "get-build shows nice 5" field_is alice-a .usage.nice 5
refused "$ALICE" "alice's nice 2 (below the current 5)" nice alice-a 2
refused "$ALICE" "alice's nice -5" nice alice-a -5
assert_true "the daemon logged the refused nice" grep -q "refused nice -5 on build .* for $ALICE" "$T/daemon.log"
sleep 1.2 # new processes of the build appear meanwhile
assert_true "alice-a stays at niceness 5" nice_is alice-a 5
assert_eq "bob-a's builder keeps niceness 0" 0 "$(ps -o ni= -p "$BUILDER_B" | tr -d ' ')"
status_prompt "after alice's nice"

# --- bob may not act on alice's build ---
refused "$BOB" "bob's kill of alice-a" kill alice-a
refused "$BOB" "bob's freeze of alice-a" freeze alice-a
refused "$BOB" "bob's nice 10 of alice-a" nice alice-a 10
assert_true "the daemon logged bob's refused kill" grep -q "refused kill on build .* for $BOB" "$T/daemon.log"
LA0=$(field alice-a .log_lines)
sleep 1.6
assert_eq "alice-a still runs" running "$(field alice-a .state)"
assert_ge "alice-a's log keeps growing (>= 2 lines in 1.6 s)" $((LA0 + 2)) "$(field alice-a .log_lines)"
assert_true "alice-a's builder is alive" kill -0 "$BUILDER_A"
assert_true "alice-a keeps niceness 5 (bob's nice 10 not applied)" nice_is alice-a 5
status_prompt "after bob's refused actions"

# --- alice freezes and thaws her own build ---
out=$(as "$ALICE" freeze alice-a 2>&1)
assert_eq "alice may freeze her build (exit 0)" 0 "$?"
wait_for 5 "alice-a shows frozen" field_is alice-a .state frozen && pass "alice-a is frozen"
sleep 0.6 # a line in flight when it froze may still arrive
LA1=$(field alice-a .log_lines) LB1=$(field bob-a .log_lines)
sleep 2
assert_eq "frozen: alice-a's log stops" "$LA1" "$(field alice-a .log_lines)"
assert_ge "meanwhile bob-a goes on (>= 2 lines in 2 s)" $((LB1 + 2)) "$(field bob-a .log_lines)"
status_prompt "alice-a frozen"
out=$(as "$ALICE" thaw alice-a 2>&1)
assert_eq "alice may thaw her build (exit 0)" 0 "$?"
wait_for 5 "alice-a runs again" field_is alice-a .state running && pass "alice-a is running again"
log_resumed() { (($(field alice-a .log_lines) > LA1 + 1)); }
wait_for 5 "alice-a's log resumes" log_resumed && pass "thawed: alice-a's log resumes"

# --- alice kills her own build; bob's is untouched ---
out=$(as "$ALICE" kill alice-a 2>&1)
assert_eq "alice may kill her build (exit 0)" 0 "$?"
wait_for 5 "alice-a is marked killed" field_is alice-a .state killed && pass "alice-a is killed"
gone() { ! kill -0 "$BUILDER_A" 2>/dev/null; }
wait_for 5 "alice-a's builder is gone" gone
assert_true "the daemon logged the kill with who asked" grep -q "kill on build .* asked by $ALICE" "$T/daemon.log"
LB2=$(field bob-a .log_lines)
sleep 1.2
assert_ge "bob-a carries on after the kill" $((LB2 + 2)) "$(field bob-a .log_lines)"
status_prompt "after alice's kill"

alice_done() { [[ -s "$T/rc.alice" ]]; }
bob_done() { [[ -s "$T/rc.bob" ]]; }
wait_for 30 "alice's nix-build ends" alice_done
assert_ne "alice's nix-build fails" 0 "$(cat "$T/rc.alice" 2>/dev/null)"
# One line up to 2.33 ("builder for '…-alice-a.drv' failed due to signal 9"), two from 2.34
# ("Cannot build '…-alice-a.drv'." then "Reason: builder failed due to signal 9").
assert_true "Nix reports alice-a killed by signal 9" grep -qzE "alice-a\.drv'[^']{0,80}failed due to signal 9" "$T/out.alice"
wait_for 60 "bob's nix-build ends" bob_done
assert_eq "bob's nix-build succeeds" 0 "$(cat "$T/rc.bob" 2>/dev/null)"
wait_for 10 "bob-a succeeded" field_is bob-a .state succeeded && pass "bob-a succeeded, untouched"
assert_eq "alice-a stays killed" killed "$(field alice-a .state)"
status_prompt "at the end"

stop_pid "$NIXD_PID" 10
