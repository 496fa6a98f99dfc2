/* Discovery: which process builds which derivation.
 *
 * A builder leads its own session and is a child of a nix process (nix-build, nix, a
 * nix-daemon worker). Its environment names its outputs (out=/nix/store/…, one variable per
 * output; with structured attrs, the "outputs" object of $NIX_ATTRS_JSON_FILE read through
 * /proc/<pid>/root), which must equal the outputs written in the .drv. Each candidate's
 * environment is read once and kept (as its store-path variables only) while it lives.
 * After a daemon restart the .drv of a builder is found from its nix process's open build
 * log (/nix/var/log/nix/drvs/xx/<rest>.drv[.bz2]).
 *
 * Builds of remote clients (ssh-ng runs `nix-daemon --stdio`, ssh:// `nix-store --serve`)
 * are found the same way while the daemon runs: nothing reports them unless a plugin inside
 * that process does, and the .drv is often not in this store (a trusted client sends the
 * derivation itself, not its file). Only root's serving processes count (their command line
 * and open files come from the kernel and root); the builder is the one whose outputs carry
 * the name of one of the build logs that process holds open.
 *
 * Files a local user may choose are read and parsed off the event loop, on a work queue
 * (work-queue.h): a .drv (up to 16 MiB: anyone can add one to the store, and start records
 * name it) and a structured-attrs JSON file (up to 64 MiB, any file the builder's root
 * holds). Until the answer comes back the drv or candidate is "not yet known" and the next
 * sampler pass looks again. The environment stays on the loop: /proc gives it in one read,
 * and only a byte scan runs over it. */
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
#include "daemon/discover.h"
#include "daemon/tracker.h"
#include "daemon/work-queue.h"
#include "shared/drv.h"
#include "shared/storepath.h"

#define ENVIRON_MAX     (8u << 20)
#define ATTRS_JSON_MAX  (64u << 20)
#define PAIRS_MAX       512
#define DRV_CACHE_MAX   1024
#define READS_MAX       16 /* waiting on the work queue: one file is read at a time */
#define LOG_DIR         "/nix/var/log/nix/drvs/"
#define CMDLINE_MAX     (64u << 10) /* Nix appends --stdio after the remote program's options */
#define SERVED_LOGS_MAX 64          /* build logs one serving process holds open, at most */

typedef struct Pair {
        char *name, *value;
} Pair;

typedef struct Candidate {
        pid_t pid;
        uint64_t starttime;
        Pair *pairs; /* its environment variables that hold store paths */
        size_t n_pairs;
        char *attrs_file;   /* $NIX_ATTRS_JSON_FILE, until a read of it is queued */
        bool attrs_pending; /* its read is queued: pairs are not complete yet */
        bool served_done;   /* under a serving process: handed over, or found to be no build */
        UT_hash_handle hh;
} Candidate;

/* A nix process, once looked at: does it serve a remote client? */
typedef struct NixProc {
        pid_t pid;
        uint64_t starttime;
        char comm[PROCFS_COMM_MAX + 1]; /* an execve() since: looked at again */
        bool serves;
        UT_hash_handle hh;
} NixProc;

typedef struct DrvOutputs {
        char *drv;
        DrvOutput *outs;
        int n; /* < 0: unreadable; DRV_PENDING: being read */
        UT_hash_handle hh;
} DrvOutputs;

#define DRV_PENDING (-EINPROGRESS)

struct Discovery {
        char *proc_root;
        char *store_dir;
        Candidate *candidates;
        DrvOutputs *drvs;
        unsigned n_drvs;
        NixProc *nix_procs;
        uid_t serve_owner; /* whose serving processes count: root, but for tests */
        WorkQueue *reads;  /* NULL: read on the caller's thread (unit tests on fake trees) */
};

int discovery_new(const char *proc_root, const char *store_dir, sd_event *event, Discovery **ret) {
        Discovery *d = calloc(1, sizeof(*d));
        if (!d || !(d->proc_root = strdup(proc_root)) || !(d->store_dir = strdup(store_dir))) {
                discovery_free(d);
                return -ENOMEM;
        }
        if (event) {
                int r = work_queue_new(event, "file read", READS_MAX, d, &d->reads);
                if (r < 0) {
                        discovery_free(d);
                        return r;
                }
        }
        *ret = d;
        return 0;
}

