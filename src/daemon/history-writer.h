/* The daemon's history: finished builds are queued on the event path (a copy, no I/O) and
 * written by a thread in batched transactions, so a slow, locked, full or broken database
 * never stalls ingestion. Queries run on worker threads (query-worker.h, estimates.h), each
 * over a read-only handle of its own (HistoryReader) with a time budget. The store's
 * condition is reported in `status`. */
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
/* A row made elsewhere (persist.c: a build that ended while the daemon was down): takes
 * *rec, which is left empty. */
void history_writer_record_row(HistoryWriter *w, HistoryRecord *rec);
/* An OOM kill (oom.c): takes *o's strings, which is left empty. */
void history_writer_record_oom(HistoryWriter *w, HistoryOom *o);
/* Queues the machine's figures at one instant (at most an hour of them wait). */
void history_writer_machine_sample(HistoryWriter *w, const MachineSample *s);
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

/* A read-only handle owned by one worker thread, reopened when the writer replaced the file. */
typedef struct HistoryReader {
        History *h;
        uint64_t opened_at; /* history_writer_reopened() when it was opened */
} HistoryReader;
/* On the reader's thread: its handle, opened on first use (after waiting a few seconds for
 * the writer to open the file first); NULL with *ret_error (a new string, may be NULL on
 * OOM) saying why history cannot be read. */
History *history_reader_get(HistoryWriter *w, HistoryReader *r, char **ret_error);
/* Closes the handle (a query failed and the file may have changed, or the thread ends). */
void history_reader_close(HistoryReader *r);
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
