#!/usr/bin/env bash
# The builders setting is re-read when a file involved changes: the machines file it includes
# with @, and nix.conf itself (checked every 2 s). No ssh here: only the configuration.
source "$(dirname "$0")/lib.sh"

check_binaries

mkdir -p "$T/conf"
printf 'builders = @%s/conf/machines\n' "$T" >"$T/conf/nix.conf"
printf 'ssh://one x86_64-linux - 2 1\n' >"$T/conf/machines"
start_daemon --nix-conf-dir "$T/conf" --machines-poll-interval 0 --history-db none

keys() { ctl list-machines 2>/dev/null | jq -c '[.machines[] | select(.configured) | .key]'; }
assert_eq "at start: the one machine of the machines file" '["ssh://one"]' "$(keys)"

printf 'ssh://one x86_64-linux - 2 1\nssh://two x86_64-linux,aarch64-linux - 4 2 big-parallel\n' >"$T/conf/machines"
has_two() { [[ $(keys) == '["ssh://one","ssh://two"]' ]]; }
wait_for 6 "the machines file's new entry is picked up" has_two && pass "a machine added to the machines file appears"
ctl_ok LM list-machines
assert_json "its fields are read" "$LM" \
	'any(.machines[]; .key == "ssh://two" and .max_jobs == 4 and .speed_factor == 2 and .systems == ["x86_64-linux","aarch64-linux"] and .supported_features == ["big-parallel"])'

printf 'builders = ssh://three x86_64-linux\n' >"$T/conf/nix.conf"
only_three() { [[ $(keys) == '["ssh://three"]' ]]; }
wait_for 6 "nix.conf's new builders setting is picked up" only_three && pass "a changed nix.conf replaces the machines"

printf 'builders = ssh://three x86_64-linux - notanumber\n' >"$T/conf/nix.conf"
bad_reported() { ctl list-machines 2>/dev/null | jq -e '.config.errors | length > 0' >/dev/null; }
wait_for 6 "a malformed entry is reported" bad_reported && pass "a malformed entry after a change is reported, the daemon keeps answering"
assert_true "the daemon still answers status" ctl status
