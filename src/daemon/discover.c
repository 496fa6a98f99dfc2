/* Discovery: which process builds which derivation.
 *
 * A builder leads its own session and is a child of a nix process (nix-build, nix, a
 * nix-daemon worker). Its environment names its outputs (out=/nix/store/…, one variable per
 * output; with structured attrs, the "outputs" object of $NIX_ATTRS_JSON_FILE read through
 * /proc/<pid>/root), which must equal the outputs written in the .drv. Each candidate's
 * environment is read once and kept (as its store-path variables only) while it lives.
 * After a daemon restart the .drv of a builder is found from its nix process's open build
 * log (/nix/var/log/nix/drvs/xx/<rest>.drv[.bz2]). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/tracker.h"
#include "shared/drv.h"
#include "shared/storepath.h"

#define ENVIRON_MAX    (8u << 20)
#define ATTRS_JSON_MAX (64u << 20)
#define PAIRS_MAX      512
#define DRV_CACHE_MAX  1024
#define LOG_DIR        "/nix/var/log/nix/drvs/"

typedef struct Pair {
        char *name, *value;
} Pair;

typedef struct Candidate {
        pid_t pid;
        uint64_t starttime;
        Pair *pairs; /* its environment variables that hold store paths */
        size_t n_pairs;
        bool seen;
        UT_hash_handle hh;
} Candidate;

typedef struct DrvOutputs {
        char *drv;
        DrvOutput *outs;
        int n; /* < 0: unreadable */
        UT_hash_handle hh;
} DrvOutputs;

struct Discovery {
        char *proc_root;
        char *store_dir;
        Candidate *candidates;
        DrvOutputs *drvs;
        unsigned n_drvs;
};

