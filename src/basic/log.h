/* Program-level logging to stderr with levels; library layers never call this. */
#pragma once

#include <stdbool.h>

#include "basic/macro.h"

enum {
        LOG_LEVEL_ERR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_prefix(const char *prefix);

/* Logs and returns -abs(error), so callers can write "return log_error_errno(r, ...)".
 * "%m" in the format expands to strerror(error). */
int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);

#define log_debug(...)            log_internal(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)             log_internal(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_notice(...)           log_internal(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_warning(...)          log_internal(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...)            log_internal(LOG_LEVEL_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_internal(LOG_LEVEL_ERR, (e), __VA_ARGS__)
#define log_debug_errno(e, ...)   log_internal(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)
