source "$(dirname "$0")/lib.sh"; check_binaries; echo stub
