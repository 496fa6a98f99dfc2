# Scenarios of tests/e2e/truth-kinds.sh: one per failure kind Nix 2.8 words, each a nix-build
# of its own (`-k` or not). `fail` fails with `kind` about 1 s in (the timeouts: when Nix's
# `--timeout 4` / `--max-silent-time 3` stop it); `dep` needs it; `long` -> `after` -> `last`
# is a chain that succeeds under `-k`. The chain is timed so that without `-k` one build of it
# runs when `fail` fails (Nix stops it) and the rest never starts: `long` runs 4 s (2 s under
# `--timeout 4`, then `after` runs 3 s, across the timeout). Derivation names carry the
# kind and the mode (`tag`), so every scenario's builds are its own.
{ nonce ? "unset", kind ? "exit", tag ? "k" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
  n = "truth-${tag}-${kind}";
  # lines N: N lines, one every 0.25 s (never silent for Nix).
  lines = count: ''
    i=0; while [ $i -lt ${toString count} ]; do i=$((i + 1)); echo "line $i"; sleep 0.25; done
  '';
  timed = kind == "timeout";
  fails = {
    exit = ''sleep 1; echo "exiting 3"; exit 3'';
    segv = ''sleep 1; echo "SIGSEGV to myself"; kill -SEGV $$'';
    sigkill = ''sleep 1; echo "SIGKILL to myself"; kill -KILL $$'';
    # exits 0 without writing $out
    noout = ''sleep 1; echo "no output written"'';
    # 100 lines of 50 bytes: over the scenario's `max-build-log-size` (4000 bytes)
    loglimit = ''
      sleep 1; i=0
      while [ $i -lt 100 ]; do i=$((i + 1)); echo "line $i of a log longer than the limit allows"; done
      sleep 10; echo ok > $out
    '';
    timeout = ''echo "sleeping past the timeout"; sleep 30; echo ok > $out'';
    silent = ''echo "silent from now on"; sleep 30; echo ok > $out'';
  };
  # A fixed-output derivation whose output has another hash than the one it declares. Its
  # output path depends on its name and hash only: the name carries the nonce.
  hash = derivation {
    name = "${n}-fail-${builtins.replaceStrings [ "-" ] [ "x" ] nonce}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" ''sleep 1; echo "not the declared content" > $out'' ];
    PATH = "/usr/bin:/bin";
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = "0000000000000000000000000000000000000000000000000000000000000000";
  };
  fail = if kind == "hash" then hash else mk "${n}-fail" fails.${kind} [ ];
  long = mk "${n}-long" ''${lines (if timed then 8 else 16)} echo ok > $out'' [ ];
  after = mk "${n}-after" ''${lines (if timed then 12 else 2)} echo ok > $out'' [ long ];
in {
  inherit fail;
  dep = mk "${n}-dep" ''echo ok > $out'' [ fail ];
  last = mk "${n}-last" ''sleep 0.3; echo ok > $out'' [ after ];
}
