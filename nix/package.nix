# nix-analytics from this source tree: the daemon, the CLI, the TUI, units, man pages and
# completions (the default package); or, with pluginOnly, just libnix-analytics.so built
# against the headers of `nix`, which must be the Nix it will be loaded into.
{
  lib,
  stdenv,
  meson,
  ninja,
  pkg-config,
  scdoc,
  systemd,
  cjson,
  uthash,
  sqlite,
  libmicrohttpd,
  ncurses,
  cmocka,
  nix,
  boost,
  nlohmann_json,
  pluginOnly ? false,
  src ? ../.,
}:

let
  # The version is meson's: project('nix-analytics', 'c', version : '…', …)
  mesonBuild = builtins.readFile ../meson.build;
  version = builtins.head (builtins.match "project\\('nix-analytics', *'c', *version : '([^']+)'.*" (builtins.replaceStrings [ "\n" ] [ " " ] mesonBuild));
in
stdenv.mkDerivation {
  pname = if pluginOnly then "nix-analytics-plugin" else "nix-analytics";
  inherit version src;

  nativeBuildInputs = [ meson ninja pkg-config scdoc ];
  buildInputs = [ systemd cjson uthash sqlite ncurses libmicrohttpd ]
    ++ lib.optionals pluginOnly [ nix boost nlohmann_json ];
  nativeCheckInputs = [ ];
  checkInputs = [ cmocka ];

  mesonFlags = [
    "--sbindir=bin"
    (lib.mesonEnable "plugin" pluginOnly)
    (lib.mesonEnable "tests" (!pluginOnly))
    (lib.mesonEnable "man" (!pluginOnly))
    (lib.mesonOption "systemdsystemunitdir" "${placeholder "out"}/lib/systemd/system")
    (lib.mesonOption "systemduserunitdir" "${placeholder "out"}/lib/systemd/user")
  ];

  # Unit tests and the fuzzers' seed corpora; the end-to-end suites need a real Nix store and
  # root, and run in the NixOS VM tests (flake checks) instead.
  doCheck = !pluginOnly;
  checkPhase = ''
    runHook preCheck
    meson test --print-errorlogs --suite unit --suite fuzz
    runHook postCheck
  '';

  # The plugin package holds the plugin alone.
  postInstall = lib.optionalString pluginOnly ''
    find $out -mindepth 1 -maxdepth 1 ! -name lib -exec rm -rf {} +
    find $out/lib -mindepth 1 -maxdepth 1 ! -name nix-analytics -exec rm -rf {} +
  '';

  passthru = {
    inherit pluginOnly;
    nixVersion = nix.version;
  };

  meta = {
    description = if pluginOnly then "Nix plugin that reports every build to nix-analyticsd (for Nix ${nix.version})"
      else "htop for Nix: every build on the machine, live, with history and control";
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "nix-analytics";
  };
}
