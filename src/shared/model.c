/* The live model: sources, activities keyed by (source, id), builds and invocations.
 *
 * Every record is applied in O(1) expected time (hash lookups, a ring append): this runs on
 * the daemon's ingestion path, which must outpace anything Nix can emit. Work that may be
 * slow (reading a .drv to decide success, /proc liveness) happens once per build or on the
 * periodic tick, never per log line. */
#include "shared/model.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utlist.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/drv.h"
#include "shared/proc.h"
#include "shared/redact.h"
#include "shared/proto.h"
#include "shared/storepath.h"
#include "shared/model-internal.h"
#include "shared/model-proc.h"
#include "shared/model-machines.h"

#define OUTPUT_RECHECKS     5
#define OUTPUT_RECHECK_USEC (200 * USEC_PER_MSEC)
#define LOST_CHECK_USEC     (500 * USEC_PER_MSEC)
#define FAILURE_MESSAGE_MAX 4096

static const char *const build_state_table[_BUILD_STATE_MAX] = {
        [BUILD_QUEUED] = "queued",       [BUILD_RUNNING] = "running", [BUILD_FROZEN] = "frozen",
        [BUILD_SUCCEEDED] = "succeeded", [BUILD_FAILED] = "failed",   [BUILD_KILLED] = "killed",
        [BUILD_LOST] = "lost",
};

static const char *const failure_kind_table[_FAILURE_KIND_MAX] = {
        [FAILURE_NONE] = NULL,
        [FAILURE_EXIT_CODE] = "exit-code",
        [FAILURE_SIGNAL] = "signal",
        [FAILURE_DEPENDENCY] = "dependency",
        [FAILURE_NO_OUTPUTS] = "no-outputs",
        [FAILURE_CANCELLED] = "cancelled",
        [FAILURE_OTHER] = "other",
        [FAILURE_OOM] = "oom-kill",
        [FAILURE_NOT_STARTED] = "not-started",
        [FAILURE_HASH_MISMATCH] = "hash-mismatch",
        [FAILURE_TIMEOUT] = "timeout",
        [FAILURE_SILENT_TIMEOUT] = "max-silent-time",
        [FAILURE_LOG_LIMIT] = "log-limit",
        [FAILURE_SUBSTITUTION] = "substitution",
};

const char *build_state_to_string(BuildState s) {
        return s >= 0 && s < _BUILD_STATE_MAX ? build_state_table[s] : NULL;
}

BuildState build_state_from_string(const char *s) {
        for (int i = 0; i < _BUILD_STATE_MAX; i++)
                if (strcmp(build_state_table[i], s) == 0)
                        return (BuildState) i;
        return _BUILD_STATE_INVALID;
}

const char *failure_kind_to_string(FailureKind k) {
        return k >= 0 && k < _FAILURE_KIND_MAX ? failure_kind_table[k] : NULL;
}

bool failure_kind_is_reported(FailureKind k) {
        switch (k) {
        case FAILURE_EXIT_CODE:
        case FAILURE_SIGNAL:
        case FAILURE_DEPENDENCY:
        case FAILURE_OOM:
        case FAILURE_HASH_MISMATCH:
        case FAILURE_TIMEOUT:
        case FAILURE_SILENT_TIMEOUT:
        case FAILURE_LOG_LIMIT:
        case FAILURE_SUBSTITUTION:
                return true;
        default:
                return false;
        }
}

bool build_state_is_final(BuildState s) {
        return s == BUILD_SUCCEEDED || s == BUILD_FAILED || s == BUILD_KILLED || s == BUILD_LOST;
}

bool build_state_is_active(BuildState s) {
        return s == BUILD_QUEUED || s == BUILD_RUNNING || s == BUILD_FROZEN;
}

bool invocation_complete(const Invocation *inv) {
        return inv->done && inv->progress[2] == 0 && inv->progress[0] + inv->progress[3] >= inv->progress[1];
}

const char *invocation_state_to_string(const Invocation *inv) {
        return !inv->done ? "running" : inv->error ? "failed" : "done";
}

void model_config_defaults(ModelConfig *c) {
        *c = (ModelConfig){
                .store_dir = NIX_STORE_DIR_DEFAULT,
                .proc_root = "/proc",
                .log_ring = 1000,
                .log_ring_finished = 20,
                .log_budget = MODEL_LOG_BUDGET_DEFAULT,
                .max_finished = 5000,
                .max_phases = 64,
        };
}

/* The log budget took lines from the ring of a build other than the one a line came for. */
static void build_log_trimmed(void *userdata, LogRing *ring, int64_t bytes_delta) {
        Model *m = userdata;
        Build *b = container_of(ring, Build, log);
        if (b->quota_uid >= 0)
                m->build_quota.log_held(m->build_quota.userdata, (uid_t) b->quota_uid, bytes_delta);
}

int model_new(const ModelConfig *config, Model **ret) {
        Model *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->config = *config;
        if (m->config.log_ring == 0)
                m->config.log_ring = 1;
        m->log_budget = (LogBudget){
                .limit = m->config.log_budget,
                .trimmed = build_log_trimmed,
                .userdata = m,
        };
        m->next_key = 1;
        m->next_source_id = 1;
        *ret = m;
        return 0;
}

/* ---- change tracking ---- */

