/* Unit tests for src/daemon/quota.c: per-uid limits, trusted uids never counted, refusals
 * counted per kind, the log-bytes token bucket, history rows per hour, option parsing, and
 * the model's builds held on an untrusted uid's quota (oldest finished dropped first). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/quota.h"
#include "shared/logring.h"
#include "shared/model.h"
#include "shared/nixlog.h"
#include "test-helpers.h"

#define SELF 990u
#define HOG  1234u
#define SEC  USEC_PER_SEC

static Quota *new_quota(void (*adjust)(QuotaLimits *l)) {
        QuotaLimits l;
        quota_limits_defaults(&l);
        if (adjust)
                adjust(&l);
        Quota *q = NULL;
        assert_int_equal(quota_new(&l, SELF, &q), 0);
        return q;
}

static void small(QuotaLimits *l) {
        l->event_connections = 2;
        l->control_connections = 1;
        l->builds = 3;
        l->log_bytes_per_sec = 100;
        l->log_burst = 200;
        l->history_rows_per_hour = 2;
        l->log_bytes_held = 10000;
}

static void test_connections(void **state) {
        Quota *q = new_quota(small);
        assert_int_equal(quota_take(q, QUOTA_EVENT_CONNECTIONS, HOG, SEC), 0);
        assert_int_equal(quota_take(q, QUOTA_EVENT_CONNECTIONS, HOG, SEC), 0);
        assert_int_equal(quota_take(q, QUOTA_EVENT_CONNECTIONS, HOG, SEC), -EDQUOT);
        assert_int_equal(quota_take(q, QUOTA_EVENT_CONNECTIONS, HOG, SEC), -EDQUOT);
        assert_int_equal(quota_refused(q, QUOTA_EVENT_CONNECTIONS), 2);
        /* Another uid and the other kind are not affected. */
        assert_int_equal(quota_take(q, QUOTA_EVENT_CONNECTIONS, HOG + 1, SEC), 0);
        assert_int_equal(quota_take(q, QUOTA_CONTROL_CONNECTIONS, HOG, SEC), 0);
        assert_int_equal(quota_take(q, QUOTA_CONTROL_CONNECTIONS, HOG, SEC), -EDQUOT);
        assert_int_equal(quota_refused(q, QUOTA_CONTROL_CONNECTIONS), 1);
        /* Released, taken again. */
        quota_release(q, QUOTA_EVENT_CONNECTIONS, HOG);
        assert_int_equal(quota_used(q, QUOTA_EVENT_CONNECTIONS, HOG), 1);
        assert_int_equal(quota_take(q, QUOTA_EVENT_CONNECTIONS, HOG, SEC), 0);
        /* Releasing more than taken never wraps. */
        for (int i = 0; i < 5; i++)
                quota_release(q, QUOTA_CONTROL_CONNECTIONS, HOG);
        assert_int_equal(quota_used(q, QUOTA_CONTROL_CONNECTIONS, HOG), 0);
        quota_free(q);
}

static void test_trusted_never_limited(void **state) {
        Quota *q = new_quota(small);
        assert_true(quota_uid_trusted(q, 0));
        assert_true(quota_uid_trusted(q, SELF));
        assert_false(quota_uid_trusted(q, HOG));
        for (int i = 0; i < 1000; i++) {
                assert_int_equal(quota_take(q, QUOTA_EVENT_CONNECTIONS, 0, SEC), 0);
                assert_int_equal(quota_take(q, QUOTA_BUILDS, SELF, SEC), 0);
                assert_int_equal(quota_take_log(q, 0, 1 << 20, SEC), 0);
                assert_int_equal(quota_take_history_row(q, SELF, SEC), 0);
        }
        for (int k = 0; k < _QUOTA_KIND_MAX; k++)
                assert_int_equal(quota_refused(q, (QuotaKind) k), 0);
        assert_int_equal(quota_used(q, QUOTA_EVENT_CONNECTIONS, 0), 0);
        quota_release(q, QUOTA_EVENT_CONNECTIONS, 0);
        quota_free(q);
}

