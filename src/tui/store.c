/* The TUI's model: builds and invocations by key, updated from deltas. */
#include "tui/store.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/json-read.h"

const char *store_state_name(BuildState s) {
        return build_state_to_string(s) ?: "?";
}

static unsigned *store_count(Store *s, BuildState st) {
        return &s->counts[st >= 0 && st < _BUILD_STATE_MAX ? st : _BUILD_STATE_MAX];
}

void store_init(Store *s, unsigned host) {
        *s = (Store){.host = host};
}

static void store_build_free(StoreBuild *b) {
        cJSON_Delete(b->json);
        free(b);
}

StoreBuild *store_build(Store *s, uint64_t key) {
        StoreBuild *b;
        HASH_FIND(hh, s->builds, &key, sizeof(key), b);
        return b;
}

StoreInvocation *store_invocation(Store *s, uint64_t id) {
        StoreInvocation *i;
        HASH_FIND(hh, s->invocations, &id, sizeof(id), i);
        return i;
}

static void store_decode_usage(StoreBuild *b) {
        const cJSON *u = json_obj(b->json, "usage");
        b->has_usage = u != NULL;
        b->cpu_percent = json_num(u, "cpu_percent", -1);
        b->mem_current = json_num(u, "mem_current", -1);
        b->mem_peak = json_num(u, "mem_peak", -1);
        b->cpu_limit = json_num(u, "cpu_limit", -1);
        b->mem_limit = json_num(u, "mem_limit", -1);
        b->nice = json_int(u, "nice", -20, 19, 0);
        /* A remote build's own figures come from its machine's daemon: the local side is
         * only the build hook and its ssh. */
        const cJSON *r = json_obj(b->json, "remote");
        b->remote = json_has_num(r, "cpu_percent");
        if (b->remote) {
                b->has_usage = true;
                b->cpu_percent = json_num(r, "cpu_percent", -1);
                b->mem_current = json_num(r, "mem_current", -1);
                b->mem_peak = json_num(r, "mem_peak", -1);
        }
}

static void store_decode_build(StoreBuild *b, double now) {
        const cJSON *o = b->json;
        b->name = json_str(o, "name") ?: "?";
        b->drv = json_str(o, "drv") ?: "";
        b->phase = json_str(json_obj(o, "remote"), "phase") ?: json_str(o, "phase");
        b->machine = json_str(o, "machine") ?: "";
        const cJSON *req = json_obj(o, "requester");
        b->user = json_str(req, "user");
        b->cmdline = json_str(req, "cmdline");
        b->failure_kind = json_str(json_obj(o, "failure"), "kind");
        const char *state = json_str(o, "state");
        b->state = state ? build_state_from_string(state) : BUILD_UNKNOWN;
        b->invocation = json_u64(o, "invocation", 0);
        b->queued = json_num(o, "queued", -1);
        b->started = json_num(o, "started", -1);
        b->finished = json_num(o, "finished", -1);
        b->duration = json_num(o, "duration", -1);
        b->received = now;
        const cJSON *eta = json_obj(o, "eta");
        b->eta_expected = json_num(eta, "expected", -1);
        /* Few or scattered samples: the ETA is shown as a guess. */
        b->eta_weak = b->eta_expected >= 0 && strcmp(json_str(eta, "confidence") ?: "low", "low") == 0;
        store_decode_usage(b);
}