void build_mark(Model *m, Build *b, ChangeKind k) {
        b->dirty_kinds |= 1u << k;
        if (!b->dirty) {
                b->dirty = true;
                b->dirty_next = m->dirty_builds;
                m->dirty_builds = b;
        }
}

static void invocation_mark(Model *m, Invocation *inv, ChangeKind k) {
        inv->dirty_kinds |= 1u << k;
        if (!inv->dirty) {
                inv->dirty = true;
                inv->dirty_next = m->dirty_invocations;
                m->dirty_invocations = inv;
        }
}

static void source_mark(Model *m, Source *s, ChangeKind k) {
        s->dirty_kinds |= 1u << k;
        if (!s->dirty) {
                s->dirty = true;
                s->dirty_next = m->dirty_sources;
                m->dirty_sources = s;
        }
}

void model_invocation_changed(Model *m, Invocation *inv) {
        invocation_mark(m, inv, CHANGE_CHANGED);
}

static bool build_eta_equal(const BuildEta *a, const BuildEta *b) {
        return a->looked_up == b->looked_up && a->samples == b->samples && a->expected == b->expected &&
               a->confidence == b->confidence && a->other_machines == b->other_machines;
}

void model_build_set_eta(Model *m, Build *b, const BuildEta *eta) {
        if (build_eta_equal(&b->eta, eta))
                return;
        b->eta = *eta;
        build_mark(m, b, CHANGE_CHANGED);
}

void model_invocation_set_eta(Model *m, Invocation *inv, const InvocationEta *eta) {
        if (memcmp(&inv->eta, eta, sizeof(*eta)) == 0)
                return;
        inv->eta = *eta;
        invocation_mark(m, inv, CHANGE_CHANGED);
}

bool model_has_changes(Model *m) {
        return m->dirty_builds || m->dirty_invocations || m->dirty_sources || m->substitutions;
}

void model_visit_changed_builds(Model *m, void (*cb)(void *userdata, Build *b, unsigned kinds),
                                void *userdata) {
        for (Build *b = m->dirty_builds; b; b = b->dirty_next)
                cb(userdata, b, b->dirty_kinds);
}

/* A finished build keeps only its last lines, once views have seen every line. */
static void build_shrink_finished_log(Model *m, Build *b) {
        if (!build_state_is_final(b->state) || b->log.count <= m->config.log_ring_finished)
                return;
        uint64_t bytes = b->log.bytes;
        log_ring_shrink(&b->log, m->config.log_ring_finished);
        if (b->quota_uid >= 0 && bytes != b->log.bytes)
                m->build_quota.log_held(m->build_quota.userdata, (uid_t) b->quota_uid,
                                        (int64_t) b->log.bytes - (int64_t) bytes);
}

void model_drain_changes(Model *m, const ModelChangeHandler *h, void *userdata) {
        /* Lists are built newest-first; views get them in that order, which is fine because
         * each object is reported once with the union of its changes. */
        Build *b = TAKE_PTR(m->dirty_builds);
        while (b) {
                Build *next = b->dirty_next;
                uint64_t new_lines = b->log.total - b->log_flushed;
                unsigned kinds = b->dirty_kinds;
                b->dirty = false;
                b->dirty_kinds = 0;
                b->dirty_next = NULL;
                b->log_flushed = b->log.total;
                if (h && h->build)
                        h->build(userdata, b, kinds, new_lines);
                build_shrink_finished_log(m, b);
                b = next;
        }
        Invocation *inv = TAKE_PTR(m->dirty_invocations);
        while (inv) {
                Invocation *next = inv->dirty_next;
                unsigned kinds = inv->dirty_kinds;
                inv->dirty = false;
                inv->dirty_kinds = 0;
                inv->dirty_next = NULL;
                if (h && h->invocation)
                        h->invocation(userdata, inv, kinds);
                inv = next;
        }
        subst_drain(m, h, userdata);
        Source *s = TAKE_PTR(m->dirty_sources);
        while (s) {
                Source *next = s->dirty_next;
                unsigned kinds = s->dirty_kinds;
                s->dirty = false;
                s->dirty_kinds = 0;
                s->dirty_next = NULL;
                if (h && h->source)
                        h->source(userdata, s, kinds);
                s = next;
        }
}

/* ---- requesters ---- */

static char *uid_to_name(int64_t uid) {
        if (uid < 0)
                return NULL;
        struct passwd pw, *result = NULL;
        char buf[4096];
        if (getpwuid_r((uid_t) uid, &pw, buf, sizeof(buf), &result) != 0 || !result)
                return NULL;
        return strdup(result->pw_name);
}

void requester_done(Requester *r) {
        free(r->user);
        free(r->cmdline);
        *r = (Requester){.uid = -1, .pid = -1};
}

int requester_copy(const Requester *from, Requester *to) {
        Requester r = {.uid = from->uid, .pid = from->pid};
        if ((from->user && !(r.user = strdup(from->user))) ||
            (from->cmdline && !(r.cmdline = strdup(from->cmdline)))) {
                requester_done(&r);
                return -ENOMEM;
        }
        *to = r;
        return 0;
}

const char *build_log_line(const Build *b, uint32_t i) {
        return log_ring_line(&b->log, i);
}

/* ---- builds ---- */

