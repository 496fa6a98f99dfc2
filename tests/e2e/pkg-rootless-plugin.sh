#!/usr/bin/env bash
# Rootless, fed by the plugin: an unprivileged user's own nix-analyticsd (on
# $XDG_RUNTIME_DIR/nix-analytics) and the user's own nix-build in its single-user store with
# the plugin loaded for that command only (no analytics-socket given: the plugin finds the
# user's daemon by the same rules). The build shows up with the user as requester and this
# nix-build's command line, is frozen and thawed by signals, and succeeds.
# Run as `bash pkg-rootless-plugin.sh DAEMON CTL PLUGIN`.
source "$(dirname "$0")/plugin-lib.sh"

plugin_setup
[[ $(id -u) == 0 ]] || skip "creating the unprivileged user needs root"
command -v setpriv >/dev/null || skip "setpriv missing (package util-linux)"
source "$E2E_DIR/lib-rootless.sh"
rootless_setup
cp "$E2E_DIR/nix/rootless.nix" "$T/rootless.nix" && chmod 644 "$T/rootless.nix"

start_user_daemon --store-dir "$RSTORE/store" --sample-interval 0.5
(
	cd "$T" && as_user "${USER_STORE_ENV[@]}" nix-build --option plugin-files "$NA_PLUGIN" "$T/rootless.nix" \
		--argstr nonce "$NONCE" --argstr name rlp --arg seconds 8 --option sandbox false --no-out-link \
		>"$T/nix.out" 2>"$T/nix.err"
	echo $? >"$T/nix.rc"
) &
track $!
running() { [[ "$(ufield rlp .state)" == running ]]; }
wait_for 60 "rlp running in the user's daemon" running || die "rlp never showed up: $(tail -n 5 "$T/nix.err")"
assert_eq "the plugin's build has the user as requester" "$RUID $RU" "$(ufield rlp '"\(.requester.uid) \(.requester.user)"')"
assert_match "and this nix-build's command line" "^nix-build --option plugin-files $NA_PLUGIN " "$(ufield rlp .requester.cmdline)"
tracked() { [[ "$(uctl ps --json rlp 2>/dev/null | jq -r '.control // empty')" == signals ]]; }
wait_for 30 "rlp's builder found, acted on by signals" tracked && pass "rlp: control by signals"
out=$(uctl freeze rlp)
assert_match "freeze: SIGSTOP" "^SIGSTOP to process group" "$(printf '%s' "$out" | jq -r .mechanism)"
frozen() { [[ "$(ufield rlp .state)" == frozen ]]; }
wait_for 5 "rlp frozen" frozen && pass "rlp is frozen"
sleep 0.6
L1=$(ufield rlp .log_lines)
sleep 1.5
assert_eq "frozen: its log stops" "$L1" "$(ufield rlp .log_lines)"
uctl thaw rlp >/dev/null
done_() { [[ -s "$T/nix.rc" ]]; }
wait_for 60 "nix-build ends" done_
assert_eq "nix-build with the plugin exits 0" 0 "$(cat "$T/nix.rc")"
assert_eq "no warning from the plugin on Nix's stderr" "" "$(grep -i 'analytics' "$T/nix.err")"
ok_() { [[ "$(ufield rlp .state)" == succeeded ]]; }
wait_for 10 "rlp succeeded" ok_ && pass "rlp succeeded"
assert_eq "every log line arrived" 32 "$(ufield rlp .log_lines)"
