/* Typed reads of the daemon's JSON objects: a missing or mistyped field is a default, never
 * a crash (the daemon is a peer: its answers are checked, not trusted). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "basic/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

static inline const char *json_str(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline double json_num(const cJSON *o, const char *key, double def) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* A non-negative integer (a key, an id, a count): def when absent, negative, fractional or
 * too large (converting such a double to an integer type would be undefined). */
static inline uint64_t json_u64(const cJSON *o, const char *key, uint64_t def) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 18446744073709551616.0) ||
            v->valuedouble != (double) (uint64_t) v->valuedouble)
                return def;
        return (uint64_t) v->valuedouble;
}

/* An int within [lo, hi], else def. */
static inline int json_int(const cJSON *o, const char *key, int lo, int hi, int def) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
                return def;
        return (int) v->valuedouble;
}

static inline bool json_has_num(const cJSON *o, const char *key) {
        return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, key));
}

static inline const cJSON *json_obj(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsObject(v) ? v : NULL;
}

static inline const cJSON *json_arr(const cJSON *o, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsArray(v) ? v : NULL;
}

static inline bool json_bool(const cJSON *o, const char *key) {
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}
