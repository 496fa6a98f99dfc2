/* Which builds stalled most for memory at an instant (issue 19, "attributed"): the few
 * highest memory pressures among the builds given, for status (now) and `at` (then). Only
 * builds that stalled at all are named. */
#pragma once

#include <cjson/cJSON.h>

#define PRESSURE_TOP_MAX 3

typedef struct PressureTopEntry {
        const char *name, *drv; /* borrowed: valid until pressure_top_json() */
        double memory;          /* percent of the span stalled */
} PressureTopEntry;

typedef struct PressureTop {
        PressureTopEntry e[PRESSURE_TOP_MAX];
        unsigned n;
} PressureTop;

/* Offers one build's memory pressure (percent); below 0.05 % it is not a stall worth naming. */
void pressure_top_add(PressureTop *t, const char *name, const char *drv, double memory);
/* [{"name", "drv", "memory"}], most first; NULL out of memory. */
cJSON *pressure_top_json(const PressureTop *t);
