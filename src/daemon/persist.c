/* Continuity across restarts (see the header).
 *
 * The state file is the document of shared/resume.h, written whole to "<path>.tmp", synced
 * and renamed over <path>, so a daemon killed at any moment leaves the previous document or
 * the new one. The model is serialised on the loop (a few hundred bytes per running build);
 * the write and its fsync run on a work queue thread, at most one at a time, every
 * cfg.interval while builds run (and once more when the last one ended), never per event.
 * Nothing is written before the records read at start were all taken or resolved, so a
 * restart loop never loses them.
 *
 * A record not taken by rediscovery is a build that ended while the daemon was down. What
 * Nix left says how: its outputs valid in Nix's database => succeeded, else failed; its end
 * is the build log's modification time (Nix writes it until the build ends), else the
 * outputs' registration time, else unknown (then the daemon's start: the row is marked
 * approximate in any case). Those reads run on the work queue too. */
#include "daemon/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "daemon/daemon.h"
#include "daemon/history-writer.h"
#include "daemon/work-queue.h"
#include "shared/drv.h"
#include "shared/history.h"
#include "shared/store-db.h"
#include "shared/storepath.h"

struct Persist {
        Daemon *d;
        char *path, *store_dir, *nix_db, *nix_log_dir;
        usec_t interval;
        sd_event_source *timer;
        WorkQueue *queue;
        ResumeBuild *records; /* read at start */
        size_t n_records;
        bool ready;          /* rediscovery done: the file follows the model */
        bool writing;        /* a write is on the queue */
        size_t last_written; /* builds in the last document written */
        bool written_once;
};

/* ---- writing ---- */

