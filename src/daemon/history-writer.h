/* The daemon's history: finished builds are queued on the event path (a copy, no I/O) and
 * written by a thread in batched transactions, so a slow, locked, full or broken database
 * never stalls ingestion. Queries run on the event loop over a second, read-only handle
 * with a time budget. The store's condition is reported in `status`. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "basic/time-util.h"
#include "shared/history.h"
#include "shared/model.h"

typedef struct HistoryConfig {
        char *path;         /* NULL: history disabled */
        usec_t max_age;     /* rows older than this are deleted; 0 keeps them */
        uint64_t max_rows;  /* the oldest rows beyond this are deleted; 0 no limit */
        uint32_t queue_max; /* records waiting to be written (and at most 32 MiB of them);
                             * beyond, the oldest are dropped */
} HistoryConfig;

typedef struct HistoryWriter HistoryWriter;

/* The default database path: /var/lib/nix-analytics/history.db for root, else
 * $XDG_STATE_HOME/nix-analytics/history.db (~/.local/state when unset). */
int history_default_path(char **ret);

/* Starts the writer thread (cfg->path NULL: a disabled writer that reports so). */
int history_writer_start(const HistoryConfig *cfg, HistoryWriter **ret);
/* Writes what is queued (waiting at most a few seconds for a locked database), then stops. */
HistoryWriter *history_writer_stop(HistoryWriter *w);

/* Queues a row for a build that just finished. Never blocks on I/O. */
void history_writer_record(HistoryWriter *w, const Build *b);
/* The same for a substitution that ended. */
void history_writer_record_substitution(HistoryWriter *w, const Substitution *x);

/* The "history" member of status. */
cJSON *history_writer_status(HistoryWriter *w);

typedef struct HistoryWriterStats {
        const char *state; /* static: "starting", "ok", "unavailable", "disabled" */
        uint64_t written, dropped, queued;
} HistoryWriterStats;
/* The same figures as numbers (the metrics endpoint). */
void history_writer_stats(HistoryWriter *w, HistoryWriterStats *ret);

/* The read-only handle for queries, opened on first use; NULL when history is disabled or
 * unavailable (then *ret_error says why, a static or owned-by-w string). */
History *history_writer_reader(HistoryWriter *w, const char **ret_error);
/* A query failed with r: drop the read handle if the file may have changed under it. */
void history_writer_reader_failed(HistoryWriter *w, int r);
/* For other threads: the database path (NULL: disabled), what is wrong with it now (a new
 * string, or NULL when nothing is), and a counter that changes when the file was (re)made. */
const char *history_writer_path(HistoryWriter *w);
char *history_writer_error(HistoryWriter *w);
uint64_t history_writer_reopened(HistoryWriter *w);
/* For other threads: waits (at most timeout) while the writer has not tried to open the
 * database yet, so a query right after start-up finds it. */
void history_writer_wait_started(HistoryWriter *w, usec_t timeout);
/* Increases each time rows were committed: cached estimates older than this are stale. */
uint64_t history_writer_generation(HistoryWriter *w);
