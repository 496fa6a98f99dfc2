# One client's graph for the two-clients-through-one-nix-daemon test. Both clients build the
# same shape (so Nix 2.8 hands them the same activity ids) with different names, phase names,
# log contents, line counts and exit codes, so any mix-up shows.
{ nonce ? "unset", client ? "a", lines ? 300, failCode ? 3 }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk phase;
  n = s: "${client}-${s}";
in rec {
  phases = mk (n "phases") ''
    ${phase "${client}-unpack"}; echo "${client} unpacking"; sleep 0.4
    ${phase "${client}-build"}; echo "${client} building"; sleep 0.6
    ${phase "${client}-install"}; echo ok > $out
  '' [ ];
  logs = mk (n "logs") ''
    sleep 1; seq -f '${client} line %g' 1 ${toString lines}; echo ok > $out
  '' [ ];
  slow = mk (n "slow") ''
    for i in 1 2 3 4; do echo "${client} slow $i"; sleep 0.5; done; echo ok > $out
  '' [ ];
  fail = mk (n "fail") ''
    echo "${client} about to fail"; sleep 1; exit ${toString failCode}
  '' [ ];
  dep = mk (n "dep") ''
    echo never > $out
  '' [ fail ];
  top = mk (n "top") ''
    echo "${client} top"; echo ok > $out
  '' [ phases logs slow ];
}
