# The history test's graph: builders that sleep known times, so durations and the ETAs
# derived from them can be checked. Names stay the same from run to run (only the nonce
# changes), so each run's builds share package names with the previous runs'.
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in rec {
  a = mk "hist-a" ''echo a; sleep 1; echo ok > $out'' [ ];
  b = mk "hist-b" ''echo b; sleep 2; echo ok > $out'' [ a ];
  c = mk "hist-c" ''echo c; sleep 1; exit 3'' [ ];
  d = mk "hist-d" ''echo d; sleep 1; echo ok > $out'' [ ];
  top = mk "hist-top" ''echo top; echo ok > $out'' [ a b ];
}