int discovery_new(const char *proc_root, const char *store_dir, Discovery **ret) {
        Discovery *d = calloc(1, sizeof(*d));
        if (!d || !(d->proc_root = strdup(proc_root)) || !(d->store_dir = strdup(store_dir))) {
                discovery_free(d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

static void candidate_free(Discovery *d, Candidate *c) {
        HASH_DEL(d->candidates, c);
        for (size_t i = 0; i < c->n_pairs; i++) {
                free(c->pairs[i].name);
                free(c->pairs[i].value);
        }
        free(c->pairs);
        free(c);
}

static void drvs_clear(Discovery *d) {
        DrvOutputs *o, *tmp;
        HASH_ITER(hh, d->drvs, o, tmp) {
                HASH_DEL(d->drvs, o);
                if (o->n > 0)
                        drv_outputs_free(o->outs, (size_t) o->n);
                free(o->drv);
                free(o);
        }
        d->n_drvs = 0;
}

Discovery *discovery_free(Discovery *d) {
        if (!d)
                return NULL;
        Candidate *c, *tmp;
        HASH_ITER(hh, d->candidates, c, tmp)
        candidate_free(d, c);
        drvs_clear(d);
        free(d->proc_root);
        free(d->store_dir);
        free(d);
        return NULL;
}

static const DrvOutputs *drv_outputs(Discovery *d, const char *drv) {
        DrvOutputs *o = NULL;
        HASH_FIND_STR(d->drvs, drv, o);
        if (o)
                return o;
        if (d->n_drvs >= DRV_CACHE_MAX)
                drvs_clear(d);
        o = calloc(1, sizeof(*o));
        if (!o || !(o->drv = strdup(drv))) {
                free(o);
                return NULL;
        }
        _cleanup_free_ char *buf = NULL;
        size_t len;
        o->n = store_file_read(d->store_dir, drv, STORE_DRV_MAX, &buf, &len);
        if (o->n == 0)
                o->n = drv_parse_outputs(buf, len, &o->outs);
        HASH_ADD_KEYPTR(hh, d->drvs, o->drv, strlen(o->drv), o);
        d->n_drvs++;
        return o;
}

static int add_pair(Candidate *c, const char *name, size_t nl, const char *value, size_t vl) {
        if (c->n_pairs >= PAIRS_MAX)
                return 0;
        Pair *grown = realloc(c->pairs, (c->n_pairs + 1) * sizeof(Pair));
        if (!grown)
                return -ENOMEM;
        c->pairs = grown;
        Pair *p = &c->pairs[c->n_pairs];
        p->name = strndup(name, nl);
        p->value = strndup(value, vl);
        if (!p->name || !p->value) {
                free(p->name);
                free(p->value);
                return -ENOMEM;
        }
        c->n_pairs++;
        return 0;
}

/* Structured attrs: the outputs live in a JSON file inside the builder's root. */
static void read_attrs_json(Discovery *d, Candidate *c, const char *file, size_t fl) {
        char root[PATH_MAX], path[PATH_MAX];
        if (fl == 0 || file[0] != '/' ||
            snprintf(root, sizeof(root), "%s/%d/root", d->proc_root, (int) c->pid) >= (int) sizeof(root) ||
            snprintf(path, sizeof(path), "%.*s", (int) fl, file) >= (int) sizeof(path))
                return;
        /* The builder named the file: resolve it inside the builder's root, so that neither
         * ".." nor a symbolic link leads to a file of ours, and never block on a FIFO. */
        _cleanup_close_ int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        if (read_full_file_at(root_fd, path, ATTRS_JSON_MAX, READ_FILE_IN_ROOT | READ_FILE_REFUSE_LARGER,
                              &buf, &len) < 0)
                return;
        cJSON *j = cJSON_ParseWithLength(buf, len);
        const cJSON *outs = cJSON_GetObjectItemCaseSensitive(j, "outputs"), *o;
        cJSON_ArrayForEach(o, outs) {
                if (cJSON_IsString(o) && o->string)
                        (void) add_pair(c, o->string, strlen(o->string), o->valuestring,
                                        strlen(o->valuestring));
        }
        cJSON_Delete(j);
}

static int candidate_load(Discovery *d, Candidate *c) {
        _cleanup_free_ char *env = NULL;
        size_t len;
        int r = procfs_read(d->proc_root, c->pid, "environ", ENVIRON_MAX, &env, &len);
        if (r < 0)
                return r;
        size_t sl = strlen(d->store_dir);
        for (const char *p = env, *end = env + len; p < end;) {
                const char *z = memchr(p, '\0', (size_t) (end - p));
                const char *e = z ? z : end;
                const char *eq = memchr(p, '=', (size_t) (e - p));
                if (eq) {
                        const char *v = eq + 1;
                        size_t vl = (size_t) (e - v);
                        if (vl > sl + 1 && memcmp(v, d->store_dir, sl) == 0 && v[sl] == '/' &&
                            !memchr(v, ' ', vl))
                                (void) add_pair(c, p, (size_t) (eq - p), v, vl);
                        else if ((size_t) (eq - p) == 19 && memcmp(p, "NIX_ATTRS_JSON_FILE", 19) == 0)
                                read_attrs_json(d, c, v, vl);
                }
                p = e + 1;
        }
        return 0;
}

static bool is_nix_process(const ProcEntry *e) {
        return e && strncmp(e->st.comm, "nix", 3) == 0;
}

/* Session leaders whose parent is a nix process, once they run the builder: Nix forks, calls
 * setsid() and sets the child up before execve(), and until then the child is a copy of its
 * parent (same comm, the parent's environment). Its environment read then would be cached as
 * the builder's, and the build never found; it is looked at again at the next scan. */
static bool builder_like(ProcTable *t, const ProcEntry *e) {
        if (e->st.sid != e->st.pid || e->st.ppid <= 1 || e->st.state == 'Z')
                return false;
        const ProcEntry *parent = proc_table_get(t, e->st.ppid);
        return is_nix_process(parent) && strcmp(parent->st.comm, e->st.comm) != 0;
}

static Candidate *candidate_get(Discovery *d, const ProcEntry *e) {
        Candidate *c = NULL;
        HASH_FIND(hh, d->candidates, &e->st.pid, sizeof(pid_t), c);
        if (c && c->starttime != e->st.starttime) {
                candidate_free(d, c);
                c = NULL;
        }
        if (c)
                return c;
        c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->pid = e->st.pid;
        c->starttime = e->st.starttime;
        HASH_ADD(hh, d->candidates, pid, sizeof(pid_t), c);
        if (candidate_load(d, c) == -ENOMEM) {
                candidate_free(d, c);
                return NULL;
        }
        return c;
}

/* Every output of the .drv is in the candidate's environment under its own name. */
static bool outputs_match(const DrvOutputs *o, const Candidate *c) {
        if (!o || o->n <= 0)
                return false;
        for (int i = 0; i < o->n; i++) {
                bool found = false;
                if (!o->outs[i].path[0])
                        return false; /* content-addressed: not known before the build */
                for (size_t j = 0; j < c->n_pairs && !found; j++)
                        found = strcmp(c->pairs[j].name, o->outs[i].name) == 0 &&
                                strcmp(c->pairs[j].value, o->outs[i].path) == 0;
                if (!found)
                        return false;
        }
        return true;
}

int discovery_find_builder(Discovery *d, ProcTable *t, const char *drv,
                           int (*rank)(void *userdata, pid_t pid), void *userdata, pid_t *ret_pid) {
        const DrvOutputs *o = drv_outputs(d, drv);
        if (!o)
                return -ENOMEM;
        if (o->n <= 0)
                return 0;
        int best = 0;
        for (size_t i = 0; i < t->n && best < 2; i++) {
                ProcEntry *e = &t->entries[i];
                if (!builder_like(t, e))
                        continue;
                Candidate *c = candidate_get(d, e);
                if (!c || !outputs_match(o, c))
                        continue;
                int r = rank ? rank(userdata, e->st.pid) : 2;
                if (r > best) {
                        best = r;
                        *ret_pid = e->st.pid;
                }
        }
        return best > 0;
}

void discovery_prune(Discovery *d, ProcTable *t) {
        Candidate *c, *tmp;
        HASH_ITER(hh, d->candidates, c, tmp) {
                ProcEntry *e = proc_table_get(t, c->pid);
                if (!e || e->st.starttime != c->starttime)
                        candidate_free(d, c);
        }
}

static bool under_scope(ProcTable *t, const ProcEntry *e, pid_t scope) {
        for (int depth = 0; e && depth < 256; depth++) {
                if (e->st.pid == scope)
                        return true;
                if (e->st.ppid <= 1)
                        return false;
                e = proc_table_get(t, e->st.ppid);
        }
        return false;
}

typedef struct LogScan {
        Discovery *d;
        Candidate *c;
        char *found;
} LogScan;

/* "/nix/var/log/nix/drvs/18/3v96…-x.drv.bz2" names "<store>/183v96…-x.drv". */
static int on_log_fd(const char *target, void *userdata) {
        LogScan *ls = userdata;
        const char *rest = target + strlen(LOG_DIR);
        const char *slash = strchr(rest, '/');
        if (!slash || slash - rest != 2)
                return 0;
        size_t n = strlen(slash + 1);
        if (n > 4 && strcmp(slash + 1 + n - 4, ".bz2") == 0)
                n -= 4;
        _cleanup_free_ char *drv = NULL;
        if (asprintf(&drv, "%s/%.2s%.*s", ls->d->store_dir, rest, (int) n, slash + 1) < 0)
                return -ENOMEM;
        if (outputs_match(drv_outputs(ls->d, drv), ls->c)) {
                ls->found = TAKE_PTR(drv);
                return 1; /* stop */
        }
        return 0;
}

int discovery_rediscover(Discovery *d, ProcTable *t, pid_t scope,
                         void (*cb)(void *userdata, pid_t nix_pid, pid_t builder, const char *drv),
                         void *userdata) {
        unsigned found = 0;
        for (size_t i = 0; i < t->n; i++) {
                ProcEntry *e = &t->entries[i];
                if (!builder_like(t, e) || (scope > 0 && !under_scope(t, e, scope)))
                        continue;
                Candidate *c = candidate_get(d, e);
                if (!c || c->n_pairs == 0)
                        continue;
                LogScan ls = {.d = d, .c = c};
                (void) procfs_foreach_fd(d->proc_root, e->st.ppid, LOG_DIR, on_log_fd, &ls);
                if (ls.found) {
                        cb(userdata, e->st.ppid, e->st.pid, ls.found);
                        free(ls.found);
                        found++;
                }
        }
        if (found)
                log_info("rediscovered %u running build(s) from /proc", found);
        return (int) found;
}
