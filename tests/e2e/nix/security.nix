# Builds for tests/e2e/security-pids.sh. `orphan`: a builder that leaves a child in its session
# holding the build log open, so that when the test kills the builder Nix still waits for the
# log's end and the build stays running with its builder gone.
{ nonce ? "unset" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk;
in {
  orphan = mk "sec-orphan" ''
    sleep 600 &
    i=0
    while [ $i -lt 600 ]; do i=$((i + 1)); echo "orphan line $i"; sleep 0.5; done
    echo ok > $out
  '' [ ];
}
