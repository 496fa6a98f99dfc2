# The remote tests' graph: four leaves of about 4 s each and a top depending on them. Built
# with -j 0 on a machine with 2 slots, two leaves run while two wait for a machine.
{ nonce ? "unset", prefix ? "remote" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk phase;
  n = s: "${prefix}-${s}";
  leaf = i: mk (n "leaf${toString i}") ''
    ${phase "buildPhase"}
    for j in 1 2 3 4 5 6 7 8; do echo "leaf ${toString i} line $j"; sleep 0.5; done
    echo ok > $out
  '' [ ];
in {
  top = mk (n "top") ''
    echo "top: $deps"; echo ok > $out
  '' [ (leaf 1) (leaf 2) (leaf 3) (leaf 4) ];
}
