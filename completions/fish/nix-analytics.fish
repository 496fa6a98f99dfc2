# fish completion for nix-analytics, the terminal UI.
complete -c nix-analytics -f
complete -c nix-analytics -s s -l socket-dir -r -a '(__fish_complete_directories)' -d "the daemon's socket directory"
complete -c nix-analytics -s h -l help -d 'show help'
complete -c nix-analytics -l version -d 'show the version'
