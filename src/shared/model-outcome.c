/* How a build ends when Nix does not say: its activities stopped and its outputs are (or are
 * not) in the store, its invocation ended with an error, or its nix process went away. Looks
 * that must wait (outputs not there yet, a nix process still alive) are model_tick's. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utlist.h>

#include "basic/macro.h"
#include "shared/drv.h"
#include "shared/model-internal.h"
#include "shared/proc.h"
#include "shared/storepath.h"

#define OUTPUT_RECHECKS     5
#define OUTPUT_RECHECK_USEC (200 * USEC_PER_MSEC)
/* How many looks (OUTPUT_RECHECK_USEC apart) a build that waited for the lock on its
 * content-addressed outputs waits for their holder's end: about 10 s. */
#define HOLDER_RECHECKS 50
/* A build found in /proc has no events: after its processes, only Nix's registration of its
 * outputs (hashed and scanned for references first: seconds for large ones) is left to wait
 * for, 10 s at most while its nix process lives. */
#define OUTPUT_RECHECKS_REDISCOVERED 50
#define LOST_CHECK_USEC              (500 * USEC_PER_MSEC)

/* b's outputs (b->outputs, b->n_outputs), read from its .drv the first time. A failure
 * that may pass (memory, file descriptors) is not kept: the next look reads again. */
static int build_outputs_load(Model *m, Build *b) {
        if (b->outputs_read)
                return b->n_outputs;
        _cleanup_free_ char *buf = NULL;
        size_t got;
        int n = store_file_read(m->config.store_dir, b->drv, STORE_DRV_MAX, &buf, &got);
        if (n >= 0) {
                n = drv_parse_outputs(buf, got, &b->outputs);
                if (!b->system)
                        b->system = drv_buf_system(buf, got); /* the same read, for views */
        }
        if (n == -ENOMEM || n == -EMFILE || n == -ENFILE || n == -EINTR || n == -EAGAIN)
                return n;
        b->n_outputs = n;
        b->outputs_read = true;
        return n;
}

void build_outputs_offer(Model *m, Build *b, const DrvOutput *outs, size_t n) {
        if (n == 0 || n > INT_MAX || build_outputs_load(m, b) >= 0 || !b->outputs_read)
                return; /* the .drv tells (or may, at the next look) */
        DrvOutput *copy = calloc(n, sizeof(DrvOutput));
        if (!copy)
                return;
        for (size_t i = 0; i < n; i++)
                if (!(copy[i].name = strdup(outs[i].name)) || !(copy[i].path = strdup(outs[i].path))) {
                        drv_outputs_free(copy, n);
                        return;
                }
        drv_outputs_free(b->outputs, 0);
        b->outputs = copy;
        b->n_outputs = (int) n;
}

/* Is path valid in the store: registered in Nix's database where the daemon can read it,
 * else present. 1 yes, 0 no, -EAGAIN the database is busy, -errno. */
