/* Reads of the history store: filtered, paged rows; stats; recent durations for ETAs.
 * Every user-supplied value is a bound parameter; the SQL text is made only of fixed
 * fragments chosen by which filters are set. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/history-internal.h"
#include "shared/model-json.h"

#define MAX_BINDS 32

typedef struct Bind {
        bool is_text;
        const char *text;
        int64_t i;
} Bind;

/* A statement under construction: SQL text plus its parameters. */
typedef struct Sql {
        char *text;
        size_t len;
        FILE *f;
        Bind binds[MAX_BINDS];
        unsigned n_binds;
} Sql;

static int sql_begin(Sql *s) {
        *s = (Sql){};
        s->f = open_memstream(&s->text, &s->len);
        return s->f ? 0 : -ENOMEM;
}

static void sql_done(Sql *s) {
        if (s->f)
                fclose(s->f);
        free(s->text);
}

static void sql_text(Sql *s, const char *fragment, const char *value) {
        if (s->n_binds < MAX_BINDS)
                s->binds[s->n_binds++] = (Bind){.is_text = true, .text = value};
        fputs(fragment, s->f);
}

static void sql_int(Sql *s, const char *fragment, int64_t value) {
        if (s->n_binds < MAX_BINDS)
                s->binds[s->n_binds++] = (Bind){.i = value};
        fputs(fragment, s->f);
}

/* " WHERE ..." for a filter (or nothing). Returns whether a WHERE was written. */
static bool sql_where(Sql *s, const HistoryFilter *f) {
        const char *glue = " WHERE ";
#define AND(frag) fputs(glue, s->f), glue = " AND ", (frag)
        if (f->name)
                AND(sql_text(s, "name GLOB ?", f->name));
        if (f->pname)
                AND(sql_text(s, "pname = ?", f->pname));
        if (f->drv)
                AND(sql_text(s, "drv = ?", f->drv));
        if (f->id)
                AND(sql_int(s, "id = ?", f->id));
        if (f->kind)
                AND(sql_text(s, "kind = ?", f->kind));
        if (f->machine)
                AND(sql_text(s, "machine = ?", f->machine));
        if (f->requester_set) {
                if (f->requester_user)
                        AND(sql_text(s, "requester_user = ?", f->requester_user));
                else
                        AND(sql_int(s, "requester_uid = ?", f->requester_uid));
        }
        if (f->viewer_set)
                AND(sql_int(s, "(untrusted_uid IS NULL OR untrusted_uid = ?)", f->viewer_uid));
        if (f->since)
                AND(sql_int(s, "finished >= ?", (int64_t) f->since));
        if (f->until)
                AND(sql_int(s, "finished < ?", (int64_t) f->until));
        if (f->states) {
                fputs(glue, s->f);
                glue = " AND ";
                fputs("state IN (", s->f);
                bool first = true;
                for (int i = 0; i < _BUILD_STATE_MAX; i++)
                        if (f->states & (1u << i)) {
                                sql_text(s, first ? "?" : ",?", build_state_to_string((BuildState) i));
                                first = false;
                        }
                fputs(")", s->f);
        }
#undef AND
        return glue[1] == 'A';
}

