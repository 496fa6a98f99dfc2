/* How every build in a real Nix stream ends in the model (outcome.c, model-msg.c, model-outcome.c):
 * each fixture of tests/fixtures (streams captured from real Nix 2.8, 2.26 and 2.34 with
 * tests/fixtures/capture.sh, and the Lix and Determinate streams written from their sources,
 * see tests/fixtures/README.md) goes through the daemon's own parser and model, as
 * `nix-analytics-ctl ingest` feeds it, and each build's state, failure kind, exit code and
 * signal are checked. Then the invariant over all of them: a build whose failure Nix
 * reported is never shown succeeded, and none is left queued or running.
 * The store is a fresh empty directory (the fixtures' /nix/store is rewritten to it): no
 * .drv is readable, so only what Nix said decides an outcome. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "basic/time-util.h"
#include "shared/model.h"
#include "shared/nixlog.h"
#include "shared/outcome.h"
#include "test-helpers.h"

static const char *fixtures_dir;

typedef struct Expect {
        const char *name; /* the derivation's name: "oc-exit" for …-oc-exit.drv */
        const char *state;
        const char *kind; /* NULL: no failure */
        int exit_code;    /* -1: none */
        int signal;       /* 0: none */
} Expect;

typedef struct Case {
        const char *dir, *file;
        bool daemon; /* a nix-daemon's json-log-path: no hello, the daemon's own uid */
        Expect expect[6];
} Case;

#define OK(n) \
        { n, "succeeded", NULL, -1, 0 }
#define EXIT(n, c) \
        { n, "failed", "exit-code", c, 0 }
#define SIG(n, s) \
        { n, "failed", "signal", -1, s }
#define FAILED(n, k) \
        { n, "failed", k, -1, 0 }
#define DEP(n)      FAILED(n, "dependency")
#define DEP_GRAPH   EXIT("oc-dep-a", 3), DEP("oc-dep-b"), DEP("oc-dep-c"), DEP("oc-dep-top")
#define DEP_GRAPH_K DEP_GRAPH, OK("oc-dep-d")

/* What every Nix says the same way. */
#define COMMON(d)                                                                                 \
        {d, "success", false, {OK("oc-success")}}, {d, "exit-code", false, {EXIT("oc-exit", 3)}}, \
                {d, "signal", false, {SIG("oc-signal", 9)}},                                      \
                {d, "dep-fail-keep-going", false, {DEP_GRAPH_K}},                                 \
                {d, "hash-mismatch", false, {FAILED("oc-fod", "hash-mismatch")}}, {               \
                d, "timeout", false, {                                                            \
                        FAILED("oc-timeout", "timeout")                                           \
                }                                                                                 \
        }

