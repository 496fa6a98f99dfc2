/* The history store: opening (with schema migrations), batched inserts, retention. */
#include "shared/history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "shared/drv.h"
#include "shared/history-internal.h"
#include "shared/json-read.h"

int history_errno(int code) {
        switch (code & 0xff) {
        case SQLITE_OK:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EUCLEAN;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_INTERRUPT:
                return -ETIME;
        case SQLITE_TOOBIG:
                return -E2BIG;
        default:
                return -EIO;
        }
}

int history_exec(History *h, const char *sql) {
        return history_errno(sqlite3_exec(h->db, sql, NULL, NULL, NULL));
}

const char *history_errmsg(History *h) {
        return h && h->db ? sqlite3_errmsg(h->db) : "no database";
}

/* Interrupts a query that outlives its budget: the daemon's worker threads answer one query
 * at a time, and the next must not wait behind a scan of a million rows. */
static int progress(void *userdata) {
        History *h = userdata;
        if (h->deadline && now_monotonic() > h->deadline) {
                h->interrupted = true;
                return 1;
        }
        return 0;
}

void history_set_budget(History *h, usec_t budget) {
        h->interrupted = false;
        h->deadline = budget ? now_monotonic() + budget : 0;
        sqlite3_progress_handler(h->db, budget ? 1000 : 0, budget ? progress : NULL, h);
}

History *history_close(History *h) {
        if (!h)
                return NULL;
        sqlite3_finalize(h->insert);
        for (size_t i = 0; i < ELEMENTSOF(h->eta); i++)
                sqlite3_finalize(h->eta[i]);
        sqlite3_close_v2(h->db);
        free(h);
        return NULL;
}

static int set_error(char **ret_error, const char *path, const char *what) {
        if (ret_error) {
                free(*ret_error);
                if (asprintf(ret_error, "%s: %s", path, what) < 0)
                        *ret_error = NULL;
        }
        return 0;
}

int history_open(const char *path, HistoryOpenFlags flags, History **ret, char **ret_error) {
        History *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->readonly = flags & HISTORY_OPEN_READONLY;
        int oflags = (h->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                     SQLITE_OPEN_NOMUTEX;
        int code = sqlite3_open_v2(path, &h->db, oflags, NULL);
        int r = history_errno(code);
        if (r < 0)
                goto report_and_close;

        sqlite3_extended_result_codes(h->db, 0);
        /* A locked database is reported, not waited for long: the caller retries later. */
        sqlite3_busy_timeout(h->db, h->readonly ? 0 : 200);
        /* The first real read tells a database from garbage (open is lazy). */
        r = history_schema_version(h);
        if (r < 0)
                goto report_and_close;
        if (!h->readonly && sqlite3_db_readonly(h->db, "main") == 1) {
                /* SQLite quietly opens read-only what it cannot write (file mode, a
                 * read-only file system): for the writer that is a failure to report. */
                r = -EROFS;
                goto report_and_close;
        }
        if (!h->readonly) {
                /* WAL: readers (the daemon's queries, other tools) never block the writer,
                 * and a crash loses at most the last transaction. */
                if ((r = history_exec(h, "PRAGMA journal_mode = WAL")) < 0 ||
                    (r = history_exec(h, "PRAGMA synchronous = NORMAL")) < 0)
                        goto report_and_close;
        }
        r = history_migrate(h);
        if (r < 0)
                goto report_and_close;
        *ret = h;
        return 0;

report_and_close:
        /* SQLite says "unable to open" when it cannot create its -wal/-shm files: name the
         * real cause when it is a read-only file (system). */
        if (!h->readonly && r != -EPROTONOSUPPORT && access(path, W_OK) < 0 &&
            (errno == EROFS || errno == EACCES))
                r = -EROFS;
        if (r == -EPROTONOSUPPORT) {
                char msg[128];
                snprintf(msg, sizeof(msg), "schema version %d is newer than this program's (%d)",
                         history_schema_version(h), history_schema_latest());
                set_error(ret_error, path, msg);
        } else if (r == -EROFS)
                set_error(ret_error, path, "database or file system is read-only");
        else
                set_error(ret_error, path, h->db ? sqlite3_errmsg(h->db) : strerror(-r));
        history_close(h);
        return r;
}

/* ---- records ---- */

void history_record_done(HistoryRecord *rec) {
        free(rec->kind);
        free(rec->drv);
        free(rec->name);
        free(rec->pname);
        free(rec->machine);
        free(rec->state);
        free(rec->requester_user);
        free(rec->requester_cmdline);
        free(rec->failure_kind);
        free(rec->failure_message);
        free(rec->log_tail);
        history_oom_done(rec->oom);
        free(rec->oom);
        free(rec->timeline);
        free(rec->phases);
        *rec = (HistoryRecord){.requester_uid = -1, .exit_code = -1};
}

void history_oom_done(HistoryOom *o) {
        if (!o)
                return;
        free(o->command);
        free(o->memcg);
        free(o->constraint);
        free(o->drv);
        free(o->name);
        free(o->requester_user);
        free(o->top);
        *o = (HistoryOom){.requester_uid = -1};
}

static bool dup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return !s || *ret;
}

