# Four independent slow builds for remote-kill.sh: three are dispatched together to a machine
# with three slots while the fourth waits for a slot; one is killed, the others carry on and
# succeed (the fourth in the slot the killed one left).
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
  d = slow "rkill-d";
}
