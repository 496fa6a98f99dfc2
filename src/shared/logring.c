/* A bounded ring of log lines in one allocation per ring, and the byte budget of all rings.
 *
 * A daemon holds the last lines of a thousand builds at once: one allocation per line cost
 * more in malloc headers and slack than the text itself. Here a ring's lines sit whole and
 * NUL-terminated in a circular byte arena, behind a small circular index of their offsets and
 * lengths (dropping the oldest line does not read its cold bytes), in a single allocation
 * that is resized (and compacted) only when it must grow or give memory back. A line never
 * wraps around the arena's end, so it can be handed out as a plain string. */
#include "shared/logring.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"

#define NO_ROOM       UINT32_MAX
#define ARENA_MIN     256u
#define SLOTS_MIN     8u
#define TRUNCATED_LEN (sizeof(LOG_LINE_TRUNCATED) - 1)

typedef struct LineSlot {
        uint32_t off, len; /* in the arena; len without the NUL */
} LineSlot;

static LineSlot *ring_index(const LogRing *ring) {
        return (LineSlot *) (void *) ring->mem;
}

static char *ring_arena(const LogRing *ring) {
        return ring->mem + (size_t) ring->n_slots * sizeof(LineSlot);
}

static uint64_t memory_of(uint32_t n_slots, uint32_t size) {
        return (uint64_t) n_slots * sizeof(LineSlot) + size;
}

uint64_t log_ring_memory(const LogRing *ring) {
        return ring->mem ? memory_of(ring->n_slots, ring->size) : 0;
}

/* Bytes the held lines take in the arena, their NULs included. */
static uint64_t ring_content(const LogRing *ring) {
        return ring->bytes + ring->count;
}

/* A log line comes from a peer: one line must not hold megabytes of memory. Returns how
 * many bytes of line are kept; *ret_cut says whether LOG_LINE_TRUNCATED follows them. */
static size_t line_kept(const char *line, bool *ret_cut) {
        size_t len = strnlen(line, LOG_LINE_MAX + 1);
        *ret_cut = len > LOG_LINE_MAX;
        if (!*ret_cut)
                return len;
        len = LOG_LINE_MAX;
        /* Do not cut a UTF-8 sequence: find the lead byte of the last one (at most 3
         * continuation bytes back; bytes that are not UTF-8 are cut where they are) and
         * leave the sequence out when its end is past the limit. */
        size_t lead = len;
        while (lead > 0 && len - lead < 3 && ((unsigned char) line[lead - 1] & 0xC0) == 0x80)
                lead--;
        unsigned char c = lead > 0 ? (unsigned char) line[lead - 1] : 0;
        size_t seq = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (seq > 0 && len - (lead - 1) < seq)
                len = lead - 1;
        return len;
}

/* ---- the budget's heap of rings ----
 *
 * The budget takes memory from the largest ring first. Rings are kept in a binary max-heap
 * by the memory they hold, each knowing its place: the largest is at the top, the largest but
 * one is a child of the top, and a ring whose memory changed (only when its arena is
 * resized, never per line) moves in O(log n). */

static bool heap_above(const LogRing *a, const LogRing *b) {
        return log_ring_memory(a) > log_ring_memory(b);
}

static void heap_set(LogBudget *b, uint32_t i, LogRing *ring) {
        b->heap[i] = ring;
        ring->budget_idx = i;
}

