#!/usr/bin/env bash
# Dependency graphs: a real nix-build of the 8-derivation test graph (one failure, two
# dependency failures, a top depending on four slow builds) through ingest. While it runs,
# `deps` shows the top blocked on its running inputs; afterwards the graph the daemon
# resolved from the .drv files matches Nix's own view: every node's inputs equal
# `nix-store -q --references` of its .drv, the --tree output equals `nix-store -q --tree`,
# and --why gives the chain from the requested root down to a failed dependency. After a
# restart, deps of a .drv path or of a history row is read from the store with each node's
# last outcome; hostile paths (outside the store, a link, a FIFO, a directory) are refused.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/tui-lib.sh"

check_binaries
check_tui
trap 'rc=$?; tui_cleanup; (exit $rc); e2e_cleanup' EXIT
nix_setup
start_daemon

GRAPH="$E2E_DIR/nix/graph.nix"
EXPECTED=$(drvs_of "$GRAPH" --argstr nonce "$NONCE")
D_TOP=$(drv_by_name "$EXPECTED" e2e-top)
D_FAIL=$(drv_by_name "$EXPECTED" e2e-fail)

nix-build "$GRAPH" --argstr nonce "$NONCE" --no-out-link --log-format internal-json -v -k -j3 2>&1 |
	ctl ingest >/dev/null 2>"$T/ingest.err" &
NIX=$!
track "$NIX"

