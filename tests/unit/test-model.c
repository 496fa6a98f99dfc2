/* Unit tests for the model (src/shared/model*.c): Nix 2.8 record sequences (as recorded from
 * real builds) applied to the model, with a fake store and a fake /proc. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/model-json.h"
#include "shared/model-machines.h"
#include "shared/model.h"
#include "shared/nixlog.h"
#include "test-helpers.h"

#define HA "hcdvxxibblyx54zh5h35428q32q9qwzb"
#define HF "zi6pmhs3z36nnyz4bavgkq2bh4by7r0j"
#define HD "zd9xhrc28iwkbk4mncbsi3ixvd550z10"
#define HO "8gp0x1zy0kk0fmxyw2v1jyjps2xrygcy"

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

static void make_output(Fixture *f, const char *name) {
        char rel[256];
        snprintf(rel, sizeof(rel), "store/%s-%s", HO, name);
        test_write_file(f->dir, rel, "done\n", (size_t) -1);
}

static Model *new_model(Fixture *f, uint32_t ring, uint32_t max_finished) {
        ModelConfig c;
        model_config_defaults(&c);
        c.store_dir = f->store;
        c.proc_root = f->proc;
        c.log_ring = ring;
        c.log_ring_finished = 3;
        c.max_finished = max_finished;
        Model *m = NULL;
        assert_int_equal(model_new(&c, &m), 0);
        return m;
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
        f->m = new_model(f, 100, 100);
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

/* Applies one record, formatted; "%S" is not used: the store dir is passed explicitly. */
static int feed(Fixture *f, Source *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int feed(Fixture *f, Source *s, const char *fmt, ...) {
        char line[8192];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        assert_true(n > 0 && n < (int) sizeof(line));
        NixRecord rec;
        int r = nix_record_parse(line, (size_t) n, &rec);
        if (r < 0)
                fail_msg("unparsable test record: %s", line);
        r = model_apply(f->m, s, &rec, 1000 * USEC_PER_SEC);
        nix_record_done(&rec);
        return r;
}

static Build *find(Model *m, const char *name) {
        Build *found = NULL;
        for (Build *b = model_builds_first(m); b; b = b->next)
                if (strcmp(b->name, name) == 0)
                        found = b;
        return found;
}

static void assert_state(Model *m, const char *name, BuildState st) {
        Build *b = find(m, name);
        if (!b)
                fail_msg("no build named %s", name);
        if (b->state != st)
                fail_msg("build %s: state %s, expected %s", name, build_state_to_string(b->state),
                         build_state_to_string(st));
}

typedef struct LockAsk {
        unsigned n;
        uint64_t source_id, activity_id;
        char output[1024];
} LockAsk;

static void lock_ask(void *userdata, uint64_t source_id, uint64_t activity_id, const char *output) {
        LockAsk *l = userdata;
        l->n++;
        l->source_id = source_id;
        l->activity_id = activity_id;
        snprintf(l->output, sizeof(l->output), "%s", output);
}

/* A lock wait with no plan (inside nix-daemon): the model asks which derivation has the
 * output (only for a store path by Nix's rules), and the answer makes its build wait. */
static void test_lock_wait_unplanned(void **state) {
        Fixture *f = fx(state);
        const char *S = f->store;
        LockAsk ask = {};
        ModelConfig c;
        model_config_defaults(&c);
        c.store_dir = f->store;
        c.proc_root = f->proc;
        c.lock_wait_unplanned = lock_ask;
        c.lock_wait_userdata = &ask;
        model_free(f->m);
        assert_int_equal(model_new(&c, &f->m), 0);
        Source *s;
        assert_int_equal(model_source_new(f->m, 999990, 0, true, 1, &s), 0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":7,\"level\":1,\"text\":\"waiting for lock on "
                              "\\u001b[35;1m'%s/" HO "-a'\\u001b[0m\",\"type\":111}",
                              S),
                         0);
        assert_int_equal(ask.n, 1);
        assert_int_equal(ask.source_id, s->id);
        assert_int_equal(ask.activity_id, 7);
        char want[1024];
        snprintf(want, sizeof(want), "%s/" HO "-a", S);
        assert_string_equal(ask.output, want);
        /* Texts a peer made up: no store path by Nix's rules, nothing asked. */
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":8,\"level\":1,\"text\":\"waiting for lock on "
                              "'%s/../../etc/shadow', '/etc/passwd'\",\"type\":111}",
                              S),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":9,\"level\":1,\"text\":\"waiting for lock on "
                              "'%s/" HO "-a$(x)'\",\"type\":111}",
                              S),
                         0);
        assert_int_equal(ask.n, 1);

        /* Not a derivation, or the activity of another source: nothing. */
        char drv[1024];
        snprintf(drv, sizeof(drv), "%s/" HA "-a.drv", S);
        assert_int_equal(model_lock_wait_found(f->m, s->id, 7, want, 1000 * USEC_PER_SEC), 0);
        assert_int_equal(model_lock_wait_found(f->m, s->id + 1, 7, drv, 1000 * USEC_PER_SEC), 0);
        assert_null(find(f->m, "a"));
        /* The answer: a's build, queued, waits while the activity is open. */
        assert_int_equal(model_lock_wait_found(f->m, s->id, 7, drv, 1000 * USEC_PER_SEC), 0);
        Build *a = find(f->m, "a");
        assert_non_null(a);
        assert_int_equal(a->state, BUILD_QUEUED);
        assert_true(build_waiting_for_lock(a));
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":7}"), 0);
        assert_false(build_waiting_for_lock(a));
        /* An answer that comes after the activity stopped changes nothing. */
        assert_int_equal(model_lock_wait_found(f->m, s->id, 7, drv, 1000 * USEC_PER_SEC), 0);
        assert_false(build_waiting_for_lock(a));

        /* A content-addressed output's lock, "<drv>.<output>", names its derivation: no need to
         * ask. */
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":10,\"level\":1,\"text\":\"waiting for lock on "
                              "\\u001b[35;1m'%s/" HF "-f.drv.out', '%s/" HF
                              "-f.drv.dev'\\u001b[0m\",\"type\":111}",
                              S, S),
                         0);
        assert_int_equal(ask.n, 1);
        Build *fb = find(f->m, "f");
        assert_non_null(fb);
        assert_true(build_waiting_for_lock(fb));
        /* Not for a derivation's name that breaks Nix's rules; with no output named, it is an
         * output's path like any other (asked about). */
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":11,\"level\":1,\"text\":\"waiting for lock on "
                              "'%s/" HO "-a$(x).drv.out'\",\"type\":111}",
                              S),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":12,\"level\":1,\"text\":\"waiting for lock on "
                              "'%s/" HO "-b.drv.'\",\"type\":111}",
                              S),
                         0);
        assert_null(find(f->m, "a$(x)"));
        assert_null(find(f->m, "b"));
        assert_int_equal(ask.n, 2);
        assert_int_equal(ask.activity_id, 12);
}

