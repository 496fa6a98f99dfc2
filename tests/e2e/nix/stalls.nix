# The stalls test's derivations: one silent for a while after its first line, one that holds
# the lock on its output long enough for a second nix-build to wait for it, one that fills
# its build directory; the lock holder again with a content-addressed output (experimental
# feature ca-derivations: its path is not known before it is built, so Nix locks
# "<drv path>.out" instead).
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in {
  silent = mk "stall-silent" ''echo started; sleep 20; echo ok > $out'' [ ];
  lock = mk "stall-lock" ''echo holding; sleep 25; echo ok > $out'' [ ];
  lock-ca = derivation ((mk "stall-lock-ca" ''echo holding; sleep 15; echo ok > $out'' [ ]).drvAttrs // {
    __contentAddressed = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  });
  tmp = mk "stall-tmp" ''
    head -c 52428800 /dev/zero > big; echo written; sleep 8; echo ok > $out
  '' [ ];
}