/* Finishes the text and prepares it with its parameters. */
static int sql_prepare(History *h, Sql *s, sqlite3_stmt **ret) {
        if (s->n_binds >= MAX_BINDS)
                return -E2BIG;
        if (fflush(s->f) != 0 || ferror(s->f))
                return -ENOMEM;
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(h->db, s->text, -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        for (unsigned i = 0; i < s->n_binds; i++) {
                if (s->binds[i].is_text)
                        sqlite3_bind_text(st, (int) i + 1, s->binds[i].text, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_int64(st, (int) i + 1, s->binds[i].i);
        }
        *ret = st;
        return 0;
}

static int step_error(History *h, int code) {
        return h->interrupted ? -ETIME : history_errno(code);
}

/* ---- rows ---- */

static const char *const order_table[_HISTORY_ORDER_MAX] = {
        [HISTORY_ORDER_FINISHED] = "finished",
        [HISTORY_ORDER_STARTED] = "started",
        [HISTORY_ORDER_DURATION] = "duration",
        [HISTORY_ORDER_NAME] = "name",
};

HistoryOrder history_order_from_string(const char *s) {
        for (int i = 0; i < _HISTORY_ORDER_MAX; i++)
                if (strcmp(order_table[i], s) == 0)
                        return (HistoryOrder) i;
        return _HISTORY_ORDER_INVALID;
}

static const char row_columns[] =
        "id, kind, drv, name, pname, machine, state, requester_uid, requester_user, requester_cmdline,"
        " queued, started, finished, duration, failure_kind, failure_message, exit_code, signal,"
        " cpu_user, cpu_system, mem_peak, io_read, io_write, nice, cpu_limit, mem_limit, oom_killed,"
        " log_tail, untrusted_uid IS NULL, approximate, phases, COALESCE(mem_limit_peak, mem_peak),"
        " mem_pressure_peak";
#define ROW_COLUMNS 33 /* in row_columns: a query's own come after them */

static void add_col_string(cJSON *o, const char *key, sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        if (t)
                cJSON_AddStringToObject(o, key, (const char *) t);
        else
                cJSON_AddNullToObject(o, key);
}

static void add_col_number(cJSON *o, const char *key, sqlite3_stmt *st, int i) {
        if (sqlite3_column_type(st, i) == SQLITE_NULL)
                cJSON_AddNullToObject(o, key);
        else
                cJSON_AddNumberToObject(o, key, sqlite3_column_double(st, i));
}

/* Microseconds in the database, seconds on the wire (like the live objects). */
static void add_col_seconds(cJSON *o, const char *key, sqlite3_stmt *st, int i) {
        if (sqlite3_column_type(st, i) == SQLITE_NULL)
                cJSON_AddNullToObject(o, key);
        else
                cJSON_AddNumberToObject(o, key, (double) sqlite3_column_int64(st, i) / 1e6);
}

static cJSON *row_to_json(sqlite3_stmt *st) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "id", (double) sqlite3_column_int64(st, 0));
        add_col_string(o, "kind", st, 1);
        add_col_string(o, "drv", st, 2);
        add_col_string(o, "name", st, 3);
        add_col_string(o, "pname", st, 4);
        add_col_string(o, "machine", st, 5);
        add_col_string(o, "state", st, 6);
        cJSON *req = cJSON_AddObjectToObject(o, "requester");
        if (req) {
                add_col_number(req, "uid", st, 7);
                add_col_string(req, "user", st, 8);
                add_col_string(req, "cmdline", st, 9);
        }
        cJSON_AddBoolToObject(o, "trusted", sqlite3_column_int(st, 28) != 0);
        add_col_seconds(o, "queued", st, 10);
        add_col_seconds(o, "started", st, 11);
        add_col_seconds(o, "finished", st, 12);
        add_col_seconds(o, "duration", st, 13);
        cJSON_AddBoolToObject(o, "approximate", sqlite3_column_int(st, 29) != 0);
        if (sqlite3_column_type(st, 14) == SQLITE_NULL)
                cJSON_AddNullToObject(o, "failure");
        else {
                cJSON *fl = cJSON_AddObjectToObject(o, "failure");
                if (fl) {
                        add_col_string(fl, "kind", st, 14);
                        add_col_number(fl, "exit_code", st, 16);
                        add_col_number(fl, "signal", st, 17);
                        add_col_string(fl, "message", st, 15);
                        /* Killed at its memory limit: the limit in force and how high it went
                         * (the cgroup's charge; the processes' peak in rows before schema 9). */
                        const unsigned char *kind = sqlite3_column_text(st, 14);
                        if (kind && failure_kind_from_string((const char *) kind) == FAILURE_OOM) {
                                add_col_number(fl, "mem_limit", st, 25);
                                add_col_number(fl, "mem_peak", st, 31);
                        }
                }
        }
        if (sqlite3_column_type(st, 18) == SQLITE_NULL && sqlite3_column_type(st, 23) == SQLITE_NULL &&
            sqlite3_column_type(st, 24) == SQLITE_NULL && sqlite3_column_type(st, 25) == SQLITE_NULL)
                cJSON_AddNullToObject(o, "usage");
        else {
                cJSON *u = cJSON_AddObjectToObject(o, "usage");
                if (u) {
                        add_col_seconds(u, "cpu_user", st, 18);
                        add_col_seconds(u, "cpu_system", st, 19);
                        add_col_number(u, "mem_peak", st, 20);
                        add_col_number(u, "io_read", st, 21);
                        add_col_number(u, "io_write", st, 22);
                        add_col_number(u, "nice", st, 23);
                        add_col_number(u, "cpu_limit", st, 24);
                        add_col_number(u, "mem_limit", st, 25);
                        if (sqlite3_column_type(st, 26) == SQLITE_NULL)
                                cJSON_AddNullToObject(u, "oom_killed");
                        else
                                cJSON_AddBoolToObject(u, "oom_killed", sqlite3_column_int(st, 26) != 0);
                        add_col_number(u, "mem_pressure_peak", st, 32);
                }
        }
        cJSON *tail = cJSON_AddArrayToObject(o, "log_tail");
        const char *t = (const char *) sqlite3_column_text(st, 27);
        for (const char *p = t; tail && p;) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) : strlen(p);
                char *line = strndup(p, n);
                cJSON_AddItemToArray(tail, cJSON_CreateString(line ? line : ""));
                free(line);
                p = nl ? nl + 1 : NULL;
        }
        const char *phases = (const char *) sqlite3_column_text(st, 30);
        cJSON *ph = phases ? cJSON_Parse(phases) : NULL;
        if (cJSON_IsArray(ph))
                cJSON_AddItemToObject(o, "phases", ph);
        else {
                cJSON_Delete(ph); /* none recorded, or not what this code wrote */
                cJSON_AddNullToObject(o, "phases");
        }
        if (cJSON_GetArraySize(o) < 16) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

