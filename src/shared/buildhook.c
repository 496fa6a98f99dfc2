/* The build hooks of a nix process, and which hook serves which remote build. */
#include "shared/buildhook.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "shared/procfs.h"

#define CMDLINE_MAX  4096
#define HOOKS_MAX    1024 /* a nix process runs one hook per remote build at once */
#define HOOK_PROCS   64   /* descendants of one hook (ssh, an ssh master) */
#define NIX_PIPES    4096
#define NIX_LOGS     4096
#define SLOT_LOCK_IN "/current-load/"
#define LOG_IN       "/drvs/"

bool buildhook_cmdline_is_hook(const char *buf, size_t len) {
        const char *end = buf + len;
        const char *z = memchr(buf, '\0', len);
        if (!z || z == buf)
                return false;
        const char *base = memrchr(buf, '/', (size_t) (z - buf));
        base = base ? base + 1 : buf;
        if (strcmp(base, "build-remote") == 0)
                return true;
        const char *argv1 = z + 1;
        return argv1 < end && memchr(argv1, '\0', (size_t) (end - argv1)) &&
               strcmp(argv1, "__build-remote") == 0;
}

int buildhook_parse_pipe(const char *target, uint64_t *ret) {
        if (strncmp(target, "pipe:[", 6) != 0)
                return -EINVAL;
        const char *p = target + 6;
        uint64_t v = 0;
        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -EINVAL;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (strcmp(p, "]") != 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The last occurrence of needle in s, or NULL. */
static const char *last_strstr(const char *s, const char *needle) {
        const char *found = NULL;
        for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
                found = p;
        return found;
}

int buildhook_parse_slot_lock(const char *target, char **ret) {
        const char *in = last_strstr(target, SLOT_LOCK_IN);
        if (!in)
                return 0;
        const char *name = in + strlen(SLOT_LOCK_IN);
        const char *dash = strrchr(name, '-');
        if (strchr(name, '/') || !dash || dash == name || !dash[1])
                return 0;
        for (const char *p = dash + 1; *p; p++)
                if (*p < '0' || *p > '9')
                        return 0;
        if (strcmp(name, "main-lock") == 0)
                return 0;
        char *uri = strndup(name, (size_t) (dash - name));
        if (!uri)
                return -ENOMEM;
        *ret = uri;
        return 1;
}

char *buildhook_escape_uri(const char *uri) {
        char *e = strdup(uri);
        for (char *p = e; p && *p; p++)
                if (*p == '/')
                        *p = '_';
        return e;
}

/* slot (escaped) names uri: compared without allocating. */
static bool slot_is_machine(const char *slot, const char *uri) {
        for (; *slot && *uri; slot++, uri++)
                if (*slot != (*uri == '/' ? '_' : *uri))
                        return false;
        return *slot == '\0' && *uri == '\0';
}

int buildhook_parse_log(const char *target, const char *store_dir, char **ret) {
        const char *in = last_strstr(target, LOG_IN);
        if (!in)
                return 0;
        const char *dir = in + strlen(LOG_IN);
        if (!dir[0] || !dir[1] || dir[2] != '/')
                return 0;
        const char *rest = dir + 3;
        size_t n = strlen(rest);
        if (strchr(rest, '/'))
                return 0;
        if (n > 4 && strcmp(rest + n - 4, ".bz2") == 0)
                n -= 4;
        if (n <= 4 || strncmp(rest + n - 4, ".drv", 4) != 0)
                return 0;
        char *drv = NULL;
        if (asprintf(&drv, "%s/%.2s%.*s", store_dir, dir, (int) n, rest) < 0)
                return -ENOMEM;
        *ret = drv;
        return 1;
}

void buildhook_scan_done(BuildHookScan *s) {
        for (size_t i = 0; i < s->n_hooks; i++) {
                free(s->hooks[i].slot_uri);
                free(s->hooks[i].procs);
        }
        free(s->hooks);
        for (size_t i = 0; i < s->n_logs; i++)
                free(s->logs[i]);
        free(s->logs);
        *s = (BuildHookScan){};
}

/* What the nix process holds open: the pipes (to tell which hook still waits for a request)
 * and the build logs (its active builds). */
typedef struct NixFds {
        uint64_t *pipes;
        size_t n_pipes;
        BuildHookScan *scan;
        const char *store_dir;
} NixFds;

static int on_nix_fd(const char *target, void *userdata) {
        NixFds *f = userdata;
        uint64_t ino;
        if (buildhook_parse_pipe(target, &ino) == 0) {
                if (f->n_pipes < NIX_PIPES)
                        f->pipes[f->n_pipes++] = ino;
                return 0;
        }
        char *drv = NULL;
        int r = buildhook_parse_log(target, f->store_dir, &drv);
        if (r <= 0)
                return r;
        BuildHookScan *s = f->scan;
        if (s->n_logs >= NIX_LOGS) {
                free(drv);
                return 0;
        }
        char **grown = realloc(s->logs, (s->n_logs + 1) * sizeof(char *));
        if (!grown) {
                free(drv);
                return -ENOMEM;
        }
        s->logs = grown;
        s->logs[s->n_logs++] = drv;
        return 0;
}

static int on_hook_fd(const char *target, void *userdata) {
        BuildHook *h = userdata;
        if (h->slot_uri)
                return 0;
        int r = buildhook_parse_slot_lock(target, &h->slot_uri);
        return r < 0 ? r : 0;
}

/* The pipe on fd 0 of pid: 1 with *ret, 0 not a pipe, -ESRCH gone. */
static int stdin_pipe(const char *root, pid_t pid, uint64_t *ret) {
        char path[PATH_MAX], target[256];
        if (snprintf(path, sizeof(path), "%s/%d/fd/0", root, (int) pid) >= (int) sizeof(path))
                return -ENAMETOOLONG;
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
        target[n] = '\0';
        return buildhook_parse_pipe(target, ret) == 0 ? 1 : 0;
}

static int hook_cmp(const void *a, const void *b) {
        const BuildHook *x = a, *y = b;
        if (x->starttime != y->starttime)
                return x->starttime < y->starttime ? -1 : 1;
        return (x->pid > y->pid) - (x->pid < y->pid);
}

/* The descendants of h among the processes read (ppid chains), breadth first. */
static int hook_descendants(BuildHook *h, const ProcStat *all, size_t n) {
        h->procs = calloc(HOOK_PROCS, sizeof(pid_t));
        if (!h->procs)
                return -ENOMEM;
        pid_t parent = h->pid;
        for (size_t next = 0;;) {
                for (size_t i = 0; i < n && h->n_procs < HOOK_PROCS; i++)
                        if (all[i].ppid == parent && all[i].pid != h->pid)
                                h->procs[h->n_procs++] = all[i].pid;
                if (next >= h->n_procs)
                        return 0;
                parent = h->procs[next++];
        }
}

static int hook_read(const char *root, const ProcStat *st, const NixFds *nix, const ProcStat *all, size_t n,
                     BuildHook *ret) {
        _cleanup_free_ char *cmd = NULL;
        size_t len;
        int r = procfs_read(root, st->pid, "cmdline", CMDLINE_MAX, &cmd, &len);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        if (!buildhook_cmdline_is_hook(cmd, len))
                return 0;
        BuildHook h = {.pid = st->pid, .pgid = st->pgid, .starttime = st->starttime, .state = st->state};
        uint64_t ino;
        r = stdin_pipe(root, st->pid, &ino);
        if (r == -ESRCH)
                return 0;
        /* Nix closes its end of the hook's stdin once the hook took a build; a hook that
         * still waits for a request is the one the nix process keeps for its next build.
         * An unreadable stdin (r < 0) leaves the hook not accepted: nothing is guessed. */
        bool held = r < 0;
        for (size_t i = 0; r == 1 && i < nix->n_pipes && !held; i++)
                held = nix->pipes[i] == ino;
        h.accepted = !held;
        if (procfs_foreach_fd(root, st->pid, "/", on_hook_fd, &h) == -ENOMEM ||
            hook_descendants(&h, all, n) < 0) {
                free(h.slot_uri);
                free(h.procs);
                return -ENOMEM;
        }
        *ret = h;
        return 1;
}

int buildhook_scan(const char *proc_root, const char *store_dir, pid_t nix_pid, BuildHookScan *ret) {
        ProcStat nix;
        int r = procfs_read_stat(proc_root, nix_pid, &nix);
        if (r < 0)
                return r;
        if (nix.state == 'Z' || nix.state == 'X')
                return -ESRCH;

        _cleanup_free_ pid_t *pids = NULL;
        int n = procfs_list_pids(proc_root, &pids);
        if (n < 0)
                return n;
        _cleanup_free_ ProcStat *all = calloc((size_t) n + 1, sizeof(ProcStat));
        _cleanup_free_ uint64_t *pipes = calloc(NIX_PIPES, sizeof(uint64_t));
        if (!all || !pipes)
                return -ENOMEM;
        size_t n_all = 0;
        for (int i = 0; i < n; i++)
                if (procfs_read_stat(proc_root, pids[i], &all[n_all]) == 0)
                        n_all++;

        BuildHookScan s = {};
        NixFds nf = {.pipes = pipes, .scan = &s, .store_dir = store_dir};
        r = procfs_foreach_fd(proc_root, nix_pid, "", on_nix_fd, &nf);
        if (r < 0) {
                buildhook_scan_done(&s);
                return r;
        }
        for (size_t i = 0; i < n_all && s.n_hooks < HOOKS_MAX; i++) {
                if (all[i].ppid != nix_pid)
                        continue;
                BuildHook h;
                r = hook_read(proc_root, &all[i], &nf, all, n_all, &h);
                if (r == 0)
                        continue;
                BuildHook *grown = r > 0 ? realloc(s.hooks, (s.n_hooks + 1) * sizeof(BuildHook)) : NULL;
                if (!grown) {
                        if (r > 0) {
                                free(h.slot_uri);
                                free(h.procs);
                        }
                        buildhook_scan_done(&s);
                        return -ENOMEM;
                }
                s.hooks = grown;
                s.hooks[s.n_hooks++] = h;
        }
        if (s.n_hooks > 1)
                qsort(s.hooks, s.n_hooks, sizeof(BuildHook), hook_cmp);
        *ret = s;
        return 0;
}

static bool holds_log(const BuildHookScan *s, const char *drv) {
        for (size_t i = 0; i < s->n_logs; i++)
                if (strcmp(s->logs[i], drv) == 0)
                        return true;
        return false;
}

static bool hook_serving(const BuildHook *h) {
        return h->accepted && h->state != 'Z' && h->state != 'X';
}

ssize_t buildhook_match(const BuildHookScan *s, const RemoteBuildRef *builds, size_t n_builds, size_t target,
                        BuildHookMiss *ret_miss) {
        *ret_miss = BUILDHOOK_MISS_NONE;
        if (target >= n_builds)
                return -1;
        /* Without any log open (keep-log off, or nothing running) the logs say nothing. */
        bool by_log = s->n_logs > 0;
        if (by_log && !holds_log(s, builds[target].drv)) {
                *ret_miss = BUILDHOOK_MISS_ENDED;
                return -1;
        }
        size_t n_hooks = 0;
        for (size_t i = 0; i < s->n_hooks; i++)
                n_hooks += hook_serving(&s->hooks[i]);
        if (n_hooks == 0) {
                *ret_miss = BUILDHOOK_MISS_NO_HOOKS;
                return -1;
        }

        /* The builds still served, in order of dispatch: position k is served by the k-th
         * hook that accepted. */
        size_t pos = 0, n_live = 0;
        for (size_t i = 0; i < n_builds; i++) {
                if (by_log && !holds_log(s, builds[i].drv))
                        continue;
                n_live++;
                if (i != target && builds[i].dispatch_seq < builds[target].dispatch_seq)
                        pos++;
        }
        if (n_live != n_hooks) {
                *ret_miss = BUILDHOOK_MISS_COUNT;
                return -1;
        }

        /* Every pair must agree on the machine, or the order is not what it seems. */
        for (size_t i = 0; i < n_builds; i++) {
                if (by_log && !holds_log(s, builds[i].drv))
                        continue;
                size_t k = 0;
                for (size_t j = 0; j < n_builds; j++)
                        if (j != i && (!by_log || holds_log(s, builds[j].drv)) &&
                            builds[j].dispatch_seq < builds[i].dispatch_seq)
                                k++;
                const BuildHook *h = NULL;
                for (size_t j = 0, seen = 0; j < s->n_hooks && !h; j++)
                        if (hook_serving(&s->hooks[j]) && seen++ == k)
                                h = &s->hooks[j];
                if (h && h->slot_uri && !slot_is_machine(h->slot_uri, builds[i].machine)) {
                        *ret_miss = BUILDHOOK_MISS_MACHINE;
                        return -1;
                }
        }
        for (size_t j = 0, seen = 0; j < s->n_hooks; j++)
                if (hook_serving(&s->hooks[j]) && seen++ == pos)
                        return (ssize_t) j;
        return -1; /* not reached: pos < n_live == n_hooks */
}

const char *buildhook_miss_to_string(BuildHookMiss m) {
        switch (m) {
        case BUILDHOOK_MISS_ENDED:
                return "its nix process already closed its build log: the build is ending";
        case BUILDHOOK_MISS_COUNT:
                return "its nix process runs a different number of build hooks than remote builds "
                       "(a dispatch or an end is under way, or the daemon did not see every dispatch)";
        case BUILDHOOK_MISS_MACHINE:
                return "a build hook holds a slot of another machine than its build's";
        case BUILDHOOK_MISS_NO_HOOKS:
                return "its nix process runs no build hook that took a build";
        default:
                return "no build hook matched";
        }
}
