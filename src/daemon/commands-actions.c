/* Control commands on builds as processes: get-processes, and the actions kill, freeze,
 * thaw, nice, cpu-limit, mem-limit (docs/protocol.md "Processes and actions").
 *
 * Who may act (from SO_PEERCRED): root, members of the admin group (--admin-group), and the
 * user who requested the build; a requester may only raise its niceness (to 0..19, never
 * below its current value), as setpriority() would let her. Everyone may read. Every
 * action is logged with who asked. */
#include "daemon/commands-actions.h"

#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/actions-remote.h"
#include "daemon/actions.h"
#include "daemon/privacy.h"
#include "daemon/processes.h"
#include "daemon/reply.h"
#include "shared/model-json.h"
#include "shared/units.h"

static void peer_name(uid_t uid, char *buf, size_t size) {
        struct passwd pw, *res = NULL;
        char tmp[2048];
        if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
                snprintf(buf, size, "%s (uid %u)", res->pw_name, (unsigned) uid);
        else
                snprintf(buf, size, "uid %u", (unsigned) uid);
}

/* Root or the admin group: may act on any build, with any value. */
static bool privileged(ControlConn *c) {
        return privacy_privileged(c);
}

/* Root, the admin group, or the build's requester. */
static int authorize(ControlConn *c, const Build *b, const char *action, Reply *r) {
        Daemon *d = c->daemon;
        if (privileged(c))
                return 0;
        if (b->requester.uid >= 0 && (uid_t) b->requester.uid == c->uid)
                return 0;
        char who[300];
        peer_name(c->uid, who, sizeof(who));
        log_notice("refused %s on build %" PRIu64 " (%s) for %s (pid %d): not its requester", action, b->key,
                   b->name, who, (int) c->pid);
        return reply_error(r, NA_ERR_PERMISSION_DENIED,
                           "%s may not %s build %" PRIu64 " (%s): it was requested by %s%s%" PRId64
                           "%s; only root%s%s%s and the requester may act on it",
                           who, action, b->key, b->name, b->requester.user ? b->requester.user : "",
                           b->requester.user ? " (uid " : "uid ", b->requester.uid,
                           b->requester.user ? ")" : "", d->config.admin_group ? ", members of group '" : "",
                           d->config.admin_group ? d->config.admin_group : "",
                           d->config.admin_group ? "'" : "");
}

/* The build and its tracking record, or an error saying why it cannot be acted on. */
static int target(ControlConn *c, const ControlRequest *req, Reply *r, Build **ret_b, Tracked **ret_t) {
        Build *b;
        if (resolve_build(c->daemon, control_arg(req, "build"), r, &b) < 0)
                return -EINVAL;
        if (b->state != BUILD_RUNNING && b->state != BUILD_FROZEN)
                return reply_error(r, NA_ERR_NOT_RUNNING, "build %" PRIu64 " (%s) is %s, not running",
                                   b->key, b->name, build_state_to_string(b->state));
        Tracked *t = c->daemon->sampler ? sampler_find(c->daemon->sampler, b->key) : NULL;
        /* A remote build is acted on through its build hook (actions-remote.c). */
        if (!t && !b->machine[0]) {
                /* An unprivileged daemon cannot read other users' processes: say so rather
                 * than promise a builder that will never be found. */
                if (geteuid() != 0)
                        return reply_error(r, NA_ERR_NO_PROCESS,
                                           "build %" PRIu64
                                           " (%s) has no process this daemon can see: it runs "
                                           "as uid %u and sees only that user's processes (a build "
                                           "run by nix-daemon's build users needs a root daemon)",
                                           b->key, b->name, (unsigned) geteuid());
                return reply_error(r, NA_ERR_NO_PROCESS,
                                   "build %" PRIu64
                                   " (%s) has no known process on this machine yet (its builder is "
                                   "looked for as soon as it starts)",
                                   b->key, b->name);
        }
        *ret_b = b;
        *ret_t = t;
        return 0;
}

int command_get_processes(ControlConn *c, const ControlRequest *req, Reply *r) {
        Build *b;
        if (resolve_build(c->daemon, control_arg(req, "build"), r, &b) < 0)
                return -EINVAL;
        r->result = b->machine[0] ? processes_remote_to_json(c->daemon, b) : processes_to_json(c->daemon, b);
        if (!r->result)
                return reply_oom(r);
        cJSON_AddStringToObject(r->result, "state", build_state_to_string(b->state));
        cJSON_AddItemToObject(r->result, "usage", usage_to_json(&b->usage));
        return 0;
}