static const Case cases[] = {
        COMMON("nix-2.8"),
        {"nix-2.8", "killed", false, {SIG("oc-killed", 9)}},
        {"nix-2.8", "dep-fail", false, {DEP_GRAPH}},
        {"nix-2.8", "max-silent-time", false, {FAILED("oc-silent", "max-silent-time")}},
        {"nix-2.8", "subst-broken", false, {FAILED("oc-subst", "substitution")}},
        {"nix-2.8", "subst-missing", false, {OK("oc-subst")}},

        COMMON("nix-2.26"),
        {"nix-2.26", "killed", false, {SIG("oc-killed", 9)}},
        {"nix-2.26", "dep-fail", false, {DEP_GRAPH}},
        {"nix-2.26", "max-silent-time", false, {FAILED("oc-silent", "max-silent-time")}},
        {"nix-2.26", "subst-broken", false, {FAILED("oc-subst", "substitution")}},
        {"nix-2.26", "subst-missing", false, {OK("oc-subst")}},

        COMMON("nix-2.34"),
        {"nix-2.34", "killed", false, {SIG("oc-killed", 9)}},
        {"nix-2.34", "dep-fail", false, {DEP_GRAPH}},
        /* 2.34 words both timeouts "timed out after N seconds", naming no derivation */
        {"nix-2.34", "max-silent-time", false, {FAILED("oc-silent", "timeout")}},
        {"nix-2.34", "subst-broken", false, {FAILED("oc-subst", "substitution")}},
        {"nix-2.34", "subst-missing", false, {OK("oc-subst")}},
        /* truth-kinds.nix: a timeout that another build waited on, said once by each goal
         * right after the build stopped: the build's reason, not the invocation's, so the
         * builds Nix never started are cancelled. (after, stopped with it, is left out: no
         * .drv here tells its outputs.) */
        {"nix-2.34",
         "timeout-waited",
         false,
         {FAILED("truth-n-timeout-fail", "timeout"), OK("truth-n-timeout-long"),
          FAILED("truth-n-timeout-dep", "cancelled"), FAILED("truth-n-timeout-last", "cancelled")}},
        {"nix-2.34",
         "max-silent-time-waited-keep-going",
         false,
         {FAILED("truth-k-silent-fail", "timeout"), DEP("truth-k-silent-dep"), OK("truth-k-silent-long"),
          OK("truth-k-silent-after"), OK("truth-k-silent-last")}},
        /* the same -k graph through a nix-daemon: the client's stream, and the daemon's
         * json-log-path, where dep-b and dep-c never started and appear only in messages */
        {"nix-2.34", "dep-fail-keep-going.client", false, {DEP_GRAPH_K}},
        {"nix-2.34",
         "dep-fail-keep-going.daemon",
         true,
         {EXIT("oc-dep-a", 3), DEP("oc-dep-b"), DEP("oc-dep-c"), OK("oc-dep-d")}},

        COMMON("lix-2.95"),
        {"lix-2.95", "killed", false, {SIG("oc-killed", 9)}},
        {"lix-2.95", "dep-fail", false, {DEP_GRAPH}},
        {"lix-2.95", "max-silent-time", false, {FAILED("oc-silent", "max-silent-time")}},
        {"lix-2.95", "subst-broken", false, {FAILED("oc-subst", "substitution")}},

        COMMON("determinate-3.22"),
        {"determinate-3.22", "max-silent-time", false, {FAILED("oc-silent", "timeout")}},
};

/* Counted over every case, for the invariant test that runs last. */
static unsigned n_builds_seen, n_reported_failures;

static char *read_fixture(const char *dir, const char *file) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s/%s.jsonl", fixtures_dir, dir, file);
        FILE *f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open fixture %s: %m", path);
        char *buf = NULL;
        size_t size = 0;
        FILE *mem = open_memstream(&buf, &size);
        assert_non_null(mem);
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                assert_int_equal(fwrite(chunk, 1, n, mem), n);
        fclose(f);
        fclose(mem);
        return buf;
}

/* line with every "/nix/store" made store: a new string. */
static char *rewrite_store(const char *line, size_t len, const char *store) {
        char *out = NULL;
        size_t size = 0;
        FILE *mem = open_memstream(&out, &size);
        assert_non_null(mem);
        for (size_t i = 0; i < len;) {
                if (len - i >= 10 && memcmp(line + i, "/nix/store", 10) == 0) {
                        fputs(store, mem);
                        i += 10;
                } else
                        fputc(line[i++], mem);
        }
        fclose(mem);
        return out;
}

static const char *build_name(const Build *b) {
        const char *base = strrchr(b->drv, '/');
        return base && strlen(base) > 1 + 32 + 1 ? base + 1 + 32 + 1 : b->drv;
}

static Build *find_build(Model *m, const char *name) {
        Build *found = NULL;
        for (Build *b = model_builds_first(m); b; b = b->next) {
                char want[256];
                snprintf(want, sizeof(want), "%s.drv", name);
                if (strcmp(build_name(b), want) != 0)
                        continue;
                if (found)
                        fail_msg("%s: two builds", name);
                found = b;
        }
        return found;
}

