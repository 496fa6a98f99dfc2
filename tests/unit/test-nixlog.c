/* Unit tests for the internal-json record parser (src/shared/nixlog.c): real Nix 2.8 lines,
 * every action, activity and result type, our extensions, exact big ids, and bad input. */
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
#include "basic/string-util.h"
#include "shared/nixlog.h"
#include "test-nixlog-helpers.h"

/* 2^54 + 5: the id a process with pid 4194304 gets for activity 5; a double rounds it to
 * 2^54 + 4, so only an exact read gets it right. */
#define BIG_ID     UINT64_C(18014398509481989)
#define BIG_ID_STR "18014398509481989"

static void parse_ok(const char *line, NixRecord *ret) {
        int r = parse_both(line, strlen(line), ret, NULL);
        if (r != 0)
                print_error("line: %s\n", line);
        assert_int_equal(r, 0);
}

static void parse_fails(const char *line, int error) {
        NixRecord rec;
        int r = parse_both(line, strlen(line), &rec, NULL);
        if (r != error)
                print_error("line: %s\n", line);
        assert_int_equal(r, error);
}

static void assert_field_int(const NixRecord *rec, unsigned i, int64_t expected) {
        int64_t v = 0;
        assert_int_equal(nix_record_field_int(rec, i, &v), 0);
        assert_int_equal(v, expected);
}

static void assert_no_field(const NixRecord *rec, unsigned i) {
        const char *s;
        int64_t v;
        assert_int_equal(nix_record_field_str(rec, i, &s), -ENOENT);
        assert_int_equal(nix_record_field_int(rec, i, &v), -ENOENT);
}

static void assert_valid_utf8(const char *s) {
        assert_non_null(s);
        if (!utf8_is_valid(s, strlen(s)))
                fail_msg("not valid UTF-8: %s", s);
}

/* ---- Real lines captured from nix-build 2.8.0 --log-format internal-json -v ---- */

static void test_real_start_unknown(void **state) {
        NixRecord rec;
        parse_ok("@nix {\"action\":\"start\",\"id\":20444044328960,\"level\":6,"
                 "\"text\":\"querying info about missing paths\",\"type\":0}",
                 &rec);
        assert_int_equal(rec.action, NIX_ACTION_START);
        assert_true(rec.has_id);
        assert_int_equal(rec.id, UINT64_C(20444044328960));
        assert_int_equal(rec.id >> 32, 4760); /* the pid of the nix process */
        assert_int_equal(rec.type, NIX_ACT_UNKNOWN);
        assert_int_equal(rec.level, 6);
        assert_string_equal(rec.text, "querying info about missing paths");
        assert_null(rec.fields);
        assert_false(rec.has_parent);
        assert_false(rec.has_time);
        assert_null(rec.raw_msg);
        assert_no_field(&rec, 0);
        nix_record_done(&rec);
        assert_null(rec.root);
}

static void test_real_start_build(void **state) {
        NixRecord rec;
        parse_ok("@nix {\"action\":\"start\",\"fields\":[\"/nix/store/"
                 "ni3v3n7p2r51pirk6vbbgncvd3h0zb5r-ok-h1-1795530780.drv\",\"\",1,1],\"id\":20444044328965,"
                 "\"level\":3,\"text\":\"building '/nix/store/"
                 "ni3v3n7p2r51pirk6vbbgncvd3h0zb5r-ok-h1-1795530780.drv'\",\"type\":105}",
                 &rec);
        assert_int_equal(rec.action, NIX_ACTION_START);
        assert_int_equal(rec.id, UINT64_C(20444044328965));
        assert_int_equal(rec.type, NIX_ACT_BUILD);
        assert_int_equal(rec.level, 3);
        assert_string_equal(rec.text,
                            "building '/nix/store/ni3v3n7p2r51pirk6vbbgncvd3h0zb5r-ok-h1-1795530780.drv'");
        assert_non_null(rec.fields);
        assert_field_str(&rec, 0, "/nix/store/ni3v3n7p2r51pirk6vbbgncvd3h0zb5r-ok-h1-1795530780.drv");
        assert_field_str(&rec, 1, "");
        assert_field_int(&rec, 2, 1);
        assert_field_int(&rec, 3, 1);
        assert_no_field(&rec, 4);
        nix_record_done(&rec);
}

static void test_real_start_empty_text(void **state) {
        NixRecord rec;
        parse_ok("@nix {\"action\":\"start\",\"id\":20444044328961,\"level\":0,\"text\":\"\",\"type\":102}",
                 &rec);
        assert_int_equal(rec.type, NIX_ACT_REALISE);
        assert_string_equal(rec.text, "");
        assert_int_equal(rec.level, 0);
        nix_record_done(&rec);
}

static void test_real_stop(void **state) {
        NixRecord rec;
        parse_ok("@nix {\"action\":\"stop\",\"id\":20444044328965}", &rec);
        assert_int_equal(rec.action, NIX_ACTION_STOP);
        assert_true(rec.has_id);
        assert_int_equal(rec.id, UINT64_C(20444044328965));
        assert_null(rec.text);
        assert_null(rec.fields);
        nix_record_done(&rec);
}

static void test_real_result_progress(void **state) {
        NixRecord rec;
        parse_ok("@nix {\"action\":\"result\",\"fields\":[0,1,1,0],\"id\":20444044328962,\"type\":105}",
                 &rec);
        assert_int_equal(rec.action, NIX_ACTION_RESULT);
        assert_int_equal(rec.id, UINT64_C(20444044328962));
        assert_int_equal(rec.type, NIX_RES_PROGRESS);
        assert_field_int(&rec, 0, 0);
        assert_field_int(&rec, 1, 1);
        assert_field_int(&rec, 2, 1);
        assert_field_int(&rec, 3, 0);
        const char *s;
        assert_int_equal(nix_record_field_str(&rec, 0, &s), -EINVAL);
        nix_record_done(&rec);
}

static void test_real_result_set_expected(void **state) {
        NixRecord rec;
        parse_ok("@nix {\"action\":\"result\",\"fields\":[101,0],\"id\":20444044328961,\"type\":106}", &rec);
        assert_int_equal(rec.type, NIX_RES_SET_EXPECTED);
        assert_field_int(&rec, 0, NIX_ACT_FILE_TRANSFER);
        assert_field_int(&rec, 1, 0);
        nix_record_done(&rec);
}

static void test_real_result_phase(void **state) {
        NixRecord rec;
        parse_ok("@nix "
                 "{\"action\":\"result\",\"fields\":[\"buildPhase\"],\"id\":20444044328965,\"type\":104}",
                 &rec);
        assert_int_equal(rec.type, NIX_RES_SET_PHASE);
        assert_field_str(&rec, 0, "buildPhase");
        nix_record_done(&rec);
}

