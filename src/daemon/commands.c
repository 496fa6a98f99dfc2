/* Control requests: parse, authorise, answer (docs/protocol.md "Commands"). */
#include "daemon/commands.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "daemon/commands-actions.h"
#include "daemon/commands-history.h"
#include "daemon/hoststats.h"
#include "daemon/pressure-top.h"
#include "daemon/graphs.h"
#include "daemon/commands-activities.h"
#include "daemon/commands-machines.h"
#include "daemon/estimates.h"
#include "daemon/notify.h"
#include "daemon/oom.h"
#include "daemon/privacy.h"
#include "daemon/processes.h"
#include "daemon/quota.h"
#include "daemon/reply.h"
#include "daemon/outcomes.h"
#include "daemon/sampler-status.h"
#include "shared/procfs.h"
#include "shared/model-json.h"
#include "shared/proto.h"

#define GET_BUILD_LOG_TAIL        20
#define GET_BUILD_TIMELINE_POINTS 64

/* ---- commands ---- */

static int cmd_hello(ControlConn *c, const ControlRequest *req, Reply *r) {
        long long protocol = NA_PROTOCOL;
        int k = control_arg_int(req, "protocol", &protocol);
        if (k == -EINVAL)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"protocol\" must be an integer");
        if (protocol != NA_PROTOCOL)
                return reply_error(r, NA_ERR_UNSUPPORTED_PROTOCOL,
                                   "this daemon speaks protocol %d, not %lld", NA_PROTOCOL, protocol);
        r->result = cJSON_CreateObject();
        if (!r->result)
                return reply_oom(r);
        cJSON_AddNumberToObject(r->result, "protocol", NA_PROTOCOL);
        cJSON_AddStringToObject(r->result, "version", PACKAGE_VERSION);
        cJSON_AddNumberToObject(r->result, "daemon_pid", (double) getpid());
        return 0;
}

