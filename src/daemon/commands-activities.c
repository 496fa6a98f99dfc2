/* list-activities: what invocations are doing beside building, while they do it: substitutions
 * (paths fetched from a binary cache), downloads, copies to and from remote machines, and
 * post-build hooks. The open activities of every source, as the model holds them. */
#include "daemon/commands-activities.h"

#include <stdlib.h>

#include "basic/time-util.h"
#include "shared/model-machines.h"
#include "shared/storepath.h"

static const char *activity_kind(int64_t type) {
        switch (type) {
        case NIX_ACT_COPY_PATH:
                return "copy";
        case NIX_ACT_FILE_TRANSFER:
                return "download";
        case NIX_ACT_SUBSTITUTE:
                return "substitute";
        case NIX_ACT_POST_BUILD_HOOK:
                return "post-build-hook";
        default:
                return NULL;
        }
}

static cJSON *activity_json(Daemon *d, Source *s, Activity *a, usec_t now) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "invocation", (double) s->invocation.id);
        cJSON_AddNumberToObject(o, "id", (double) a->id);
        cJSON_AddNumberToObject(o, "type", (double) a->type);
        cJSON_AddStringToObject(o, "kind", activity_kind(a->type));
        if (a->started) {
                cJSON_AddNumberToObject(o, "started", usec_to_sec(a->started));
                cJSON_AddNumberToObject(o, "duration",
                                        now > a->started ? usec_to_sec(now - a->started) : 0.0);
        }
        /* A download inside a substitution is about the substitution's path. */
        Activity *about = a;
        if (a->type == NIX_ACT_FILE_TRANSFER && a->has_parent)
                HASH_FIND(hh, s->activities, &a->parent, sizeof(a->parent), about);
        if (about && about->path) {
                cJSON_AddStringToObject(o, "path", about->path);
                _cleanup_free_ char *name = NULL;
                if (store_path_name(d->config.model.store_dir ?: "/nix/store", about->path, &name) >= 0)
                        cJSON_AddStringToObject(o, "name", name);
                if (about->uri)
                        cJSON_AddStringToObject(o, "uri", about->uri);
        }
        if (a->machine) {
                cJSON_AddStringToObject(o, "machine", a->machine->key);
                cJSON_AddStringToObject(o, "direction", a->copy_dir > 0 ? "to" : "from");
        }
        if (a->build) {
                cJSON_AddNumberToObject(o, "build", (double) a->build->key);
                cJSON_AddStringToObject(o, "name", a->build->name);
        }
        return o;
}

int command_list_activities(ControlConn *c, const ControlRequest *req, Reply *r) {
        Daemon *d = c->daemon;
        usec_t now = now_realtime();
        r->result = cJSON_CreateObject();
        cJSON *arr = r->result ? cJSON_AddArrayToObject(r->result, "activities") : NULL;
        if (!arr)
                return reply_oom(r);
        for (Source *s = model_sources_first(d->model); s; s = s->next) {
                Activity *a, *tmp;
                HASH_ITER(hh, s->activities, a, tmp) {
                        if (!activity_kind(a->type))
                                continue;
                        cJSON *o = activity_json(d, s, a, now);
                        if (!o || !cJSON_AddItemToArray(arr, o)) {
                                cJSON_Delete(o);
                                return reply_oom(r);
                        }
                }
        }
        return 0;
}
