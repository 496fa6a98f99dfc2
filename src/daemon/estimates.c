/* Cached ETA lookups over the history store, answered on a worker thread (see estimates.h). */
#include "daemon/estimates.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/graphs.h"
#include "daemon/history-writer.h"
#include "daemon/work-queue.h"
#include "shared/drv.h"
#include "shared/eta.h"
#include "shared/model-machines.h"

#define CACHE_MAX 4096 /* answers kept, and lookups waiting (each holds an entry) */
/* Queued builds ask at most this many lookups at once; the rest of a big plan waits for
 * answers, so its builds never find the cache full of questions. */
#define ASK_QUEUED_MAX 256
#define TURN_BUDGET    (2 * USEC_PER_MSEC)
/* One lookup is an index search (a few pages, test-history checks the plans); a cold cache
 * on a slow disk, or a database an older schema left without the index, takes longer, and
 * the lookups behind it wait. A lookup cut short leaves the build without an estimate until
 * new history rows come. */
#define LOOKUP_BUDGET (1 * USEC_PER_SEC)

typedef struct Entry {
        char *key; /* "pname\nmachine\nuid": an estimate is per requester (her own rows) */
        BuildEta eta;
        uint64_t generation; /* the history's when the lookup was asked */
        bool answered;       /* eta holds the answer for generation */
        bool asked;          /* a lookup is on its way */
        uint64_t *waiting;   /* keys of the builds that wait for the answer */
        size_t n_waiting, cap_waiting;
        UT_hash_handle hh;
} Entry;

/* A lookup, on the worker thread: the rows' durations; the loop makes the estimate (machine
 * speeds are the model's). */
typedef struct Lookup {
        WorkItem item; /* first: the queue hands items back */
        char *key;     /* the entry's */
        char *pname, *machine;
        int64_t uid;
        int r; /* samples found, or -errno */
        bool other_machines;
        double v[ETA_SAMPLES];
        char *machines[ETA_SAMPLES]; /* with other_machines */
} Lookup;

struct Estimates {
        Daemon *d;
        Entry *entries;
        uint32_t n, n_asked;
        uint64_t asked;    /* lookups queued, ever */
        uint64_t *pending; /* keys of queued builds waiting for a lookup */
        size_t n_pending, cap_pending, next_pending;
        sd_event_source *defer;
        WorkQueue *queue;

        /* worker thread only (and estimates_free once it ended) */
        HistoryReader reader;
};

static int on_defer(sd_event_source *s, void *userdata);

int estimates_new(Daemon *d, Estimates **ret) {
        Estimates *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->d = d;
        int r = sd_event_add_defer(d->event, &e->defer, on_defer, d);
        if (r >= 0)
                r = sd_event_source_set_enabled(e->defer, SD_EVENT_OFF);
        if (r >= 0)
                r = work_queue_new(d->event, "ETA lookup", CACHE_MAX, e, &e->queue);
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
        free(x->waiting);
        free(x->key);
        free(x);
}

Estimates *estimates_free(Estimates *e) {
        if (!e)
                return NULL;
        work_queue_free(e->queue); /* first: the thread stops using the reader */
        history_reader_close(&e->reader);
        Entry *x, *tmp;
        HASH_ITER(hh, e->entries, x, tmp)
                entry_free(e, x);
        sd_event_source_disable_unref(e->defer);
        free(e->pending);
        free(e);
        return NULL;
}

/* ---- worker thread ---- */