static cJSON *status_json(Daemon *d) {
        ModelCounters mc;
        model_counters(d->model, &mc);

        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "version", PACKAGE_VERSION);
        cJSON_AddNumberToObject(o, "protocol", NA_PROTOCOL);
        cJSON_AddNumberToObject(o, "pid", (double) getpid());
        cJSON_AddNumberToObject(o, "uid", (double) getuid());
        cJSON_AddNumberToObject(o, "uptime", usec_to_sec(now_monotonic() - d->started_mono));
        cJSON_AddStringToObject(o, "socket_dir", d->config.socket_dir);
        /* The machine, for clients that are not on it (nix-analytics -H). */
        cJSON *host = cJSON_AddObjectToObject(o, "host");
        if (host) {
                char name[256] = "";
                (void) gethostname(name, sizeof(name) - 1);
                cJSON_AddStringToObject(host, "name", name);
                double load[3];
                if (procfs_read_loadavg(d->config.model.proc_root, load) == 0) {
                        cJSON *l = cJSON_AddArrayToObject(host, "load");
                        for (int i = 0; l && i < 3; i++)
                                cJSON_AddItemToArray(l, cJSON_CreateNumber(load[i]));
                } else
                        cJSON_AddNullToObject(host, "load");
                /* Its figures at the last 10 s mark (hoststats.h), null before the first. */
                MachineSample ms;
                if (hoststats_latest(d->hoststats, &ms) == 0)
                        cJSON_AddItemToObject(host, "sample", hoststats_sample_json(&ms));
                else
                        cJSON_AddNullToObject(host, "sample");
                /* The running builds that stall most for memory now (their last samples). */
                PressureTop top = {};
                for (Build *b = model_builds_first(d->model); b; b = b->next)
                        if (b->state == BUILD_RUNNING && b->usage.has_pressure)
                                pressure_top_add(&top, b->name, b->drv, b->usage.pressure[PSI_MEMORY]);
                cJSON_AddItemToObject(host, "pressure_top", pressure_top_json(&top));
        }

        cJSON *ev = cJSON_AddObjectToObject(o, "events");
        if (ev) {
                cJSON_AddNumberToObject(ev, "total", (double) mc.events);
                cJSON_AddNumberToObject(ev, "bad", (double) mc.bad);
                cJSON_AddNumberToObject(ev, "oversized", (double) mc.oversized);
                cJSON_AddNumberToObject(ev, "dropped_by_senders", (double) mc.dropped_by_senders);
        }
        cJSON *src = cJSON_AddObjectToObject(o, "sources");
        if (src) {
                cJSON_AddNumberToObject(src, "connected", mc.sources_connected);
                cJSON_AddNumberToObject(src, "total", (double) mc.sources_total);
                cJSON_AddNumberToObject(src, "refused", (double) d->event_conns_refused);
        }
        cJSON *builds = cJSON_AddObjectToObject(o, "builds");
        for (int i = 0; builds && i < _BUILD_STATE_MAX; i++)
                cJSON_AddNumberToObject(builds, build_state_to_string((BuildState) i), mc.by_state[i]);
        cJSON *ctl = cJSON_AddObjectToObject(o, "control");
        if (ctl) {
                cJSON_AddNumberToObject(ctl, "clients", d->n_control_conns);
                cJSON_AddNumberToObject(ctl, "dropped_slow", (double) d->control_dropped_slow);
                cJSON_AddNumberToObject(ctl, "refused", (double) d->control_conns_refused);
        }
        const LogBudget *lb = model_log_budget(d->model);
        cJSON *logs = cJSON_AddObjectToObject(o, "logs");
        if (logs) {
                cJSON_AddNumberToObject(logs, "memory", (double) lb->used);
                cJSON_AddNumberToObject(logs, "budget", (double) lb->limit);
                cJSON_AddNumberToObject(logs, "rings", lb->n_rings);
                cJSON_AddNumberToObject(logs, "dropped", (double) lb->dropped);
        }
        cJSON_AddItemToObject(o, "history", history_writer_status(d->history));
        cJSON_AddItemToObject(o, "quotas", quota_status_json(d->quota));
        cJSON_AddItemToObject(o, "graphs", graphs_status_json(d));
        cJSON_AddItemToObject(o, "estimates", estimates_status_json(d));
        cJSON_AddItemToObject(o, "recent", outcomes_status_json(d));
        cJSON_AddItemToObject(o, "sampler", sampler_status_json(d));
        cJSON_AddItemToObject(o, "oom", oom_status_json(d->oom));
        if (cJSON_GetArraySize(o) < 16) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

static int cmd_status(ControlConn *c, const ControlRequest *req, Reply *r) {
        r->result = status_json(c->daemon);
        return r->result ? 0 : reply_oom(r);
}

/* Filters shared by list-builds and get-history. */
typedef struct BuildFilter {
        unsigned states; /* bitmask of 1 << BuildState; 0 = any */
        const char *name;
        bool requester_set;
        long long requester_uid;
        const char *requester_user;
        long long invocation; /* -1 any */
} BuildFilter;

static int parse_filter(const ControlRequest *req, BuildFilter *f, Reply *r) {
        *f = (BuildFilter){.invocation = -1};
        const cJSON *v;

        if ((v = control_arg(req, "state")) && reply_parse_states(v, &f->states, r) < 0)
                return -EINVAL;
        bool active = false;
        if (control_arg_bool(req, "active", &active) == -EINVAL)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"active\" must be a boolean");
        if (active)
                f->states |= (1u << BUILD_QUEUED) | (1u << BUILD_RUNNING) | (1u << BUILD_FROZEN) |
                             (1u << BUILD_FINISHING);
        if (control_arg_string(req, "name", &f->name) == -EINVAL)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"name\" must be a string");
        if (control_arg_int(req, "invocation", &f->invocation) == -EINVAL)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"invocation\" must be an integer");
        if ((v = control_arg(req, "requester"))) {
                f->requester_set = true;
                f->requester_uid = -1;
                if (cJSON_IsNumber(v))
                        f->requester_uid = (long long) v->valuedouble;
                else if (cJSON_IsString(v) && string_is_digits(v->valuestring))
                        f->requester_uid = strtoll(v->valuestring, NULL, 10);
                else if (cJSON_IsString(v))
                        f->requester_user = v->valuestring;
                else
                        return reply_error(r, NA_ERR_BAD_REQUEST,
                                           "\"requester\" must be a uid or a user name");
        }
        return 0;
}

