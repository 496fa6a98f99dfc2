/* The model's objects as JSON, in the schemas of docs/protocol.md. */
#pragma once

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "shared/model.h"

/* now: realtime, for durations of running builds. log_tail: lines of the ring to include
 * as "log_tail" (0: none). Return NULL on allocation failure. */
cJSON *build_to_json(const Build *b, usec_t now, unsigned log_tail);
cJSON *invocation_to_json(const Invocation *inv);
cJSON *source_to_json(const Source *s);
cJSON *requester_to_json(const Requester *r);
/* A build's figures (BuildUsage) as docs/protocol.md "usage"; null before the first sample. */
cJSON *usage_to_json(const BuildUsage *u);
/* A build's timeline thinned to at most max_points, as parallel arrays (docs/protocol.md
 * get-build "timeline"); NULL out of memory. */
cJSON *timeline_to_json(const Timeline *tl, uint32_t max_points);
