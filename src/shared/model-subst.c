/* Substitutions: a `substitute` activity (108, fields [storePath, substituterUri]) is one
 * store path fetched instead of built. When it stops, the path being in the store tells
 * success, as for builds; the ended substitution is handed to views once (history rows) and
 * freed. Bounded: views drain the list every loop iteration, and at most
 * SUBST_PENDING_MAX wait in between (the oldest beyond that are dropped). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "shared/model-internal.h"
#include "shared/storepath.h"

#define SUBST_PENDING_MAX 10000

int subst_start(Model *m, Activity *a, const NixRecord *rec, usec_t now) {
        const char *path = NULL, *uri = NULL;
        if (nix_record_field_str(rec, 0, &path) < 0 || !path[0])
                return 0; /* nothing to record; not an error in the stream */
        (void) nix_record_field_str(rec, 1, &uri);
        a->path = strdup(path);
        a->uri = strdup(uri ? uri : "");
        if (!a->path || !a->uri) {
                subst_activity_done(a);
                return -ENOMEM;
        }
        a->started = now;
        return 0;
}

void subst_activity_done(Activity *a) {
        free(a->path);
        free(a->uri);
        a->path = a->uri = NULL;
}

static Substitution *subst_free(Substitution *x) {
        Substitution *next = x->next;
        free(x->path);
        free(x->name);
        free(x->uri);
        requester_done(&x->requester);
        free(x);
        return next;
}

void subst_stop(Model *m, Source *s, Activity *a, usec_t now) {
        if (!a->path)
                return;
        Substitution *x = calloc(1, sizeof(*x));
        if (!x)
                return;
        x->path = TAKE_PTR(a->path);
        x->uri = TAKE_PTR(a->uri);
        if (store_path_name(m->config.store_dir, x->path, &x->name) < 0) {
                const char *slash = strrchr(x->path, '/');
                x->name = strdup(slash ? slash + 1 : x->path);
        }
        x->started = a->started;
        x->finished = now;
        x->succeeded = store_path_valid(m->config.store_dir, x->path) && access(x->path, F_OK) == 0;
        x->invocation = s->invocation.id;
        x->untrusted = !s->trusted;
        if (!x->name || requester_copy(&s->invocation.requester, &x->requester) < 0) {
                x->requester = (Requester){.uid = -1, .pid = -1};
                subst_free(x);
                return;
        }
        if (m->n_substitutions >= SUBST_PENDING_MAX) {
                m->substitutions = subst_free(m->substitutions);
                if (!m->substitutions)
                        m->substitutions_tail = NULL;
                m->n_substitutions--;
        }
        if (m->substitutions_tail)
                *m->substitutions_tail = x;
        else
                m->substitutions = x;
        m->substitutions_tail = &x->next;
        m->n_substitutions++;
}

void subst_drain(Model *m, const ModelChangeHandler *h, void *userdata) {
        Substitution *x = TAKE_PTR(m->substitutions);
        m->substitutions_tail = NULL;
        m->n_substitutions = 0;
        while (x) {
                if (h && h->substitution)
                        h->substitution(userdata, x);
                x = subst_free(x);
        }
}