static void test_real_result_log_line(void **state) {
        /* Nix 2.8 already replaced the builder's invalid byte by U+FFFD; the colour escapes
         * of a log line are kept. */
        NixRecord rec;
        parse_ok("@nix {\"action\":\"result\",\"fields\":[\"caf\xef\xbf\xbd \\u001b[32mgreen\\u001b[0m\"],"
                 "\"id\":20444044328965,\"type\":101}",
                 &rec);
        assert_int_equal(rec.type, NIX_RES_BUILD_LOG_LINE);
        assert_field_str(&rec, 0, "caf\xef\xbf\xbd \033[32mgreen\033[0m");
        nix_record_done(&rec);
}

static void test_real_msg_info(void **state) {
        NixRecord rec;
        parse_ok("@nix {\"action\":\"msg\",\"level\":3,\"msg\":\"this derivation will be built:\"}", &rec);
        assert_int_equal(rec.action, NIX_ACTION_MSG);
        assert_int_equal(rec.level, 3);
        assert_string_equal(rec.text, "this derivation will be built:");
        assert_null(rec.raw_msg);
        assert_false(rec.has_id);
        nix_record_done(&rec);
}

static void test_real_msg_error(void **state) {
        NixRecord rec;
        parse_ok("@nix {\"action\":\"msg\",\"column\":null,\"file\":null,\"level\":0,\"line\":null,"
                 "\"msg\":\"\\u001b[31;1merror:\\u001b[0m builder for "
                 "'\\u001b[35;1m/nix/store/zi6pmhs3z36nnyz4bavgkq2bh4by7r0j-f.drv\\u001b[0m' failed with "
                 "exit code 3\",\"raw_msg\":\"builder for "
                 "'\\u001b[35;1m/nix/store/zi6pmhs3z36nnyz4bavgkq2bh4by7r0j-f.drv\\u001b[0m' failed with "
                 "exit code 3\"}",
                 &rec);
        assert_int_equal(rec.action, NIX_ACTION_MSG);
        assert_int_equal(rec.level, 0);
        assert_string_equal(rec.text,
                            "error: builder for '/nix/store/zi6pmhs3z36nnyz4bavgkq2bh4by7r0j-f.drv' "
                            "failed with exit code 3");
        assert_string_equal(rec.raw_msg, "builder for '/nix/store/zi6pmhs3z36nnyz4bavgkq2bh4by7r0j-f.drv' "
                                         "failed with exit code 3");
        nix_record_done(&rec);
}

static void test_real_stream(void **state) {
        /* One whole invocation as Nix 2.8 wrote it, in order. */
        static const char *const lines[] = {
                "@nix {\"action\":\"start\",\"id\":20482699034624,\"level\":6,\"text\":\"querying info "
                "about "
                "missing paths\",\"type\":0}",
                "@nix {\"action\":\"stop\",\"id\":20482699034624}",
                "@nix {\"action\":\"msg\",\"level\":3,\"msg\":\"this derivation will be built:\"}",
                "@nix {\"action\":\"msg\",\"level\":3,\"msg\":\"  "
                "/nix/store/av7q7f898qajx3hviwqnn5r9vd3d38z6-f-h1-1795530780.drv\"}",
                "@nix {\"action\":\"start\",\"id\":20482699034625,\"level\":0,\"text\":\"\",\"type\":102}",
                "@nix {\"action\":\"start\",\"id\":20482699034626,\"level\":0,\"text\":\"\",\"type\":104}",
                "@nix {\"action\":\"start\",\"id\":20482699034627,\"level\":0,\"text\":\"\",\"type\":103}",
                "@nix {\"action\":\"result\",\"fields\":[0,1,0,0],\"id\":20482699034626,\"type\":105}",
                "@nix {\"action\":\"result\",\"fields\":[0,0,0,0],\"id\":20482699034627,\"type\":105}",
                "@nix {\"action\":\"result\",\"fields\":[101,0],\"id\":20482699034625,\"type\":106}",
                "@nix {\"action\":\"result\",\"fields\":[100,0],\"id\":20482699034625,\"type\":106}",
                "@nix {\"action\":\"start\",\"fields\":[\"/nix/store/"
                "av7q7f898qajx3hviwqnn5r9vd3d38z6-f-h1-1795530780.drv\",\"\",1,1],\"id\":20482699034629,"
                "\"level\":3,\"text\":\"building "
                "'/nix/store/av7q7f898qajx3hviwqnn5r9vd3d38z6-f-h1-1795530780.drv'\",\"type\":105}",
                "@nix {\"action\":\"result\",\"fields\":[\"failing\"],\"id\":20482699034629,\"type\":101}",
                "@nix {\"action\":\"result\",\"fields\":[0,0,0,1],\"id\":20482699034626,\"type\":105}",
                "@nix {\"action\":\"stop\",\"id\":20482699034629}",
                "@nix {\"action\":\"stop\",\"id\":20482699034627}",
                "@nix {\"action\":\"stop\",\"id\":20482699034626}",
                "@nix {\"action\":\"stop\",\"id\":20482699034625}",
        };
        static const NixAction actions[] = {
                NIX_ACTION_START,  NIX_ACTION_STOP,  NIX_ACTION_MSG,    NIX_ACTION_MSG,    NIX_ACTION_START,
                NIX_ACTION_START,  NIX_ACTION_START, NIX_ACTION_RESULT, NIX_ACTION_RESULT, NIX_ACTION_RESULT,
                NIX_ACTION_RESULT, NIX_ACTION_START, NIX_ACTION_RESULT, NIX_ACTION_RESULT, NIX_ACTION_STOP,
                NIX_ACTION_STOP,   NIX_ACTION_STOP,  NIX_ACTION_STOP,
        };
        _Static_assert(sizeof(lines) / sizeof(lines[0]) == sizeof(actions) / sizeof(actions[0]), "tables");

        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                NixRecord rec;
                parse_ok(lines[i], &rec);
                assert_int_equal(rec.action, actions[i]);
                if (rec.has_id)
                        assert_int_equal(rec.id >> 32, 4769);
                nix_record_done(&rec);
        }
}

/* ---- Every activity type of docs/nix-internals.md §1 ---- */

typedef struct ActivityCase {
        int64_t type;
        const char *name;
        const char *line;
        const char *fields[4]; /* expected string fields, NULL-terminated */
} ActivityCase;

