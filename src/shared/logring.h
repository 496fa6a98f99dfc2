/* A bounded ring of log lines (the last N lines of a build, oldest first), stored in one
 * allocation per ring, and a byte budget shared by many rings. */
#pragma once

#include <stdint.h>

/* Longest log line kept, in bytes: a longer line keeps its first LOG_LINE_MAX bytes
 * (cut on a UTF-8 character boundary) followed by LOG_LINE_TRUNCATED. */
#define LOG_LINE_MAX       4096u
#define LOG_LINE_TRUNCATED " [truncated]"

typedef struct LogRing LogRing;

/* The memory of every ring pushed with it, within limit bytes (0: no limit). A ring that
 * needs room while the budget is spent takes it first from the largest ring (its oldest
 * lines go): each ring always keeps its newest line. */
typedef struct LogBudget {
        uint64_t limit;
        uint64_t used;    /* bytes the rings hold allocated (lines and their index) */
        uint64_t dropped; /* lines dropped to stay within limit */
        uint32_t n_rings; /* rings holding memory */
        uint32_t n_alloc;
        LogRing **heap; /* the rings holding memory, the largest first (a max-heap); freed
                         * when the last ring gives its memory back */
        /* A ring other than the one pushed to lost bytes of its lines (bytes_delta < 0):
         * its owner may account for them. NULL: nobody asks. */
        void (*trimmed)(void *userdata, LogRing *ring, int64_t bytes_delta);
        void *userdata;
} LogBudget;

/* One allocation: an index of the lines' offsets and lengths (n_slots, circular from head),
 * then the lines, each whole and NUL-terminated, in a circle of size bytes. All zero is an
 * empty ring. */
struct LogRing {
        char *mem;
        uint32_t n_slots, size;
        uint32_t head, count; /* head: index slot of the oldest line */
        uint32_t wpos;        /* where the line after the newest goes */
        uint64_t total;       /* lines ever received; total - count were dropped */
        uint64_t bytes;       /* of the lines held (their lengths) */
        LogBudget *budget;    /* while mem is allocated */
        uint32_t budget_idx;  /* place in budget's heap */
};

/* Appends a copy of line (truncated past LOG_LINE_MAX), dropping the oldest lines when
 * max_lines (>= 1) are held or the budget (NULL: none) has no room. 0 or -ENOMEM. */
int log_ring_push(LogRing *ring, LogBudget *budget, uint32_t max_lines, const char *line);
/* Keeps only the newest keep lines, in right-sized memory. */
void log_ring_shrink(LogRing *ring, uint32_t keep);
void log_ring_done(LogRing *ring);
/* Line i, oldest first, i in [0, count); NULL out of range. Valid until the ring changes. */
const char *log_ring_line(const LogRing *ring, uint32_t i);
/* Bytes of memory the ring holds. */
uint64_t log_ring_memory(const LogRing *ring);
