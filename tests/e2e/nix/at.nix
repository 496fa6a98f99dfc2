# at.sh's build: a phase that holds 64 MiB for `hold` seconds (10), then a quiet phase that
# holds almost nothing for 6 s; each says when it starts (on stdout, in the log).
# timeline-restart.sh builds it as tl-restart, holding for 30 s while the daemon restarts.
{ nonce ? "unset", name ? "at-mem", hold ? 10 }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk phase;
in
mk name ''
  ${phase "growPhase"}
  x=$(head -c 67108864 /dev/zero | tr '\0' x)
  echo "holding ''${#x}"
  sleep ${toString hold}
  x=
  ${phase "quietPhase"}
  echo "quiet"
  sleep 6
  echo ok > $out
'' [ ]
