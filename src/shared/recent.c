/* The header's outcome counts (see recent.h). */
#include "shared/recent.h"

#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/json-read.h"
#include "shared/fmt.h"

/* Short words for the header, in the order counts are defined. */
static const char *const labels[_COUNT_MAX] = {
        [COUNT_SUCCEEDED] = "ok",        [COUNT_FAILED] = "failed",           [COUNT_DEPENDENCY] = "dep",
        [COUNT_CANCELLED] = "cancelled", [COUNT_NOT_STARTED] = "not started", [COUNT_KILLED] = "killed",
        [COUNT_LOST] = "lost",
};

void recent_parse(Recent *r, const cJSON *status) {
        *r = (Recent){};
        const cJSON *recent = status ? json_obj(status, "recent") : NULL;
        const cJSON *counts = recent ? json_obj(recent, "counts") : NULL;
        if (!counts)
                return;
        r->known = true;
        r->window = json_num(recent, "window", 0);
        for (BuildCount c = 0; c < _COUNT_MAX; c++) {
                double v = build_count_is_final(c) ? json_num(counts, build_count_to_string(c), 0) : 0;
                r->n[c] = v > 0 && v < 4e9 ? (unsigned) v : 0;
        }
}

void recent_add(Recent *a, const Recent *b) {
        if (!b->known)
                return;
        a->known = true;
        a->window = MAX(a->window, b->window);
        for (size_t c = 0; c < _COUNT_MAX; c++)
                a->n[c] += b->n[c];
}

char *recent_format(const Recent *r, const unsigned *by_state, char *buf, size_t n) {
        if (n == 0)
                return buf;
        if (!r->known) {
                snprintf(buf, n, "%u failed", by_state[BUILD_FAILED]);
                size_t len = strlen(buf);
                if (by_state[BUILD_KILLED] > 0 && len < n)
                        len += (size_t) snprintf(buf + len, n - len, " %u killed", by_state[BUILD_KILLED]);
                if (by_state[BUILD_LOST] > 0 && len < n)
                        (void) snprintf(buf + len, n - len, " %u lost", by_state[BUILD_LOST]);
                return buf;
        }
        char window[16] = "hour";
        if (r->window != 3600)
                fmt_duration(window, sizeof(window), r->window);
        size_t len = (size_t) snprintf(buf, n, "last %s:", window);
        for (BuildCount c = COUNT_SUCCEEDED; c < _COUNT_MAX && len < n; c++)
                if (r->n[c] > 0 || c == COUNT_SUCCEEDED || c == COUNT_FAILED)
                        len += (size_t) snprintf(buf + len, n - len, " %u %s", r->n[c], labels[c]);
        return buf;
}