void build_set_state(Model *m, Build *b, BuildState st) {
        if (b->state == st)
                return;
        if (b->state == BUILD_RUNNING)
                DL_DELETE2(b->invocation->running, b, run_prev, run_next);
        else if (st == BUILD_RUNNING)
                DL_APPEND2(b->invocation->running, b, run_prev, run_next);
        m->counters.by_state[b->state]--;
        m->counters.by_state[st]++;
        if (build_state_is_final(st) && !build_state_is_final(b->state)) {
                m->n_finished++;
                if (b->quota_uid >= 0)
                        m->build_quota.finished(m->build_quota.userdata, (uid_t) b->quota_uid);
        }
        b->state = st;
}

void model_set_build_quota(Model *m, const ModelBuildQuota *q) {
        m->build_quota = *q;
}

static void build_free(Model *m, Build *b);

/* Drops the oldest finished build held on uid's quota; views saw its end already. */
static void evict_finished_of(Model *m, int64_t uid) {
        for (Build *b = m->first; b; b = b->next)
                if (b->quota_uid == uid && build_state_is_final(b->state) && !b->dirty) {
                        build_free(m, b);
                        return;
                }
}

Build *build_new(Model *m, Invocation *inv, const char *drv, BuildState st, usec_t now) {
        const Source *src = inv->source;
        int64_t quota_uid = m->build_quota.take && src && !src->trusted ? (int64_t) src->peer_uid : -1;
        if (quota_uid >= 0 && m->build_quota.full &&
            m->build_quota.full(m->build_quota.userdata, (uid_t) quota_uid))
                evict_finished_of(m, quota_uid);
        if (quota_uid >= 0 && m->build_quota.take(m->build_quota.userdata, (uid_t) quota_uid) < 0)
                return NULL;
        Build *b = calloc(1, sizeof(*b));
        if (!b)
                goto release_quota;
        b->quota_uid = quota_uid;
        b->drv = strdup(drv);
        b->machine = strdup("");
        if (!b->drv || !b->machine || requester_copy(&inv->requester, &b->requester) < 0)
                goto free_build;
        if (store_path_name(m->config.store_dir, drv, &b->name) < 0) {
                /* Not a store path we recognise (another store dir?): show the base name. */
                const char *slash = strrchr(drv, '/');
                b->name = strdup(slash ? slash + 1 : drv);
                if (!b->name)
                        goto free_build;
        }
        b->key = m->next_key++;
        b->state = st;
        b->exit_code = -1;
        b->invocation = inv;
        b->queued = now;
        if (st == BUILD_RUNNING) {
                b->started = now;
                DL_APPEND2(inv->running, b, run_prev, run_next);
        }
        m->counters.by_state[st]++;

        HASH_ADD_KEYPTR(hh_key, m->builds_by_key, &b->key, sizeof(b->key), b);
        HASH_ADD_KEYPTR(hh_drv, inv->by_drv, b->drv, strlen(b->drv), b);
        b->prev = m->last;
        if (m->last)
                m->last->next = b;
        else
                m->first = b;
        m->last = b;
        inv->n_builds++;
        build_mark(m, b, CHANGE_NEW);
        return b;

free_build:
        free(b->drv);
        free(b->machine);
        free(b->name);
        requester_done(&b->requester);
        free(b);
release_quota:
        if (quota_uid >= 0)
                m->build_quota.release(m->build_quota.userdata, (uid_t) quota_uid, false);
        return NULL;
}

static void source_free(Model *m, Source *s);

void build_move(Build *b, Invocation *to) {
        Invocation *from = b->invocation;
        HASH_DELETE(hh_drv, from->by_drv, b);
        from->n_builds--;
        HASH_ADD_KEYPTR(hh_drv, to->by_drv, b->drv, strlen(b->drv), b);
        to->n_builds++;
        if (b->state == BUILD_RUNNING) {
                DL_DELETE2(from->running, b, run_prev, run_next);
                DL_APPEND2(to->running, b, run_prev, run_next);
        }
        b->invocation = to;
}

/* b leaves the list of builds to look at again (it is over, or active again). */
static void build_recheck_done(Model *m, Build *b) {
        if (!b->rechecking)
                return;
        DL_DELETE2(m->rechecks, b, recheck_prev, recheck_next);
        b->rechecking = false;
}

static void build_free(Model *m, Build *b) {
        Invocation *inv = b->invocation;

        HASH_DELETE(hh_key, m->builds_by_key, b);
        build_recheck_done(m, b);
        if (b->state == BUILD_RUNNING)
                DL_DELETE2(inv->running, b, run_prev, run_next);
        /* Every build is in its invocation's drv index, beside any other build of the same
         * drv (built again): it must leave it whichever of them a lookup would find. */
        HASH_DELETE(hh_drv, inv->by_drv, b);
        if (b->prev)
                b->prev->next = b->next;
        else
                m->first = b->next;
        if (b->next)
                b->next->prev = b->prev;
        else
                m->last = b->prev;

        m->counters.by_state[b->state]--;
        if (build_state_is_final(b->state))
                m->n_finished--;
        inv->n_builds--;

        for (uint32_t i = 0; i < b->n_phases; i++)
                free(b->phases[i].name);
        free(b->phases);
        if (b->quota_uid >= 0 && b->log.bytes > 0)
                m->build_quota.log_held(m->build_quota.userdata, (uid_t) b->quota_uid,
                                        -(int64_t) b->log.bytes);
        log_ring_done(&b->log);
        requester_done(&b->requester);
        free(b->drv);
        free(b->name);
        free(b->machine);
        free(b->failure_message);
        free(b->system);
        if (b->outputs)
                drv_outputs_free(b->outputs, (size_t) MAX(b->n_outputs, 0));
        if (b->quota_uid >= 0)
                m->build_quota.release(m->build_quota.userdata, (uid_t) b->quota_uid,
                                       build_state_is_final(b->state));
        free(b);
}

