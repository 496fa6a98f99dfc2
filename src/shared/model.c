/* The live model: sources, activities keyed by (source, id), builds and invocations.
 *
 * Every record is applied in O(1) expected time (hash lookups, a ring append): this runs on
 * the daemon's ingestion path, which must outpace anything Nix can emit. Work that may be
 * slow (reading a .drv to decide success, /proc liveness) happens once per build or on the
 * periodic tick, never per log line.
 *
 * The model's own files, each with one job:
 *   model.c          the model itself: its names, making and freeing it, lookups, eviction
 *   model-apply.c    sources and what Nix's records do to them (activities, builds, logs)
 *   model-msg.c      what Nix's messages say about builds (plans, failures)
 *   model-build.c    a build's life in the model: made, moved, failed, finished, freed
 *   model-outcome.c  how a build ends: its outputs, its invocation's error, its nix process
 *   model-changes.c  what changed since views last looked, and the drain that tells them
 *   model-proc.c, model-subst.c, model-machines.c: processes, substitutions, remote machines */
#include "shared/model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/model-internal.h"
#include "shared/model-machines.h"
#include "shared/storepath.h"

static const char *const build_state_table[_BUILD_STATE_MAX] = {
        [BUILD_QUEUED] = "queued",       [BUILD_RUNNING] = "running",     [BUILD_FROZEN] = "frozen",
        [BUILD_SUCCEEDED] = "succeeded", [BUILD_FAILED] = "failed",       [BUILD_KILLED] = "killed",
        [BUILD_LOST] = "lost",           [BUILD_FINISHING] = "finishing",
};

static const char *const failure_kind_table[_FAILURE_KIND_MAX] = {
        [FAILURE_NONE] = NULL,
        [FAILURE_EXIT_CODE] = "exit-code",
        [FAILURE_SIGNAL] = "signal",
        [FAILURE_DEPENDENCY] = "dependency",
        [FAILURE_NO_OUTPUTS] = "no-outputs",
        [FAILURE_CANCELLED] = "cancelled",
        [FAILURE_OTHER] = "other",
        [FAILURE_OOM] = "oom-killed",
        [FAILURE_NOT_STARTED] = "not-started",
        [FAILURE_HASH_MISMATCH] = "hash-mismatch",
        [FAILURE_TIMEOUT] = "timeout",
        [FAILURE_SILENT_TIMEOUT] = "max-silent-time",
        [FAILURE_LOG_LIMIT] = "log-limit",
        [FAILURE_SUBSTITUTION] = "substitution",
};

static const char *const build_count_table[_COUNT_MAX] = {
        [COUNT_QUEUED] = "queued",
        [COUNT_RUNNING] = "running",
        [COUNT_FINISHING] = "finishing",
        [COUNT_FROZEN] = "frozen",
        [COUNT_SUCCEEDED] = "succeeded",
        [COUNT_FAILED] = "failed",
        [COUNT_DEPENDENCY] = "dependency",
        [COUNT_CANCELLED] = "cancelled",
        [COUNT_NOT_STARTED] = "not_started",
        [COUNT_KILLED] = "killed",
        [COUNT_LOST] = "lost",
};

const char *build_count_to_string(BuildCount c) {
        return c >= 0 && c < _COUNT_MAX ? build_count_table[c] : NULL;
}

bool build_count_is_final(BuildCount c) {
        return c >= COUNT_SUCCEEDED && c < _COUNT_MAX;
}

BuildCount build_count_for(BuildState state, FailureKind failure) {
        switch (state) {
        case BUILD_QUEUED:
                return COUNT_QUEUED;
        case BUILD_RUNNING:
                return COUNT_RUNNING;
        case BUILD_FINISHING:
                return COUNT_FINISHING;
        case BUILD_FROZEN:
                return COUNT_FROZEN;
        case BUILD_SUCCEEDED:
                return COUNT_SUCCEEDED;
        case BUILD_KILLED:
                return COUNT_KILLED;
        case BUILD_LOST:
                return COUNT_LOST;
        case BUILD_FAILED:
                switch (failure) {
                case FAILURE_DEPENDENCY:
                        return COUNT_DEPENDENCY;
                case FAILURE_CANCELLED:
                        return COUNT_CANCELLED;
                case FAILURE_NOT_STARTED:
                        return COUNT_NOT_STARTED;
                default:
                        return COUNT_FAILED;
                }
        default:
                return _COUNT_NONE;
        }
}

BuildCount build_count_of(const Build *b) {
        return build_count_for(b->state, b->failure);
}

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

FailureKind failure_kind_from_string(const char *s) {
        /* Its former name, in history rows and saved state written before the rename. */
        if (s && strcmp(s, "oom-kill") == 0)
                return FAILURE_OOM;
        for (int i = FAILURE_NONE + 1; s && i < _FAILURE_KIND_MAX; i++)
                if (strcmp(failure_kind_table[i], s) == 0)
                        return (FailureKind) i;
        return FAILURE_NONE;
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

uint64_t usage_limit_peak(const BuildUsage *u) {
        return u->has_mem_cgroup ? MAX(u->mem_cgroup_peak, u->mem_cgroup) : u->mem_peak;
}

bool build_state_is_final(BuildState s) {
        return s == BUILD_SUCCEEDED || s == BUILD_FAILED || s == BUILD_KILLED || s == BUILD_LOST;
}

bool build_state_is_active(BuildState s) {
        return s == BUILD_QUEUED || s == BUILD_RUNNING || s == BUILD_FROZEN || s == BUILD_FINISHING;
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

/* ---- requesters ---- */

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

/* ---- eviction ---- */

/* Drops the oldest finished builds beyond the configured number, and sources that have
 * nothing left to show. */
void model_evict(Model *m) {
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

/* Finished builds past the limit are dropped from the ingestion path itself, in batches,
 * so memory stays flat however busy the loop is. */
void model_evict_if_needed(Model *m) {
        uint32_t slack = MAX(m->config.max_finished / 16, 64u);
        if (m->n_finished > m->config.max_finished + slack)
                model_evict(m);
}

/* ---- lookups ---- */

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
