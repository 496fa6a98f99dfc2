# The stalls test's derivations: one silent for a while after its first line, one that holds
# the lock on its output long enough for a second nix-build to wait for it, one that fills
# its build directory.
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in {
  silent = mk "stall-silent" ''echo started; sleep 20; echo ok > $out'' [ ];
  lock = mk "stall-lock" ''echo holding; sleep 25; echo ok > $out'' [ ];
  tmp = mk "stall-tmp" ''
    head -c 52428800 /dev/zero > big; echo written; sleep 8; echo ok > $out
  '' [ ];
}
