/* The last hour's outcomes, counted from history on a worker thread (see outcomes.h). */
#include "daemon/outcomes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/history-writer.h"
#include "daemon/work-queue.h"
#include "shared/history.h"

/* A count is one index range scan; a busy hour of a big builder is some ten thousand rows. */
#define COUNT_BUDGET (2 * USEC_PER_SEC)

typedef struct Count {
        WorkItem item; /* first: the queue hands items back */
        usec_t since, as_of;
        uint64_t generation;
        uint64_t counts[_COUNT_MAX];
        int r;
} Count;

struct Outcomes {
        Daemon *d;
        WorkQueue *queue;
        sd_event_source *timer;
        bool asking;
        bool known;          /* counts hold an answer */
        uint64_t generation; /* history's, when the answer was asked */
        usec_t as_of;        /* realtime the answer's window ends at */
        usec_t answered;     /* monotonic */
        uint64_t counts[_COUNT_MAX];
        /* worker thread only (and outcomes_free once it ended) */
        HistoryReader reader;
};

static void count_run(WorkItem *item, void *userdata) {
        Outcomes *o = userdata;
        Count *c = (Count *) item;
        _cleanup_free_ char *error = NULL;
        History *h = history_reader_get(o->d->history, &o->reader, &error);
        if (!h) {
                c->r = -ENOTCONN;
                return;
        }
        c->r = history_outcome_counts(h, c->since, COUNT_BUDGET, c->counts);
        if (c->r < 0 && c->r != -ETIME && c->r != -ENOMEM)
                history_reader_close(&o->reader); /* the file may have changed: open afresh */
}

static void count_done(WorkItem *item, void *userdata) {
        Outcomes *o = userdata;
        Count *c = (Count *) item;
        o->asking = false;
        o->answered = now_monotonic();
        if (c->r >= 0) {
                memcpy(o->counts, c->counts, sizeof(o->counts));
                o->known = true;
                o->as_of = c->as_of;
                o->generation = c->generation;
        } else
                log_debug_errno(c->r, "counting the last hour's outcomes in history: %m");
        free(c);
}

static void count_release(WorkItem *item) {
        free(item);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Outcomes *o = userdata;
        Daemon *d = o->d;
        (void) sd_event_source_set_time(s, usec + OUTCOMES_REFRESH);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        if (o->asking || !history_writer_path(d->history))
                return 0;
        uint64_t generation = history_writer_generation(d->history);
        /* Asked again for new rows, and at least once a minute as the window moves on. */
        if (o->known && generation == o->generation && now_monotonic() < o->answered + 60 * USEC_PER_SEC)
                return 0;
        Count *c = calloc(1, sizeof(*c));
        if (!c)
                return 0;
        c->item = (WorkItem){.run = count_run, .done = count_done, .release = count_release};
        c->as_of = now_realtime();
        c->since = c->as_of > OUTCOMES_WINDOW ? c->as_of - OUTCOMES_WINDOW : 0;
        c->generation = generation;
        if (work_queue_submit(o->queue, &c->item) < 0) {
                free(c);
                return 0;
        }
        o->asking = true;
        return 0;
}

int outcomes_new(Daemon *d, Outcomes **ret) {
        Outcomes *o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->d = d;
        int r = work_queue_new(d->event, "outcome count", 1, o, &o->queue);
        if (r >= 0)
                r = sd_event_add_time(d->event, &o->timer, CLOCK_MONOTONIC, now_monotonic(), 0, on_timer, o);
        if (r < 0) {
                outcomes_free(o);
                return r;
        }
        *ret = o;
        return 0;
}

Outcomes *outcomes_free(Outcomes *o) {
        if (!o)
                return NULL;
        work_queue_free(o->queue); /* first: the thread stops using the reader */
        history_reader_close(&o->reader);
        sd_event_source_disable_unref(o->timer);
        free(o);
        return NULL;
}

cJSON *outcomes_status_json(Daemon *d) {
        Outcomes *o = d->outcomes;
        if (!o || !o->known || !history_writer_path(d->history))
                return cJSON_CreateNull();
        cJSON *j = cJSON_CreateObject();
        cJSON *counts = j ? cJSON_AddObjectToObject(j, "counts") : NULL;
        if (!counts) {
                cJSON_Delete(j);
                return NULL;
        }
        cJSON_AddNumberToObject(j, "window", usec_to_sec(OUTCOMES_WINDOW));
        cJSON_AddNumberToObject(j, "as_of", usec_to_sec(o->as_of));
        for (BuildCount c = 0; c < _COUNT_MAX; c++)
                if (build_count_is_final(c))
                        cJSON_AddNumberToObject(counts, build_count_to_string(c), (double) o->counts[c]);
        return j;
}
