/* Subscriptions: turns the model's coalesced changes into events for control clients.
 * Each object is serialised once per flush, however many clients receive it. */
#include "daemon/notify.h"

#include <stdlib.h>

#include "basic/macro.h"
#include "daemon/control-conn.h"
#include "daemon/estimates.h"
#include "daemon/graphs.h"
#include "daemon/history-writer.h"
#include "daemon/machines-poll.h"
#include "daemon/metrics.h"
#include "daemon/privacy.h"
#include "daemon/processes.h"
#include "daemon/quota.h"
#include "daemon/sampler.h"
#include "shared/model-json.h"
#include "shared/proto.h"

static const char *change_name(unsigned kinds) {
        if (kinds & (1u << CHANGE_FINISHED))
                return "finished";
        if (kinds & (1u << CHANGE_STARTED))
                return "started";
        if (kinds & (1u << CHANGE_NEW))
                return "new";
        return "changed";
}

static void broadcast(Daemon *d, const char *line, size_t len, bool (*wants)(const ControlConn *c)) {
        for (ControlConn *c = d->control_conns; c; c = c->next)
                if (!c->dead && wants(c))
                        control_conn_send(c, line, len);
}

/* Serialising costs far more than asking: nobody subscribed, nothing is built. */
static bool anyone_wants(Daemon *d, bool (*wants)(const ControlConn *c)) {
        for (ControlConn *c = d->control_conns; c; c = c->next)
                if (!c->dead && wants(c))
                        return true;
        return false;
}

static bool wants_builds(const ControlConn *c) {
        return c->sub.builds;
}

static bool wants_invocations(const ControlConn *c) {
        return c->sub.invocations;
}

static bool wants_sources(const ControlConn *c) {
        return c->sub.sources;
}

static int follow_index(const ControlConn *c, uint64_t key) {
        for (unsigned i = 0; i < c->sub.n_follow; i++)
                if (c->sub.follow[i] == key)
                        return (int) i;
        return -1;
}

static char *object_event(const char *event, const char *kind, const char *key, cJSON *obj,
                          size_t *ret_len) {
        cJSON *fields = cJSON_CreateObject();
        if (!fields || !obj || !cJSON_AddStringToObject(fields, "kind", kind) ||
            !cJSON_AddItemToObject(fields, key, obj)) {
                cJSON_Delete(obj);
                cJSON_Delete(fields);
                return NULL;
        }
        return control_format_event(event, fields, ret_len);
}

/* An object about what requester_uid asked for: as is to those who may see its command
 * lines, filtered (privacy.h) to the others; each form serialised once. */
static void broadcast_private(Daemon *d, const char *event, const char *kind, const char *key, cJSON *obj,
                              int64_t requester_uid, bool (*wants)(const ControlConn *c)) {
        if (!obj)
                return;
        _cleanup_free_ char *full = NULL, *hidden = NULL;
        size_t full_len = 0, hidden_len = 0;
        for (ControlConn *c = d->control_conns; c; c = c->next) {
                if (c->dead || !wants(c))
                        continue;
                if (privacy_sees(c, requester_uid)) {
                        if (!full &&
                            !(full = object_event(event, kind, key, cJSON_Duplicate(obj, true), &full_len)))
                                continue;
                        control_conn_send(c, full, full_len);
                } else {
                        if (!hidden) {
                                cJSON *dup = cJSON_Duplicate(obj, true);
                                privacy_filter(c, dup);
                                if (!(hidden = object_event(event, kind, key, dup, &hidden_len)))
                                        continue;
                        }
                        control_conn_send(c, hidden, hidden_len);
                }
        }
        cJSON_Delete(obj);
}

/* The new lines of a build, as one "log" event (with "skipped" when the ring overflowed
 * between two flushes). */
static char *log_event(const Build *b, uint64_t new_lines, size_t *ret_len) {
        uint32_t n = (uint32_t) MIN(new_lines, (uint64_t) b->log.count);
        cJSON *fields = cJSON_CreateObject();
        cJSON *lines = fields ? cJSON_AddArrayToObject(fields, "lines") : NULL;
        if (!lines) {
                cJSON_Delete(fields);
                return NULL;
        }
        cJSON_AddNumberToObject(fields, "build", (double) b->key);
        if (new_lines > n)
                cJSON_AddNumberToObject(fields, "skipped", (double) (new_lines - n));
        for (uint32_t i = b->log.count - n; i < b->log.count; i++)
                cJSON_AddItemToArray(lines, cJSON_CreateString(build_log_line(b, i)));
        return control_format_event("log", fields, ret_len);
}

/* An untrusted uid writes at most its rows per hour: beyond, its builds stay live only, so
 * one user can neither fill the history nor flood the estimates other builds use. */
static bool notify_history_allowed(Daemon *d, const Build *b) {
        if (b->quota_uid < 0)
                return true;
        return quota_take_history_row(d->quota, (uid_t) b->quota_uid, now_monotonic()) >= 0;
}