void discovery_read_stats(Discovery *d, WorkQueueStats *ret) {
        if (d->reads)
                work_queue_stats(d->reads, ret);
        else
                *ret = (WorkQueueStats){};
}

static void candidate_free(Discovery *d, Candidate *c) {
        HASH_DEL(d->candidates, c);
        for (size_t i = 0; i < c->n_pairs; i++) {
                free(c->pairs[i].name);
                free(c->pairs[i].value);
        }
        free(c->pairs);
        free(c->attrs_file);
        free(c);
}

static void drv_outputs_entry_free(DrvOutputs *o) {
        if (o->n > 0)
                drv_outputs_free(o->outs, (size_t) o->n);
        free(o->drv);
        free(o);
}

static void drvs_clear(Discovery *d) {
        DrvOutputs *o, *tmp;
        HASH_ITER(hh, d->drvs, o, tmp) {
                HASH_DEL(d->drvs, o);
                drv_outputs_entry_free(o);
        }
        d->n_drvs = 0;
}

Discovery *discovery_free(Discovery *d) {
        if (!d)
                return NULL;
        /* First: the thread may be reading for us, and undelivered answers go with it. */
        work_queue_free(d->reads);
        Candidate *c, *tmp;
        HASH_ITER(hh, d->candidates, c, tmp)
                candidate_free(d, c);
        NixProc *np, *ntmp;
        HASH_ITER(hh, d->nix_procs, np, ntmp) {
                HASH_DEL(d->nix_procs, np);
                free(np);
        }
        drvs_clear(d);
        free(d->proc_root);
        free(d->store_dir);
        free(d);
        return NULL;
}

static int drv_outputs_add(Discovery *d, const char *drv, DrvOutputs **ret) {
        if (d->n_drvs >= DRV_CACHE_MAX)
                drvs_clear(d);
        DrvOutputs *o = calloc(1, sizeof(*o));
        if (!o || !(o->drv = strdup(drv))) {
                free(o);
                return -ENOMEM;
        }
        HASH_ADD_KEYPTR(hh, d->drvs, o->drv, strlen(o->drv), o);
        d->n_drvs++;
        *ret = o;
        return 0;
}

/* The read and parse, on whichever thread: the number of outputs, or -errno. */
static int drv_read_outputs(const char *store_dir, const char *drv, DrvOutput **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = store_file_read(store_dir, drv, STORE_DRV_MAX, &buf, &len);
        return r < 0 ? r : drv_parse_outputs(buf, len, ret);
}

typedef struct DrvRead {
        WorkItem item;
        char *drv;
        DrvOutput *outs;
        int n;
} DrvRead;

static void drv_read_release(WorkItem *item) {
        DrvRead *j = (DrvRead *) item;
        if (j->n > 0)
                drv_outputs_free(j->outs, (size_t) j->n);
        free(j->drv);
        free(j);
}

static void drv_read_run(WorkItem *item, void *userdata) {
        Discovery *d = userdata; /* only store_dir, which never changes */
        DrvRead *j = (DrvRead *) item;
        j->n = drv_read_outputs(d->store_dir, j->drv, &j->outs);
}

/* Back on the loop: fill the cache entry (or a new one, if the cache was cleared since). */
static void drv_read_done(WorkItem *item, void *userdata) {
        Discovery *d = userdata;
        DrvRead *j = (DrvRead *) item;
        DrvOutputs *o = NULL;
        HASH_FIND_STR(d->drvs, j->drv, o);
        if (!o && drv_outputs_add(d, j->drv, &o) == 0)
                o->n = DRV_PENDING;
        if (o && o->n == DRV_PENDING) {
                o->outs = TAKE_PTR(j->outs);
                o->n = j->n;
                j->n = 0;
        }
        drv_read_release(item);
}

/* The outputs of drv: 1 with *ret (whose n < 0 when unreadable), 0 while being read (or its
 * read was refused: the queue is full), -ENOMEM. */
