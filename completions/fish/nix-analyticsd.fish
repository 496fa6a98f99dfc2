# fish completion for nix-analyticsd.
complete -c nix-analyticsd -f
complete -c nix-analyticsd -s s -l socket-dir -r -a '(__fish_complete_directories)' -d 'socket directory'
complete -c nix-analyticsd -l log-ring -x -d 'log lines kept per running build'
complete -c nix-analyticsd -l log-ring-finished -x -d 'log lines kept per finished build'
complete -c nix-analyticsd -l log-budget -x -d "memory for all builds' log lines (K, M, G suffixes)"
complete -c nix-analyticsd -l max-finished -x -d 'finished builds kept in memory'
complete -c nix-analyticsd -l store-dir -r -a '(__fish_complete_directories)' -d 'Nix store directory'
complete -c nix-analyticsd -l max-clients -x -d 'control clients at once'
complete -c nix-analyticsd -l max-sources -x -d 'event connections at once'
complete -c nix-analyticsd -l quota -x -a 'event-connections= control-connections= builds= log-bytes-per-sec= log-burst= log-bytes-held= history-rows-per-hour= reserved-connections=' -d 'a per-uid limit for untrusted users'
complete -c nix-analyticsd -l sample-interval -x -d "seconds between samples of builds' processes"
complete -c nix-analyticsd -l no-cgroups -d 'never use cgroups: actions by signals'
complete -c nix-analyticsd -l cgroup-root -x -a auto -d 'where builds are adopted in each cgroup hierarchy'
complete -c nix-analyticsd -l admin-group -x -a '(__fish_complete_groups)' -d 'members may act on every build'
complete -c nix-analyticsd -l discover-scope -x -a '(__fish_complete_pids)' -d 'rediscover only builds under PID'
complete -c nix-analyticsd -l history-db -r -F -a none -d 'history database, or none'
complete -c nix-analyticsd -l history-max-age -x -d 'delete history older than DAYS'
complete -c nix-analyticsd -l history-max-rows -x -d 'keep at most N history rows'
complete -c nix-analyticsd -l graph-keep -x -d "keep a finished invocation's graph this long"
complete -c nix-analyticsd -l graph-max-nodes -x -d 'derivations per dependency graph'
complete -c nix-analyticsd -l nix-conf-dir -r -a '(__fish_complete_directories)' -d 'where nix.conf is read'
complete -c nix-analyticsd -l machines-poll-interval -x -d 'seconds between polls of each remote builder'
complete -c nix-analyticsd -l machines-poll-timeout -x -d 'give up on one poll after this long'
complete -c nix-analyticsd -l machines-remote-ctl -x -a '(__fish_complete_command)' -d 'nix-analytics-ctl on the remote builders'
complete -c nix-analyticsd -s v -l verbose -d 'log debug messages'
complete -c nix-analyticsd -s q -l quiet -d 'log warnings and errors only'
complete -c nix-analyticsd -s h -l help -d 'show help'
complete -c nix-analyticsd -l version -d 'show the version'
