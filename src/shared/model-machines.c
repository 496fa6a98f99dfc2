/* Remote builders in the model: configured and discovered machines, builds dispatched to
 * them, builds waiting for a free slot (activity 111), copies to and from them. */
#include "shared/model-machines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/model-internal.h"
#include "shared/storepath.h"

static void machine_free(ModelMachine *mm) {
        if (!mm)
                return;
        if (mm->configured)
                machine_spec_done(&mm->spec);
        free(mm->key);
        free(mm->uri);
        free(mm);
}

static ModelMachine *machine_by_key(Model *m, const char *key) {
        ModelMachine *mm = NULL;
        HASH_FIND(hh, m->machines, key, strlen(key), mm);
        return mm;
}

ModelMachine *model_machine_find(Model *m, const char *uri) {
        _cleanup_free_ char *key = NULL;
        if (machine_uri_key(uri, &key) < 0)
                return NULL;
        return machine_by_key(m, key);
}

/* The machine uri names, created as a discovered machine when unknown (bounded). */
static ModelMachine *machine_get(Model *m, const char *uri) {
        _cleanup_free_ char *key = NULL;
        if (!uri[0] || machine_uri_key(uri, &key) < 0)
                return NULL;
        ModelMachine *mm = machine_by_key(m, key);
        if (mm || m->n_discovered_machines >= MODEL_MACHINES_MAX_DISCOVERED)
                return mm;
        mm = calloc(1, sizeof(*mm));
        if (!mm || !(mm->uri = strdup(uri))) {
                free(mm);
                return NULL;
        }
        mm->key = TAKE_PTR(key);
        HASH_ADD_KEYPTR(hh, m->machines, mm->key, strlen(mm->key), mm);
        m->n_discovered_machines++;
        return mm;
}

int model_set_machines(Model *m, const MachineList *l) {
        /* Take every machine out of the table, then put them back: configured ones in the
         * order of the configuration, then the rest, so iteration follows that order. */
        ModelMachine *old = m->machines, *mm, *tmp;
        m->machines = NULL;
        m->n_discovered_machines = 0;

        int r = 0;
        for (size_t i = 0; i < l->n_machines && r == 0; i++) {
                const MachineSpec *spec = &l->machines[i];
                _cleanup_free_ char *key = NULL;
                if ((r = machine_uri_key(spec->uri, &key)) < 0)
                        break;
                if (machine_by_key(m, key))
                        continue; /* the same machine twice: the first entry counts */
                MachineSpec copy;
                char *uri = strdup(spec->uri);
                if (!uri || machine_spec_copy(spec, &copy) < 0) {
                        free(uri);
                        r = -ENOMEM;
                        break;
                }
                mm = NULL;
                HASH_FIND(hh, old, key, strlen(key), mm);
                if (mm)
                        HASH_DEL(old, mm);
                else if (!(mm = calloc(1, sizeof(*mm)))) {
                        free(uri);
                        machine_spec_done(&copy);
                        r = -ENOMEM;
                        break;
                } else
                        mm->key = TAKE_PTR(key);
                if (mm->configured)
                        machine_spec_done(&mm->spec);
                free(mm->uri);
                mm->uri = uri;
                mm->spec = copy;
                mm->configured = true;
                HASH_ADD_KEYPTR(hh, m->machines, mm->key, strlen(mm->key), mm);
        }
        /* What is no longer configured stays, as discovered, while activities refer to it
         * or while builds that ran there may still be shown; the rest goes. */
        HASH_ITER(hh, old, mm, tmp) {
                HASH_DEL(old, mm);
                if (mm->configured) {
                        machine_spec_done(&mm->spec);
                        mm->configured = false;
                }
                bool keep = mm->refs > 0 || (mm->builds_total > 0 &&
                                             m->n_discovered_machines < MODEL_MACHINES_MAX_DISCOVERED);
                if (!keep) {
                        machine_free(mm);
                        continue;
                }
                HASH_ADD_KEYPTR(hh, m->machines, mm->key, strlen(mm->key), mm);
                m->n_discovered_machines++;
        }
        return r;
}