static const ActivityCase activity_cases[] = {
        {0,
         "unknown",
         "{\"action\":\"start\",\"id\":1,\"level\":4,\"text\":\"connecting to 'ssh://b'\",\"type\":0}",
         {NULL}},
        {100,
         "copyPath",
         "{\"action\":\"start\",\"fields\":[\"/nix/store/aaaa-x\",\"local\",\"ssh://"
         "b\"],\"id\":2,\"level\":3,"
         "\"text\":\"copying path '/nix/store/aaaa-x' to 'ssh://b'\",\"type\":100}",
         {"/nix/store/aaaa-x", "local", "ssh://b", NULL}},
        {101,
         "fileTransfer",
         "{\"action\":\"start\",\"fields\":[\"https://cache.nixos.org/"
         "nix-cache-info\"],\"id\":3,\"level\":4,"
         "\"text\":\"downloading 'https://cache.nixos.org/nix-cache-info'\",\"type\":101}",
         {"https://cache.nixos.org/nix-cache-info", NULL}},
        {102, "realise", "{\"action\":\"start\",\"id\":4,\"level\":0,\"text\":\"\",\"type\":102}", {NULL}},
        {103, "copyPaths", "{\"action\":\"start\",\"id\":5,\"level\":0,\"text\":\"\",\"type\":103}", {NULL}},
        {104, "builds", "{\"action\":\"start\",\"id\":6,\"level\":0,\"text\":\"\",\"type\":104}", {NULL}},
        {105,
         "build",
         "{\"action\":\"start\",\"fields\":[\"/nix/store/bbbb-y.drv\",\"ssh-ng://b?remote-program=x\",1,1],"
         "\"id\":7,\"level\":3,\"text\":\"building '/nix/store/bbbb-y.drv' on 'ssh-ng://b'\",\"type\":105}",
         {"/nix/store/bbbb-y.drv", "ssh-ng://b?remote-program=x", NULL}},
        {106,
         "optimiseStore",
         "{\"action\":\"start\",\"id\":8,\"level\":3,\"text\":\"\",\"type\":106}",
         {NULL}},
        {107,
         "verifyPaths",
         "{\"action\":\"start\",\"id\":9,\"level\":3,\"text\":\"\",\"type\":107}",
         {NULL}},
        {108,
         "substitute",
         "{\"action\":\"start\",\"fields\":[\"/nix/store/cccc-z\",\"https://cache.nixos.org\"],\"id\":10,"
         "\"level\":4,\"text\":\"substituting\",\"type\":108}",
         {"/nix/store/cccc-z", "https://cache.nixos.org", NULL}},
        {109,
         "queryPathInfo",
         "{\"action\":\"start\",\"fields\":[\"/nix/store/cccc-z\",\"https://cache.nixos.org\"],\"id\":11,"
         "\"level\":5,\"text\":\"querying info\",\"type\":109}",
         {"/nix/store/cccc-z", "https://cache.nixos.org", NULL}},
        {110,
         "postBuildHook",
         "{\"action\":\"start\",\"fields\":[\"/nix/store/bbbb-y.drv\"],\"id\":12,\"level\":3,"
         "\"text\":\"running post-build-hook '/etc/hook'\",\"type\":110}",
         {"/nix/store/bbbb-y.drv", NULL}},
        {111,
         "buildWaiting",
         "{\"action\":\"start\",\"fields\":[\"/nix/store/bbbb-y.drv\",\"/nix/store/dddd-y.drv\"],\"id\":13,"
         "\"level\":3,\"text\":\"waiting for a machine to build '/nix/store/bbbb-y.drv'\",\"type\":111}",
         {"/nix/store/bbbb-y.drv", "/nix/store/dddd-y.drv", NULL}},
        {112,
         "fetchTree",
         "{\"action\":\"start\",\"id\":14,\"level\":3,\"text\":\"fetching\",\"type\":112}",
         {NULL}},
};

static void test_activity_types(void **state) {
        for (size_t i = 0; i < sizeof(activity_cases) / sizeof(activity_cases[0]); i++) {
                const ActivityCase *c = &activity_cases[i];
                NixRecord rec;

                parse_ok(c->line, &rec);
                assert_int_equal(rec.action, NIX_ACTION_START);
                assert_int_equal(rec.type, c->type);
                assert_int_equal(rec.id, i + 1);
                assert_string_equal(nix_activity_type_to_string(rec.type), c->name);
                assert_non_null(rec.text);
                unsigned n = 0;
                for (; c->fields[n]; n++)
                        assert_field_str(&rec, n, c->fields[n]);
                if (n == 0)
                        assert_null(rec.fields);
                nix_record_done(&rec);
        }
}

static void test_build_waiting_without_fields(void **state) {
        NixRecord rec;
        parse_ok("{\"action\":\"start\",\"id\":15,\"level\":3,\"text\":\"waiting for lock on "
                 "'/nix/store/x'\","
                 "\"type\":111}",
                 &rec);
        assert_int_equal(rec.type, NIX_ACT_BUILD_WAITING);
        assert_null(rec.fields);
        assert_no_field(&rec, 0);
        nix_record_done(&rec);
}

/* ---- Every result type ---- */

static void test_result_types(void **state) {
        NixRecord rec;

        parse_ok("{\"action\":\"result\",\"fields\":[4096,8],\"id\":1,\"type\":100}", &rec);
        assert_string_equal(nix_result_type_to_string(rec.type), "fileLinked");
        assert_field_int(&rec, 0, 4096);
        assert_field_int(&rec, 1, 8);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[\"make: Entering directory\"],\"id\":1,\"type\":101}",
                 &rec);
        assert_string_equal(nix_result_type_to_string(rec.type), "buildLogLine");
        assert_field_str(&rec, 0, "make: Entering directory");
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[\"/nix/store/eeee-u\"],\"id\":1,\"type\":102}", &rec);
        assert_string_equal(nix_result_type_to_string(rec.type), "untrustedPath");
        assert_field_str(&rec, 0, "/nix/store/eeee-u");
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[\"/nix/store/ffff-c\"],\"id\":1,\"type\":103}", &rec);
        assert_string_equal(nix_result_type_to_string(rec.type), "corruptedPath");
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[\"unpackPhase\"],\"id\":1,\"type\":104}", &rec);
        assert_string_equal(nix_result_type_to_string(rec.type), "setPhase");
        assert_field_str(&rec, 0, "unpackPhase");
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[5,6,1,0],\"id\":1,\"type\":105}", &rec);
        assert_string_equal(nix_result_type_to_string(rec.type), "progress");
        assert_field_int(&rec, 0, 5);
        assert_field_int(&rec, 1, 6);
        assert_field_int(&rec, 2, 1);
        assert_field_int(&rec, 3, 0);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[105,3],\"id\":1,\"type\":106}", &rec);
        assert_string_equal(nix_result_type_to_string(rec.type), "setExpected");
        assert_field_int(&rec, 0, NIX_ACT_BUILD);
        assert_field_int(&rec, 1, 3);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[\"uploading to cache\"],\"id\":1,\"type\":107}", &rec);
        assert_string_equal(nix_result_type_to_string(rec.type), "postBuildLogLine");
        assert_field_str(&rec, 0, "uploading to cache");
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[\"Fetching 3/4\"],\"id\":1,\"type\":108}", &rec);
        assert_string_equal(nix_result_type_to_string(rec.type), "fetchStatus");
        nix_record_done(&rec);
}

