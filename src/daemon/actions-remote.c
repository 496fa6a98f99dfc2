/* Actions on builds that run on a remote machine.
 *
 * Killing one ends the local side of its dispatch: the build hook that serves it (found by
 * shared/buildhook.c) and the hook's ssh, with SIGKILL to the hook's process group (Nix
 * puts each hook in its own session, as it kills it itself) and to each of its descendants.
 * The remote nix-store --serve / nix-daemon --stdio watches its input for a hang-up and
 * interrupts the build, which kills the remote builder. The build then ends "killed" as soon
 * as its hook is gone (Nix 2.8 with -k may report the failure only when the invocation ends).
 *
 * Freezing the hook and ssh would not freeze the build on the remote machine, renicing
 * them would not change its priority there, and a limit here would not apply there: those
 * actions answer "unsupported" and say where they can be done. */
#include "daemon/actions-remote.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "shared/buildhook.h"
#include "shared/model-proc.h"
#include "shared/proc.h"
#include "shared/procfs.h"

#define WATCH_INTERVAL (100 * USEC_PER_MSEC)
#define WATCH_GIVE_UP  (30 * USEC_PER_SEC)

typedef struct RemoteKill {
        uint64_t key;
        pid_t hook;
        uint64_t hook_start;
        usec_t since; /* monotonic */
        struct RemoteKill *next;
} RemoteKill;

struct RemoteKills {
        Daemon *d;
        sd_event_source *timer;
        RemoteKill *kills;
};

RemoteKills *remote_kills_free(RemoteKills *k) {
        if (!k)
                return NULL;
        while (k->kills) {
                RemoteKill *next = k->kills->next;
                free(k->kills);
                k->kills = next;
        }
        sd_event_source_disable_unref(k->timer);
        free(k);
        return NULL;
}

static const char *proc_root(Daemon *d) {
        return d->config.model.proc_root ? d->config.model.proc_root : "/proc";
}

/* Ends killed builds whose hook is gone; runs while kills wait. */
static int on_watch(sd_event_source *es, uint64_t usec, void *userdata) {
        RemoteKills *k = userdata;
        Daemon *d = k->d;
        usec_t now = now_monotonic();
        for (RemoteKill **pp = &k->kills; *pp;) {
                RemoteKill *rk = *pp;
                Build *b = model_build_by_key(d->model, rk->key);
                bool done = !b || !build_state_is_active(b->state);
                if (!done && !proc_alive(proc_root(d), rk->hook, rk->hook_start)) {
                        log_info("build %" PRIu64 " (%s): its build hook (pid %d) is gone: killed", b->key,
                                 b->name, (int) rk->hook);
                        model_build_builder_exited(d->model, b, now_realtime());
                        done = true;
                }
                if (!done && now - rk->since > WATCH_GIVE_UP) {
                        log_warning("build %" PRIu64 " (%s): its build hook (pid %d) still runs %u s after "
                                    "SIGKILL; leaving the build's end to Nix",
                                    b->key, b->name, (int) rk->hook,
                                    (unsigned) (WATCH_GIVE_UP / USEC_PER_SEC));
                        done = true;
                }
                if (done) {
                        *pp = rk->next;
                        free(rk);
                } else
                        pp = &rk->next;
        }
        if (k->kills) {
                sd_event_source_set_time(es, now + WATCH_INTERVAL);
                sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
        }
        return 0;
}

static int watch_kill(Daemon *d, const Build *b, const BuildHook *h) {
        if (!d->remote_kills) {
                RemoteKills *k = calloc(1, sizeof(*k));
                if (!k)
                        return -ENOMEM;
                k->d = d;
                int r = sd_event_add_time(d->event, &k->timer, CLOCK_MONOTONIC, 0, 0, on_watch, k);
                if (r < 0) {
                        free(k);
                        return r;
                }
                d->remote_kills = k;
        }
        RemoteKills *k = d->remote_kills;
        RemoteKill *rk = calloc(1, sizeof(*rk));
        if (!rk)
                return -ENOMEM;
        *rk = (RemoteKill){
                .key = b->key, .hook = h->pid, .hook_start = h->starttime, .since = now_monotonic()};
        rk->next = k->kills;
        k->kills = rk;
        sd_event_source_set_time(k->timer, now_monotonic() + WATCH_INTERVAL);
        sd_event_source_set_enabled(k->timer, SD_EVENT_ONESHOT);
        return 0;
}