static int store_output_valid(Model *m, const char *path) {
        if (m->config.path_valid) {
                int r = m->config.path_valid(m->config.path_valid_userdata, path);
                if (r >= 0 || r == -EAGAIN)
                        return r;
        }
        if (access(path, F_OK) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 1;
}

/* Checks that every output of b is valid. 1 all valid, 0 some not, -EAGAIN undecided for
 * now (Nix's database is busy), other -errno when it cannot be decided (unreadable or
 * malformed .drv, unknown CA outputs). */
static int build_outputs_valid(Model *m, Build *b) {
        int n = build_outputs_load(m, b);
        if (n < 0)
                return n;
        bool busy = false;
        for (int i = 0; i < n; i++) {
                const char *path = b->outputs[i].path;
                if (path[0] == '\0')
                        return -ENODATA; /* content-addressed: the path is not known here */
                if (!store_path_valid(m->config.store_dir, path))
                        return -EBADMSG;
                int r = store_output_valid(m, path);
                if (r == 0)
                        return 0;
                if (r == -EAGAIN)
                        busy = true;
                else if (r < 0)
                        return r;
        }
        return busy ? -EAGAIN : 1;
}

/* The sampler follows b's processes and has not seen them all gone: b still runs, whatever
 * Nix says (a child of its builder may outlive it). */
static bool build_has_processes(const Build *b) {
        return b->usage.sampled && b->procs_gone == 0;
}

int64_t invocation_failed_ran(const Invocation *inv) {
        int64_t n = inv->n_failed_ran;
        const Build *r;
        DL_FOREACH2(inv->running, r, run_next) {
                if (failure_kind_is_reported(r->failure) && r->failure != FAILURE_DEPENDENCY)
                        n++;
        }
        return n;
}

/* Nix has moved on from b without registering its outputs: since processes of b were last
 * seen, it counted a failure that no build of the invocation explains, or its stream ended. */
static bool build_nix_moved_on(const Build *b) {
        const Invocation *inv = b->invocation;
        return inv->done || inv->progress[3] - invocation_failed_ran(inv) > b->failed_base;
}

/* Nix stopped b, which ran, because another build failed (no -k): a build of the invocation
 * failed and Nix's failed counter counts no failure of b (build_nix_moved_on). */
static bool build_stopped_for_another(const Build *b) {
        int64_t failed = invocation_failed_ran(b->invocation);
        return failed > 0 && b->invocation->progress[3] - failed <= b->failed_base;
}

/* No sign that its builder ever ran: no log line, no phase, never sampled, no exit seen. */
bool build_never_ran(const Build *b) {
        return b->log.total == 0 && b->n_phases == 0 && !b->usage.sampled && b->builder_exited == 0;
}

/* Fails b with "<prefix><the invocation's error>". */
static int build_set_failure_from_invocation(Build *b, FailureKind kind, const char *prefix) {
        _cleanup_free_ char *msg = NULL;
        if (asprintf(&msg, "%s%s", prefix, b->invocation->error) < 0)
                return -ENOMEM;
        return build_set_failure(b, kind, msg);
}

/* A build that ended with no reason of its own, in an invocation that Nix ended with an
 * error (not an interrupt): that error is the reason. A build that never ran did not
 * start because of it; one that ran was stopped by it. Returns true when it ended b. */
static bool build_end_by_invocation_error(Model *m, Build *b, usec_t when) {
        const Invocation *inv = b->invocation;
        if (!inv->error || inv->interrupted || b->failure != FAILURE_NONE)
                return false;
        bool never = b->state == BUILD_QUEUED || build_never_ran(b);
        if (build_set_failure_from_invocation(b, never ? FAILURE_NOT_STARTED : FAILURE_OTHER,
                                              never ? "not started: " : "") < 0)
                return false;
        build_finish(m, b, BUILD_FAILED, when);
        return true;
}

/* Content-addressed outputs have no path to look up: b, which waited for the lock on them,
 * was built by the holder, a build of the same derivation reported by a trusted source
 * (nix-daemon, root). 1 such a build succeeded after b was queued, -EAGAIN one has yet to
 * end, 0 none. */
static int lock_holder_outcome(Model *m, const Build *b) {
        bool active = false;
        for (const Build *o = model_builds_first(m); o; o = o->next) {
                const Source *src = o->invocation ? o->invocation->source : NULL;
                if (o == b || !src || !src->trusted || strcmp(o->drv, b->drv) != 0)
                        continue;
                if (o->state == BUILD_SUCCEEDED && o->finished >= b->queued)
                        return 1;
                if (build_state_is_active(o->state) && o->state != BUILD_QUEUED)
                        active = true;
        }
        return active ? -EAGAIN : 0;
}

static void build_recheck_at(Model *m, Build *b, usec_t when);

/* b's nix process ended while the holder of its lock still runs or finishes: b waits for
 * the holder's end (model_tick), a bounded while. False: no more waiting. */
static bool build_await_holder(Model *m, Build *b, usec_t now) {
        if (b->output_check_at == 0 && b->output_checks_left == 0) {
                b->output_checks_left = HOLDER_RECHECKS;
                b->finished = now; /* when Nix was done with it */
        } else if (--b->output_checks_left == 0)
                return false;
        build_recheck_at(m, b, now_monotonic() + OUTPUT_RECHECK_USEC);
        return true;
}

/* A build announced but never started when its nix process ended. Nix's error for the
 * invocation says why; an error Nix gave for this very build (kind other while it was still
 * queued) says it better. With its outputs valid it succeeded: another process built them
 * (content-addressed ones: the holder of their lock succeeded, which it may wait for).
 * Without either (an interrupt, or Nix dropped it after another build failed) it was
 * cancelled. A dependency failure ended it when Nix reported it. */
static void build_end_unstarted(Model *m, Build *b, usec_t now) {
        /* Its outputs are there: another nix process built them while this one waited for
         * their lock (or they came from elsewhere). Nothing of it failed. */
        int valid = b->failure == FAILURE_NONE ? build_outputs_valid(m, b) : 0;
        const Invocation *inv = b->invocation;
        if (valid == -ENODATA && b->lock_waited && !inv->interrupted && !inv->error) {
                int h = lock_holder_outcome(m, b);
                if (h == -EAGAIN && build_await_holder(m, b, now))
                        return;
                valid = h;
        }
        if (b->finished)
                now = b->finished; /* it waited for the holder's end */
        if (valid > 0) {
                build_finish(m, b, BUILD_SUCCEEDED, now);
                return;
        }
        if (build_end_by_invocation_error(m, b, now))
                return;
        if (b->failure == FAILURE_OTHER && b->failure_message) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "not started: %s", b->failure_message) >= 0)
                        build_set_failure(b, FAILURE_NOT_STARTED, msg);
        } else if (b->failure == FAILURE_NONE) {
                if (inv->interrupted)
                        build_set_failure_from_invocation(b, FAILURE_CANCELLED, "never started: ");
                else
                        build_set_failure(b, FAILURE_CANCELLED, "never started: the nix process ended");
        }
        build_finish(m, b, BUILD_FAILED, now);
}

