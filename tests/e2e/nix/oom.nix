# Builds for tests/e2e/oom.sh. `hog` waits for the gate file, then its shell reads 200 MB into
# a variable (past any small memory limit: the kernel's OOM killer ends the shell, the
# builder). `child`: the same in a child of the builder, which lives on. `bystander` holds 20 MB in a variable and prints a line every 0.5 s.
{ nonce ? "unset", seconds ? 60, gate ? "/nonexistent" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in {
  hog = mk "oom-hog" ''
    while [ ! -e ${gate} ]; do echo "hog waiting"; sleep 0.5; done
    echo "hog allocating"
    x=$(head -c 200000000 /dev/zero | tr '\0' x)
    echo "hog survived with ''${#x} bytes"
    echo ok > $out
  '' [ ];
  # A child of the builder reads 200 MB: the OOM killer ends it, the builder lives on, waits
  # for the second gate, and succeeds.
  child = mk "oom-child" ''
    while [ ! -e ${gate} ]; do echo "child waiting"; sleep 0.5; done
    sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" x); echo "child has ''${#x}"' || echo "child died: $?"
    echo "builder lives on"
    while [ ! -e ${gate}2 ]; do sleep 0.2; done
    echo ok > $out
  '' [ ];
  bystander = mk "oom-bystander" ''
    x=$(head -c 20000000 /dev/zero | tr '\0' y)
    i=0
    while [ $i -lt ${toString (seconds * 2)} ]; do
      i=$((i + 1)); echo "bystander line $i"; sleep 0.5
    done
    echo ok > $out
  '' [ ];
}
