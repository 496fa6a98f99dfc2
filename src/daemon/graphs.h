/* The daemon's dependency graphs, one per invocation: fed by the builds the invocation
 * announces, resolved from .drv files read and parsed on a worker thread of their own (batches
 * of files; the event loop only applies the parsed results, in order, a couple of milliseconds
 * at a time), dropped some time after their invocation ends. Also computes each invocation's
 * ETA along its critical path. */
#pragma once

#include <cjson/cJSON.h>

#include "daemon/daemon.h"
#include "shared/graph.h"

typedef struct Graphs Graphs;

int graphs_new(Daemon *d, Graphs **ret);
Graphs *graphs_free(Graphs *gs);

/* A build appeared or changed (kinds: ChangeKind bits). */
void graphs_build_changed(Daemon *d, Build *b, unsigned kinds);

/* Every queued build has its ETA looked up: invocation ETAs waiting for that are computed. */
void graphs_estimates_ready(Daemon *d);

/* A substitution of the invocation ended: its input node shows as fetched ("done"). */
void graphs_substitution_done(Daemon *d, const Substitution *x);

/* The "deps" result for an invocation; root_drv (optional) restricts it to what that
 * derivation needs; at most limit nodes are listed (the rest counted in "omitted"). NULL with *ret_error
 * when there is no graph. */
cJSON *graphs_deps_json(Daemon *d, Invocation *inv, const char *root_drv, uint32_t limit,
                        const char **ret_error);
/* Whether the daemon holds a graph for inv (dropped after --graph-keep, or never made). */
bool graphs_has(Daemon *d, Invocation *inv);
/* The chain of derivations from a requested root of the invocation down to drv. */
cJSON *graphs_why_json(Daemon *d, Invocation *inv, const char *drv, const char **ret_error);
/* A build's state as a graph node shows it: pending, building, done or failed. */
const char *graphs_build_state(const Build *b);
/* A node's first members (drv, name, state, phase, build, requested), as both kinds of
 * "deps" answers list them; b: its build (NULL none). */
cJSON *graphs_node_json(const GraphNode *n, const char *state, const Build *b, bool requested);
/* Counters for status. */
cJSON *graphs_status_json(Daemon *d);
