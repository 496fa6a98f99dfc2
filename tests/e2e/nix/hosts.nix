# The hosts test's builds: two that run until they are killed (at most 60 s); the TUI kills
# hosts-tui, nix-analytics-ctl hosts-long.
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in {
  tui = mk "hosts-tui" ''i=0; while [ $i -lt 120 ]; do sleep 0.5; i=$((i + 1)); done; echo ok > $out'' [ ];
  long = mk "hosts-long" ''echo start; i=0; while [ $i -lt 120 ]; do sleep 0.5; i=$((i + 1)); done; echo ok > $out'' [ ];
}
