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
        /* The first press of the sort key orders highest first (CPU, memory, time): what
         * people look for at the top. */
        bool descending;
        void (*format)(const StoreBuild *b, double now, char *buf, size_t n);
        int (*compare)(const StoreBuild *a, const StoreBuild *b, double now);
        /* Optional: the build has no value here ("-"); such rows sort last either way. */
        bool (*empty)(const StoreBuild *b, double now);
        /* What the column shows and in which unit, for the help page. */
        const char *help;
} Column;

extern const Column columns[];
extern const size_t n_columns;

#define COLUMN_NAME    0 /* index of the name column */
#define COLUMN_PHASE   1
#define COLUMN_STATE   2
#define COLUMN_MACHINE 5

/* Up to this width, columns that carry nothing (idle: a bit per column index) give their
 * room to the name before any other column goes. */
#define COLUMNS_NARROW 100

/* Which columns fit in `width` cells, name first and taking the rest: sets shown[i] and
 * returns the name column's width. */
int columns_layout(int width, unsigned idle, bool shown[], size_t n);

/* Compares two builds by column col (-1: the default order, active work first: running,
 * then queued, then ended), empty values last whichever the direction, ties in arrival
 * order. */
int columns_compare(int col, bool descending, const StoreBuild *a, const StoreBuild *b, double now);

/* Why a build failed, in a few words for its STATE cell ("exit 3", "signal 9", "dep failed",
 * "oom-killed", ...); its state's name when it did not fail. */
void columns_state_words(const StoreBuild *b, char *buf, size_t n);

/* The limits in force on an active build, as a short marker ("n10 cpu0.5 mem64M"; compact:
 * "n10 c0.5 m64M"), or "". */
void columns_limits_marker(const StoreBuild *b, bool compact, char *buf, size_t n);

/* Column index by title (case-insensitive), or -1. */
int columns_find(const char *title);
