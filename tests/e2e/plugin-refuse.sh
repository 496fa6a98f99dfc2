#!/usr/bin/env bash
# The plugin loaded into a nix-daemon whose TunnelLogger is not laid out as it expects (an
# unsupported Nix): one clear warning line on stderr, no patch, no crash, and the daemon's
# own code keeps working. The control is the same host with the real TunnelLogger of Debian's
# libnixstore: no warning. Run as `bash plugin-refuse.sh DAEMON CTL PLUGIN FAKE CONTROL`.
source "$(dirname "$0")/plugin-lib.sh"

FAKE=${4:-}
CONTROL=${5:-}
plugin_setup
[[ -x $FAKE && -x $CONTROL ]] || die "fake nix-daemon hosts missing: '$FAKE' '$CONTROL'"

WARNING="libnix-analytics: warning: TunnelLogger vtable layout does not match (startActivity); nix-daemon workers are not captured"

(exec -a nix-daemon "$FAKE" "$NA_PLUGIN") >"$T/fake.out" 2>"$T/fake.err"
assert_eq "a nix-daemon with a foreign TunnelLogger runs on" 0 $?
assert_eq "its own code still works (nothing patched)" "alive 24" "$(cat "$T/fake.out")"
assert_eq "exactly one warning line, naming the mismatch" "$WARNING" "$(grep -v '^a worker' "$T/fake.err")"

(exec -a nix-daemon "$CONTROL" "$NA_PLUGIN") >"$T/control.out" 2>"$T/control.err"
assert_eq "the same host with Nix's own TunnelLogger runs" 0 $?
assert_eq "and prints no warning" "" "$(grep libnix-analytics "$T/control.err")"
