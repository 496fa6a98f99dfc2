/* A bump arena for the short-lived cJSON trees of ingested records: parsing a record then
 * costs no malloc/free per node and string, and the whole tree goes in one reset.
 *
 * cJSON's allocation hooks are process-global, so json_arena_install() routes every cJSON
 * allocation through this module, in every thread. An allocation comes from the arena only
 * on the thread that installed it and only between json_arena_begin() and json_arena_end();
 * everything else goes to malloc. cJSON's free recognises arena pointers by address and
 * ignores them, whichever thread frees them, so a tree may be freed as usual
 * (cJSON_Delete); its memory returns when the owner calls json_arena_reset(), which it must
 * do only once no tree allocated in the arena is in use any more. An allocation that does
 * not fit (a huge record) falls back to malloc. */
#pragma once

#include <stdbool.h>

/* Creates the arena, owned by the calling thread, and installs the cJSON hooks. Call once,
 * before any other thread uses cJSON (the hooks are plain globals of libcjson). Objects
 * made before it are freed correctly after it: whatever is not in the arena goes to free(). */
int json_arena_install(void);

/* Owner thread only; begin/end do not nest. Without an installed arena all three do
 * nothing. */
void json_arena_begin(void);
void json_arena_end(void);
void json_arena_reset(void);

/* Whether the tree rooted at root, parsed between begin and end since the last reset, lies
 * wholly in the arena, so that freeing it node by node would only be wasted time. Only for a
 * tree that was not changed after its parse. */
bool json_arena_holds_tree(const void *root);

/* Whether p lies in the arena. */
bool json_arena_contains(const void *p);
