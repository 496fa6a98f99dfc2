/* A bounded ring of log lines: the last N lines of a build, oldest first. */
#include "shared/logring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"

/* A log line comes from a peer: one line must not hold megabytes of memory per slot. */
static char *log_line_copy(const char *line) {
        size_t len = strnlen(line, LOG_LINE_MAX + 1);
        if (len <= LOG_LINE_MAX)
                return strdup(line);
        len = LOG_LINE_MAX;
        /* Do not cut a UTF-8 sequence: back up over continuation bytes. */
        while (len > 0 && ((unsigned char) line[len - 1] & 0xC0) == 0x80)
                len--;
        if (len > 0 && ((unsigned char) line[len - 1] & 0x80))
                len--; /* the lead byte whose sequence was cut */
        char *copy = malloc(len + sizeof(LOG_LINE_TRUNCATED));
        if (!copy)
                return NULL;
        memcpy(copy, line, len);
        memcpy(copy + len, LOG_LINE_TRUNCATED, sizeof(LOG_LINE_TRUNCATED));
        return copy;
}

int log_ring_push(LogRing *ring, uint32_t cap, const char *line) {
        if (!ring->lines) {
                ring->lines = calloc(cap, sizeof(char *));
                if (!ring->lines)
                        return -ENOMEM;
                ring->cap = cap;
        }
        char *copy = log_line_copy(line);
        if (!copy)
                return -ENOMEM;
        ring->bytes += strlen(copy);
        if (ring->count < ring->cap) {
                ring->lines[(ring->head + ring->count) % ring->cap] = copy;
                ring->count++;
        } else {
                ring->bytes -= strlen(ring->lines[ring->head]);
                free(ring->lines[ring->head]);
                ring->lines[ring->head] = copy;
                ring->head = (ring->head + 1) % ring->cap;
        }
        ring->total++;
        return 0;
}

/* Keeps only the newest keep lines, in a right-sized array. */
void log_ring_shrink(LogRing *ring, uint32_t keep) {
        if (!ring->lines || ring->cap <= keep)
                return;
        char **lines = calloc(keep ? keep : 1, sizeof(char *));
        if (!lines)
                return; /* keep the big ring; memory pressure is not a reason to lose data */
        uint32_t n = MIN(keep, ring->count);
        for (uint32_t i = 0; i < ring->count; i++) {
                char *l = ring->lines[(ring->head + i) % ring->cap];
                if (i >= ring->count - n)
                        lines[i - (ring->count - n)] = l;
                else {
                        ring->bytes -= strlen(l);
                        free(l);
                }
        }
        free(ring->lines);
        ring->lines = lines;
        ring->cap = keep ? keep : 1;
        ring->head = 0;
        ring->count = n;
}

void log_ring_done(LogRing *ring) {
        for (uint32_t i = 0; i < ring->count; i++)
                free(ring->lines[(ring->head + i) % ring->cap]);
        free(ring->lines);
        *ring = (LogRing){};
}

const char *log_ring_line(const LogRing *ring, uint32_t i) {
        if (i >= ring->count)
                return NULL;
        return ring->lines[(ring->head + i) % ring->cap];
}