static int write_atomic(const char *path, const char *data, size_t len) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, data + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        (void) unlink(tmp);
                        return r;
                }
                off += (size_t) n;
        }
        if (fsync(fd) < 0 || rename(tmp, path) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

typedef struct WriteJob {
        WorkItem item;
        char *path, *data;
        size_t count;
        int r;
} WriteJob;

static void write_job_release(WorkItem *item) {
        WriteJob *j = (WriteJob *) item;
        free(j->path);
        free(j->data);
        free(j);
}

static void write_job_run(WorkItem *item, void *userdata) {
        WriteJob *j = (WriteJob *) item;
        j->r = write_atomic(j->path, j->data, strlen(j->data));
}

static void write_job_done(WorkItem *item, void *userdata) {
        Persist *p = userdata;
        WriteJob *j = (WriteJob *) item;
        p->writing = false;
        if (j->r < 0)
                log_warning_errno(j->r, "cannot write the state file %s: %m", j->path);
        else {
                p->last_written = j->count;
                p->written_once = true;
        }
        write_job_release(item);
}

/* The document now, or NULL. */
static char *snapshot(Persist *p, size_t *ret_count) {
        char *s = NULL;
        int r = resume_snapshot(p->d->model, now_realtime(), &s, ret_count);
        if (r < 0) {
                log_warning_errno(r, "cannot describe the running builds for the state file: %m");
                return NULL;
        }
        return s;
}

static void save_async(Persist *p) {
        if (!p->ready || p->writing)
                return;
        size_t count;
        _cleanup_free_ char *data = snapshot(p, &count);
        if (!data || (count == 0 && p->last_written == 0 && p->written_once))
                return; /* nothing runs, and the file says so already */
        WriteJob *j = calloc(1, sizeof(*j));
        if (!j || !(j->path = strdup(p->path))) {
                free(j);
                return;
        }
        j->item = (WorkItem){.run = write_job_run, .done = write_job_done, .release = write_job_release};
        j->data = TAKE_PTR(data);
        j->count = count;
        if (work_queue_submit(p->queue, &j->item) < 0) {
                write_job_release(&j->item);
                return;
        }
        p->writing = true;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Persist *p = userdata;
        save_async(p);
        (void) sd_event_source_set_time_relative(s, p->interval);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* ---- builds that ended while the daemon was down ---- */

typedef struct ResolveJob {
        WorkItem item;
        char *store_dir, *nix_db, *nix_log_dir;
        StoreDb *db;         /* the worker's own handle */
        usec_t fallback_end; /* the daemon's start */
        ResumeBuild *records;
        size_t n;
        HistoryRecord *rows;
} ResolveJob;

static void resolve_job_release(WorkItem *item) {
        ResolveJob *j = (ResolveJob *) item;
        for (size_t i = 0; j->rows && i < j->n; i++)
                history_record_done(&j->rows[i]);
        free(j->rows);
        store_db_free(j->db);
        resume_builds_free(j->records, j->n);
        free(j->store_dir);
        free(j->nix_db);
        free(j->nix_log_dir);
        free(j);
}

static usec_t statx_usec(const struct statx_timestamp *t) {
        return t->tv_sec < 0 ? 0 : (usec_t) t->tv_sec * USEC_PER_SEC + t->tv_nsec / 1000;
}

/* The times of the build log Nix keeps for drv (<dir>/<2 chars>/<rest>[.bz2]): made when the
 * build started (*ret_born; 0 when the filesystem does not keep it) and last written, when it
 * ended (*ret_modified). 0 when there is none. */
static int build_log_times(const char *log_dir, const char *store_dir, const char *drv, usec_t *ret_born,
                           usec_t *ret_modified) {
        *ret_born = *ret_modified = 0;
        const char *base = startswith(drv, store_dir);
        if (!base || *base != '/' || strlen(base + 1) < 3 || strchr(base + 1, '/'))
                return 0;
        base++;
        static const char *const suffixes[] = {".bz2", ""};
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *path = NULL;
                struct statx stx;
                if (asprintf(&path, "%s/%.2s/%s%s", log_dir, base, base + 2, suffixes[i]) < 0)
                        return -ENOMEM;
                if (statx(AT_FDCWD, path, 0, STATX_TYPE | STATX_MTIME | STATX_BTIME, &stx) < 0 ||
                    !S_ISREG(stx.stx_mode))
                        continue;
                *ret_modified = statx_usec(&stx.stx_mtime);
                if (stx.stx_mask & STATX_BTIME)
                        *ret_born = statx_usec(&stx.stx_btime);
                return 1;
        }
        return 0;
}

/* 1 when every output of drv is valid in the store (with the latest registration time), 0
 * when one is not, < 0 when that cannot be told. */
static int outputs_valid(ResolveJob *j, const char *drv, usec_t *ret_registered) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        DrvOutput *outs = NULL;
        int r = store_file_read(j->store_dir, drv, STORE_DRV_MAX, &buf, &len);
        int n = r < 0 ? r : drv_parse_outputs(buf, len, &outs);
        if (n <= 0)
                return n < 0 ? n : -EBADMSG;
        usec_t latest = 0;
        r = 1;
        for (int i = 0; i < n && r == 1; i++) {
                usec_t t = 0;
                if (!outs[i].path[0]) {
                        r = -EOPNOTSUPP; /* content-addressed: its path is not in the .drv */
                        break;
                }
                /* Nix holding its lock is a moment: this is a worker thread, it may wait. */
                r = j->db ? store_db_path_registered(j->db, outs[i].path, &t) : -ENOENT;
                for (int tries = 0; r == -EAGAIN && tries < 20; tries++) {
                        (void) usleep(50 * 1000);
                        r = store_db_path_registered(j->db, outs[i].path, &t);
                }
                if (r < 0) {
                        /* Nix's database unreadable: a path present in the store is the next
                         * best sign (Nix registers it before the build ends). */
                        struct stat st;
                        r = lstat(outs[i].path, &st) == 0 ? 1 : 0;
                }
                latest = MAX(latest, t);
        }
        drv_outputs_free(outs, (size_t) n);
        if (r == 1)
                *ret_registered = latest;
        return r;
}