/* The remote builds of b's nix process that the model has running, for buildhook_match. */
static int remote_builds_of(Daemon *d, const Build *b, RemoteBuildRef **ret, size_t *ret_n,
                            size_t *ret_target) {
        const Source *src = b->invocation->source;
        size_t n = 0, cap = 0, target = SIZE_MAX;
        RemoteBuildRef *refs = NULL;
        for (Build *x = model_builds_first(d->model); x; x = x->next) {
                if (!x->invocation || x->invocation->source != src || !x->machine[0] ||
                    x->dispatch_seq == 0 || (x->state != BUILD_RUNNING && x->state != BUILD_FROZEN))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 8;
                        RemoteBuildRef *grown = realloc(refs, cap * sizeof(*refs));
                        if (!grown) {
                                free(refs);
                                return -ENOMEM;
                        }
                        refs = grown;
                }
                if (x == b)
                        target = n;
                refs[n++] = (RemoteBuildRef){
                        .drv = x->drv, .machine = x->machine, .dispatch_seq = x->dispatch_seq};
        }
        if (target == SIZE_MAX) {
                free(refs);
                return -ENOENT;
        }
        *ret = refs;
        *ret_n = n;
        *ret_target = target;
        return 0;
}

/* "hook 123, its processes 124 125" for the mechanism: what was signalled. NULL on OOM. */
static char *describe_pids(const BuildHook *h) {
        char *buf = NULL;
        size_t len;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fprintf(f, "hook %d", (int) h->pid);
        for (size_t i = 0; i < h->n_procs; i++)
                fprintf(f, "%s%d", i == 0 ? ", its processes " : " ", (int) h->procs[i]);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* The build hook serving remote build b, read from /proc into scan: its index, or < 0 with
 * o saying why. */
static ssize_t hook_of(Daemon *d, const Build *b, BuildHookScan *scan, ActionOutcome *o) {
        const Source *src = b->invocation ? b->invocation->source : NULL;
        if (!src || src->pid <= 0)
                return action_fail(o, NA_ERR_NO_PROCESS,
                                   "build %" PRIu64
                                   " (%s) runs on %s, and the nix process that dispatched it "
                                   "is not known",
                                   b->key, b->name, b->machine);
        if (src->nix_exited || !proc_alive(proc_root(d), src->pid, src->pid_starttime))
                return action_fail(o, NA_ERR_NO_PROCESS,
                                   "build %" PRIu64
                                   " (%s) runs on %s, and the nix process that dispatched it "
                                   "(pid %d) is gone",
                                   b->key, b->name, b->machine, (int) src->pid);

        int r = buildhook_scan(proc_root(d), d->config.model.store_dir, src->pid, scan);
        if (r == -ESRCH)
                return action_fail(o, NA_ERR_NO_PROCESS,
                                   "build %" PRIu64 " (%s): its nix process (pid %d) is gone", b->key,
                                   b->name, (int) src->pid);
        if (r < 0)
                return action_fail(o, NA_ERR_FAILED,
                                   "build %" PRIu64
                                   " (%s): cannot read the build hooks of nix process %d: %s",
                                   b->key, b->name, (int) src->pid, strerror(-r));
        _cleanup_free_ RemoteBuildRef *refs = NULL;
        size_t n_refs = 0, target = 0;
        r = remote_builds_of(d, b, &refs, &n_refs, &target);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return action_fail(o, NA_ERR_NOT_RUNNING,
                                   "build %" PRIu64 " (%s) is not running on a machine", b->key, b->name);
        BuildHookMiss miss;
        ssize_t i = buildhook_match(scan, refs, n_refs, target, &miss);
        if (i < 0)
                return action_fail(o, miss == BUILDHOOK_MISS_ENDED ? NA_ERR_NOT_RUNNING : NA_ERR_NO_PROCESS,
                                   "build %" PRIu64
                                   " (%s) runs on %s, but which build hook of nix process %d "
                                   "serves it cannot be told: %s (%zu hook(s), %zu remote build(s) known)",
                                   b->key, b->name, b->machine, (int) src->pid,
                                   buildhook_miss_to_string(miss), scan->n_hooks, n_refs);
        return i;
}

static int remote_kill(Daemon *d, Build *b, ActionOutcome *o) {
        _cleanup_(buildhook_scan_done) BuildHookScan scan = {};
        ssize_t i = hook_of(d, b, &scan, o);
        if (i < 0)
                return (int) i;
        const BuildHook *h = &scan.hooks[i];

        /* The hook leads its own process group (Nix kills it the same way); its children
         * that left the group are signalled one by one. */
        unsigned sent = 0;
        int err = 0;
        if (kill(h->pgid == h->pid ? -h->pid : h->pid, SIGKILL) == 0)
                sent++;
        else
                err = errno;
        for (size_t j = 0; j < h->n_procs; j++)
                if (kill(h->procs[j], SIGKILL) == 0)
                        sent++;
        if (sent == 0)
                return action_fail(o, NA_ERR_FAILED,
                                   "SIGKILL to the build hook of build %" PRIu64 " (pid %d): %s", b->key,
                                   (int) h->pid, strerror(err));
        model_build_kill_requested(d->model, b);
        if (watch_kill(d, b, h) < 0)
                log_warning("build %" PRIu64 ": cannot watch its build hook's exit; Nix will end it",
                            b->key);
        _cleanup_free_ char *pids = describe_pids(h);
        if (!pids)
                return -ENOMEM;
        return action_say(o,
                          "remote-hook-kill: SIGKILL to the build hook serving it on %s (%s%s); the remote "
                          "side stops when its connection hangs up",
                          b->machine, pids, h->pgid == h->pid ? ", as process group" : "");
}

int action_run_remote(Daemon *d, Build *b, const ActionRequest *req, ActionOutcome *ret) {
        const char *what;
        switch (req->kind) {
        case ACTION_KILL:
                return remote_kill(d, b, ret);
        case ACTION_FREEZE:
        case ACTION_THAW:
                what = "stopping or continuing its build hook and ssh here would not stop or continue the "
                       "build over there";
                break;
        case ACTION_NICE:
                what = "renicing its build hook and ssh here would not change the build's priority over "
                       "there";
                break;
        default:
                what = "a limit on its build hook and ssh here would not limit the build over there";
                break;
        }
        return action_fail(ret, NA_ERR_UNSUPPORTED,
                           "build %" PRIu64 " (%s) runs on the remote machine %s: %s; %s it on that machine "
                           "(nix-analytics-ctl there, where nix-analyticsd runs); kill works from here",
                           b->key, b->name, b->machine, what, action_kind_to_string(req->kind));
}

void remote_local_side_free(TrackedProc *procs, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(procs[i].cmdline);
        free(procs);
}

static int local_proc(Daemon *d, pid_t pid, TrackedProc *ret) {
        TrackedProc p = {};
        int r = procfs_read_stat(proc_root(d), pid, &p.st);
        if (r < 0)
                return r;
        (void) procfs_read_uid(proc_root(d), pid, &p.uid);
        (void) proc_cmdline(proc_root(d), pid, &p.cmdline);
        ProcIo io;
        if (procfs_read_io(proc_root(d), pid, &io) == 0) {
                p.io_read = io.read_bytes;
                p.io_write = io.write_bytes;
        }
        *ret = p;
        return 0;
}

int remote_local_side(Daemon *d, const Build *b, pid_t *ret_hook, TrackedProc **ret, char **ret_why) {
        _cleanup_(buildhook_scan_done) BuildHookScan scan = {};
        _cleanup_(action_outcome_done) ActionOutcome o = {};
        ssize_t i = hook_of(d, b, &scan, &o);
        if (i < 0) {
                if (i == -ENOMEM || !o.error)
                        return -ENOMEM;
                *ret_why = TAKE_PTR(o.error);
                return 0;
        }
        const BuildHook *h = &scan.hooks[i];
        TrackedProc *procs = calloc(h->n_procs + 1, sizeof(TrackedProc));
        if (!procs)
                return -ENOMEM;
        size_t n = 0;
        if (local_proc(d, h->pid, &procs[n]) == 0)
                n++;
        for (size_t j = 0; j < h->n_procs; j++)
                if (local_proc(d, h->procs[j], &procs[n]) == 0)
                        n++;
        *ret_hook = h->pid;
        *ret = procs;
        return (int) n;
}
