# What the NixOS VM tests share: derivation files the VM can build without nixpkgs, and
# Python helpers.
{ pkgs }:
let
  mkTestDrvFile = fileName: builder: path: pkgs.writeText fileName ''
    { nonce, name ? "na-test", seconds ? 2 }:
    derivation {
      inherit name nonce;
      system = builtins.currentSystem;
      builder = ${builder};
      PATH = ${path};
      args = [ "-c" '''
        for i in $(seq 1 $(( ''${toString seconds} * 4 ))); do echo "''${name} line $i"; sleep 0.25; done
        echo ok > $out
      ''' ];
    }
  '';
in
{
  # /etc/na-test.nix in the VM: { nonce, name ? "na-test", seconds ? 2 } builds a derivation
  # printing a line every 0.25 s for `seconds`. Its builder and tools are store paths of the
  # VM's closure, for builds in /nix/store.
  testDrvFile = mkTestDrvFile "na-test.nix"
    ''builtins.storePath "${pkgs.bash}" + "/bin/bash"''
    ''builtins.storePath "${pkgs.coreutils}" + "/bin"'';
  # The same for a user's own single-user store (outside /nix/store): the host's tools,
  # used unsandboxed.
  hostToolsDrvFile = mkTestDrvFile "na-test-host.nix" ''"/bin/sh"'' ''"/run/current-system/sw/bin"'';

  # Python for the test scripts: JSON from nix-analytics-ctl, polling with a deadline.
  pythonHelpers = ''
    import json, shlex, time

    def ctl(machine, args, user=None, env=""):
        cmd = f"{env} nix-analytics-ctl {args}"
        if user:
            cmd = f"su - {user} -c {shlex.quote(cmd)}"
        return json.loads(machine.succeed(cmd))

    def wait_json(machine, args, pred, what, user=None, env="", timeout=60):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = ctl(machine, args, user, env)
                if pred(last):
                    return last
            except Exception as e:
                last = e
            time.sleep(0.5)
        raise Exception(f"timed out waiting for {what}: {last}")
  '';
}
