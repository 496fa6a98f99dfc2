# The hosts-many test's builds, one set per far host (host: its name): each runs until it is
# killed (at most 60 s).
{ nonce ? "unset", host }:
let
  inherit (import ./mk.nix { nonce = "${nonce}-${host}"; }) mk;
  long = name: mk name ''echo start; i=0; while [ $i -lt 120 ]; do sleep 0.5; i=$((i + 1)); done; echo ok > $out'' [ ];
in {
  one = long "mh-${host}-one";
  two = long "mh-${host}-two";
}