static void test_log_bucket(void **state) {
        Quota *q = new_quota(small);
        /* A burst of 200 bytes, then 100 bytes a second. */
        assert_int_equal(quota_take_log(q, HOG, 150, 10 * SEC), 0);
        assert_int_equal(quota_take_log(q, HOG, 50, 10 * SEC), 0);
        assert_int_equal(quota_take_log(q, HOG, 1, 10 * SEC), -EDQUOT);
        assert_int_equal(quota_refused(q, QUOTA_LOG_BYTES), 1);
        assert_int_equal(quota_take_log(q, HOG, 60, 10 * SEC + SEC / 2), -EDQUOT);
        assert_int_equal(quota_refused(q, QUOTA_LOG_BYTES), 61); /* counted in bytes */
        assert_int_equal(quota_take_log(q, HOG, 50, 10 * SEC + SEC / 2), 0);
        /* A long pause refills up to the burst only. */
        assert_int_equal(quota_take_log(q, HOG, 201, 1000 * SEC), -EDQUOT);
        assert_int_equal(quota_take_log(q, HOG, 200, 1000 * SEC), 0);
        quota_free(q);
}

static void test_history_rows(void **state) {
        Quota *q = new_quota(small);
        assert_int_equal(quota_take_history_row(q, HOG, 5 * SEC), 0);
        assert_int_equal(quota_take_history_row(q, HOG, 6 * SEC), 0);
        assert_int_equal(quota_take_history_row(q, HOG, 7 * SEC), -EDQUOT);
        assert_int_equal(quota_take_history_row(q, HOG + 1, 7 * SEC), 0);
        assert_int_equal(quota_refused(q, QUOTA_HISTORY_ROWS), 1);
        /* A new hour, new rows. */
        assert_int_equal(quota_take_history_row(q, HOG, 3605 * SEC), 0);
        assert_int_equal(quota_take_history_row(q, HOG, 3606 * SEC), 0);
        assert_int_equal(quota_take_history_row(q, HOG, 3607 * SEC), -EDQUOT);
        quota_free(q);
}

static void test_parse(void **state) {
        QuotaLimits l;
        quota_limits_defaults(&l);
        assert_int_equal(l.event_connections, 64);
        assert_int_equal(l.control_connections, 32);
        assert_int_equal(quota_limits_parse(&l, "builds=7"), 0);
        assert_int_equal(l.builds, 7);
        assert_int_equal(quota_limits_parse(&l, "log-bytes-per-sec=5000000000"), 0);
        assert_true(l.log_bytes_per_sec == 5000000000ull);
        assert_int_equal(quota_limits_parse(&l, "event-connections=0"), 0);
        assert_int_equal(l.event_connections, 0);
        assert_int_equal(quota_limits_parse(&l, "history-rows-per-hour=9"), 0);
        assert_int_equal(l.history_rows_per_hour, 9);
        assert_int_equal(quota_limits_parse(&l, "builds=5000000000"), -EINVAL);
        assert_int_equal(quota_limits_parse(&l, "builds=-1"), -EINVAL);
        assert_int_equal(quota_limits_parse(&l, "builds="), -EINVAL);
        assert_int_equal(quota_limits_parse(&l, "builds"), -EINVAL);
        assert_int_equal(quota_limits_parse(&l, "=3"), -EINVAL);
        assert_int_equal(quota_limits_parse(&l, "build=3"), -EINVAL);
        assert_int_equal(quota_limits_parse(&l, "buildsx=3"), -EINVAL);
        assert_int_equal(l.builds, 7);
}

static void test_status_json(void **state) {
        Quota *q = new_quota(small);
        (void) quota_take(q, QUOTA_CONTROL_CONNECTIONS, HOG, SEC);
        (void) quota_take(q, QUOTA_CONTROL_CONNECTIONS, HOG, SEC);
        cJSON *o = quota_status_json(q);
        assert_non_null(o);
        cJSON *refused = cJSON_GetObjectItem(o, "refused");
        assert_int_equal(cJSON_GetObjectItem(refused, "control_connections")->valueint, 1);
        assert_int_equal(cJSON_GetObjectItem(refused, "builds")->valueint, 0);
        cJSON *limits = cJSON_GetObjectItem(o, "limits");
        assert_int_equal(cJSON_GetObjectItem(limits, "builds")->valueint, 3);
        assert_int_equal(cJSON_GetObjectItem(limits, "log_line_bytes")->valueint, LOG_LINE_MAX);
        cJSON_Delete(o);
        quota_free(q);
}

/* ---- builds through the model ---- */