static bool filter_match(const BuildFilter *f, const Build *b) {
        if (f->states && !(f->states & (1u << b->state)))
                return false;
        if (f->name && fnmatch(f->name, b->name, 0) != 0)
                return false;
        if (f->invocation >= 0 && b->invocation->id != (uint64_t) f->invocation)
                return false;
        if (f->requester_set) {
                if (f->requester_user)
                        return b->requester.user && strcmp(b->requester.user, f->requester_user) == 0;
                return b->requester.uid == f->requester_uid;
        }
        return true;
}

static int cmd_list_builds(ControlConn *c, const ControlRequest *req, Reply *r) {
        BuildFilter f;
        if (parse_filter(req, &f, r) < 0)
                return -EINVAL;
        r->result = cJSON_CreateObject();
        cJSON *arr = r->result ? cJSON_AddArrayToObject(r->result, "builds") : NULL;
        if (!arr)
                return reply_oom(r);
        usec_t now = now_realtime();
        for (Build *b = model_builds_first(c->daemon->model); b; b = b->next) {
                if (!filter_match(&f, b))
                        continue;
                cJSON *o = build_to_json(b, now, 0);
                if (!o || !cJSON_AddItemToArray(arr, o)) {
                        cJSON_Delete(o);
                        return reply_oom(r);
                }
        }
        return 0;
}

static int cmd_get_build(ControlConn *c, const ControlRequest *req, Reply *r) {
        Build *b;
        if (resolve_build(c->daemon, control_arg(req, "build"), r, &b) < 0)
                return -EINVAL;
        r->result = cJSON_CreateObject();
        cJSON *o = build_to_json(b, now_realtime(), GET_BUILD_LOG_TAIL);
        if (!r->result || !o || !cJSON_AddItemToObject(r->result, "build", o)) {
                cJSON_Delete(o);
                return reply_oom(r);
        }
        if (build_state_is_active(b->state) &&
            !cJSON_AddItemToObject(r->result, "processes", processes_to_json(c->daemon, b)))
                return reply_oom(r);
        /* Its CPU and memory over its life so far (the detail panel's graphs). */
        if (!cJSON_AddItemToObject(r->result, "timeline",
                                   timeline_to_json(&b->timeline, GET_BUILD_TIMELINE_POINTS)))
                return reply_oom(r);
        return 0;
}

static int cmd_get_log(ControlConn *c, const ControlRequest *req, Reply *r) {
        Build *b;
        if (resolve_build(c->daemon, control_arg(req, "build"), r, &b) < 0)
                return -EINVAL;
        long long tail = -1;
        bool follow = false;
        if (control_arg_int(req, "tail", &tail) == -EINVAL || tail < -1)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"tail\" must be a non-negative integer");
        if (control_arg_bool(req, "follow", &follow) == -EINVAL)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"follow\" must be a boolean");

        uint32_t n = b->log.count;
        if (tail >= 0 && (uint64_t) tail < n)
                n = (uint32_t) tail;

        r->result = cJSON_CreateObject();
        cJSON *lines = r->result ? cJSON_AddArrayToObject(r->result, "lines") : NULL;
        if (!lines)
                return reply_oom(r);
        cJSON_AddNumberToObject(r->result, "build", (double) b->key);
        for (uint32_t i = b->log.count - n; i < b->log.count; i++)
                cJSON_AddItemToArray(lines, cJSON_CreateString(build_log_line(b, i)));
        cJSON_AddNumberToObject(r->result, "total", (double) b->log.total);
        cJSON_AddNumberToObject(r->result, "truncated", (double) (b->log.total - b->log.count));
        cJSON_AddStringToObject(r->result, "state", build_state_to_string(b->state));

        if (follow && !build_state_is_final(b->state) &&
            control_conn_follow(c, b->key, /* notify_end= */ true) < 0)
                return reply_error(r, NA_ERR_BAD_REQUEST, "this connection follows too many builds (max %d)",
                                   FOLLOW_MAX);
        /* Lines that arrive from now on are sent as "log" events by notify.c: the ring's
         * flush mark makes sure nothing is sent twice or skipped. */
        return 0;
}