ModelMachine *model_machines_first(Model *m) {
        return m->machines;
}

ModelMachine *model_machine_next(ModelMachine *mm) {
        return mm->hh.next;
}

bool model_machine_has_build(const ModelMachine *mm, const Build *b) {
        if (!b->machine || !b->machine[0])
                return false;
        _cleanup_free_ char *key = NULL;
        return machine_uri_key(b->machine, &key) >= 0 && strcmp(key, mm->key) == 0;
}

bool build_waiting_for_machine(const Build *b) {
        return b->state == BUILD_QUEUED && b->machine_waits > 0;
}

bool model_machine_could_take(const ModelMachine *mm, const Build *b) {
        if (!build_waiting_for_machine(b))
                return false;
        if (!mm->configured || !b->system)
                return true;
        for (size_t i = 0; i < mm->spec.n_systems; i++)
                if (strcmp(mm->spec.systems[i], b->system) == 0)
                        return true;
        return false;
}

/* "copying dependencies to '<uri>'" / "copying outputs from '<uri>'": the URI, or NULL. */
static char *copy_text_uri(const char *text, int *ret_dir) {
        const char *p = startswith(text, "copying dependencies to '");
        int dir = 1;
        if (!p) {
                p = startswith(text, "copying outputs from '");
                dir = -1;
        }
        if (!p)
                return NULL;
        const char *end = strrchr(p, '\'');
        if (!end || end == p)
                return NULL;
        *ret_dir = dir;
        return strndup(p, (size_t) (end - p));
}

bool build_waiting_for_lock(const Build *b) {
        return b->state == BUILD_QUEUED && b->lock_waits > 0;
}

/* Whether output path (its base name "<hash>-<name>") may be one of b's: known outputs are
 * compared, else the name ("<drv name>" for out, "<drv name>-<output>" for the others). */
static bool build_may_output(const Build *b, const char *path, const char *name, size_t len) {
        if (b->outputs_read && b->n_outputs > 0) {
                for (int i = 0; i < b->n_outputs; i++)
                        if (strlen(b->outputs[i].path) == (size_t) (name - path) + len &&
                            strncmp(b->outputs[i].path, path, (size_t) (name - path) + len) == 0)
                                return true;
                return false;
        }
        size_t n = strlen(b->name);
        return len >= n && strncmp(name, b->name, n) == 0 && (len == n || name[n] == '-');
}

static void lock_wait_mark(Model *m, Activity *a, Build *b) {
        b->lock_waits++;
        b->lock_waited = true;
        a->waiting_key = b->key;
        a->lock_wait = true;
        build_mark(m, b, CHANGE_CHANGED);
}

/* The invocation's build of drv not ended yet, else a new queued one (NULL: out of memory). A
 * build that ended is built again (e.g. --check): a new build. */
static Build *queued_build(Model *m, Invocation *inv, const char *drv, usec_t now) {
        Build *b = invocation_find_build(inv, drv);
        if (b && !build_state_is_final(b->state))
                return b;
        return build_new(m, inv, drv, BUILD_QUEUED, now);
}

/* Where a lock name of len bytes "<name>.drv.<output>" (a content-addressed output) ends its
 * derivation's name, else NULL. */
static const char *lock_name_drv_end(const char *name, size_t len) {
        for (size_t i = len; i > 4; i--) {
                const char *d = name + i - 5;
                if (memcmp(d, ".drv.", 5) == 0)
                        return i < len ? d + 4 : NULL;
        }
        return NULL;
}

/* Activity a of s waits for the lock on derivation drv's outputs: the invocation's build of it,
 * queued if not known yet, waits (nothing for a text that is not a derivation's path). */
static int lock_wait_on(Model *m, Source *s, Activity *a, const char *drv, usec_t now) {
        size_t n = strlen(drv);
        if (a->waiting_key || !store_path_valid(m->config.store_dir, drv) || n < 4 ||
            strcmp(drv + n - 4, ".drv") != 0)
                return 0;
        Build *b = queued_build(m, &s->invocation, drv, now);
        if (!b)
                return -ENOMEM;
        if (b->state == BUILD_QUEUED)
                lock_wait_mark(m, a, b);
        return 0;
}

