# timeline-restart.sh's build: a phase that holds 64 MiB for 30 s (the daemon is restarted
# twice meanwhile), then a quiet one of 6 s; each says when it starts (on stdout, in the log).
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk phase;
in
mk "tl-restart" ''
  ${phase "growPhase"}
  x=$(head -c 67108864 /dev/zero | tr '\0' x)
  echo "holding ''${#x}"
  sleep 30
  x=
  ${phase "quietPhase"}
  echo "quiet"
  sleep 6
  echo ok > $out
'' [ ]
