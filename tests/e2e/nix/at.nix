# at.sh's build: a phase that holds 64 MiB for 10 s, then a quiet one that holds almost
# nothing for 6 s; each says when it starts (on stdout, in the log).
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk phase;
in
mk "at-mem" ''
  ${phase "growPhase"}
  x=$(head -c 67108864 /dev/zero | tr '\0' x)
  echo "holding ''${#x}"
  sleep 10
  x=
  ${phase "quietPhase"}
  echo "quiet"
  sleep 6
  echo ok > $out
'' [ ]