void build_finish(Model *m, Build *b, BuildState st, usec_t now) {
        if (build_state_is_final(b->state))
                return;
        build_finish_adjust(b, &st, &now);
        build_set_state(m, b, st);
        b->finished = now;
        b->output_checks_left = 0;
        /* The log ring shrinks to its finished size only once views have had the last lines
         * (model_drain_changes): followers must not miss the end of a build's log. */
        build_mark(m, b, CHANGE_FINISHED);
}

int build_set_failure(Build *b, FailureKind kind, const char *message) {
        char *msg = NULL;
        if (message) {
                /* First line only, without Nix's trailing ';' before "last N log lines". */
                size_t n = strcspn(message, "\n");
                n = MIN(n, (size_t) FAILURE_MESSAGE_MAX);
                while (n > 0 && (message[n - 1] == ';' || message[n - 1] == ' '))
                        n--;
                msg = strndup(message, n);
                if (!msg)
                        return -ENOMEM;
        }
        free(b->failure_message);
        b->failure_message = msg;
        b->failure = kind;
        return 0;
}

/* b's outputs (b->outputs, b->n_outputs), read from its .drv the first time. A failure
 * that may pass (memory, file descriptors) is not kept: the next look reads again. */
static int build_outputs_load(Model *m, Build *b) {
        if (b->outputs_read)
                return b->n_outputs;
        _cleanup_free_ char *buf = NULL;
        size_t got;
        int n = store_file_read(m->config.store_dir, b->drv, STORE_DRV_MAX, &buf, &got);
        if (n >= 0)
                n = drv_parse_outputs(buf, got, &b->outputs);
        if (n == -ENOMEM || n == -EMFILE || n == -ENFILE || n == -EINTR || n == -EAGAIN)
                return n;
        b->n_outputs = n;
        b->outputs_read = true;
        return n;
}

/* Checks that every output of b exists. 1 all present, 0 some missing, -errno when it
 * cannot be decided (unreadable or malformed .drv, unknown CA outputs). */
static int build_outputs_exist(Model *m, Build *b) {
        int n = build_outputs_load(m, b);
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                const char *path = b->outputs[i].path;
                if (path[0] == '\0')
                        return -ENODATA; /* content-addressed: the path is not known here */
                if (!store_path_valid(m->config.store_dir, path))
                        return -EBADMSG;
                if (access(path, F_OK) < 0)
                        return errno == ENOENT ? 0 : -errno;
        }
        return 1;
}

/* No sign that its builder ever ran: no log line, no phase, never sampled, no exit seen. */
static bool build_never_ran(const Build *b) {
        return b->log.total == 0 && b->n_phases == 0 && !b->usage.sampled && b->builder_exited == 0;
}

/* Fails b with "<prefix><the invocation's error>". */
static int build_set_failure_from_invocation(Build *b, FailureKind kind, const char *prefix) {
        _cleanup_free_ char *msg = NULL;
        if (asprintf(&msg, "%s%s", prefix, b->invocation->error) < 0)
                return -ENOMEM;
        return build_set_failure(b, kind, msg);
}

/* A build that ended with no reason of its own, in an invocation that Nix ended with an
 * error (not an interrupt): that error is the reason. A build that never ran did not
 * start because of it; one that ran was stopped by it. Returns true when it ended b. */
static bool build_end_by_invocation_error(Model *m, Build *b, usec_t when) {
        const Invocation *inv = b->invocation;
        if (!inv->error || inv->interrupted || b->failure != FAILURE_NONE)
                return false;
        bool never = b->state == BUILD_QUEUED || build_never_ran(b);
        if (build_set_failure_from_invocation(b, never ? FAILURE_NOT_STARTED : FAILURE_OTHER,
                                              never ? "not started: " : "") < 0)
                return false;
        build_finish(m, b, BUILD_FAILED, when);
        return true;
}

/* A build announced but never started when its nix process ended. Nix's error for the
 * invocation says why; an error Nix gave for this very build (kind other while it was still
 * queued) says it better. Without either (an interrupt, or Nix dropped it after another
 * build failed) it was cancelled. A dependency failure ended it when Nix reported it. */
static void build_end_unstarted(Model *m, Build *b, usec_t now) {
        if (build_end_by_invocation_error(m, b, now))
                return;
        if (b->failure == FAILURE_OTHER && b->failure_message) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "not started: %s", b->failure_message) >= 0)
                        build_set_failure(b, FAILURE_NOT_STARTED, msg);
        } else if (b->failure == FAILURE_NONE) {
                const Invocation *inv = b->invocation;
                if (inv->interrupted)
                        build_set_failure_from_invocation(b, FAILURE_CANCELLED, "never started: ");
                else
                        build_set_failure(b, FAILURE_CANCELLED, "never started: the nix process ended");
        }
        build_finish(m, b, BUILD_FAILED, now);
}

/* model_tick is wanted at when (monotonic) or before. */
static void model_wake_at(Model *m, usec_t when) {
        if (m->wake_at == 0 || when < m->wake_at)
                m->wake_at = when;
}

