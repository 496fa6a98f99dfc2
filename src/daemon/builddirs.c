/* Build directories measured off the loop (see builddirs.h). */
#include "daemon/builddirs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/sampler.h"
#include "daemon/tracker.h"
#include "daemon/work-queue.h"
#include "shared/dirsize.h"
#include "shared/pidref.h"

#define INTERVAL         (5 * USEC_PER_SEC)
#define WALK_BUDGET      (1 * USEC_PER_SEC) /* per build */
#define BUILDS_MAX       32                 /* per round: the rest wait for the next */
#define BUILD_DIR_MAX_UP 64                 /* levels climbed from a builder's cwd at most */

typedef struct Measure {
        uint64_t key;
        pid_t pid;
        uint64_t start;
        /* out */
        int error;
        char *path;
        DirSize size;
} Measure;

typedef struct Round {
        WorkItem item; /* first: the queue hands items back */
        Measure m[BUILDS_MAX];
        size_t n;
} Round;

struct BuildDirs {
        Daemon *d;
        char *proc_root; /* the worker's copy */
        WorkQueue *queue;
        sd_event_source *timer;
        bool out;          /* a round is on the worker */
        uint64_t next_key; /* the next round starts at this build key */
        uint64_t rounds;
};

/* ---- on the worker ---- */

/* The directory above fd ("..", never a symbolic link), if it is on the same filesystem and
 * owned by uid: its fd (and *st), else -1. */
static int parent_owned(int fd, const struct stat *cur, uid_t uid, struct stat *st) {
        int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (parent < 0)
                return -1;
        if (fstat(parent, st) < 0 || st->st_uid != uid || st->st_dev != cur->st_dev ||
            (st->st_ino == cur->st_ino && st->st_dev == cur->st_dev)) {
                close(parent);
                return -1;
        }
        return parent;
}

/* The build directory of the builder, opened through its cwd: the kernel's link to the
 * directory, not a path anyone can swap, then ".." (never a symbolic link) up to the build
 * directory. A builder under a build user owns its build directory and Nix (root) owns the
 * one above (TMPDIR, build-dir, <state>/builds, a sandbox's root): the highest directory of
 * the builder's user above its cwd, on the same filesystem. A builder running as root owns
 * everything: then the build directory is known by its name only (dir_size_build_dir), and
 * must be root's. Its path is the one the daemon sees (outside a sandbox). */
