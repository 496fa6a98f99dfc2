/* Unit tests for src/shared/model-proc.c: what processes and cgroups tell the model (killed,
 * frozen, OOM kill, the builder's real end, builds rediscovered after a restart). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/model-json.h"
#include "shared/model-proc.h"
#include "shared/model.h"
#include "shared/nixlog.h"
#include "test-helpers.h"

#define HA TEST_FIXTURE_HA
#define HO TEST_FIXTURE_HO
#define T0 (1000 * USEC_PER_SEC)

typedef TestModelFixture Fixture;
#define setup    test_model_fixture_setup
#define teardown test_model_fixture_teardown

static void feed(Fixture *f, usec_t now, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void feed(Fixture *f, usec_t now, const char *fmt, ...) {
        char line[4096];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        NixRecord rec;
        assert_int_equal(nix_record_parse(line, (size_t) n, &rec), 0);
        assert_int_equal(model_apply(f->m, f->s, &rec, now), 0);
        nix_record_done(&rec);
}

static Build *start_a(Fixture *f) {
        feed(f, T0,
             "{\"action\":\"start\",\"fields\":[\"%s\",\"\",1,1],\"id\":7,\"level\":3,\"text\":\"b\","
             "\"type\":105}",
             f->drv);
        Build *b = model_builds_first(f->m);
        assert_non_null(b);
        assert_int_equal(b->state, BUILD_RUNNING);
        return b;
}

static void signal9(Fixture *f, usec_t now) {
        feed(f, now,
             "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: builder for '%s' failed due to signal 9 "
             "(Killed)\","
             "\"raw_msg\":\"builder for '%s' failed due to signal 9 (Killed)\"}",
             f->drv, f->drv);
}

static void test_killed_by_nix_report(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        model_build_kill_requested(f->m, b);
        signal9(f, T0 + 5 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_KILLED);
        assert_int_equal(b->failure, FAILURE_SIGNAL);
        assert_int_equal(b->signal, 9);
        ModelCounters mc;
        model_counters(f->m, &mc);
        assert_int_equal(mc.by_state[BUILD_KILLED], 1);
        assert_int_equal(mc.by_state[BUILD_RUNNING], 0);
}

static void test_killed_at_builder_exit(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        model_build_set_frozen(f->m, b, true);
        assert_int_equal(b->state, BUILD_FROZEN);
        model_build_kill_requested(f->m, b); /* thaws: a killed build is no longer frozen */
        assert_int_equal(b->state, BUILD_RUNNING);
        model_build_builder_exited(f->m, b, T0 + 2 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_KILLED);
        assert_int_equal(b->finished, T0 + 2 * USEC_PER_SEC);
        assert_int_equal(b->signal, 9);
        /* Nix's report at the end of the invocation (2.8 -k) keeps it killed. */
        signal9(f, T0 + 30 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_KILLED);
        assert_int_equal(b->finished, T0 + 2 * USEC_PER_SEC);
}

static void test_oom(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        BuildUsage u = {.sampled = true, .mem_current = 1 << 20, .mem_limit = 64 << 20, .oom_killed = true};
        model_build_set_usage(f->m, b, &u);
        signal9(f, T0 + USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_FAILED);
        assert_int_equal(b->failure, FAILURE_OOM);
        cJSON *j = build_to_json(b, T0, 0);
        assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "failure"), "kind")),
                "oom-killed");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "oom_killed")));
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "mem_limit")->valuedouble,
                         64 << 20);
        cJSON_Delete(j);
}

static void test_oom_seen_after_failure(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        signal9(f, T0 + USEC_PER_SEC);
        assert_int_equal(b->failure, FAILURE_SIGNAL);
        model_build_oom_killed(f->m, b); /* the sampler's last look at the group */
        assert_int_equal(b->failure, FAILURE_OOM);
}

