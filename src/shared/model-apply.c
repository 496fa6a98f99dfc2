/* Sources (one per connection or stream) and what Nix's records do to them: activities
 * started and stopped, the builds they are, log lines, phases and progress. */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/model-internal.h"
#include "shared/model-machines.h"
#include "shared/model-proc.h"
#include "shared/proc.h"
#include "shared/proto.h"
#include "shared/redact.h"
#include "shared/storepath.h"

static char *uid_to_name(int64_t uid) {
        if (uid < 0)
                return NULL;
        struct passwd pw, *result = NULL;
        char buf[4096];
        if (getpwuid_r((uid_t) uid, &pw, buf, sizeof(buf), &result) != 0 || !result)
                return NULL;
        return strdup(result->pw_name);
}

/* ---- sources ---- */

void activity_free(Model *m, Source *s, Activity *a) {
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

void source_free(Model *m, Source *s) {
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
                a = activity_resume(m, s, rec->id);
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
static int build_log_push(Model *m, Build *b, const char *line, usec_t now) {
        const ModelBuildQuota *q = &m->build_quota;
        b->last_output = now; /* it printed, even if the quota drops the line */
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
                a = activity_resume(m, s, rec->id);
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
                return build_log_push(m, a->build, str, now);

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
                        bool moved = v[0] > s->invocation.progress[0] || v[3] > s->invocation.progress[3];
                        memcpy(s->invocation.progress, v, sizeof(v));
                        if (moved)
                                invocation_progress_moved(m, &s->invocation, now);
                        invocation_mark(m, &s->invocation, CHANGE_CHANGED);
                }
                return 0;

        default:
                return 0; /* kept as a count only, for now */
        }
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
