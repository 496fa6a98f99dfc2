# NixOS module services.nix-analytics: nix-analyticsd as a hardened system service that sees
# every build of nix-daemon (through the plugin loaded into nix-daemon only, or Nix's own
# json-log-path on Nix >= 2.30), with history, cgroups for builds, and an optional rootless
# per-user service. Documented in docs/install.md.
{ config, lib, pkgs, ... }:

let
  inherit (lib) mkOption mkEnableOption mkIf mkMerge mkDefault types optionals literalExpression;

  cfg = config.services.nix-analytics;

  nixPackage = config.nix.package;
  nixVersion = nixPackage.version;
  isLix = lib.hasPrefix "lix" (nixPackage.pname or "");
  # Where the plugin captures nix-daemon's workers: CppNix 2.8 to 2.34. It builds for 2.35 and
  # Lix 2.95 too (src/plugin/meson.build), but 2.35's TunnelLogger is internal to libnixstore
  # and the Lix route has never been run, so the module does not load it there.
  pluginSupported = !isLix && lib.versionAtLeast nixVersion "2.8" && lib.versionOlder nixVersion "2.35";
  jsonLogPathSupported = !isLix && lib.versionAtLeast nixVersion "2.30";

  eventsSocket = "${cfg.socketDir}/events.sock";
  pluginFile = "${cfg.pluginPackage}/lib/nix-analytics/libnix-analytics.so";

  # Settings for nix-daemon alone (its environment), never /etc/nix/nix.conf: every user's
  # `nix` would load the plugin too (fatal on a version mismatch) or connect to the socket.
  daemonNixConfig =
    if cfg.captureMethod == "plugin" then
      "plugin-files = ${pluginFile}\nanalytics-socket = ${eventsSocket}"
    else if cfg.captureMethod == "json-log-path" then
      "json-log-path = ${eventsSocket}"
    else
      "";

  daemonArgs =
    [
      "--socket-dir" cfg.socketDir
      "--history-db" (if cfg.history.enable then "/var/lib/nix-analytics/history.db" else "none")
      "--history-max-age" (toString cfg.history.maxAgeDays)
      "--history-max-rows" (toString cfg.history.maxRows)
      "--sample-interval" (toString cfg.sampleInterval)
      "--log-budget" cfg.logBudget
      "--machines-poll-interval" (toString cfg.machines.pollInterval)
      "--machines-poll-timeout" (toString cfg.machines.pollTimeout)
    ]
    ++ optionals (cfg.adminGroup != null) [ "--admin-group" cfg.adminGroup ]
    ++ optionals (cfg.metrics.listen != null) [ "--metrics-listen" cfg.metrics.listen ]
    ++ cfg.extraArgs;

  # What the daemon can live with (systemd/nix-analytics.service.in explains each choice):
  # it reads every /proc entry and the store, writes cgroupfs, signals and renices builds of
  # other users, and runs ssh to poll remote builders.
  hardening = {
    ProtectSystem = "strict";
    ProtectHome = "read-only";
    PrivateTmp = true;
    PrivateDevices = true;
    NoNewPrivileges = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectClock = true;
    ProtectHostname = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    RestrictNamespaces = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [ "@system-service" ];
    SystemCallErrorNumber = "EPERM";
    RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" ];
    CapabilityBoundingSet = [
      "CAP_KILL" "CAP_SYS_NICE" "CAP_SYS_PTRACE" "CAP_DAC_OVERRIDE" "CAP_DAC_READ_SEARCH"
      "CAP_FOWNER" "CAP_SYS_RESOURCE"
    ];
  };
