/* What the daemon keeps of its active builds across its own restart (daemon: persist.c): per
 * running build its times, log line count, invocation and last sample, as a small JSON
 * document (docs/history.md "Continuity across restarts"). This module only turns the model
 * into that document and the document back into records; applying a record to a build is
 * model_build_resume (model-resume.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/time-util.h"
#include "shared/model.h"
#include "shared/timeline.h"

#define RESUME_VERSION  1
#define RESUME_FILE_MAX (16u << 20) /* a document larger than this is not ours */
#define RESUME_MAX      100000u     /* records read from one document, at most */
/* A build's timeline in the document: timeline_encode's blob in base64 (at most
 * TIMELINE_POINTS_MAX points, 6.2 KB for a full one); a longer string is not read. */
#define RESUME_TIMELINE_TEXT_MAX (64u << 10)
/* Phases read back per build, at most, and their names' length. */
#define RESUME_PHASES_MAX     256u
#define RESUME_PHASE_NAME_MAX 256u
/* Queued builds kept, at most (the oldest first): a plan of thousands must not make the
 * periodic write a cost on the loop. */
#define RESUME_QUEUED_MAX 1024u

typedef struct ResumeBuild {
        char *drv, *name;
        usec_t queued, started;   /* realtime; 0 unknown (started 0: it was queued) */
        bool start_unknown;       /* started is a guess (see Build.start_unknown) */
        uint64_t log_lines;       /* lines ever received */
        pid_t nix_pid;            /* the nix process that builds it (its source's pid) */
        uint64_t nix_start;       /* and its start time (ticks after boot; 0 unknown): pid reuse */
        bool untrusted;           /* reported by an untrusted source */
        uint64_t activity;        /* its build activity's id on its stream (0 none) */
        uint64_t builds_activity; /* its invocation's builds activity (104) id (0 none) */
        BuildUsage usage;         /* the last sample */
        Timeline timeline;        /* its usage over its life so far (empty: none, or unreadable) */
        Phase *phases;            /* the phases it reported so far, in time order */
        uint32_t n_phases;
        /* its invocation */
        Requester requester;
        usec_t inv_started;
        int64_t progress[4];        /* done, expected, running, failed */
        uint32_t ended[_COUNT_MAX]; /* its counts of ended builds (succeeded to lost), the others 0 */
        bool matched;               /* found running again (persist.c's bookkeeping) */
} ResumeBuild;

/* The document for the model's running, frozen and finishing local builds, and its first
 * RESUME_QUEUED_MAX queued ones, NUL-terminated. */
int resume_snapshot(Model *m, usec_t now, char **ret, size_t *ret_count);
/* The records of a document (never trusted: bounded, every field checked; a record
 * missing its drv, or both its queue time and start, is skipped; a timeline that does not
 * decode is left out of its record). -EBADMSG: not a document of ours. */
int resume_parse(const char *buf, size_t len, ResumeBuild **ret, size_t *ret_n);
void resume_builds_free(ResumeBuild *r, size_t n);
