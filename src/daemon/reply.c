/* Replies and build targets shared by the command modules. */
#include "daemon/reply.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/string-util.h"

int reply_error(Reply *r, const char *code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        free(r->message);
        if (vasprintf(&r->message, fmt, ap) < 0)
                r->message = NULL;
        va_end(ap);
        r->code = code;
        return -EINVAL;
}

int reply_oom(Reply *r) {
        return reply_error(r, NA_ERR_INTERNAL, "out of memory");
}

int resolve_build(Daemon *d, const cJSON *target, Reply *r, Build **ret) {
        if (!target)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"build\" is required");
        if (cJSON_IsNumber(target)) {
                Build *b = target->valuedouble >= 0
                                   ? model_build_by_key(d->model, (uint64_t) target->valuedouble)
                                   : NULL;
                if (!b)
                        return reply_error(r, NA_ERR_NOT_FOUND, "no build with key %.0f",
                                           target->valuedouble);
                *ret = b;
                return 0;
        }
        if (!cJSON_IsString(target))
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"build\" must be a key or a string");

        const char *t = target->valuestring;
        if (string_is_digits(t)) {
                Build *b = model_build_by_key(d->model, strtoull(t, NULL, 10));
                if (!b)
                        return reply_error(r, NA_ERR_NOT_FOUND, "no build with key %s", t);
                *ret = b;
                return 0;
        }

        bool is_path = t[0] == '/';
        Build *match = NULL, *active = NULL;
        unsigned n = 0, n_active = 0;
        cJSON *candidates = cJSON_CreateArray();
        if (!candidates)
                return reply_oom(r);
        for (Build *b = model_builds_first(d->model); b; b = b->next) {
                bool hit = is_path ? strcmp(b->drv, t) == 0 : fnmatch(t, b->name, 0) == 0;
                if (!hit)
                        continue;
                n++;
                match = b;
                if (build_state_is_active(b->state)) {
                        n_active++;
                        active = b;
                }
                cJSON_AddItemToArray(candidates, cJSON_CreateNumber((double) b->key));
        }
        if (n == 1 || n_active == 1) {
                cJSON_Delete(candidates);
                *ret = n == 1 ? match : active;
                return 0;
        }
        if (n == 0) {
                cJSON_Delete(candidates);
                return reply_error(r, NA_ERR_NOT_FOUND, "no build matches '%s'", t);
        }
        r->extra = cJSON_CreateObject();
        if (!r->extra || !cJSON_AddItemToObject(r->extra, "candidates", candidates)) {
                cJSON_Delete(candidates);
                return reply_oom(r);
        }
        return reply_error(r, NA_ERR_AMBIGUOUS, "%u builds match '%s'; give a key", n, t);
}

int reply_parse_states(const cJSON *v, unsigned *ret, Reply *r) {
        const cJSON *item;
        unsigned mask = 0;
        if (cJSON_IsString(v)) {
                BuildState s = build_state_from_string(v->valuestring);
                if (s < 0)
                        return reply_error(r, NA_ERR_BAD_REQUEST, "unknown state '%s'", v->valuestring);
                *ret = 1u << s;
                return 0;
        }
        if (!cJSON_IsArray(v))
                return reply_error(r, NA_ERR_BAD_REQUEST,
                                   "\"state\" must be a string or an array of strings");
        cJSON_ArrayForEach(item, v) {
                if (!cJSON_IsString(item))
                        return reply_error(r, NA_ERR_BAD_REQUEST, "\"state\" must contain strings");
                BuildState s = build_state_from_string(item->valuestring);
                if (s < 0)
                        return reply_error(r, NA_ERR_BAD_REQUEST, "unknown state '%s'", item->valuestring);
                mask |= 1u << s;
        }
        *ret = mask;
        return 0;
}
