# Builds for tui-glance: one invocation whose builds end at once (succeeded, exit 3, signal 9,
# a dependency failed), and one that runs: a build using CPU, one with a long name writing a
# line every 0.2 s, and one queued behind them (-j2).
{ nonce ? "unset", seconds ? 120 }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
  n = toString (seconds * 5);
in rec {
  ok = mk "glance-ok-1.0" "echo ok > $out" [ ];
  exit3 = mk "glance-exit-2.0" "echo failing; sleep 4; exit 3" [ ];
  sig = mk "glance-sig-3.0" "echo dying; sleep 4; kill -9 $$" [ ];
  bad = mk "glance-bad-0.1" "echo bad; sleep 4; exit 1" [ ];
  dep = mk "glance-dep-4.0" "echo ok > $out" [ bad ];
  # Bursts of CPU between short sleeps: a CPU% well above the others'.
  busy = mk "glance-busy-5.0" ''
    i=0
    while [ $i -lt ${n} ]; do
      i=$((i + 1)); j=0
      while [ $j -lt 20000 ]; do j=$((j + 1)); done
      echo "busy $i"; sleep 0.2
    done
    echo ok > $out
  '' [ ];
  long = mk "glance-a-very-long-package-name-for-narrow-terminals-2.34.1" ''
    i=0
    while [ $i -lt ${n} ]; do i=$((i + 1)); echo "long line $i"; sleep 0.2; done
    echo ok > $out
  '' [ ];
  # Waits for busy: queued while busy runs.
  waits = mk "glance-waits-6.0" "echo ok > $out" [ busy ];
}
