/* Sparklines: a series as one row of block characters (▁▂▃▄▅▆▇█, or _.-:=+*# in ASCII), each
 * value scaled against a maximum. Pure: for the header's machine graph and its tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* v[0..n) (oldest first; a negative value is unknown: a blank) against max into buf (NUL
 * terminated, cut to whole cells when size is short). Returns buf. */
char *spark_render(const double *v, size_t n, double max, bool ascii, char *buf, size_t size);
