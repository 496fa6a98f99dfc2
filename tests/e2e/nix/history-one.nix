# One quick derivation for the history fault tests.
{ nonce ? "unset", name ? "hist-one" }:
(import ./mk.nix { inherit nonce; }).mk name ''echo one; echo ok > $out'' [ ]
