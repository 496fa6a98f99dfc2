/* Typed reads of the daemon's JSON objects, for its clients: a missing or mistyped field is a
 * default, never a crash (the daemon is a peer: its answers are checked, not trusted). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "basic/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

/* The string at key, or NULL. */
const char *json_str(const cJSON *o, const char *key);

/* The number at key, or def. */
double json_num(const cJSON *o, const char *key, double def);

/* v as a non-negative integer (a key, an id, a count): 0, or -EINVAL when v is no number, or
 * one that is negative, fractional or too large (converting such a double to an integer type
 * would be undefined). */
int json_to_u64(const cJSON *v, uint64_t *ret);

/* The non-negative integer at key (as json_to_u64()), else def. */
uint64_t json_u64(const cJSON *o, const char *key, uint64_t def);

/* An int within [lo, hi], else def. */
int json_int(const cJSON *o, const char *key, int lo, int hi, int def);

bool json_has_num(const cJSON *o, const char *key);

/* The object or array at key, or NULL. */
const cJSON *json_obj(const cJSON *o, const char *key);
const cJSON *json_arr(const cJSON *o, const char *key);

/* True only for a JSON true at key. */
bool json_bool(const cJSON *o, const char *key);
