/* OOM kills as events (oom.h).
 *
 * Two witnesses, one record per kill. The kernel log is quick (read as the kill happens) and
 * names the victim and its memory cgroup, but is root's only and absent in many containers.
 * A build group's count is always there but comes with the sampler's full reads and names no
 * one. So each Tracked build counts the kills recorded for it: a log record for a build's
 * group records one (and counts it), a count beyond what was recorded records the rest with
 * no victim yet, and a later log record for that build fills the first such blank rather
 * than adding a kill.
 *
 * The kernel logs a victim's pid in the initial pid namespace. A daemon in a child one (a
 * container) sees other pids: there the kernel's number is the victim's host_pid, and its own
 * pid is told by its build (found by memory cgroup): the one process of the build's last
 * sample with the victim's command that the kill reached (gone, dead, exiting or with SIGKILL
 * pending) when the log's record is read, a moment after the kill. */
#include "daemon/oom.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/sampler-oom.h"
#include "daemon/sampler.h"
#include "shared/history.h"
#include "shared/json-read.h"
#include "shared/kmsg.h"
#include "shared/procfs.h"

#define KMSG_RECORD_MAX    8192               /* a read smaller than the record fails (EINVAL) */
#define KMSG_READS_PER_RUN 64                 /* then back to the loop; the rest on its next turn */
#define SETTLE_USEC        (2 * USEC_PER_SEC) /* a count's event waits this for the log's word */
#define ADD_PER_COUNT_MAX  8                  /* events one count adds at most (the rest only counted) */
#define CANDIDATES_MAX     8 /* a build's processes with the victim's command looked at, at most */
#define PF_EXITING         0x4U
#define SIGKILL_BIT        (UINT64_C(1) << (SIGKILL - 1)) /* in SigPnd/ShdPnd of <pid>/status */
/* The initial pid namespace's inode (PROC_PID_INIT_INO, include/linux/proc_ns.h): fixed by the
 * kernel, every other namespace's is allocated from 0xF0000000 on. */
#define PIDNS_INIT_INO 0xEFFFFFFCU

typedef struct OomTop {
        uint64_t key, mem;
        char *drv, *name;
        int64_t requester_uid;
} OomTop;

typedef struct OomEvent {
        uint64_t id;
        usec_t time, recorded_mono;
        const char *source; /* "cgroup", "kmsg", "cgroup+kmsg" */
        pid_t pid;          /* ours; 0: not known */
        pid_t host_pid;     /* the kernel's (the initial namespace's); 0: not named yet */
        char *command, *memcg, *constraint;
        bool written; /* queued for history */
        /* the build it belonged to (key 0: not a build's) */
        uint64_t key;
        char *drv, *name, *requester_user;
        int64_t requester_uid;
        uint64_t mem_limit, mem_peak;
        /* not a build's: the builds that held the most memory */
        OomTop top[OOM_TOP];
        unsigned n_top;
} OomEvent;

struct Oom {
        Daemon *d;
        bool child_pidns;                /* the kernel's pids are not ours */
        OomEvent events[OOM_EVENTS_MAX]; /* oldest first */
        unsigned n;
        uint64_t next_id, total, dropped, uncounted;
        uint64_t kills_build, kills_other;

        char *kmsg_path;
        int kmsg_fd;
        sd_event_source *kmsg_source;
        const char *kmsg_state; /* "reading", "unavailable", "disabled" */
        char *kmsg_error;
        uint64_t kmsg_records, kmsg_bad, kmsg_lost;
        KmsgOom pending; /* an "oom-kill:" record waiting for its "Killed process" one */
        bool has_pending;
};