/* b's phases with when each started and how long it lasted (to the next, or the build's end),
 * as JSON text; NULL out of memory. */
static char *phases_json(const Build *b) {
        _cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateArray();
        for (uint32_t i = 0; a && i < b->n_phases; i++) {
                usec_t start = b->phases[i].time,
                       end = i + 1 < b->n_phases ? b->phases[i + 1].time : b->finished;
                cJSON *p = cJSON_CreateObject();
                if (!p || !cJSON_AddItemToArray(a, p) ||
                    !cJSON_AddStringToObject(p, "name", b->phases[i].name) ||
                    !cJSON_AddNumberToObject(p, "start", usec_to_sec(start)) ||
                    !cJSON_AddNumberToObject(p, "duration", end > start ? usec_to_sec(end - start) : 0))
                        return NULL;
        }
        return a ? cJSON_PrintUnformatted(a) : NULL;
}

/* The newest lines of the ring that fit the bounds, '\n'-joined. */
static char *log_tail(const Build *b) {
        uint32_t n = MIN((uint32_t) HISTORY_LOG_TAIL_LINES, b->log.count), first = b->log.count - n;
        size_t total = 0;
        while (n > 0) {
                total = 0;
                for (uint32_t i = first; i < b->log.count; i++)
                        total += strlen(build_log_line(b, i)) + 1;
                if (total <= HISTORY_LOG_TAIL_BYTES)
                        break;
                n--;
                first++;
        }
        if (n == 0)
                return NULL;
        char *s = malloc(total + 1), *w = s;
        if (!s)
                return NULL;
        for (uint32_t i = first; i < b->log.count; i++) {
                const char *l = build_log_line(b, i);
                size_t len = strlen(l);
                memcpy(w, l, len);
                w += len;
                *w++ = '\n';
        }
        w[-1] = '\0';
        return s;
}

int history_timeline_blob(const Timeline *tl, uint8_t **ret, size_t *ret_len) {
        Timeline thin;
        int k = timeline_thin(tl, HISTORY_TIMELINE_POINTS, HISTORY_TIMELINE_STEP, &thin);
        if (k >= 0)
                k = timeline_encode(&thin, ret, ret_len);
        timeline_done(&thin);
        return k;
}