cJSON *history_timeline_point_json(const TimelinePoint *p) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "t", usec_to_sec(p->t));
        cJSON_AddNumberToObject(o, "cpu_percent", p->cpu_permil / 10.0);
        cJSON_AddNumberToObject(o, "mem", (double) p->mem);
        cJSON_AddNumberToObject(o, "procs", p->procs);
        cJSON_AddNumberToObject(o, "io", (double) p->io);
        if (p->mem_pressure != TIMELINE_PRESSURE_NONE)
                cJSON_AddNumberToObject(o, "mem_pressure", p->mem_pressure / 10.0);
        else
                cJSON_AddNullToObject(o, "mem_pressure");
        return o;
}

/* The "then" member of a row from its timeline blob (column i): null without one. */
static void add_then(cJSON *o, sqlite3_stmt *st, int i, usec_t t) {
        Timeline tl;
        const TimelinePoint *p;
        if (timeline_decode(sqlite3_column_blob(st, i), (size_t) sqlite3_column_bytes(st, i), &tl) == 0 &&
            (p = timeline_at(&tl, t)))
                cJSON_AddItemToObject(o, "then", history_timeline_point_json(p));
        else
                cJSON_AddNullToObject(o, "then");
        timeline_done(&tl);
}

/* The "timeline" member of a row from its blob (column i), as get-build's: null without one,
 * or when the blob cannot be read (an old or damaged database). */
static void add_timeline(cJSON *o, sqlite3_stmt *st, int i) {
        Timeline tl;
        cJSON *j = NULL;
        if (timeline_decode(sqlite3_column_blob(st, i), (size_t) sqlite3_column_bytes(st, i), &tl) == 0 &&
            tl.n > 0)
                j = timeline_to_json(&tl, HISTORY_TIMELINE_POINTS);
        if (j)
                cJSON_AddItemToObject(o, "timeline", j);
        else
                cJSON_AddNullToObject(o, "timeline");
        timeline_done(&tl);
}

typedef cJSON *(*RowToJson)(sqlite3_stmt *st);

/* Every row st gives, as JSON by to_json; with then (a time), each with its "then", with
 * timeline its "timeline" (both from the timeline column after the row's). */
static int rows_collect(History *h, sqlite3_stmt *st, RowToJson to_json, usec_t then, bool timeline,
                        cJSON **ret) {
        cJSON *rows = cJSON_CreateArray();
        if (!rows)
                return -ENOMEM;
        int code;
        while ((code = sqlite3_step(st)) == SQLITE_ROW) {
                cJSON *o = to_json(st);
                if (!o || !cJSON_AddItemToArray(rows, o)) {
                        cJSON_Delete(o);
                        cJSON_Delete(rows);
                        return -ENOMEM;
                }
                if (then)
                        add_then(o, st, ROW_COLUMNS, then);
                if (timeline)
                        add_timeline(o, st, ROW_COLUMNS);
        }
        if (code != SQLITE_DONE) {
                cJSON_Delete(rows);
                return step_error(h, code);
        }
        *ret = rows;
        return 0;
}

static int query_total(History *h, const HistoryFilter *f, uint64_t *ret) {
        _cleanup_(sql_done) Sql s = {};
        sqlite3_stmt *st = NULL;
        int r;
        if ((r = sql_begin(&s)) < 0)
                return r;
        fputs("SELECT COUNT(*) FROM builds", s.f);
        sql_where(&s, f);
        if ((r = sql_prepare(h, &s, &st)) < 0)
                return r;
        int code = sqlite3_step(st);
        if (code == SQLITE_ROW)
                *ret = (uint64_t) sqlite3_column_int64(st, 0);
        r = code == SQLITE_ROW ? 0 : step_error(h, code);
        sqlite3_finalize(st);
        return r;
}

