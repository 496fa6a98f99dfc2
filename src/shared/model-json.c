/* The model's objects as JSON, in the schemas of docs/protocol.md. */
#include "shared/model-json.h"

#include <math.h>
#include <stdint.h>

#include "basic/macro.h"
#include "shared/model-machines.h"
#include "shared/eta.h"

/* Adders that tolerate a NULL object so that builders can check once at the end. */
static void add_time(cJSON *o, const char *key, usec_t t) {
        if (t)
                cJSON_AddNumberToObject(o, key, usec_to_sec(t));
        else
                cJSON_AddNullToObject(o, key);
}

static void add_int_or_null(cJSON *o, const char *key, int64_t v, bool present) {
        if (present)
                cJSON_AddNumberToObject(o, key, (double) v);
        else
                cJSON_AddNullToObject(o, key);
}

static void add_string_or_null(cJSON *o, const char *key, const char *v) {
        if (v)
                cJSON_AddStringToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

/* cJSON reports allocation failures only through NULL returns; a partially built object is
 * detected by counting members. */
static cJSON *checked(cJSON *o, int expected_members) {
        if (o && cJSON_GetArraySize(o) < expected_members) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

cJSON *requester_to_json(const Requester *r) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        add_int_or_null(o, "uid", r->uid, r->uid >= 0);
        add_string_or_null(o, "user", r->user);
        add_int_or_null(o, "pid", r->pid, r->pid > 0);
        add_string_or_null(o, "cmdline", r->cmdline);
        return checked(o, 4);
}

static cJSON *failure_to_json(const Build *b) {
        if (b->failure == FAILURE_NONE)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "kind", failure_kind_to_string(b->failure));
        add_int_or_null(o, "exit_code", b->exit_code, b->exit_code >= 0);
        add_int_or_null(o, "signal", b->signal, b->signal > 0);
        add_string_or_null(o, "message", b->failure_message);
        /* Killed at its memory limit: the limit in force and how high it went. */
        if (b->failure == FAILURE_OOM) {
                add_int_or_null(o, "mem_limit", (int64_t) b->usage.mem_limit, b->usage.mem_limit > 0);
                add_int_or_null(o, "mem_peak", (int64_t) usage_limit_peak(&b->usage), b->usage.sampled);
                return checked(o, 6);
        }
        return checked(o, 4);
}

/* {"cpu", "memory", "io": percent of the last interval stalled, "memory_peak"}, or null. */
static cJSON *pressure_to_json(const BuildUsage *u) {
        if (!u->has_pressure)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        for (PsiResource p = 0; p < _PSI_RESOURCE_MAX; p++)
                cJSON_AddNumberToObject(o, psi_resource_to_string(p), round(u->pressure[p] * 100) / 100);
        cJSON_AddNumberToObject(o, "memory_peak", round(u->pressure_mem_peak * 100) / 100);
        return checked(o, 4);
}

cJSON *usage_to_json(const BuildUsage *u) {
        if (!u->sampled)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "cpu_user", usec_to_sec(u->cpu_user));
        cJSON_AddNumberToObject(o, "cpu_system", usec_to_sec(u->cpu_system));
        cJSON_AddNumberToObject(o, "cpu_percent", u->cpu_percent);
        cJSON_AddNumberToObject(o, "mem_current", (double) u->mem_current);
        cJSON_AddNumberToObject(o, "mem_peak", (double) u->mem_peak);
        if (u->has_mem_cgroup) {
                cJSON_AddNumberToObject(o, "mem_cgroup", (double) u->mem_cgroup);
                cJSON_AddNumberToObject(o, "mem_cgroup_peak", (double) u->mem_cgroup_peak);
        } else {
                cJSON_AddNullToObject(o, "mem_cgroup");
                cJSON_AddNullToObject(o, "mem_cgroup_peak");
        }
        cJSON_AddNumberToObject(o, "io_read", (double) u->io_read);
        cJSON_AddNumberToObject(o, "io_write", (double) u->io_write);
        cJSON_AddNumberToObject(o, "procs", u->n_procs);
        cJSON_AddNumberToObject(o, "threads", u->n_threads);
        add_int_or_null(o, "nice", u->nice, u->has_nice);
        if (u->cpu_limit > 0)
                cJSON_AddNumberToObject(o, "cpu_limit", u->cpu_limit);
        else
                cJSON_AddNullToObject(o, "cpu_limit");
        add_int_or_null(o, "mem_limit", (int64_t) u->mem_limit, u->mem_limit > 0);
        cJSON_AddBoolToObject(o, "oom_killed", u->oom_killed);
        cJSON_AddItemToObject(o, "pressure", pressure_to_json(u));
        return checked(o, 14);
}

