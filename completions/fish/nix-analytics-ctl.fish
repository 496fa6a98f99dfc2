# fish completion for nix-analytics-ctl: commands, their options and values, and BUILD
# arguments completed from the daemon: build names, keys when the word starts with a digit,
# .drv paths when it starts with /.

set -l __na_commands status list-builds get-build log get-history deps stats at list-invocations snapshot watch list-machines oom oom-history ingest ps kill freeze thaw nice cpu-limit mem-limit bridge
set -l __na_states queued running frozen finishing succeeded failed killed lost

function __nix_analytics_ctl_builds
    command -q nix-analytics-ctl; or return
    set -l sockdir
    set -l tokens (commandline -opc)
    for i in (seq (count $tokens))
        if contains -- $tokens[$i] -s --socket-dir
            set sockdir $sockdir -s $tokens[(math $i + 1)]
        end
        if contains -- $tokens[$i] -H --host
            set sockdir $sockdir -H $tokens[(math $i + 1)]
        end
    end
    set -l what builds
    set -l word (commandline -ct)
    if string match -qr '^[0-9]' -- $word
        set what keys
    else if string match -q '/*' -- $word
        set what drvs
    end
    nix-analytics-ctl $sockdir --timeout 1 complete $argv $what 2>/dev/null
end

complete -c nix-analytics-ctl -f
# global options, before the command
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -s s -l socket-dir -r -a '(__fish_complete_directories)' -d "the daemon's socket directory"
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -s H -l host -x -a '(__fish_print_hostnames)' -d 'talk to the daemon on HOST through ssh'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -l remote-ctl -x -a '(__fish_complete_command)' -d 'what runs bridge on HOST'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -l timeout -x -d 'seconds to wait for each answer'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -l version -d 'show the version'
# output options: before the command and after the commands that print tables
set -l __na_output "not __fish_seen_subcommand_from $__na_commands; or __fish_seen_subcommand_from status list-builds get-history stats at list-invocations list-machines oom oom-history ps"
complete -c nix-analytics-ctl -n "$__na_output" -l json -d 'JSON for scripts'
complete -c nix-analytics-ctl -n "$__na_output" -l table -d 'a table for people, also through a pipe'
complete -c nix-analytics-ctl -n "$__na_output" -l color -x -a 'auto always never' -d 'colour the table'
complete -c nix-analytics-ctl -s h -l help -d 'show help'

# commands
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a status -d 'daemon status and counters'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a list-builds -d 'builds the daemon knows, with filters'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a get-build -d 'one build, with the tail of its log'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a log -d "a build's log lines; -f follows them"
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a get-history -d 'finished builds from the history database'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a deps -d 'dependency graph of an invocation or build'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a stats -d 'slowest and most failing derivations, busiest requesters'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a at -d 'what ran at a past moment'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a list-invocations -d 'what each client asked for'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a snapshot -d 'status, sources, invocations and builds at once'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a watch -d 'print live events until interrupted'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a list-machines -d 'remote builders: slots, builds, polled state'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a oom -d 'the OOM killer kills: victim, its build, limit and peak'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a oom-history -d 'the OOM kills kept in history'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a ingest -d "forward nix's internal-json output from stdin"
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a ps -d "a running build's processes as a tree"
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a kill -d 'kill every process of a build'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a freeze -d 'stop every process of a build'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a thaw -d 'resume a frozen build'
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a nice -d "set the niceness of a build's processes"
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a cpu-limit -d "cap a build's CPU"
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a mem-limit -d "cap a build's memory"
complete -c nix-analytics-ctl -n "not __fish_seen_subcommand_from $__na_commands" -a bridge -d 'relay stdin and stdout to the control socket (what -H runs over ssh)'

# BUILD arguments
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-build log deps ps" -a '(__nix_analytics_ctl_builds)'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from kill freeze thaw nice cpu-limit mem-limit" -a '(__nix_analytics_ctl_builds --active)'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from cpu-limit mem-limit" -a none -d 'lift the limit'

# options of the commands
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from list-builds get-history stats" -l state -x -a "$__na_states" -d 'states (comma-separated)'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from list-builds get-history stats" -l name -x -d 'names matching a glob'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from list-builds get-history stats" -l requester -x -a '(__fish_complete_users)' -d 'requested by this user'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from list-builds" -l invocation -x -d 'only builds of this invocation'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from list-builds" -l active -d 'only queued, running, frozen and finishing builds'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history stats" -l pname -x -d 'this package name'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history stats" -l kind -x -a 'build substitution'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history stats" -l machine -x -a local -d 'built on this machine'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history stats oom-history" -l since -x -d 'unix seconds or an age: 90s, 30m, 12h, 7d'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history stats oom-history" -l until -x -d 'unix seconds or an age'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history oom-history" -l limit -x -d 'at most N rows'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history" -l offset -x -d 'skip the first N matches'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history" -l order -x -a 'finished started duration name'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history" -l asc -d 'ascending order'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history" -l count -d 'also count every match'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history" -l id -x -d 'only the row of this id'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from get-history" -l timeline -d 'each row with its CPU and memory over its life'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from stats" -l top -x -d 'entries per list'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from log" -s n -l tail -x -d 'only the last N lines'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from log" -s f -l follow -d 'print new lines as they come'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from log watch" -l json -d 'JSON lines'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from deps" -s i -l invocation -x -d 'the graph of this invocation'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from deps" -s H -l history -x -d 'the graph of the derivation of this history row'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from deps" -s t -l tree -d 'a tree for people'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from deps" -s w -l why -d 'why BUILD is built'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from deps" -s n -l limit -x -d 'list at most N derivations'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from watch" -l logs -d 'also log lines'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from watch" -l sources -d 'also sources connecting'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from ingest" -l no-passthrough -d 'do not copy non-record lines to stdout'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from ingest" -l echo-level -x -a '0 1 2 3 4 5 6 7' -d 'messages up to this verbosity'
complete -c nix-analytics-ctl -n "__fish_seen_subcommand_from ingest" -l quiet -d 'no messages on stderr'
