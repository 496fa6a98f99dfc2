/* The people's view of query results: the daemon's JSON as aligned tables (the TUI's
 * columns and units) and short reports. Pure: result in, text on f out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

typedef struct ReportOptions {
        size_t width;      /* fit rows to this many columns; 0: no limit */
        bool color;        /* SGR escapes */
        double now;        /* unix time, for "today" in times */
        const char *empty; /* what an empty list says ("no builds running"); NULL: the default */
} ReportOptions;

/* Each returns 0 or -errno (-EIO when f fails, -ENOMEM). */
typedef int (*ReportFn)(FILE *f, const cJSON *result, const ReportOptions *o);

int report_builds(FILE *f, const cJSON *result, const ReportOptions *o);      /* list-builds */
int report_history(FILE *f, const cJSON *result, const ReportOptions *o);     /* get-history */
int report_invocations(FILE *f, const cJSON *result, const ReportOptions *o); /* list-invocations */
int report_machines(FILE *f, const cJSON *result, const ReportOptions *o);    /* list-machines */
int report_stats(FILE *f, const cJSON *result, const ReportOptions *o);       /* stats */
int report_status(FILE *f, const cJSON *result, const ReportOptions *o);      /* status */
int report_processes(FILE *f, const cJSON *result, const ReportOptions *o);   /* ps */
int report_oom(FILE *f, const cJSON *result, const ReportOptions *o);         /* list-oom */
int report_at(FILE *f, const cJSON *result, const ReportOptions *o);          /* at */