static int run_action(ControlConn *c, const ControlRequest *req, Reply *r, ActionRequest *a) {
        Daemon *d = c->daemon;
        Build *b = NULL;
        Tracked *t = NULL;
        const char *name = action_kind_to_string(a->kind);
        if (target(c, req, r, &b, &t) < 0)
                return -EINVAL;
        if (authorize(c, b, name, r) < 0)
                return -EINVAL;

        char who[300];
        peer_name(c->uid, who, sizeof(who));
        /* Through the daemon a requester may do what setpriority() lets her do to her own
         * processes, nothing more: raise the niceness, never below 0 nor below what the
         * build has now. Lowering it takes root or the admin group. */
        if (a->kind == ACTION_NICE && !privileged(c)) {
                int floor = MAX(0, b->usage.has_nice ? b->usage.nice : 0);
                if (a->nice < floor) {
                        log_notice("refused nice %d on build %" PRIu64 " (%s) for %s (pid %d): below %d",
                                   a->nice, b->key, b->name, who, (int) c->pid, floor);
                        return reply_error(r, NA_ERR_PERMISSION_DENIED,
                                           "%s may not set nice %d on build %" PRIu64
                                           " (%s): a requester may only raise the niceness, to %d..19 "
                                           "(lowering it takes root%s%s%s)",
                                           who, a->nice, b->key, b->name, floor,
                                           d->config.admin_group ? " or group '" : "",
                                           d->config.admin_group ? d->config.admin_group : "",
                                           d->config.admin_group ? "'" : "");
                }
        }
        _cleanup_(action_outcome_done) ActionOutcome o = {};
        int k = action_run(d, d->sampler, t, b, a, &o);
        if (k < 0) {
                log_warning("%s on build %" PRIu64 " (%s) asked by %s (pid %d) failed: %s", name, b->key,
                            b->name, who, (int) c->pid, o.error ? o.error : "out of memory");
                return reply_error(r, o.code ? o.code : NA_ERR_INTERNAL, "%s",
                                   o.error ? o.error : "out of memory");
        }
        log_notice("%s on build %" PRIu64 " (%s) asked by %s (pid %d): %s", name, b->key, b->name, who,
                   (int) c->pid, o.mechanism ? o.mechanism : "");
        r->result = cJSON_CreateObject();
        if (!r->result)
                return reply_oom(r);
        cJSON_AddNumberToObject(r->result, "build", (double) b->key);
        cJSON_AddStringToObject(r->result, "action", name);
        cJSON_AddStringToObject(r->result, "mechanism", o.mechanism ? o.mechanism : "");
        cJSON_AddStringToObject(r->result, "state", build_state_to_string(b->state));
        if (a->kind == ACTION_NICE)
                cJSON_AddNumberToObject(r->result, "nice", a->nice);
        if (a->kind == ACTION_CPU_LIMIT) {
                if (a->cores > 0)
                        cJSON_AddNumberToObject(r->result, "cores", a->cores);
                else
                        cJSON_AddNullToObject(r->result, "cores");
        }
        if (a->kind == ACTION_MEM_LIMIT) {
                if (a->bytes > 0)
                        cJSON_AddNumberToObject(r->result, "bytes", (double) a->bytes);
                else
                        cJSON_AddNullToObject(r->result, "bytes");
        }
        return 0;
}

int command_kill(ControlConn *c, const ControlRequest *req, Reply *r) {
        return run_action(c, req, r, &(ActionRequest){.kind = ACTION_KILL});
}

int command_freeze(ControlConn *c, const ControlRequest *req, Reply *r) {
        return run_action(c, req, r, &(ActionRequest){.kind = ACTION_FREEZE});
}

int command_thaw(ControlConn *c, const ControlRequest *req, Reply *r) {
        return run_action(c, req, r, &(ActionRequest){.kind = ACTION_THAW});
}

int command_nice(ControlConn *c, const ControlRequest *req, Reply *r) {
        long long v;
        int k = control_arg_int(req, "nice", &v);
        if (k < 0 || v < -20 || v > 19)
                return reply_error(r, NA_ERR_BAD_REQUEST, "\"nice\" must be an integer from -20 to 19");
        return run_action(c, req, r, &(ActionRequest){.kind = ACTION_NICE, .nice = (int) v});
}

/* A limit value: null, "none" or "max" lift it. */
static bool is_lift(const cJSON *v) {
        return !v || cJSON_IsNull(v) ||
               (cJSON_IsString(v) &&
                (strcmp(v->valuestring, "none") == 0 || strcmp(v->valuestring, "max") == 0));
}

int command_cpu_limit(ControlConn *c, const ControlRequest *req, Reply *r) {
        /* control_arg hides an explicit null: look at the member itself. */
        const cJSON *v = req->args ? cJSON_GetObjectItemCaseSensitive(req->args, "cores") : NULL;
        ActionRequest a = {.kind = ACTION_CPU_LIMIT};
        if (!v)
                return reply_error(
                        r, NA_ERR_BAD_REQUEST,
                        "\"cores\" is required (a number such as 0.5 or 2, or null to lift the limit)");
        if (!is_lift(v)) {
                char num[64];
                if (cJSON_IsNumber(v))
                        snprintf(num, sizeof(num), "%.17g", v->valuedouble);
                if (!(cJSON_IsNumber(v) && units_parse_cores(num, &a.cores) == 0) &&
                    !(cJSON_IsString(v) && units_parse_cores(v->valuestring, &a.cores) == 0))
                        return reply_error(
                                r, NA_ERR_BAD_REQUEST,
                                "\"cores\" must be a number of cores from 0.01 to 4096 (e.g. 0.5 or 2), "
                                "or null/\"none\" to lift the limit");
        }
        return run_action(c, req, r, &a);
}

int command_mem_limit(ControlConn *c, const ControlRequest *req, Reply *r) {
        const cJSON *v = req->args ? cJSON_GetObjectItemCaseSensitive(req->args, "bytes") : NULL;
        ActionRequest a = {.kind = ACTION_MEM_LIMIT};
        if (!v)
                return reply_error(
                        r, NA_ERR_BAD_REQUEST,
                        "\"bytes\" is required (bytes, a size such as \"4G\", or null to lift the limit)");
        if (!is_lift(v)) {
                char num[64];
                if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1.8e19 &&
                    v->valuedouble == floor(v->valuedouble))
                        snprintf(num, sizeof(num), "%.0f", v->valuedouble);
                else
                        num[0] = '\0';
                if (!(cJSON_IsNumber(v) && units_parse_bytes(num, &a.bytes) == 0) &&
                    !(cJSON_IsString(v) && units_parse_bytes(v->valuestring, &a.bytes) == 0))
                        return reply_error(
                                r, NA_ERR_BAD_REQUEST,
                                "\"bytes\" must be a size of at least 1M: bytes or a number with K, M, "
                                "G or T (e.g. \"512M\", \"4G\"), or null/\"none\" to lift the limit");
        }
        return run_action(c, req, r, &a);
}