static void test_unknown_types_kept(void **state) {
        NixRecord rec;

        parse_ok("{\"action\":\"start\",\"id\":1,\"level\":3,\"text\":\"future\",\"type\":113}", &rec);
        assert_int_equal(rec.type, 113);
        assert_null(nix_activity_type_to_string(rec.type));
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[{\"new\":true}],\"id\":1,\"type\":999}", &rec);
        assert_int_equal(rec.type, 999);
        assert_null(nix_result_type_to_string(rec.type));
        const char *s;
        assert_int_equal(nix_record_field_str(&rec, 0, &s), -EINVAL);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"start\",\"id\":1,\"type\":-7}", &rec);
        assert_int_equal(rec.type, -7);
        assert_null(rec.text);
        nix_record_done(&rec);
}

/* Determinate Nix's build result (result type 110, "payload"), decoded by its shape: the same
 * number with another shape (another vendor's) is only an unknown result. */
static void test_build_result(void **state) {
        NixRecord rec;

        parse_ok("{\"action\":\"result\",\"id\":3,\"type\":110,\"payload\":{\"timesBuilt\":1,"
                 "\"success\":false,\"status\":\"PermanentFailure\",\"errorMsg\":\"Cannot build "
                 "'\\u001b[35;1m/nix/store/hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv\\u001b[0m'.\",\"path\":"
                 "{\"drvPath\":\"hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv\",\"outputs\":[\"*\"]}}}",
                 &rec);
        assert_true(rec.has_build_result);
        assert_false(rec.build_result.success);
        assert_string_equal(rec.build_result.status, "PermanentFailure");
        assert_string_equal(rec.build_result.path, "hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv");
        assert_string_equal(rec.build_result.error,
                            "Cannot build '/nix/store/hcdvxxibblyx54zh5h35428q32q9qwzb-a.drv'.");
        nix_record_done(&rec);

        /* a substitution's: "path" is the store path itself */
        parse_ok("{\"action\":\"result\",\"id\":3,\"type\":110,\"payload\":{\"success\":true,"
                 "\"status\":\"Substituted\",\"path\":\"hcdvxxibblyx54zh5h35428q32q9qwzb-a\"}}",
                 &rec);
        assert_true(rec.has_build_result);
        assert_true(rec.build_result.success);
        assert_string_equal(rec.build_result.path, "hcdvxxibblyx54zh5h35428q32q9qwzb-a");
        assert_null(rec.build_result.error);
        nix_record_done(&rec);

        static const char *const not_one[] = {
                "{\"action\":\"result\",\"id\":3,\"type\":110,\"fields\":[\"x\"]}",
                "{\"action\":\"result\",\"id\":3,\"type\":110,\"payload\":[1]}",
                "{\"action\":\"result\",\"id\":3,\"type\":110,\"payload\":{\"status\":\"Built\","
                "\"path\":\"x\"}}",
                "{\"action\":\"result\",\"id\":3,\"type\":110,\"payload\":{\"success\":1,"
                "\"status\":\"Built\",\"path\":\"x\"}}",
                "{\"action\":\"result\",\"id\":3,\"type\":110,\"payload\":{\"success\":true,"
                "\"status\":\"Built\",\"path\":{\"drvPath\":7}}}",
                /* Determinate's 109 (resHashMismatch) is upstream's resFetchToStore */
                "{\"action\":\"result\",\"id\":3,\"type\":109,\"payload\":{\"success\":true,"
                "\"status\":\"Built\",\"path\":\"x\"}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(not_one); i++) {
                parse_ok(not_one[i], &rec);
                assert_false(rec.has_build_result);
                nix_record_done(&rec);
        }
}

static void test_type_names(void **state) {
        assert_string_equal(nix_action_to_string(NIX_ACTION_START), "start");
        assert_string_equal(nix_action_to_string(NIX_ACTION_STOP), "stop");
        assert_string_equal(nix_action_to_string(NIX_ACTION_RESULT), "result");
        assert_string_equal(nix_action_to_string(NIX_ACTION_MSG), "msg");
        assert_string_equal(nix_action_to_string(NIX_ACTION_SET_PHASE), "setPhase");
        assert_string_equal(nix_action_to_string(NIX_ACTION_HELLO), "hello");
        assert_string_equal(nix_action_to_string(NIX_ACTION_DROPPED), "dropped");
        assert_null(nix_action_to_string(_NIX_ACTION_MAX));
        assert_null(nix_action_to_string((NixAction) -1));

        assert_string_equal(nix_activity_type_to_string(0), "unknown");
        assert_null(nix_activity_type_to_string(1));
        assert_null(nix_activity_type_to_string(99));
        assert_null(nix_activity_type_to_string(113));
        assert_null(nix_activity_type_to_string(-1));
        assert_null(nix_activity_type_to_string(INT64_MIN));
        assert_null(nix_activity_type_to_string(INT64_MAX));
        assert_null(nix_result_type_to_string(0));
        assert_null(nix_result_type_to_string(99));
        assert_null(nix_result_type_to_string(109));
        assert_null(nix_result_type_to_string(INT64_MIN));
        for (int64_t t = 100; t <= 112; t++)
                assert_non_null(nix_activity_type_to_string(t));
        for (int64_t t = 100; t <= 108; t++)
                assert_non_null(nix_result_type_to_string(t));
}

/* ---- Optional keys and our extensions ---- */

