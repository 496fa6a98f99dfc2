/* What a build found again after a daemon restart takes back: the record the daemon kept of
 * it (resume.h) or its builder's start time, so that its elapsed time, log line count and
 * invocation stay true and history never records a duration that starts at the restart. */
#include "shared/model-resume.h"

#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/model-internal.h"
#include "shared/model-proc.h"
#include "shared/nixlog.h"
#include "shared/trust.h"

static bool invocation_from_proc(const Invocation *inv) {
        return inv->source && inv->source->role && strcmp(inv->source->role, "rediscovered") == 0;
}

static void resume_invocation(Model *m, Build *b, const ResumeBuild *r) {
        Invocation *inv = b->invocation;
        if (!inv || !invocation_from_proc(inv))
                return; /* a stream reports it: its own records say more than ours */
        if (r) {
                Requester req;
                if (inv->requester.uid < 0 || (!inv->requester.cmdline && r->requester.cmdline)) {
                        if (requester_copy(&r->requester, &req) == 0) {
                                requester_done(&inv->requester);
                                inv->requester = req;
                        }
                }
                if (requester_copy(&r->requester, &req) == 0) {
                        requester_done(&b->requester);
                        b->requester = req;
                }
                if (r->inv_started && (!inv->started || r->inv_started < inv->started))
                        inv->started = r->inv_started;
                bool none = true;
                for (unsigned i = 0; i < 4; i++)
                        none = none && inv->progress[i] == 0;
                if (none)
                        memcpy(inv->progress, r->progress, sizeof(inv->progress));
                /* Its builds that ended before the restart: counted, as builds the model let
                 * go of are (once per invocation: every record of it says the same). */
                if (!inv->resumed) {
                        inv->resumed = true;
                        for (size_t c = 0; c < _COUNT_MAX; c++) {
                                inv->resumed_ended[c] = r->ended[c];
                                inv->counts[c] += r->ended[c];
                        }
                }
        }
        /* No stream will end it: it runs while its nix process does (source_nix_exited). */
        if (!inv->source->nix_exited && inv->done) {
                inv->done = false;
                inv->finished = 0;
        }
        invocation_mark(m, inv, CHANGE_CHANGED);
}

/* Its timeline from before the restart goes before what was sampled since: the points older
 * than its first own (and not in the future: a wrong clock or a damaged file must not stop
 * new samples, which come in time order), merged down to the bound as when full. */
static void resume_timeline(Build *b, const Timeline *old, usec_t now) {
        Timeline *tl = &b->timeline;
        usec_t first = tl->n ? tl->points[0].t : now + 1;
        uint32_t k = 0;
        while (k < old->n && old->points[k].t < first && old->points[k].t <= now)
                k++;
        if (k == 0)
                return;
        Timeline all = {.points = calloc((size_t) k + tl->n, sizeof(TimelinePoint)),
                        .n = k + tl->n,
                        .step = MAX(old->step, tl->step)};
        if (!all.points)
                return; /* out of memory: it goes on without its past */
        memcpy(all.points, old->points, k * sizeof(TimelinePoint));
        if (tl->n)
                memcpy(all.points + k, tl->points, tl->n * sizeof(TimelinePoint));
        Timeline thin;
        if (timeline_thin(&all, TIMELINE_POINTS_MAX, all.step, &thin) == 0) {
                timeline_done(tl);
                *tl = thin;
        }
        timeline_done(&all);
}

/* Its phases from before the restart go before those reported since (by a stream that came
 * back), within the model's bound; none from the future. */
static void resume_phases(Model *m, Build *b, const ResumeBuild *r, usec_t now) {
        usec_t first = b->n_phases ? b->phases[0].time : now + 1;
        uint32_t k = 0;
        while (k < r->n_phases && r->phases[k].time < first && r->phases[k].time <= now)
                k++;
        k = MIN(k, m->config.max_phases - MIN(m->config.max_phases, b->n_phases));
        if (k == 0)
                return;
        Phase *all = calloc((size_t) k + b->n_phases, sizeof(Phase));
        if (!all)
                return;
        for (uint32_t i = 0; i < k; i++)
                if (!(all[i] = (Phase){.name = strdup(r->phases[i].name), .time = r->phases[i].time}).name) {
                        while (i > 0)
                                free(all[--i].name);
                        free(all);
                        return;
                }
        if (b->n_phases)
                memcpy(all + k, b->phases, b->n_phases * sizeof(Phase));
        free(b->phases);
        b->phases = all;
        b->n_phases += k;
}