int history_record_from_build(const Build *b, HistoryRecord *rec) {
        HistoryRecord r = {
                .requester_uid = b->requester.uid,
                .untrusted = !b->invocation || !b->invocation->source || !b->invocation->source->trusted,
                .queued = b->queued,
                .started = b->started,
                .finished = b->finished,
                .duration = build_duration(b, b->finished),
                .exit_code = b->exit_code,
                .signal = b->signal,
                .usage = b->usage,
                .approximate = b->start_unknown,
        };
        if (!dup_or_null("build", &r.kind) || !dup_or_null(b->drv, &r.drv) ||
            !dup_or_null(b->name, &r.name) || !(r.pname = drv_name_pname(b->name)) ||
            !dup_or_null(b->machine ? b->machine : "", &r.machine) ||
            !dup_or_null(build_state_to_string(b->state), &r.state) ||
            !dup_or_null(b->requester.user, &r.requester_user) ||
            !dup_or_null(b->requester.cmdline, &r.requester_cmdline) ||
            !dup_or_null(failure_kind_to_string(b->failure), &r.failure_kind) ||
            !dup_or_null(b->failure_message, &r.failure_message)) {
                history_record_done(&r);
                return -ENOMEM;
        }
        r.log_tail = log_tail(b);
        int k = history_timeline_blob(&b->timeline, &r.timeline, &r.timeline_len);
        if (k < 0 || (b->n_phases > 0 && !(r.phases = phases_json(b)))) {
                history_record_done(&r);
                return -ENOMEM;
        }
        *rec = r;
        return 0;
}

int history_record_from_substitution(const Substitution *x, HistoryRecord *rec) {
        HistoryRecord r = {
                .requester_uid = x->requester.uid,
                .untrusted = x->untrusted,
                .queued = x->started,
                .started = x->started,
                .finished = x->finished,
                .exit_code = -1,
        };
        if (!dup_or_null("substitution", &r.kind) || !dup_or_null(x->path, &r.drv) ||
            !dup_or_null(x->name, &r.name) || !(r.pname = drv_name_pname(x->name)) ||
            !dup_or_null(x->uri ? x->uri : "", &r.machine) ||
            !dup_or_null(x->succeeded ? "succeeded" : "failed", &r.state) ||
            !dup_or_null(x->requester.user, &r.requester_user) ||
            !dup_or_null(x->requester.cmdline, &r.requester_cmdline) ||
            (!x->succeeded && !dup_or_null("other", &r.failure_kind)) ||
            (!x->succeeded &&
             !dup_or_null("the path is not in the store after the substitution", &r.failure_message))) {
                history_record_done(&r);
                return -ENOMEM;
        }
        *rec = r;
        return 0;
}

/* ---- writes ---- */

/* A build recorded again keeps its row, except a failure recorded as no-outputs (decided
 * before Nix gave its reason): that takes Nix's reason. */
static const char insert_sql[] =
        "INSERT OR IGNORE INTO builds (kind, drv, name, pname, machine, state, requester_uid,"
        " requester_user, requester_cmdline, queued, started, finished, duration, failure_kind,"
        " failure_message, exit_code, signal, cpu_user, cpu_system, mem_peak, io_read, io_write,"
        " nice, cpu_limit, mem_limit, oom_killed, log_tail, untrusted_uid, approximate, timeline,"
        " phases, mem_limit_peak, mem_pressure_peak)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
        " ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)"
        " ON CONFLICT (drv, queued) DO UPDATE SET state = excluded.state,"
        " failure_kind = excluded.failure_kind, failure_message = excluded.failure_message,"
        " exit_code = excluded.exit_code, signal = excluded.signal, log_tail = excluded.log_tail"
        " WHERE builds.failure_kind = 'no-outputs' AND excluded.failure_kind != 'no-outputs'";

static void bind_text(sqlite3_stmt *st, int i, const char *s) {
        if (s)
                sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, i);
}

static void bind_int(sqlite3_stmt *st, int i, int64_t v, bool present) {
        if (present)
                sqlite3_bind_int64(st, i, v);
        else
                sqlite3_bind_null(st, i);
}

