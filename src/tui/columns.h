/* The build list's columns as one table of fields (title, width, formatter, comparator): a
 * new column is one entry. Pure, so the formatting is unit-tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "tui/store.h"

typedef struct Column {
        const char *title;
        int width;    /* cells; the name column takes what is left */
        int priority; /* columns are dropped lowest first when the terminal is narrow */
        bool right;   /* right-aligned */
        void (*format)(const StoreBuild *b, double now, char *buf, size_t n);
        int (*compare)(const StoreBuild *a, const StoreBuild *b, double now);
} Column;

extern const Column columns[];
extern const size_t n_columns;

#define COLUMN_NAME 0 /* index of the name column */

/* Which columns fit in `width` cells, name first and taking the rest: sets shown[i] and
 * returns the name column's width. */
int columns_layout(int width, bool shown[], size_t n);

/* Column index by title (case-insensitive), or -1. */
int columns_find(const char *title);
