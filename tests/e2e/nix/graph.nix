# The ingest test's graph: 8 derivations, 5 of them ready at once (so -j3 runs several in
# parallel), one failing with exit code 3, two depending (directly and transitively) on it,
# one printing exactly 5,000 log lines, one reporting four phases.
{ nonce ? "unset", prefix ? "e2e" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk phase;
  n = s: "${prefix}-${s}";
in rec {
  phases = mk (n "phases") ''
    ${phase "unpackPhase"}; echo unpacking; sleep 0.3
    ${phase "configurePhase"}; echo configuring; sleep 0.3
    ${phase "buildPhase"}; echo building; sleep 0.6
    ${phase "installPhase"}; echo installing; echo ok > $out
  '' [ ];
  seq = mk (n "seq5000") ''
    sleep 1; seq -f 'seq line %g' 1 5000; echo ok > $out
  '' [ ];
  slowA = mk (n "slow-a") ''
    for i in 1 2 3 4; do echo "slow-a $i"; sleep 0.5; done; echo ok > $out
  '' [ ];
  slowB = mk (n "slow-b") ''
    for i in 1 2 3 4; do echo "slow-b $i"; sleep 0.5; done; echo ok > $out
  '' [ ];
  fail = mk (n "fail") ''
    echo "about to fail"; sleep 1; exit 3
  '' [ ];
  afterFail = mk (n "after-fail") ''
    echo never > $out
  '' [ fail ];
  afterAfter = mk (n "after-after") ''
    echo never > $out
  '' [ afterFail ];
  top = mk (n "top") ''
    echo "top depends on $deps"; echo ok > $out
  '' [ phases seq slowA slowB ];
}