static void test_builder_exit_is_end_time(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        BuildUsage u = {.sampled = true, .cpu_user = 5 * USEC_PER_SEC, .n_procs = 2};
        model_build_set_usage(f->m, b, &u);
        assert_true(b->dirty);
        model_build_builder_exited(f->m, b, T0 + 3 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_RUNNING); /* its other process still runs */
        model_build_processes_gone(f->m, b, T0 + 3 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_FINISHING); /* Nix decides, not us */
        test_write_file(f->dir, "store/" HO "-a", "done", (size_t) -1);
        feed(f, T0 + 60 * USEC_PER_SEC, "{\"action\":\"stop\",\"id\":7}");
        assert_int_equal(b->state, BUILD_SUCCEEDED);
        assert_int_equal(b->finished, T0 + 3 * USEC_PER_SEC);
}

/* The builds activity (104) and its progress counters: done, expected, running, failed. */
static void progress(Fixture *f, usec_t now, int done, int failed) {
        feed(f, now, "{\"action\":\"start\",\"id\":1,\"level\":0,\"text\":\"\",\"type\":104}");
        feed(f, now, "{\"action\":\"result\",\"fields\":[%d,2,0,%d],\"id\":1,\"type\":105}", done, failed);
}

/* The daemon's ticks for two seconds from now (monotonic): what waits on a later look. */
static void settle(Fixture *f, usec_t now) {
        usec_t mono = now_monotonic();
        for (unsigned i = 1; i <= 10; i++)
                (void) model_tick(f->m, now, mono + i * 200 * USEC_PER_MSEC);
}

/* Nix 2.8 under -k: the builder exited 3, Nix counted the failure at once but keeps the
 * activity open and words the reason only when nix-build ends. The build is finishing once
 * its processes are gone, failed once Nix counted a failure it cannot be another's, and
 * takes Nix's reason when it comes. */
static void test_finishing_then_failed(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        BuildUsage u = {.sampled = true, .n_procs = 1};
        model_build_set_usage(f->m, b, &u);
        model_build_builder_exited(f->m, b, T0 + 2 * USEC_PER_SEC);
        model_build_processes_gone(f->m, b, T0 + 2 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_FINISHING);
        assert_true(build_state_is_active(b->state));
        assert_false(build_state_is_final(b->state));
        cJSON *j = build_to_json(b, T0 + 9 * USEC_PER_SEC, 0);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "state")), "finishing");
        assert_int_equal(cJSON_GetObjectItem(j, "duration")->valuedouble, 2); /* its processes' end */
        cJSON_Delete(j);
        /* Another build succeeded: not a word about this one. */
        progress(f, T0 + 3 * USEC_PER_SEC, 1, 0);
        assert_int_equal(b->state, BUILD_FINISHING);
        /* A failure Nix counted that no build of the invocation explains: this one, once
         * Nix's words about another build had the time to come (the daemon's ticks). */
        progress(f, T0 + 4 * USEC_PER_SEC, 1, 1);
        assert_int_equal(b->state, BUILD_FINISHING);
        settle(f, T0 + 5 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_FAILED);
        assert_int_equal(b->failure, FAILURE_NO_OUTPUTS);
        assert_int_equal(b->finished, T0 + 2 * USEC_PER_SEC);
        feed(f, T0 + 60 * USEC_PER_SEC,
             "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: builder for '%s' failed with exit code 3\"}",
             f->drv);
        assert_int_equal(b->state, BUILD_FAILED);
        assert_int_equal(b->failure, FAILURE_EXIT_CODE);
        assert_int_equal(b->exit_code, 3);
        assert_true(b->dirty_kinds & (1u << CHANGE_REVISED)); /* history takes the new reason */
}

/* Without -k, Nix counts another build's failure, words it, then kills this one: the sampler
 * may see this one's processes gone before the daemon has read those words. The failure Nix
 * counted is the other build's once its words come: this one is then stopped for it, not
 * failed on its own. */
