/* Unit tests for Nix's invocation-level errors in the model (model-msg.c, model-outcome.c): an error
 * about none of the builds is kept on the invocation, and the builds it announced but never
 * started say "not started: <error>", not "cancelled". Records as Nix 2.8 printed them for
 * nix-build with build-users-group = nosuch-group, on a fake store and a fake /proc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/model-json.h"
#include "shared/model-machines.h"
#include "shared/model-proc.h"
#include "shared/model.h"
#include "shared/nixlog.h"
#include "test-helpers.h"

#define HA "hcdvxxibblyx54zh5h35428q32q9qwzb"
#define HF "zi6pmhs3z36nnyz4bavgkq2bh4by7r0j"
#define HD "zd9xhrc28iwkbk4mncbsi3ixvd550z10"
#define HO "8gp0x1zy0kk0fmxyw2v1jyjps2xrygcy"
#define HC "1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r6s"

#define GROUP_ERROR "the group 'nosuch-group' specified in 'build-users-group' does not exist"
/* Nix 2.8's record: colours in msg, raw_msg without the "error: " prefix. */
#define GROUP_ERROR_RECORD                                                                     \
        "{\"action\":\"msg\",\"column\":null,\"file\":null,\"level\":0,\"line\":null,\"msg\":" \
        "\"\\u001b[31;1merror:\\u001b[0m the group '\\u001b[35;1mnosuch-group\\u001b[0m' "     \
        "specified in 'build-users-group' does not exist\",\"raw_msg\":\"the group "           \
        "'\\u001b[35;1mnosuch-group\\u001b[0m' specified in 'build-users-group' does not exist\"}"
/* Printed twice before it as a warning, at level 0 too. */
#define GROUP_WARNING_RECORD                                                                     \
        "{\"action\":\"msg\",\"level\":0,\"msg\":\"warning: the group 'nosuch-group' specified " \
        "in 'build-users-group' does not exist\"}"

typedef struct Fixture {
        char *dir;
        char store[512], proc[512];
        Model *m;
} Fixture;

static Fixture *fx(void **state) {
        return *state;
}