static void run_case(const Case *c) {
        _cleanup_free_ char *dir = test_mkdtemp();
        char store[1024], proc[1024];
        snprintf(store, sizeof(store), "%s/store", dir);
        snprintf(proc, sizeof(proc), "%s/proc", dir);
        test_write_file(dir, "store/.keep", "", 0);
        test_write_file(dir, "proc/.keep", "", 0);

        ModelConfig config;
        model_config_defaults(&config);
        config.store_dir = store;
        config.proc_root = proc; /* empty: the nix process has ended when the stream does */
        Model *m;
        assert_int_equal(model_new(&config, &m), 0);

        usec_t now = 1000 * USEC_PER_SEC;
        Source *s;
        assert_int_equal(model_source_new(m, 4242, 0, /* trusted= */ true, now, &s), 0);
        if (!c->daemon) {
                /* what `nix-analytics-ctl ingest` says first */
                char hello[] =
                        "{\"action\":\"hello\",\"protocol\":1,\"pid\":4242,\"uid\":0,\"role\":\"ingest\"}";
                NixRecord rec;
                assert_int_equal(nix_record_parse(hello, strlen(hello), &rec), 0);
                assert_int_equal(model_apply(m, s, &rec, now), 0);
                nix_record_done(&rec);
        }

        _cleanup_free_ char *text = read_fixture(c->dir, c->file);
        unsigned lines = 0;
        for (char *p = text; *p;) {
                char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p);
                _cleanup_free_ char *line = rewrite_store(p, len, store);
                NixRecord rec;
                /* the daemon's own path for a line it read (event-conn.c) */
                int r = nix_record_parse_in_place(line, strlen(line), &rec);
                if (r < 0)
                        fail_msg("%s/%s line %u: %s", c->dir, c->file, lines + 1, strerror(-r));
                now += 10 * USEC_PER_MSEC;
                r = model_apply(m, s, &rec, now);
                if (r < 0)
                        fail_msg("%s/%s line %u: model: %s", c->dir, c->file, lines + 1, strerror(-r));
                nix_record_done(&rec);
                lines++;
                p = nl ? nl + 1 : p + len;
        }
        assert_true(lines > 0);

        /* The stream ends (ingest's EOF), then the daemon's ticks decide what waits. */
        model_source_disconnect(m, s, now);
        usec_t mono = now_monotonic();
        for (unsigned i = 0; i < 20; i++)
                model_tick(m, now, mono + i * 300 * USEC_PER_MSEC);

        for (const Expect *e = c->expect; e->name; e++) {
                Build *b = find_build(m, e->name);
                if (!b)
                        fail_msg("%s/%s: no build %s", c->dir, c->file, e->name);
                const char *kind = failure_kind_to_string(b->failure);
                print_message("%s/%s: %s %s %s exit %d signal %d (%s)\n", c->dir, c->file, e->name,
                              build_state_to_string(b->state), kind ?: "-", b->exit_code, b->signal,
                              b->failure_message ?: "");
                assert_string_equal(build_state_to_string(b->state), e->state);
                if (e->kind)
                        assert_string_equal(kind ?: "(none)", e->kind);
                else
                        assert_null(kind);
                assert_int_equal(b->exit_code, e->exit_code);
                assert_int_equal(b->signal, e->signal);
        }

        /* The invariant, over every build of the stream. */
        for (Build *b = model_builds_first(m); b; b = b->next) {
                n_builds_seen++;
                if (!build_state_is_final(b->state))
                        fail_msg("%s/%s: %s left %s", c->dir, c->file, build_name(b),
                                 build_state_to_string(b->state));
                if (failure_kind_is_reported(b->failure)) {
                        n_reported_failures++;
                        if (b->state == BUILD_SUCCEEDED)
                                fail_msg("%s/%s: %s succeeded with failure %s", c->dir, c->file,
                                         build_name(b), failure_kind_to_string(b->failure));
                }
        }
        model_free(m);
        test_rm_rf(dir);
}