static int feed(Model *m, Source *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int feed(Model *m, Source *s, const char *fmt, ...) {
        static char line[32768];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        assert_true(n > 0 && n < (int) sizeof(line));
        NixRecord rec;
        if (nix_record_parse(line, (size_t) n, &rec) < 0)
                fail_msg("unparsable test record: %s", line);
        int r = model_apply(m, s, &rec, 1000 * USEC_PER_SEC);
        nix_record_done(&rec);
        return r;
}

static void nothing_build(void *u, Build *b, unsigned k, uint64_t n) {
}

static uint32_t count_builds(Model *m) {
        uint32_t n = 0;
        for (Build *b = model_builds_first(m); b; b = b->next)
                n++;
        return n;
}

static void start(Model *m, Source *s, unsigned i, int expect) {
        int r = feed(m, s,
                     "{\"action\":\"start\",\"id\":%u,\"level\":3,\"type\":105,\"text\":\"\","
                     "\"fields\":[\"/nix/store/00000000000000000000000000000%03u-x%u.drv\",\"\"]}",
                     i, i, i);
        if (expect == 0)
                assert_int_equal(r, 0);
        else
                assert_true(r < 0);
}

static void test_model_builds(void **state) {
        char *dir = test_mkdtemp();
        char proc[512];
        snprintf(proc, sizeof(proc), "%s/proc", dir);
        test_write_file(dir, "proc/.keep", "", 0);

        ModelConfig c;
        model_config_defaults(&c);
        c.proc_root = proc;
        Model *m = NULL;
        assert_int_equal(model_new(&c, &m), 0);
        Quota *q = new_quota(small);
        quota_attach_model(q, m);

        /* The hog's three builds, then a refusal; root's source is not limited. */
        Source *hog = NULL, *root = NULL;
        assert_int_equal(model_source_new(m, 4242, HOG, false, 1, &hog), 0);
        assert_int_equal(model_source_new(m, 4243, 0, true, 1, &root), 0);
        for (unsigned i = 1; i <= 3; i++)
                start(m, hog, i, 0);
        start(m, hog, 4, -1);
        assert_int_equal(quota_refused(q, QUOTA_BUILDS), 1);
        assert_int_equal(quota_used(q, QUOTA_BUILDS, HOG), 3);
        for (unsigned i = 10; i < 20; i++)
                start(m, root, i, 0);
        assert_int_equal(count_builds(m), 13);

        /* Its nix process is gone: its builds end lost, and once views saw that, a new source
         * of the same uid gets room by dropping its oldest finished build. */
        model_source_disconnect(m, hog, 2);
        ModelChangeHandler h = {.build = nothing_build};
        model_drain_changes(m, &h, NULL);
        Source *hog2 = NULL;
        assert_int_equal(model_source_new(m, 4244, HOG, false, 3, &hog2), 0);
        start(m, hog2, 5, 0);
        assert_int_equal(quota_used(q, QUOTA_BUILDS, HOG), 3);
        assert_int_equal(count_builds(m), 13);
        assert_int_equal(quota_refused(q, QUOTA_BUILDS), 1);

        /* Active builds are never dropped: at the cap with only active ones, refused. */
        start(m, hog2, 6, 0);
        start(m, hog2, 7, 0);
        start(m, hog2, 8, -1);
        assert_int_equal(quota_refused(q, QUOTA_BUILDS), 2);

        model_free(m);
        assert_int_equal(quota_used(q, QUOTA_BUILDS, HOG), 0);
        quota_free(q);
        test_rm_rf(dir);
        free(dir);
}

/* A model with the small quota attached, a hog's build (id 1) and root's (id 2). */
typedef struct LogFixture {
        char *dir;
        Model *m;
        Quota *q;
        Source *hog, *root;
        char line[4001]; /* 4000 bytes */
} LogFixture;

static void log_fixture_new(LogFixture *f, uint32_t log_ring_finished, uint64_t log_budget) {
        *f = (LogFixture){.dir = test_mkdtemp()};
        char proc[512];
        snprintf(proc, sizeof(proc), "%s/proc", f->dir);
        test_write_file(f->dir, "proc/.keep", "", 0);
        ModelConfig c;
        model_config_defaults(&c);
        c.proc_root = proc;
        c.log_ring_finished = log_ring_finished;
        c.log_budget = log_budget;
        assert_int_equal(model_new(&c, &f->m), 0);
        f->q = new_quota(small);
        quota_attach_model(f->q, f->m);
        assert_int_equal(model_source_new(f->m, 4242, HOG, false, 1, &f->hog), 0);
        assert_int_equal(model_source_new(f->m, 4243, 0, true, 1, &f->root), 0);
        start(f->m, f->hog, 1, 0);
        start(f->m, f->root, 2, 0);
        memset(f->line, 'x', 4000);
        f->line[4000] = '\0';
}

/* One log line for build id of s. */
static int feed_line(Model *m, Source *s, unsigned id, const char *line) {
        return feed(m, s, "{\"action\":\"result\",\"id\":%u,\"type\":101,\"fields\":[\"%s\"]}", id, line);
}

/* Frees the model: the hog then holds nothing. */
static void log_fixture_done(LogFixture *f) {
        model_free(f->m);
        assert_int_equal(quota_log_held(f->q, HOG), 0);
        quota_free(f->q);
        test_rm_rf(f->dir);
        free(f->dir);
}

/* Log lines of the hog's builds count against the bytes it may hold; a finished build's
 * shrunk log and a dropped build give them back. */
static void test_model_log_held(void **state) {
        LogFixture f;
        log_fixture_new(&f, /* log_ring_finished= */ 1, MODEL_LOG_BUDGET_DEFAULT);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(feed_line(f.m, f.hog, 1, f.line), 0);
                assert_int_equal(feed_line(f.m, f.root, 2, f.line), 0);
        }
        /* 3 lines (12000 bytes) pass the 10000 held: the fourth is dropped; root's are all kept. */
        assert_int_equal(quota_log_held(f.q, HOG), 12000);
        assert_int_equal(quota_refused(f.q, QUOTA_LOG_BYTES), 4000);
        uint32_t hog_lines = 0, root_lines = 0;
        for (Build *b = model_builds_first(f.m); b; b = b->next)
                *(b->quota_uid >= 0 ? &hog_lines : &root_lines) += b->log.count;
        assert_int_equal(hog_lines, 3);
        assert_int_equal(root_lines, 4);
        /* A line longer than the cap is held truncated. */
        char *huge = malloc(20000);
        memset(huge, 'y', 19999);
        huge[19999] = '\0';
        assert_int_equal(feed_line(f.m, f.root, 2, huge), 0);
        free(huge);
        Build *rb = model_builds_last(f.m);
        const char *kept = build_log_line(rb, rb->log.count - 1);
        assert_int_equal(strlen(kept), LOG_LINE_MAX + strlen(LOG_LINE_TRUNCATED));
        assert_string_equal(kept + LOG_LINE_MAX, LOG_LINE_TRUNCATED);

        /* The hog's build ends: its log shrinks to one line once views have had it. */
        model_source_disconnect(f.m, f.hog, 2);
        model_drain_changes(f.m, NULL, NULL);
        assert_int_equal(quota_log_held(f.q, HOG), 4000);
        log_fixture_done(&f);
}

