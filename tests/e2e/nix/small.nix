# Two quick derivations (one depending on the other) with phases and a few log lines.
{ nonce ? "unset", prefix ? "small" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk phase;
in rec {
  leaf = mk "${prefix}-leaf" ''
    ${phase "buildPhase"}; for i in 1 2 3 4 5; do echo "leaf line $i"; done
    ${phase "installPhase"}; echo ok > $out
  '' [ ];
  root = mk "${prefix}-root" ''
    ${phase "buildPhase"}; echo "root uses $deps"; echo ok > $out
  '' [ leaf ];
}
