# A builder that does a fixed amount of work (about 3 s of one core's CPU time, however
# loaded the machine is), so its CPU time reaches history.
{ nonce ? "unset" }:
(import ./mk.nix { inherit nonce; }).mk "hist-cpu" ''
  i=0; while [ $i -lt 4000000 ]; do i=$((i + 1)); done
  echo "$i rounds"; echo ok > $out
'' [ ]