static void test_counted_failure_worded_later_is_another(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        char x[1024];
        snprintf(x, sizeof(x), "%s/" HO "-x.drv", f->store);
        feed(f, T0,
             "{\"action\":\"start\",\"fields\":[\"%s\",\"\",1,1],\"id\":8,\"level\":3,\"text\":\"x\","
             "\"type\":105}",
             x);
        BuildUsage u = {.sampled = true, .n_procs = 1};
        model_build_set_usage(f->m, b, &u);
        progress(f, T0 + 2 * USEC_PER_SEC, 0, 1); /* x's failure, counted */
        model_build_processes_gone(f->m, b, T0 + 2 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_FINISHING);
        feed(f, T0 + 2 * USEC_PER_SEC,
             "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: builder for '%s' failed with exit code 3\"}",
             x);
        settle(f, T0 + 3 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_FINISHING);
        assert_int_equal(b->failure, FAILURE_NONE);
        feed(f, T0 + 3 * USEC_PER_SEC, "{\"action\":\"stop\",\"id\":7}");
        settle(f, T0 + 4 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_FAILED);
        assert_int_equal(b->failure, FAILURE_CANCELLED);
}

/* Nix counted a build done or failed while the sampler last saw this one's processes: it may
 * be the one that ended (Nix starts another in its slot), so a sample is due now, once. */
static void test_progress_wants_a_sample(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        progress(f, T0 + USEC_PER_SEC, 0, 0);
        assert_false(model_take_sample(f->m)); /* nothing counted */
        progress(f, T0 + 2 * USEC_PER_SEC, 1, 0);
        assert_false(model_take_sample(f->m)); /* never sampled: the sampler has nothing to look at */
        BuildUsage u = {.sampled = true, .n_procs = 1};
        model_build_set_usage(f->m, b, &u);
        progress(f, T0 + 3 * USEC_PER_SEC, 1, 1);
        assert_true(model_take_sample(f->m));
        assert_false(model_take_sample(f->m)); /* taken */
        model_build_processes_gone(f->m, b, T0 + 4 * USEC_PER_SEC);
        progress(f, T0 + 5 * USEC_PER_SEC, 2, 1);
        assert_false(model_take_sample(f->m)); /* its processes are gone already */
}

/* Failed before Nix's word; the group's last look then finds the OOM killer's mark: that is
 * the better reason, and history takes it. */
static void test_oom_seen_after_moved_on(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        BuildUsage u = {.sampled = true, .n_procs = 1};
        model_build_set_usage(f->m, b, &u);
        model_build_processes_gone(f->m, b, T0 + 2 * USEC_PER_SEC);
        progress(f, T0 + 3 * USEC_PER_SEC, 0, 1);
        settle(f, T0 + 4 * USEC_PER_SEC);
        assert_int_equal(b->failure, FAILURE_NO_OUTPUTS);
        model_build_oom_killed(f->m, b);
        assert_int_equal(b->state, BUILD_FAILED);
        assert_int_equal(b->failure, FAILURE_OOM);
        assert_true(b->dirty_kinds & (1u << CHANGE_REVISED));
}

/* A failure Nix counted while processes of the build still ran was another's (one this
 * stream never showed): the build is finishing, its output being registered, not failed. */
static void test_earlier_failure_is_another(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        progress(f, T0 + USEC_PER_SEC, 0, 1);
        BuildUsage u = {.sampled = true, .n_procs = 1};
        model_build_set_usage(f->m, b, &u);
        model_build_processes_gone(f->m, b, T0 + 2 * USEC_PER_SEC);
        progress(f, T0 + 3 * USEC_PER_SEC, 1, 1); /* another one done */
        assert_int_equal(b->state, BUILD_FINISHING);
        test_write_file(f->dir, "store/" HO "-a", "registered", (size_t) -1);
        progress(f, T0 + 4 * USEC_PER_SEC, 2, 1);
        assert_int_equal(b->state, BUILD_SUCCEEDED);
}