static void event_done(OomEvent *e) {
        free(e->command);
        free(e->memcg);
        free(e->constraint);
        free(e->drv);
        free(e->name);
        free(e->requester_user);
        for (unsigned i = 0; i < e->n_top; i++) {
                free(e->top[i].drv);
                free(e->top[i].name);
        }
        *e = (OomEvent){};
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static cJSON *top_json(const OomEvent *e) {
        cJSON *a = cJSON_CreateArray();
        for (unsigned i = 0; a && i < e->n_top; i++) {
                cJSON *t = cJSON_CreateObject();
                if (!t || !cJSON_AddItemToArray(a, t)) {
                        cJSON_Delete(t);
                        break;
                }
                cJSON_AddNumberToObject(t, "key", (double) e->top[i].key);
                cJSON_AddStringToObject(t, "drv", e->top[i].drv ? e->top[i].drv : "");
                cJSON_AddStringToObject(t, "name", e->top[i].name ? e->top[i].name : "");
                cJSON_AddNumberToObject(t, "mem", (double) e->top[i].mem);
                if (e->top[i].requester_uid >= 0)
                        cJSON_AddNumberToObject(t, "requester_uid", (double) e->top[i].requester_uid);
                else
                        cJSON_AddNullToObject(t, "requester_uid");
        }
        return a;
}

/* Where does the daemon run: in the initial pid namespace, whose pids the kernel logs, or in
 * a child one? The namespace's inode says it for sure (the initial one's is fixed). Not pid
 * 1's namespace (in a container that is the container's), nor NSpid in /proc/self/status (it
 * lists pids from the namespace of the /proc mount down: a container's own /proc shows one). */
static bool in_child_pidns(void) {
        struct stat st;
        if (stat("/proc/self/ns/pid", &st) < 0) {
                /* No namespaces in this kernel: there is only the initial one. */
                if (errno == ENOENT)
                        return false;
                log_warning_errno(-errno,
                                  "/proc/self/ns/pid: %m: the kernel log's pids are taken as not ours");
                return true;
        }
        return st.st_ino != PIDNS_INIT_INO;
}

/* Did the kill reach pid (sampled with starttime)? Gone, another process's now, dead, exiting,
 * or with SIGKILL pending. */
static bool killed(const char *root, pid_t pid, uint64_t starttime) {
        ProcStat st;
        int r = procfs_read_stat(root, pid, &st);
        if (r == -ESRCH || r == -ENOENT)
                return true;
        if (r < 0)
                return false;
        if (st.starttime != starttime || st.state == 'Z' || st.state == 'X' || (st.flags & PF_EXITING))
                return true;
        _cleanup_free_ char *status = NULL;
        size_t len = 0;
        if (procfs_read(root, pid, "status", 16384, &status, &len) < 0)
                return false;
        static const char *const pending[] = {"SigPnd", "ShdPnd"};
        for (size_t i = 0; i < ELEMENTSOF(pending); i++) {
                size_t n = 0;
                const char *v = procfs_field(status, len, pending[i], &n);
                _cleanup_free_ char *hex = v ? strndup(v, n) : NULL;
                if (hex && (strtoull(hex, NULL, 16) & SIGKILL_BIT))
                        return true;
        }
        return false;
}

/* A child namespace's victim: the one process of t's last sample with its command that the
 * kill reached. None, or more than one (its group killed at once): not told. */
static pid_t victim_local_pid(Oom *o, const Tracked *t, const char *comm) {
        const char *root = o->d->sampler ? sampler_proc_root(o->d->sampler) : "/proc";
        pid_t found = 0;
        unsigned looked = 0;
        for (uint32_t i = 0; i < t->n_procs; i++) {
                const TrackedProc *p = &t->procs[i];
                if (strcmp(p->st.comm, comm) != 0)
                        continue;
                if (++looked > CANDIDATES_MAX)
                        return 0;
                if (!killed(root, p->st.pid, p->st.starttime))
                        continue;
                if (found)
                        return 0;
                found = p->st.pid;
        }
        return found;
}

/* The event as written to history, once it is settled. */
static void write_history(Oom *o, OomEvent *e) {
        if (e->written || !o->d->history)
                return;
        e->written = true;
        HistoryOom h = {
                .time = e->time,
                .source = e->source,
                .pid = e->pid,
                .host_pid = e->host_pid,
                .requester_uid = e->key ? e->requester_uid : -1,
                .mem_limit = e->mem_limit,
                .mem_peak = e->mem_peak,
        };
        _cleanup_(cJSON_Deletep) cJSON *top = e->key ? NULL : top_json(e);
        if (!(h.command = dup_or_null(e->command)) && e->command)
                goto oom;
        if ((!(h.memcg = dup_or_null(e->memcg)) && e->memcg) ||
            (!(h.constraint = dup_or_null(e->constraint)) && e->constraint) ||
            (!(h.drv = dup_or_null(e->drv)) && e->drv) || (!(h.name = dup_or_null(e->name)) && e->name) ||
            (!(h.requester_user = dup_or_null(e->requester_user)) && e->requester_user) ||
            (top && !(h.top = cJSON_PrintUnformatted(top))))
                goto oom;
        history_writer_record_oom(o->d->history, &h);
        return;
oom:
        history_oom_done(&h);
        log_warning("OOM event %" PRIu64 ": out of memory writing it to history", e->id);
}

/* A new event at the end (the oldest goes when full); NULL only when it cannot be kept. */
static OomEvent *event_add(Oom *o, const char *source) {
        if (o->n == OOM_EVENTS_MAX) {
                write_history(o, &o->events[0]);
                event_done(&o->events[0]);
                memmove(o->events, o->events + 1, (OOM_EVENTS_MAX - 1) * sizeof(OomEvent));
                o->events[OOM_EVENTS_MAX - 1] = (OomEvent){};
                o->n--;
                o->dropped++;
        }
        OomEvent *e = &o->events[o->n++];
        *e = (OomEvent){
                .id = ++o->next_id,
                .time = now_realtime(),
                .recorded_mono = now_monotonic(),
                .source = source,
                .requester_uid = -1,
        };
        o->total++;
        return e;
}

/* The build's facts at the kill: who asked for it, its limit and how high it went. */
static int event_set_build(OomEvent *e, const Build *b) {
        e->key = b->key;
        e->requester_uid = b->requester.uid;
        e->mem_limit = b->usage.mem_limit;
        e->mem_peak = usage_limit_peak(&b->usage);
        if (!(e->drv = strdup(b->drv)) || !(e->name = strdup(b->name)) ||
            (b->requester.user && !(e->requester_user = strdup(b->requester.user))))
                return -ENOMEM;
        return 0;
}

/* Not a build's: the active builds that held the most memory (resident, as MEM shows). */
static int event_set_top(Oom *o, OomEvent *e) {
        const Build *top[OOM_TOP] = {};
        unsigned n = 0;
        for (Build *b = model_builds_first(o->d->model); b; b = b->next) {
                if (!build_state_is_active(b->state) || !b->usage.sampled || b->usage.mem_current == 0)
                        continue;
                unsigned i = n < OOM_TOP ? n++ : OOM_TOP;
                if (i == OOM_TOP && b->usage.mem_current <= top[OOM_TOP - 1]->usage.mem_current)
                        continue;
                if (i == OOM_TOP)
                        i = OOM_TOP - 1;
                while (i > 0 && top[i - 1]->usage.mem_current < b->usage.mem_current) {
                        top[i] = top[i - 1];
                        i--;
                }
                top[i] = b;
        }
        for (unsigned i = 0; i < n; i++) {
                OomTop *t = &e->top[e->n_top++];
                *t = (OomTop){.key = top[i]->key,
                              .mem = top[i]->usage.mem_current,
                              .requester_uid = top[i]->requester.uid};
                if (!(t->drv = strdup(top[i]->drv)) || !(t->name = strdup(top[i]->name)))
                        return -ENOMEM;
        }
        return 0;
}

void oom_build_count(Oom *o, Tracked *t, Build *b, uint64_t kills) {
        if (!o || kills <= t->oom_recorded)
                return;
        uint64_t add = kills - t->oom_recorded;
        t->oom_recorded = kills;
        if (add > ADD_PER_COUNT_MAX) {
                o->uncounted += add - ADD_PER_COUNT_MAX;
                add = ADD_PER_COUNT_MAX;
        }
        while (add-- > 0) {
                OomEvent *e = event_add(o, "cgroup");
                o->kills_build++;
                if (event_set_build(e, b) < 0)
                        log_warning("OOM event %" PRIu64 ": out of memory recording build %s", e->id,
                                    b->drv);
                log_notice("build %s: the OOM killer ended one of its processes (limit %" PRIu64
                           ", peak %" PRIu64 " bytes)",
                           b->drv, e->mem_limit, e->mem_peak);
        }
        /* Without the kernel log nothing will name the victim: as settled as it gets. */
        if (!o->kmsg_source)
                oom_tick(o);
}

/* The kernel's word on a kill: its victim, attributed to a build or to none. */
static void on_kill(Oom *o, const KmsgOom *k, const KmsgOom *info) {
        const char *memcg = info ? info->task_memcg : NULL;
        /* In a child namespace the kernel's pid may be any process's of ours: by cgroup only. */
        pid_t pid = o->child_pidns ? 0 : k->pid;
        Tracked *t = o->d->sampler ? sampler_find_victim(o->d->sampler, memcg, pid) : NULL;
        Build *b = t ? model_build_by_key(o->d->model, t->key) : NULL;
        OomEvent *e = NULL;

        /* The build's count came first: fill its blank (in memory only once it went to history,
         * 2 s on: a record that late is one kill all the same). */
        for (unsigned i = o->n; b && i > 0; i--)
                if (o->events[i - 1].key == b->key && o->events[i - 1].host_pid == 0) {
                        e = &o->events[i - 1];
                        e->source = "cgroup+kmsg";
                        break;
                }
        if (b)
                sampler_note_oom(o->d->sampler, t, b);
        if (e && b)
                e->mem_peak = usage_limit_peak(&b->usage);
        if (!e) {
                e = event_add(o, "kmsg");
                if (b) {
                        o->kills_build++;
                        t->oom_recorded++;
                        if (event_set_build(e, b) < 0)
                                goto oom;
                } else {
                        o->kills_other++;
                        if (event_set_top(o, e) < 0)
                                goto oom;
                }
        }
        /* The record's time since boot, on the wall clock. */
        usec_t mono = now_monotonic(), real = now_realtime();
        if (k->boot_usec <= mono && mono - k->boot_usec < real)
                e->time = real - (mono - k->boot_usec);
        e->host_pid = k->pid;
        e->pid = !o->child_pidns ? k->pid : t ? victim_local_pid(o, t, k->comm) : 0;
        free(e->command);
        free(e->memcg);
        free(e->constraint);
        e->memcg = e->constraint = NULL;
        if (!(e->command = strdup(k->comm)) || (memcg && !(e->memcg = strdup(memcg))) ||
            (info && info->constraint && !(e->constraint = strdup(info->constraint))))
                goto oom;
        const char *which = o->child_pidns ? "host pid" : "process";
        if (b)
                log_notice("OOM killer: %s %d (%s) of build %s", which, (int) k->pid, k->comm, b->drv);
        else
                log_notice("OOM killer: %s %d (%s), not a build's (memory cgroup %s)", which, (int) k->pid,
                           k->comm, memcg ? memcg : "unknown");
        write_history(o, e);
        return;
oom:
        log_warning("OOM event %" PRIu64 ": out of memory recording it", e->id);
}

static void kmsg_record(Oom *o, const char *buf, size_t len) {
        KmsgOom k = {};
        o->kmsg_records++;
        int r = kmsg_parse_oom(buf, len, &k);
        if (r == -EBADMSG)
                o->kmsg_bad++;
        if (r <= 0)
                return;
        if (k.kind == KMSG_OOM_INFO) {
                /* One without its "Killed process" record: its own word is enough. */
                if (o->has_pending)
                        on_kill(o, &o->pending, &o->pending);
                kmsg_oom_done(&o->pending);
                o->pending = k;
                o->has_pending = true;
                return;
        }
        bool paired = o->has_pending && o->pending.pid == k.pid;
        if (o->has_pending && !paired)
                on_kill(o, &o->pending, &o->pending);
        on_kill(o, &k, o->has_pending ? (paired ? &o->pending : NULL) : NULL);
        kmsg_oom_done(&o->pending);
        o->has_pending = false;
        kmsg_oom_done(&k);
}

/* /dev/kmsg gives one record per read; anything else (a pipe that stands in for it) may give
 * several: a record ends at a newline not followed by a dictionary line (" KEY=VALUE"). */
static void kmsg_records(Oom *o, const char *buf, size_t n) {
        size_t start = 0;
        for (size_t i = 0; i < n; i++)
                if (buf[i] == '\n' && (i + 1 == n || buf[i + 1] != ' ')) {
                        kmsg_record(o, buf + start, i + 1 - start);
                        start = i + 1;
                }
        if (start < n)
                kmsg_record(o, buf + start, n - start);
}

static void kmsg_stop(Oom *o, const char *state, int error) {
        o->kmsg_source = sd_event_source_disable_unref(o->kmsg_source);
        if (o->kmsg_fd >= 0)
                close(o->kmsg_fd);
        o->kmsg_fd = -EBADF;
        o->kmsg_state = state;
        free(o->kmsg_error);
        o->kmsg_error = NULL;
        if (error && asprintf(&o->kmsg_error, "%s: %s", o->kmsg_path, strerror(error)) < 0)
                o->kmsg_error = NULL;
}

static int on_kmsg(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Oom *o = userdata;
        char buf[KMSG_RECORD_MAX];
        for (int i = 0; i < KMSG_READS_PER_RUN; i++) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n > 0) {
                        kmsg_records(o, buf, (size_t) n);
                        continue;
                }
                if (n == 0) { /* never from /dev/kmsg: a file or pipe that ended */
                        log_warning("kernel log %s: end of file, no longer read", o->kmsg_path);
                        kmsg_stop(o, "unavailable", 0);
                        if (asprintf(&o->kmsg_error, "%s: end of file", o->kmsg_path) < 0)
                                o->kmsg_error = NULL;
                        break;
                }
                if (errno == EAGAIN)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno == EPIPE) { /* records overwritten before we read them */
                        o->kmsg_lost++;
                        continue;
                }
                if (errno == EINVAL) { /* a record larger than any OOM record */
                        o->kmsg_bad++;
                        continue;
                }
                log_warning_errno(-errno, "kernel log %s: read failed, no longer read: %m", o->kmsg_path);
                kmsg_stop(o, "unavailable", errno);
                break;
        }
        return 0;
}