/* Issue 19, stalls: a queued build whose output another process holds the lock on (Nix's
 * activity 111 naming the output, not the derivation), and a running build's silence. */
static void test_lock_wait_and_silence(void **state) {
        Fixture *f = fx(state);
        Source *s;
        const char *S = f->store;
        assert_int_equal(model_source_new(f->m, 999990, 0, true, 1, &s), 0);
        assert_int_equal(
                feed(f, s,
                     "{\"action\":\"msg\",\"level\":3,\"msg\":\"these 2 derivations will be built:\"}"),
                0);
        assert_int_equal(feed(f, s, "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HA "-a.drv\"}", S), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HF "-f.drv\"}", S), 0);
        Build *a = find(f->m, "a"), *fb = find(f->m, "f");
        assert_non_null(a);
        assert_non_null(fb);
        /* As 2.8 words it, colour escapes and quotes around the path. */
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":41,\"level\":1,\"text\":\"waiting for lock on "
                              "\\u001b[35;1m'%s/" HO "-a'\\u001b[0m\",\"type\":111}",
                              S),
                         0);
        assert_true(build_waiting_for_lock(a));
        assert_false(build_waiting_for_lock(fb));
        assert_false(build_waiting_for_machine(a));
        cJSON *j = build_to_json(a, 1000 * USEC_PER_SEC, 0);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "waiting_for_lock")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "silent_for")));
        cJSON_Delete(j);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":41}"), 0);
        assert_false(build_waiting_for_lock(a));
        /* Another output of f ("<name>-dev"); a path outside the store names nothing. */
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":42,\"level\":1,\"text\":\"waiting for lock on "
                              "'/elsewhere/" HO "-a', '%s/" HO "-f-dev'\",\"type\":111}",
                              S),
                         0);
        assert_false(build_waiting_for_lock(a));
        assert_true(build_waiting_for_lock(fb));
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":42}"), 0);
        /* A content-addressed output has no path yet: Nix locks "<drv>.<output>". */
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":44,\"level\":1,\"text\":\"waiting for lock on "
                              "'%s/" HA "-a.drv.out'\",\"type\":111}",
                              S),
                         0);
        assert_true(build_waiting_for_lock(a));
        assert_false(build_waiting_for_lock(fb));
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":44}"), 0);
        assert_false(build_waiting_for_lock(a));

        /* a runs, prints at 1000 s (the feed's time), then nothing. */
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HA
                              "-a.drv\",\"\",1,1],\"id\":43,\"level\":3,\"text\":\"\",\"type\":105}",
                              S),
                         0);
        assert_int_equal(a->state, BUILD_RUNNING);
        j = build_to_json(a, 1000 * USEC_PER_SEC, 0);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "last_output")));
        cJSON_Delete(j);
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[\"hi\"],\"id\":43,\"type\":101}"),
                         0);
        assert_int_equal(a->last_output, 1000 * USEC_PER_SEC);
        j = build_to_json(a, 1012 * USEC_PER_SEC, 0);
        assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "silent_for")), 12.0, 1e-6);
        assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "last_output")), 1000.0, 1e-6);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "waiting_for_lock")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "build_dir")));
        cJSON_Delete(j);
        j = build_to_json(fb, 1012 * USEC_PER_SEC, 0);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "silent_for"))); /* queued */
        cJSON_Delete(j);
}