/* The builder exited, a child of it lives on: running (not succeeded) while the child does,
 * even with its output on disk and Nix's done count moving; succeeded once nothing of it runs
 * and Nix's database says its output is valid. */
static bool output_registered;
static int fake_path_valid(void *userdata, const char *path) {
        return output_registered;
}

static void test_leftover_process_keeps_running(void **state) {
        Fixture *f = *state;
        ModelConfig c;
        model_config_defaults(&c);
        c.store_dir = f->store;
        c.proc_root = f->proc;
        c.path_valid = fake_path_valid;
        model_free(f->m);
        assert_int_equal(model_new(&c, &f->m), 0);
        assert_int_equal(model_source_new(f->m, 4242, 0, true, T0, &f->s), 0);
        output_registered = false;

        Build *b = start_a(f);
        BuildUsage u = {.sampled = true, .n_procs = 2};
        model_build_set_usage(f->m, b, &u);
        test_write_file(f->dir, "store/" HO "-a", "written, not registered", (size_t) -1);
        model_build_builder_exited(f->m, b, T0 + 2 * USEC_PER_SEC);
        progress(f, T0 + 3 * USEC_PER_SEC, 1, 0); /* another build */
        assert_int_equal(b->state, BUILD_RUNNING);
        u.n_procs = 1; /* the child */
        model_build_set_usage(f->m, b, &u);
        assert_int_equal(b->state, BUILD_RUNNING);
        /* The child ends; Nix has not registered the output yet. */
        model_build_processes_gone(f->m, b, T0 + 20 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_FINISHING);
        output_registered = true;
        progress(f, T0 + 21 * USEC_PER_SEC, 2, 0);
        assert_int_equal(b->state, BUILD_SUCCEEDED);
        assert_int_equal(b->finished, T0 + 20 * USEC_PER_SEC); /* its child's end */
}

/* Build a, its one process sampled, its output written, stopped by Nix at T0 + 5 s: still
 * running, as the sampler has not seen that process end. */
static Build *stopped_with_process(Fixture *f, BuildUsage *u) {
        Build *b = start_a(f);
        *u = (BuildUsage){.sampled = true, .n_procs = 1};
        model_build_set_usage(f->m, b, u);
        test_write_file(f->dir, "store/" HO "-a", "done", (size_t) -1);
        feed(f, T0 + 5 * USEC_PER_SEC, "{\"action\":\"stop\",\"id\":7}");
        assert_int_equal(b->state, BUILD_RUNNING);
        return b;
}

/* Nix stopped the build (and registered its output) while a process of it lives on: it is
 * shown running with that process until the sampler sees it gone. */
static void test_stopped_with_leftover(void **state) {
        Fixture *f = *state;
        BuildUsage u;
        Build *b = stopped_with_process(f, &u);
        model_build_set_usage(f->m, b, &u); /* the next sample still finds it */
        assert_int_equal(b->state, BUILD_RUNNING);
        model_build_processes_gone(f->m, b, T0 + 30 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_SUCCEEDED);
        assert_int_equal(b->finished, T0 + 30 * USEC_PER_SEC); /* its last process's end */
}

/* Nix 2.8 stops its last build's activity and exits right after: a build stopped while the
 * sampler still saw its processes is not lost with the nix process; their end decides it. */
static void test_nix_exits_before_processes_seen_gone(void **state) {
        Fixture *f = *state;
        BuildUsage u;
        Build *b = stopped_with_process(f, &u);
        char path[1024];
        snprintf(path, sizeof(path), "%s/4242/stat", f->proc);
        assert_int_equal(unlink(path), 0);
        model_source_disconnect(f->m, f->s, T0 + 5 * USEC_PER_SEC);
        (void) model_tick(f->m, T0 + 6 * USEC_PER_SEC, now_monotonic() + USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_RUNNING);
        model_build_processes_gone(f->m, b, T0 + 6 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_SUCCEEDED);
        assert_int_equal(b->finished, T0 + 5 * USEC_PER_SEC);
}

