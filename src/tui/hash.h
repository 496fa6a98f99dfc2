/* uthash for the TUI's tables, with FNV-1a: uthash's default (Jenkins) hash is a switch with
 * fall-through that -Wimplicit-fallthrough rejects; FNV-1a is a loop and as good for our keys. */
#pragma once

#define HASH_FUNCTION(keyptr, keylen, hashv) HASH_FNV(keyptr, keylen, hashv)
#include <uthash.h>
