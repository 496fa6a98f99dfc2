/* A timer per open view that asks the daemon again. */
#include "tui/poll.h"

#include <stdlib.h>
#include <string.h>

#include "basic/time-util.h"
#include "shared/json-read.h"

static void poll_fetch(Poll *p) {
        if (p->inflight || !client_is_connected(tui_host(p->tui, p->host)->client))
                return;
        p->inflight = true;
        p->fetch(p->tui, p->view, p);
}

static int poll_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Poll *p = userdata;
        poll_fetch(p);
        int r = sd_event_source_set_time(s, usec + p->interval);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ON);
}

void poll_start(Poll *p, Tui *t, unsigned host, View *v, uint64_t interval_usec,
                void (*fetch)(Tui *t, View *v, Poll *p)) {
        poll_stop(p);
        p->tui = t;
        p->host = host;
        p->view = v;
        p->interval = interval_usec;
        p->fetch = fetch;
        p->inflight = false;
        (void) sd_event_add_time_relative(t->event, &p->timer, CLOCK_MONOTONIC, interval_usec, 0, poll_tick,
                                          p);
        poll_fetch(p);
}

void poll_stop(Poll *p) {
        p->timer = sd_event_source_disable_unref(p->timer);
        if (p->inflight && p->tui)
                client_forget(tui_host(p->tui, p->host)->client, p->view);
        p->inflight = false;
}

void poll_done(Poll *p) {
        p->inflight = false;
}

void poll_now(Poll *p) {
        if (p->timer)
                poll_fetch(p);
}

bool poll_take(Poll *p, const cJSON *result, const cJSON *error) {
        poll_done(p);
        free(p->error);
        p->error = NULL;
        if (!result) {
                const char *msg = error ? json_str(error, "message") ?: "refused" : "the daemon went away";
                p->error = strdup(msg);
                return false;
        }
        cJSON *copy = cJSON_Duplicate(result, true);
        if (!copy) {
                p->error = strdup("out of memory");
                return false;
        }
        cJSON_Delete(p->result);
        p->result = copy;
        return true;
}

void poll_set_error(Poll *p, const char *error) {
        free(p->error);
        p->error = error ? strdup(error) : NULL;
        cJSON_Delete(p->result);
        p->result = NULL;
}

void poll_free(Poll *p) {
        poll_stop(p);
        cJSON_Delete(p->result);
        p->result = NULL;
        free(p->error);
        p->error = NULL;
}