/* What an action applied is reported at once, and only what it changed: a limit keeps the
 * niceness the sampler showed. */
static void test_action_settings(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        BuildUsage u = {.sampled = true, .has_nice = true, .nice = 5, .n_procs = 1};
        model_build_set_usage(f->m, b, &u);
        model_drain_changes(f->m, NULL, NULL);
        assert_false(b->dirty);

        model_build_set_limits(f->m, b, 1.5, 64 << 20);
        assert_true(b->dirty);
        assert_true(b->usage.cpu_limit == 1.5);
        assert_int_equal(b->usage.mem_limit, 64 << 20);
        assert_true(b->usage.has_nice);
        assert_int_equal(b->usage.nice, 5);
        model_drain_changes(f->m, NULL, NULL);

        model_build_set_nice(f->m, b, 5); /* no change, nothing to report */
        assert_false(b->dirty);
        model_build_set_nice(f->m, b, 12);
        assert_true(b->dirty);
        assert_int_equal(b->usage.nice, 12);
        assert_int_equal(b->usage.n_procs, 1);
        assert_int_equal(b->usage.mem_limit, 64 << 20);
}

static void test_rediscovered(void **state) {
        Fixture *f = *state;
        Build *b, *b2;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0, &b), 0);
        assert_true(b->rediscovered);
        assert_int_equal(b->state, BUILD_RUNNING);
        assert_string_equal(b->invocation->source->role, "rediscovered");
        /* the same again: no duplicate */
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0, &b2), 0);
        assert_ptr_equal(b, b2);
        test_write_file(f->dir, "store/" HO "-a", "done", (size_t) -1);
        model_build_builder_exited(f->m, b, T0 + USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_SUCCEEDED);
}

/* A remote client's build, its .drv not in this store: the outputs its builder's environment
 * names decide, missing ones a failure (once Nix had time to register them), not a success
 * taken on trust. */
static void test_served_outputs(void **state) {
        Fixture *f = *state;
        char drv[1024], out[1024], other[1024], name[] = "out";
        snprintf(drv, sizeof(drv), "%s/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-remote.drv", f->store);
        snprintf(out, sizeof(out), "%s/" HO "-remote", f->store);
        snprintf(other, sizeof(other), "%s/yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy-remote", f->store);
        Build *b, *c;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, drv, T0, &b), 0);
        model_build_builder_outputs(f->m, b, &(DrvOutput){.name = name, .path = out}, 1);
        model_build_builder_exited(f->m, b, T0 + USEC_PER_SEC);
        model_build_processes_gone(f->m, b, T0 + USEC_PER_SEC);
        usec_t mono = now_monotonic();
        (void) model_tick(f->m, T0 + 2 * USEC_PER_SEC, mono += 300 * USEC_PER_MSEC);
        assert_int_equal(b->state, BUILD_FINISHING); /* Nix may still be registering them */
        test_write_file(f->dir, "store/" HO "-remote", "built", (size_t) -1);
        (void) model_tick(f->m, T0 + 3 * USEC_PER_SEC, mono += 300 * USEC_PER_MSEC);
        assert_int_equal(b->state, BUILD_SUCCEEDED);

        snprintf(drv, sizeof(drv), "%s/" HO "-remote.drv", f->store);
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, drv, T0, &c), 0);
        model_build_builder_outputs(f->m, c, &(DrvOutput){.name = name, .path = other}, 1);
        model_build_builder_exited(f->m, c, T0 + USEC_PER_SEC);
        model_build_processes_gone(f->m, c, T0 + USEC_PER_SEC);
        int ticks = 0;
        for (; ticks < 60 && c->state == BUILD_FINISHING; ticks++)
                (void) model_tick(f->m, T0 + 2 * USEC_PER_SEC, mono += 300 * USEC_PER_MSEC);
        assert_int_equal(c->state, BUILD_FAILED);
        assert_int_equal(c->failure, FAILURE_NO_OUTPUTS);
        assert_true(ticks > 5); /* looked for longer than a build with events */
}

