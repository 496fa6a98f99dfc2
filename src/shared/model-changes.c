/* Change tracking: each object changed since views last looked is on one dirty list, once,
 * with the union of what changed; model_drain_changes hands them to views and clears them. */
#include <string.h>

#include "basic/macro.h"
#include "shared/model-internal.h"

void build_mark(Model *m, Build *b, ChangeKind k) {
        b->dirty_kinds |= 1u << k;
        if (!b->dirty) {
                b->dirty = true;
                b->dirty_next = m->dirty_builds;
                m->dirty_builds = b;
        }
}

void invocation_mark(Model *m, Invocation *inv, ChangeKind k) {
        inv->dirty_kinds |= 1u << k;
        if (!inv->dirty) {
                inv->dirty = true;
                inv->dirty_next = m->dirty_invocations;
                m->dirty_invocations = inv;
        }
}

void source_mark(Model *m, Source *s, ChangeKind k) {
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
               a->low == b->low && a->high == b->high && a->confidence == b->confidence &&
               a->other_machines == b->other_machines;
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

/* b's invocation counts it where it is now; the invocation's event says so when they moved.
 * Every change of a build's state or failure marks it, so the drain is where counts settle. */
void build_recount(Model *m, Build *b) {
        BuildCount c = build_count_of(b);
        if (c == b->counted)
                return;
        Invocation *inv = b->invocation;
        if (b->counted != _COUNT_NONE && inv->counts[b->counted] > 0)
                inv->counts[b->counted]--;
        if (c != _COUNT_NONE)
                inv->counts[c]++;
        b->counted = c;
        invocation_mark(m, inv, CHANGE_CHANGED);
}

void model_drain_changes(Model *m, const ModelChangeHandler *h, void *userdata) {
        /* Lists are built newest-first; views get them in that order, which is fine because
         * each object is reported once with the union of its changes. */
        Build *b = TAKE_PTR(m->dirty_builds);
        while (b) {
                Build *next = b->dirty_next;
                build_recount(m, b);
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