/* b's outputs are looked at again at when (monotonic), by model_tick. */
static void build_recheck_at(Model *m, Build *b, usec_t when) {
        b->output_check_at = when;
        if (!b->rechecking) {
                DL_APPEND2(m->rechecks, b, recheck_prev, recheck_next);
                b->rechecking = true;
        }
        model_wake_at(m, when);
}

/* Decides the end state of a build whose activities all stopped. */
void build_decide(Model *m, Build *b, usec_t now, usec_t now_mono) {
        if (b->failure != FAILURE_NONE || b->structured < 0) {
                build_finish(m, b, BUILD_FAILED, now);
                return;
        }
        if (b->structured > 0) {
                build_finish(m, b, BUILD_SUCCEEDED, now); /* Nix said so */
                return;
        }
        int r = build_outputs_exist(m, b);
        if (r > 0) {
                build_finish(m, b, BUILD_SUCCEEDED, now);
                return;
        }
        if (b->output_checks_left == 0 && b->output_check_at == 0) {
                /* First look: outputs missing (or undecidable: no readable .drv, CA outputs)
                 * with no failure reported yet. The failure message may still be on its way
                 * (Nix 2.29+ sends it after the stop), so look again. */
                b->output_checks_left = OUTPUT_RECHECKS;
                build_recheck_at(m, b, now_mono + OUTPUT_RECHECK_USEC);
                b->finished = now;
                return;
        }
        if (b->output_checks_left > 0) {
                b->output_checks_left--;
                build_recheck_at(m, b, now_mono + OUTPUT_RECHECK_USEC);
                if (b->output_checks_left > 0)
                        return;
        }
        usec_t stopped = b->finished ? b->finished : now;
        if (r < 0) {
                /* Undecidable, and Nix reported no failure: it succeeded. */
                build_finish(m, b, BUILD_SUCCEEDED, stopped);
                return;
        }
        if (build_end_by_invocation_error(m, b, stopped))
                return;
        build_set_failure(b, FAILURE_NO_OUTPUTS, "stopped by Nix with outputs missing and no reason given");
        build_finish(m, b, BUILD_FAILED, stopped);
}

/* Nix 2.8 keeps a finished build's activity open until its goal is freed, often when the
 * whole invocation ends; the "done" counter of the progress result moves on time. When it
 * does, the running builds whose outputs now all exist are over: they end now, so their
 * durations (history, ETAs) are the builder's, not the invocation's. */
static void invocation_check_outputs(Model *m, Invocation *inv, usec_t now) {
        Build *b, *tmp;
        DL_FOREACH_SAFE2(inv->running, b, tmp, run_next)
                if (b->failure == FAILURE_NONE && build_outputs_exist(m, b) == 1)
                        build_finish(m, b, BUILD_SUCCEEDED, now);
}

/* The build for drv in this invocation that a new event should attach to. */
Build *invocation_find_build(Invocation *inv, const char *drv) {
        Build *b = NULL;
        HASH_FIND(hh_drv, inv->by_drv, drv, strlen(drv), b);
        return b;
}

/* ---- sources ---- */

static void activity_free(Model *m, Source *s, Activity *a) {
        model_machines_activity_release(m, a);
        HASH_DEL(s->activities, a);
        subst_activity_done(a);
        free(a);
}

int model_source_new(Model *m, pid_t pid, uid_t uid, bool trusted, usec_t now, Source **ret) {
        Source *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->role = strdup("json-log");
        if (!s->role) {
                free(s);
                return -ENOMEM;
        }
        s->id = m->next_source_id++;
        s->pid = pid;
        s->uid = uid;
        s->peer_uid = uid;
        s->trusted = trusted;
        s->connected = now;
        (void) proc_starttime(m->config.proc_root, pid, &s->pid_starttime);

        Invocation *inv = &s->invocation;
        inv->id = s->id;
        inv->source = s;
        inv->started = now;
        inv->requester = (Requester){.uid = uid, .pid = pid, .user = uid_to_name(uid)};
        (void) proc_cmdline(m->config.proc_root, pid, &inv->requester.cmdline);

        HASH_ADD(hh, m->sources, id, sizeof(s->id), s);
        s->prev = m->sources_last;
        if (m->sources_last)
                m->sources_last->next = s;
        else
                m->sources_first = s;
        m->sources_last = s;

        m->counters.sources_total++;
        m->counters.sources_connected++;
        source_mark(m, s, CHANGE_NEW);
        *ret = s;
        return 0;
}

static void source_free(Model *m, Source *s) {
        Activity *a, *tmp;
        HASH_ITER(hh, s->activities, a, tmp)
                activity_free(m, s, a);
        HASH_DEL(m->sources, s);
        if (s->prev)
                s->prev->next = s->next;
        else
                m->sources_first = s->next;
        if (s->next)
                s->next->prev = s->prev;
        else
                m->sources_last = s->prev;
        requester_done(&s->invocation.requester);
        free(s->invocation.error);
        free(s->role);
        free(s->nix_version);
        free(s);
}