static int drv_outputs(Discovery *d, const char *drv, const DrvOutputs **ret) {
        DrvOutputs *o = NULL;
        HASH_FIND_STR(d->drvs, drv, o);
        if (o) {
                *ret = o;
                return o->n != DRV_PENDING;
        }
        if (!d->reads) {
                if (drv_outputs_add(d, drv, &o) < 0)
                        return -ENOMEM;
                o->n = drv_read_outputs(d->store_dir, drv, &o->outs);
                *ret = o;
                return 1;
        }
        DrvRead *j = calloc(1, sizeof(*j));
        if (!j || !(j->drv = strdup(drv))) {
                free(j);
                return -ENOMEM;
        }
        j->item = (WorkItem){.run = drv_read_run, .done = drv_read_done, .release = drv_read_release};
        if (work_queue_submit(d->reads, &j->item) < 0) {
                drv_read_release(&j->item); /* not cached: asked again at the next pass */
                return 0;
        }
        if (drv_outputs_add(d, drv, &o) < 0)
                return -ENOMEM; /* the answer comes back to no entry and makes one */
        o->n = DRV_PENDING;
        return 0;
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

/* Structured attrs: the outputs live in a JSON file inside the builder's root. The builder
 * named the file: it is resolved inside that root (root_fd), so that neither ".." nor a
 * symbolic link leads to a file of ours, and never blocks on a FIFO. Adds the "outputs"
 * pairs to c; on whichever thread, c being private to it. */
static void attrs_read(int root_fd, const char *path, Candidate *c) {
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

/* The root of c's process, opened on the loop and checked to be c's (not a process that
 * took its pid since): the worker then reads through this fd alone. */
static int candidate_open_root(Discovery *d, const Candidate *c) {
        char root[PATH_MAX];
        if (snprintf(root, sizeof(root), "%s/%d/root", d->proc_root, (int) c->pid) >= (int) sizeof(root))
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = pidref_check_pid(d->proc_root, c->pid, c->starttime);
        return r < 0 ? r : TAKE_FD(fd);
}

typedef struct AttrsRead {
        WorkItem item;
        int root_fd;
        char *path;
        pid_t pid;
        uint64_t starttime;
        Candidate result; /* its pairs only */
} AttrsRead;

static void attrs_read_release(WorkItem *item) {
        AttrsRead *j = (AttrsRead *) item;
        for (size_t i = 0; i < j->result.n_pairs; i++) {
                free(j->result.pairs[i].name);
                free(j->result.pairs[i].value);
        }
        free(j->result.pairs);
        closep(&j->root_fd);
        free(j->path);
        free(j);
}

static void attrs_read_run(WorkItem *item, void *userdata) {
        Discovery *d = userdata; /* only proc_root, which never changes */
        AttrsRead *j = (AttrsRead *) item;
        /* Gone while it waited (a flood of short-lived fake builders): not worth a read. */
        if (pidref_check_pid(d->proc_root, j->pid, j->starttime) == 0)
                attrs_read(j->root_fd, j->path, &j->result);
        closep(&j->root_fd);
        j->root_fd = -EBADF;
}

/* Back on the loop: the pairs go to the candidate only if it is still the process that
 * named the file (same pid and start time, checked again now: the pid may have been
 * reused while the worker read). */
static void attrs_read_done(WorkItem *item, void *userdata) {
        Discovery *d = userdata;
        AttrsRead *j = (AttrsRead *) item;
        Candidate *c = NULL;
        HASH_FIND(hh, d->candidates, &j->pid, sizeof(pid_t), c);
        if (c && c->starttime == j->starttime && c->attrs_pending &&
            pidref_check_pid(d->proc_root, j->pid, j->starttime) == 0) {
                c->attrs_pending = false;
                for (size_t i = 0; i < j->result.n_pairs; i++)
                        (void) add_pair(c, j->result.pairs[i].name, strlen(j->result.pairs[i].name),
                                        j->result.pairs[i].value, strlen(j->result.pairs[i].value));
        }
        attrs_read_release(item);
}

/* Queues the read of c->attrs_file; when the queue is full it stays for the next pass. */
static int attrs_submit(Discovery *d, Candidate *c) {
        int fd = candidate_open_root(d, c);
        if (fd < 0) {
                free(TAKE_PTR(c->attrs_file)); /* gone: nothing to read */
                return fd;
        }
        AttrsRead *j = calloc(1, sizeof(*j));
        if (!j) {
                closep(&fd);
                return -ENOMEM;
        }
        *j = (AttrsRead){
                .item = {.run = attrs_read_run, .done = attrs_read_done, .release = attrs_read_release},
                .root_fd = fd,
                .path = c->attrs_file,
                .pid = c->pid,
                .starttime = c->starttime,
        };
        if (work_queue_submit(d->reads, &j->item) < 0) {
                j->path = NULL;
                attrs_read_release(&j->item);
                return -EBUSY;
        }
        c->attrs_file = NULL;
        c->attrs_pending = true;
        return 0;
}

static void candidate_attrs(Discovery *d, Candidate *c, const char *file, size_t fl) {
        if (fl == 0 || fl >= PATH_MAX || file[0] != '/')
                return;
        free(c->attrs_file);
        c->attrs_file = strndup(file, fl);
        if (!c->attrs_file || d->reads)
                return;
        _cleanup_close_ int fd = candidate_open_root(d, c);
        if (fd >= 0)
                attrs_read(fd, c->attrs_file, c);
        free(TAKE_PTR(c->attrs_file));
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
                                candidate_attrs(d, c, v, vl);
                }
                p = e + 1;
        }
        if (c->attrs_file)
                (void) attrs_submit(d, c);
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
        if (c && c->attrs_file)
                (void) attrs_submit(d, c); /* refused at the last pass: the queue was full */
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
        if (!o || o->n <= 0 || c->attrs_pending || c->attrs_file)
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
        const DrvOutputs *o = NULL;
        int known = drv_outputs(d, drv, &o);
        if (known <= 0)
                return known;
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
        NixProc *np, *ntmp;
        HASH_ITER(hh, d->nix_procs, np, ntmp) {
                ProcEntry *e = proc_table_get(t, np->pid);
                if (!e || e->st.starttime != np->starttime) {
                        HASH_DEL(d->nix_procs, np);
                        free(np);
                }
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
        bool pending; /* a .drv still being read */
} LogScan;

/* "/nix/var/log/nix/drvs/18/3v96…-x.drv.bz2" names "<store>/183v96…-x.drv": 1 with *ret, 0
 * when target is no build log, -ENOMEM. */
static int log_drv(const Discovery *d, const char *target, char **ret) {
        const char *rest = target + strlen(LOG_DIR);
        const char *slash = strchr(rest, '/');
        if (!slash || slash - rest != 2)
                return 0;
        size_t n = strlen(slash + 1);
        if (n > 4 && strcmp(slash + 1 + n - 4, ".bz2") == 0)
                n -= 4;
        if (n < 5 || strncmp(slash + 1 + n - 4, ".drv", 4) != 0 || memchr(slash + 1, '/', n))
                return 0;
        return asprintf(ret, "%s/%.2s%.*s", d->store_dir, rest, (int) n, slash + 1) < 0 ? -ENOMEM : 1;
}

static int on_log_fd(const char *target, void *userdata) {
        LogScan *ls = userdata;
        _cleanup_free_ char *drv = NULL;
        int r = log_drv(ls->d, target, &drv);
        if (r <= 0)
                return r;
        const DrvOutputs *o = NULL;
        r = drv_outputs(ls->d, drv, &o);
        if (r < 0)
                return r;
        if (r == 0)
                ls->pending = true;
        else if (outputs_match(o, ls->c)) {
                ls->found = TAKE_PTR(drv);
                return 1; /* stop */
        }
        return 0;
}

int discovery_rediscover(Discovery *d, ProcTable *t, pid_t scope, DiscoveryFound cb, void *userdata) {
        unsigned found = 0;
        bool pending = false;
        for (size_t i = 0; i < t->n; i++) {
                ProcEntry *e = &t->entries[i];
                if (!builder_like(t, e) || (scope > 0 && !under_scope(t, e, scope)))
                        continue;
                Candidate *c = candidate_get(d, e);
                if (c && (c->attrs_pending || c->attrs_file))
                        pending = true;
                if (!c || c->n_pairs == 0)
                        continue;
                LogScan ls = {.d = d, .c = c};
                (void) procfs_foreach_fd(d->proc_root, e->st.ppid, LOG_DIR, on_log_fd, &ls);
                pending = pending || ls.pending;
                if (ls.found) {
                        cb(userdata, e->st.ppid, e->st.pid, ls.found, NULL, 0);
                        free(ls.found);
                        found++;
                }
        }
        if (found)
                log_info("rediscovered %u running build(s) from /proc", found);
        return pending ? -EAGAIN : (int) found;
}

void discovery_set_serve_owner(Discovery *d, uid_t uid) {
        d->serve_owner = uid;
}

/* `nix-daemon --stdio` (ssh-ng's remote program) or `nix-store --serve` (ssh://): an argument
 * of its command line says so. */
static bool cmdline_serves(const char *buf, size_t len) {
        const char *end = buf + len;
        const char *p = memchr(buf, '\0', len); /* argv[0] names the program, not the mode */
        for (p = p ? p + 1 : end; p < end;) {
                const char *z = memchr(p, '\0', (size_t) (end - p));
                size_t n = (size_t) ((z ? z : end) - p);
                if (n == 7 && (memcmp(p, "--stdio", 7) == 0 || memcmp(p, "--serve", 7) == 0))
                        return true;
                p += n + 1;
        }
        return false;
}

/* The verdict on nix process e, looked at once per program it runs: 1 it serves (and is
 * root's), 0 not, -ENOMEM. A process gone meanwhile is not cached (the table drops it anyway). */
static int nix_proc_serves(Discovery *d, const ProcEntry *e) {
        NixProc *np = NULL;
        HASH_FIND(hh, d->nix_procs, &e->st.pid, sizeof(pid_t), np);
        if (np && np->starttime == e->st.starttime && strcmp(np->comm, e->st.comm) == 0)
                return np->serves;
        if (np) {
                HASH_DEL(d->nix_procs, np);
                free(np);
        }
        /* Its real uid: the owner of /proc/<pid> is root for any process that made itself
         * non-dumpable, and only root can make its real uid 0. */
        ProcStatus status;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        bool serves = false;
        int r = procfs_read_status(d->proc_root, e->st.pid, &status);
        if (r == 0 && status.uid == d->serve_owner) {
                r = procfs_read(d->proc_root, e->st.pid, "cmdline", CMDLINE_MAX, &buf, &len);
                serves = r == 0 && cmdline_serves(buf, len);
        }
        if (r == -ENOMEM)
                return r;
        /* Read from the process the table lists, not one that took its pid since. */
        if (pidref_check_pid(d->proc_root, e->st.pid, e->st.starttime) < 0)
                return 0;
        if (!(np = calloc(1, sizeof(*np))))
                return -ENOMEM;
        *np = (NixProc){.pid = e->st.pid, .starttime = e->st.starttime, .serves = serves};
        memcpy(np->comm, e->st.comm, sizeof(np->comm));
        HASH_ADD(hh, d->nix_procs, pid, sizeof(pid_t), np);
        return serves;
}

/* Is pair p an output of a derivation named name: a store path "<hash>-n" for output out,
 * "<hash>-n-o" for output o? */
static bool pair_is_output_of(const Discovery *d, const Pair *p, const char *name, size_t nl) {
        size_t sl = strlen(d->store_dir);
        const char *v = p->value; /* from structured attrs: any string */
        if (strncmp(v, d->store_dir, sl) != 0 || v[sl] != '/')
                return false;
        const char *base = v + sl + 1, *dash = strchr(base, '-');
        if (!dash || strchr(base, '/'))
                return false;
        const char *have = dash + 1;
        if (strncmp(have, name, nl) != 0)
                return false;
        return strcmp(p->name, "out") == 0 ? have[nl] == '\0'
                                           : have[nl] == '-' && strcmp(have + nl + 1, p->name) == 0;
}

/* The outputs of a derivation named name that c's environment holds (borrowed strings):
 * how many, or -ENOMEM. */
static int outputs_named(const Discovery *d, const Candidate *c, const char *name, size_t nl,
                         DrvOutput **ret) {
        _cleanup_free_ DrvOutput *outs = NULL;
        size_t n = 0;
        for (size_t i = 0; i < c->n_pairs; i++) {
                if (!pair_is_output_of(d, &c->pairs[i], name, nl))
                        continue;
                DrvOutput *grown = realloc(outs, (n + 1) * sizeof(DrvOutput));
                if (!grown)
                        return -ENOMEM;
                outs = grown;
                outs[n++] = (DrvOutput){.name = c->pairs[i].name, .path = c->pairs[i].value};
        }
        *ret = TAKE_PTR(outs);
        return (int) n;
}

typedef struct ServedScan {
        const Discovery *d;
        const Candidate *c;
        char *found;
        DrvOutput *outs; /* found's outputs in c's environment (borrowed strings) */
        int n_outs;
        unsigned logs, matches;
} ServedScan;

static int on_served_log(const char *target, void *userdata) {
        ServedScan *ss = userdata;
        _cleanup_free_ char *drv = NULL;
        int r = log_drv(ss->d, target, &drv);
        if (r <= 0)
                return r;
        if (++ss->logs > SERVED_LOGS_MAX)
                return 1;
        /* "<store>/<hash>-<name>.drv": the name is what the outputs carry. */
        const char *base = drv + strlen(ss->d->store_dir) + 1, *dash = strchr(base, '-');
        if (!dash)
                return 0;
        _cleanup_free_ DrvOutput *outs = NULL;
        int n = outputs_named(ss->d, ss->c, dash + 1, strlen(dash + 1) - 4, &outs);
        if (n <= 0)
                return n;
        if (++ss->matches == 1) {
                ss->found = TAKE_PTR(drv);
                ss->outs = TAKE_PTR(outs);
                ss->n_outs = n;
        }
        return 0;
}

int discovery_find_served(Discovery *d, ProcTable *t, pid_t scope, DiscoveryFound cb, void *userdata) {
        unsigned serving = 0;
        for (size_t i = 0; i < t->n; i++) {
                const ProcEntry *e = &t->entries[i];
                if (!is_nix_process(e) || e->st.state == 'Z' || (scope > 0 && !under_scope(t, e, scope)))
                        continue;
                int r = nix_proc_serves(d, e);
                if (r < 0)
                        return r;
                serving += r;
        }
        for (size_t i = 0; serving > 0 && i < t->n; i++) {
                ProcEntry *e = &t->entries[i];
                if (!builder_like(t, e) || (scope > 0 && !under_scope(t, e, scope)))
                        continue;
                NixProc *np = NULL;
                HASH_FIND(hh, d->nix_procs, &e->st.ppid, sizeof(pid_t), np);
                if (!np || !np->serves)
                        continue;
                Candidate *c = candidate_get(d, e);
                if (!c || c->served_done || c->attrs_pending || c->attrs_file)
                        continue; /* structured attrs: again once its file is read */
                ServedScan ss = {.d = d, .c = c};
                int r = procfs_foreach_fd(d->proc_root, e->st.ppid, LOG_DIR, on_served_log, &ss);
                if (r == -ENOMEM) {
                        free(ss.found);
                        free(ss.outs);
                        return r;
                }
                c->served_done = true;
                if (ss.matches == 1 && ss.logs <= SERVED_LOGS_MAX) {
                        log_debug("builder pid %d of serving nix pid %d builds %s", (int) e->st.pid,
                                  (int) e->st.ppid, ss.found);
                        cb(userdata, e->st.ppid, e->st.pid, ss.found, ss.outs, (size_t) ss.n_outs);
                } else
                        log_debug("builder pid %d of serving nix pid %d: %u of its %u build log(s) match, "
                                  "not taken",
                                  (int) e->st.pid, (int) e->st.ppid, ss.matches, ss.logs);
                free(ss.found);
                free(ss.outs);
        }
        return (int) serving;
}