static void test_parent_and_time(void **state) {
        NixRecord rec;

        parse_ok("{\"action\":\"start\",\"id\":7,\"parent\":6,\"t\":1732460000123456,\"type\":105}", &rec);
        assert_true(rec.has_parent);
        assert_int_equal(rec.parent, 6);
        assert_true(rec.has_time);
        assert_int_equal(rec.time_usec, UINT64_C(1732460000123456));
        assert_int_equal(rec.level, 0); /* absent */
        nix_record_done(&rec);

        /* Nix >= 2.18 writes parent 0 for a top-level activity: present, and 0. */
        parse_ok("{\"action\":\"start\",\"id\":7,\"parent\":0,\"type\":102}", &rec);
        assert_true(rec.has_parent);
        assert_int_equal(rec.parent, 0);
        nix_record_done(&rec);

        /* null is the same as absent. */
        parse_ok("{\"action\":\"start\",\"id\":7,\"parent\":null,\"t\":null,\"text\":null,\"fields\":null,"
                 "\"level\":null,\"type\":102}",
                 &rec);
        assert_false(rec.has_parent);
        assert_false(rec.has_time);
        assert_null(rec.text);
        assert_null(rec.fields);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"stop\",\"id\":7,\"t\":5}", &rec);
        assert_true(rec.has_time);
        assert_int_equal(rec.time_usec, 5);
        nix_record_done(&rec);

        parse_fails("{\"action\":\"start\",\"id\":7,\"parent\":\"6\",\"type\":105}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"id\":7,\"parent\":-1,\"type\":105}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":7,\"t\":\"now\"}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":7,\"t\":1.5}", -EPROTO);
}

static void test_set_phase(void **state) {
        NixRecord rec;

        parse_ok("@nix {\"action\":\"setPhase\",\"phase\":\"buildPhase\"}", &rec);
        assert_int_equal(rec.action, NIX_ACTION_SET_PHASE);
        assert_string_equal(rec.text, "buildPhase");
        assert_false(rec.has_id);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"setPhase\",\"phase\":\"\\u001b[1minstallPhase\\u001b[0m\"}", &rec);
        assert_string_equal(rec.text, "installPhase");
        nix_record_done(&rec);

        parse_fails("{\"action\":\"setPhase\"}", -EPROTO);
        parse_fails("{\"action\":\"setPhase\",\"phase\":1}", -EPROTO);
}

static void test_hello(void **state) {
        NixRecord rec;

        parse_ok("{\"action\":\"hello\",\"protocol\":1,\"pid\":1234,\"ppid\":1200,\"uid\":0,\"role\":"
                 "\"ingest\","
                 "\"nix\":\"2.8.0\",\"requester\":{\"pid\":1233,\"uid\":1000,\"cmdline\":\"nix-build -A "
                 "hello\"}}",
                 &rec);
        assert_int_equal(rec.action, NIX_ACTION_HELLO);
        assert_int_equal(rec.hello.protocol, 1);
        assert_int_equal(rec.hello.pid, 1234);
        assert_int_equal(rec.hello.ppid, 1200);
        assert_int_equal(rec.hello.uid, 0);
        assert_string_equal(rec.hello.role, "ingest");
        assert_string_equal(rec.hello.nix_version, "2.8.0");
        assert_int_equal(rec.hello.requester_pid, 1233);
        assert_int_equal(rec.hello.requester_uid, 1000);
        assert_string_equal(rec.hello.requester_cmdline, "nix-build -A hello");
        nix_record_done(&rec);

        /* Only the protocol is required; the parser leaves judging its value to the daemon. */
        parse_ok("{\"action\":\"hello\",\"protocol\":2}", &rec);
        assert_int_equal(rec.hello.protocol, 2);
        assert_int_equal(rec.hello.pid, -1);
        assert_int_equal(rec.hello.ppid, -1);
        assert_int_equal(rec.hello.uid, -1);
        assert_null(rec.hello.role);
        assert_null(rec.hello.nix_version);
        assert_int_equal(rec.hello.requester_pid, -1);
        assert_int_equal(rec.hello.requester_uid, -1);
        assert_null(rec.hello.requester_cmdline);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"hello\",\"protocol\":1,\"role\":\"cli\",\"requester\":{\"uid\":1000}}",
                 &rec);
        assert_int_equal(rec.hello.requester_uid, 1000);
        assert_int_equal(rec.hello.requester_pid, -1);
        assert_null(rec.hello.requester_cmdline);
        nix_record_done(&rec);

        /* Invalid UTF-8 in a command line is repaired, not rejected. */
        parse_ok("{\"action\":\"hello\",\"protocol\":1,\"requester\":{\"cmdline\":\"nix-build caf\xe9\"}}",
                 &rec);
        assert_string_equal(rec.hello.requester_cmdline, "nix-build caf\xef\xbf\xbd");
        nix_record_done(&rec);

        parse_fails("{\"action\":\"hello\"}", -EPROTO);
        parse_fails("{\"action\":\"hello\",\"protocol\":\"1\"}", -EPROTO);
        parse_fails("{\"action\":\"hello\",\"protocol\":1,\"pid\":\"x\"}", -EPROTO);
        parse_fails("{\"action\":\"hello\",\"protocol\":1,\"pid\":-5}", -EPROTO);
        parse_fails("{\"action\":\"hello\",\"protocol\":1,\"uid\":1.5}", -EPROTO);
        parse_fails("{\"action\":\"hello\",\"protocol\":1,\"role\":7}", -EPROTO);
        parse_fails("{\"action\":\"hello\",\"protocol\":1,\"nix\":[]}", -EPROTO);
        parse_fails("{\"action\":\"hello\",\"protocol\":1,\"requester\":5}", -EPROTO);
        parse_fails("{\"action\":\"hello\",\"protocol\":1,\"requester\":{\"pid\":\"1\"}}", -EPROTO);
        parse_fails("{\"action\":\"hello\",\"protocol\":1,\"requester\":{\"cmdline\":[\"nix\"]}}", -EPROTO);
}

static void test_dropped(void **state) {
        NixRecord rec;

        parse_ok("{\"action\":\"dropped\",\"count\":42}", &rec);
        assert_int_equal(rec.action, NIX_ACTION_DROPPED);
        assert_int_equal(rec.dropped, 42);
        nix_record_done(&rec);

        parse_fails("{\"action\":\"dropped\"}", -EPROTO);
        parse_fails("{\"action\":\"dropped\",\"count\":-1}", -EPROTO);
        parse_fails("{\"action\":\"dropped\",\"count\":\"42\"}", -EPROTO);
        parse_fails("{\"action\":\"dropped\",\"count\":1e300}", -EPROTO);
}

/* ---- Exact 64-bit ids ---- */