/* "waiting for lock on '<output>'[, '<output>'…]" (docs/nix-internals.md §1, activity 111):
 * another process holds the lock on an output, building or substituting it. The text names
 * outputs, not the derivation: the invocation's build not started yet that may have the
 * first of them. Inside nix-daemon there is no plan: the caller asks Nix's database. A
 * content-addressed derivation's outputs have no path before they are built: Nix locks
 * "<drv path>.<output>" instead, which names the derivation itself. */
static int lock_wait_start(Model *m, Source *s, Activity *a, const NixRecord *rec, usec_t now) {
        const char *dir = m->config.store_dir, *p = strstr(rec->text, dir);
        size_t dlen = strlen(dir);
        if (!p || p[dlen] != '/')
                return 0;
        const char *base = p + dlen + 1;
        size_t blen = strcspn(base, "', \n");
        if (blen <= NIX_HASH_LEN + 1 || base[NIX_HASH_LEN] != '-')
                return 0;
        const char *name = base + NIX_HASH_LEN + 1;
        size_t len = blen - NIX_HASH_LEN - 1;
        const char *drv_end = lock_name_drv_end(name, len);
        if (drv_end) {
                _cleanup_free_ char *drv = strndup(p, (size_t) (drv_end - p));
                return drv ? lock_wait_on(m, s, a, drv, now) : -ENOMEM;
        }
        Build *b, *tmp, *found = NULL;
        /* The one whose name is the output's whole name ("out") wins over a prefix. */
        HASH_ITER(hh_drv, s->invocation.by_drv, b, tmp) {
                if (b->state != BUILD_QUEUED || !build_may_output(b, p, name, len))
                        continue;
                found = b;
                if (strlen(b->name) == len)
                        break;
        }
        if (found) {
                lock_wait_mark(m, a, found);
                return 0;
        }
        if (!m->config.lock_wait_unplanned)
                return 0;
        /* Only a store path by Nix's rules goes on: the text is the peer's. */
        _cleanup_free_ char *output = strndup(p, dlen + 1 + blen);
        if (!output)
                return -ENOMEM;
        if (store_path_valid(dir, output))
                m->config.lock_wait_unplanned(m->config.lock_wait_userdata, s->id, a->id, output);
        return 0;
}

int model_lock_wait_found(Model *m, uint64_t source_id, uint64_t activity_id, const char *drv, usec_t now) {
        Source *s = model_source_by_id(m, source_id);
        Activity *a = NULL;
        if (s)
                HASH_FIND(hh, s->activities, &activity_id, sizeof(activity_id), a);
        if (!a || a->type != NIX_ACT_BUILD_WAITING)
                return 0;
        return lock_wait_on(m, s, a, drv, now);
}

static int waiting_start(Model *m, Source *s, Activity *a, const NixRecord *rec, usec_t now) {
        if (rec->text && startswith(rec->text, "waiting for lock on "))
                return lock_wait_start(m, s, a, rec, now);
        /* Also "waiting for UID …": not about machines. */
        if (!rec->text || !startswith(rec->text, "waiting for a machine to build"))
                return 0;
        _cleanup_free_ char *drv = NULL;
        const char *f0;
        if (nix_record_field_str(rec, 0, &f0) == 0 && f0[0])
                drv = strdup(f0);
        else if (store_path_find_drv(m->config.store_dir, rec->text, &drv) <= 0)
                return 0;
        if (!drv)
                return -ENOMEM;

        Invocation *inv = &s->invocation;
        Build *b = queued_build(m, inv, drv, now);
        if (!b)
                return -ENOMEM;
        if (!b->system)
                b->system = store_drv_system(m->config.store_dir, b->drv);
        b->machine_waits++;
        a->waiting_key = b->key;
        build_mark(m, b, CHANGE_CHANGED);
        return 0;
}