int history_query(History *h, const HistoryQuery *q, usec_t budget, cJSON **ret_rows, uint64_t *ret_total) {
        _cleanup_(sql_done) Sql s = {};
        sqlite3_stmt *st = NULL;
        int r;

        if (q->order < 0 || q->order >= _HISTORY_ORDER_MAX)
                return -EINVAL;
        if ((r = sql_begin(&s)) < 0)
                return r;
        history_set_budget(h, budget);
        fprintf(s.f, "SELECT %s%s FROM builds", row_columns, q->timeline ? ", timeline" : "");
        sql_where(&s, &q->filter);
        /* id breaks ties so pages never overlap or skip. */
        const char *dir = q->ascending ? "ASC" : "DESC";
        fprintf(s.f, " ORDER BY %s %s, id %s", order_table[q->order], dir, dir);
        sql_int(&s, " LIMIT ?", (int64_t) MIN(q->limit, (uint64_t) INT64_MAX));
        sql_int(&s, " OFFSET ?", (int64_t) MIN(q->offset, (uint64_t) INT64_MAX));
        if ((r = sql_prepare(h, &s, &st)) < 0)
                goto finalize;

        cJSON *rows = NULL;
        if ((r = rows_collect(h, st, row_to_json, 0, q->timeline, &rows)) < 0)
                goto finalize;
        if (q->count && (r = query_total(h, &q->filter, ret_total)) < 0) {
                cJSON_Delete(rows);
                goto finalize;
        }
        *ret_rows = rows;
        r = 0;
finalize:
        sqlite3_finalize(st);
        history_set_budget(h, 0);
        return r;
}

/* ---- at an instant ---- */

int history_at(History *h, usec_t t, usec_t budget, cJSON **ret) {
        sqlite3_stmt *st = NULL;
        history_set_budget(h, budget);
        /* A build running at t finished at t or later, and at most its length after: the
         * longest duration known bounds the range of the finished index to read (frozen time
         * is outside durations: a day more for it). */
        int64_t longest = 0;
        int code = sqlite3_prepare_v2(h->db, "SELECT max(duration) FROM builds", -1, &st, NULL);
        if (code == SQLITE_OK && (code = sqlite3_step(st)) == SQLITE_ROW)
                longest = MAX(sqlite3_column_int64(st, 0), 0);
        sqlite3_finalize(st);
        st = NULL;
        if (code != SQLITE_ROW && code != SQLITE_DONE) {
                history_set_budget(h, 0);
                return step_error(h, code);
        }
        char sql[sizeof(row_columns) + 256];
        snprintf(sql, sizeof(sql),
                 "SELECT %s, timeline FROM builds WHERE finished >= ?1 AND finished <= ?2 AND started <= ?1"
                 " AND kind = 'build' ORDER BY started, id",
                 row_columns);
        int r = 0;
        if ((code = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL)) != SQLITE_OK) {
                r = history_errno(code);
                goto finalize;
        }
        usec_t day = 24 * 3600 * USEC_PER_SEC;
        sqlite3_bind_int64(st, 1, (int64_t) t);
        sqlite3_bind_int64(st, 2, (int64_t) MIN(t + (usec_t) longest + day, (usec_t) INT64_MAX));
        cJSON *rows = NULL;
        if ((r = rows_collect(h, st, row_to_json, t, /* timeline= */ false, &rows)) < 0)
                goto finalize;
        *ret = rows;
finalize:
        sqlite3_finalize(st);
        history_set_budget(h, 0);
        return r;
}

/* ---- stats ---- */

typedef enum ColKind { COL_TEXT, COL_NUMBER, COL_SECONDS } ColKind;

typedef struct Col {
        const char *key;
        ColKind kind;
} Col;

/* Runs "SELECT <select> FROM builds <where> <tail>" and returns its rows as objects whose
 * members are cols, in order. */