static void test_big_ids(void **state) {
        NixRecord rec;

        parse_ok("{\"action\":\"stop\",\"id\":" BIG_ID_STR "}", &rec);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);

        /* Around 2^53, where doubles stop being exact. */
        parse_ok("{\"action\":\"stop\",\"id\":9007199254740991}", &rec);
        assert_int_equal(rec.id, UINT64_C(9007199254740991));
        nix_record_done(&rec);
        parse_ok("{\"action\":\"stop\",\"id\":9007199254740992}", &rec);
        assert_int_equal(rec.id, UINT64_C(9007199254740992));
        nix_record_done(&rec);
        parse_ok("{\"action\":\"stop\",\"id\":9007199254740993}", &rec);
        assert_int_equal(rec.id, UINT64_C(9007199254740993));
        nix_record_done(&rec);

        parse_ok("{\"action\":\"stop\",\"id\":18446744073709551615}", &rec);
        assert_int_equal(rec.id, UINT64_MAX);
        nix_record_done(&rec);

        /* pid 4194303 (the Linux maximum) << 32 plus a counter. */
        parse_ok("{\"action\":\"start\",\"id\":18014394214514689,\"parent\":18014394214514688,\"type\":105,"
                 "\"t\":18014398509481985}",
                 &rec);
        assert_int_equal(rec.id, UINT64_C(18014394214514689));
        assert_int_equal(rec.parent, UINT64_C(18014394214514688));
        assert_int_equal(rec.time_usec, UINT64_C(18014398509481985));
        assert_int_equal(rec.id >> 32, 4194303);
        nix_record_done(&rec);

        parse_fails("{\"action\":\"stop\",\"id\":18446744073709551616}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":99999999999999999999999}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":1.8e16}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":18014398509481989.0}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":-18014398509481989}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":1e999}", -EPROTO);
}

static void test_big_id_not_confused(void **state) {
        NixRecord rec;

        /* An "id" inside a string, inside fields, and in a nested object all come before the
         * real one; none of them may be taken for it. */
        parse_ok("{\"action\":\"result\",\"fields\":[\"\\\"id\\\":1,\",{\"id\":2,\"x\":[\"]}\"]},[[{}]]],"
                 "\"text\":\"id\\\\\",\"nested\":{\"id\":18014398509481985,\"a\":{\"id\":3}},"
                 "\"id\":" BIG_ID_STR ",\"type\":101}",
                 &rec);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);

        /* Odd spacing, a BOM, CRLF: cJSON allows them, so must the exact re-read. */
        parse_ok("\xef\xbb\xbf { \"action\" :\t\"stop\" ,\n\"id\"\r:  " BIG_ID_STR "  }\r", &rec);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);

        /* A key written with an escape is still "id" to cJSON, and to us. */
        parse_ok("{\"action\":\"stop\",\"\\u0069d\":" BIG_ID_STR "}", &rec);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);

        /* Duplicate keys: the first one wins, as for every other key. */
        parse_ok("{\"action\":\"stop\",\"id\":" BIG_ID_STR ",\"id\":1}", &rec);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);
        parse_ok("{\"action\":\"stop\",\"id\":1,\"id\":" BIG_ID_STR "}", &rec);
        assert_int_equal(rec.id, 1);
        nix_record_done(&rec);
        parse_ok("{\"action\":\"stop\",\"id\":null,\"id\":" BIG_ID_STR "}", &rec);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);

        /* The buffer need not be NUL-terminated: bytes after len are not looked at. */
        const char *buf = "{\"action\":\"stop\",\"id\":" BIG_ID_STR "}99";
        assert_int_equal(nix_record_parse(buf, strlen(buf) - 2, &rec), 0);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);

        /* An exact-size heap copy, so that AddressSanitizer sees any over-read. */
        const char *line = "{\"action\":\"stop\",\"id\":" BIG_ID_STR "}";
        size_t len = strlen(line);
        char *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, line, len);
        assert_int_equal(nix_record_parse(copy, len, &rec), 0);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);
        assert_int_equal(nix_record_parse_in_place(copy, len, &rec), 0);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);
        free(copy);
}

/* ---- Strings: ANSI escapes and UTF-8 ---- */

static void test_ansi_stripped_where_documented(void **state) {
        NixRecord rec;

        parse_ok(
                "{\"action\":\"start\",\"fields\":[\"\\u001b[1mkept\\u001b[0m\"],\"id\":1,"
                "\"text\":\"\\u001b[1mbuilding\\u001b[0m \\u001b]8;;http://x\\u0007link\\u001b]8;;\\u0007\","
                "\"type\":105}",
                &rec);
        assert_string_equal(rec.text, "building link");
        assert_field_str(&rec, 0, "\033[1mkept\033[0m");
        nix_record_done(&rec);

        parse_ok("{\"action\":\"msg\",\"level\":1,\"msg\":\"\\u001b[33;1mwarning:\\u001b[0m x\","
                 "\"raw_msg\":\"\\u001b[33mx\"}",
                 &rec);
        assert_string_equal(rec.text, "warning: x");
        assert_string_equal(rec.raw_msg, "x");
        nix_record_done(&rec);
}

static void test_invalid_utf8_repaired(void **state) {
        NixRecord rec;

        parse_ok("{\"action\":\"msg\",\"level\":0,\"msg\":\"caf\xe9!\",\"raw_msg\":\"\xff\xfe\"}", &rec);
        assert_string_equal(rec.text, "caf\xef\xbf\xbd!");
        assert_string_equal(rec.raw_msg, "\xef\xbf\xbd\xef\xbf\xbd");
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[\"\xc0\xaf overlong\",\"\xed\xa0\x80 surrogate\","
                 "\"\xf4\x90\x80\x80 too big\",\"ok \xe2\x9c\x93\",7],\"id\":1,\"type\":101}",
                 &rec);
        for (unsigned i = 0; i < 4; i++) {
                const char *s;
                assert_int_equal(nix_record_field_str(&rec, i, &s), 0);
                assert_valid_utf8(s);
        }
        assert_field_str(&rec, 3, "ok \xe2\x9c\x93");
        assert_field_int(&rec, 4, 7);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"start\",\"id\":1,\"text\":\"truncated \xe2\x9c\",\"type\":0}", &rec);
        assert_string_equal(rec.text, "truncated \xef\xbf\xbd\xef\xbf\xbd");
        nix_record_done(&rec);

        /* Stripping "ESC <lead byte>" orphans the continuation byte: still valid afterwards. */
        parse_ok("{\"action\":\"msg\",\"level\":0,\"msg\":\"\\u001b\xc3\xa9x\"}", &rec);
        assert_valid_utf8(rec.text);
        assert_null(strchr(rec.text, '\033'));
        nix_record_done(&rec);

        parse_ok("{\"action\":\"setPhase\",\"phase\":\"\xff\"}", &rec);
        assert_string_equal(rec.text, "\xef\xbf\xbd");
        nix_record_done(&rec);
}

