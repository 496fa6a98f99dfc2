/* list-machines: each machine's configuration, what runs and waits for it, copies, and its
 * polled state; then the builds waiting for any machine and the configuration itself. */
#include "daemon/commands-machines.h"

#include "daemon/machines-config.h"
#include "daemon/machines-poll.h"
#include "shared/model-machines.h"

static cJSON *strv_json(char **v, size_t n) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < n; i++)
                cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
        return a;
}

static cJSON *build_brief(const Build *b, usec_t now) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "key", (double) b->key);
        cJSON_AddStringToObject(o, "name", b->name);
        cJSON_AddStringToObject(o, "drv", b->drv);
        cJSON_AddStringToObject(o, "state", build_state_to_string(b->state));
        if (b->started)
                cJSON_AddNumberToObject(o, "duration",
                                        now > b->started ? usec_to_sec(now - b->started) : 0.0);
        if (b->system)
                cJSON_AddStringToObject(o, "system", b->system);
        return o;
}

static cJSON *machine_json(Daemon *d, ModelMachine *mm, usec_t now) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "uri", mm->uri);
        cJSON_AddStringToObject(o, "key", mm->key);
        cJSON_AddBoolToObject(o, "configured", mm->configured);
        if (mm->configured) {
                const MachineSpec *s = &mm->spec;
                cJSON_AddStringToObject(o, "origin", s->origin);
                cJSON_AddNumberToObject(o, "line", s->line);
                cJSON_AddItemToObject(o, "systems", strv_json(s->systems, s->n_systems));
                cJSON_AddStringToObject(o, "ssh_key", s->ssh_key);
                cJSON_AddNumberToObject(o, "max_jobs", s->max_jobs);
                cJSON_AddNumberToObject(o, "speed_factor", s->speed_factor);
                cJSON_AddItemToObject(o, "supported_features",
                                      strv_json(s->supported_features, s->n_supported_features));
                cJSON_AddItemToObject(o, "mandatory_features",
                                      strv_json(s->mandatory_features, s->n_mandatory_features));
                cJSON_AddBoolToObject(o, "host_key", s->host_key[0] != '\0');
        }
        cJSON *running = cJSON_AddArrayToObject(o, "running");
        cJSON *waiting = cJSON_AddArrayToObject(o, "waiting");
        unsigned n_running = 0;
        for (Build *b = model_builds_first(d->model); b && running && waiting; b = b->next) {
                if (b->state == BUILD_RUNNING || b->state == BUILD_FROZEN) {
                        if (model_machine_has_build(mm, b)) {
                                n_running++;
                                cJSON_AddItemToArray(running, build_brief(b, now));
                        }
                } else if (model_machine_could_take(mm, b))
                        cJSON_AddItemToArray(waiting, build_brief(b, now));
        }
        cJSON *slots = cJSON_AddObjectToObject(o, "slots");
        if (slots) {
                cJSON_AddNumberToObject(slots, "used", n_running);
                if (mm->configured)
                        cJSON_AddNumberToObject(slots, "total", mm->spec.max_jobs);
                else
                        cJSON_AddNullToObject(slots, "total");
        }
        cJSON *copies = cJSON_AddObjectToObject(o, "copies");
        if (copies) {
                cJSON_AddNumberToObject(copies, "to", mm->copies_to);
                cJSON_AddNumberToObject(copies, "from", mm->copies_from);
                cJSON_AddNumberToObject(copies, "paths_to", (double) mm->paths_to);
                cJSON_AddNumberToObject(copies, "paths_from", (double) mm->paths_from);
        }
        cJSON_AddNumberToObject(o, "builds_total", (double) mm->builds_total);
        if (mm->last_build)
                cJSON_AddNumberToObject(o, "last_build", usec_to_sec(mm->last_build));
        else
                cJSON_AddNullToObject(o, "last_build");
        cJSON_AddItemToObject(o, "poll", machines_poll_to_json(d->machines_poll, mm));
        return o;
}

int command_list_machines(ControlConn *c, const ControlRequest *req, Reply *r) {
        Daemon *d = c->daemon;
        usec_t now = now_realtime();
        r->result = cJSON_CreateObject();
        cJSON *arr = r->result ? cJSON_AddArrayToObject(r->result, "machines") : NULL;
        cJSON *waiting = r->result ? cJSON_AddArrayToObject(r->result, "waiting") : NULL;
        if (!arr || !waiting)
                return reply_oom(r);
        for (ModelMachine *mm = model_machines_first(d->model); mm; mm = model_machine_next(mm)) {
                cJSON *o = machine_json(d, mm, now);
                if (!o || !cJSON_AddItemToArray(arr, o)) {
                        cJSON_Delete(o);
                        return reply_oom(r);
                }
        }
        for (Build *b = model_builds_first(d->model); b; b = b->next)
                if (build_waiting_for_machine(b))
                        cJSON_AddItemToArray(waiting, build_brief(b, now));
        if (d->machines_config)
                cJSON_AddItemToObject(r->result, "config", machines_config_to_json(d->machines_config));
        else
                cJSON_AddNullToObject(r->result, "config");
        return 0;
}