/* model_tick is wanted at when (monotonic) or before. */
void model_wake_at(Model *m, usec_t when) {
        if (m->wake_at == 0 || when < m->wake_at)
                m->wake_at = when;
}

/* b's outputs are looked at again at when (monotonic), by model_tick. */
static void build_recheck_at(Model *m, Build *b, usec_t when) {
        b->output_check_at = when;
        if (!b->rechecking) {
                DL_APPEND2(m->rechecks, b, recheck_prev, recheck_next);
                b->rechecking = true;
        }
        model_wake_at(m, when);
}

/* Decides the end state of a build whose activities all stopped, or whose processes are all
 * gone (finishing). Succeeded needs its outputs valid and no process of it left; a build
 * still holding its activity open fails once Nix has moved on without registering them. */
void build_decide(Model *m, Build *b, usec_t now, usec_t now_mono) {
        if (b->failure != FAILURE_NONE || b->structured < 0) {
                build_finish(m, b, BUILD_FAILED, now);
                return;
        }
        if (b->structured > 0) {
                build_finish(m, b, BUILD_SUCCEEDED, now); /* Nix said so */
                return;
        }
        if (build_has_processes(b)) {
                /* Nix stopped it but processes of it live on: it runs until the sampler sees
                 * them gone (model_build_processes_gone decides again). */
                if (b->n_activities_open == 0 && b->finished == 0)
                        b->finished = now;
                return;
        }
        int r = build_outputs_valid(m, b);
        if (r > 0) {
                build_finish(m, b, BUILD_SUCCEEDED, b->finished ? b->finished : now);
                return;
        }
        if (r == -EAGAIN) {
                build_recheck_at(m, b, now_mono + OUTPUT_RECHECK_USEC);
                return;
        }
        if (b->n_activities_open > 0) {
                /* Finishing, Nix 2.8 still holding its activity (until its goal is freed). */
                if (r != 0 || !build_nix_moved_on(b)) {
                        /* Nix has not moved on (any more): its stop or its words end it. */
                        b->output_checks_left = 0;
                        b->output_check_at = 0;
                        return;
                }
                /* The failure Nix counted may be another build's, its words on their way:
                 * Nix counts a failure before it words it, and without -k kills the other
                 * builds right after, which the sampler may see before the words are read.
                 * Look again for a while before taking it for this build's. */
                if (b->output_checks_left == 0) {
                        b->output_checks_left = OUTPUT_RECHECKS;
                        build_recheck_at(m, b, now_mono + OUTPUT_RECHECK_USEC);
                        if (b->finished == 0)
                                b->finished = now; /* ended as far as its processes go */
                        return;
                }
                if (b->output_check_at > now_mono)
                        return; /* decided again before the next look (Nix's progress moved) */
                if (--b->output_checks_left > 0) {
                        build_recheck_at(m, b, now_mono + OUTPUT_RECHECK_USEC);
                        return;
                }
                b->output_check_at = 0;
                if (!build_end_by_invocation_error(m, b, now)) {
                        /* The best reason known until Nix words its own. */
                        if (b->usage.oom_killed)
                                build_set_failure(b, FAILURE_OOM, OOM_REASON);
                        else
                                build_set_failure(b, FAILURE_NO_OUTPUTS,
                                                  "its processes ended and Nix moved on without registering "
                                                  "its outputs, no reason given yet");
                        build_finish(m, b, BUILD_FAILED, now);
                }
                return;
        }
        if (b->output_checks_left == 0 && b->output_check_at == 0) {
                /* First look: outputs missing (or undecidable: no readable .drv, CA outputs)
                 * with no failure reported yet. The failure message may still be on its way
                 * (Nix 2.29+ sends it after the stop), so look again. */
                const Source *src = b->invocation ? b->invocation->source : NULL;
                b->output_checks_left = b->rediscovered && src && !src->nix_exited
                                                ? OUTPUT_RECHECKS_REDISCOVERED
                                                : OUTPUT_RECHECKS;
                build_recheck_at(m, b, now_mono + OUTPUT_RECHECK_USEC);
                if (b->finished == 0)
                        b->finished = now;
                return;
        }
        if (b->output_checks_left > 0) {
                b->output_checks_left--;
                build_recheck_at(m, b, now_mono + OUTPUT_RECHECK_USEC);
                if (b->output_checks_left > 0)
                        return;
        }
        usec_t stopped = b->finished ? b->finished : now;
        if (r < 0) {
                /* Undecidable, and Nix reported no failure: it succeeded. */
                build_finish(m, b, BUILD_SUCCEEDED, stopped);
                return;
        }
        if (build_end_by_invocation_error(m, b, stopped))
                return;
        if (build_stopped_for_another(b))
                build_set_failure(b, FAILURE_CANCELLED, "stopped by Nix after another build failed");
        else
                build_set_failure(b, FAILURE_NO_OUTPUTS,
                                  "stopped by Nix with outputs missing and no reason given");
        build_finish(m, b, BUILD_FAILED, stopped);
}