static void test_escaped_nul(void **state) {
        /* A builder printing a NUL byte: Nix escapes it, and the C string ends there. */
        NixRecord rec;
        parse_ok("{\"action\":\"result\",\"fields\":[\"a\\u0000b\"],\"id\":1,\"type\":101}", &rec);
        assert_field_str(&rec, 0, "a");
        nix_record_done(&rec);
}

/* ---- Bad input ---- */

static void test_not_json(void **state) {
        parse_fails("", -EBADMSG);
        parse_fails("@nix ", -EBADMSG);
        parse_fails("@nix", -EBADMSG);
        parse_fails("@nix{\"action\":\"stop\",\"id\":1}", -EBADMSG);
        parse_fails("@nix @nix {\"action\":\"stop\",\"id\":1}", -EBADMSG);
        parse_fails("hello world", -EBADMSG);
        parse_fails("   ", -EBADMSG);
        parse_fails("\r", -EBADMSG);
        parse_fails("{", -EBADMSG);
        parse_fails("}", -EBADMSG);
        parse_fails("{\"action\":\"start\",\"id\":1", -EBADMSG);
        parse_fails("{\"action\":\"start\",\"id\":", -EBADMSG);
        parse_fails("{\"action\":\"start\",", -EBADMSG);
        parse_fails("{\"action\":\"sta", -EBADMSG);
        parse_fails("{\"action\":\"msg\",\"msg\":\"ends in a backslash\\", -EBADMSG);
        parse_fails("{\"action\":\"stop\",\"id\":1,}", -EBADMSG);
        parse_fails("{'action':'stop','id':1}", -EBADMSG);
        parse_fails("{\"action\":\"stop\",\"id\":1} trailing", -EBADMSG);
        parse_fails("{\"action\":\"stop\",\"id\":1}{\"action\":\"stop\",\"id\":2}", -EBADMSG);
        parse_fails("{\"action\":\"msg\",\"level\":0,\"msg\":\"\\ud800\"}", -EBADMSG);

        /* Valid JSON, but not an object. */
        parse_fails("[1,2,3]", -EBADMSG);
        parse_fails("[{\"action\":\"stop\",\"id\":1}]", -EBADMSG);
        parse_fails("\"stop\"", -EBADMSG);
        parse_fails("42", -EBADMSG);
        parse_fails("null", -EBADMSG);
        parse_fails("true", -EBADMSG);
}

static void test_nul_bytes(void **state) {
        static const char with_nul[] = "{\"action\":\"stop\",\0\"id\":1}";
        static const char nul_in_string[] = "{\"action\":\"msg\",\"level\":0,\"msg\":\"a\0b\"}";
        static const char nul_after[] = "{\"action\":\"stop\",\"id\":1}\0";
        static const char only_nul[] = "\0";
        NixRecord rec;

        assert_int_equal(parse_both(with_nul, sizeof(with_nul) - 1, &rec, NULL), -EBADMSG);
        assert_int_equal(parse_both(nul_in_string, sizeof(nul_in_string) - 1, &rec, NULL), -EBADMSG);
        assert_int_equal(parse_both(nul_after, sizeof(nul_after) - 1, &rec, NULL), -EBADMSG);
        assert_int_equal(parse_both(only_nul, sizeof(only_nul) - 1, &rec, NULL), -EBADMSG);
        assert_int_equal(nix_record_parse(NULL, 0, &rec), -EBADMSG);
        assert_int_equal(nix_record_parse_in_place(NULL, 0, &rec), -EBADMSG);

        /* A log line with a NUL in its text is not one the quick path takes either. */
        static const char nul_in_line[] =
                "{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":[\"a\0b\"]}";
        assert_int_equal(parse_both(nul_in_line, sizeof(nul_in_line) - 1, &rec, NULL), -EBADMSG);
}

static void test_wrong_types(void **state) {
        parse_fails("{}", -EPROTO);
        parse_fails("{\"id\":1}", -EPROTO);
        parse_fails("{\"action\":5,\"id\":1}", -EPROTO);
        parse_fails("{\"action\":null,\"id\":1}", -EPROTO);
        parse_fails("{\"action\":[\"stop\"],\"id\":1}", -EPROTO);
        parse_fails("{\"action\":\"frobnicate\",\"id\":1}", -EPROTO);
        parse_fails("{\"action\":\"Stop\",\"id\":1}", -EPROTO);
        parse_fails("{\"action\":\"\",\"id\":1}", -EPROTO);

        parse_fails("{\"action\":\"stop\"}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":\"x\"}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":\"1\"}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":-1}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":1.5}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":true}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":{}}", -EPROTO);
        parse_fails("{\"action\":\"stop\",\"id\":[1]}", -EPROTO);

        parse_fails("{\"action\":\"start\",\"id\":1}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"type\":105}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"id\":1,\"type\":\"105\"}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"id\":1,\"type\":105.5}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"id\":1,\"type\":1e300}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"id\":1,\"type\":105,\"level\":\"a\"}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"id\":1,\"type\":105,\"text\":7}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"id\":1,\"type\":105,\"fields\":5}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"id\":1,\"type\":105,\"fields\":\"x\"}", -EPROTO);
        parse_fails("{\"action\":\"start\",\"id\":1,\"type\":105,\"fields\":{\"0\":\"x\"}}", -EPROTO);

        parse_fails("{\"action\":\"result\",\"id\":1}", -EPROTO);
        parse_fails("{\"action\":\"result\",\"type\":101}", -EPROTO);
        parse_fails("{\"action\":\"result\",\"id\":1,\"type\":101,\"fields\":5}", -EPROTO);
        parse_fails("{\"action\":\"result\",\"id\":1,\"type\":[101]}", -EPROTO);

        parse_fails("{\"action\":\"msg\",\"msg\":\"x\"}", -EPROTO);
        parse_fails("{\"action\":\"msg\",\"level\":0}", -EPROTO);
        parse_fails("{\"action\":\"msg\",\"level\":\"a\",\"msg\":\"x\"}", -EPROTO);
        parse_fails("{\"action\":\"msg\",\"level\":0,\"msg\":5}", -EPROTO);
        parse_fails("{\"action\":\"msg\",\"level\":0,\"msg\":\"x\",\"raw_msg\":5}", -EPROTO);
        parse_fails("{\"action\":\"msg\",\"level\":0,\"msg\":null}", -EPROTO);
}