static int source_apply_hello(Model *m, Source *s, const NixHello *h) {
        if (s->hello || s->events > 1)
                return -EPROTO; /* only as the first line */
        if (h->protocol != NA_PROTOCOL)
                return -EPROTO;
        s->hello = true;

        if (h->role) {
                char *role = strdup(h->role);
                if (!role)
                        return -ENOMEM;
                free(s->role);
                s->role = role;
        }
        if (h->nix_version) {
                free(s->nix_version);
                s->nix_version = strdup(h->nix_version);
        }

        /* Only a trusted peer may speak for another process or user. */
        if (!s->trusted)
                return 0;

        Requester *req = &s->invocation.requester;
        if (h->pid > 0 && h->pid <= INT32_MAX) {
                s->pid = (pid_t) h->pid;
                s->pid_starttime = 0;
                (void) proc_starttime(m->config.proc_root, s->pid, &s->pid_starttime);
        }
        if (h->uid >= 0 && h->uid <= UINT32_MAX)
                s->uid = (uid_t) h->uid;

        int64_t ruid = h->requester_uid >= 0 ? h->requester_uid : (int64_t) s->uid;
        int64_t rpid = h->requester_pid > 0 ? h->requester_pid : (int64_t) s->pid;
        free(req->user);
        req->user = uid_to_name(ruid);
        req->uid = ruid;
        req->pid = rpid;
        free(req->cmdline);
        req->cmdline = NULL;
        if (h->requester_cmdline)
                (void) redact_cmdline(h->requester_cmdline, &req->cmdline); /* secrets never kept */
        else
                (void) proc_cmdline(m->config.proc_root, (pid_t) rpid, &req->cmdline);
        source_mark(m, s, CHANGE_CHANGED);
        invocation_mark(m, &s->invocation, CHANGE_CHANGED);
        return 0;
}

/* ---- records ---- */

#define UNTRUSTED_ACTIVITIES_MAX 16384u

static int apply_start(Model *m, Source *s, const NixRecord *rec, usec_t now) {
        Activity *a = NULL;
        HASH_FIND(hh, s->activities, &rec->id, sizeof(rec->id), a);
        if (a) {
                /* Same id twice on one connection: Nix never does that; keep the newer. */
                activity_free(m, s, a);
        }
        /* Nix has a few hundred activities open at once; an untrusted peer that opens more
         * only wants the daemon's memory. */
        if (!s->trusted && HASH_COUNT(s->activities) >= UNTRUSTED_ACTIVITIES_MAX)
                return -EPROTO;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->id = rec->id;
        a->type = rec->type;
        a->has_parent = rec->has_parent;
        a->parent = rec->parent;
        a->started = now;
        HASH_ADD(hh, s->activities, id, sizeof(a->id), a);

        Invocation *inv = &s->invocation;
        const char *drv = NULL, *machine = NULL;

        /* Nix carried on after the error it reported: it was not what ended the invocation. */
        if (inv->error) {
                free(inv->error);
                inv->error = NULL;
                inv->interrupted = false;
                invocation_mark(m, inv, CHANGE_CHANGED);
        }

        if (rec->type == NIX_ACT_BUILD) {
                /* Paths from the wire are store paths or nothing (docs/protocol.md). */
                if (nix_record_field_str(rec, 0, &drv) < 0 || !store_path_valid(m->config.store_dir, drv))
                        return -EPROTO;
                (void) nix_record_field_str(rec, 1, &machine);

                Build *b = invocation_find_build(inv, drv);
                if (b && build_state_is_final(b->state))
                        b = NULL; /* built again (e.g. --check): a new build */
                if (!b)
                        b = model_claim_rediscovered(m, inv, drv);
                if (!b) {
                        b = build_new(m, inv, drv, BUILD_RUNNING, now);
                        if (!b) {
                                /* Refused (a quota) or no memory: no activity is left behind. */
                                activity_free(m, s, a);
                                return -ENOMEM;
                        }
                } else if (b->state == BUILD_QUEUED) {
                        build_set_state(m, b, BUILD_RUNNING);
                        b->started = now;
                        build_mark(m, b, CHANGE_STARTED);
                }
                /* ssh-ng shows a remote build twice (outer with the machine, inner without):
                 * both activities feed one build, which ends when the last one stops. */
                if (machine && machine[0] && strcmp(machine, b->machine) != 0) {
                        char *mc = strdup(machine);
                        if (!mc)
                                return -ENOMEM;
                        free(b->machine);
                        b->machine = mc;
                        build_mark(m, b, CHANGE_CHANGED);
                        model_machines_build_dispatched(m, b, now);
                }
                b->output_checks_left = 0;
                b->output_check_at = 0;
                a->build = b;
                b->n_activities_open++;
        } else if (rec->type == NIX_ACT_SUBSTITUTE) {
                return subst_start(m, a, rec, now);
        } else if (rec->type == NIX_ACT_POST_BUILD_HOOK) {
                if (nix_record_field_str(rec, 0, &drv) == 0)
                        a->build = invocation_find_build(inv, drv);
        } else if (rec->type == NIX_ACT_BUILDS) {
                /* ssh-ng forwards the remote's own builds activity: progress counts only
                 * from the invocation's first one. */
                if (!s->has_builds_id) {
                        s->has_builds_id = true;
                        s->builds_id = rec->id;
                }
        } else
                return model_machines_activity_start(m, s, a, rec, now);
        return 0;
}