static void write_drv(Fixture *f, const char *hash, const char *name) {
        char rel[256], drv[2048];
        snprintf(rel, sizeof(rel), "store/%s-%s.drv", hash, name);
        snprintf(drv, sizeof(drv),
                 "Derive([(\"out\",\"%s/%s-%s\",\"\",\"\")],[],[],\"x86_64-linux\",\"/bin/sh\",[],[])",
                 f->store, HO, name);
        test_write_file(f->dir, rel, drv, (size_t) -1);
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        f->dir = test_mkdtemp();
        snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
        snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
        test_write_file(f->dir, "proc/.keep", "", 0);
        write_drv(f, HA, "a");
        write_drv(f, HF, "f");
        write_drv(f, HD, "d");
        /* content-addressed: no output path in the .drv */
        test_write_file(
                f->dir, "store/" HC "-c.drv",
                "Derive([(\"out\",\"\",\"r:sha256\",\"\")],[],[],\"x86_64-linux\",\"/bin/sh\",[],[])",
                (size_t) -1);
        ModelConfig c;
        model_config_defaults(&c);
        c.store_dir = f->store;
        c.proc_root = f->proc;
        assert_int_equal(model_new(&c, &f->m), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = fx(state);
        model_free(f->m);
        test_rm_rf(f->dir);
        free(f->dir);
        free(f);
        return 0;
}

static int feed(Fixture *f, Source *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int feed(Fixture *f, Source *s, const char *fmt, ...) {
        char line[16384];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        assert_true(n > 0 && n < (int) sizeof(line));
        NixRecord rec;
        if (nix_record_parse(line, (size_t) n, &rec) < 0)
                fail_msg("unparsable test record: %s", line);
        int r = model_apply(f->m, s, &rec, 1000 * USEC_PER_SEC);
        nix_record_done(&rec);
        return r;
}

/* A source as ingest makes it (with a hello), whose nix process is not in the fake /proc:
 * when it disconnects, its nix process has ended. */
static Source *new_source(Fixture *f, pid_t pid) {
        Source *s;
        assert_int_equal(model_source_new(f->m, pid, 0, true, 1, &s), 0);
        assert_int_equal(
                feed(f, s,
                     "{\"action\":\"hello\",\"protocol\":1,\"pid\":%d,\"uid\":0,\"role\":\"ingest\","
                     "\"nix\":\"2.8.0\",\"requester\":{\"cmdline\":\"nix-build g.nix\"}}",
                     (int) pid),
                0);
        return s;
}

/* Nix 2.8's plan: one message per line. */
static void feed_plan(Fixture *f, Source *s) {
        assert_int_equal(
                feed(f, s,
                     "{\"action\":\"msg\",\"level\":3,\"msg\":\"these 2 derivations will be built:\"}"),
                0);
        assert_int_equal(
                feed(f, s, "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HA "-a.drv\"}", f->store), 0);
        assert_int_equal(
                feed(f, s, "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HF "-f.drv\"}", f->store), 0);
}

static Build *find(Model *m, const char *name) {
        Build *found = NULL;
        for (Build *b = model_builds_first(m); b; b = b->next)
                if (strcmp(b->name, name) == 0)
                        found = b;
        if (!found)
                fail_msg("no build named %s", name);
        return found;
}

static void assert_failure(Model *m, const char *name, FailureKind kind, const char *message) {
        Build *b = find(m, name);
        if (b->state != BUILD_FAILED || b->failure != kind)
                fail_msg("build %s: state %s, failure %s; expected failed, %s", name,
                         build_state_to_string(b->state), failure_kind_to_string(b->failure) ?: "none",
                         failure_kind_to_string(kind));
        assert_non_null(b->failure_message);
        assert_string_equal(b->failure_message, message);
}

/* The views' JSON of every build and of the invocation. */
static char *all_json(Model *m, const Invocation *inv) {
        cJSON *a = cJSON_CreateArray();
        for (Build *b = model_builds_first(m); b; b = b->next)
                cJSON_AddItemToArray(a, build_to_json(b, 2000 * USEC_PER_SEC, 20));
        cJSON_AddItemToArray(a, invocation_to_json(inv));
        char *s = cJSON_PrintUnformatted(a);
        cJSON_Delete(a);
        assert_non_null(s);
        return s;
}

static void assert_invocation_json(const Invocation *inv, const char *state, const char *error) {
        cJSON *o = invocation_to_json(inv);
        assert_non_null(o);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "state")), state);
        const cJSON *e = cJSON_GetObjectItem(o, "error");
        if (error)
                assert_string_equal(cJSON_GetStringValue(e), error);
        else
                assert_true(cJSON_IsNull(e));
        cJSON_Delete(o);
}

static void test_not_started_by_nix_error(void **state) {
        Fixture *f = fx(state);
        Source *s = new_source(f, 999990);
        Invocation *inv = &s->invocation;
        assert_int_equal(feed(f, s, GROUP_WARNING_RECORD), 0);
        feed_plan(f, s);
        assert_int_equal(
                feed(f, s, "{\"action\":\"start\",\"id\":1,\"level\":0,\"text\":\"\",\"type\":104}"), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[0,2,0,0],\"id\":1,\"type\":105}"),
                         0);
        assert_int_equal(feed(f, s, GROUP_WARNING_RECORD), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":1}"), 0);
        assert_null(inv->error); /* warnings are not errors */
        assert_int_equal(feed(f, s, GROUP_ERROR_RECORD), 0);

        /* Known at once, while the stream is still open. */
        assert_non_null(inv->error);
        assert_string_equal(inv->error, GROUP_ERROR);
        assert_false(inv->interrupted);
        assert_invocation_json(inv, "running", GROUP_ERROR);
        assert_int_equal(find(f->m, "a")->state, BUILD_QUEUED);

        model_source_disconnect(f->m, s, 10 * USEC_PER_SEC);
        assert_invocation_json(inv, "failed", GROUP_ERROR);
        assert_failure(f->m, "a", FAILURE_NOT_STARTED, "not started: " GROUP_ERROR);
        assert_failure(f->m, "f", FAILURE_NOT_STARTED, "not started: " GROUP_ERROR);
        assert_string_equal(failure_kind_to_string(find(f->m, "a")->failure), "not-started");

        model_drain_changes(f->m, NULL, NULL); /* counts settle at the drain */
        _cleanup_free_ char *json = all_json(f->m, inv);
        if (strstr(json, "\"kind\":\"cancelled\""))
                fail_msg("a build says cancelled: %s", json);
        if (!strstr(json, "\"not_started\":2"))
                fail_msg("the invocation does not count both not started: %s",
                         strstr(json, "\"counts\"") ?: json);
        assert_non_null(strstr(json, "\"kind\":\"not-started\""));
}