static void heap_up(LogBudget *b, uint32_t i) {
        LogRing *ring = b->heap[i];
        while (i > 0 && heap_above(ring, b->heap[(i - 1) / 2])) {
                heap_set(b, i, b->heap[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
        heap_set(b, i, ring);
}

static void heap_down(LogBudget *b, uint32_t i) {
        LogRing *ring = b->heap[i];
        for (;;) {
                uint32_t c = 2 * i + 1;
                if (c >= b->n_rings)
                        break;
                if (c + 1 < b->n_rings && heap_above(b->heap[c + 1], b->heap[c]))
                        c++;
                if (!heap_above(b->heap[c], ring))
                        break;
                heap_set(b, i, b->heap[c]);
                i = c;
        }
        heap_set(b, i, ring);
}

/* Room in the heap for one more ring, so that adding it cannot fail. */
static int budget_reserve(LogBudget *b) {
        if (b->n_rings < b->n_alloc)
                return 0;
        uint32_t n = MAX(b->n_alloc * 2, 16u);
        LogRing **heap = reallocarray(b->heap, n, sizeof(LogRing *));
        if (!heap)
                return -ENOMEM;
        b->heap = heap;
        b->n_alloc = n;
        return 0;
}

static void budget_add(LogBudget *b, LogRing *ring) {
        assert(b->n_rings < b->n_alloc);
        ring->budget = b;
        heap_set(b, b->n_rings++, ring);
        heap_up(b, ring->budget_idx);
}

static void budget_remove(LogRing *ring) {
        LogBudget *b = ring->budget;
        uint32_t i = ring->budget_idx;
        LogRing *last = b->heap[--b->n_rings];
        if (last != ring) {
                heap_set(b, i, last);
                heap_up(b, i);
                heap_down(b, last->budget_idx);
        }
        if (b->n_rings == 0) {
                free(b->heap);
                b->heap = NULL;
                b->n_alloc = 0;
        }
        ring->budget = NULL;
        ring->budget_idx = 0;
}

/* ring's memory changed from before: it takes its place again. */
static void budget_moved(LogRing *ring, uint64_t before) {
        if (log_ring_memory(ring) > before)
                heap_up(ring->budget, ring->budget_idx);
        else
                heap_down(ring->budget, ring->budget_idx);
}

/* The ring holding the most memory. */
static LogRing *budget_largest(const LogBudget *b) {
        return b->n_rings > 0 ? b->heap[0] : NULL;
}

/* The largest ring but except: the top, or the larger child of the top. */
static LogRing *budget_largest_except(const LogBudget *b, const LogRing *except) {
        if (b->n_rings == 0)
                return NULL;
        if (b->heap[0] != except)
                return b->heap[0];
        if (b->n_rings == 1)
                return NULL;
        if (b->n_rings == 2 || heap_above(b->heap[1], b->heap[2]))
                return b->heap[1];
        return b->heap[2];
}

/* ---- the arena ---- */

/* Moves the lines, oldest first, to the start of a new allocation of n_slots offsets and
 * size bytes (both 0: none), which must hold them all. */
static int ring_resize(LogRing *ring, LogBudget *budget, uint32_t n_slots, uint32_t size) {
        assert(n_slots >= ring->count && size >= ring_content(ring));
        if (!ring->budget && budget && (n_slots > 0 || size > 0) && budget_reserve(budget) < 0)
                return -ENOMEM;
        char *mem = NULL;
        if (n_slots > 0 || size > 0) {
                mem = malloc(memory_of(n_slots, size));
                if (!mem)
                        return -ENOMEM;
        }
        uint32_t wpos = 0;
        for (uint32_t i = 0; i < ring->count; i++) {
                uint32_t len = ring_index(ring)[((uint64_t) ring->head + i) % ring->n_slots].len;
                ((LineSlot *) (void *) mem)[i] = (LineSlot){.off = wpos, .len = len};
                memcpy(mem + (size_t) n_slots * sizeof(LineSlot) + wpos, log_ring_line(ring, i), len + 1);
                wpos += len + 1;
        }

        uint64_t before = log_ring_memory(ring);
        free(ring->mem);
        ring->mem = mem;
        ring->n_slots = n_slots;
        ring->size = size;
        ring->head = 0;
        ring->wpos = wpos;

        LogBudget *b = ring->budget ?: (mem ? budget : NULL);
        if (!b)
                return 0;
        b->used = b->used - before + log_ring_memory(ring);
        if (ring->budget && !mem)
                budget_remove(ring);
        else if (!ring->budget)
                budget_add(b, ring);
        else
                budget_moved(ring, before);
        return 0;
}

static void ring_drop_oldest(LogRing *ring) {
        assert(ring->count > 0);
        ring->bytes -= ring_index(ring)[ring->head].len;
        ring->head = (ring->head + 1) % ring->n_slots;
        if (--ring->count == 0)
                ring->head = ring->wpos = 0;
}

/* Where a line of n bytes (NUL included) goes without moving anything, or NO_ROOM. */
static uint32_t ring_place(const LogRing *ring, uint32_t n) {
        if (ring->count == 0)
                return n <= ring->size ? 0 : NO_ROOM;
        uint32_t start = ring_index(ring)[ring->head].off;
        if (ring->wpos > start) { /* lines in [start, wpos): room after them, or before */
                if (n <= ring->size - ring->wpos)
                        return ring->wpos;
                return n <= start ? 0 : NO_ROOM;
        }
        /* wrapped: lines in [start, end of arena) and [0, wpos) */
        return n <= start - ring->wpos ? ring->wpos : NO_ROOM;
}

/* An arena that holds the lines and one more of n bytes with a quarter to spare (doubling),
 * so that lines keep their place for a while, or with less to spare where that is all the
 * budget has left; 0 when no arena of 32-bit offsets could. */
static uint32_t arena_for(const LogRing *ring, const LogBudget *b, uint32_t n_slots, uint32_t n) {
        uint64_t need = ring_content(ring) + n, size = MAX(ring->size, ARENA_MIN);
        while (size < need + need / 4)
                size *= 2;
        if (b && b->limit > b->used) {
                uint64_t most = log_ring_memory(ring) + (b->limit - b->used);
                most -= MIN(most, memory_of(n_slots, 0));
                if (size > most && most >= need + need / 8)
                        size = most;
        }
        if (size <= UINT32_MAX)
                return (uint32_t) size;
        return need <= UINT32_MAX ? (uint32_t) need : 0;
}

/* The budget has no room for grow more bytes for ring, and ring holds about as much as
 * the largest ring (at least half of it): then it makes room among its own lines instead. */
static bool budget_tight(LogBudget *b, LogRing *ring, uint64_t grow) {
        if (!b || b->limit == 0 || b->used + grow <= b->limit)
                return false;
        LogRing *largest = budget_largest(b);
        return !largest || largest == ring || log_ring_memory(ring) * 2 >= log_ring_memory(largest);
}

/* Gives back at least want bytes of ring's memory (a quarter at least, so that it is not
 * resized per line), dropping its oldest lines; keep_newest spares its newest line.
 * Returns the bytes given back. */
static uint64_t ring_trim(LogRing *ring, uint64_t want, bool keep_newest) {
        LogBudget *b = ring->budget;
        uint64_t mem = log_ring_memory(ring), target = mem - MIN(mem, MAX(want, mem / 4));
        uint64_t bytes = ring->bytes;
        uint32_t keep = keep_newest ? 1 : 0;
        while (ring->count > keep && memory_of(ring->count, 0) + ring_content(ring) > target) {
                ring_drop_oldest(ring);
                b->dropped++;
        }
        if (b->trimmed && !keep_newest && bytes != ring->bytes)
                b->trimmed(b->userdata, ring, (int64_t) ring->bytes - (int64_t) bytes);
        if (ring_resize(ring, b, ring->count, (uint32_t) ring_content(ring)) < 0)
                return 0; /* no memory to move it: it keeps its arena, with fewer lines */
        return mem - log_ring_memory(ring);
}

/* Takes from the largest rings until the budget holds; pushed keeps its newest line (and
 * when that is all it has, the others give). */
static void budget_enforce(LogBudget *b, LogRing *pushed) {
        while (b->limit > 0 && b->used > b->limit) {
                LogRing *victim = budget_largest(b);
                if (victim == pushed && ring_trim(victim, b->used - b->limit, true) > 0)
                        continue;
                if (victim == pushed)
                        victim = budget_largest_except(b, pushed);
                if (!victim || ring_trim(victim, b->used - b->limit, false) == 0)
                        return;
        }
}

int log_ring_push(LogRing *ring, LogBudget *budget, uint32_t max_lines, const char *line) {
        assert(max_lines >= 1);
        assert(!ring->budget || !budget || ring->budget == budget);
        if (ring->budget)
                budget = ring->budget;

        bool cut;
        size_t kept = line_kept(line, &cut);
        uint32_t n = (uint32_t) (kept + (cut ? TRUNCATED_LEN : 0) + 1);

        while (ring->count >= max_lines)
                ring_drop_oldest(ring);

        uint32_t at;
        while ((at = ring_place(ring, n)) == NO_ROOM || ring->count == ring->n_slots) {
                uint32_t n_slots = ring->n_slots, size = ring->size;
                if (ring->count == n_slots)
                        n_slots = (uint32_t) MIN(MAX((uint64_t) n_slots * 2, SLOTS_MIN), max_lines);
                if (at == NO_ROOM && (size = arena_for(ring, budget, n_slots, n)) == 0) {
                        ring_drop_oldest(ring); /* only past 4 GiB of lines */
                        continue;
                }
                uint64_t grow =
                        memory_of(n_slots, size) - MIN(memory_of(n_slots, size), log_ring_memory(ring));
                if (ring->count > 0 && budget_tight(budget, ring, grow)) {
                        ring_drop_oldest(ring);
                        budget->dropped++;
                        continue;
                }
                int r = ring_resize(ring, budget, n_slots, size);
                if (r < 0)
                        return r;
        }

        char *dst = ring_arena(ring) + at;
        memcpy(dst, line, kept);
        if (cut)
                memcpy(dst + kept, LOG_LINE_TRUNCATED, TRUNCATED_LEN);
        dst[n - 1] = 0;
        LineSlot *slot = &ring_index(ring)[((uint64_t) ring->head + ring->count) % ring->n_slots];
        *slot = (LineSlot){.off = at, .len = n - 1};
        ring->count++;
        ring->wpos = at + n;
        ring->bytes += n - 1;
        ring->total++;

        if (ring->budget)
                budget_enforce(ring->budget, ring);
        return 0;
}

void log_ring_shrink(LogRing *ring, uint32_t keep) {
        if (!ring->mem)
                return;
        while (ring->count > keep)
                ring_drop_oldest(ring);
        /* Without memory to move them it keeps its arena: fewer lines in it all the same. */
        (void) ring_resize(ring, ring->budget, ring->count, (uint32_t) ring_content(ring));
}

void log_ring_done(LogRing *ring) {
        if (ring->budget) {
                ring->budget->used -= log_ring_memory(ring);
                budget_remove(ring);
        }
        free(ring->mem);
        *ring = (LogRing){};
}

const char *log_ring_line(const LogRing *ring, uint32_t i) {
        if (i >= ring->count)
                return NULL;
        return ring_arena(ring) + ring_index(ring)[((uint64_t) ring->head + i) % ring->n_slots].off;
}
