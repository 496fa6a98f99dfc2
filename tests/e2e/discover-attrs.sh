#!/usr/bin/env bash
# A build with __structuredAttrs: its builder's environment names no outputs (only
# $NIX_ATTRS_JSON_FILE, read through /proc/<pid>/root), yet the daemon finds its builder,
# shows its processes and figures, and the build succeeds.
source "$(dirname "$0")/lib.sh"

check_binaries
nix_setup
[[ $(id -u) == 0 ]] || skip "reading builders of nixbld users needs root"
source "$E2E_DIR/lib-proc.sh"

start_daemon --cgroup-root "$CGROOT" --sample-interval 0.5
D=$(nix-instantiate "$E2E_DIR/nix/actions.nix" -A attrs --argstr nonce "$NONCE" --arg seconds 6 2>/dev/null)
assert_true "the derivation uses structured attrs" grep -q '__json' "$D"
nix_bg "$E2E_DIR/nix/actions.nix" -A attrs --argstr nonce "$NONCE" --arg seconds 6

found() { [[ -n "$(builder_of act-attrs)" ]]; }
wait_for 60 "the structured-attrs build's builder is found" found && pass "builder found through NIX_ATTRS_JSON_FILE"
B=$(builder_of act-attrs)
assert_eq "its builder is bash" bash "$(ps -o comm= -p "$B" 2>/dev/null)"
assert_true "its environment really has no out=" bash -c "! tr '\0' '\n' </proc/$B/environ | grep -q '^out='"
assert_true "but NIX_ATTRS_JSON_FILE" bash -c "tr '\0' '\n' </proc/$B/environ | grep -q '^NIX_ATTRS_JSON_FILE='"
wait_for 5 "figures sampled" bash -c "[[ \$('$NA_CTL' -s '$SOCKDIR' get-build act-attrs | jq -r '.build.usage.procs // 0') -ge 1 ]]"
wait_for 60 "nix-build ends" nix_done
assert_eq "nix-build succeeds" 0 "$(nix_rc)"
ok() { [[ "$(field act-attrs .state)" == succeeded ]]; }
wait_for 10 "the build succeeded" ok && pass "act-attrs succeeded"