static int stats_section(History *h, const HistoryFilter *f, const char *select, const char *extra_where,
                         const char *tail, unsigned top, const Col *cols, size_t n_cols, cJSON **ret) {
        _cleanup_(sql_done) Sql s = {};
        sqlite3_stmt *st = NULL;
        int r;
        if ((r = sql_begin(&s)) < 0)
                return r;
        fprintf(s.f, "SELECT %s FROM builds", select);
        bool where = sql_where(&s, f);
        if (extra_where)
                fprintf(s.f, " %s %s", where ? "AND" : "WHERE", extra_where);
        fputs(" ", s.f);
        fputs(tail, s.f);
        if (top > 0)
                sql_int(&s, " LIMIT ?", top);
        if ((r = sql_prepare(h, &s, &st)) < 0)
                return r;

        cJSON *arr = cJSON_CreateArray();
        int code = SQLITE_DONE;
        while (arr && (code = sqlite3_step(st)) == SQLITE_ROW) {
                cJSON *o = cJSON_CreateObject();
                if (!o || !cJSON_AddItemToArray(arr, o)) {
                        cJSON_Delete(o);
                        break;
                }
                for (size_t i = 0; i < n_cols; i++) {
                        if (cols[i].kind == COL_TEXT)
                                add_col_string(o, cols[i].key, st, (int) i);
                        else if (cols[i].kind == COL_SECONDS) {
                                if (sqlite3_column_type(st, (int) i) == SQLITE_NULL)
                                        cJSON_AddNullToObject(o, cols[i].key);
                                else
                                        cJSON_AddNumberToObject(o, cols[i].key,
                                                                sqlite3_column_double(st, (int) i) / 1e6);
                        } else
                                add_col_number(o, cols[i].key, st, (int) i);
                }
                if (cJSON_GetArraySize(o) < (int) n_cols)
                        break;
        }
        if (!arr || code != SQLITE_DONE) {
                r = !arr || code == SQLITE_ROW ? -ENOMEM : step_error(h, code);
                cJSON_Delete(arr);
                sqlite3_finalize(st);
                return r;
        }
        sqlite3_finalize(st);
        *ret = arr;
        return 0;
}

/* The median duration (seconds, *ret < 0 none) of f's n successful builds of pname. */
static int median_duration(History *h, const HistoryFilter *f, const char *pname, int64_t n, double *ret) {
        *ret = -1;
        if (n <= 0 || !pname)
                return 0;
        HistoryFilter g = *f;
        g.pname = pname;
        _cleanup_(sql_done) Sql s = {};
        sqlite3_stmt *st = NULL;
        int r;
        if ((r = sql_begin(&s)) < 0)
                return r;
        fputs("SELECT duration FROM builds", s.f);
        bool where = sql_where(&s, &g);
        fprintf(s.f, " %s state = 'succeeded' AND duration IS NOT NULL ORDER BY duration",
                where ? "AND" : "WHERE");
        sql_int(&s, " LIMIT 1 OFFSET ?", (n - 1) / 2);
        if ((r = sql_prepare(h, &s, &st)) < 0)
                return r;
        int code = sqlite3_step(st);
        if (code == SQLITE_ROW)
                *ret = sqlite3_column_double(st, 0) / 1e6;
        r = code == SQLITE_ROW || code == SQLITE_DONE ? 0 : step_error(h, code);
        sqlite3_finalize(st);
        return r;
}

/* Each entry of a ranking gets "median_duration" (its successful builds', from "succeeded"). */
static int add_medians(History *h, const HistoryFilter *f, cJSON *list) {
        cJSON *e;
        cJSON_ArrayForEach(e, list) {
                const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "pname"),
                            *n = cJSON_GetObjectItemCaseSensitive(e, "succeeded");
                double median;
                int r = median_duration(h, f, cJSON_IsString(p) ? p->valuestring : NULL,
                                        cJSON_IsNumber(n) ? (int64_t) n->valuedouble : 0, &median);
                if (r < 0)
                        return r;
                if (!(median >= 0 ? cJSON_AddNumberToObject(e, "median_duration", median)
                                  : cJSON_AddNullToObject(e, "median_duration")))
                        return -ENOMEM;
        }
        return 0;
}