static int open_build_dir(const char *proc_root, Measure *m, int *ret_fd) {
        char p[64 + PATH_MAX];
        snprintf(p, sizeof(p), "%s/%d", proc_root, (int) m->pid);
        struct stat proc, cur;
        if (stat(p, &proc) < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        snprintf(p, sizeof(p), "%s/%d/cwd", proc_root, (int) m->pid);
        unsigned up = BUILD_DIR_MAX_UP;
        if (proc.st_uid == 0) {
                char cwd[PATH_MAX];
                ssize_t n = readlink(p, cwd, sizeof(cwd) - 1);
                if (n < 0)
                        return errno == ENOENT ? -ESRCH : -errno;
                cwd[n] = '\0';
                _cleanup_free_ char *named = NULL;
                int k = dir_size_build_dir(cwd, &named, &up);
                if (k < 0)
                        return k;
        }
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        if (fstat(fd, &cur) < 0 || cur.st_uid != proc.st_uid) {
                close(fd);
                return -EPERM; /* its cwd is not its own: nothing of it to measure */
        }
        for (unsigned i = 0; i < up; i++) {
                struct stat st;
                int parent = parent_owned(fd, &cur, proc.st_uid, &st);
                if (parent < 0) {
                        if (proc.st_uid == 0) { /* the name said how far: it must be there */
                                close(fd);
                                return -EPERM;
                        }
                        break;
                }
                close(fd);
                fd = parent;
                cur = st;
        }
        /* Its path as the daemon sees it: where a user looks at it from outside. */
        char self[64], path[PATH_MAX];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(self, path, sizeof(path) - 1);
        if (n > 0) {
                path[n] = '\0';
                m->path = strdup(path);
        }
        *ret_fd = fd;
        return 0;
}

static void round_run(WorkItem *item, void *userdata) {
        BuildDirs *bd = userdata; /* only proc_root, which never changes */
        Round *r = (Round *) item;
        for (size_t i = 0; i < r->n; i++) {
                Measure *m = &r->m[i];
                int fd = -1;
                m->error = open_build_dir(bd->proc_root, m, &fd);
                /* Still the builder it was (not a pid reused meanwhile)? */
                if (m->error >= 0 && pidref_check_pid(bd->proc_root, m->pid, m->start) < 0)
                        m->error = -ESRCH;
                if (m->error >= 0)
                        m->error = dir_size(fd, WALK_BUDGET, &m->size);
                if (fd >= 0)
                        close(fd);
        }
}

/* ---- on the loop ---- */

static void round_release(WorkItem *item) {
        Round *r = (Round *) item;
        for (size_t i = 0; i < r->n; i++)
                free(r->m[i].path);
        free(r);
}

static void round_done(WorkItem *item, void *userdata) {
        BuildDirs *bd = userdata;
        Round *r = (Round *) item;
        bd->out = false;
        usec_t now = now_realtime();
        for (size_t i = 0; i < r->n; i++) {
                Measure *m = &r->m[i];
                Build *b = model_build_by_key(bd->d->model, m->key);
                if (!b || b->state != BUILD_RUNNING)
                        continue;
                if (m->error < 0) {
                        if (m->error != -ESRCH && m->error != -ENOENT)
                                log_debug("build %s: cannot measure its build directory: %s", b->drv,
                                          strerror(-m->error));
                        continue;
                }
                BuildDirUsage u = {
                        .path = m->path,
                        .used = m->size.bytes,
                        .truncated = m->size.truncated,
                        .fs_free = m->size.fs_free,
                        .fs_size = m->size.fs_size,
                        .fs_nearly_full = dir_size_fs_nearly_full(&m->size),
                        .at = now,
                };
                (void) model_build_set_dir_usage(bd->d->model, b, &u);
        }
        round_release(item);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        BuildDirs *bd = userdata;
        Daemon *d = bd->d;
        (void) sd_event_source_set_time(s, usec + INTERVAL);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (bd->out)
                return 0; /* the last round is still walking: no second one behind it */
        Round *r = calloc(1, sizeof(*r));
        if (!r)
                return 0;
        /* Local running builds whose builder the sampler found, by key from where the last
         * round stopped, so that more than BUILDS_MAX all get their turn. */
        for (size_t pass = 0; pass < 2 && r->n < BUILDS_MAX; pass++)
                for (Build *b = model_builds_first(d->model); b && r->n < BUILDS_MAX; b = b->next) {
                        if ((pass == 0) != (b->key >= bd->next_key) || b->state != BUILD_RUNNING ||
                            (b->machine && b->machine[0]))
                                continue;
                        Tracked *t = sampler_find(d->sampler, b->key);
                        if (!t || t->builder_gone || t->builder <= 0)
                                continue;
                        r->m[r->n++] =
                                (Measure){.key = b->key, .pid = t->builder, .start = t->builder_start};
                        bd->next_key = b->key + 1;
                }
        if (r->n == 0) {
                free(r);
                return 0;
        }
        r->item = (WorkItem){.run = round_run, .done = round_done, .release = round_release};
        if (work_queue_submit(bd->queue, &r->item) < 0) {
                free(r);
                return 0;
        }
        bd->out = true;
        bd->rounds++;
        return 0;
}

int build_dirs_new(Daemon *d, BuildDirs **ret) {
        BuildDirs *bd = calloc(1, sizeof(*bd));
        if (!bd)
                return -ENOMEM;
        bd->d = d;
        const char *root = d->config.model.proc_root ? d->config.model.proc_root : "/proc";
        int r;
        if (!(bd->proc_root = strdup(root)))
                r = -ENOMEM;
        else if ((r = work_queue_new(d->event, "build dirs", 1, bd, &bd->queue)) >= 0)
                r = sd_event_add_time_relative(d->event, &bd->timer, CLOCK_MONOTONIC, INTERVAL, 0, on_timer,
                                               bd);
        if (r < 0) {
                build_dirs_free(bd);
                return r;
        }
        *ret = bd;
        return 0;
}

BuildDirs *build_dirs_free(BuildDirs *bd) {
        if (!bd)
                return NULL;
        /* First: the thread may be walking for us. */
        work_queue_free(bd->queue);
        sd_event_source_disable_unref(bd->timer);
        free(bd->proc_root);
        free(bd);
        return NULL;
}