static int cmd_list_invocations(ControlConn *c, const ControlRequest *req, Reply *r) {
        r->result = cJSON_CreateObject();
        cJSON *arr = r->result ? cJSON_AddArrayToObject(r->result, "invocations") : NULL;
        if (!arr)
                return reply_oom(r);
        for (Source *s = model_sources_first(c->daemon->model); s; s = s->next) {
                cJSON *o = invocation_to_json(&s->invocation);
                if (!o || !cJSON_AddItemToArray(arr, o)) {
                        cJSON_Delete(o);
                        return reply_oom(r);
                }
        }
        return 0;
}

static int cmd_snapshot(ControlConn *c, const ControlRequest *req, Reply *r) {
        Daemon *d = c->daemon;
        usec_t now = now_realtime();
        r->result = cJSON_CreateObject();
        if (!r->result)
                return reply_oom(r);
        cJSON *status = status_json(d);
        if (!status || !cJSON_AddItemToObject(r->result, "status", status)) {
                cJSON_Delete(status);
                return reply_oom(r);
        }
        cJSON *sources = cJSON_AddArrayToObject(r->result, "sources");
        cJSON *invocations = cJSON_AddArrayToObject(r->result, "invocations");
        cJSON *builds = cJSON_AddArrayToObject(r->result, "builds");
        if (!sources || !invocations || !builds)
                return reply_oom(r);
        for (Source *s = model_sources_first(d->model); s; s = s->next) {
                cJSON *so = source_to_json(s), *io = invocation_to_json(&s->invocation);
                if (!so || !io) {
                        cJSON_Delete(so);
                        cJSON_Delete(io);
                        return reply_oom(r);
                }
                cJSON_AddItemToArray(sources, so);
                cJSON_AddItemToArray(invocations, io);
        }
        cJSON *procs = cJSON_AddArrayToObject(r->result, "processes");
        if (!procs)
                return reply_oom(r);
        for (Build *b = model_builds_first(d->model); b; b = b->next) {
                cJSON *o = build_to_json(b, now, 0);
                if (!o)
                        return reply_oom(r);
                cJSON_AddItemToArray(builds, o);
                if (build_state_is_active(b->state) && b->usage.sampled) {
                        cJSON *p = processes_to_json(d, b);
                        if (!p || !cJSON_AddItemToArray(procs, p)) {
                                cJSON_Delete(p);
                                return reply_oom(r);
                        }
                }
        }
        return 0;
}

static int cmd_list_oom(ControlConn *c, const ControlRequest *req, Reply *r) {
        r->result = cJSON_CreateObject();
        cJSON *events = oom_events_json(c->daemon->oom);
        if (!r->result || !events || !cJSON_AddItemToObject(r->result, "events", events)) {
                cJSON_Delete(events);
                return reply_oom(r);
        }
        cJSON_AddItemToObject(r->result, "status", oom_status_json(c->daemon->oom));
        return 0;
}

static int cmd_subscribe(ControlConn *c, const ControlRequest *req, Reply *r) {
        Subscription *sub = &c->sub;
        bool builds = true, invocations = true, sources = false, processes = false;
        if (control_arg_bool(req, "builds", &builds) == -EINVAL ||
            control_arg_bool(req, "invocations", &invocations) == -EINVAL ||
            control_arg_bool(req, "sources", &sources) == -EINVAL ||
            control_arg_bool(req, "processes", &processes) == -EINVAL)
                return reply_error(r, NA_ERR_BAD_REQUEST,
                                   "\"builds\", \"invocations\", \"sources\", \"processes\" are booleans");

        const cJSON *logs = control_arg(req, "logs");
        bool logs_all = false;
        if (logs) {
                if (cJSON_IsString(logs) && strcmp(logs->valuestring, "all") == 0)
                        logs_all = true;
                else if (cJSON_IsArray(logs)) {
                        const cJSON *t;
                        cJSON_ArrayForEach(t, logs) {
                                Build *b;
                                if (resolve_build(c->daemon, t, r, &b) < 0)
                                        return -EINVAL;
                                if (control_conn_follow(c, b->key, /* notify_end= */ false) < 0)
                                        return reply_error(r, NA_ERR_BAD_REQUEST,
                                                           "too many builds to follow (max %d)", FOLLOW_MAX);
                        }
                } else
                        return reply_error(r, NA_ERR_BAD_REQUEST,
                                           "\"logs\" must be \"all\" or an array of builds");
        }
        sub->builds = builds;
        sub->invocations = invocations;
        sub->sources = sources;
        sub->processes = processes;
        sub->logs_all = logs_all;
        r->result = cJSON_CreateObject();
        if (!r->result || !cJSON_AddTrueToObject(r->result, "subscribed"))
                return reply_oom(r);
        return 0;
}