int history_stats(History *h, const HistoryFilter *f, unsigned top, usec_t budget, cJSON **ret) {
        static const Col totals_cols[] = {
                {"builds", COL_NUMBER},    {"succeeded", COL_NUMBER}, {"failed", COL_NUMBER},
                {"killed", COL_NUMBER},    {"lost", COL_NUMBER},      {"build_time", COL_SECONDS},
                {"cpu_time", COL_SECONDS},
        };
        static const Col slowest_cols[] = {
                {"pname", COL_TEXT},  {"builds", COL_NUMBER}, {"mean", COL_SECONDS},
                {"max", COL_SECONDS}, {"total", COL_SECONDS}, {"last_drv", COL_TEXT},
        };
        static const Col failing_cols[] = {
                {"pname", COL_TEXT},
                {"failures", COL_NUMBER},
                {"builds", COL_NUMBER},
                {"last_failure", COL_SECONDS},
        };
        static const Col requester_cols[] = {
                {"uid", COL_NUMBER},      {"user", COL_TEXT},          {"builds", COL_NUMBER},
                {"failures", COL_NUMBER}, {"build_time", COL_SECONDS}, {"cpu_time", COL_SECONDS},
        };
        static const Col memory_cols[] = {
                {"pname", COL_TEXT},           {"builds", COL_NUMBER},    {"mem_peak", COL_NUMBER},
                {"mem_peak_mean", COL_NUMBER}, {"succeeded", COL_NUMBER},
        };
        static const Col cpu_cols[] = {
                {"pname", COL_TEXT},      {"builds", COL_NUMBER},   {"cpu_mean", COL_SECONDS},
                {"cpu_max", COL_SECONDS}, {"mem_peak", COL_NUMBER}, {"succeeded", COL_NUMBER},
        };
        static const Col day_cols[] = {
                {"day", COL_TEXT},      {"builds", COL_NUMBER},      {"succeeded", COL_NUMBER},
                {"failed", COL_NUMBER}, {"build_time", COL_SECONDS},
        };
        cJSON *o = cJSON_CreateObject(), *section = NULL, *totals = NULL;
        int r;
        if (!o)
                return -ENOMEM;
        history_set_budget(h, budget);

        r = stats_section(h, f,
                          "COUNT(*), SUM(state = 'succeeded'), SUM(state = 'failed'), SUM(state = 'killed'),"
                          " SUM(state = 'lost'), SUM(duration), SUM(cpu_user + cpu_system)",
                          NULL, "", 0, totals_cols, ELEMENTSOF(totals_cols), &totals);
        if (r < 0)
                goto delete_stats;
        cJSON *t = cJSON_DetachItemFromArray(totals, 0);
        cJSON_Delete(totals);
        if (!t || !cJSON_AddItemToObject(o, "totals", t)) {
                cJSON_Delete(t);
                r = -ENOMEM;
                goto delete_stats;
        }

        /* "GROUP BY +pname": the unary plus (a no-op on any value) keeps SQLite from walking
         * a whole (pname, ...) or (requester_uid, ...) index to avoid a sort, which it chose
         * over the finished index of the time range: 60-240 ms at 1 M rows for a month with
         * no rows at all, and 3 times slower over all of them (issue 22). */
        struct {
                const char *key, *select, *where, *tail;
                const Col *cols;
                size_t n_cols;
        } sections[] = {
                {"slowest", "pname, COUNT(*), AVG(duration), MAX(duration), SUM(duration), MAX(drv)",
                 "state = 'succeeded' AND duration IS NOT NULL",
                 "GROUP BY pname ORDER BY AVG(duration) DESC", slowest_cols, ELEMENTSOF(slowest_cols)},
                {"failing",
                 "pname, SUM(state != 'succeeded'), COUNT(*), MAX(CASE WHEN state != 'succeeded' THEN "
                 "finished END)",
                 NULL, "GROUP BY +pname HAVING SUM(state != 'succeeded') > 0 ORDER BY 2 DESC, 4 DESC",
                 failing_cols, ELEMENTSOF(failing_cols)},
                {"requesters",
                 "requester_uid, MAX(requester_user), COUNT(*), SUM(state != 'succeeded'), SUM(duration),"
                 " SUM(cpu_user + cpu_system)",
                 NULL, "GROUP BY +requester_uid ORDER BY 3 DESC", requester_cols,
                 ELEMENTSOF(requester_cols)},
                {"by_day",
                 "date(finished / 1000000, 'unixepoch'), COUNT(*), SUM(state = 'succeeded'),"
                 " SUM(state != 'succeeded'), SUM(duration)",
                 NULL, "GROUP BY 1 ORDER BY 1 DESC", day_cols, ELEMENTSOF(day_cols)},
                /* The packages whose builds held the most memory, and used the most CPU: each
                 * with its peak and (add_medians) the median duration of its successful builds. */
                {"memory",
                 "pname, COUNT(*), MAX(mem_peak), AVG(mem_peak),"
                 " SUM(state = 'succeeded' AND duration IS NOT NULL)",
                 "mem_peak IS NOT NULL", "GROUP BY +pname ORDER BY 3 DESC", memory_cols,
                 ELEMENTSOF(memory_cols)},
                {"cpu",
                 "pname, COUNT(*), AVG(cpu_user + cpu_system), MAX(cpu_user + cpu_system), MAX(mem_peak),"
                 " SUM(state = 'succeeded' AND duration IS NOT NULL)",
                 "cpu_user IS NOT NULL", "GROUP BY +pname ORDER BY 3 DESC", cpu_cols, ELEMENTSOF(cpu_cols)},
        };
        for (size_t i = 0; i < ELEMENTSOF(sections); i++) {
                r = stats_section(h, f, sections[i].select, sections[i].where, sections[i].tail, top,
                                  sections[i].cols, sections[i].n_cols, &section);
                if (r >= 0 &&
                    (strcmp(sections[i].key, "memory") == 0 || strcmp(sections[i].key, "cpu") == 0) &&
                    (r = add_medians(h, f, section)) < 0)
                        cJSON_Delete(section);
                if (r < 0)
                        goto delete_stats;
                if (!cJSON_AddItemToObject(o, sections[i].key, section)) {
                        cJSON_Delete(section);
                        r = -ENOMEM;
                        goto delete_stats;
                }
        }
        history_set_budget(h, 0);
        *ret = o;
        return 0;
delete_stats:
        history_set_budget(h, 0);
        cJSON_Delete(o);
        return r;
}

