# Builds for tests/e2e/truth-restart.sh: each builder writes its own start and end times
# (date +%s.%N) to files under `stamps`, so the test measures the real build from outside
# and compares what the daemon says with it. A line every 0.5 s.
{ nonce ? "unset", stamps ? "/nonexistent", seconds ? 20 }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
  timedOn = name: secs: rc: deps: mk "truth-${name}" ''
    date +%s.%N > ${stamps}/${name}.start
    i=0
    while [ $i -lt ${toString (secs * 2)} ]; do
      i=$((i + 1)); echo "${name} line $i"; sleep 0.5
    done
    date +%s.%N > ${stamps}/${name}.end
    [ ${toString rc} = 0 ] || exit ${toString rc}
    echo ok > $out
  '' deps;
  timed = name: secs: rc: timedOn name secs rc [ ];
in rec {
  slow = timed "slow" seconds 0;
  pre = timed "pre" 1 0;
  lost = timed "lost" seconds 0;
  quick = timed "quick" (seconds / 2) 0;
  bad = timed "bad" (seconds / 2) 3;
  # queued while quick runs: it runs (and ends) while the daemon is down in (b)
  after = timedOn "after" 3 0 [ quick ];
}
