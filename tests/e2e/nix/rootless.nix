# A build for the rootless test (tests/e2e/pkg-rootless.sh): prints a line every 0.25 s for
# `seconds`, so a freeze is seen in its log. Builder /bin/sh with the host's PATH: it runs
# unsandboxed (a user's single-user store) or through a nix-daemon, unchanged.
{ nonce ? "unset", name ? "rootless", seconds ? 10 }:
derivation {
  inherit name nonce;
  system = builtins.currentSystem;
  builder = "/bin/sh";
  PATH = "/usr/bin:/bin";
  args = [ "-c" ''
    i=0
    while [ $i -lt ${toString (seconds * 4)} ]; do
      i=$((i + 1)); echo "${name} line $i"; sleep 0.25
    done
    echo ok > $out
  '' ];
}
