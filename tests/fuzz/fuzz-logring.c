/* Fuzz target for the log rings and their budget: lines of any length pushed to a few rings
 * under a small budget, shrunk and freed in any order. After every step each ring holds the
 * newest lines pushed to it, in order, truncated as documented; the budget counts exactly
 * the rings' memory and holds, unless the ring last pushed to keeps only its newest line
 * and no other ring has anything left to give.
 * Input: byte 0 picks the budget (0: none), byte 1 the rings' line cap; then operations: a
 * byte whose low 2 bits pick a ring and the rest the operation, a length byte for pushes,
 * then the line's bytes (repeated up to the length; NULs read as 0x01). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "fuzz.h"
#include "shared/logring.h"

#define RINGS    4
#define KEEP_MAX 64 /* lines remembered per ring: the cap is at most this */

typedef struct Ref {
        char *lines[KEEP_MAX]; /* the last lines pushed, as pushed, oldest first */
        uint32_t n;
} Ref;

static void ref_push(Ref *ref, char *line) {
        if (ref->n == KEEP_MAX) {
                free(ref->lines[0]);
                memmove(ref->lines, ref->lines + 1, (KEEP_MAX - 1) * sizeof(char *));
                ref->n--;
        }
        ref->lines[ref->n++] = line;
}

static void ref_clear(Ref *ref) {
        for (uint32_t i = 0; i < ref->n; i++)
                free(ref->lines[i]);
        ref->n = 0;
}

/* kept is what the ring holds for the line pushed as raw. */
static void check_line(const char *kept, const char *raw) {
        size_t len = strlen(raw), mark = strlen(LOG_LINE_TRUNCATED);
        if (len <= LOG_LINE_MAX) {
                if (strcmp(kept, raw) != 0)
                        abort();
                return;
        }
        size_t k = strlen(kept);
        if (k < mark || strcmp(kept + k - mark, LOG_LINE_TRUNCATED) != 0)
                abort();
        k -= mark; /* at most the 3 bytes of a UTF-8 character cut off before the limit */
        if (k > LOG_LINE_MAX || k + 3 < LOG_LINE_MAX || memcmp(kept, raw, k) != 0)
                abort();
}

static void check(const LogBudget *b, const LogRing *rings, const Ref *refs, const LogRing *pushed) {
        uint64_t used = 0;
        bool others_empty = true;
        for (int k = 0; k < RINGS; k++) {
                const LogRing *r = &rings[k];
                used += log_ring_memory(r);
                if (r != pushed && log_ring_memory(r) > 0)
                        others_empty = false;
                if (r->count > refs[k].n || r->total < r->count)
                        abort();
                uint64_t bytes = 0;
                for (uint32_t i = 0; i < r->count; i++) {
                        const char *l = log_ring_line(r, i);
                        check_line(l, refs[k].lines[refs[k].n - r->count + i]);
                        bytes += strlen(l);
                }
                if (log_ring_line(r, r->count) || bytes != r->bytes)
                        abort();
        }
        if (b && used != b->used)
                abort();
        /* The heap holds exactly the rings with memory, each parent at least as large as
         * its children, each ring knowing its place. */
        for (uint32_t i = 0; b && i < b->n_rings; i++)
                if (b->heap[i]->budget_idx != i || log_ring_memory(b->heap[i]) == 0 ||
                    (i > 0 && log_ring_memory(b->heap[i]) > log_ring_memory(b->heap[(i - 1) / 2])))
                        abort();
        uint32_t holding = 0;
        for (int k = 0; b && k < RINGS; k++)
                holding += log_ring_memory(&rings[k]) > 0;
        if (b && holding != b->n_rings)
                abort();
        if (b && b->limit > 0 && b->used > b->limit && !(others_empty && pushed && pushed->count <= 1))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 2)
                return 0;
        LogBudget budget = {.limit = (uint64_t) data[0] * 256};
        LogBudget *b = data[0] == 255 ? NULL : &budget;
        uint32_t cap = data[1] % KEEP_MAX + 1;
        LogRing rings[RINGS] = {};
        Ref refs[RINGS] = {};
        LogRing *pushed = NULL; /* the ring last pushed to */

        for (size_t at = 2; at < size;) {
                uint8_t op = data[at++];
                int k = op & 3;
                switch (op >> 2 & 7) {
                case 6:
                        log_ring_shrink(&rings[k], op >> 5);
                        /* the reference keeps its lines: the ring's are its newest */
                        break;
                case 7:
                        log_ring_done(&rings[k]);
                        ref_clear(&refs[k]);
                        if (pushed == &rings[k])
                                pushed = NULL;
                        break;
                default: {
                        if (at >= size)
                                break;
                        size_t len = data[at++];
                        if (op & 0x80)
                                len *= 33; /* past LOG_LINE_MAX */
                        size_t avail = MIN(size - at, (size_t) 64);
                        char *line = malloc(len + 1);
                        if (!line)
                                abort();
                        for (size_t i = 0; i < len; i++)
                                line[i] = avail ? (char) (data[at + i % avail] ?: 1) : 'x';
                        line[len] = 0;
                        at += MIN(avail, len);
                        if (log_ring_push(&rings[k], b, cap, line) < 0)
                                abort();
                        ref_push(&refs[k], line);
                        pushed = &rings[k];
                        if (strcmp(log_ring_line(pushed, pushed->count - 1) ?: "", "") == 0 && len > 0)
                                abort(); /* the newest line is always kept */
                        break;
                }
                }
                check(b, rings, refs, pushed);
        }

        for (int k = 0; k < RINGS; k++) {
                log_ring_done(&rings[k]);
                ref_clear(&refs[k]);
        }
        if (b && (budget.used != 0 || budget.n_rings != 0 || budget.heap))
                abort();
        return 0;
}
