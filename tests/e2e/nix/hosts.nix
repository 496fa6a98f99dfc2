# The hosts test's build: one that runs until it is killed (at most 60 s).
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in {
  long = mk "hosts-long" ''echo start; i=0; while [ $i -lt 120 ]; do sleep 0.5; i=$((i + 1)); done; echo ok > $out'' [ ];
}