static void test_rediscovered_nix_exits(void **state) {
        Fixture *f = *state;
        Build *b;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0, &b), 0);
        test_write_file(f->dir, "store/" HO "-a", "done", (size_t) -1);
        /* nix ends before the sampler saw its builder go: the outputs decide, not "lost" */
        char path[1024];
        snprintf(path, sizeof(path), "%s/4242/stat", f->proc);
        assert_int_equal(unlink(path), 0);
        (void) model_tick(f->m, T0 + USEC_PER_SEC, now_monotonic() + USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_SUCCEEDED);
}

static void test_rediscovered_claimed_by_stream(void **state) {
        Fixture *f = *state;
        Build *r;
        /* found in /proc first (the daemon started mid-build) ... */
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0 - USEC_PER_SEC, &r), 0);
        uint64_t key = r->key;
        /* ... then the plugin's stream reports the same build: one build, driven by events */
        Build *b = start_a(f);
        assert_ptr_equal(b, r);
        assert_int_equal(b->key, key);
        assert_false(b->rediscovered);
        assert_ptr_equal(b->invocation, &f->s->invocation);
        assert_null(b->next);
        assert_int_equal(b->started, T0 - USEC_PER_SEC); /* the earlier start is kept */
        feed(f, T0 + USEC_PER_SEC, "{\"action\":\"stop\",\"id\":7}");
        test_write_file(f->dir, "store/" HO "-a", "done", (size_t) -1);
        (void) model_tick(f->m, T0 + 2 * USEC_PER_SEC, now_monotonic() + 2 * USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_SUCCEEDED);
}

static void test_rediscovered_claimed_by_plan(void **state) {
        Fixture *f = *state;
        Build *r;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0 - USEC_PER_SEC, &r), 0);
        /* the stream's first records: the plan (Nix 2.8: one message per line), then the start */
        feed(f, T0, "{\"action\":\"msg\",\"level\":0,\"msg\":\"this derivation will be built:\"}");
        feed(f, T0, "{\"action\":\"msg\",\"level\":0,\"msg\":\"  %s\"}", f->drv);
        assert_false(r->rediscovered);
        assert_int_equal(r->state, BUILD_RUNNING);
        assert_ptr_equal(r->invocation, &f->s->invocation);
        Build *b = start_a(f);
        assert_ptr_equal(b, r);
        assert_null(b->next);
}

static void test_rediscovered_after_stream(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f), *r;
        /* the stream came back first; /proc shows the same build: it is that one */
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0, &r), 0);
        assert_ptr_equal(r, b);
        assert_false(r->rediscovered);
        assert_null(b->next);
}

static void test_rediscovered_lost(void **state) {
        Fixture *f = *state;
        Build *b;
        /* nix pid 777 is not in /proc and the outputs are missing: it failed, after the
         * usual second looks at the store */
        assert_int_equal(model_rediscovered_build(f->m, 777, 0, f->drv, T0, &b), 0);
        usec_t mono = now_monotonic();
        for (int i = 0; i < 10 && b->state == BUILD_RUNNING; i++)
                (void) model_tick(f->m, T0 + USEC_PER_SEC, mono += 300 * USEC_PER_MSEC);
        assert_int_equal(b->state, BUILD_FAILED);
        assert_int_equal(b->failure, FAILURE_NO_OUTPUTS);
}

/* An unprivileged stream (pid 5000, uid 1000, not an ancestor of nix pid 4242) reports the
 * drv of a rediscovered build: it gets a build of its own, never root's. */
