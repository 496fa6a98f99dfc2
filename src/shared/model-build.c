/* A build's life in the model: made (by an event or Nix's plan), moved to the invocation that
 * claims it, failed with a reason, finished, and freed. One owner for the lists a build is on:
 * the model's (by key, in order), its invocation's (by drv, running) and the quota's count. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "basic/macro.h"
#include "shared/drv.h"
#include "shared/model-internal.h"
#include "shared/model-machines.h"
#include "shared/storepath.h"

#define FAILURE_MESSAGE_MAX 4096

/* Running or finishing: on its invocation's running list (what a progress move looks at). */
static bool state_on_run_list(BuildState st) {
        return st == BUILD_RUNNING || st == BUILD_FINISHING;
}

/* Ran and failed: what Nix counts in its "failed" progress figure (all but dependencies). */
static bool state_failed_ran(const Build *b, BuildState st) {
        return (st == BUILD_FAILED || st == BUILD_KILLED) && b->started != 0;
}

void build_set_state(Model *m, Build *b, BuildState st) {
        if (b->state == st)
                return;
        bool was_on = state_on_run_list(b->state), on = state_on_run_list(st);
        if (was_on && !on)
                DL_DELETE2(b->invocation->running, b, run_prev, run_next);
        else if (on && !was_on)
                DL_APPEND2(b->invocation->running, b, run_prev, run_next);
        bool was_failed = state_failed_ran(b, b->state), failed = state_failed_ran(b, st);
        if (failed && !was_failed)
                b->invocation->n_failed_ran++;
        else if (was_failed && !failed && b->invocation->n_failed_ran > 0)
                b->invocation->n_failed_ran--;
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
        b->counted = _COUNT_NONE;
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

void build_move(Build *b, Invocation *to) {
        Invocation *from = b->invocation;
        if (b->counted != _COUNT_NONE) {
                if (from->counts[b->counted] > 0)
                        from->counts[b->counted]--;
                to->counts[b->counted]++;
        }
        HASH_DELETE(hh_drv, from->by_drv, b);
        from->n_builds--;
        HASH_ADD_KEYPTR(hh_drv, to->by_drv, b->drv, strlen(b->drv), b);
        to->n_builds++;
        if (state_on_run_list(b->state)) {
                DL_DELETE2(from->running, b, run_prev, run_next);
                DL_APPEND2(to->running, b, run_prev, run_next);
        }
        b->invocation = to;
}

/* b leaves the list of builds to look at again (it is over, or active again). */
void build_recheck_done(Model *m, Build *b) {
        if (!b->rechecking)
                return;
        DL_DELETE2(m->rechecks, b, recheck_prev, recheck_next);
        b->rechecking = false;
}

void build_free(Model *m, Build *b) {
        Invocation *inv = b->invocation;
        /* An ended build stays counted: the invocation still had it. */
        if (b->counted != _COUNT_NONE && !build_count_is_final(b->counted) && inv->counts[b->counted] > 0)
                inv->counts[b->counted]--;

        HASH_DELETE(hh_key, m->builds_by_key, b);
        build_recheck_done(m, b);
        if (state_on_run_list(b->state))
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

        model_machines_build_release(b);
        for (uint32_t i = 0; i < b->n_phases; i++)
                free(b->phases[i].name);
        free(b->phases);
        if (b->quota_uid >= 0 && b->log.bytes > 0)
                m->build_quota.log_held(m->build_quota.userdata, (uid_t) b->quota_uid,
                                        -(int64_t) b->log.bytes);
        log_ring_done(&b->log);
        timeline_done(&b->timeline);
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

usec_t build_frozen_time(const Build *b, usec_t now) {
        return b->frozen_usec + (b->frozen_since && now > b->frozen_since ? now - b->frozen_since : 0);
}

usec_t build_duration(const Build *b, usec_t now) {
        if (!b->started)
                return 0;
        /* A finishing build's work ended with its processes. */
        usec_t end = build_state_is_final(b->state)                     ? b->finished
                     : b->state == BUILD_FINISHING && b->builder_exited ? b->builder_exited
                                                                        : now;
        usec_t frozen = build_frozen_time(b, end);
        return end > b->started + frozen ? end - b->started - frozen : 0;
}

void build_finish(Model *m, Build *b, BuildState st, usec_t now) {
        if (build_state_is_final(b->state))
                return;
        build_finish_adjust(b, &st, &now);
        if (b->frozen_since) {
                /* Ended while frozen (killed): its frozen time stops with it. */
                b->frozen_usec = build_frozen_time(b, now);
                b->frozen_since = 0;
        }
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

/* The build for drv in this invocation that a new event should attach to. */
Build *invocation_find_build(Invocation *inv, const char *drv) {
        Build *b = NULL;
        HASH_FIND(hh_drv, inv->by_drv, drv, strlen(drv), b);
        return b;
}

const char *build_log_line(const Build *b, uint32_t i) {
        return log_ring_line(&b->log, i);
}