static void test_interrupt_and_silence_stay_cancelled(void **state) {
        Fixture *f = fx(state);
        /* No error at all (the stream just ended, e.g. the whole pipeline was interrupted). */
        Source *s = new_source(f, 999989);
        feed_plan(f, s);
        model_source_disconnect(f->m, s, 10 * USEC_PER_SEC);
        assert_invocation_json(&s->invocation, "done", NULL);
        assert_failure(f->m, "a", FAILURE_CANCELLED, "never started: the nix process ended");

        /* Nix's own word for an interrupt. */
        Source *t = new_source(f, 999988);
        feed_plan(f, t);
        assert_int_equal(feed(f, t,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: interrupted by the user\","
                              "\"raw_msg\":\"interrupted by the user\"}"),
                         0);
        assert_true(t->invocation.interrupted);
        model_source_disconnect(f->m, t, 10 * USEC_PER_SEC);
        assert_invocation_json(&t->invocation, "failed", "interrupted by the user");
        assert_failure(f->m, "f", FAILURE_CANCELLED, "never started: interrupted by the user");
}

/* A second nix-build of the same derivation waits for the first's lock, then finds the output
 * built and ends: its queued build succeeded (the first built it), it was not cancelled. */
static void test_outputs_built_elsewhere(void **state) {
        Fixture *f = fx(state);
        Source *s = new_source(f, 999986);
        feed_plan(f, s);
        test_write_file(f->dir, "store/" HO "-a", "built by another nix process", (size_t) -1);
        model_source_disconnect(f->m, s, 10 * USEC_PER_SEC);
        assert_int_equal(find(f->m, "a")->state, BUILD_SUCCEEDED);
        assert_int_equal(find(f->m, "a")->failure, FAILURE_NONE);
        assert_failure(f->m, "f", FAILURE_CANCELLED, "never started: the nix process ended");
}

/* A content-addressed derivation's output has no path before it is built: Nix locks
 * "<drv>.out". The waiter that never started succeeded when a trusted source's build of the
 * same derivation succeeded meanwhile; otherwise it was cancelled (nothing to look up). */
static void feed_ca_plan(Fixture *f, Source *s) {
        assert_int_equal(
                feed(f, s, "{\"action\":\"msg\",\"level\":3,\"msg\":\"this derivation will be built:\"}"),
                0);
        assert_int_equal(
                feed(f, s, "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HC "-c.drv\"}", f->store), 0);
}

static void ca_lock_wait(Fixture *f, Source *s) {
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":20,\"level\":1,\"text\":\"waiting for lock on "
                              "'%s/" HC "-c.drv.out'\",\"type\":111}",
                              f->store),
                         0);
}

static Build *build_of(Fixture *f, Source *s) {
        for (Build *b = model_builds_first(f->m); b; b = b->next)
                if (b->invocation == &s->invocation && strcmp(b->name, "c") == 0)
                        return b;
        fail_msg("no build of c in source %d", (int) s->id);
        return NULL;
}

static void feed_ca_build(Fixture *f, Source *s) {
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HC
                              "-c.drv\",\"\",1,1],\"id\":10,\"level\":3,\"text\":\"\",\"type\":105}",
                              f->store),
                         0);
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[\"hi\"],\"id\":10,\"type\":101}"),
                         0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":10}"), 0);
}

static void ticks(Fixture *f, int n) {
        usec_t mono = now_monotonic();
        for (int i = 0; i < n; i++)
                model_tick(f->m, 3000 * USEC_PER_SEC, mono + (usec_t) (i + 1) * USEC_PER_SEC);
}

static void test_ca_outputs_built_by_lock_holder(void **state) {
        Fixture *f = fx(state);
        Source *holder = new_source(f, 999981), *waiter = new_source(f, 999980);
        feed_ca_plan(f, holder);
        feed_ca_plan(f, waiter);
        ca_lock_wait(f, waiter);
        assert_true(build_waiting_for_lock(build_of(f, waiter)));
        /* The holder's build stopped; its outputs cannot be looked up: it is decided a few
         * looks later. The waiter's nix process ends before that: it waits for the holder. */
        feed_ca_build(f, holder);
        BuildState hs = build_of(f, holder)->state;
        assert_true(hs == BUILD_RUNNING || hs == BUILD_FINISHING);
        assert_int_equal(feed(f, waiter, "{\"action\":\"stop\",\"id\":20}"), 0);
        model_source_disconnect(f->m, waiter, 20 * USEC_PER_SEC);
        assert_int_equal(build_of(f, waiter)->state, BUILD_QUEUED);
        ticks(f, 10);
        assert_int_equal(build_of(f, holder)->state, BUILD_SUCCEEDED);
        Build *w = build_of(f, waiter);
        assert_int_equal(w->state, BUILD_SUCCEEDED);
        assert_int_equal(w->failure, FAILURE_NONE);
        assert_int_equal(w->finished, 20 * USEC_PER_SEC); /* when its nix process ended */
}

