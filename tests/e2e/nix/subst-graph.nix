# A build whose input comes from a binary cache: subst-x needs subst-y, which the test
# builds first, copies to a file cache and deletes, so Nix substitutes it and builds subst-x.
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in rec {
  y = mk "subst-y" ''echo y; echo ok > $out'' [ ];
  x = mk "subst-x" ''echo x; sleep 0.5; echo ok > $out'' [ y ];
}