static void test_irrelevant_keys_ignored(void **state) {
        NixRecord rec;

        /* Keys an action does not use are not checked, whatever their type. */
        parse_ok("{\"action\":\"stop\",\"id\":3,\"type\":\"x\",\"fields\":5,\"level\":[],\"msg\":{}}", &rec);
        assert_int_equal(rec.id, 3);
        assert_null(rec.fields);
        assert_null(rec.text);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"msg\",\"level\":0,\"msg\":\"x\",\"trace\":[{\"pos\":null}],\"file\":\"/a\","
                 "\"line\":3,\"column\":4,\"future\":true}",
                 &rec);
        assert_string_equal(rec.text, "x");
        nix_record_done(&rec);
}

static void test_deep_nesting(void **state) {
        size_t n = 100000;
        char *buf = malloc(2 * n + 64);
        NixRecord rec;

        assert_non_null(buf);
        memset(buf, '[', n);
        assert_int_equal(nix_record_parse(buf, n, &rec), -EBADMSG);
        memset(buf + n, ']', n);
        assert_int_equal(nix_record_parse(buf, 2 * n, &rec), -EBADMSG);

        memset(buf, '{', n);
        assert_int_equal(nix_record_parse(buf, n, &rec), -EBADMSG);

        /* Deep nesting inside an otherwise good record, beyond cJSON's limit. */
        int k = snprintf(buf, 64, "{\"action\":\"stop\",\"id\":1,\"x\":");
        memset(buf + k, '[', n);
        assert_int_equal(nix_record_parse(buf, (size_t) k + n, &rec), -EBADMSG);
        free(buf);

        /* Moderate nesting in an ignored key is fine, and the big id is still exact. */
        char line[1024];
        k = snprintf(line, sizeof(line), "{\"action\":\"stop\",\"x\":");
        for (int i = 0; i < 200; i++)
                line[k++] = '[';
        for (int i = 0; i < 200; i++)
                line[k++] = ']';
        k += snprintf(line + k, sizeof(line) - (size_t) k, ",\"id\":" BIG_ID_STR "}");
        assert_int_equal(nix_record_parse(line, (size_t) k, &rec), 0);
        assert_int_equal(rec.id, BIG_ID);
        nix_record_done(&rec);
}

static void test_field_accessors(void **state) {
        NixRecord rec;
        const char *s;
        int64_t v;

        parse_ok("{\"action\":\"result\",\"fields\":[\"s\",1.5,-3,9007199254740993,null,[1],true],\"id\":1,"
                 "\"type\":105}",
                 &rec);
        assert_field_str(&rec, 0, "s");
        assert_int_equal(nix_record_field_int(&rec, 0, &v), -EINVAL);
        assert_int_equal(nix_record_field_int(&rec, 1, &v), -EINVAL);
        assert_field_int(&rec, 2, -3);
        /* Beyond 2^53 a field cannot be read exactly, so it is refused rather than rounded. */
        assert_int_equal(nix_record_field_int(&rec, 3, &v), -EINVAL);
        assert_int_equal(nix_record_field_str(&rec, 4, &s), -EINVAL);
        assert_int_equal(nix_record_field_int(&rec, 4, &v), -EINVAL);
        assert_int_equal(nix_record_field_str(&rec, 5, &s), -EINVAL);
        assert_int_equal(nix_record_field_int(&rec, 6, &v), -EINVAL);
        assert_no_field(&rec, 7);
        assert_no_field(&rec, UINT32_MAX);
        nix_record_done(&rec);

        parse_ok("{\"action\":\"result\",\"fields\":[],\"id\":1,\"type\":101}", &rec);
        assert_non_null(rec.fields);
        assert_no_field(&rec, 0);
        nix_record_done(&rec);

        /* Records without fields: msg and stop. */
        parse_ok("{\"action\":\"msg\",\"level\":0,\"msg\":\"m\",\"fields\":[\"x\"]}", &rec);
        assert_null(rec.fields);
        assert_no_field(&rec, 0);
        nix_record_done(&rec);
}

static void test_done_is_safe(void **state) {
        NixRecord rec;

        nix_record_done(NULL);
        parse_ok("{\"action\":\"stop\",\"id\":1}", &rec);
        nix_record_done(&rec);
        nix_record_done(&rec); /* a second time is harmless */

        /* A failed parse leaves *ret untouched. */
        memset(&rec, 0x5a, sizeof(rec));
        assert_int_equal(nix_record_parse("{\"action\":\"stop\"}", 17, &rec), -EPROTO);
        assert_int_equal(rec.action, 0x5a5a5a5a);
}

static void test_line_endings(void **state) {
        NixRecord rec;

        /* linebuf leaves the '\r' of CRLF in the line. */
        parse_ok("@nix {\"action\":\"stop\",\"id\":1}\r", &rec);
        assert_int_equal(rec.id, 1);
        nix_record_done(&rec);
        parse_ok("  {\"action\":\"stop\",\"id\":2}  \t", &rec);
        assert_int_equal(rec.id, 2);
        nix_record_done(&rec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_start_unknown),
                cmocka_unit_test(test_real_start_build),
                cmocka_unit_test(test_real_start_empty_text),
                cmocka_unit_test(test_real_stop),
                cmocka_unit_test(test_real_result_progress),
                cmocka_unit_test(test_real_result_set_expected),
                cmocka_unit_test(test_real_result_phase),
                cmocka_unit_test(test_real_result_log_line),
                cmocka_unit_test(test_real_msg_info),
                cmocka_unit_test(test_real_msg_error),
                cmocka_unit_test(test_real_stream),
                cmocka_unit_test(test_activity_types),
                cmocka_unit_test(test_build_waiting_without_fields),
                cmocka_unit_test(test_result_types),
                cmocka_unit_test(test_unknown_types_kept),
                cmocka_unit_test(test_build_result),
                cmocka_unit_test(test_type_names),
                cmocka_unit_test(test_parent_and_time),
                cmocka_unit_test(test_set_phase),
                cmocka_unit_test(test_hello),
                cmocka_unit_test(test_dropped),
                cmocka_unit_test(test_big_ids),
                cmocka_unit_test(test_big_id_not_confused),
                cmocka_unit_test(test_ansi_stripped_where_documented),
                cmocka_unit_test(test_invalid_utf8_repaired),
                cmocka_unit_test(test_escaped_nul),
                cmocka_unit_test(test_not_json),
                cmocka_unit_test(test_nul_bytes),
                cmocka_unit_test(test_wrong_types),
                cmocka_unit_test(test_irrelevant_keys_ignored),
                cmocka_unit_test(test_deep_nesting),
                cmocka_unit_test(test_field_accessors),
                cmocka_unit_test(test_done_is_safe),
                cmocka_unit_test(test_line_endings),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