/* The sequence Nix 2.8 printed for: top <- (a, d <- f), f exiting 3, built with -k. */
static void feed_graph(Fixture *f, Source *s, uint64_t base) {
        const char *S = f->store;
        assert_int_equal(
                feed(f, s,
                     "{\"action\":\"msg\",\"level\":3,\"msg\":\"these 3 derivations will be built:\"}"),
                0);
        assert_int_equal(feed(f, s, "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HA "-a.drv\"}", S), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HF "-f.drv\"}", S), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"msg\",\"level\":3,\"msg\":\"  %s/" HD "-d.drv\"}", S), 0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":%lu,\"level\":0,\"text\":\"\",\"type\":102}",
                              (unsigned long) base + 1),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"id\":%lu,\"level\":0,\"text\":\"\",\"type\":104}",
                              (unsigned long) base + 2),
                         0);
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[0,3,0,0],\"id\":%lu,\"type\":105}",
                              (unsigned long) base + 2),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HA "-a.drv\",\"\",1,1],\"id\":%lu,"
                              "\"level\":3,\"text\":\"building '%s/" HA "-a.drv'\",\"type\":105}",
                              S, (unsigned long) base + 5, S),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HF "-f.drv\",\"\",1,1],\"id\":%lu,"
                              "\"level\":3,\"text\":\"building\",\"type\":105}",
                              S, (unsigned long) base + 6),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"result\",\"fields\":[\"buildPhase\"],\"id\":%lu,\"type\":104}",
                              (unsigned long) base + 5),
                         0);
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[\"hi\"],\"id\":%lu,\"type\":101}",
                              (unsigned long) base + 5),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"result\",\"fields\":[\"failing\"],\"id\":%lu,\"type\":101}",
                              (unsigned long) base + 6),
                         0);
        assert_int_equal(
                feed(f, s,
                     "{\"action\":\"msg\",\"column\":null,\"file\":null,\"level\":0,\"line\":null,"
                     "\"msg\":\"\\u001b[31;1merror:\\u001b[0m builder for '\\u001b[35;1m%s/" HF
                     "-f.drv\\u001b[0m' failed with exit code 3;\\nlast 10 log lines:\\n> failing\","
                     "\"raw_msg\":\"builder for '\\u001b[35;1m%s/" HF
                     "-f.drv\\u001b[0m' failed with exit code 3;\\nlast 10 log lines:\\n> failing\"}",
                     S, S),
                0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":%lu}", (unsigned long) base + 6), 0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"\\u001b[31;1merror:\\u001b[0m "
                              "\\u001b[35;1m1\\u001b[0m dependencies of derivation '\\u001b[35;1m%s/" HD
                              "-d.drv\\u001b[0m' failed to build\"}",
                              S),
                         0);
        assert_int_equal(
                feed(f, s, "{\"action\":\"result\",\"fields\":[\"installPhase\"],\"id\":%lu,\"type\":104}",
                     (unsigned long) base + 5),
                0);
}