/* A build's ETA: null without history; "remaining" only while it runs. */
static cJSON *build_eta_to_json(const Build *b, usec_t now) {
        if (b->eta.samples == 0)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "expected", b->eta.expected);
        cJSON_AddNumberToObject(o, "low", b->eta.low);
        cJSON_AddNumberToObject(o, "high", b->eta.high);
        if (build_state_is_active(b->state) && b->state != BUILD_QUEUED && b->started) {
                double elapsed = usec_to_sec(build_duration(b, now));
                cJSON_AddNumberToObject(o, "remaining", eta_remaining(&b->eta, elapsed));
                cJSON_AddNumberToObject(o, "overtime", eta_overtime(&b->eta, elapsed));
        } else {
                cJSON_AddNullToObject(o, "remaining");
                cJSON_AddNullToObject(o, "overtime");
        }
        cJSON_AddNumberToObject(o, "samples", b->eta.samples);
        cJSON_AddStringToObject(o, "confidence", b->eta.confidence ? b->eta.confidence : "low");
        cJSON_AddStringToObject(o, "basis", b->eta.other_machines ? "other-machines" : "same-machine");
        return checked(o, 8);
}

static cJSON *invocation_eta_to_json(const Invocation *inv) {
        if (!inv->eta.known)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        usec_t now = now_realtime();
        double since = now > inv->eta.at ? (double) (now - inv->eta.at) / 1e6 : 0;
        cJSON_AddNumberToObject(o, "remaining", MAX(inv->eta.remaining - since, 0.0));
        cJSON_AddNumberToObject(o, "left", inv->eta.left);
        cJSON_AddNumberToObject(o, "unknown", inv->eta.unknown);
        cJSON_AddNumberToObject(o, "critical_path", inv->eta.critical_path);
        cJSON_AddNumberToObject(o, "work", inv->eta.work);
        cJSON_AddNumberToObject(o, "slots", inv->eta.slots);
        cJSON_AddStringToObject(o, "confidence", inv->eta.confidence ? inv->eta.confidence : "low");
        return checked(o, 7);
}

/* The build directory as last measured; null before (or without: remote, not found). */
static cJSON *dir_usage_to_json(const BuildDirUsage *u) {
        if (!u->sampled)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        add_string_or_null(o, "path", u->path);
        cJSON_AddNumberToObject(o, "used", (double) u->used);
        cJSON_AddBoolToObject(o, "truncated", u->truncated);
        cJSON_AddNumberToObject(o, "fs_free", (double) u->fs_free);
        cJSON_AddNumberToObject(o, "fs_size", (double) u->fs_size);
        cJSON_AddBoolToObject(o, "fs_nearly_full", u->fs_nearly_full);
        add_time(o, "at", u->at);
        return checked(o, 7);
}

/* The machine's own daemon's view of a remote build; null without one. */
static cJSON *remote_view_to_json(const BuildRemoteView *v) {
        if (!v->present)
                return cJSON_CreateNull();
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        add_string_or_null(o, "state", v->state);
        add_string_or_null(o, "phase", v->phase);
        if (v->sampled) {
                cJSON_AddNumberToObject(o, "cpu_percent", v->cpu_percent);
                cJSON_AddNumberToObject(o, "mem_current", (double) v->mem_current);
                cJSON_AddNumberToObject(o, "mem_peak", (double) v->mem_peak);
                cJSON_AddNumberToObject(o, "procs", v->n_procs);
        } else {
                cJSON_AddNullToObject(o, "cpu_percent");
                cJSON_AddNullToObject(o, "mem_current");
                cJSON_AddNullToObject(o, "mem_peak");
                cJSON_AddNullToObject(o, "procs");
        }
        cJSON_AddNumberToObject(o, "log_lines", (double) v->log_lines);
        add_time(o, "seen", v->seen);
        return checked(o, 8);
}