int model_machines_activity_start(Model *m, Source *s, Activity *a, const NixRecord *rec, usec_t now) {
        switch (rec->type) {
        case NIX_ACT_BUILD_WAITING:
                return waiting_start(m, s, a, rec, now);

        case NIX_ACT_UNKNOWN: {
                int dir = 0;
                _cleanup_free_ char *uri = rec->text ? copy_text_uri(rec->text, &dir) : NULL;
                ModelMachine *mm = uri ? machine_get(m, uri) : NULL;
                if (!mm)
                        return 0;
                if (dir > 0)
                        mm->copies_to++;
                else
                        mm->copies_from++;
                mm->refs++;
                a->machine = mm;
                a->copy_dir = (int8_t) dir;
                return 0;
        }

        case NIX_ACT_COPY_PATH: {
                const char *src, *dst;
                ModelMachine *mm;
                if (nix_record_field_str(rec, 1, &src) == 0 && (mm = model_machine_find(m, src)))
                        mm->paths_from++;
                if (nix_record_field_str(rec, 2, &dst) == 0 && (mm = model_machine_find(m, dst)))
                        mm->paths_to++;
                return 0;
        }

        default:
                return 0;
        }
}

void model_machines_activity_release(Model *m, Activity *a) {
        if (a->waiting_key) {
                /* By key: the build may have been evicted while Nix still waited. */
                Build *b = model_build_by_key(m, a->waiting_key);
                uint32_t *waits = b ? (a->lock_wait ? &b->lock_waits : &b->machine_waits) : NULL;
                if (waits && *waits > 0 && --*waits == 0)
                        build_mark(m, b, CHANGE_CHANGED);
                a->waiting_key = 0;
                a->lock_wait = false;
        }
        ModelMachine *mm = a->machine;
        if (mm) {
                if (a->copy_dir > 0 && mm->copies_to > 0)
                        mm->copies_to--;
                else if (a->copy_dir < 0 && mm->copies_from > 0)
                        mm->copies_from--;
                mm->refs--;
                a->machine = NULL;
        }
}

void model_machines_build_dispatched(Model *m, Build *b, usec_t now) {
        /* Nix's build hooks accept builds in this order (buildhook.h). */
        b->dispatch_seq = ++m->dispatches;
        ModelMachine *mm = machine_get(m, b->machine);
        if (!mm)
                return;
        mm->builds_total++;
        mm->last_build = now;
}

static void remote_view_done(BuildRemoteView *v) {
        free(v->state);
        free(v->phase);
        *v = (BuildRemoteView){};
}

static bool streq_null(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static bool remote_view_equal(const BuildRemoteView *a, const BuildRemoteView *b) {
        if (!a->present || !b->present)
                return a->present == b->present;
        return streq_null(a->state, b->state) && streq_null(a->phase, b->phase) &&
               a->sampled == b->sampled && a->cpu_percent == b->cpu_percent &&
               a->mem_current == b->mem_current && a->mem_peak == b->mem_peak && a->n_procs == b->n_procs &&
               a->log_lines == b->log_lines && a->seen == b->seen;
}

int model_build_set_remote_view(Model *m, Build *b, const BuildRemoteView *v) {
        static const BuildRemoteView none = {};
        if (!v || !v->present)
                v = &none;
        if (remote_view_equal(&b->remote, v))
                return 0;
        BuildRemoteView copy = *v;
        copy.state = v->state ? strdup(v->state) : NULL;
        copy.phase = v->phase ? strdup(v->phase) : NULL;
        if ((v->state && !copy.state) || (v->phase && !copy.phase)) {
                remote_view_done(&copy);
                return -ENOMEM;
        }
        remote_view_done(&b->remote);
        b->remote = copy;
        build_mark(m, b, CHANGE_CHANGED);
        return 0;
}

void model_machines_build_release(Build *b) {
        remote_view_done(&b->remote);
}

void model_machines_free(Model *m) {
        ModelMachine *mm, *tmp;
        HASH_ITER(hh, m->machines, mm, tmp) {
                HASH_DEL(m->machines, mm);
                machine_free(mm);
        }
}