/* Nix 2.8 keeps a finished build's activity open until its goal is freed, often when the
 * whole invocation ends; the progress counters move on time. When they do, finishing builds
 * are decided again (outputs now valid, or Nix counted a failure), and running builds whose
 * processes the sampler does not follow (remote, never found) end once their outputs are
 * valid: so their durations (history, ETAs) are the builder's, not the invocation's. */
void invocation_progress_moved(Model *m, Invocation *inv, usec_t now) {
        Build *b, *tmp;
        usec_t now_mono = now_monotonic();
        DL_FOREACH_SAFE2(inv->running, b, tmp, run_next) {
                if (b->state == BUILD_FINISHING)
                        build_decide(m, b, now, now_mono);
                else if (b->failure == FAILURE_NONE && build_outputs_valid(m, b) == 1) {
                        if (!build_has_processes(b))
                                build_finish(m, b, BUILD_SUCCEEDED, now);
                        else if (b->finished == 0)
                                b->finished = now; /* Nix's end of it, unless a process outlives it */
                }
                if (b->state == BUILD_RUNNING && build_has_processes(b))
                        m->sample_wanted = true; /* this may be the one that ended */
        }
}

/* The nix process of a source is gone: what it was doing will never be reported. */
void source_nix_exited(Model *m, Source *s, usec_t now) {
        s->nix_exited = true;
        /* An invocation rediscovered from /proc ran until now (model-resume.c). */
        if (!s->invocation.done) {
                s->invocation.done = true;
                s->invocation.finished = now;
                invocation_mark(m, &s->invocation, CHANGE_FINISHED);
        }
        /* The drv index holds every active build of the invocation (only a finished build
         * is ever replaced in it). */
        for (Build *b = s->invocation.by_drv; b; b = b->hh_drv.next) {
                if (!build_state_is_active(b->state))
                        continue;
                if (b->state == BUILD_QUEUED) {
                        build_end_unstarted(m, b, now);
                } else if (b->state == BUILD_FINISHING) {
                        /* Nix said all it will: its outputs tell. */
                        b->n_activities_open = 0;
                        b->output_checks_left = 1;
                        build_decide(m, b, now, now_monotonic());
                } else if (b->n_activities_open == 0 &&
                           (b->output_check_at != 0 || build_has_processes(b))) {
                        continue; /* stopped, deciding its outcome (or its processes' end will) */
                } else if (b->rediscovered) {
                        /* No events will come for it: its outputs tell how it ended. */
                        b->n_activities_open = 0;
                        build_decide(m, b, now, now_monotonic());
                } else if (!build_never_ran(b) || !build_end_by_invocation_error(m, b, now))
                        build_finish(m, b, BUILD_LOST, now);
        }
}