static int apply_stop(Model *m, Source *s, const NixRecord *rec, usec_t now) {
        Activity *a = NULL;
        HASH_FIND(hh, s->activities, &rec->id, sizeof(rec->id), a);
        if (!a)
                return 0; /* started before we connected: nothing to end */

        Build *b = a->type == NIX_ACT_BUILD ? a->build : NULL;
        if (a->type == NIX_ACT_SUBSTITUTE)
                subst_stop(m, s, a, now);
        activity_free(m, s, a);
        if (b && b->n_activities_open > 0 && --b->n_activities_open == 0 && !build_state_is_final(b->state))
                build_decide(m, b, now, now_monotonic());
        return 0;
}

static void build_add_phase(Model *m, Build *b, const char *phase, usec_t now) {
        if (b->n_phases > 0 && strcmp(b->phases[b->n_phases - 1].name, phase) == 0)
                return;
        if (b->n_phases >= m->config.max_phases)
                return;
        Phase *grown = realloc(b->phases, (b->n_phases + 1) * sizeof(Phase));
        if (!grown)
                return;
        b->phases = grown;
        char *name = strdup(phase);
        if (!name)
                return;
        b->phases[b->n_phases++] = (Phase){.name = name, .time = now};
        build_mark(m, b, CHANGE_CHANGED);
}

/* A log line for b; an untrusted uid's lines count against the log bytes it may hold. */
static int build_log_push(Model *m, Build *b, const char *line) {
        const ModelBuildQuota *q = &m->build_quota;
        if (b->quota_uid >= 0 && q->log_full(q->userdata, (uid_t) b->quota_uid, strlen(line)))
                return 0; /* dropped, and counted, by the quota */
        uint64_t before = b->log.bytes;
        uint32_t cap = build_state_is_final(b->state) ? m->config.log_ring_finished : m->config.log_ring;
        if (log_ring_push(&b->log, &m->log_budget, cap, line) < 0)
                return -ENOMEM;
        if (b->quota_uid >= 0 && b->log.bytes != before)
                q->log_held(q->userdata, (uid_t) b->quota_uid, (int64_t) b->log.bytes - (int64_t) before);
        build_mark(m, b, CHANGE_LOG);
        return 0;
}

static int apply_result(Model *m, Source *s, const NixRecord *rec, usec_t now) {
        /* Keyed by its derivation, not its activity (Nix sends it on the goal's). */
        if (rec->has_build_result)
                return model_apply_build_result(m, s, rec, now);

        Activity *a = NULL;
        HASH_FIND(hh, s->activities, &rec->id, sizeof(rec->id), a);
        if (!a)
                return 0;

        const char *str;
        switch (rec->type) {
        case NIX_RES_BUILD_LOG_LINE:
        case NIX_RES_POST_BUILD_LOG_LINE:
                if (!a->build)
                        return 0;
                if (nix_record_field_str(rec, 0, &str) < 0)
                        return -EPROTO;
                return build_log_push(m, a->build, str);

        case NIX_RES_SET_PHASE:
                if (!a->build || a->type != NIX_ACT_BUILD)
                        return 0;
                if (nix_record_field_str(rec, 0, &str) < 0)
                        return -EPROTO;
                build_add_phase(m, a->build, str, now);
                return 0;

        case NIX_RES_PROGRESS:
                if (a->type != NIX_ACT_BUILDS || (s->has_builds_id && a->id != s->builds_id))
                        return 0;
                int64_t v[4];
                for (unsigned i = 0; i < 4; i++)
                        if (nix_record_field_int(rec, i, &v[i]) < 0)
                                return -EPROTO;
                if (memcmp(v, s->invocation.progress, sizeof(v)) != 0) {
                        bool more_done = v[0] > s->invocation.progress[0];
                        memcpy(s->invocation.progress, v, sizeof(v));
                        if (more_done)
                                invocation_check_outputs(m, &s->invocation, now);
                        invocation_mark(m, &s->invocation, CHANGE_CHANGED);
                }
                return 0;

        default:
                return 0; /* kept as a count only, for now */
        }
}

static void model_evict(Model *m);

/* Finished builds past the limit are dropped from the ingestion path itself, in batches,
 * so memory stays flat however busy the loop is. */
static void model_evict_if_needed(Model *m) {
        uint32_t slack = MAX(m->config.max_finished / 16, 64u);
        if (m->n_finished > m->config.max_finished + slack)
                model_evict(m);
}

static int model_apply_record(Model *m, Source *s, const NixRecord *rec, usec_t now) {
        switch (rec->action) {
        case NIX_ACTION_HELLO:
                return source_apply_hello(m, s, &rec->hello);
        case NIX_ACTION_START:
                return apply_start(m, s, rec, now);
        case NIX_ACTION_STOP:
                return apply_stop(m, s, rec, now);
        case NIX_ACTION_RESULT:
                return apply_result(m, s, rec, now);
        case NIX_ACTION_MSG:
                return model_apply_msg(m, s, rec, now);
        case NIX_ACTION_DROPPED:
                if (rec->dropped < 0)
                        return -EPROTO;
                s->dropped_by_sender += (uint64_t) rec->dropped;
                m->counters.dropped_by_senders += (uint64_t) rec->dropped;
                source_mark(m, s, CHANGE_CHANGED);
                return 0;
        case NIX_ACTION_SET_PHASE:
        default:
                return 0;
        }
}

int model_apply(Model *m, Source *s, const NixRecord *rec, usec_t now) {
        s->events++;
        m->counters.events++;
        int r = model_apply_record(m, s, rec, now);
        model_evict_if_needed(m);
        return r;
}

