# A builder that keeps a core busy for about 3 s, so its CPU time reaches history.
{ nonce ? "unset" }:
(import ./mk.nix { inherit nonce; }).mk "hist-cpu" ''
  end=$(( $(date +%s) + 3 )); n=0
  while [ "$(date +%s)" -lt "$end" ]; do i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; n=$((n + 1)); done
  echo "$n rounds"; echo ok > $out
'' [ ]