static void test_graph_states(void **state) {
        Fixture *f = fx(state);
        Source *s;
        assert_int_equal(model_source_new(f->m, 999999, 0, true, 1, &s), 0);

        feed_graph(f, s, 11819749998592ULL);
        assert_state(f->m, "a", BUILD_RUNNING);
        assert_state(f->m, "f", BUILD_FAILED);
        assert_state(f->m, "d", BUILD_FAILED);

        Build *bf = find(f->m, "f");
        assert_int_equal(bf->failure, FAILURE_EXIT_CODE);
        assert_int_equal(bf->exit_code, 3);
        /* ANSI stripped, first line only, no trailing ';'. */
        char expect[1024];
        snprintf(expect, sizeof(expect), "builder for '%s/" HF "-f.drv' failed with exit code 3", f->store);
        assert_string_equal(bf->failure_message, expect);
        assert_int_equal(find(f->m, "d")->failure, FAILURE_DEPENDENCY);
        assert_int_equal(find(f->m, "d")->started, 0);

        /* a's output appears, then it stops: succeeded, with its phases in order. */
        make_output(f, "a");
        assert_int_equal(
                feed(f, s, "{\"action\":\"stop\",\"id\":%lu}", (unsigned long) 11819749998592ULL + 5), 0);
        assert_state(f->m, "a", BUILD_SUCCEEDED);
        Build *ba = find(f->m, "a");
        assert_int_equal(ba->n_phases, 2);
        assert_string_equal(ba->phases[0].name, "buildPhase");
        assert_string_equal(ba->phases[1].name, "installPhase");
        assert_int_equal(ba->log.total, 1);

        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[1,1,0,1],\"id\":%lu,\"type\":105}",
                              (unsigned long) 11819749998592ULL + 2),
                         0);
        assert_false(invocation_complete(&s->invocation));
        model_source_disconnect(f->m, s, 2000 * USEC_PER_SEC);
        assert_true(invocation_complete(&s->invocation));

        ModelCounters c;
        model_counters(f->m, &c);
        assert_int_equal(c.by_state[BUILD_SUCCEEDED], 1);
        assert_int_equal(c.by_state[BUILD_FAILED], 2);
        assert_int_equal(c.by_state[BUILD_RUNNING], 0);

        /* The JSON view says the same. */
        cJSON *j = build_to_json(bf, 0, 5);
        assert_string_equal(cJSON_GetObjectItem(j, "state")->valuestring, "failed");
        cJSON *fail = cJSON_GetObjectItem(j, "failure");
        assert_string_equal(cJSON_GetObjectItem(fail, "kind")->valuestring, "exit-code");
        assert_int_equal(cJSON_GetObjectItem(fail, "exit_code")->valueint, 3);
        assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "log_tail"), 0)->valuestring,
                            "failing");
        cJSON_Delete(j);
}

static void test_colliding_ids(void **state) {
        /* Two daemon workers on Nix 2.8 use the same activity ids for different builds. */
        Fixture *f = fx(state);
        Source *s1, *s2;
        assert_int_equal(model_source_new(f->m, 999998, 0, true, 1, &s1), 0);
        assert_int_equal(model_source_new(f->m, 999997, 0, true, 1, &s2), 0);
        const char *S = f->store;
        assert_int_equal(feed(f, s1,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HA
                              "-a.drv\",\"\",1,1],\"id\":7,\"level\":3,\"text\":\"\",\"type\":105}",
                              S),
                         0);
        assert_int_equal(feed(f, s2,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HF
                              "-f.drv\",\"\",1,1],\"id\":7,\"level\":3,\"text\":\"\",\"type\":105}",
                              S),
                         0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(
                        feed(f, s1, "{\"action\":\"result\",\"fields\":[\"line a\"],\"id\":7,\"type\":101}"),
                        0);
        assert_int_equal(
                feed(f, s2, "{\"action\":\"result\",\"fields\":[\"line f\"],\"id\":7,\"type\":101}"), 0);
        assert_int_equal(
                feed(f, s2, "{\"action\":\"result\",\"fields\":[\"checkPhase\"],\"id\":7,\"type\":104}"), 0);

        Build *a = find(f->m, "a"), *fb = find(f->m, "f");
        assert_int_equal(a->log.total, 3);
        assert_int_equal(fb->log.total, 1);
        assert_int_equal(a->n_phases, 0);
        assert_int_equal(fb->n_phases, 1);
        assert_ptr_equal(a->invocation, &s1->invocation);
        assert_ptr_equal(fb->invocation, &s2->invocation);

        make_output(f, "f");
        assert_int_equal(feed(f, s2, "{\"action\":\"stop\",\"id\":7}"), 0);
        assert_state(f->m, "f", BUILD_SUCCEEDED);
        assert_state(f->m, "a", BUILD_RUNNING);
}

/* The same drv built twice by one invocation (--check, or any peer's start/stop/start): both
 * builds sit in its drv index, and each leaves it when freed, in either order (the older
 * one freed first used to stay in the index, freed: ASan's use after free). */
static void test_built_again_then_freed(void **state) {
        Fixture *f = fx(state);
        Source *s;
        assert_int_equal(model_source_new(f->m, 999996, 1000, false, 1, &s), 0);
        make_output(f, "a");
        for (int id = 1; id <= 3; id++) {
                assert_int_equal(feed(f, s,
                                      "{\"action\":\"start\",\"fields\":[\"%s/" HA
                                      "-a.drv\",\"\"],\"id\":%d,\"type\":105}",
                                      f->store, id),
                                 0);
                assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":%d}", id), 0);
        }
        unsigned n = 0;
        for (Build *b = model_builds_first(f->m); b; b = b->next)
                n++;
        assert_int_equal(n, 3);
        assert_int_equal(s->invocation.n_builds, 3);
        /* the oldest goes first (model_free, eviction) */
        model_free(f->m);
        f->m = new_model(f, 100, 100);
}

