/* Typed reads of the daemon's JSON objects, for its clients. */
#include "shared/json-read.h"

#include <errno.h>

/* NULL when o is NULL or not an object (a client may be handed any value). */
static const cJSON *member(const cJSON *o, const char *key) {
        return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

const char *json_str(const cJSON *o, const char *key) {
        const cJSON *v = member(o, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

double json_num(const cJSON *o, const char *key, double def) {
        const cJSON *v = member(o, key);
        return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int json_to_u64(const cJSON *v, uint64_t *ret) {
        /* 2^64 is exact as a double; every double below it that is an integer converts. */
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 18446744073709551616.0) ||
            v->valuedouble != (double) (uint64_t) v->valuedouble)
                return -EINVAL;
        *ret = (uint64_t) v->valuedouble;
        return 0;
}

uint64_t json_u64(const cJSON *o, const char *key, uint64_t def) {
        uint64_t u;
        return json_to_u64(member(o, key), &u) < 0 ? def : u;
}

int json_int(const cJSON *o, const char *key, int lo, int hi, int def) {
        const cJSON *v = member(o, key);
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
                return def;
        return (int) v->valuedouble;
}

bool json_has_num(const cJSON *o, const char *key) {
        return cJSON_IsNumber(member(o, key));
}

const cJSON *json_obj(const cJSON *o, const char *key) {
        const cJSON *v = member(o, key);
        return cJSON_IsObject(v) ? v : NULL;
}

const cJSON *json_arr(const cJSON *o, const char *key) {
        const cJSON *v = member(o, key);
        return cJSON_IsArray(v) ? v : NULL;
}

bool json_bool(const cJSON *o, const char *key) {
        return cJSON_IsTrue(member(o, key));
}
