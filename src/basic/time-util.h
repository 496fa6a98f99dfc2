/* Clocks in microseconds. */
#pragma once

#include <stdint.h>

typedef uint64_t usec_t;

#define USEC_PER_SEC  ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)

usec_t now_realtime(void);
usec_t now_monotonic(void);
/* Seconds as a double, for JSON output (unix time or durations). */
double usec_to_sec(usec_t u);
