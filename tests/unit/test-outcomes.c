/* How every build in a real Nix stream ends in the model (outcome.c, model-msg.c, model.c):
 * each fixture of tests/fixtures (streams captured from real Nix 2.8, 2.26 and 2.34 with
 * tests/fixtures/capture.sh, and the Lix and Determinate streams written from their sources,
 * see tests/fixtures/README.md) goes through the daemon's own parser and model, as
 * `nix-analytics-ctl ingest` feeds it, and each build's state, failure kind, exit code and
 * signal are checked. Then the invariant over all of them: a build whose failure Nix
 * reported is never shown succeeded, and none is left queued or running.
 * The store is a fresh empty directory (the fixtures' /nix/store is rewritten to it): no
 * .drv is readable, so only what Nix said decides an outcome. */
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

#define OK(n)              {n, "succeeded", NULL, -1, 0}
#define EXIT(n, c)         {n, "failed", "exit-code", c, 0}
#define SIG(n, s)          {n, "failed", "signal", -1, s}
#define FAILED(n, k)       {n, "failed", k, -1, 0}
#define DEP(n)             FAILED(n, "dependency")
#define DEP_GRAPH          EXIT("oc-dep-a", 3), DEP("oc-dep-b"), DEP("oc-dep-c"), DEP("oc-dep-top")
#define DEP_GRAPH_K        DEP_GRAPH, OK("oc-dep-d")

/* What every Nix says the same way. */
#define COMMON(d)                                                                                 \
        {d, "success", false, {OK("oc-success")}},                                                \
        {d, "exit-code", false, {EXIT("oc-exit", 3)}},                                            \
        {d, "signal", false, {SIG("oc-signal", 9)}},                                              \
        {d, "dep-fail-keep-going", false, {DEP_GRAPH_K}},                                         \
        {d, "hash-mismatch", false, {FAILED("oc-fod", "hash-mismatch")}},                         \
        {d, "timeout", false, {FAILED("oc-timeout", "timeout")}}

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
        /* the same -k graph through a nix-daemon: the client's stream, and the daemon's
         * json-log-path, where dep-b and dep-c never started and appear only in messages */
        {"nix-2.34", "dep-fail-keep-going.client", false, {DEP_GRAPH_K}},
        {"nix-2.34", "dep-fail-keep-going.daemon", true,
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
                char hello[] = "{\"action\":\"hello\",\"protocol\":1,\"pid\":4242,\"uid\":0,\"role\":\"ingest\"}";
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
                        fail_msg("%s/%s: %s left %s", c->dir, c->file, build_name(b), build_state_to_string(b->state));
                if (failure_kind_is_reported(b->failure)) {
                        n_reported_failures++;
                        if (b->state == BUILD_SUCCEEDED)
                                fail_msg("%s/%s: %s succeeded with failure %s", c->dir, c->file, build_name(b),
                                         failure_kind_to_string(b->failure));
                }
        }
        model_free(m);
        test_rm_rf(dir);
}

static void test_case(void **state) {
        run_case(*state);
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

        struct CMUnitTest tests[ELEMENTSOF(cases) + 1];
        static char names[ELEMENTSOF(cases)][128];
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(names[i], sizeof(names[i]), "%s/%s", cases[i].dir, cases[i].file);
                tests[i] = (struct CMUnitTest) {
                        .name = names[i], .test_func = test_case, .initial_state = (void *) &cases[i]};
        }
        tests[ELEMENTSOF(cases)] = (struct CMUnitTest) {.name = "invariant", .test_func = test_invariant_ran};
        return cmocka_run_group_tests(tests, NULL, NULL);
}
