# Builds for tests/e2e/truth-many.sh: 36 derivations in four layers (20 leaves, 10 that need
# two leaves each, 5 that need two of those, one top that needs the 5). Each works 0.5 to
# 2.5 s (a line every 0.25 s), writes its own start and end times (date +%s.%N) under
# `stamps`, and its first line is a marker (": truth-many-<nonce>") by which the test finds
# its builder among the kernel's processes. Leaves 3 and 11 exit 1: 2 builds fail, the 5 that
# need them fail as dependencies, 29 succeed.
{ nonce ? "unset", stamps ? "/nonexistent" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
  # quarter seconds of work of build number i: 2 to 10, spread
  quarters = i: 2 + (i * 7) - ((i * 7) / 9) * 9;
  timed = name: i: rc: deps: mk "truth-many-${name}" ''
    : truth-many-${nonce}
    date +%s.%N > ${stamps}/${name}.start
    i=0
    while [ $i -lt ${toString (quarters i)} ]; do i=$((i + 1)); echo "${name} line $i"; sleep 0.25; done
    date +%s.%N > ${stamps}/${name}.end
    [ ${toString rc} = 0 ] || exit ${toString rc}
    echo ok > $out
  '' deps;
  leaf = i: timed "leaf${toString i}" i (if i == 3 || i == 11 then 1 else 0) [ ];
  mid = i: timed "mid${toString i}" (20 + i) 0 [ (leaf (2 * i)) (leaf (2 * i + 1)) ];
  upper = i: timed "upper${toString i}" (30 + i) 0 [ (mid (2 * i)) (mid (2 * i + 1)) ];
in {
  top = timed "top" 35 0 (map upper [ 0 1 2 3 4 ]);
}