static void test_missing_outputs_then_message(void **state) {
        Fixture *f = fx(state);
        Source *s;
        assert_int_equal(model_source_new(f->m, 999996, 0, true, 1, &s), 0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HD
                              "-d.drv\",\"\",1,1],\"id\":1,\"level\":3,\"text\":\"\",\"type\":105}",
                              f->store),
                         0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":1}"), 0);
        /* No outputs, no failure yet: undecided while the message may still come. */
        assert_state(f->m, "d", BUILD_RUNNING);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: builder for '%s/" HD
                              "-d.drv' failed due to signal 9 (Killed)\"}",
                              f->store),
                         0);
        assert_state(f->m, "d", BUILD_FAILED);
        assert_int_equal(find(f->m, "d")->failure, FAILURE_SIGNAL);
        assert_int_equal(find(f->m, "d")->signal, 9);
}

static void test_failure_ends_build_before_stop(void **state) {
        /* Nix 2.8 with -k may send the stop of a failed build only when the whole invocation
         * ends: the failure message is the end of the build. */
        Fixture *f = fx(state);
        Source *s;
        assert_int_equal(model_source_new(f->m, 999996, 0, true, 1, &s), 0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HD
                              "-d.drv\",\"\",1,1],\"id\":1,\"level\":3,\"text\":\"\",\"type\":105}",
                              f->store),
                         0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: builder for '%s/" HD
                              "-d.drv' failed with exit code 2\"}",
                              f->store),
                         0);
        assert_state(f->m, "d", BUILD_FAILED);
        assert_int_equal(find(f->m, "d")->finished, 1000 * USEC_PER_SEC);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":1}"), 0);
        assert_state(f->m, "d", BUILD_FAILED);
        assert_int_equal(find(f->m, "d")->exit_code, 2);
        ModelCounters c;
        model_counters(f->m, &c);
        assert_int_equal(c.by_state[BUILD_FAILED], 1);
}

static void test_missing_outputs_no_reason(void **state) {
        Fixture *f = fx(state);
        Source *s;
        assert_int_equal(model_source_new(f->m, 999996, 0, true, 1, &s), 0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HD
                              "-d.drv\",\"\",1,1],\"id\":1,\"level\":3,\"text\":\"\",\"type\":105}",
                              f->store),
                         0);
        usec_t before = now_monotonic();
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":1}"), 0);
        /* Still deciding; the model asks to be woken to look again (nothing else would wake
         * it while the connection stays open), once. */
        assert_state(f->m, "d", BUILD_RUNNING);
        usec_t wake = model_take_wake(f->m);
        assert_true(wake > before);
        assert_int_equal(model_take_wake(f->m), 0);
        /* Run the ticks only when asked: the build ends within a handful of them. */
        for (int i = 0; i < 10 && wake; i++)
                wake = model_tick(f->m, 3000 * USEC_PER_SEC, wake);
        assert_int_equal(wake, 0);
        assert_state(f->m, "d", BUILD_FAILED);
        assert_int_equal(find(f->m, "d")->failure, FAILURE_NO_OUTPUTS);
}