cJSON *build_to_json(const Build *b, usec_t now, unsigned log_tail) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        int members = 25;

        cJSON_AddNumberToObject(o, "key", (double) b->key);
        cJSON_AddStringToObject(o, "drv", b->drv);
        cJSON_AddStringToObject(o, "name", b->name);
        cJSON_AddStringToObject(o, "state", build_state_to_string(b->state));
        cJSON_AddStringToObject(o, "machine", b->machine);
        cJSON_AddBoolToObject(o, "waiting_for_machine", build_waiting_for_machine(b));
        add_string_or_null(o, "phase", b->n_phases ? b->phases[b->n_phases - 1].name : NULL);

        cJSON *phases = cJSON_AddArrayToObject(o, "phases");
        for (uint32_t i = 0; phases && i < b->n_phases; i++) {
                cJSON *p = cJSON_CreateObject();
                if (!p || !cJSON_AddItemToArray(phases, p)) {
                        cJSON_Delete(p);
                        cJSON_Delete(o);
                        return NULL;
                }
                cJSON_AddStringToObject(p, "name", b->phases[i].name);
                cJSON_AddNumberToObject(p, "time", usec_to_sec(b->phases[i].time));
        }

        cJSON_AddNumberToObject(o, "invocation", (double) b->invocation->id);
        cJSON_AddNumberToObject(o, "source", (double) b->invocation->source->id);
        cJSON_AddItemToObject(o, "requester", requester_to_json(&b->requester));
        add_time(o, "queued", b->queued);
        add_time(o, "started", b->started);
        add_time(o, "finished", build_state_is_final(b->state) ? b->finished : 0);
        if (b->started)
                cJSON_AddNumberToObject(o, "duration", usec_to_sec(build_duration(b, now)));
        else
                cJSON_AddNullToObject(o, "duration");
        /* Frozen time is not building time: apart from the duration. */
        cJSON_AddNumberToObject(
                o, "frozen_time",
                usec_to_sec(build_frozen_time(b, build_state_is_final(b->state) ? b->finished : now)));
        cJSON_AddNumberToObject(o, "log_lines", (double) b->log.total);
        add_time(o, "last_output", b->last_output);
        /* How long a running build has printed nothing: since its last line, or its start. */
        usec_t quiet_since = b->last_output ? b->last_output : b->started;
        if (b->state == BUILD_RUNNING && quiet_since)
                cJSON_AddNumberToObject(o, "silent_for",
                                        usec_to_sec(now > quiet_since ? now - quiet_since : 0));
        else
                cJSON_AddNullToObject(o, "silent_for");
        cJSON_AddBoolToObject(o, "waiting_for_lock", build_waiting_for_lock(b));
        cJSON_AddItemToObject(o, "failure", failure_to_json(b));
        cJSON_AddItemToObject(o, "usage", usage_to_json(&b->usage));
        cJSON_AddItemToObject(o, "eta", build_eta_to_json(b, now));
        cJSON_AddItemToObject(o, "remote", remote_view_to_json(&b->remote));
        cJSON_AddItemToObject(o, "build_dir", dir_usage_to_json(&b->dir));

        if (log_tail > 0) {
                members++;
                cJSON *tail = cJSON_AddArrayToObject(o, "log_tail");
                uint32_t n = MIN(log_tail, b->log.count);
                for (uint32_t i = b->log.count - n; tail && i < b->log.count; i++)
                        cJSON_AddItemToArray(tail, cJSON_CreateString(build_log_line(b, i)));
        }
        return checked(o, members);
}

