/* Logging for programs: "<prefix>: message" on stderr, filtered by level. */
#include "basic/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Process-wide logging configuration is the one accepted global: it is set once at start-up. */
static int max_level = LOG_LEVEL_INFO;
static const char *log_prefix = NULL;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *prefix) {
        log_prefix = prefix;
}

int log_internal(int level, int error, const char *format, ...) {
        int saved = errno;
        if (error < 0)
                error = -error;

        if (level <= max_level) {
                va_list ap;
                errno = error;
                va_start(ap, format);
                if (log_prefix)
                        fprintf(stderr, "%s: ", log_prefix);
                vfprintf(stderr, format, ap);
                va_end(ap);
                fputc('\n', stderr);
        }
        errno = saved;
        return -error;
}