static void test_case(void **state) {
        run_case(*state);
}

/* Wordings the fixtures do not show, read by outcome.c alone. */
static void test_wordings(void **state) {
        static const struct {
                const char *text;
                int r;
                const char *kind, *drv;
                int exit_code, signal;
        } t[] = {
                {"error: Cannot build '/nix/store/hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv'.\n"
                 "       Reason: 2 dependencies failed.\n       Output paths:\n         /nix/store/x",
                 1, "dependency", "hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv", -1, 0},
                /* 2.29+ with the log tail (no -v): a log line may say anything */
                {"Cannot build '/nix/store/hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv'.\n"
                 "Reason: builder failed with exit code 2.\nLast 2 log lines:\n> make failed due to signal "
                 "11\n",
                 1, "exit-code", "hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv", 2, 0},
                /* 2.8: a log line of the tail that looks like a dependency failure is not one */
                {"builder for '/nix/store/hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv' failed with exit code 1;\n"
                 "       last 1 log lines:\n       > 3 dependencies of derivation '/nix/store/"
                 "3v96ag6a0a9q4rzb6jdk1zyxs7f1dxk5-b.drv' failed to build",
                 1, "exit-code", "hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv", 1, 0},
                {"Cannot build '/nix/store/hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv'.\n"
                 "Reason: platform mismatch: requires aarch64-linux",
                 0, NULL, NULL, -1, 0},
                {"building of '/nix/store/hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv^out' from .drv file "
                 "killed after writing more than 1024 bytes of log output",
                 1, "log-limit", "hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv", -1, 0},
                /* Lix: the goal's name and "of silence" */
                {"building of '/nix/store/hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv^out' from .drv file timed "
                 "out after 30 seconds of silence",
                 1, "max-silent-time", "hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv", -1, 0},
                {"timed out after 30 seconds", 1, "timeout", NULL, -1, 0},
                {"the group 'nixbld' specified in 'build-users-group' does not exist", 0, NULL, NULL, -1, 0},
                {"builder for '/nix/store/hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv' failed to produce output "
                 "path for output 'out'",
                 0, NULL, NULL, -1, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                NixOutcome o = NIX_OUTCOME_NULL;
                int r = outcome_from_message("/nix/store", t[i].text, &o);
                print_message("%zu: %d %s %s\n", i, r, failure_kind_to_string(o.kind) ?: "-", o.drv ?: "-");
                assert_int_equal(r, t[i].r);
                if (r > 0) {
                        assert_string_equal(failure_kind_to_string(o.kind), t[i].kind);
                        if (t[i].drv) {
                                assert_non_null(o.drv);
                                assert_string_equal(o.drv + strlen("/nix/store/"), t[i].drv);
                        } else
                                assert_null(o.drv);
                        assert_int_equal(o.exit_code, t[i].exit_code);
                        assert_int_equal(o.signal, t[i].signal);
                }
                outcome_done(&o);
        }
}

/* Feeds records (one per string) to a fresh model and returns the build of drv "a". */
static Build *feed_records(Model **ret_m, const char *store, const char *const *records) {
        ModelConfig config;
        model_config_defaults(&config);
        config.store_dir = store;
        config.proc_root = store; /* no pid there */
        assert_int_equal(model_new(&config, ret_m), 0);
        Source *s;
        assert_int_equal(model_source_new(*ret_m, 4242, 0, /* trusted= */ true, 1, &s), 0);
        for (size_t i = 0; records[i]; i++) {
                _cleanup_free_ char *line = rewrite_store(records[i], strlen(records[i]), store);
                NixRecord rec;
                assert_int_equal(nix_record_parse(line, strlen(line), &rec), 0);
                assert_int_equal(model_apply(*ret_m, s, &rec, 1000 * USEC_PER_SEC), 0);
                nix_record_done(&rec);
        }
        model_source_disconnect(*ret_m, s, 1000 * USEC_PER_SEC);
        usec_t mono = now_monotonic();
        for (unsigned i = 0; i < 20; i++)
                model_tick(*ret_m, 1000 * USEC_PER_SEC, mono + i * 300 * USEC_PER_MSEC);
        Build *b = model_builds_first(*ret_m);
        assert_non_null(b);
        return b;
}

#define START_A                                                                 \
        "{\"action\":\"start\",\"id\":7,\"type\":105,\"fields\":[\"/nix/store/" \
        "hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv\",\"\",1,1]}"
#define STOP_A "{\"action\":\"stop\",\"id\":7}"
#define RESULT_A(ok, status, msg)                                                                           \
        "{\"action\":\"result\",\"id\":1,\"type\":110,\"payload\":{\"success\":" ok ",\"status\":\"" status \
        "\",\"errorMsg\":\"" msg "\",\"path\":{\"drvPath\":"                                                \
        "\"hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv\",\"outputs\":[\"*\"]}}}"
#define MSG_A(words)                                                                 \
        "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: Cannot build '/nix/store/" \
        "hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv'.\\nReason: " words "\"}"

/* Determinate's structured result wins over the messages, before or after them; a record
 * of another shape under 110 (or Determinate's 109) changes nothing. */
static void test_structured_wins(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        Model *m;
        Build *b;

        static const char *const after[] = {START_A,
                                            RESULT_A("false", "TimedOut", "timed out after 5 seconds"),
                                            STOP_A, MSG_A("builder failed due to signal 9 (Killed)."), NULL};
        b = feed_records(&m, dir, after);
        assert_string_equal(build_state_to_string(b->state), "failed");
        assert_string_equal(failure_kind_to_string(b->failure), "timeout");
        model_free(m);

        static const char *const before[] = {
                START_A, MSG_A("builder failed with exit code 1."), STOP_A,
                RESULT_A("false", "LogLimitExceeded",
                         "killed after writing more than 10 bytes of log output"),
                NULL};
        b = feed_records(&m, dir, before);
        assert_string_equal(build_state_to_string(b->state), "failed");
        assert_string_equal(failure_kind_to_string(b->failure), "log-limit");
        model_free(m);

        /* Nix said it succeeded: a message that seemed to say otherwise is not how it ended */
        static const char *const success[] = {START_A, MSG_A("builder failed with exit code 1."), STOP_A,
                                              RESULT_A("true", "Built", ""), NULL};
        b = feed_records(&m, dir, success);
        assert_string_equal(build_state_to_string(b->state), "succeeded");
        assert_null(failure_kind_to_string(b->failure));
        model_free(m);

        static const char *const other_vendor[] = {
                START_A,
                "{\"action\":\"result\",\"id\":7,\"type\":110,\"fields\":[\"x\"]}",
                "{\"action\":\"result\",\"id\":7,\"type\":110,\"payload\":{\"status\":\"Built\"}}",
                "{\"action\":\"result\",\"id\":7,\"type\":109,\"payload\":{\"storePath\":\"x\"}}",
                STOP_A,
                MSG_A("builder failed with exit code 4."),
                NULL};
        b = feed_records(&m, dir, other_vendor);
        assert_string_equal(build_state_to_string(b->state), "failed");
        assert_string_equal(failure_kind_to_string(b->failure), "exit-code");
        assert_int_equal(b->exit_code, 4);
        model_free(m);
        test_rm_rf(dir);
}

static int quota_take(void *userdata, uid_t uid) {
        unsigned *left = userdata;
        if (*left == 0)
                return -EDQUOT;
        (*left)--;
        return 0;
}
static void quota_release(void *userdata, uid_t uid, bool finished) {
        (*(unsigned *) userdata)++;
}
static void quota_finished(void *userdata, uid_t uid) {
}

/* A dependency failure no event announced makes a build in the invocation of the source
 * that reported it, with that source's requester, under its quota: an unprivileged peer
 * naming a .drv makes a build of its own, never one in someone else's invocation. */
static void test_unannounced_dependency(void **state) {
        _cleanup_free_ char *dir = test_mkdtemp();
        ModelConfig config;
        model_config_defaults(&config);
        config.store_dir = dir;
        config.proc_root = dir;
        Model *m;
        assert_int_equal(model_new(&config, &m), 0);
        unsigned left = 1;
        model_set_build_quota(m, &(ModelBuildQuota){.take = quota_take,
                                                    .release = quota_release,
                                                    .finished = quota_finished,
                                                    .userdata = &left});
        Source *root, *mallory;
        assert_int_equal(model_source_new(m, 999990, 0, /* trusted= */ true, 1, &root), 0);
        assert_int_equal(model_source_new(m, 999989, 1000, /* trusted= */ false, 1, &mallory), 0);

        static const char *const words[] = {
                MSG_A("1 dependency failed."),
                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: Cannot build '/nix/store/"
                "3v96ag6a0a9q4rzb6jdk1zyxs7f1dxk5-b.drv'.\\nReason: 2 dependencies failed.\"}",
        };
        NixRecord rec;
        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                _cleanup_free_ char *line = rewrite_store(words[i], strlen(words[i]), dir);
                assert_int_equal(nix_record_parse(line, strlen(line), &rec), 0);
                assert_true(model_apply(m, root, &rec, 1000 * USEC_PER_SEC) >= 0);
                /* mallory's quota holds one build: her second is refused, not made */
                int r = model_apply(m, mallory, &rec, 1000 * USEC_PER_SEC);
                assert_int_equal(r, i == 0 ? 0 : -ENOMEM);
                nix_record_done(&rec);
        }
        unsigned of_root = 0, of_mallory = 0;
        for (Build *b = model_builds_first(m); b; b = b->next) {
                assert_string_equal(build_state_to_string(b->state), "failed");
                assert_string_equal(failure_kind_to_string(b->failure), "dependency");
                if (b->invocation == &root->invocation) {
                        of_root++;
                        assert_int_equal(b->requester.uid, 0);
                } else {
                        assert_ptr_equal(b->invocation, &mallory->invocation);
                        of_mallory++;
                        assert_int_equal(b->requester.uid, 1000);
                        assert_int_equal(b->quota_uid, 1000);
                }
        }
        assert_int_equal(of_root, 2);
        assert_int_equal(of_mallory, 1);
        model_free(m);
        test_rm_rf(dir);
}