static void test_lost_when_nix_gone(void **state) {
        Fixture *f = fx(state);
        Source *s;
        /* pid 4242 "runs" in the fake /proc. */
        test_write_file(f->dir, "proc/4242/stat",
                        "4242 (nix-build) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n", (size_t) -1);
        assert_int_equal(model_source_new(f->m, 4242, 0, true, 1, &s), 0);
        assert_int_equal(s->pid_starttime, 55);
        assert_int_equal(
                feed(f, s,
                     "{\"action\":\"msg\",\"level\":3,\"msg\":\"this derivation will be built:\\n  %s/" HF
                     "-f.drv\"}",
                     f->store),
                0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HA
                              "-a.drv\",\"\",1,1],\"id\":1,\"level\":3,\"text\":\"\",\"type\":105}",
                              f->store),
                         0);
        assert_state(f->m, "f", BUILD_QUEUED);

        model_source_disconnect(f->m, s, 10 * USEC_PER_SEC);
        usec_t mono = now_monotonic();
        model_tick(f->m, 11 * USEC_PER_SEC, mono + USEC_PER_SEC);
        assert_state(f->m, "a", BUILD_RUNNING); /* nix still runs: maybe the stream just broke */

        test_rm_rf(f->proc);
        test_write_file(f->dir, "proc/.keep", "", 0);
        model_tick(f->m, 12 * USEC_PER_SEC, mono + 2 * USEC_PER_SEC);
        assert_state(f->m, "a", BUILD_LOST);
        assert_state(f->m, "f", BUILD_FAILED);
        assert_int_equal(find(f->m, "f")->failure, FAILURE_CANCELLED);
}

static void test_log_ring_and_eviction(void **state) {
        Fixture *f = fx(state);
        model_free(f->m);
        f->m = new_model(f, 100, 1);
        Source *s;
        assert_int_equal(model_source_new(f->m, 999995, 0, true, 1, &s), 0);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HA
                              "-a.drv\",\"\",1,1],\"id\":1,\"level\":3,\"text\":\"\",\"type\":105}",
                              f->store),
                         0);
        for (int i = 1; i <= 5000; i++)
                assert_int_equal(
                        feed(f, s, "{\"action\":\"result\",\"fields\":[\"line %d\"],\"id\":1,\"type\":101}",
                             i),
                        0);
        Build *a = find(f->m, "a");
        assert_int_equal(a->log.total, 5000);
        assert_int_equal(a->log.count, 100);
        assert_string_equal(build_log_line(a, 0), "line 4901");
        assert_string_equal(build_log_line(a, 99), "line 5000");

        make_output(f, "a");
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":1}"), 0);
        assert_state(f->m, "a", BUILD_SUCCEEDED);
        /* Views get the last lines first (a follower must not miss the end of the log)... */
        assert_int_equal(a->log.count, 100);
        model_drain_changes(f->m, NULL, NULL);
        /* ...then the ring shrinks to its finished size. */
        assert_int_equal(a->log.count, 3); /* log_ring_finished */
        assert_string_equal(build_log_line(a, 2), "line 5000");

        /* A second finished build pushes the first out (max_finished = 1) once drained. */
        make_output(f, "f");
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HF
                              "-f.drv\",\"\",1,1],\"id\":2,\"level\":3,\"text\":\"\",\"type\":105}",
                              f->store),
                         0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":2}"), 0);
        model_drain_changes(f->m, NULL, NULL);
        model_tick(f->m, 0, now_monotonic());
        assert_null(find(f->m, "a"));
        assert_state(f->m, "f", BUILD_SUCCEEDED);
}

static unsigned seen_builds, seen_kinds, seen_lines;
static void count_build(void *u, Build *b, unsigned kinds, uint64_t new_lines) {
        seen_builds++;
        seen_kinds |= kinds;
        seen_lines += (unsigned) new_lines;
}

/* A source whose build a.drv (activity 1) just started, reported as new by the next drain. */
static Source *start_one(Fixture *f) {
        Source *s;
        assert_int_equal(model_source_new(f->m, 999994, 0, true, 1, &s), 0);
        model_drain_changes(f->m, NULL, NULL);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"start\",\"fields\":[\"%s/" HA
                              "-a.drv\",\"\",1,1],\"id\":1,\"level\":3,\"text\":\"\",\"type\":105}",
                              f->store),
                         0);
        return s;
}

static void test_changes_coalesced(void **state) {
        Fixture *f = fx(state);
        Source *s = start_one(f);
        for (int i = 0; i < 50; i++)
                assert_int_equal(
                        feed(f, s, "{\"action\":\"result\",\"fields\":[\"x\"],\"id\":1,\"type\":101}"), 0);
        assert_int_equal(
                feed(f, s, "{\"action\":\"result\",\"fields\":[\"buildPhase\"],\"id\":1,\"type\":104}"), 0);
        const ModelChangeHandler h = {.build = count_build};
        seen_builds = seen_kinds = seen_lines = 0;
        model_drain_changes(f->m, &h, NULL);
        assert_int_equal(seen_builds, 1);
        assert_int_equal(seen_lines, 50);
        assert_true(seen_kinds & (1u << CHANGE_NEW));
        assert_true(seen_kinds & (1u << CHANGE_LOG));
        assert_false(model_has_changes(f->m));
}