/* The history row of a build that ended while the daemon was down: 1 (in *rec), 0 when there
 * is none to write (a queued build Nix did not start meanwhile), -ENOMEM. */
static int resolve_one(ResolveJob *j, const ResumeBuild *b, HistoryRecord *rec) {
        usec_t registered = 0, born, end;
        (void) build_log_times(j->nix_log_dir, j->store_dir, b->drv, &born, &end);
        usec_t started = b->started;
        if (!started) {
                /* Queued at the stop: it ran meanwhile only if Nix made its log since (a log
                 * of an earlier build of it is older). Its start is when the log was made;
                 * where the filesystem does not keep that, it is not known. */
                if (!end || end < b->queued || (born && born < b->queued))
                        return 0;
                started = born;
        }
        int valid = outputs_valid(j, b->drv, &registered);
        if (end < started)
                end = registered >= started ? registered : 0;
        if (!end)
                end = MAX(j->fallback_end, started);
        HistoryRecord r = {
                .requester_uid = b->requester.uid,
                .untrusted = b->untrusted,
                .queued = b->queued ? b->queued : started,
                .started = started,
                .finished = end,
                .exit_code = -1,
                .usage = b->usage,
                .approximate = true,
        };
        r.usage.cpu_percent = 0;
        const char *msg =
                valid > 0 ? NULL
                : valid == 0
                        ? "ended while nix-analyticsd was down; its outputs are not valid in the store"
                        : "ended while nix-analyticsd was down; whether its outputs are valid is unknown";
        if (!(r.kind = strdup("build")) || !(r.drv = strdup(b->drv)) || !(r.name = strdup(b->name)) ||
            !(r.pname = drv_name_pname(b->name)) || !(r.machine = strdup("")) ||
            !(r.state = strdup(valid > 0 ? "succeeded" : "failed")) ||
            (b->requester.user && !(r.requester_user = strdup(b->requester.user))) ||
            (b->requester.cmdline && !(r.requester_cmdline = strdup(b->requester.cmdline))) ||
            (msg && (!(r.failure_kind = strdup(failure_kind_to_string(FAILURE_NO_OUTPUTS))) ||
                     !(r.failure_message = strdup(msg)))) ||
            history_timeline_blob(&b->timeline, &r.timeline, &r.timeline_len) < 0) {
                history_record_done(&r);
                return -ENOMEM;
        }
        *rec = r;
        return 1;
}

static void resolve_job_run(WorkItem *item, void *userdata) {
        ResolveJob *j = (ResolveJob *) item;
        (void) store_db_new(j->nix_db, &j->db);
        j->rows = calloc(j->n, sizeof(HistoryRecord));
        for (size_t i = 0; j->rows && i < j->n; i++)
                if (resolve_one(j, &j->records[i], &j->rows[i]) <= 0)
                        j->rows[i] = (HistoryRecord){.requester_uid = -1, .exit_code = -1};
}

static void resolve_job_done(WorkItem *item, void *userdata) {
        Persist *p = userdata;
        ResolveJob *j = (ResolveJob *) item;
        for (size_t i = 0; j->rows && i < j->n; i++) {
                if (!j->rows[i].drv)
                        continue;
                log_info("build %s ended while the daemon was down: %s, recorded in history (approximate)",
                         j->rows[i].drv, j->rows[i].state);
                history_writer_record_row(p->d->history, &j->rows[i]);
        }
        resolve_job_release(item);
}