usec_t model_tick(Model *m, usec_t now_real, usec_t now_mono) {
        usec_t next = 0;

        Build *b, *tmp;
        DL_FOREACH_SAFE2(m->rechecks, b, tmp, recheck_next) {
                if (b->output_check_at != 0 && !build_state_is_final(b->state) &&
                    b->output_check_at <= now_mono) {
                        if (b->state == BUILD_QUEUED)
                                build_end_unstarted(m, b, now_real); /* (build_await_holder) */
                        else
                                build_decide(m, b, now_real, now_mono);
                }
                if (b->output_check_at == 0 || build_state_is_final(b->state)) {
                        build_recheck_done(m, b);
                        continue;
                }
                if (next == 0 || b->output_check_at < next)
                        next = b->output_check_at;
        }

        if (m->sources_waiting > 0) {
                if (m->next_lost_check <= now_mono) {
                        m->next_lost_check = now_mono + LOST_CHECK_USEC;
                        for (Source *s = m->sources_first; s; s = s->next)
                                if (s->gone && !s->nix_exited &&
                                    !proc_alive(m->config.proc_root, s->pid, s->pid_starttime)) {
                                        source_nix_exited(m, s, now_real);
                                        m->sources_waiting--;
                                }
                }
                if (m->sources_waiting > 0 && (next == 0 || m->next_lost_check < next))
                        next = m->next_lost_check;
        }

        model_evict(m);
        return next;
}

bool model_take_sample(Model *m) {
        bool wanted = m->sample_wanted;
        m->sample_wanted = false;
        return wanted;
}

usec_t model_take_wake(Model *m) {
        usec_t when = m->wake_at;
        m->wake_at = 0;
        return when;
}
