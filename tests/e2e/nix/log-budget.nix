# Two builds that each print LINES long log lines, then keep running until the test creates
# the file release (or for a minute), so their logs can be read while they are active.
{ nonce ? "unset", lines ? 3000, release ? "/nonexistent" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
  chatty = name: mk name ''
    i=1
    while [ $i -le ${toString lines} ]; do
      echo "${name} line $i: compiling module $i of ${toString lines} with the usual flags -O2 -g -Wall"
      i=$((i + 1))
    done
    n=0
    while [ ! -e ${release} ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    echo ok > $out
  '' [ ];
in {
  a = chatty "budget-a";
  b = chatty "budget-b";
}