/* A view annotates the changed builds before the drain reports them (daemon: estimates.c):
 * the ETA set there is in the one report, and an unchanged ETA marks nothing. */
typedef struct Annotate {
        Model *m;
        unsigned visited;
} Annotate;

static void annotate_eta(void *u, Build *b, unsigned kinds) {
        Annotate *a = u;
        a->visited++;
        assert_true(kinds & (1u << CHANGE_NEW));
        model_build_set_eta(a->m, b, &(BuildEta){.looked_up = true, .samples = 3, .expected = 42});
}

static unsigned seen_samples;
static void eta_seen(void *u, Build *b, unsigned kinds, uint64_t new_lines) {
        seen_builds++;
        seen_samples = b->eta.samples;
}

static void test_eta_before_drain(void **state) {
        Fixture *f = fx(state);
        (void) start_one(f);
        Annotate a = {.m = f->m};
        model_visit_changed_builds(f->m, annotate_eta, &a);
        assert_int_equal(a.visited, 1);
        const ModelChangeHandler h = {.build = eta_seen};
        seen_builds = seen_samples = 0;
        model_drain_changes(f->m, &h, NULL);
        assert_int_equal(seen_builds, 1);
        assert_int_equal(seen_samples, 3);

        Build *b = model_builds_first(f->m);
        model_build_set_eta(f->m, b, &(BuildEta){.looked_up = true, .samples = 3, .expected = 42});
        assert_false(model_has_changes(f->m));
        model_build_set_eta(f->m, b, &(BuildEta){.looked_up = true, .samples = 4, .expected = 40});
        assert_true(b->dirty);
        assert_int_equal(b->dirty_kinds, 1u << CHANGE_CHANGED);
        assert_int_equal(b->eta.samples, 4);
}

/* The remote machine's daemon's view of a build (daemon: machines-poll.c): copied, a change
 * only when it differs, "remote" in the build's JSON, null when cleared; freed with the model. */
static void test_remote_view(void **state) {
        Fixture *f = fx(state);
        (void) start_one(f);
        model_drain_changes(f->m, &(ModelChangeHandler){}, NULL);
        Build *b = model_builds_first(f->m);
        cJSON *j = build_to_json(b, 0, 0);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "remote")));
        cJSON_Delete(j);

        char phase[] = "buildPhase";
        BuildRemoteView v = {.present = true,
                             .state = (char *) "running",
                             .phase = phase,
                             .sampled = true,
                             .cpu_percent = 97.5,
                             .mem_current = 4096,
                             .mem_peak = 8192,
                             .n_procs = 2,
                             .log_lines = 7,
                             .seen = 5 * USEC_PER_SEC};
        assert_int_equal(model_build_set_remote_view(f->m, b, &v), 0);
        assert_int_equal(b->dirty_kinds, 1u << CHANGE_CHANGED);
        phase[0] = 'X'; /* a copy was taken */
        j = build_to_json(b, 0, 0);
        cJSON *r = cJSON_GetObjectItem(j, "remote");
        assert_string_equal(cJSON_GetObjectItem(r, "phase")->valuestring, "buildPhase");
        assert_string_equal(cJSON_GetObjectItem(r, "state")->valuestring, "running");
        assert_true(cJSON_GetObjectItem(r, "cpu_percent")->valuedouble == 97.5);
        assert_true(cJSON_GetObjectItem(r, "mem_peak")->valuedouble == 8192);
        assert_true(cJSON_GetObjectItem(r, "procs")->valuedouble == 2);
        assert_true(cJSON_GetObjectItem(r, "log_lines")->valuedouble == 7);
        assert_true(cJSON_GetObjectItem(r, "seen")->valuedouble == 5);
        cJSON_Delete(j);

        /* The same view again: nothing to report; a later poll (seen) is a change. */
        model_drain_changes(f->m, &(ModelChangeHandler){}, NULL);
        strcpy(phase, "buildPhase");
        assert_int_equal(model_build_set_remote_view(f->m, b, &v), 0);
        assert_false(model_has_changes(f->m));
        v.seen += USEC_PER_SEC;
        v.sampled = false;
        assert_int_equal(model_build_set_remote_view(f->m, b, &v), 0);
        assert_true(model_has_changes(f->m));
        j = build_to_json(b, 0, 0);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "remote"), "cpu_percent")));
        cJSON_Delete(j);

        /* Cleared: null again, and clearing twice reports once. */
        model_drain_changes(f->m, &(ModelChangeHandler){}, NULL);
        assert_int_equal(model_build_set_remote_view(f->m, b, NULL), 0);
        assert_true(model_has_changes(f->m));
        model_drain_changes(f->m, &(ModelChangeHandler){}, NULL);
        assert_int_equal(model_build_set_remote_view(f->m, b, &(BuildRemoteView){}), 0);
        assert_false(model_has_changes(f->m));
        j = build_to_json(b, 0, 0);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "remote")));
        cJSON_Delete(j);
        /* Left set: the model frees it with the build (ASan checks). */
        assert_int_equal(model_build_set_remote_view(f->m, b, &v), 0);
}