void persist_rediscovery_done(Persist *p) {
        if (!p || p->ready)
                return;
        p->ready = true;
        size_t n = 0;
        for (size_t i = 0; i < p->n_records; i++)
                n += !p->records[i].matched;
        ResolveJob *j = n ? calloc(1, sizeof(*j)) : NULL;
        if (j && (j->records = calloc(n, sizeof(ResumeBuild))) && (j->store_dir = strdup(p->store_dir)) &&
            (j->nix_db = strdup(p->nix_db)) && (j->nix_log_dir = strdup(p->nix_log_dir))) {
                j->item = (WorkItem){
                        .run = resolve_job_run, .done = resolve_job_done, .release = resolve_job_release};
                j->fallback_end = now_realtime();
                for (size_t i = 0; i < p->n_records; i++)
                        if (!p->records[i].matched) {
                                j->records[j->n++] = p->records[i];
                                p->records[i] = (ResumeBuild){.matched = true};
                        }
                if (work_queue_submit(p->queue, &j->item) < 0) {
                        log_warning("cannot look up %zu build(s) that ended while the daemon was down", n);
                        resolve_job_release(&j->item);
                }
        } else if (j) {
                log_warning(
                        "cannot look up %zu build(s) that ended while the daemon was down: out of memory",
                        n);
                resolve_job_release(&j->item);
        }
        resume_builds_free(p->records, p->n_records);
        p->records = NULL;
        p->n_records = 0;
        save_async(p);
}

const ResumeBuild *persist_take(Persist *p, const char *drv, pid_t nix_pid, uint64_t nix_start) {
        for (size_t i = 0; p && i < p->n_records; i++) {
                ResumeBuild *r = &p->records[i];
                if (!r->matched && r->drv && strcmp(r->drv, drv) == 0 && r->nix_pid == nix_pid &&
                    (r->nix_start == 0 || nix_start == 0 || r->nix_start == nix_start)) {
                        r->matched = true;
                        return r;
                }
        }
        return NULL;
}

/* ---- start and stop ---- */

static void load(Persist *p) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_full_file(p->path, RESUME_FILE_MAX + 1, &buf, &len);
        if (r == -ENOENT)
                return;
        if (r >= 0)
                r = resume_parse(buf, len, &p->records, &p->n_records);
        if (r < 0) {
                log_warning_errno(r, "state file %s: cannot read it, starting without: %m", p->path);
                return;
        }
        log_info("state file %s: %zu build(s) were queued or running at the last stop", p->path,
                 p->n_records);
}

int persist_new(Daemon *d, const PersistConfig *cfg, Persist **ret) {
        if (!cfg->path) {
                *ret = NULL;
                return 0;
        }
        Persist *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = (Persist){.d = d, .interval = cfg->interval ? cfg->interval : PERSIST_INTERVAL_DEFAULT};
        int r = -ENOMEM;
        if (!(p->path = strdup(cfg->path)) || !(p->store_dir = strdup(cfg->store_dir)) ||
            !(p->nix_db = strdup(cfg->nix_db)) ||
            !(p->nix_log_dir = strdup(cfg->nix_log_dir ? cfg->nix_log_dir : PERSIST_LOG_DIR_DEFAULT)) ||
            (r = work_queue_new(d->event, "state file", 2, p, &p->queue)) < 0 ||
            (r = sd_event_add_time_relative(d->event, &p->timer, CLOCK_MONOTONIC, p->interval,
                                            USEC_PER_SEC / 10, on_timer, p)) < 0) {
                persist_free(p);
                return r;
        }
        load(p);
        *ret = p;
        return 0;
}

Persist *persist_free(Persist *p) {
        if (!p)
                return NULL;
        sd_event_source_disable_unref(p->timer);
        /* First: a write may be running; then the last word, written here. */
        p->queue = work_queue_free(p->queue);
        if (p->ready && p->d->model) {
                size_t count;
                _cleanup_free_ char *data = snapshot(p, &count);
                int r = data ? write_atomic(p->path, data, strlen(data)) : -ENOMEM;
                if (r < 0)
                        log_warning_errno(r, "cannot write the state file %s: %m", p->path);
                else if (count)
                        log_info("state file %s: %zu running build(s) kept for the next start", p->path,
                                 count);
        }
        resume_builds_free(p->records, p->n_records);
        free(p->path);
        free(p->store_dir);
        free(p->nix_db);
        free(p->nix_log_dir);
        free(p);
        return NULL;
}