static int cmd_unsubscribe(ControlConn *c, const ControlRequest *req, Reply *r) {
        while (c->sub.n_follow > 0)
                control_conn_unfollow(c, 0);
        c->sub = (Subscription){};
        r->result = cJSON_CreateObject();
        if (!r->result || !cJSON_AddFalseToObject(r->result, "subscribed"))
                return reply_oom(r);
        return 0;
}

static const struct {
        const char *name;
        CommandHandler handler;
} command_table[] = {
        {"hello", cmd_hello},
        {"status", cmd_status},
        {"list-builds", cmd_list_builds},
        {"get-build", cmd_get_build},
        {"get-log", cmd_get_log},
        {"list-invocations", cmd_list_invocations},
        {"snapshot", cmd_snapshot},
        {"get-history", cmd_get_history},
        {"stats", cmd_stats},
        {"at", cmd_at},
        {"deps", cmd_deps},
        {"subscribe", cmd_subscribe},
        {"unsubscribe", cmd_unsubscribe},
        {"get-processes", command_get_processes},
        {"kill", command_kill},
        {"freeze", command_freeze},
        {"thaw", command_thaw},
        {"nice", command_nice},
        {"cpu-limit", command_cpu_limit},
        {"mem-limit", command_mem_limit},
        {"list-machines", command_list_machines},
        {"list-activities", command_list_activities},
        {"list-oom", cmd_list_oom},
        {"get-oom-history", cmd_get_oom_history},
};

void commands_send_reply(ControlConn *c, const cJSON *id, Reply *r) {
        size_t len;
        char *line;
        if (r->code) {
                line = control_format_error(id, r->code, r->message ? r->message : r->code,
                                            TAKE_PTR(r->extra), &len);
        } else {
                privacy_filter(c, r->result);
                line = control_format_result(id, TAKE_PTR(r->result), &len);
        }
        if (!line) {
                /* Out of memory building the answer: say so in a line that needs no allocation. */
                static const char oom[] =
                        "{\"id\":null,\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n";
                control_conn_send(c, oom, sizeof(oom) - 1);
        } else
                control_conn_send(c, line, len);
        free(line);
        cJSON_Delete(r->result);
        cJSON_Delete(r->extra);
        free(r->message);
}

void commands_dispatch(ControlConn *c, const char *line, size_t len) {
        ControlRequest req;
        const char *error = NULL;
        Reply r = {};

        /* Events that happened before this request go out before its answer. */
        notify_flush(c->daemon);

        int k = control_request_parse(line, len, &req, &error);
        if (k < 0) {
                reply_error(&r, NA_ERR_BAD_REQUEST, "%s", error);
                commands_send_reply(c, req.id, &r);
                control_request_done(&req);
                return;
        }

        CommandHandler handler = NULL;
        for (size_t i = 0; i < ELEMENTSOF(command_table); i++)
                if (strcmp(command_table[i].name, req.cmd) == 0)
                        handler = command_table[i].handler;
        if (!handler)
                reply_error(&r, NA_ERR_UNKNOWN_COMMAND, "unknown command '%s'", req.cmd);
        else
                handler(c, &req, &r);
        if (!r.deferred)
                commands_send_reply(c, req.id, &r);
        control_request_done(&req);
}