/* ---- ETA input ---- */

int history_outcome_counts(History *h, usec_t since, usec_t budget, uint64_t ret[static _COUNT_MAX]) {
        /* builds_finished leads: the window's rows only, however long the history. */
        static const char sql[] = "SELECT state, failure_kind, COUNT(*) FROM builds"
                                  " WHERE finished >= ?1 AND kind = 'build' GROUP BY state, failure_kind";
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        sqlite3_bind_int64(st, 1, (int64_t) since);
        for (size_t i = 0; i < _COUNT_MAX; i++)
                ret[i] = 0;
        history_set_budget(h, budget);
        while ((code = sqlite3_step(st)) == SQLITE_ROW) {
                const char *state = (const char *) sqlite3_column_text(st, 0);
                const char *kind = (const char *) sqlite3_column_text(st, 1);
                BuildCount c = build_count_for(build_state_from_string(state ?: ""),
                                               failure_kind_from_string(kind));
                if (build_count_is_final(c))
                        ret[c] += (uint64_t) sqlite3_column_int64(st, 2);
        }
        sqlite3_finalize(st);
        history_set_budget(h, 0);
        return code == SQLITE_DONE ? 0 : history_errno(code);
}

int history_recent_durations(History *h, const char *pname, const char *machine, int64_t uid, unsigned n,
                             usec_t budget, double *ret, char **ret_machines) {
        /* Prepared once per handle: lookups come once per package (a cache miss), and planning the
         * compound query cost more than running it. */
        sqlite3_stmt **stp = &h->eta[machine ? 0 : 1];
        if (!*stp) {
                int code = sqlite3_prepare_v3(
                        h->db, machine ? HISTORY_SQL_ETA_ON_MACHINE : HISTORY_SQL_ETA_ANY_MACHINE, -1,
                        SQLITE_PREPARE_PERSISTENT, stp, NULL);
                if (code != SQLITE_OK)
                        return history_errno(code);
        }
        sqlite3_stmt *st = *stp;
        sqlite3_bind_text(st, 1, pname, -1, SQLITE_STATIC);
        if (machine)
                sqlite3_bind_text(st, 2, machine, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int) n);
        if (uid >= 0)
                sqlite3_bind_int64(st, 4, uid);
        else
                sqlite3_bind_null(st, 4);
        history_set_budget(h, budget);
        int code = SQLITE_DONE, count = 0;
        while (count < (int) n && (code = sqlite3_step(st)) == SQLITE_ROW) {
                ret[count] = (double) sqlite3_column_int64(st, 0) / 1e6;
                if (ret_machines) {
                        const char *m = (const char *) sqlite3_column_text(st, 1);
                        ret_machines[count] = strdup(m ? m : "");
                }
                count++;
        }
        int r = code == SQLITE_ROW || code == SQLITE_DONE ? count : history_errno(code);
        /* Reset: no read transaction is left open, and pname (bound static) is let go. */
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        history_set_budget(h, 0);
        if (r < 0 && ret_machines)
                for (int i = 0; i < count; i++) {
                        free(ret_machines[i]);
                        ret_machines[i] = NULL;
                }
        return r;
}

/* ---- one derivation's past (deps of a .drv) ---- */

int history_row_drv(History *h, int64_t id, char **ret) {
        static const char sql[] = "SELECT drv FROM builds WHERE id = ?1 AND kind = 'build'";
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        sqlite3_bind_int64(st, 1, id);
        int r;
        code = sqlite3_step(st);
        if (code == SQLITE_ROW) {
                const char *drv = (const char *) sqlite3_column_text(st, 0);
                char *copy = strdup(drv ? drv : "");
                r = copy ? 0 : -ENOMEM;
                if (copy)
                        *ret = copy;
        } else
                r = code == SQLITE_DONE ? -ENOENT : history_errno(code);
        sqlite3_finalize(st);
        return r;
}