static int insert_one(History *h, const HistoryRecord *rec) {
        sqlite3_stmt *st = h->insert;
        const BuildUsage *u = &rec->usage;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        bind_text(st, 1, rec->kind ? rec->kind : "build");
        bind_text(st, 2, rec->drv);
        bind_text(st, 3, rec->name);
        bind_text(st, 4, rec->pname);
        bind_text(st, 5, rec->machine ? rec->machine : "");
        bind_text(st, 6, rec->state);
        bind_int(st, 7, rec->requester_uid, rec->requester_uid >= 0);
        bind_text(st, 8, rec->requester_user);
        bind_text(st, 9, rec->requester_cmdline);
        bind_int(st, 10, (int64_t) rec->queued, true);
        bind_int(st, 11, (int64_t) rec->started, rec->started != 0);
        bind_int(st, 12, (int64_t) rec->finished, true);
        /* Frozen time is not building time (rows made otherwise, substitutions: end - start). */
        usec_t duration = rec->duration ? rec->duration : rec->finished - rec->started;
        bind_int(st, 13, (int64_t) duration, rec->started != 0 && rec->finished >= rec->started);
        bind_text(st, 14, rec->failure_kind);
        bind_text(st, 15, rec->failure_message);
        bind_int(st, 16, rec->exit_code, rec->exit_code >= 0);
        bind_int(st, 17, rec->signal, rec->signal > 0);
        bind_int(st, 18, (int64_t) u->cpu_user, u->sampled);
        bind_int(st, 19, (int64_t) u->cpu_system, u->sampled);
        bind_int(st, 20, (int64_t) u->mem_peak, u->sampled);
        bind_int(st, 21, (int64_t) u->io_read, u->sampled);
        bind_int(st, 22, (int64_t) u->io_write, u->sampled);
        bind_int(st, 23, u->nice, u->has_nice);
        if (u->cpu_limit > 0)
                sqlite3_bind_double(st, 24, u->cpu_limit);
        else
                sqlite3_bind_null(st, 24);
        bind_int(st, 25, (int64_t) u->mem_limit, u->mem_limit > 0);
        bind_int(st, 26, u->oom_killed, u->sampled);
        bind_text(st, 27, rec->log_tail);
        /* An untrusted row always has an owner: -1 (its uid unknown) matches no one's lookup,
         * where NULL would make it trusted. */
        bind_int(st, 28, rec->requester_uid >= 0 ? rec->requester_uid : -1, rec->untrusted);
        bind_int(st, 29, rec->approximate, true);
        if (rec->timeline)
                sqlite3_bind_blob(st, 30, rec->timeline, (int) rec->timeline_len, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 30);
        bind_text(st, 31, rec->phases);
        bind_int(st, 32, (int64_t) usage_limit_peak(u), u->sampled && u->has_mem_cgroup);
        if (u->sampled && u->has_pressure)
                sqlite3_bind_double(st, 33, u->pressure_mem_peak);
        else
                sqlite3_bind_null(st, 33);
        int code = sqlite3_step(st);
        sqlite3_reset(st);
        if (code != SQLITE_DONE)
                return history_errno(code);
        return sqlite3_changes(h->db);
}

/* OOM kills are rare: a statement of their own, made each time. */
static int insert_oom(History *h, const HistoryOom *o) {
        static const char sql[] =
                "INSERT INTO oom_events (time, source, pid, command, memcg, oom_constraint, drv, name,"
                " requester_uid, requester_user, mem_limit, mem_peak, top, host_pid)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        bind_int(st, 1, (int64_t) o->time, true);
        bind_text(st, 2, o->source);
        bind_int(st, 3, o->pid, o->pid > 0);
        bind_text(st, 4, o->command);
        bind_text(st, 5, o->memcg);
        bind_text(st, 6, o->constraint);
        bind_text(st, 7, o->drv);
        bind_text(st, 8, o->name);
        bind_int(st, 9, o->requester_uid, o->requester_uid >= 0);
        bind_text(st, 10, o->requester_user);
        bind_int(st, 11, (int64_t) o->mem_limit, o->mem_limit > 0);
        bind_int(st, 12, (int64_t) o->mem_peak, o->drv != NULL);
        bind_text(st, 13, o->top);
        bind_int(st, 14, o->host_pid, o->host_pid > 0);
        code = sqlite3_step(st);
        sqlite3_finalize(st);
        return code == SQLITE_DONE ? 0 : history_errno(code);
}

