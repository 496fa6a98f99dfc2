/* The loop's own work around every dispatch (see scheduler.h). */
#include "daemon/scheduler.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/control-conn.h"
#include "daemon/notify.h"
#include "daemon/sampler-ended.h"
#include "daemon/sampler.h"

/* model_tick's wake-ups (output re-checks 200 ms apart, lost sources every 500 ms) are
 * gathered: model_tick runs at most once per TICK_INTERVAL_USEC. sd-event's accuracy alone
 * does not do it: a loop busy with events dispatches a timer as soon as it is due, and a
 * thousand builds ending per second then cost hundreds of walks of the model. */
#define TICK_INTERVAL_USEC (50 * USEC_PER_MSEC)

/* Log lines, builds and records come and go by the million on two threads: the allocator
 * keeps the freed pages, so RSS creeps up although the heap in use is flat (30 M records of
 * bench/run.sh: 55.6 MB RSS, 34.6 MB after one trim). Every HEAP_TRIM_USEC they go back. */
#define HEAP_TRIM_USEC (30 * USEC_PER_SEC)

struct Scheduler {
        Daemon *d;
        sd_event_source *post;      /* drains model changes after every dispatch */
        sd_event_source *tick;      /* model timers (output re-checks, lost builds) */
        usec_t tick_last;           /* monotonic: when model_tick last ran */
        sd_event_source *heap_trim; /* hands freed heap back to the kernel now and then */
};

/* Makes sure model_tick runs at when_mono (monotonic), or TICK_INTERVAL_USEC after the last
 * run if that is later. */
static void schedule_tick(Scheduler *s, usec_t when_mono) {
        uint64_t current;
        int enabled;
        when_mono = MAX(when_mono, s->tick_last + TICK_INTERVAL_USEC);
        if (sd_event_source_get_enabled(s->tick, &enabled) >= 0 && enabled != SD_EVENT_OFF &&
            sd_event_source_get_time(s->tick, &current) >= 0 && current <= when_mono)
                return;
        sd_event_source_set_time(s->tick, when_mono);
        sd_event_source_set_enabled(s->tick, SD_EVENT_ONESHOT);
}

static int on_tick(sd_event_source *source, uint64_t usec, void *userdata) {
        Scheduler *s = userdata;
        s->tick_last = now_monotonic();
        usec_t next = model_tick(s->d->model, now_realtime(), s->tick_last);
        notify_flush(s->d);
        if (next)
                schedule_tick(s, next);
        return 0;
}

static int on_heap_trim(sd_event_source *source, uint64_t usec, void *userdata) {
        usec_t t0 = now_monotonic();
        (void) malloc_trim(0);
        log_debug("heap trimmed in %.1f ms", (double) (now_monotonic() - t0) / USEC_PER_MSEC);
        return sd_event_source_set_time(source, usec + HEAP_TRIM_USEC);
}

static int on_post(sd_event_source *source, void *userdata) {
        Scheduler *s = userdata;
        usec_t wake = model_take_wake(s->d->model);
        if (wake)
                schedule_tick(s, wake);
        /* Now, not at a kick's timer: Nix starts the next build in the slot of the one that
         * ended, and no control request may see both running. */
        if (model_take_sample(s->d->model) && s->d->sampler)
                sampler_check_ended(s->d->sampler);
        notify_flush(s->d);
        control_conns_reap(s->d);
        return 0;
}

int scheduler_new(Daemon *d, Scheduler **ret) {
        Scheduler *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->d = d;
        int r;
        if ((r = sd_event_add_post(d->event, &s->post, on_post, s)) < 0 ||
            (r = sd_event_add_time(d->event, &s->tick, CLOCK_MONOTONIC, 0, 10 * USEC_PER_MSEC, on_tick, s)) <
                    0 ||
            (r = sd_event_source_set_enabled(s->tick, SD_EVENT_OFF)) < 0 ||
            (r = sd_event_add_time_relative(d->event, &s->heap_trim, CLOCK_MONOTONIC, HEAP_TRIM_USEC,
                                            USEC_PER_SEC, on_heap_trim, s)) < 0 ||
            (r = sd_event_source_set_enabled(s->heap_trim, SD_EVENT_ON)) < 0) {
                scheduler_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

Scheduler *scheduler_free(Scheduler *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->post);
        sd_event_source_disable_unref(s->tick);
        sd_event_source_disable_unref(s->heap_trim);
        free(s);
        return NULL;
}