static void on_build(void *userdata, Build *b, unsigned kinds, uint64_t new_lines) {
        Daemon *d = userdata;
        usec_t now = now_realtime();

        /* A build started: look for its builder now rather than at the next sample. */
        if (d->sampler && (kinds & ((1u << CHANGE_NEW) | (1u << CHANGE_STARTED))) &&
            b->state == BUILD_RUNNING)
                sampler_kick(d->sampler);
        /* History: a row when it ends (its estimate came before the drain, estimates_update),
         * and Nix's reason when it comes after the end (the row's no-outputs is replaced). */
        if ((kinds & ((1u << CHANGE_FINISHED) | (1u << CHANGE_REVISED))) && notify_history_allowed(d, b))
                history_writer_record(d->history, b);
        if (kinds & (1u << CHANGE_FINISHED))
                metrics_build_finished(d->metrics, b);
        if (kinds & (1u << CHANGE_REVISED))
                metrics_build_revised(d->metrics, b);
        graphs_build_changed(d, b, kinds);
        if (kinds & ~(1u << CHANGE_LOG))
                machines_poll_build_running(d->machines_poll, b);

        if (new_lines > 0 && d->n_control_conns > 0) {
                size_t len = 0;
                _cleanup_free_ char *line = NULL;
                for (ControlConn *c = d->control_conns; c; c = c->next) {
                        if (c->dead || !(c->sub.logs_all || follow_index(c, b->key) >= 0))
                                continue;
                        if (!line && !(line = log_event(b, new_lines, &len)))
                                return;
                        control_conn_send(c, line, len);
                }
        }

        if ((kinds & ~(1u << CHANGE_LOG)) && anyone_wants(d, wants_builds))
                broadcast_private(d, "build", change_name(kinds), "build", build_to_json(b, now, 0),
                                  b->requester.uid, wants_builds);

        if ((kinds & (1u << CHANGE_FINISHED)) && d->n_follows > 0) {
                for (ControlConn *c = d->control_conns; c; c = c->next) {
                        int i = c->dead ? -1 : follow_index(c, b->key);
                        if (i < 0)
                                continue;
                        if (c->sub.follow_end[i]) {
                                cJSON *fields = cJSON_CreateObject();
                                if (fields) {
                                        cJSON_AddNumberToObject(fields, "build", (double) b->key);
                                        cJSON_AddStringToObject(fields, "state",
                                                                build_state_to_string(b->state));
                                }
                                size_t len;
                                _cleanup_free_ char *line = control_format_event("log-end", fields, &len);
                                if (line)
                                        control_conn_send(c, line, len);
                        }
                        control_conn_unfollow(c, (unsigned) i);
                }
        }
}

static void on_invocation(void *userdata, Invocation *inv, unsigned kinds) {
        Daemon *d = userdata;
        if (!anyone_wants(d, wants_invocations))
                return;
        broadcast_private(d, "invocation", change_name(kinds), "invocation", invocation_to_json(inv),
                          inv->requester.uid, wants_invocations);
}

static void on_source(void *userdata, Source *s, unsigned kinds) {
        Daemon *d = userdata;
        if (!anyone_wants(d, wants_sources))
                return;
        const char *kind = kinds & (1u << CHANGE_FINISHED) ? "disconnected"
                           : kinds & (1u << CHANGE_NEW)    ? "connected"
                                                           : "changed";
        size_t len;
        _cleanup_free_ char *line = object_event("source", kind, "source", source_to_json(s), &len);
        if (line)
                broadcast(d, line, len, wants_sources);
}

static void on_substitution(void *userdata, const Substitution *x) {
        Daemon *d = userdata;
        history_writer_record_substitution(d->history, x);
        graphs_substitution_done(d, x);
}

void notify_flush(Daemon *d) {
        static const ModelChangeHandler handler = {
                .build = on_build,
                .invocation = on_invocation,
                .source = on_source,
                .substitution = on_substitution,
        };
        if (!model_has_changes(d->model))
                return;
        /* A build's ETA is part of what its event says: computed first, never while the drain
         * runs (the handlers only report). */
        estimates_update(d);
        model_drain_changes(d->model, &handler, d);
}

void notify_processes(Daemon *d, const Build *b) {
        bool any = false;
        for (ControlConn *c = d->control_conns; c && !any; c = c->next)
                any = !c->dead && c->sub.processes;
        if (!any)
                return;
        cJSON *fields = processes_to_json(d, b);
        if (!fields)
                return;
        cJSON_AddStringToObject(fields, "state", build_state_to_string(b->state));
        cJSON_AddItemToObject(fields, "usage", usage_to_json(&b->usage));
        /* Command lines as the requester, root and the admin group see them; null for others. */
        cJSON *hidden_fields = cJSON_Duplicate(fields, true);
        size_t len, hidden_len;
        _cleanup_free_ char *line = control_format_event("processes", fields, &len);
        _cleanup_free_ char *hidden = NULL;
        if (!line) {
                cJSON_Delete(hidden_fields);
                return;
        }
        for (ControlConn *c = d->control_conns; c; c = c->next) {
                if (c->dead || !c->sub.processes)
                        continue;
                if (privacy_sees(c, b->requester.uid))
                        control_conn_send(c, line, len);
                else {
                        if (!hidden && hidden_fields) {
                                privacy_filter(c, hidden_fields);
                                hidden = control_format_event("processes", TAKE_PTR(hidden_fields),
                                                              &hidden_len);
                        }
                        if (hidden)
                                control_conn_send(c, hidden, hidden_len);
                }
        }
        cJSON_Delete(hidden_fields);
}