static void lookup_free(Lookup *l) {
        if (!l)
                return;
        for (size_t i = 0; i < ELEMENTSOF(l->machines); i++)
                free(l->machines[i]);
        free(l->key);
        free(l->pname);
        free(l->machine);
        free(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Lookup *, lookup_free);

static void run_lookup(WorkItem *item, void *userdata) {
        Estimates *e = userdata;
        Lookup *l = (Lookup *) item;
        _cleanup_free_ char *error = NULL;
        History *h = history_reader_get(e->d->history, &e->reader, &error);
        if (!h) {
                l->r = -ENOTCONN;
                return;
        }
        l->r = history_recent_durations(h, l->pname, l->machine, l->uid, ETA_SAMPLES, LOOKUP_BUDGET, l->v,
                                        NULL);
        if (l->r == 0) {
                l->other_machines = true;
                l->r = history_recent_durations(h, l->pname, NULL, l->uid, ETA_SAMPLES, LOOKUP_BUDGET, l->v,
                                                l->machines);
        }
        if (l->r < 0 && l->r != -ETIME && l->r != -ENOMEM)
                history_reader_close(&e->reader); /* the file may have changed: open afresh */
}

/* ---- event loop ---- */

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

/* The estimate a lookup's rows give: 0, -ENODATA (no rows, or a lookup cut short), or
 * another -errno when history could not be read (nothing learned). */
static int lookup_estimate(Daemon *d, Lookup *l, BuildEta *ret) {
        if (l->r == -ETIME) {
                log_debug("ETA lookup for %s cut short after %u ms", l->pname,
                          (unsigned) (LOOKUP_BUDGET / USEC_PER_MSEC));
                return -ENODATA;
        }
        if (l->r <= 0)
                return l->r == 0 ? -ENODATA : l->r;
        if (l->other_machines) {
                double target = machine_speed(d, l->machine);
                for (int i = 0; i < l->r; i++)
                        l->v[i] = l->v[i] * machine_speed(d, l->machines[i]) / target;
        }
        return eta_from_durations(l->v, (size_t) l->r, l->other_machines, ret);
}

/* The cache key of b's estimate ("pname\nmachine\nuid"), or NULL without a pname. */
static char *build_key(const Build *b) {
        _cleanup_free_ char *pname = drv_name_pname(b->name);
        char *key;
        /* The uid comes last and holds no newline: two uids never share a key. */
        if (!pname || asprintf(&key, "%s\n%s\n%" PRIi64, pname, b->machine ? b->machine : "",
                               b->requester.uid < 0 ? (int64_t) -1 : b->requester.uid) < 0)
                return NULL;
        return key;
}

static bool estimates_settled(Estimates *e) {
        return e->n_asked == 0 && e->next_pending >= e->n_pending;
}

static void lookup_done(WorkItem *item, void *userdata) {
        Estimates *e = userdata;
        Daemon *d = e->d;
        Lookup *l = (Lookup *) item;
        Entry *x = NULL;
        HASH_FIND_STR(e->entries, l->key, x);
        assert(x && x->asked);
        x->asked = false;
        e->n_asked--;

        BuildEta eta = {};
        int r = lookup_estimate(d, l, &eta);
        /* Unavailable: nothing cached, asked again when a build needs it. */
        x->answered = r >= 0 || r == -ENODATA;
        x->eta = eta;
        eta.looked_up = true;
        for (size_t i = 0; i < x->n_waiting; i++) {
                Build *b = model_build_by_key(d->model, x->waiting[i]);
                if (!b || !build_state_is_active(b->state) || (!x->answered && b->eta.looked_up))
                        continue;
                _cleanup_free_ char *key = build_key(b);
                if (key && strcmp(key, x->key) == 0) /* not if its machine changed meanwhile */
                        model_build_set_eta(d->model, b, &eta);
        }
        x->n_waiting = 0;
        if (!x->answered)
                entry_free(e, x);
        lookup_free(l);
        if (e->next_pending < e->n_pending)
                sd_event_source_set_enabled(e->defer, SD_EVENT_ONESHOT);
        else if (estimates_settled(e))
                /* Every queued build has its estimate: invocation ETAs can be computed. */
                graphs_estimates_ready(d);
}

static void lookup_release(WorkItem *item) {
        lookup_free((Lookup *) item);
}

/* Queues the lookup of x, the entry of b's key. */
static int ask(Estimates *e, Entry *x, const Build *b, uint64_t generation) {
        _cleanup_(lookup_freep) Lookup *l = calloc(1, sizeof(*l));
        if (!l || !(l->key = strdup(x->key)) || !(l->pname = drv_name_pname(b->name)) ||
            !(l->machine = strdup(b->machine ? b->machine : "")))
                return -ENOMEM;
        l->uid = b->requester.uid < 0 ? -1 : b->requester.uid;
        l->item = (WorkItem){.run = run_lookup, .done = lookup_done, .release = lookup_release};
        int r = work_queue_submit(e->queue, &l->item);
        if (r < 0)
                return r;
        TAKE_PTR(l);
        x->asked = true;
        x->answered = false;
        x->generation = generation;
        e->n_asked++;
        e->asked++;
        return 0;
}

/* The entry for key, made (the oldest answer evicted when the cache is full), or NULL. */
static Entry *entry_get(Estimates *e, char **key) {
        Entry *x = NULL;
        HASH_FIND_STR(e->entries, *key, x);
        if (x)
                return x;
        if (e->n >= CACHE_MAX) {
                Entry *old = e->entries; /* the oldest inserted that no build waits for */
                while (old && old->asked)
                        old = old->hh.next;
                if (!old)
                        return NULL;
                entry_free(e, old);
        }
        x = calloc(1, sizeof(*x));
        if (!x)
                return NULL;
        x->key = TAKE_PTR(*key);
        HASH_ADD_KEYPTR(hh, e->entries, x->key, strlen(x->key), x);
        e->n++;
        return x;
}

static int entry_wait(Entry *x, uint64_t build) {
        for (size_t i = 0; i < x->n_waiting; i++)
                if (x->waiting[i] == build)
                        return 0;
        if (x->n_waiting == x->cap_waiting) {
                size_t cap = x->cap_waiting ? x->cap_waiting * 2 : 4;
                uint64_t *p = realloc(x->waiting, cap * sizeof(uint64_t));
                if (!p)
                        return -ENOMEM;
                x->waiting = p;
                x->cap_waiting = cap;
        }
        x->waiting[x->n_waiting++] = build;
        return 0;
}

/* Gives b its ETA now when the answer is known (samples 0 when there is no history), else
 * asks for it (once per key) and b gets it with the answer. */
static void annotate(Daemon *d, Build *b) {
        Estimates *e = d->estimates;
        uint64_t generation = history_writer_generation(d->history);
        _cleanup_free_ char *key = build_key(b);
        if (!key)
                return;
        Entry *x = NULL;
        if (history_writer_path(d->history))
                x = entry_get(e, &key);
        if (x && x->answered && x->generation == generation) {
                BuildEta eta = x->eta;
                eta.looked_up = true;
                model_build_set_eta(d->model, b, &eta);
                return;
        }
        /* Trusted rows, and the requester's own untrusted ones (docs/protocol.md "Trust
         * model"): another user's fake builds never move this estimate. */
        if (x && entry_wait(x, b->key) >= 0 && (x->asked || ask(e, x, b, generation) >= 0))
                return;
        if (x && x->n_waiting > 0 && x->waiting[x->n_waiting - 1] == b->key)
                x->n_waiting--;
        /* No history, or no room to ask: no estimate, once. */
        if (!b->eta.looked_up)
                model_build_set_eta(d->model, b, &(BuildEta){.looked_up = true});
}

static int on_defer(sd_event_source *s, void *userdata) {
        Daemon *d = userdata;
        Estimates *e = d->estimates;
        usec_t deadline = now_monotonic() + TURN_BUDGET;
        while (e->next_pending < e->n_pending) {
                if (e->n_asked >= ASK_QUEUED_MAX)
                        return 0; /* lookup_done() turns the source on again */
                Build *b = model_build_by_key(d->model, e->pending[e->next_pending++]);
                if (b && build_state_is_active(b->state) && !b->eta.looked_up)
                        annotate(d, b); /* reported changed once it has its estimate */
                if (now_monotonic() >= deadline)
                        break;
        }
        if (e->next_pending < e->n_pending) {
                sd_event_source_set_enabled(e->defer, SD_EVENT_ONESHOT);
                return 0;
        }
        e->n_pending = e->next_pending = 0;
        if (estimates_settled(e))
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
                        annotate(d, b); /* no room to defer: now */
                        return;
                }
                e->pending = p;
                e->cap_pending = cap;
        }
        e->pending[e->n_pending++] = b->key;
        sd_event_source_set_enabled(e->defer, SD_EVENT_ONESHOT);
}

cJSON *estimates_status_json(Daemon *d) {
        Estimates *e = d->estimates;
        cJSON *o = cJSON_CreateObject();
        if (!o || !e)
                return o;
        WorkQueueStats ws;
        work_queue_stats(e->queue, &ws);
        cJSON_AddNumberToObject(o, "cached", e->n - e->n_asked);
        cJSON_AddNumberToObject(o, "asking", e->n_asked);
        cJSON_AddNumberToObject(o, "lookups", (double) e->asked);
        cJSON_AddNumberToObject(o, "longest_lookup_ms", (double) ws.max_run_usec / 1000.0);
        if (cJSON_GetArraySize(o) < 4) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

void estimates_update(Daemon *d) {
        if (d->estimates)
                model_visit_changed_builds(d->model, on_changed_build, d);
}