static Source *untrusted_source(Fixture *f, int pid, int ppid) {
        char rel[64], stat[256];
        snprintf(rel, sizeof(rel), "proc/%d/stat", pid);
        snprintf(stat, sizeof(stat), "%d (python3) S %d %d %d 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 44 0 0\n", pid,
                 ppid, pid, pid);
        test_write_file(f->dir, rel, stat, (size_t) -1);
        Source *s;
        assert_int_equal(model_source_new(f->m, pid, 1000, false, T0, &s), 0);
        return s;
}

static void feed_from(Fixture *f, Source *s, const char *line) {
        NixRecord rec;
        assert_int_equal(nix_record_parse(line, strlen(line), &rec), 0);
        (void) model_apply(f->m, s, &rec, T0);
        nix_record_done(&rec);
}

static void test_rediscovered_not_taken_by_untrusted(void **state) {
        Fixture *f = *state;
        Build *r;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0 - USEC_PER_SEC, &r), 0);
        Source *mallory = untrusted_source(f, 5000, 1);
        char line[2048];
        snprintf(line, sizeof(line), "{\"action\":\"start\",\"id\":1,\"type\":105,\"fields\":[\"%s\",\"\"]}",
                 f->drv);
        feed_from(f, mallory, line);
        feed_from(f, mallory, "{\"action\":\"msg\",\"level\":0,\"msg\":\"this derivation will be built:\"}");
        snprintf(line, sizeof(line), "{\"action\":\"msg\",\"level\":0,\"msg\":\"  %s\"}", f->drv);
        feed_from(f, mallory, line);
        assert_true(r->rediscovered);
        assert_int_equal(r->requester.uid, 0);
        assert_string_equal(r->invocation->source->role, "rediscovered");
        Build *hers = mallory->invocation.by_drv;
        assert_non_null(hers);
        assert_ptr_not_equal(hers, r);
        /* /proc read again with her stream already there: still root's build, not hers */
        Build *again;
        assert_int_equal(model_rediscovered_build(f->m, 4242, 0, f->drv, T0, &again), 0);
        assert_ptr_equal(again, r);
}

static void test_rediscovered_taken_by_own_untrusted_nix(void **state) {
        Fixture *f = *state;
        /* her own nix-build (pid 5000) forked nix pid 4243, which runs the build */
        Source *own = untrusted_source(f, 5000, 1);
        test_write_file(f->dir, "proc/4243/stat",
                        "4243 (nix-build) S 5000 4243 4243 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 56 0 0\n",
                        (size_t) -1);
        Build *r;
        assert_int_equal(model_rediscovered_build(f->m, 4243, 1000, f->drv, T0 - USEC_PER_SEC, &r), 0);
        char line[2048];
        snprintf(line, sizeof(line), "{\"action\":\"start\",\"id\":1,\"type\":105,\"fields\":[\"%s\",\"\"]}",
                 f->drv);
        feed_from(f, own, line);
        assert_false(r->rediscovered);
        assert_ptr_equal(r->invocation, &own->invocation);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_killed_by_nix_report, setup, teardown),
                cmocka_unit_test_setup_teardown(test_killed_at_builder_exit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oom_seen_after_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_builder_exit_is_end_time, setup, teardown),
                cmocka_unit_test_setup_teardown(test_finishing_then_failed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_earlier_failure_is_another, setup, teardown),
                cmocka_unit_test_setup_teardown(test_counted_failure_worded_later_is_another, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_progress_wants_a_sample, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oom_seen_after_moved_on, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leftover_process_keeps_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stopped_with_leftover, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nix_exits_before_processes_seen_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_action_settings, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rediscovered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_served_outputs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rediscovered_nix_exits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rediscovered_claimed_by_stream, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rediscovered_claimed_by_plan, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rediscovered_after_stream, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rediscovered_lost, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rediscovered_not_taken_by_untrusted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rediscovered_taken_by_own_untrusted_nix, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