static void test_invariant_ran(void **state) {
        /* The checks above saw real failures, not empty streams. */
        print_message("%u builds, %u with a failure Nix reported\n", n_builds_seen, n_reported_failures);
        assert_true(n_builds_seen >= ELEMENTSOF(cases));
        assert_true(n_reported_failures >= ELEMENTSOF(cases) / 2);
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
                return 2;
        }
        fixtures_dir = argv[1];

        struct CMUnitTest tests[ELEMENTSOF(cases) + 4];
        static char names[ELEMENTSOF(cases)][128];
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(names[i], sizeof(names[i]), "%s/%s", cases[i].dir, cases[i].file);
                tests[i] = (struct CMUnitTest){
                        .name = names[i], .test_func = test_case, .initial_state = (void *) &cases[i]};
        }
        tests[ELEMENTSOF(cases)] = (struct CMUnitTest){.name = "invariant", .test_func = test_invariant_ran};
        tests[ELEMENTSOF(cases) + 1] = (struct CMUnitTest){.name = "wordings", .test_func = test_wordings};
        tests[ELEMENTSOF(cases) + 2] =
                (struct CMUnitTest){.name = "structured-wins", .test_func = test_structured_wins};
        tests[ELEMENTSOF(cases) + 3] = (struct CMUnitTest){.name = "unannounced-dependency",
                                                           .test_func = test_unannounced_dependency};
        return cmocka_run_group_tests(tests, NULL, NULL);
}
