# Three independent slow builds for remote-kill.sh: dispatched together to a machine with
# three slots, one is killed while the others carry on and succeed.
{ nonce ? "unset", seconds ? 30 }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
  slow = name: mk name ''
    for i in $(seq 1 ${toString (seconds * 2)}); do echo "${name} line $i"; sleep 0.5; done
    echo ok > $out
  '' [ ];
in {
  a = slow "rkill-a";
  b = slow "rkill-b";
  c = slow "rkill-c";
}
