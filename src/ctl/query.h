/* Helpers shared by the query verbs (cmd-query.c, cmd-history.c, cmd-actions.c). */
#pragma once

#include <stdbool.h>

#include "ctl/ctl.h"
#include "ctl/report.h"

/* Connects, runs cmd with args (consumed) and prints the result as JSON; returns the exit
 * code. */
int ctl_run_query(const CtlContext *ctx, const char *cmd, cJSON *args);
/* The same, shown through report when the output is a table (ctl_output_table()); empty:
 * what an empty list says, NULL for the report's default. */
int ctl_run_query_with(const CtlContext *ctx, const char *cmd, cJSON *args, ReportFn report,
                       const char *empty);
/* Runs a verb that takes no arguments (only --help, and the output options when it has a
 * report) as the daemon's command cmd, shown through report (NULL: JSON only). */
int ctl_run_bare(const CtlContext *ctx, const char *verb, const char *cmd, const char *usage,
                 ReportFn report, int argc, char **argv);
/* Checks every state of a "S[,S...]" option value; logs the first bad one. 0 or -EINVAL. */
int ctl_check_states(const char *option, const char *s);
/* "a,b,c" as the protocol's "string or array of strings"; NULL on allocation failure. */
cJSON *ctl_state_filter(const char *s);
/* Adds item (taken) under key; false on allocation failure. */
bool ctl_add_item(cJSON *obj, const char *key, cJSON *item);