static void test_ca_outputs_no_holder(void **state) {
        Fixture *f = fx(state);
        /* An untrusted peer says it built c: that proves nothing of another's build. */
        Source *liar;
        assert_int_equal(model_source_new(f->m, 999979, 1000, false, 1, &liar), 0);
        feed_ca_plan(f, liar);
        feed_ca_build(f, liar);
        Source *waiter = new_source(f, 999978), *plain = new_source(f, 999977);
        feed_ca_plan(f, waiter);
        feed_ca_plan(f, plain);
        ca_lock_wait(f, waiter);
        model_source_disconnect(f->m, liar, 10 * USEC_PER_SEC);
        ticks(f, 10);
        model_source_disconnect(f->m, waiter, 20 * USEC_PER_SEC);
        model_source_disconnect(f->m, plain, 20 * USEC_PER_SEC);
        assert_int_equal(build_of(f, waiter)->failure, FAILURE_CANCELLED);
        assert_int_equal(build_of(f, plain)->failure, FAILURE_CANCELLED);

        /* A trusted holder that never ends: the waiter waits a bounded while, then is
         * cancelled. */
        Source *holder = new_source(f, 999975), *w2 = new_source(f, 999974);
        feed_ca_plan(f, holder);
        feed_ca_plan(f, w2);
        assert_int_equal(feed(f, holder,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HC
                              "-c.drv\",\"\",1,1],\"id\":10,\"level\":3,\"text\":\"\",\"type\":105}",
                              f->store),
                         0);
        ca_lock_wait(f, w2);
        model_source_disconnect(f->m, w2, 30 * USEC_PER_SEC);
        assert_int_equal(build_of(f, w2)->state, BUILD_QUEUED);
        ticks(f, 60);
        assert_int_equal(build_of(f, holder)->state, BUILD_RUNNING);
        assert_int_equal(build_of(f, w2)->failure, FAILURE_CANCELLED);
}

static void test_dependency_failure_stays(void **state) {
        Fixture *f = fx(state);
        Source *s = new_source(f, 999987);
        feed_plan(f, s);
        assert_int_equal(
                feed(f, s,
                     "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: 1 dependencies of derivation "
                     "'%s/" HF "-f.drv' failed to build\"}",
                     f->store),
                0);
        assert_null(s->invocation.error); /* about a build: not the invocation's own */
        assert_int_equal(feed(f, s, GROUP_ERROR_RECORD), 0);
        model_source_disconnect(f->m, s, 10 * USEC_PER_SEC);
        assert_int_equal(find(f->m, "f")->failure, FAILURE_DEPENDENCY);
        assert_failure(f->m, "a", FAILURE_NOT_STARTED, "not started: " GROUP_ERROR);
}

/* Nix carried on after an error (e.g. a substituter that failed, with --fallback): it was
 * not what ended the invocation. */
static void test_error_then_more_work(void **state) {
        Fixture *f = fx(state);
        Source *s = new_source(f, 999986);
        feed_plan(f, s);
        assert_int_equal(
                feed(f, s, "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: unable to download 'x'\"}"), 0);
        assert_string_equal(s->invocation.error, "unable to download 'x'");
        assert_int_equal(feed(f, s, "{\"action\":\"start\",\"id\":7,\"level\":6,\"text\":\"\",\"type\":0}"),
                         0);
        assert_null(s->invocation.error);
        model_source_disconnect(f->m, s, 10 * USEC_PER_SEC);
        assert_invocation_json(&s->invocation, "done", NULL);
        assert_int_equal(find(f->m, "a")->failure, FAILURE_CANCELLED);
}

/* A native json-log-path stream (no hello) may carry every client of a nix-daemon: an error
 * there names no one, so it touches no invocation. */