# While the slow inputs run, the top is pending and blocked on them.
top_blocked() {
	ctl deps e2e-top 2>/dev/null >"$T/live.json" &&
		jq -e --arg d "$D_TOP" '(.nodes[] | select(.drv == $d) | .state == "pending" and (.blocked_on | length) > 0)
			and any(.nodes[]; .state == "building")' "$T/live.json" >/dev/null
}
wait_for 30 "deps shows e2e-top pending, blocked on its inputs while they build" top_blocked
LIVE=$(cat "$T/live.json")
assert_json "e2e-top is blocked on inputs of its own that are not done" "$LIVE" \
	"(.nodes | map({key: .drv, value: .state}) | from_entries) as \$st | .nodes[] | select(.drv == \"$D_TOP\") |
	 .inputs as \$in | all(.blocked_on[]; \$st[.] != \"done\" and (. as \$b | \$in | index(\$b)) != null)"
wait "$NIX"

inv_done() { ctl list-invocations 2>/dev/null | jq -e '.invocations | length == 1 and all(.state == "done")' >/dev/null; }
wait_for 20 "the invocation is done" inv_done
INV=$(ctl list-invocations | jq '.invocations[0].id')
graph_complete() { ctl deps --invocation "$INV" 2>/dev/null | jq -e '.complete' >/dev/null; }
wait_for 10 "the graph is resolved" graph_complete
ctl_ok G deps --invocation "$INV"
printf '%s\n' "$G" >"$T/deps.json"

assert_eq "deps: exactly the graph's derivations" "$EXPECTED" "$(jq -r '.nodes[].drv' <<<"$G" | sort)"
assert_eq "deps: nothing omitted" 0 "$(jq .omitted <<<"$G")"
ctl_ok L deps --invocation "$INV" --limit 3
assert_json "deps --limit 3: 3 nodes listed, 5 omitted, roots complete" "$L" \
	'(.nodes | length) == 3 and .omitted == 5 and (.roots | length) == 2'
ctl deps --invocation "$INV" --limit 0 >/dev/null 2>&1
assert_eq "deps --limit 0 is refused" 1 "$?"
for d in $EXPECTED; do
	want=$(nix-store -q --references "$d" | grep '\.drv$' | sort)
	got=$(jq -r --arg d "$d" '.nodes[] | select(.drv == $d) | .inputs[]' <<<"$G" | sort)
	assert_eq "inputs of $(basename "$d") = nix-store -q --references" "$want" "$got"
done
assert_eq "roots: what nothing else in the graph needs" \
	"$(printf '%s\n' "$(drv_by_name "$EXPECTED" e2e-after-after)" "$D_TOP" | sort)" \
	"$(jq -r '.roots[]' <<<"$G" | sort)"
state_of() { jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .state' <<<"$G"; }
assert_eq "e2e-fail failed" failed "$(state_of e2e-fail)"
assert_eq "e2e-after-fail failed (dependency)" failed "$(state_of e2e-after-fail)"
assert_eq "e2e-top done" done "$(state_of e2e-top)"
assert_eq "e2e-phases done" done "$(state_of e2e-phases)"
assert_json "nothing finished is blocked" "$G" 'all(.nodes[]; (.blocked_on | length) == 0 or .state == "pending")'

# The tree for people matches nix-store's (names for paths, same order and shape).
for root in e2e-top e2e-after-after; do
	d=$(drv_by_name "$EXPECTED" "$root")
	want=$(nix-store -q --tree "$d" |
		sed -E 's#(├|└)───/nix/store/[a-z0-9]{32}-#\1── #; s#^/nix/store/[a-z0-9]{32}-##; s#\.drv$##')
	got=$(ctl deps --tree "$root" | sed -E 's/ \[[^]]*\]( \(see above\))?$//')
	assert_eq "deps --tree $root = nix-store -q --tree" "$want" "$got"
done
TREE=$(ctl deps --tree e2e-after-after)
assert_contains "the tree shows states" "e2e-fail [failed]" "$TREE"

# Why is e2e-fail built? Because e2e-after-after (requested) needs e2e-after-fail, which needs it.
ctl_ok W deps --why e2e-fail
assert_eq "--why: the chain from the requested root" "e2e-after-after e2e-after-fail e2e-fail" \
	"$(jq -r '[.chain[].name] | join(" ")' <<<"$W")"
assert_eq "--why --tree prints the chain" "$(printf 'e2e-after-after\n└── e2e-after-fail\n    └── e2e-fail')" \
	"$(ctl deps --why --tree e2e-fail)"

# Bad targets are errors, not crashes.
ctl deps --invocation 999 >/dev/null 2>"$T/err"
assert_eq "deps of an unknown invocation: exit 1" 1 "$?"
ctl deps >/dev/null 2>&1
assert_eq "deps without a target: usage error" 2 "$?"
assert_json "status: one graph of 8 nodes" "$(ctl status)" '.graphs.invocations == 1 and .graphs.nodes == 8'

# An input fetched from a binary cache: not built by the invocation, shown as fetched ("done"),
# and the substitution is a history row.
SG="$E2E_DIR/nix/subst-graph.nix"
Y=$(nix-build "$SG" -A y --argstr nonce "$NONCE" --no-out-link 2>"$T/subst.err") || die "building subst-y: $(cat "$T/subst.err")"
nix --extra-experimental-features nix-command copy --to "file://$T/cache" "$Y" 2>>"$T/subst.err" || die "nix copy: $(cat "$T/subst.err")"
nix-store --delete "$Y" >/dev/null 2>>"$T/subst.err" || die "cannot delete $Y: $(cat "$T/subst.err")"
nix-build "$SG" -A x --argstr nonce "$NONCE" --no-out-link --option substituters "file://$T/cache" \
	--option require-sigs false --log-format internal-json -v 2>&1 | ctl ingest >/dev/null 2>>"$T/subst.err"
assert_true "subst-y was fetched" test -e "$Y"
x_done() { ctl deps subst-x 2>/dev/null | jq -e '.complete and any(.nodes[]; .name == "subst-x" and .state == "done")' >/dev/null; }
wait_for 10 "deps subst-x is resolved and done" x_done
ctl_ok X deps subst-x
assert_json "deps subst-x: subst-y is an input, fetched (done), not built here" "$X" \
	'[.nodes[] | select(.name == "subst-y")][0] | .state == "done" and .build == null'
assert_eq "deps subst-x: its inputs = nix-store -q --references" \
	"$(nix-store -q --references "$(drv_by_name "$(drvs_of "$SG" -A x --argstr nonce "$NONCE")" subst-x)" | grep '\.drv$')" \
	"$(jq -r '.nodes[] | select(.name == "subst-x") | .inputs[]' <<<"$X")"
subst_row() { ctl get-history --count --name subst-y 2>/dev/null | jq -e '.total == 1' >/dev/null; }
wait_for 10 "the substitution of subst-y is in history" subst_row
assert_json "history: subst-y substituted from the cache" "$(ctl get-history --count --name subst-y)" \
	".builds[0].kind == \"substitution\" and .builds[0].drv == \"$Y\" and .builds[0].state == \"succeeded\""

# After a restart the daemon holds no invocation: deps of a .drv, or of a history row, is
# read from the store, each node with its last outcome in history.
stop_daemon
start_daemon
D_AFTER=$(drv_by_name "$EXPECTED" e2e-after-after)
ctl_ok S deps "$D_TOP"
printf '%s\n' "$S" >"$T/store-deps.json"
assert_json "deps of a .drv after a restart: from the store, complete, not truncated" "$S" \
	".invocation == null and .drv == \"$D_TOP\" and .complete and (.truncated | not) and .roots == [\"$D_TOP\"]"
assert_eq "deps of e2e-top from the store: its closure's derivations (nix-store -qR)" \
	"$(nix-store -q --requisites "$D_TOP" | grep '\.drv$' | sort)" "$(jq -r '.nodes[].drv' <<<"$S" | sort)"
for d in $(jq -r '.nodes[].drv' <<<"$S"); do
	assert_eq "store graph: inputs of $(basename "$d") = nix-store -q --references" \
		"$(nix-store -q --references "$d" | grep '\.drv$' | sort)" \
		"$(jq -r --arg d "$d" '.nodes[] | select(.drv == $d) | .inputs[]' <<<"$S" | sort)"
done
assert_json "e2e-top: cached (its output is in the store), last built successfully, with its duration" "$S" \
	".nodes[] | select(.drv == \"$D_TOP\") | .state == \"cached\" and .requested and .build == null
	 and .last.state == \"succeeded\" and .last.duration > 0 and .last.id > 0"
ctl_ok SA deps "$D_AFTER"
assert_json "e2e-fail from the store: missing, blocked on nothing, last failed (exit code) after its run" "$SA" \
	'.nodes[] | select(.name == "e2e-fail") | .state == "missing" and .blocked_on == [] and .last.state == "failed"
	 and .last.failure_kind == "exit-code" and .last.duration > 0.5'
assert_json "e2e-after-fail: missing, blocked on e2e-fail, last never built for its failed dependency" "$SA" \
	'(.nodes[] | select(.name == "e2e-fail") | .drv) as $f | .nodes[] | select(.name == "e2e-after-fail") |
	 .state == "missing" and .blocked_on == [$f] and .last.failure_kind == "dependency" and .last.duration == null'
ctl_ok HR get-history --name e2e-top
HID=$(jq '.builds[0].id' <<<"$HR")
ctl_ok SH deps --history "$HID"
assert_json "deps --history ID: the same graph, from the row's derivation" "$SH" \
	".history == $HID and .drv == \"$D_TOP\" and ([.nodes[].drv] | sort) == $(jq -c '[.nodes[].drv] | sort' <<<"$S")"
want=$(nix-store -q --tree "$D_TOP" |
	sed -E 's#(├|└)───/nix/store/[a-z0-9]{32}-#\1── #; s#^/nix/store/[a-z0-9]{32}-##; s#\.drv$##')
got=$(ctl deps --tree "$D_TOP" | sed -E 's/ \[[^]]*\]( \(last: [^)]*\))?( \(see above\))?$//')
assert_eq "deps --tree of a .drv from the store = nix-store -q --tree" "$want" "$got"
assert_contains "the tree shows the last outcome" "e2e-top [cached] (last: succeeded" "$(ctl deps --tree "$D_TOP")"
# The TUI's deps view asks the same: d on a history row shows its derivation's graph.
tui_start 160 40
wait_screen "nix-analytics" 10 "the TUI is up"
keys h
wait_screen "e2e-top" 10 "the history view lists e2e-top"
keys /
type_text e2e-top
keys Enter d
wait_screen "dependencies of e2e-top \(history #$HID, from the store\)" 10 "d on a history row: its graph, from the store"
wait_screen "cached +e2e-top" 10 "with the store's state of each node"
wait_screen "^ +cached +e2e-slow-a" 5 "its inputs under it, indented"
tui_quit

ctl deps --history 999999 >/dev/null 2>"$T/err"
assert_eq "deps of an unknown history row: exit 1" 1 "$?"
assert_contains "deps of an unknown history row: says so" "no build row 999999" "$(cat "$T/err")"

# Paths a client gives may be anything: outside the store, a link, a FIFO, a directory.
ctl deps /etc/passwd >/dev/null 2>"$T/err"
assert_contains "a path outside the store is refused" "not a derivation in the store" "$(cat "$T/err")"
ctl deps "/nix/store/../../etc/passwd.drv" >/dev/null 2>"$T/err"
assert_contains "a path climbing out of the store is refused" "not a derivation in the store" "$(cat "$T/err")"
ctl deps "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-none.drv" >/dev/null 2>"$T/err"
assert_contains "a .drv not in the store: not found" "no such derivation in the store" "$(cat "$T/err")"
# The hostile files live in a store directory of this test's own (the real store is Nix's).
stop_daemon
FAKE="$T/store"
H=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
mkdir -p "$FAKE" "$FAKE/$H-dir.drv"
ln -s /etc/passwd "$FAKE/$H-link.drv"
mkfifo "$FAKE/$H-fifo.drv"
start_daemon --store-dir "$FAKE"
ctl deps "$FAKE/$H-link.drv" >/dev/null 2>"$T/err"
assert_contains "a symbolic link in the store is not followed" "symbolic link (not followed)" "$(cat "$T/err")"
ctl deps "$FAKE/$H-fifo.drv" >/dev/null 2>"$T/err"
assert_contains "a FIFO in the store is refused, not waited on" "not a regular file" "$(cat "$T/err")"
ctl deps "$FAKE/$H-dir.drv" >/dev/null 2>"$T/err"
assert_contains "a directory in the store is refused" "not a regular file" "$(cat "$T/err")"
assert_status_within 2000 "the daemon answers after the hostile paths"

# Finished invocations' graphs go after --graph-keep.
stop_daemon
start_daemon --graph-keep 1
nix-build "$E2E_DIR/nix/history-one.nix" --argstr nonce "$NONCE-keep" --no-out-link \
	--log-format internal-json -v 2>&1 | ctl ingest >/dev/null 2>&1
graph_gone() { ctl status 2>/dev/null | jq -e '.graphs.invocations == 0' >/dev/null; }
wait_for 10 "the graph is dropped a second after its invocation ended" graph_gone
# The build is still held, its graph is not: deps answers from the store, with the build
# (and its history row once the writer has flushed it).
held_from_store() {
	ctl deps hist-one 2>/dev/null >"$T/held.json" &&
		jq -e '.nodes[0].last.state == "succeeded"' "$T/held.json" >/dev/null
}
wait_for 10 "deps of hist-one answers from the store with its history row" held_from_store
assert_json "deps of a held build whose graph was dropped: from the store, with the build" "$(cat "$T/held.json")" \
	'.invocation == null and (.nodes | length) == 1 and .nodes[0].name == "hist-one" and
	 .nodes[0].state == "done" and (.nodes[0].build | type) == "number"'
