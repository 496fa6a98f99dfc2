/* Aligned text tables: sized by their cells, fitted to the terminal by one column. */
#include "ctl/table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/fmt.h"

struct Table {
        const TableColumn *columns;
        size_t n_columns;
        char **cells; /* n_rows * n_columns */
        TableColor *colors;
        size_t n_rows, allocated;
};

int table_new(const TableColumn *columns, size_t n_columns, Table **ret) {
        Table *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->columns = columns;
        t->n_columns = n_columns;
        *ret = t;
        return 0;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->colors);
        free(t);
        return NULL;
}

size_t table_n_rows(const Table *t) {
        return t->n_rows;
}

/* A cell on one line: a newline or escape in a name must not break the table or the
 * terminal. */
static char *cell_dup(const char *s) {
        char *c = strdup(s ?: "-");
        if (!c)
                return NULL;
        for (char *p = c; *p; p++)
                if ((unsigned char) *p < ' ' || *p == 0x7f)
                        *p = ' ';
        return c;
}

int table_add_row(Table *t, TableColor color, const char *const *cells) {
        if (t->n_rows == t->allocated) {
                size_t a = t->allocated ? t->allocated * 2 : 16;
                char **c = reallocarray(t->cells, a * t->n_columns, sizeof(char *));
                if (!c)
                        return -ENOMEM;
                t->cells = c;
                TableColor *k = reallocarray(t->colors, a, sizeof(TableColor));
                if (!k)
                        return -ENOMEM;
                t->colors = k;
                t->allocated = a;
        }
        char **row = t->cells + t->n_rows * t->n_columns;
        for (size_t i = 0; i < t->n_columns; i++) {
                row[i] = cell_dup(cells[i]);
                if (!row[i]) {
                        while (i > 0)
                                free(row[--i]);
                        return -ENOMEM;
                }
        }
        t->colors[t->n_rows++] = color;
        return 0;
}

TableColor table_state_color(const char *state) {
        static const struct {
                const char *state;
                TableColor color;
        } map[] = {
                {"running", TABLE_RUNNING},     {"queued", TABLE_QUEUED},       {"frozen", TABLE_FROZEN},
                {"finishing", TABLE_FINISHING}, {"succeeded", TABLE_SUCCEEDED}, {"failed", TABLE_FAILED},
                {"killed", TABLE_FAILED},       {"lost", TABLE_FAILED},
        };
        for (size_t i = 0; state && i < ELEMENTSOF(map); i++)
                if (strcmp(state, map[i].state) == 0)
                        return map[i].color;
        return TABLE_NORMAL;
}

const char *table_color_on(TableColor c) {
        /* As the TUI's screen.c pairs them: running bold green, queued blue, frozen white on
         * blue, finishing yellow, succeeded green, failed bold red. */
        static const char *const sgr[_TABLE_COLOR_MAX] = {
                [TABLE_NORMAL] = "",
                [TABLE_RUNNING] = "\033[1;32m",
                [TABLE_QUEUED] = "\033[34m",
                [TABLE_FROZEN] = "\033[1;37;44m",
                [TABLE_FINISHING] = "\033[33m",
                [TABLE_SUCCEEDED] = "\033[32m",
                [TABLE_FAILED] = "\033[1;31m",
                [TABLE_DIM] = "\033[2m",
        };
        return c < _TABLE_COLOR_MAX ? sgr[c] : "";
}

static const char *cell(const Table *t, size_t row, size_t col) {
        return t->cells[row * t->n_columns + col];
}

static bool column_shown(const Table *t, size_t col) {
        const char *empty = t->columns[col].empty;
        if (!empty)
                return true;
        for (size_t r = 0; r < t->n_rows; r++)
                if (strcmp(cell(t, r, col), empty) != 0)
                        return true;
        return false;
}

/* Writes s in `cells` terminal cells: cut with "…" when longer, padded unless last. */
static void write_cell(FILE *f, const char *s, size_t cells, bool right, bool last) {
        size_t w = fmt_width(s);
        _cleanup_free_ char *cut = NULL;
        if (w > cells) {
                size_t n = strlen(s) + 4;
                cut = malloc(n);
                if (cut) {
                        /* "…" where the locale can show it, else "~" as the TUI's --ascii. */
                        s = fmt_fit(cut, n, s, cells, /* ascii= */ MB_CUR_MAX == 1);
                        w = fmt_width(s);
                }
        }
        size_t pad = w < cells ? cells - w : 0;
        if (right)
                fprintf(f, "%*s", (int) pad, "");
        fputs(s, f);
        if (!right && !last)
                fprintf(f, "%*s", (int) pad, "");
}

static void write_line(const Table *t, FILE *f, const bool *shown, const size_t *widths, const char *on,
                       const char *const *cells) {
        size_t last = 0;
        for (size_t i = 0; i < t->n_columns; i++)
                if (shown[i])
                        last = i;
        fputs(on, f);
        bool first = true;
        for (size_t i = 0; i < t->n_columns; i++) {
                if (!shown[i])
                        continue;
                if (!first)
                        fputs("  ", f);
                first = false;
                write_cell(f, cells[i], widths[i], t->columns[i].right, i == last);
        }
        if (*on)
                fputs(TABLE_COLOR_OFF, f);
        fputc('\n', f);
}

#define TABLE_GAP 2

int table_write(const Table *t, FILE *f, size_t width, bool color) {
        _cleanup_free_ bool *shown = calloc(t->n_columns ?: 1, sizeof(bool));
        _cleanup_free_ size_t *widths = calloc(t->n_columns ?: 1, sizeof(size_t));
        _cleanup_free_ const char **titles = calloc(t->n_columns ?: 1, sizeof(char *));
        if (!shown || !widths || !titles)
                return -ENOMEM;

        size_t total = 0, n_shown = 0;
        ssize_t shrink = -1;
        for (size_t i = 0; i < t->n_columns; i++) {
                titles[i] = t->columns[i].title;
                shown[i] = column_shown(t, i);
                if (!shown[i])
                        continue;
                widths[i] = fmt_width(titles[i]);
                for (size_t r = 0; r < t->n_rows; r++)
                        widths[i] = MAX(widths[i], fmt_width(cell(t, r, i)));
                total += widths[i] + (n_shown++ > 0 ? TABLE_GAP : 0);
                if (t->columns[i].shrink)
                        shrink = (ssize_t) i;
        }
        if (width > 0 && total > width && shrink >= 0) {
                size_t floor = fmt_width(titles[shrink]);
                size_t over = total - width;
                widths[shrink] = widths[shrink] > floor + over ? widths[shrink] - over : MAX(floor, 1);
        }

        write_line(t, f, shown, widths, color ? "\033[1m" : "", titles);
        for (size_t r = 0; r < t->n_rows; r++)
                write_line(t, f, shown, widths, color ? table_color_on(t->colors[r]) : "",
                           (const char *const *) t->cells + r * t->n_columns);
        return ferror(f) ? -EIO : 0;
}
