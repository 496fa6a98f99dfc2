/* How the builds of the last hour ended, counted from history (docs/protocol.md "status",
 * "recent"): the figures a header shows beside what runs now, the same before and after a
 * restart because history is where they come from. The count is a query on a worker thread,
 * asked again when history committed rows (at most every OUTCOMES_REFRESH) or the window
 * moved on; status gives the last answer. */
#pragma once

#include <cjson/cJSON.h>

#include "basic/time-util.h"
#include "daemon/daemon.h"

#define OUTCOMES_WINDOW  (3600 * USEC_PER_SEC)
#define OUTCOMES_REFRESH (2 * USEC_PER_SEC)

typedef struct Outcomes Outcomes;

int outcomes_new(Daemon *d, Outcomes **ret);
Outcomes *outcomes_free(Outcomes *o);

/* The "recent" member of status: {window, as_of, counts}, or null while history is off or
 * nothing was counted yet. */
cJSON *outcomes_status_json(Daemon *d);