static bool str_differ(const char *a, const char *b) {
        return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Whether a build's new state may add, remove or move its row (Store.layout): what rows are
 * grouped, ordered and filtered by. */
static bool build_moves_rows(const StoreBuild *old, const StoreBuild *b) {
        return old->state != b->state || old->invocation != b->invocation ||
               str_differ(old->name, b->name) || str_differ(old->drv, b->drv) ||
               str_differ(old->machine, b->machine) || str_differ(old->user, b->user);
}

static int build_key_order(const StoreBuild *a, const StoreBuild *b) {
        return a->key < b->key ? -1 : a->key > b->key;
}

/* Puts the build object copy in the store: it is taken (kept, or freed). */
static int store_put_build(Store *s, cJSON *copy, double now) {
        uint64_t key = json_u64(copy, "key", UINT64_MAX);
        if (key == UINT64_MAX) {
                cJSON_Delete(copy);
                return 0; /* no usable key: nothing to file it under */
        }
        StoreBuild *b = store_build(s, key);
        if (!b) {
                b = calloc(1, sizeof(StoreBuild));
                if (!b) {
                        cJSON_Delete(copy);
                        return -ENOMEM;
                }
                b->key = key;
                b->host = s->host;
                /* Kept in key (arrival) order, so that a list in that order needs no sort: a
                 * new key is nearly always the largest, and only then appended at once. */
                if (!s->builds || key > s->max_key)
                        HASH_ADD(hh, s->builds, key, sizeof(b->key), b);
                else
                        HASH_ADD_INORDER(hh, s->builds, key, sizeof(b->key), b, build_key_order);
                s->max_key = MAX(s->max_key, key);
        } else
                /* A processes event may have given fresher usage than the build object. */
                (*store_count(s, b->state))--;
        StoreBuild old = *b; /* its strings point into old.json, freed below */
        b->json = copy;
        b->stale_since = 0; /* the daemon's word again */
        store_decode_build(b, now);
        s->seen_phase |= b->phase != NULL;
        s->seen_machine |= *b->machine != 0;
        (*store_count(s, b->state))++;
        if (!old.json || build_moves_rows(&old, b))
                s->layout++;
        cJSON_Delete(old.json);
        s->generation++;
        return 1;
}

/* The same for an invocation object. */
static int store_put_invocation(Store *s, cJSON *copy) {
        uint64_t id = json_u64(copy, "id", UINT64_MAX);
        if (id == UINT64_MAX) {
                cJSON_Delete(copy);
                return 0;
        }
        StoreInvocation *i = store_invocation(s, id);
        if (!i) {
                i = calloc(1, sizeof(StoreInvocation));
                if (!i) {
                        cJSON_Delete(copy);
                        return -ENOMEM;
                }
                i->id = id;
                HASH_ADD(hh, s->invocations, id, sizeof(i->id), i);
                s->layout++;
        }
        /* Ending (or its end time) decides whether it stays in the tree; progress does not. */
        if (i->done != (strcmp(json_str(copy, "state") ?: "running", "running") != 0) ||
            json_num(i->json, "finished", -1) != json_num(copy, "finished", -1))
                s->layout++;
        cJSON_Delete(i->json);
        i->json = copy;
        const cJSON *req = json_obj(copy, "requester");
        i->user = json_str(req, "user");
        i->cmdline = json_str(req, "cmdline");
        /* Anything but running has ended: "done", "failed", or a state a newer daemon adds. */
        i->done = strcmp(json_str(copy, "state") ?: "running", "running") != 0;
        i->error = json_str(copy, "error");
        i->started = json_num(copy, "started", -1);
        const cJSON *p = json_obj(copy, "progress");
        i->progress_done = json_num(p, "done", 0);
        i->progress_expected = json_num(p, "expected", 0);
        i->progress_running = json_num(p, "running", 0);
        i->progress_failed = json_num(p, "failed", 0);
        const cJSON *c = json_obj(copy, "counts");
        i->has_counts = c != NULL;
        i->n_builds = json_num(c, "builds", 0);
        i->n_done = json_num(c, "done", 0);
        i->n_queued = json_num(c, "queued", 0);
        i->n_running = json_num(c, "running", 0) + json_num(c, "finishing", 0);
        i->n_frozen = json_num(c, "frozen", 0);
        i->n_failed = json_num(c, "failed", 0);
        i->n_dependency = json_num(c, "dependency", 0);
        i->n_cancelled = json_num(c, "cancelled", 0);
        i->n_not_started = json_num(c, "not_started", 0);
        i->n_killed = json_num(c, "killed", 0);
        i->n_lost = json_num(c, "lost", 0);
        s->generation++;
        return 1;
}

/* The object member name of ev, detached from it (an event's parts are kept as they are: no
 * copy), or NULL. */
static cJSON *take_object(cJSON *ev, const char *name) {
        return json_obj(ev, name) ? cJSON_DetachItemFromObjectCaseSensitive(ev, name) : NULL;
}

/* A processes event: the build's current usage (build events come only on state changes). */
static int store_put_usage(Store *s, cJSON *ev) {
        StoreBuild *b = store_build(s, json_u64(ev, "build", UINT64_MAX));
        cJSON *copy = b ? take_object(ev, "usage") : NULL;
        if (!copy)
                return 0;
        if (cJSON_GetObjectItemCaseSensitive(b->json, "usage"))
                cJSON_ReplaceItemInObjectCaseSensitive(b->json, "usage", copy);
        else
                cJSON_AddItemToObject(b->json, "usage", copy);
        store_decode_usage(b);
        s->generation++;
        return 1;
}

int store_apply_event(Store *s, cJSON *ev, double now) {
        const char *name = json_str(ev, "event");
        if (!name)
                return 0;
        s->events++;
        cJSON *o;
        if (strcmp(name, "build") == 0)
                return (o = take_object(ev, "build")) ? store_put_build(s, o, now) : 0;
        if (strcmp(name, "invocation") == 0)
                return (o = take_object(ev, "invocation")) ? store_put_invocation(s, o) : 0;
        if (strcmp(name, "processes") == 0)
                return store_put_usage(s, ev);
        return 0;
}

static void store_clear_builds(Store *s) {
        StoreBuild *b, *tb;
        HASH_ITER(hh, s->builds, b, tb) {
                HASH_DEL(s->builds, b);
                store_build_free(b);
        }
        memset(s->counts, 0, sizeof(s->counts));
        s->max_key = 0;
        s->generation++;
        s->layout++;
}

static void store_clear_invocations(Store *s) {
        StoreInvocation *i, *ti;
        HASH_ITER(hh, s->invocations, i, ti) {
                HASH_DEL(s->invocations, i);
                cJSON_Delete(i->json);
                free(i);
        }
        s->generation++;
        s->layout++;
}

void store_clear(Store *s) {
        store_clear_builds(s);
        store_clear_invocations(s);
        s->stale_since = 0;
}

int store_load_builds(Store *s, const cJSON *result, double now) {
        store_clear_builds(s);
        s->stale_since = 0;
        const cJSON *o;
        cJSON_ArrayForEach(o, json_arr(result, "builds")) {
                cJSON *copy = cJSON_Duplicate(o, /* recurse= */ true);
                if (!copy)
                        return -ENOMEM;
                int r = store_put_build(s, copy, now);
                if (r < 0)
                        return r;
        }
        return 0;
}

int store_load_invocations(Store *s, const cJSON *result) {
        /* A restarted daemon numbers invocations anew: the last ones' leftovers go. */
        store_clear_invocations(s);
        const cJSON *o;
        cJSON_ArrayForEach(o, json_arr(result, "invocations")) {
                cJSON *copy = cJSON_Duplicate(o, /* recurse= */ true);
                if (!copy)
                        return -ENOMEM;
                int r = store_put_invocation(s, copy);
                if (r < 0)
                        return r;
        }
        return 0;
}

void store_mark_stale(Store *s, double now) {
        if (s->stale_since <= 0)
                s->stale_since = now;
        /* Builds an event refreshed since an earlier loss stop now; the others stopped then. */
        StoreBuild *b, *tb;
        HASH_ITER(hh, s->builds, b, tb)
                if (b->stale_since <= 0)
                        b->stale_since = now;
        s->generation++;
}

double store_build_elapsed(const StoreBuild *b, double now) {
        if (b->stale_since > 0 && now > b->stale_since)
                now = b->stale_since;
        if (b->started <= 0)
                return -1;
        if (!build_state_is_active(b->state))
                return b->duration >= 0 ? b->duration : (b->finished > 0 ? b->finished - b->started : -1);
        /* Frozen time is not building time, nor the time after its processes ended. */
        bool ticking = b->state == BUILD_RUNNING || b->state == BUILD_QUEUED;
        if (b->duration >= 0)
                return b->duration + (ticking ? now - b->received : 0);
        return now - b->started;
}

double store_build_remaining(const StoreBuild *b, double now) {
        if (b->eta_expected < 0 || !build_state_is_active(b->state) || b->state == BUILD_QUEUED)
                return NAN;
        double e = store_build_elapsed(b, now);
        return b->eta_expected - (e < 0 ? 0 : e); /* < 0: over its expected time by that much */
}
