# Scenarios of the truth tests (tests/e2e/truth-*.sh): what Nix, the store and the kernel say
# about a build, against what the daemon shows.
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in {
  # truth-failed: a builder that exits 3 after 2 s, beside one that runs for about 20 s
  # (nix-build -k).
  fail = mk "truth-fail" ''echo "failing soon"; sleep 2; echo "exiting 3"; exit 3'' [ ];
  long = mk "truth-long" ''
    for i in $(seq 1 40); do echo "long $i"; sleep 0.5; done; echo ok > $out
  '' [ ];
  # truth-leaked: a builder that writes its output, starts a child that outlives it by about
  # 12 s (holding the build's log open, so Nix waits for it), and exits after 2 s; beside a
  # quick one whose success moves Nix's done count meanwhile.
  leaky = mk "truth-leaky" ''
    echo ok > $out
    (sleep 14; echo "child done") &
    echo "child started"; sleep 2; echo "builder exits"
  '' [ ];
  quick = mk "truth-quick" ''sleep 4; echo ok > $out'' [ ];
  # truth-mem: three processes that each hold 8 MiB from their first moment (so most of it may
  # be charged to whatever cgroup the build was in before the daemon adopted it), then sleep.
  mem = mk "truth-mem" ''
    for i in 1 2 3; do
      (x=$(head -c 8388608 /dev/zero | tr '\0' x); echo "child $i ready"; sleep 20; echo "''${#x}") &
    done
    sleep 21; echo ok > $out
  '' [ ];
  # truth-counts: nine derivations, Nix's plan for all of them: five that succeed, one that exits
  # 3, two that need it and a top that needs it too (dependency failures under -k).
  counts = let
    ok = i: mk "truth-c-ok${toString i}" ''sleep 1; echo ok > $out'' [ ];
    fail = mk "truth-c-fail" ''sleep 1; exit 3'' [ ];
    dep = i: mk "truth-c-dep${toString i}" ''echo ok > $out'' [ fail ];
  in mk "truth-c-top" ''echo ok > $out'' [ (ok 1) (ok 2) (ok 3) (ok 4) (dep 1) (dep 2) ];
  counts-extra = mk "truth-c-ok5" ''sleep 1; echo ok > $out'' [ ];
  # truth-frozen: 5 s of work in 20 steps of 0.25 s: time it spends frozen adds to its wall
  # time, not to its work.
  frozen = mk "truth-frozen" ''
    for i in $(seq 1 20); do echo "step $i"; sleep 0.25; done; echo ok > $out
  '' [ ];
}