int history_insert(History *h, const HistoryRecord *recs, size_t n) {
        if (h->readonly)
                return -EROFS;
        if (!h->insert) {
                int code = sqlite3_prepare_v2(h->db, insert_sql, -1, &h->insert, NULL);
                if (code != SQLITE_OK)
                        return history_errno(code);
        }
        int r = history_exec(h, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        int inserted = 0;
        for (size_t i = 0; i < n; i++) {
                if (recs[i].oom) {
                        if ((r = insert_oom(h, recs[i].oom)) < 0) {
                                (void) history_exec(h, "ROLLBACK");
                                return r;
                        }
                        continue; /* not a build's row: not counted */
                }
                if (!recs[i].drv || !recs[i].name || !recs[i].pname || !recs[i].state)
                        continue; /* cannot be stored; never happens for model builds */
                r = insert_one(h, &recs[i]);
                if (r < 0) {
                        (void) history_exec(h, "ROLLBACK");
                        return r;
                }
                inserted += r;
        }
        r = history_exec(h, "COMMIT");
        if (r < 0) {
                (void) history_exec(h, "ROLLBACK");
                return r;
        }
        return inserted;
}

int history_insert_machine_samples(History *h, const MachineSample *s, size_t n) {
        if (h->readonly)
                return -EROFS;
        static const char sql[] =
                "INSERT OR REPLACE INTO machine_samples (t, cpu, load1, mem_total, mem_used,"
                " swap_total, swap_used, psi_cpu, psi_mem, psi_io, builds)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        int r = history_exec(h, "BEGIN IMMEDIATE");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const MachineSample *m = &s[i];
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, (int64_t) (m->t / USEC_PER_SEC));
                const double reals[] = {m->cpu, m->load1};
                for (int k = 0; k < 2; k++)
                        if (reals[k] >= 0)
                                sqlite3_bind_double(st, 2 + k, reals[k]);
                        else
                                sqlite3_bind_null(st, 2 + k);
                const uint64_t ints[] = {m->mem_total, m->mem_used, m->swap_total, m->swap_used};
                for (int k = 0; k < 4; k++)
                        bind_int(st, 4 + k, (int64_t) ints[k], m->mem_total > 0);
                const double psi[] = {m->psi_cpu, m->psi_mem, m->psi_io};
                for (int k = 0; k < 3; k++)
                        if (psi[k] >= 0)
                                sqlite3_bind_double(st, 8 + k, psi[k]);
                        else
                                sqlite3_bind_null(st, 8 + k);
                sqlite3_bind_int64(st, 11, m->builds);
                code = sqlite3_step(st);
                if (code != SQLITE_DONE)
                        r = history_errno(code);
        }
        sqlite3_finalize(st);
        if (r >= 0 && (r = history_exec(h, "COMMIT")) >= 0)
                return (int) n;
        (void) history_exec(h, "ROLLBACK");
        return r;
}

