/* Typed reads of the daemon's JSON objects: a missing or mistyped field is a default, never
 * a crash (the daemon is a peer: its answers are checked, not trusted). */
#pragma once

#include <stdbool.h>

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
