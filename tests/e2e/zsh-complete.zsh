# zsh -f zsh-complete.zsh FPATH-DIR OUTFILE LINE: writes the candidates an interactive zsh offers for
# LINE<TAB> to OUTFILE, one per line (a compadd wrapper records them), for pkg-completions.sh.
zmodload zsh/zpty
zpty z zsh -f -i
# /etc/zshenv is read even with -f and may reset PATH: give the inner shell ours.
zpty -w z "export PATH=${(q)PATH}; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; OUT=$2"
zpty -w z 'compadd() { if (( ${@[(I)-[ODA]*]} )); then builtin compadd "$@"; return; fi; local -a __h; builtin compadd -O __h "$@"; (( $#__h )) && print -rl -- $__h >>$OUT; builtin compadd "$@"; }'
zpty -w z "print -r -- ready >$2.ready"
for i in {1..100}; do [[ -e $2.ready ]] && break; sleep 0.05; done
zpty -w -n z "$3"$'\t'
for i in {1..60}; do [[ -s $2 ]] && break; sleep 0.05; done
sleep 0.3
zpty -d z
