# Builds for tests/e2e/pressure.sh. `hog` waits for the gate file, then for `seconds` writes a
# 96 MB file in its build directory and reads it back, over and over: under a small memory
# limit its pages must be reclaimed all the time, and its processes stall for memory
# (pressure). `quiet` sleeps beside it, printing a line every 0.5 s.
{ nonce ? "unset", seconds ? 20, gate ? "/nonexistent" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in {
  hog = mk "pressure-hog" ''
    while [ ! -e ${gate} ]; do echo "hog waiting"; sleep 0.5; done
    echo "hog reclaiming"
    end=$(($(date +%s) + ${toString seconds}))
    while [ "$(date +%s)" -lt "$end" ]; do
      dd if=/dev/zero of=big bs=1M count=96 status=none
      cat big big > /dev/null
      rm -f big
    done
    echo "hog done"
    echo ok > $out
  '' [ ];
  quiet = mk "pressure-quiet" ''
    i=0
    while [ ! -e ${gate}2 ]; do
      i=$((i + 1)); echo "quiet line $i"; sleep 0.5
    done
    echo ok > $out
  '' [ ];
}