void model_build_resume(Model *m, Build *b, const ResumeBuild *r, usec_t builder_start) {
        if (r && r->started && (b->rediscovered || r->started < b->started)) {
                b->started = r->started;
                b->start_unknown = r->start_unknown;
        } else if (b->rediscovered && builder_start) {
                b->started = builder_start;
                b->start_unknown = false;
        } else if (b->rediscovered)
                b->start_unknown = true;
        if (r && r->queued && r->queued <= b->started)
                b->queued = r->queued;
        else if (b->queued > b->started)
                b->queued = b->started;
        if (r && r->log_lines > b->log.total) {
                /* Lines received before the restart: counted, no longer held (`nix log` has
                 * them), and never reported to views as new. */
                b->log_flushed += r->log_lines - b->log.total;
                b->log.total = r->log_lines;
        }
        if (r && r->usage.sampled && !b->usage.sampled)
                b->usage = r->usage;
        if (r) {
                resume_timeline(b, &r->timeline, now_realtime());
                resume_phases(m, b, r, now_realtime());
        }
        if (r && b->rediscovered) {
                b->resume_activity = r->activity;
                if (b->invocation && invocation_from_proc(b->invocation) && r->builds_activity)
                        b->invocation->source->resume_builds_id = r->builds_activity;
                m->resumable = m->resumable || r->activity || r->builds_activity;
        }
        resume_invocation(m, b, r);
        build_mark(m, b, CHANGE_CHANGED);
}

static Activity *activity_add(Source *s, uint64_t id, int64_t type, Build *b) {
        Activity *a = calloc(1, sizeof(*a));
        if (!a)
                return NULL;
        *a = (Activity){.id = id, .type = type, .build = b, .started = now_realtime()};
        HASH_ADD(hh, s->activities, id, sizeof(a->id), a);
        return a;
}

/* What the stream s tells about the invocation of the rediscovered source r is now s's: its
 * builds activity, its progress, and its start if earlier. r ends when none of its builds is
 * left running. */
static void invocation_taken_over(Model *m, Source *s, Source *r) {
        Invocation *to = &s->invocation, *from = &r->invocation;
        /* Its builds activity too: its progress records are s's from now on. */
        Activity *a = NULL;
        uint64_t id = r->resume_builds_id;
        if (id)
                HASH_FIND(hh, s->activities, &id, sizeof(id), a);
        if (id && !a && activity_add(s, id, NIX_ACT_BUILDS, NULL) && !s->has_builds_id) {
                s->has_builds_id = true;
                s->builds_id = id;
        }
        r->resume_builds_id = 0;
        bool none = true;
        for (unsigned i = 0; i < 4; i++)
                none = none && to->progress[i] == 0;
        if (none)
                memcpy(to->progress, from->progress, sizeof(to->progress));
        if (from->started && from->started < to->started)
                to->started = from->started;
        /* The builds that ended before the restart are the stream's invocation's too. */
        if (from->resumed && !to->resumed) {
                to->resumed = true;
                for (size_t c = 0; c < _COUNT_MAX; c++) {
                        from->counts[c] -= MIN(from->counts[c], from->resumed_ended[c]);
                        to->counts[c] += from->resumed_ended[c];
                        to->resumed_ended[c] = from->resumed_ended[c];
                        from->resumed_ended[c] = 0;
                }
        }
        invocation_mark(m, to, CHANGE_CHANGED);
        bool active = false;
        for (Build *b = from->by_drv; b && !active; b = b->hh_drv.next)
                active = build_state_is_active(b->state);
        if (active)
                return;
        /* Nothing of it left: its counts are the stream's now, and it goes (model_evict). */
        memset(from->progress, 0, sizeof(from->progress));
        if (!from->done) {
                from->done = true;
                from->finished = now_realtime();
        }
        invocation_mark(m, from, CHANGE_FINISHED);
        if (r->gone && !r->nix_exited) {
                r->nix_exited = true;
                m->sources_waiting--; /* counted by model_source_disconnect */
        }
}

Activity *activity_resume(Model *m, Source *s, uint64_t id) {
        if (id == 0 || s->gone || !m->resumable)
                return NULL;
        bool waiting = false;
        for (Source *r = model_sources_first(m); r; r = r->next) {
                if (r == s || !r->role || strcmp(r->role, "rediscovered") != 0 || r->nix_exited)
                        continue;
                waiting = true;
                if (r->pid != s->pid ||
                    (r->pid_starttime && s->pid_starttime && r->pid_starttime != s->pid_starttime))
                        continue;
                if (id == r->resume_builds_id) {
                        if (!trust_may_attach(m->config.proc_root, s, r->pid))
                                return NULL;
                        invocation_taken_over(m, s, r);
                        Activity *a = NULL;
                        HASH_FIND(hh, s->activities, &id, sizeof(id), a);
                        return a;
                }
                for (Build *b = r->invocation.by_drv; b; b = b->hh_drv.next) {
                        if (b->resume_activity != id || !b->rediscovered || build_state_is_final(b->state))
                                continue;
                        /* Claimed only where trust allows (model_claim_rediscovered checks it). */
                        Build *claimed = model_claim_rediscovered(m, &s->invocation, b->drv);
                        if (claimed != b)
                                return NULL;
                        b->resume_activity = 0;
                        Activity *a = activity_add(s, id, NIX_ACT_BUILD, b);
                        if (a)
                                b->n_activities_open++;
                        invocation_taken_over(m, s, r);
                        return a;
                }
        }
        m->resumable = waiting; /* none left: unknown activities cost nothing from now on */
        return NULL;
}
