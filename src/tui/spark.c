/* Sparklines (see spark.h). */
#include "tui/spark.h"

#include <string.h>

static const char *const blocks[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
static const char ascii_levels[8] = {'_', '.', '-', ':', '=', '+', '*', '#'};

char *spark_render(const double *v, size_t n, double max, bool ascii, char *buf, size_t size) {
        size_t at = 0;
        if (size == 0)
                return buf;
        for (size_t i = 0; i < n; i++) {
                const char *cell;
                char one[2] = {' ', '\0'};
                if (v[i] < 0 || !(max > 0))
                        cell = one;
                else {
                        double f = v[i] >= max ? 1 : v[i] / max;
                        int level = (int) (f * 7 + 0.5);
                        if (ascii) {
                                one[0] = ascii_levels[level];
                                cell = one;
                        } else
                                cell = blocks[level];
                }
                size_t len = strlen(cell);
                if (at + len >= size)
                        break;
                memcpy(buf + at, cell, len);
                at += len;
        }
        buf[at] = '\0';
        return buf;
}
