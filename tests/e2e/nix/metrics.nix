# The metrics test's graph: one build that runs long enough to be scraped a few times while it
# holds memory (metrics-slow: about 8 s, 64 MiB in a shell variable), one that fails
# (metrics-fail, exit 3) and two quick ones.
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in rec {
  quick1 = mk "metrics-quick-1" ''echo q1; echo ok > $out'' [ ];
  quick2 = mk "metrics-quick-2" ''echo q2; echo ok > $out'' [ ];
  fail = mk "metrics-fail" ''echo f; sleep 1; exit 3'' [ ];
  slow = mk "metrics-slow" ''
    echo slow
    big=$(head -c 67108864 /dev/zero | tr '\0' x)
    i=0
    while [ $i -lt 16 ]; do echo "tick $i"; sleep 0.5; i=$((i + 1)); done
    echo "''${#big}" > $out
  '' [ quick1 ];
}
