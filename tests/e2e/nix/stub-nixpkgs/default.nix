# `import nixpkgs { system; overlays; }` for flake.nix under evaluation (see lib.nix).
{ system ? "x86_64-linux", overlays ? [ ], ... }:
(import ./lib.nix).mkPkgs { inherit system overlays; }