static void test_hello_trust(void **state) {
        Fixture *f = fx(state);
        Source *trusted, *untrusted;
        assert_int_equal(model_source_new(f->m, 999993, 0, true, 1, &trusted), 0);
        assert_int_equal(model_source_new(f->m, 999992, 1000, false, 1, &untrusted), 0);
        const char *hello =
                "{\"action\":\"hello\",\"protocol\":1,\"pid\":77,\"ppid\":1,\"uid\":0,\"role\":\"daemon-"
                "worker\","
                "\"nix\":\"2.8.0\",\"requester\":{\"pid\":78,\"uid\":0,\"cmdline\":\"nix-build x.nix\"}}";
        assert_int_equal(feed(f, trusted, "%s", hello), 0);
        assert_int_equal(feed(f, untrusted, "%s", hello), 0);
        assert_int_equal(trusted->pid, 77);
        assert_string_equal(trusted->role, "daemon-worker");
        assert_string_equal(trusted->invocation.requester.cmdline, "nix-build x.nix");
        assert_int_equal(trusted->invocation.requester.uid, 0);
        assert_string_equal(trusted->invocation.requester.user, "root");
        /* An unprivileged sender cannot claim to be root or another process. */
        assert_int_equal(untrusted->pid, 999992);
        assert_int_equal(untrusted->uid, 1000);
        assert_int_equal(untrusted->invocation.requester.uid, 1000);
        /* A second hello is a protocol error. */
        assert_int_equal(feed(f, trusted, "%s", hello), -EPROTO);
}

static void test_junk_is_harmless(void **state) {
        Fixture *f = fx(state);
        Source *s;
        assert_int_equal(model_source_new(f->m, 999991, 0, true, 1, &s), 0);
        /* Results and stops for unknown activities, unknown types, a build without drv. */
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[\"x\"],\"id\":5,\"type\":101}"), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"stop\",\"id\":5}"), 0);
        assert_int_equal(
                feed(f, s, "{\"action\":\"start\",\"id\":6,\"level\":3,\"text\":\"\",\"type\":999}"), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[1,2],\"id\":6,\"type\":777}"), 0);
        assert_int_equal(
                feed(f, s, "{\"action\":\"start\",\"id\":8,\"level\":3,\"text\":\"\",\"type\":105}"),
                -EPROTO);
        assert_int_equal(
                feed(f, s, "{\"action\":\"start\",\"id\":9,\"level\":3,\"text\":\"\",\"type\":104}"), 0);
        assert_int_equal(feed(f, s, "{\"action\":\"result\",\"fields\":[\"a\",2],\"id\":9,\"type\":105}"),
                         -EPROTO);
        assert_int_equal(feed(f, s,
                              "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: something about "
                              "/nix/store/nothing\"}"),
                         0);
        assert_int_equal(feed(f, s, "{\"action\":\"dropped\",\"count\":12}"), 0);
        assert_int_equal(s->dropped_by_sender, 12);
        assert_null(model_builds_first(f->m));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_graph_states, setup, teardown),
                cmocka_unit_test_setup_teardown(test_colliding_ids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_outputs_then_message, setup, teardown),
                cmocka_unit_test_setup_teardown(test_built_again_then_freed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failure_ends_build_before_stop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_outputs_no_reason, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lost_when_nix_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log_ring_and_eviction, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changes_coalesced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eta_before_drain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remote_view, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hello_trust, setup, teardown),
                cmocka_unit_test_setup_teardown(test_junk_is_harmless, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lock_wait_and_silence, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lock_wait_unplanned, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
