# The demo's graph (scripts/demo.sh): the shape of tests/e2e/nix/graph.nix, slowed down so it
# can be watched (about 20 s with -j3): 8 derivations, 5 of them ready at once, one printing a
# long log (5,000 lines over ~12 s), one reporting four phases, one failing with exit code 3
# and two depending (directly and transitively) on it, and a top one waiting for the rest.
# The tests keep their own, quicker graph.
{ nonce ? "unset", prefix ? "demo" }:
let
  inherit (import ../tests/e2e/nix/mk.nix { inherit nonce; }) mk phase;
  n = s: "${prefix}-${s}";
  slow = name: steps: mk (n name) ''
    i=0
    while [ $i -lt ${toString steps} ]; do
      i=$((i + 1)); echo "${name} step $i of ${toString steps}"; sleep 1
    done
    echo ok > $out
  '' [ ];
in rec {
  phases = mk (n "phases") ''
    ${phase "unpackPhase"}; echo unpacking; sleep 2
    ${phase "configurePhase"}; echo configuring; sleep 2
    ${phase "buildPhase"}; for i in 1 2 3 4; do echo "compiling part $i"; sleep 1; done
    ${phase "installPhase"}; echo installing; sleep 1; echo ok > $out
  '' [ ];
  longLog = mk (n "long-log") ''
    i=0
    while [ $i -lt 100 ]; do
      seq -f 'long log line %g of 5000' $((i * 50 + 1)) $((i * 50 + 50))
      i=$((i + 1)); sleep 0.12
    done
    echo ok > $out
  '' [ ];
  slowA = slow "slow-a" 8;
  slowB = slow "slow-b" 6;
  fail = mk (n "fail") ''
    echo "about to fail"; sleep 4; echo "giving up: exit 3" >&2; exit 3
  '' [ ];
  afterFail = mk (n "after-fail") ''
    echo never > $out
  '' [ fail ];
  afterAfter = mk (n "after-after") ''
    echo never > $out
  '' [ afterFail ];
  top = mk (n "top") ''
    echo "top depends on $deps"; sleep 1; echo ok > $out
  '' [ phases longLog slowA slowB ];
}
