/* Cached ETA lookups over the history store (see estimates.h). */
#include "daemon/estimates.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/history-writer.h"
#include "shared/drv.h"
#include "shared/eta.h"

#define CACHE_MAX 4096

typedef struct Entry {
        char *key; /* pname '\0' machine, as one string "pname\nmachine" */
        BuildEta eta;
        uint64_t generation;
        UT_hash_handle hh;
} Entry;

struct Estimates {
        Entry *entries;
        uint32_t n;
};

int estimates_new(Estimates **ret) {
        Estimates *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
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
        free(e);
        return NULL;
}

/* Remote machines' speed factors come from the machines file (remote-builder work); until
 * that is known here every machine counts as speed 1, and durations from other machines are
 * used as they are. */
static double machine_speed(const char *machine) {
        return 1.0;
}

static int query(Daemon *d, const char *pname, const char *machine, BuildEta *ret) {
        const char *error = NULL;
        History *h = history_writer_reader(d->history, &error);
        if (!h)
                return -ENOTCONN;
        double v[ETA_SAMPLES];
        int n = history_recent_durations(h, pname, machine, ETA_SAMPLES, v, NULL);
        if (n > 0)
                return eta_from_durations(v, (size_t) n, false, ret);
        if (n < 0) {
                history_writer_reader_failed(d->history, n);
                return n;
        }
        char *machines[ETA_SAMPLES] = {};
        n = history_recent_durations(h, pname, NULL, ETA_SAMPLES, v, machines);
        if (n < 0) {
                history_writer_reader_failed(d->history, n);
                return n;
        }
        double target = machine_speed(machine);
        for (int i = 0; i < n; i++) {
                v[i] = v[i] * machine_speed(machines[i] ? machines[i] : "") / target;
                free(machines[i]);
        }
        return n > 0 ? eta_from_durations(v, (size_t) n, true, ret) : -ENODATA;
}

int estimates_lookup(Daemon *d, const char *pname, const char *machine, BuildEta *ret) {
        Estimates *e = d->estimates;
        uint64_t gen = history_writer_generation(d->history);
        _cleanup_free_ char *key = NULL;
        if (asprintf(&key, "%s\n%s", pname, machine) < 0)
                return -ENOMEM;

        Entry *x = NULL;
        HASH_FIND_STR(e->entries, key, x);
        if (x && x->generation == gen) {
                *ret = x->eta;
                return x->eta.samples ? 0 : -ENODATA;
        }
        BuildEta eta = {};
        int r = query(d, pname, machine, &eta);
        if (r < 0 && r != -ENODATA)
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

void estimates_annotate(Daemon *d, Build *b) {
        _cleanup_free_ char *pname = drv_name_pname(b->name);
        if (!pname)
                return;
        BuildEta eta = {};
        if (estimates_lookup(d, pname, b->machine ? b->machine : "", &eta) < 0)
                eta = (BuildEta){};
        b->eta = eta;
}
