/* A bump arena behind cJSON's allocation hooks, for the trees of ingested records (see the
 * header for the rules). The arena's place and size are written once, before other threads
 * exist, and never change: any thread may then test an address against them without a lock.
 * Which thread may allocate from it, and whether it currently should, is thread-local. */
#include "shared/json-arena.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#ifdef __has_feature
#if __has_feature(address_sanitizer)
#define JSON_ARENA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define JSON_ARENA_ASAN 1
#endif

#ifdef JSON_ARENA_ASAN
#include <sanitizer/asan_interface.h>
/* Under ASan, the unused and the reset part of the arena is poisoned, so a tree used after
 * its reset, or a read past one allocation into the next, is reported as with malloc. */
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
/* Leave a poisoned gap after each allocation so overflows into a neighbour are caught. */
#define REDZONE 16
#else
#define POISON(p, n)   ((void) (p), (void) (n))
#define UNPOISON(p, n) ((void) (p), (void) (n))
#define REDZONE        0
#endif

/* A record's tree takes about 1 KiB (nodes of 64 bytes plus keys and strings); 64 KiB holds
 * any usual record and stays in cache. Bigger trees spill to malloc. */
#define ARENA_SIZE  (64u * 1024u)
#define ARENA_ALIGN 16u

static char *arena_base; /* written once by json_arena_install() */

static _Thread_local bool arena_owner;
static _Thread_local bool arena_active;
static _Thread_local size_t arena_used;
static _Thread_local bool arena_spilled; /* since the last reset, an active allocation went to malloc */

bool json_arena_contains(const void *p) {
        uintptr_t a = (uintptr_t) p, b = (uintptr_t) arena_base;
        return arena_base && a >= b && a - b < ARENA_SIZE;
}

static void *arena_malloc(size_t n) {
        if (arena_active) {
                size_t need = (n + REDZONE + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
                if (n < ARENA_SIZE && need <= ARENA_SIZE - arena_used) {
                        char *p = arena_base + arena_used;
                        arena_used += need;
                        UNPOISON(p, n);
                        return p;
                }
                arena_spilled = true;
        }
        return malloc(n);
}

static void arena_free(void *p) {
        if (json_arena_contains(p))
                return; /* returns with the next json_arena_reset() */
        free(p);
}

int json_arena_install(void) {
        if (arena_base)
                return -EEXIST;
        char *base = aligned_alloc(ARENA_ALIGN, ARENA_SIZE);
        if (!base)
                return -ENOMEM;
        POISON(base, ARENA_SIZE);
        arena_base = base;
        arena_owner = true;
        arena_used = 0;
        cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = arena_malloc, .free_fn = arena_free});
        return 0;
}

void json_arena_begin(void) {
        arena_active = arena_owner;
}

void json_arena_end(void) {
        arena_active = false;
}

void json_arena_reset(void) {
        if (!arena_owner)
                return;
        POISON(arena_base, arena_used);
        arena_used = 0;
        arena_spilled = false;
}

bool json_arena_holds_tree(const void *root) {
        /* Every allocation made while active since the reset came from the arena, and the
         * root is one of them: then so is the rest of the tree (the window covers its parse). */
        return arena_owner && !arena_spilled && json_arena_contains(root);
}