int history_last_builds(History *h, const char *const *drvs, size_t n, int64_t viewer_uid, usec_t budget,
                        HistoryLast *ret) {
        /* (drv, queued) is the table's unique index: each lookup reads one drv's rows,
         * newest first, and stops at the first the viewer may rely on. */
        static const char sql[] = "SELECT id, state, failure_kind, finished, duration FROM builds"
                                  " WHERE drv = ?1 AND kind = 'build'"
                                  " AND (untrusted_uid IS NULL OR untrusted_uid = ?2)"
                                  " ORDER BY queued DESC LIMIT 1";
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        if (viewer_uid >= 0)
                sqlite3_bind_int64(st, 2, viewer_uid);
        else
                sqlite3_bind_null(st, 2);
        for (size_t i = 0; i < n; i++)
                ret[i] = (HistoryLast){};
        history_set_budget(h, budget);
        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                sqlite3_bind_text(st, 1, drvs[i], -1, SQLITE_STATIC);
                code = sqlite3_step(st);
                if (code == SQLITE_ROW) {
                        const char *state = (const char *) sqlite3_column_text(st, 1);
                        const char *kind = (const char *) sqlite3_column_text(st, 2);
                        ret[i].id = sqlite3_column_int64(st, 0);
                        ret[i].state = strdup(state ? state : "");
                        ret[i].failure_kind = kind ? strdup(kind) : NULL;
                        ret[i].finished = (usec_t) sqlite3_column_int64(st, 3);
                        ret[i].has_duration = sqlite3_column_type(st, 4) != SQLITE_NULL;
                        ret[i].duration = (usec_t) sqlite3_column_int64(st, 4);
                        if (!ret[i].state || (kind && !ret[i].failure_kind))
                                r = -ENOMEM;
                } else if (code != SQLITE_DONE)
                        r = step_error(h, code);
                sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        history_set_budget(h, 0);
        if (r < 0)
                history_last_free(ret, n);
        return r;
}

void history_last_free(HistoryLast *l, size_t n) {
        for (size_t i = 0; l && i < n; i++) {
                free(l[i].state);
                free(l[i].failure_kind);
                l[i] = (HistoryLast){};
        }
}

/* ---- OOM kills ---- */

static cJSON *oom_row_to_json(sqlite3_stmt *st) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "id", (double) sqlite3_column_int64(st, 0));
        add_col_seconds(o, "time", st, 1);
        add_col_string(o, "source", st, 2);
        cJSON *v = cJSON_AddObjectToObject(o, "victim");
        if (v) {
                add_col_number(v, "pid", st, 3);
                add_col_number(v, "host_pid", st, 14);
                add_col_string(v, "command", st, 4);
                add_col_string(v, "memcg", st, 5);
                add_col_string(v, "constraint", st, 6);
        }
        /* A build's kill names its build; a kill of no build, the builds holding the most. */
        if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
                cJSON *b = cJSON_AddObjectToObject(o, "build");
                if (b) {
                        add_col_string(b, "drv", st, 7);
                        add_col_string(b, "name", st, 8);
                        add_col_number(b, "mem_limit", st, 11);
                        add_col_number(b, "mem_peak", st, 12);
                        cJSON *r = cJSON_AddObjectToObject(b, "requester");
                        if (r) {
                                add_col_number(r, "uid", st, 9);
                                add_col_string(r, "user", st, 10);
                        }
                }
                cJSON_AddNullToObject(o, "top");
        } else {
                cJSON_AddNullToObject(o, "build");
                const unsigned char *top = sqlite3_column_text(st, 13);
                cJSON *t = top ? cJSON_Parse((const char *) top) : NULL;
                cJSON_AddItemToObject(o, "top", cJSON_IsArray(t) ? t : cJSON_CreateArray());
                if (t && !cJSON_IsArray(t))
                        cJSON_Delete(t);
        }
        add_col_number(o, "requester_uid", st, 9);
        if (cJSON_GetArraySize(o) < 7) { /* a member lost to out of memory */
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

int history_oom_query(History *h, const HistoryQuery *q, usec_t budget, cJSON **ret_rows) {
        static const char sql[] =
                "SELECT id, time, source, pid, command, memcg, oom_constraint, drv, name, requester_uid,"
                " requester_user, mem_limit, mem_peak, top, host_pid FROM oom_events"
                " WHERE time >= ?1 AND (?2 = 0 OR time <= ?2) ORDER BY time DESC, id DESC LIMIT ?3";
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        sqlite3_bind_int64(st, 1, (int64_t) q->filter.since);
        sqlite3_bind_int64(st, 2, (int64_t) q->filter.until);
        sqlite3_bind_int64(st, 3, (int64_t) MIN(q->limit, (uint64_t) INT64_MAX));
        history_set_budget(h, budget);
        int r = rows_collect(h, st, oom_row_to_json, 0, /* timeline= */ false, ret_rows);
        sqlite3_finalize(st);
        history_set_budget(h, 0);
        return r;
}
