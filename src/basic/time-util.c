/* Clocks in microseconds. */
#include "basic/time-util.h"

#include <time.h>

static usec_t now_clock(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

usec_t now_realtime(void) {
        return now_clock(CLOCK_REALTIME);
}

usec_t now_monotonic(void) {
        return now_clock(CLOCK_MONOTONIC);
}

double usec_to_sec(usec_t u) {
        return (double) u / (double) USEC_PER_SEC;
}