static void kmsg_start(Oom *o) {
        o->kmsg_fd = open(o->kmsg_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (o->kmsg_fd < 0) {
                int e = errno;
                log_info("kernel log %s unreadable (%s): OOM kills outside builds are not seen",
                         o->kmsg_path, strerror(e));
                kmsg_stop(o, "unavailable", e);
                return;
        }
        /* What was logged before we started is not ours to attribute. */
        (void) lseek(o->kmsg_fd, 0, SEEK_END);
        int r = sd_event_add_io(o->d->event, &o->kmsg_source, o->kmsg_fd, EPOLLIN, on_kmsg, o);
        if (r < 0) {
                log_warning_errno(r, "kernel log %s: cannot watch it: %m", o->kmsg_path);
                kmsg_stop(o, "unavailable", -r);
                return;
        }
        o->kmsg_state = "reading";
}

int oom_new(Daemon *d, const char *kmsg_path, Oom **ret) {
        Oom *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->d = d;
        o->kmsg_fd = -EBADF;
        o->kmsg_state = "disabled";
        o->child_pidns = in_child_pidns();
        if (kmsg_path) {
                if (!(o->kmsg_path = strdup(kmsg_path))) {
                        free(o);
                        return -ENOMEM;
                }
                kmsg_start(o);
        }
        *ret = o;
        return 0;
}

Oom *oom_free(Oom *o) {
        if (!o)
                return NULL;
        for (unsigned i = 0; i < o->n; i++) {
                write_history(o, &o->events[i]);
                event_done(&o->events[i]);
        }
        kmsg_stop(o, "disabled", 0);
        kmsg_oom_done(&o->pending);
        free(o->kmsg_path);
        free(o);
        return NULL;
}

void oom_tick(Oom *o) {
        if (!o)
                return;
        usec_t now = now_monotonic();
        for (unsigned i = 0; i < o->n; i++)
                if (!o->events[i].written &&
                    (!o->kmsg_source || now - o->events[i].recorded_mono >= SETTLE_USEC))
                        write_history(o, &o->events[i]);
}

void oom_counts(Oom *o, uint64_t *ret_builds, uint64_t *ret_other) {
        *ret_builds = o ? o->kills_build : 0;
        *ret_other = o ? o->kills_other : 0;
}

cJSON *oom_status_json(Oom *o) {
        cJSON *s = cJSON_CreateObject();
        if (!s || !o)
                return s;
        cJSON_AddStringToObject(s, "kmsg", o->kmsg_state);
        cJSON_AddStringToObject(s, "pid_namespace", o->child_pidns ? "child" : "initial");
        if (o->kmsg_error)
                cJSON_AddStringToObject(s, "kmsg_error", o->kmsg_error);
        else
                cJSON_AddNullToObject(s, "kmsg_error");
        cJSON_AddNumberToObject(s, "events", (double) o->total);
        cJSON_AddNumberToObject(s, "kept", o->n);
        cJSON_AddNumberToObject(s, "dropped", (double) o->dropped);
        cJSON_AddNumberToObject(s, "uncounted", (double) o->uncounted);
        cJSON_AddNumberToObject(s, "kmsg_records", (double) o->kmsg_records);
        cJSON_AddNumberToObject(s, "kmsg_bad", (double) o->kmsg_bad);
        cJSON_AddNumberToObject(s, "kmsg_lost", (double) o->kmsg_lost);
        return s;
}

static void add_str(cJSON *o, const char *key, const char *v) {
        if (v)
                cJSON_AddStringToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

static void add_num(cJSON *o, const char *key, double v, bool present) {
        if (present)
                cJSON_AddNumberToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

static cJSON *event_json(const OomEvent *e) {
        cJSON *j = cJSON_CreateObject();
        if (!j)
                return NULL;
        cJSON_AddNumberToObject(j, "id", (double) e->id);
        cJSON_AddNumberToObject(j, "time", usec_to_sec(e->time));
        cJSON_AddStringToObject(j, "source", e->source);
        /* The victim's command is a command line's start, its cgroup names what its user runs:
         * privacy.c hides both by requester_uid. */
        cJSON *v = cJSON_AddObjectToObject(j, "victim");
        if (v) {
                add_num(v, "pid", e->pid, e->pid > 0);
                add_num(v, "host_pid", e->host_pid, e->host_pid > 0);
                add_str(v, "command", e->command);
                add_str(v, "memcg", e->memcg);
                add_str(v, "constraint", e->constraint);
        }
        if (e->key) {
                cJSON *b = cJSON_AddObjectToObject(j, "build");
                if (b) {
                        cJSON_AddNumberToObject(b, "key", (double) e->key);
                        add_str(b, "drv", e->drv);
                        add_str(b, "name", e->name);
                        add_num(b, "mem_limit", (double) e->mem_limit, e->mem_limit > 0);
                        add_num(b, "mem_peak", (double) e->mem_peak, true);
                        cJSON *r = cJSON_AddObjectToObject(b, "requester");
                        if (r) {
                                add_num(r, "uid", (double) e->requester_uid, e->requester_uid >= 0);
                                add_str(r, "user", e->requester_user);
                        }
                }
                add_num(j, "requester_uid", (double) e->requester_uid, e->requester_uid >= 0);
                cJSON_AddNullToObject(j, "top");
        } else {
                cJSON_AddNullToObject(j, "build");
                cJSON_AddNullToObject(j, "requester_uid");
                cJSON_AddItemToObject(j, "top", top_json(e));
        }
        return j;
}

cJSON *oom_events_json(Oom *o) {
        cJSON *a = cJSON_CreateArray();
        for (unsigned i = 0; a && o && i < o->n; i++) {
                cJSON *e = event_json(&o->events[i]);
                if (!e || !cJSON_AddItemToArray(a, e)) {
                        cJSON_Delete(e);
                        cJSON_Delete(a);
                        return NULL;
                }
        }
        return a;
}