static void test_shared_stream_pins_no_error(void **state) {
        Fixture *f = fx(state);
        Source *s;
        assert_int_equal(model_source_new(f->m, 999985, 0, true, 1, &s), 0);
        feed_plan(f, s);
        assert_int_equal(feed(f, s, GROUP_ERROR_RECORD), 0);
        assert_null(s->invocation.error);
        model_source_disconnect(f->m, s, 10 * USEC_PER_SEC);
        assert_int_equal(find(f->m, "a")->failure, FAILURE_CANCELLED);
}

/* Build activities that started but whose builder never ran (newer Nix starts the activity
 * before it takes a build user), and one that did run. */
static void test_started_activity_never_ran(void **state) {
        Fixture *f = fx(state);
        Source *s = new_source(f, 999984);
        feed_plan(f, s);
        for (int i = 0; i < 2; i++)
                assert_int_equal(feed(f, s,
                                      "{\"action\":\"start\",\"fields\":[\"%s/%s\",\"\",1,1],\"id\":%d,"
                                      "\"level\":3,\"text\":\"\",\"type\":105}",
                                      f->store, i == 0 ? HA "-a.drv" : HD "-d.drv", 10 + i),
                                 0);
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[\"hello\"],\"id\":11,\"type\":101}"),
                         0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":10}"), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":11}"), 0);
        assert_int_equal(feed(f, s, GROUP_ERROR_RECORD), 0);
        model_source_disconnect(f->m, s, 10 * USEC_PER_SEC);
        usec_t mono = now_monotonic();
        for (int i = 0; i < 10; i++)
                model_tick(f->m, 3000 * USEC_PER_SEC, mono + (usec_t) (i + 1) * USEC_PER_SEC);
        assert_failure(f->m, "a", FAILURE_NOT_STARTED, "not started: " GROUP_ERROR);
        assert_failure(f->m, "d", FAILURE_OTHER, GROUP_ERROR); /* it ran: Nix's error stopped it */
        assert_failure(f->m, "f", FAILURE_NOT_STARTED, "not started: " GROUP_ERROR);
}

/* Nix 2.8 without -k: a builds fails, Nix stops d, which runs, and never starts f; its last
 * words name all three ("build of … failed") and say why of none. d was stopped because of
 * a (Nix's failed counter counts only a): cancelled, like f, not a failure of its own. */
static void test_stopped_after_another_failure(void **state) {
        Fixture *f = fx(state);
        Source *s = new_source(f, 999982);
        feed_plan(f, s);
        assert_int_equal(
                feed(f, s, "{\"action\":\"start\",\"id\":1,\"level\":0,\"text\":\"\",\"type\":104}"), 0);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(feed(f, s,
                                      "{\"action\":\"start\",\"fields\":[\"%s/%s\",\"\",1,1],\"id\":%d,"
                                      "\"level\":3,\"text\":\"\",\"type\":105}",
                                      f->store, i == 0 ? HA "-a.drv" : HD "-d.drv", 10 + i),
                                 0);
                assert_int_equal(feed(f, s,
                                      "{\"action\":\"result\",\"fields\":[\"line\"],\"id\":%d,\"type\":101}",
                                      10 + i),
                                 0);
        }
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[0,3,2,1],\"id\":1,\"type\":105}"),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: builder for '%s/" HA
                              "-a.drv' failed with exit code 3\"}",
                              f->store),
                         0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":10}"), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":11}"), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":1}"), 0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: build of '%s/" HF
                              "-f.drv', '%s/" HA "-a.drv', '%s/" HD "-d.drv' failed\"}",
                              f->store, f->store, f->store),
                         0);
        assert_null(s->invocation.error); /* about builds: not the invocation's own */
        model_source_disconnect(f->m, s, 10 * USEC_PER_SEC);
        usec_t mono = now_monotonic();
        for (int i = 0; i < 10; i++)
                model_tick(f->m, 3000 * USEC_PER_SEC, mono + (usec_t) (i + 1) * USEC_PER_SEC);
        assert_int_equal(find(f->m, "a")->failure, FAILURE_EXIT_CODE);
        assert_failure(f->m, "d", FAILURE_CANCELLED, "stopped by Nix after another build failed");
        assert_failure(f->m, "f", FAILURE_CANCELLED, "never started: the nix process ended");
}

/* The same, Nix's reason for a coming first (a timeout), and the sampler seeing d's processes
 * gone (Nix killed its builder) before a's and before either stop: a's reason explains Nix's
 * failed count, so d is not taken for the failure it counted. */
