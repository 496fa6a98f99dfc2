/* A bounded ring of log lines: the last N lines of a build, oldest first. */
#pragma once

#include <stdint.h>

/* Longest log line kept, in bytes: a longer line keeps its first LOG_LINE_MAX bytes
 * (cut on a UTF-8 character boundary) followed by LOG_LINE_TRUNCATED. */
#define LOG_LINE_MAX       4096u
#define LOG_LINE_TRUNCATED " [truncated]"

typedef struct LogRing {
        char **lines;
        uint32_t cap, head, count; /* head: index of the oldest line */
        uint64_t total;            /* lines ever received */
        uint64_t bytes;            /* of the lines held (their lengths) */
} LogRing;

/* Appends a copy of line (truncated past LOG_LINE_MAX), dropping the oldest when cap lines
 * are held (the array is allocated with cap slots on first use). 0 or -ENOMEM. */
int log_ring_push(LogRing *ring, uint32_t cap, const char *line);
/* Keeps only the newest keep lines, in a right-sized array. */
void log_ring_shrink(LogRing *ring, uint32_t keep);
void log_ring_done(LogRing *ring);
/* Line i, oldest first, i in [0, count); NULL out of range. */
const char *log_ring_line(const LogRing *ring, uint32_t i);