int history_machine_sample_at(History *h, usec_t t, usec_t max_gap, MachineSample *ret) {
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(
                h->db,
                "SELECT t, cpu, load1, mem_total, mem_used, swap_total, swap_used, psi_cpu,"
                " psi_mem, psi_io, builds FROM machine_samples WHERE t <= ?1"
                " ORDER BY t DESC LIMIT 1",
                -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        sqlite3_bind_int64(st, 1, (int64_t) (t / USEC_PER_SEC));
        code = sqlite3_step(st);
        int r = -ENOENT;
        if (code == SQLITE_ROW) {
                MachineSample m = {.t = (usec_t) sqlite3_column_int64(st, 0) * USEC_PER_SEC};
                double *reals[] = {&m.cpu, &m.load1, &m.psi_cpu, &m.psi_mem, &m.psi_io};
                const int cols[] = {1, 2, 7, 8, 9};
                for (int k = 0; k < 5; k++)
                        *reals[k] = sqlite3_column_type(st, cols[k]) == SQLITE_NULL
                                            ? -1
                                            : sqlite3_column_double(st, cols[k]);
                uint64_t *ints[] = {&m.mem_total, &m.mem_used, &m.swap_total, &m.swap_used};
                for (int k = 0; k < 4; k++)
                        *ints[k] = (uint64_t) MAX(sqlite3_column_int64(st, 3 + k), 0);
                m.builds = (uint32_t) MAX(sqlite3_column_int64(st, 10), 0);
                if (t - m.t <= max_gap) {
                        *ret = m;
                        r = 0;
                }
        } else if (code != SQLITE_DONE)
                r = history_errno(code);
        sqlite3_finalize(st);
        return r;
}

int history_count(History *h, uint64_t *ret) {
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(h->db, "SELECT COUNT(*) FROM builds", -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        code = sqlite3_step(st);
        if (code == SQLITE_ROW)
                *ret = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return code == SQLITE_ROW ? 0 : history_errno(code);
}

static int run_delete(History *h, const char *sql, int64_t arg) {
        sqlite3_stmt *st = NULL;
        int code = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);
        if (code != SQLITE_OK)
                return history_errno(code);
        sqlite3_bind_int64(st, 1, arg);
        code = sqlite3_step(st);
        sqlite3_finalize(st);
        return code == SQLITE_DONE ? sqlite3_changes(h->db) : history_errno(code);
}

int history_prune(History *h, usec_t now, usec_t max_age, uint64_t max_rows) {
        if (h->readonly)
                return -EROFS;
        int deleted = 0, r;
        if (max_age > 0 && now > max_age) {
                r = run_delete(h, "DELETE FROM builds WHERE finished < ?1", (int64_t) (now - max_age));
                if (r < 0)
                        return r;
                deleted += r;
                r = run_delete(h, "DELETE FROM oom_events WHERE time < ?1", (int64_t) (now - max_age));
                if (r < 0)
                        return r;
        }
        /* OOM kills are few; a runaway (a machine killing a process a second for a year) is
         * bounded all the same. */
        r = run_delete(h, "DELETE FROM oom_events WHERE id <= (SELECT MAX(id) FROM oom_events) - ?1",
                       HISTORY_OOM_EVENTS_MAX);
        if (r < 0)
                return r;
        /* Machine samples: a week at 10 s, one a minute after that, none past max_age. */
        if (now > HISTORY_MACHINE_FULL_USEC) {
                r = run_delete(h, "DELETE FROM machine_samples WHERE t < ?1 AND t % 60 >= 10",
                               (int64_t) ((now - HISTORY_MACHINE_FULL_USEC) / USEC_PER_SEC));
                if (r < 0)
                        return r;
        }
        if (max_age > 0 && now > max_age &&
            (r = run_delete(h, "DELETE FROM machine_samples WHERE t < ?1",
                            (int64_t) ((now - max_age) / USEC_PER_SEC))) < 0)
                return r;
        if (max_rows > 0) {
                uint64_t n;
                if ((r = history_count(h, &n)) < 0)
                        return r;
                if (n > max_rows) {
                        /* The oldest by finish time, through the finished index. */
                        r = run_delete(h,
                                       "DELETE FROM builds WHERE id IN"
                                       " (SELECT id FROM builds ORDER BY finished, id LIMIT ?1)",
                                       (int64_t) (n - max_rows));
                        if (r < 0)
                                return r;
                        deleted += r;
                }
        }
        return deleted;
}