cJSON *invocation_to_json(const Invocation *inv) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "id", (double) inv->id);
        cJSON_AddNumberToObject(o, "source", (double) inv->source->id);
        cJSON_AddItemToObject(o, "requester", requester_to_json(&inv->requester));
        add_time(o, "started", inv->started);
        add_time(o, "finished", inv->done ? inv->finished : 0);
        cJSON_AddStringToObject(o, "state", invocation_state_to_string(inv));
        add_string_or_null(o, "error", inv->error);
        cJSON_AddBoolToObject(o, "complete", invocation_complete(inv));

        cJSON *p = cJSON_AddObjectToObject(o, "progress");
        if (p) {
                cJSON_AddNumberToObject(p, "done", (double) inv->progress[0]);
                cJSON_AddNumberToObject(p, "expected", (double) inv->progress[1]);
                cJSON_AddNumberToObject(p, "running", (double) inv->progress[2]);
                cJSON_AddNumberToObject(p, "failed", (double) inv->progress[3]);
        }
        cJSON *counts = cJSON_AddObjectToObject(o, "counts");
        if (counts) {
                uint64_t total = 0, done = 0;
                for (BuildCount c = 0; c < _COUNT_MAX; c++) {
                        cJSON_AddNumberToObject(counts, build_count_to_string(c), inv->counts[c]);
                        total += inv->counts[c];
                        done += build_count_is_final(c) ? inv->counts[c] : 0;
                }
                cJSON_AddNumberToObject(counts, "builds", (double) total);
                cJSON_AddNumberToObject(counts, "done", (double) done);
        }
        cJSON *builds = cJSON_AddArrayToObject(o, "builds");
        for (const Build *b = inv->by_drv; builds && b; b = b->hh_drv.next)
                cJSON_AddItemToArray(builds, cJSON_CreateNumber((double) b->key));
        cJSON_AddNumberToObject(o, "messages", (double) inv->messages);
        cJSON_AddItemToObject(o, "eta", invocation_eta_to_json(inv));
        return checked(o, 13);
}

cJSON *source_to_json(const Source *s) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "id", (double) s->id);
        cJSON_AddNumberToObject(o, "pid", (double) s->pid);
        cJSON_AddNumberToObject(o, "uid", (double) s->uid);
        cJSON_AddStringToObject(o, "role", s->role);
        add_string_or_null(o, "nix", s->nix_version);
        add_time(o, "connected", s->connected);
        add_time(o, "disconnected", s->gone ? s->disconnected : 0);
        cJSON_AddNumberToObject(o, "events", (double) s->events);
        cJSON_AddNumberToObject(o, "bad", (double) s->bad);
        cJSON_AddNumberToObject(o, "oversized", (double) s->oversized);
        cJSON_AddNumberToObject(o, "dropped_by_sender", (double) s->dropped_by_sender);
        return checked(o, 11);
}

cJSON *timeline_to_json(const Timeline *tl, uint32_t max_points) {
        Timeline thin;
        if (timeline_thin(tl, max_points, 0, &thin) < 0)
                return NULL;
        cJSON *o = cJSON_CreateObject(), *t = cJSON_AddArrayToObject(o, "t"),
              *cpu = cJSON_AddArrayToObject(o, "cpu_percent"), *mem = cJSON_AddArrayToObject(o, "mem"),
              *procs = cJSON_AddArrayToObject(o, "procs"),
              *pressure = cJSON_AddArrayToObject(o, "mem_pressure");
        if (!t || !cpu || !mem || !procs || !pressure) {
                timeline_done(&thin);
                cJSON_Delete(o);
                return NULL;
        }
        cJSON_AddNumberToObject(o, "step", usec_to_sec(thin.step));
        for (uint32_t i = 0; i < thin.n; i++) {
                const TimelinePoint *p = &thin.points[i];
                cJSON_AddItemToArray(t, cJSON_CreateNumber(usec_to_sec(p->t)));
                cJSON_AddItemToArray(cpu, cJSON_CreateNumber(p->cpu_permil / 10.0));
                cJSON_AddItemToArray(mem, cJSON_CreateNumber((double) p->mem));
                cJSON_AddItemToArray(procs, cJSON_CreateNumber(p->procs));
                cJSON_AddItemToArray(pressure, p->mem_pressure == TIMELINE_PRESSURE_NONE
                                                       ? cJSON_CreateNull()
                                                       : cJSON_CreateNumber(p->mem_pressure / 10.0));
        }
        timeline_done(&thin);
        return o;
}
