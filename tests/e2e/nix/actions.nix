# Builds to act on (tests/e2e/actions-*.sh, limits.sh, restart.sh): each prints a line every
# 0.5 s for up to `seconds`, so freezing stops its log and killing it is seen at once.
# `gate` is a file the test creates when a build may go on to its next step.
{ nonce ? "unset", prefix ? "act", seconds ? 60, gate ? "/nonexistent" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
  n = s: "${prefix}-${s}";
  slow = name: secs: mk (n name) ''
    i=0
    while [ $i -lt ${toString (secs * 2)} ]; do
      i=$((i + 1)); echo "${name} line $i"; sleep 0.5
    done
    echo ok > $out
  '' [ ];
in {
  a = slow "a" seconds;
  b = slow "b" (seconds / 2);
  # Burns one core in the shell itself (no child processes), a line every ~0.25 s of CPU.
  busy = mk (n "busy") ''
    end=$(( $(date +%s) + ${toString seconds} )); i=0
    while [ "$(date +%s)" -lt $end ]; do
      j=0; while [ $j -lt 20000 ]; do j=$((j + 1)); done
      i=$((i + 1)); echo "busy $i"
    done
    echo ok > $out
  '' [ ];
  # Structured attrs: the builder's environment has no out=, only $NIX_ATTRS_JSON_FILE.
  attrs = derivation {
    name = n "attrs";
    inherit nonce;
    system = builtins.currentSystem;
    __structuredAttrs = true;
    builder = "/bin/bash";
    args = [ "-c" ''
      source "$NIX_ATTRS_SH_FILE"
      for i in $(seq 1 ${toString (seconds * 2)}); do echo "attrs line $i"; sleep 0.5; done
      echo ok > "''${outputs[out]}"
    '' ];
    PATH = "/usr/bin:/bin";
  };
  # Waits for the gate, then grows its memory until something stops it.
  hog = mk (n "hog") ''
    while [ ! -e ${gate} ]; do echo "hog waiting"; sleep 0.5; done
    echo "hog allocating"
    exec awk 'BEGIN { s = "xxxxxxxxxxxxxxxx"; while (1) { s = s s; print length(s) } }'
  '' [ ];
}
