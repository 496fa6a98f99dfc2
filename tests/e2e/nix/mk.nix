# Derivations from /bin/sh scripts, no nixpkgs: the builder's PATH is set explicitly and every
# derivation carries the test run's nonce so Nix builds it afresh each run.
{ nonce }:
rec {
  # mk NAME SCRIPT DEPS: DEPS (derivations) become build inputs through string context.
  mk = name: script: deps: derivation {
    inherit name nonce;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
    inherit deps;
  };

  # What stdenv prints to report a phase; Nix turns it into a setPhase result (type 104).
  phase = p: "echo '@nix {\"action\":\"setPhase\",\"phase\":\"${p}\"}' >&2";
}