void model_source_count_bad(Model *m, Source *s, uint64_t n) {
        s->bad += n;
        m->counters.bad += n;
}

void model_source_count_oversized(Model *m, Source *s, uint64_t n) {
        s->oversized += n;
        m->counters.oversized += n;
}

/* The nix process of a source is gone: what it was doing will never be reported. */
static void source_nix_exited(Model *m, Source *s, usec_t now) {
        s->nix_exited = true;
        /* The drv index holds every active build of the invocation (only a finished build
         * is ever replaced in it). */
        for (Build *b = s->invocation.by_drv; b; b = b->hh_drv.next) {
                if (!build_state_is_active(b->state))
                        continue;
                if (b->state == BUILD_QUEUED) {
                        build_end_unstarted(m, b, now);
                } else if (b->n_activities_open == 0 && b->output_check_at != 0) {
                        continue; /* stopped, deciding its outcome */
                } else if (b->rediscovered) {
                        /* No events will come for it: its outputs tell how it ended. */
                        b->n_activities_open = 0;
                        build_decide(m, b, now, now_monotonic());
                } else if (!build_never_ran(b) || !build_end_by_invocation_error(m, b, now))
                        build_finish(m, b, BUILD_LOST, now);
        }
}

void model_source_disconnect(Model *m, Source *s, usec_t now) {
        if (s->gone)
                return;
        s->gone = true;
        s->disconnected = now;
        m->counters.sources_connected--;

        Activity *a, *tmp;
        HASH_ITER(hh, s->activities, a, tmp)
                activity_free(m, s, a);

        Invocation *inv = &s->invocation;
        inv->done = true;
        inv->finished = now;
        invocation_mark(m, inv, CHANGE_FINISHED);
        source_mark(m, s, CHANGE_FINISHED);

        bool active = false;
        for (Build *b = inv->by_drv; b && !active; b = b->hh_drv.next)
                active = build_state_is_active(b->state);
        if (!active)
                s->nix_exited = true; /* nothing left that could be lost */
        else if (!proc_alive(m->config.proc_root, s->pid, s->pid_starttime))
                source_nix_exited(m, s, now);
        else
                m->sources_waiting++;
        /* Lost builds and sources with nothing left are model_tick's: soon. */
        model_wake_at(m, now_monotonic());
}

/* Drops the oldest finished builds beyond the configured number, and sources that have
 * nothing left to show. */
static void model_evict(Model *m) {
        for (Build *b = m->first; b && m->n_finished > m->config.max_finished;) {
                Build *next = b->next;
                if (build_state_is_final(b->state) && !b->dirty)
                        build_free(m, b);
                b = next;
        }
        for (Source *s = m->sources_first; s;) {
                Source *next = s->next;
                if (s->gone && s->nix_exited && s->invocation.n_builds == 0 && !s->dirty &&
                    !s->invocation.dirty)
                        source_free(m, s);
                s = next;
        }
}

usec_t model_tick(Model *m, usec_t now_real, usec_t now_mono) {
        usec_t next = 0;

        Build *b, *tmp;
        DL_FOREACH_SAFE2(m->rechecks, b, tmp, recheck_next) {
                if (b->output_check_at != 0 && !build_state_is_final(b->state) &&
                    b->output_check_at <= now_mono)
                        build_decide(m, b, now_real, now_mono);
                if (b->output_check_at == 0 || build_state_is_final(b->state)) {
                        build_recheck_done(m, b);
                        continue;
                }
                if (next == 0 || b->output_check_at < next)
                        next = b->output_check_at;
        }

        if (m->sources_waiting > 0) {
                if (m->next_lost_check <= now_mono) {
                        m->next_lost_check = now_mono + LOST_CHECK_USEC;
                        for (Source *s = m->sources_first; s; s = s->next)
                                if (s->gone && !s->nix_exited &&
                                    !proc_alive(m->config.proc_root, s->pid, s->pid_starttime)) {
                                        source_nix_exited(m, s, now_real);
                                        m->sources_waiting--;
                                }
                }
                if (m->sources_waiting > 0 && (next == 0 || m->next_lost_check < next))
                        next = m->next_lost_check;
        }

        model_evict(m);
        return next;
}

usec_t model_take_wake(Model *m) {
        usec_t when = m->wake_at;
        m->wake_at = 0;
        return when;
}

Build *model_build_by_key(Model *m, uint64_t key) {
        Build *b = NULL;
        HASH_FIND(hh_key, m->builds_by_key, &key, sizeof(key), b);
        return b;
}

Build *model_builds_first(Model *m) {
        return m->first;
}

Build *model_builds_last(Model *m) {
        return m->last;
}

Source *model_sources_first(Model *m) {
        return m->sources_first;
}

Source *model_source_by_id(Model *m, uint64_t id) {
        Source *s = NULL;
        HASH_FIND(hh, m->sources, &id, sizeof(id), s);
        return s;
}

void model_counters(Model *m, ModelCounters *ret) {
        *ret = m->counters;
}

const LogBudget *model_log_budget(Model *m) {
        return &m->log_budget;
}

Model *model_free(Model *m) {
        if (!m)
                return NULL;
        while (m->first)
                build_free(m, m->first);
        while (m->sources_first)
                source_free(m, m->sources_first);
        model_machines_free(m);
        subst_drain(m, NULL, NULL);
        free(m);
        return NULL;
}