static void test_stopped_seen_gone_first(void **state) {
        Fixture *f = fx(state);
        Source *s = new_source(f, 999981);
        feed_plan(f, s);
        assert_int_equal(
                feed(f, s, "{\"action\":\"start\",\"id\":1,\"level\":0,\"text\":\"\",\"type\":104}"), 0);
        Build *b[2];
        for (int i = 0; i < 2; i++) {
                assert_int_equal(feed(f, s,
                                      "{\"action\":\"start\",\"fields\":[\"%s/%s\",\"\",1,1],\"id\":%d,"
                                      "\"level\":3,\"text\":\"\",\"type\":105}",
                                      f->store, i == 0 ? HA "-a.drv" : HD "-d.drv", 10 + i),
                                 0);
                b[i] = find(f->m, i == 0 ? "a" : "d");
                BuildUsage u = {.sampled = true, .n_procs = 1};
                model_build_set_usage(f->m, b[i], &u);
        }
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[0,3,2,1],\"id\":1,\"type\":105}"),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: building of '%s/" HA
                              "-a.drv!out' from .drv file timed out after 3 seconds of silence\"}",
                              f->store),
                         0);
        model_build_processes_gone(f->m, b[1], 1001 * USEC_PER_SEC);
        model_build_processes_gone(f->m, b[0], 1001 * USEC_PER_SEC);
        assert_int_equal(b[1]->state, BUILD_FINISHING); /* not failed: a's failure was counted */
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":11}"), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":10}"), 0);
        model_source_disconnect(f->m, s, 1002 * USEC_PER_SEC);
        usec_t mono = now_monotonic();
        for (int i = 0; i < 10; i++)
                model_tick(f->m, 3000 * USEC_PER_SEC, mono + (usec_t) (i + 1) * USEC_PER_SEC);
        assert_int_equal(b[0]->failure, FAILURE_SILENT_TIMEOUT);
        assert_failure(f->m, "d", FAILURE_CANCELLED, "stopped by Nix after another build failed");
}

/* What is kept of a message: its first paragraph on one line, bounded, valid UTF-8. */
static void test_error_summary(void **state) {
        Fixture *f = fx(state);
        Source *s = new_source(f, 999983);
        /* An evaluation error: the position and code excerpt after the blank line go. */
        assert_int_equal(feed(f, s,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: undefined variable 'x'\\n\\n"
                              "       at /tmp/g.nix:1:1:\\n\\n            1| x\\n             | ^\"}"),
                         0);
        assert_string_equal(s->invocation.error, "undefined variable 'x'");
        /* Continuation lines of the first paragraph join it; control characters are spaces. */
        assert_int_equal(feed(f, s,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: cannot connect to socket\\n"
                              "       at '/nix/var/nix/daemon-socket/socket':\\u0007 refused\\n\\n more\"}"),
                         0);
        assert_string_equal(s->invocation.error,
                            "cannot connect to socket at '/nix/var/nix/daemon-socket/socket':  refused");

        /* A hostile sender's 10,000 bytes of two-byte characters: cut on a character. */
        char big[16384];
        size_t n = 0;
        n += (size_t) snprintf(big, sizeof(big), "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: ");
        for (int i = 0; i < 5000; i++) {
                big[n++] = '\xc3';
                big[n++] = '\xa9';
        }
        n += (size_t) snprintf(big + n, sizeof(big) - n, "\"}");
        assert_int_equal(feed(f, s, "%s", big), 0);
        const char *e = s->invocation.error;
        size_t len = strlen(e);
        assert_true(len <= 512 + 3);
        assert_true(len > 400);
        assert_true(utf8_is_valid(e, len));
        assert_memory_equal(e + len - 3, "\xe2\x80\xa6", 3);
        assert_memory_equal(e, "\xc3\xa9\xc3\xa9", 4);

        /* An error with nothing in it still fails the invocation. */
        assert_int_equal(feed(f, s, "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: \\n\\n  \"}"), 0);
        assert_string_equal(s->invocation.error, "unknown error");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_not_started_by_nix_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_interrupt_and_silence_stay_cancelled, setup, teardown),
                cmocka_unit_test_setup_teardown(test_outputs_built_elsewhere, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ca_outputs_built_by_lock_holder, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ca_outputs_no_holder, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dependency_failure_stays, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_then_more_work, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shared_stream_pins_no_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_started_activity_never_ran, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stopped_after_another_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stopped_seen_gone_first, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_summary, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
