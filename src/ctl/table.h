/* Aligned text tables for people: each column as wide as its widest cell, one column (the
 * name) cut with "…" so a row fits the terminal, optional columns left out when no row has
 * anything in them, rows coloured by what they say. Pure: writes to any FILE. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "basic/macro.h"

/* The build list's colours (the TUI's, in SGR terms). */
typedef enum TableColor {
        TABLE_NORMAL,
        TABLE_RUNNING,
        TABLE_QUEUED,
        TABLE_FROZEN,
        TABLE_FINISHING,
        TABLE_SUCCEEDED,
        TABLE_FAILED,
        TABLE_DIM,
        _TABLE_COLOR_MAX,
} TableColor;

typedef struct TableColumn {
        const char *title;
        bool right;        /* right-aligned: figures */
        bool shrink;       /* cut to make rows fit the width; at most one column */
        const char *empty; /* when every cell is this ("-", "local") the column is left out;
                            * NULL: always shown */
} TableColumn;

typedef struct Table Table;

/* columns must outlive the table. Returns 0 or -ENOMEM. */
int table_new(const TableColumn *columns, size_t n_columns, Table **ret);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);
#define _cleanup_table_free_ _cleanup_(table_freep)

/* Appends a row of n_columns cells (copied; NULL shows "-"; control characters become
 * spaces). Returns 0 or -ENOMEM. */
int table_add_row(Table *t, TableColor color, const char *const *cells);
size_t table_n_rows(const Table *t);

/* The colour a build state is shown in ("running", "failed", ...). */
TableColor table_state_color(const char *state);
/* The SGR sequence that starts a colour ("" for TABLE_NORMAL), and the one that ends it. */
const char *table_color_on(TableColor c);
#define TABLE_COLOR_OFF "\033[0m"

/* Writes the title line and the rows to f. width: the terminal's columns, 0 for no limit:
 * the shrink column gives up cells (down to its title's width) so that rows fit, cut cells
 * ending in "…" (in a locale without multibyte characters, "~"). color:
 * titles bold, rows in their colour. No line ends in spaces. Returns 0 or -EIO. */
int table_write(const Table *t, FILE *f, size_t width, bool color);
