# remote-view.sh's build: a phase that keeps one CPU busy, then a quiet one, each logging;
# then it exits with code fail (0: it writes its output).
{ nonce ? "unset", tag ? "view", spin ? "10", quiet ? "8", fail ? "0" }:
let
  inherit (import ./mk.nix { inherit nonce; }) mk phase;
in
mk "rview-${tag}" ''
  ${phase "spinPhase"}
  end=$(( $(date +%s) + ${spin} ))
  while [ "$(date +%s)" -lt "$end" ]; do
    i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done
    echo "spin $i"
  done
  ${phase "quietPhase"}
  for j in $(seq 1 $((${quiet} * 2))); do echo "quiet $j"; sleep 0.5; done
  if [ ${fail} -ne 0 ]; then echo "failing with ${fail}"; exit ${fail}; fi
  echo ok > $out
'' [ ]
