# Builds for the TUI tests: three slow ones to act on (a line every 0.5 s), one that fails
# and one that succeeds quickly.
{ nonce ? "unset", seconds ? 120 }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
  slow = name: mk name ''
    i=0
    while [ $i -lt ${toString (seconds * 2)} ]; do
      i=$((i + 1)); echo "${name} line $i"; sleep 0.5
    done
    echo ok > $out
  '' [ ];
in rec {
  a = slow "tui-a";
  b = slow "tui-b";
  c = slow "tui-c";
  # Waits for b and c: a node with inputs in the dependency tree.
  top = mk "tui-top" "echo top; echo ok > $out" [ b c ];
  # Built with a post-build hook that takes its time (tui-modes: `a` shows it).
  hooked = mk "tui-hooked" "echo ok > $out" [ ];
  quick = mk "tui-quick" "echo quick done; sleep 1; echo ok > $out" [ ];
  # Long enough for the daemon to find its builder (whose exit ends the build: Nix 2.8
  # with -k reports the failure only when the whole invocation ends).
  fail = mk "tui-fail" "echo about to fail; sleep 5; exit 3" [ ];
}
