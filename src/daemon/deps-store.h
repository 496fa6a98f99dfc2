/* "deps" of any derivation: its graph read from the store's .drv files (not from an
 * invocation the daemon holds), walked on the query worker within bounds (nodes, depth,
 * time), each node with the newest history row of its derivation, and on the event loop
 * with the daemon's live build of it. Serves a .drv path, or a history row by id. */
#pragma once

#include <stdint.h>

#include "daemon/daemon.h"
#include "daemon/reply.h"
#include "shared/history.h"

#define DEPS_STORE_MAX_NODES 10000
#define DEPS_STORE_MAX_DEPTH 64
#define DEPS_STORE_BUDGET    (3 * USEC_PER_SEC)

typedef struct DepsStore DepsStore;

/* For drv (a path the caller checked with deps_store_check), or for history row
 * history_id (drv NULL). viewer_uid: whose untrusted history rows count (-1: none). */
int deps_store_new(const char *store_dir, const char *drv, int64_t history_id, uint32_t limit,
                   int64_t viewer_uid, DepsStore **ret);
DepsStore *deps_store_free(DepsStore *s);

/* On the loop, before any I/O: whether a client's drv may be read at all (a .drv path
 * directly in the store directory). 0, or an error set in r. */
int deps_store_check(const char *store_dir, const char *drv, Reply *r);

/* On the query worker: resolves the history row, walks the store, reads the history. Sets
 * an error in r on failure. */
void deps_store_run(DepsStore *s, History *h, Reply *r);
/* On the loop, after a run without error: the answer (docs/protocol.md "deps") in
 * r->result, with the daemon's live builds. */
void deps_store_finish(Daemon *d, DepsStore *s, Reply *r);
