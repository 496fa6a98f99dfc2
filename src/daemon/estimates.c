/* Cached ETA lookups over the history store (see estimates.h). */
#include "daemon/estimates.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/graphs.h"
#include "daemon/history-writer.h"
#include "shared/model-machines.h"
#include "shared/drv.h"
#include "shared/eta.h"

#define CACHE_MAX   4096
#define TURN_BUDGET (2 * USEC_PER_MSEC)
/* One lookup runs on the event loop: it is an index search (a few pages, test-history checks
 * the plans), but a cold cache on a slow disk, or a database an older schema left without
 * the index, must not stall ingestion behind it. A lookup cut short leaves the build without
 * an estimate until new history rows come. */
#define QUERY_BUDGET (5 * USEC_PER_MSEC)

typedef struct Entry {
        char *key; /* "pname\nmachine\nuid": an estimate is per requester (her own rows) */
        BuildEta eta;
        uint64_t generation;
        UT_hash_handle hh;
} Entry;

struct Estimates {
        Entry *entries;
        uint32_t n;
        uint64_t *pending; /* keys of queued builds waiting for a lookup */
        size_t n_pending, cap_pending, next_pending;
        sd_event_source *defer;
};

static int on_defer(sd_event_source *s, void *userdata);

int estimates_new(Daemon *d, Estimates **ret) {
        Estimates *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        int r = sd_event_add_defer(d->event, &e->defer, on_defer, d);
        if (r >= 0)
                r = sd_event_source_set_enabled(e->defer, SD_EVENT_OFF);
        if (r < 0) {
                estimates_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

static void entry_free(Estimates *e, Entry *x) {
        HASH_DEL(e->entries, x);
        e->n--;
        free(x->key);
        free(x);
}

Estimates *estimates_free(Estimates *e) {
        if (!e)
                return NULL;
        Entry *x, *tmp;
        HASH_ITER(hh, e->entries, x, tmp)
                entry_free(e, x);
        sd_event_source_disable_unref(e->defer);
        free(e->pending);
        free(e);
        return NULL;
}

/* A machine's speed factor from the builders setting (1 for this machine, and for a
 * machine not configured). Higher is faster: a duration measured on a machine of speed a
 * takes d * a / b on a machine of speed b. */
static double machine_speed(Daemon *d, const char *machine) {
        if (!machine || !machine[0])
                return 1.0;
        ModelMachine *mm = model_machine_find(d->model, machine);
        if (!mm || !mm->configured || !(mm->spec.speed_factor > 0))
                return 1.0;
        return mm->spec.speed_factor;
}

static int query(Daemon *d, const char *pname, const char *machine, int64_t uid, BuildEta *ret) {
        const char *error = NULL;
        History *h = history_writer_reader(d->history, &error);
        if (!h)
                return -ENOTCONN;
        double v[ETA_SAMPLES];
        int n = history_recent_durations(h, pname, machine, uid, ETA_SAMPLES, QUERY_BUDGET, v, NULL);
        if (n > 0)
                return eta_from_durations(v, (size_t) n, false, ret);
        if (n < 0) {
                history_writer_reader_failed(d->history, n);
                return n;
        }
        char *machines[ETA_SAMPLES] = {};
        n = history_recent_durations(h, pname, NULL, uid, ETA_SAMPLES, QUERY_BUDGET, v, machines);
        if (n < 0) {
                history_writer_reader_failed(d->history, n);
                return n;
        }
        double target = machine_speed(d, machine);
        for (int i = 0; i < n; i++) {
                v[i] = v[i] * machine_speed(d, machines[i]) / target;
                free(machines[i]);
        }
        return n > 0 ? eta_from_durations(v, (size_t) n, true, ret) : -ENODATA;
}

int estimates_lookup(Daemon *d, const char *pname, const char *machine, int64_t uid, BuildEta *ret) {
        Estimates *e = d->estimates;
        uint64_t gen = history_writer_generation(d->history);
        _cleanup_free_ char *key = NULL;
        if (uid < 0)
                uid = -1;
        if (asprintf(&key, "%s\n%s\n%" PRIi64, pname, machine, uid) < 0)
                return -ENOMEM;

        Entry *x = NULL;
        HASH_FIND_STR(e->entries, key, x);
        if (x && x->generation == gen) {
                *ret = x->eta;
                return x->eta.samples ? 0 : -ENODATA;
        }
        BuildEta eta = {};
        int r = query(d, pname, machine, uid, &eta);
        if (r == -ETIME)
                log_debug("ETA lookup for %s cut short after %u ms", pname,
                          (unsigned) (QUERY_BUDGET / USEC_PER_MSEC));
        else if (r < 0 && r != -ENODATA)
                return r; /* unavailable: not cached, asked again next time */
        if (!x) {
                if (e->n >= CACHE_MAX)
                        entry_free(e, e->entries); /* the oldest inserted */
                x = calloc(1, sizeof(*x));
                if (!x)
                        return -ENOMEM;
                x->key = TAKE_PTR(key);
                HASH_ADD_KEYPTR(hh, e->entries, x->key, strlen(x->key), x);
                e->n++;
        }
        x->eta = eta;
        x->generation = gen;
        *ret = eta;
        return eta.samples ? 0 : -ENODATA;
}

/* Gives b its ETA now (samples 0 when there is no history). */
static void annotate(Daemon *d, Build *b) {
        _cleanup_free_ char *pname = drv_name_pname(b->name);
        if (!pname)
                return;
        BuildEta eta = {};
        /* Trusted rows, and the requester's own untrusted ones (docs/protocol.md "Trust
         * model"): another user's fake builds never move this estimate. */
        if (estimates_lookup(d, pname, b->machine ? b->machine : "", b->requester.uid, &eta) < 0)
                eta = (BuildEta){};
        eta.looked_up = true;
        model_build_set_eta(d->model, b, &eta);
}

static int on_defer(sd_event_source *s, void *userdata) {
        Daemon *d = userdata;
        Estimates *e = d->estimates;
        usec_t deadline = now_monotonic() + TURN_BUDGET;
        while (e->next_pending < e->n_pending) {
                Build *b = model_build_by_key(d->model, e->pending[e->next_pending++]);
                if (b && build_state_is_active(b->state) && !b->eta.looked_up)
                        annotate(d, b); /* reported changed: it was not looked up before */
                if (now_monotonic() >= deadline)
                        break;
        }
        if (e->next_pending < e->n_pending) {
                sd_event_source_set_enabled(e->defer, SD_EVENT_ONESHOT);
                return 0;
        }
        e->n_pending = e->next_pending = 0;
        /* Every queued build has its estimate: invocation ETAs can be computed. */
        graphs_estimates_ready(d);
        return 0;
}

static void on_changed_build(void *userdata, Build *b, unsigned kinds) {
        Daemon *d = userdata;
        Estimates *e = d->estimates;
        if (build_state_is_final(b->state))
                return;
        if (b->state != BUILD_QUEUED) {
                /* running: one lookup (usually cached); also on a change of machine */
                if (kinds & ((1u << CHANGE_NEW) | (1u << CHANGE_STARTED) | (1u << CHANGE_CHANGED)))
                        annotate(d, b);
                return;
        }
        if (!(kinds & (1u << CHANGE_NEW)) || b->eta.looked_up)
                return;
        if (e->n_pending == e->cap_pending) {
                size_t cap = e->cap_pending ? e->cap_pending * 2 : 256;
                uint64_t *p = realloc(e->pending, cap * sizeof(uint64_t));
                if (!p) {
                        annotate(d, b); /* no room to defer: now, once */
                        return;
                }
                e->pending = p;
                e->cap_pending = cap;
        }
        e->pending[e->n_pending++] = b->key;
        sd_event_source_set_enabled(e->defer, SD_EVENT_ONESHOT);
}

void estimates_update(Daemon *d) {
        if (d->estimates)
                model_visit_changed_builds(d->model, on_changed_build, d);
}
