# fish completion for nix-analytics, the terminal UI.
complete -c nix-analytics -f
complete -c nix-analytics -s s -l socket-dir -r -a '(__fish_complete_directories)' -d "the daemon's socket directory"
complete -c nix-analytics -s H -l host -x -a '(__fish_print_hostnames)' -d 'the daemon on HOST, through ssh (again for more)'
complete -c nix-analytics -l hosts-file -r -F -d 'more hosts, one a line'
complete -c nix-analytics -l remote-ctl -x -a '(__fish_complete_command)' -d 'what runs bridge on HOST'
complete -c nix-analytics -l ascii -d 'ASCII line drawing instead of UTF-8'
complete -c nix-analytics -l no-color -d 'no colours'
complete -c nix-analytics -l no-mouse -d 'leave the mouse to the terminal'
complete -c nix-analytics -l fps -x -d 'at most N frames a second'
complete -c nix-analytics -l at -x -d 'start on the screen as it was at TIME (03:12, -2h)'
complete -c nix-analytics -l stats -r -F -d 'write frame and CPU statistics (JSON) to FILE at exit'
complete -c nix-analytics -s h -l help -d 'show help'
complete -c nix-analytics -l version -d 'show the version'