in
{
  options.services.nix-analytics = {
    enable = mkEnableOption "nix-analytics, htop for Nix: nix-analyticsd watching every build of nix-daemon";

    package = mkOption {
      type = types.package;
      default = pkgs.nix-analytics or (pkgs.callPackage ./package.nix { });
      defaultText = literalExpression "pkgs.nix-analytics";
      description = "The daemon, the CLI and the TUI.";
    };

    pluginPackage = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix {
        nix = config.nix.package;
        pluginOnly = true;
      };
      defaultText = literalExpression "the plugin built against config.nix.package";
      description = ''
        libnix-analytics.so. It must be built against exactly the Nix that nix-daemon runs
        (config.nix.package): a plugin that fails to load stops nix-daemon.
      '';
    };

    captureMethod = mkOption {
      type = types.enum [ "plugin" "json-log-path" "none" ];
      default =
        if !isLix && lib.versionAtLeast nixVersion "2.35" then "json-log-path"
        else if pluginSupported then "plugin"
        else "none";
      defaultText = literalExpression ''"plugin" for Nix 2.8 to 2.34, "json-log-path" from 2.35'';
      description = ''
        How nix-daemon reports builds: the plugin loaded into nix-daemon only (Nix 2.8 to
        2.34), Nix's own json-log-path (CppNix 2.30 and later, not Lix), or none (feed
        builds with `nix-analytics-ctl ingest`).
      '';
    };

    socketDir = mkOption {
      type = types.str;
      default = "/run/nix-analytics";
      description = ''
        Directory of events.sock and control.sock. Set as NIX_ANALYTICS_SOCKET_DIR for the
        service and for every session, created by tmpfiles, and given to the plugin as
        analytics-socket.
      '';
    };

    adminGroup = mkOption {
      type = types.nullOr types.str;
      default = "nix-analytics";
      description = "Members may act on every build (kill, freeze, limits); null for none. The group is created.";
    };

    history = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Keep finished builds in /var/lib/nix-analytics/history.db (ETAs come from it).";
      };
      maxAgeDays = mkOption {
        type = types.ints.unsigned;
        default = 365;
        description = "Delete history older than this many days (0: never).";
      };
      maxRows = mkOption {
        type = types.ints.unsigned;
        default = 1000000;
        description = "Keep at most this many history rows (0: no limit).";
      };
    };

    sampleInterval = mkOption {
      type = types.either types.ints.positive types.float;
      default = 1;
      description = "Seconds between samples of the builds' processes (0.05 to 3600).";
    };

    logBudget = mkOption {
      type = types.strMatching "[0-9]+[KMG]?";
      default = "16M";
      example = "64M";
      description = ''
        Memory for all builds' log lines together (bytes; K, M, G suffixes; "0": no limit). When
        it is spent the oldest lines of the largest logs go first; the whole log stays in
        `nix log`.
      '';
    };

    metrics = {
      listen = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "127.0.0.1:9479";
        description = ''
          Serve Prometheus metrics at http://ADDRESS/metrics (HOST:PORT, [IPV6]:PORT, or PORT
          alone for 127.0.0.1). Off (null) by default. The endpoint has no authentication:
          keep it on loopback and let a local Prometheus or a TLS proxy reach it.
        '';
      };
    };

    machines = {
      pollInterval = mkOption {
        type = types.ints.unsigned;
        default = 30;
        description = "Seconds between polls of each remote builder over ssh (0: never).";
      };
      pollTimeout = mkOption {
        type = types.ints.positive;
        default = 10;
        description = "Give up on one poll of a remote builder after this many seconds.";
      };
    };

    nixCgroups = mkOption {
      type = types.bool;
      default = lib.versionAtLeast nixVersion "2.12";
      defaultText = literalExpression ''lib.versionAtLeast config.nix.package.version "2.12"'';
      description = ''
        Let Nix put each build in a cgroup of its own (use-cgroups, the cgroups experimental
        feature, Delegate=yes on nix-daemon.service), which nix-analyticsd then uses.
      '';
    };

    userService.enable = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Also start a rootless nix-analyticsd for every user session (systemd user unit): sockets
        in $XDG_RUNTIME_DIR/nix-analytics, history in $XDG_STATE_HOME/nix-analytics.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "--log-ring" "2000" ];
      description = "More nix-analyticsd options (nix-analyticsd(8)).";
    };
  };

  config = mkMerge [
    (mkIf cfg.enable (mkMerge [
      {
        assertions = [
          {
            assertion = lib.hasPrefix "/" cfg.socketDir;
            message = "services.nix-analytics.socketDir must be an absolute path, not '${cfg.socketDir}'.";
          }
          {
            assertion = cfg.captureMethod != "plugin" || pluginSupported;
            message = "services.nix-analytics.captureMethod = \"plugin\" needs CppNix 2.8 to 2.34 (nix.package is ${nixPackage.pname or "nix"} ${nixVersion}); use \"json-log-path\" (Nix >= 2.30) or \"none\".";
          }
          {
            assertion = cfg.captureMethod != "json-log-path" || jsonLogPathSupported;
            message = "services.nix-analytics.captureMethod = \"json-log-path\" needs CppNix >= 2.30 (nix.package is ${nixPackage.pname or "nix"} ${nixVersion}).";
          }
        ];

        environment.systemPackages = [ cfg.package ];
        environment.sessionVariables.NIX_ANALYTICS_SOCKET_DIR = cfg.socketDir;
        systemd.tmpfiles.rules = [ "d ${cfg.socketDir} 0755 root root -" ];
        users.groups = lib.optionalAttrs (cfg.adminGroup != null) { ${cfg.adminGroup} = { }; };

        systemd.services.nix-analytics = {
          description = "nix-analytics build monitor";
          documentation = [ "man:nix-analyticsd(8)" "man:nix-analytics-ctl(1)" "man:nix-analytics(1)" ];
          wantedBy = [ "multi-user.target" ];
          before = [ "nix-daemon.service" ];
          environment.NIX_ANALYTICS_SOCKET_DIR = cfg.socketDir;
          path = [ config.programs.ssh.package ];
          startLimitIntervalSec = 60;
          startLimitBurst = 5;
          serviceConfig = hardening // {
            Type = "notify";
            NotifyAccess = "main";
            WatchdogSec = "30s";
            ExecStart = "${cfg.package}/bin/nix-analyticsd ${lib.escapeShellArgs daemonArgs}";
            Restart = "on-failure";
            RestartSec = "2s";
            # Builds adopted into its own cgroup subtree survive a restart of the monitor;
            # systemd (>= 254) starts the daemon in <unit>/daemon, a leaf beside <unit>/builds.
            Delegate = true;
            DelegateSubgroup = "daemon";
            KillMode = "process";
            StateDirectory = "nix-analytics";
            ReadWritePaths = [ cfg.socketDir ];
            UMask = "0022";
            LimitNOFILE = 65536;
          };
        };
      }

      (mkIf (cfg.captureMethod != "none") {
        systemd.services.nix-daemon = {
          environment.NIX_CONFIG = daemonNixConfig;
          wants = [ "nix-analytics.service" ];
          after = [ "nix-analytics.service" ];
        };
      })

      # Defaults only: the machine's own nix.settings and Nix's own unit (which has
      # Delegate=yes from 2.25) win.
      (mkIf cfg.nixCgroups {
        nix.settings = {
          experimental-features = [ "cgroups" ];
          use-cgroups = mkDefault true;
        };
        systemd.services.nix-daemon.serviceConfig.Delegate = mkDefault true;
      })
    ]))

    (mkIf cfg.userService.enable {
      environment.systemPackages = [ cfg.package ];
      systemd.user.services.nix-analytics = {
        description = "nix-analytics build monitor (rootless, this user's builds)";
        documentation = [ "man:nix-analyticsd(8)" ];
        wantedBy = [ "default.target" ];
        environment.NIX_ANALYTICS_SOCKET_DIR = "%t/nix-analytics";
        serviceConfig = {
          Type = "notify";
          NotifyAccess = "main";
          WatchdogSec = "30s";
          ExecStart = "${cfg.package}/bin/nix-analyticsd --socket-dir %t/nix-analytics --history-db %S/nix-analytics/history.db";
          Restart = "on-failure";
          RestartSec = "2s";
          Delegate = true;
          KillMode = "process";
          StateDirectory = "nix-analytics";
          NoNewPrivileges = true;
          LockPersonality = true;
        };
      };
    })
  ];
}
