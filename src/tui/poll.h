/* Re-asking the daemon while a view is open (processes, dependency tree, history, machines):
 * fetch at once and then every interval, never with a request of the same poll in flight. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "tui/tui.h"

typedef struct Poll {
        sd_event_source *timer;
        Tui *tui;
        unsigned host; /* whose daemon is asked */
        View *view;
        uint64_t interval;
        void (*fetch)(Tui *t, View *v, struct Poll *p); /* sends the request; the reply calls poll_done() */
        bool inflight;
        cJSON *result; /* the last answer (a copy) */
        char *error;   /* why there is none: the daemon's message, or the view's own */
} Poll;

/* Asks host's daemon (an index in Tui.hosts). */
void poll_start(Poll *p, Tui *t, unsigned host, View *v, uint64_t interval_usec,
                void (*fetch)(Tui *t, View *v, Poll *p));
void poll_stop(Poll *p);
/* The request's answer came (or failed): the next fetch may go. */
void poll_done(Poll *p);
/* The reply callback's part: poll_done(), then keeps a copy of result, or the error's
 * message. Returns true when a new result is held. */
bool poll_take(Poll *p, const cJSON *result, const cJSON *error);
/* Sets (or with NULL clears) the view's own error text, and drops the last result. */
void poll_set_error(Poll *p, const char *error);
/* Stops and frees what the poll holds. */
void poll_free(Poll *p);
/* Fetch again now (the data is known to have changed). */
void poll_now(Poll *p);