/* The daemon's log budget takes the hog's oldest lines to make room for root's: the bytes the
 * hog's builds hold go down with them, so the quota does not refuse lines it no longer holds. */
static void test_model_log_budget_gives_back(void **state) {
        LogFixture f;
        log_fixture_new(&f, /* log_ring_finished= */ 20, /* log_budget= */ 16384);
        for (int i = 0; i < 3; i++)
                assert_int_equal(feed_line(f.m, f.hog, 1, f.line), 0);
        assert_int_equal(quota_log_held(f.q, HOG), 12000); /* the whole budget, nearly */
        for (int i = 0; i < 3; i++)
                assert_int_equal(feed_line(f.m, f.root, 2, f.line), 0);
        Build *hb = NULL, *rb = NULL;
        for (Build *b = model_builds_first(f.m); b; b = b->next)
                *(b->quota_uid >= 0 ? &hb : &rb) = b;
        assert_non_null(hb);
        assert_non_null(rb);
        const LogBudget *lb = model_log_budget(f.m);
        assert_true(lb->used <= lb->limit);
        assert_true(lb->dropped > 0);
        assert_true(hb->log.count < 3);
        assert_int_equal(quota_log_held(f.q, HOG), hb->log.bytes);
        assert_int_equal(hb->log.total, 3);
        assert_int_equal(rb->log.total, 3);
        assert_true(rb->log.count >= 1);
        log_fixture_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_connections),
                cmocka_unit_test(test_trusted_never_limited),
                cmocka_unit_test(test_log_bucket),
                cmocka_unit_test(test_history_rows),
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_status_json),
                cmocka_unit_test(test_model_builds),
                cmocka_unit_test(test_model_log_held),
                cmocka_unit_test(test_model_log_budget_gives_back),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
