/* Unit tests for src/shared/proto.c: control request parsing and response framing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/proto.h"

static ControlRequest parse_ok(const char *line) {
        ControlRequest req;
        const char *err = NULL;
        int r = control_request_parse(line, strlen(line), &req, &err);
        if (r < 0)
                fail_msg("rejected '%s': %s", line, err);
        return req;
}

static void test_parse_request(void **state) {
        ControlRequest req = parse_ok("{\"id\":7,\"cmd\":\"list-builds\",\"args\":{\"state\":\"running\","
                                      "\"tail\":5,\"follow\":true}}");
        assert_string_equal(req.cmd, "list-builds");
        assert_int_equal((int) req.id->valuedouble, 7);
        const char *s;
        long long n;
        bool b;
        assert_int_equal(control_arg_string(&req, "state", &s), 0);
        assert_string_equal(s, "running");
        assert_int_equal(control_arg_int(&req, "tail", &n), 0);
        assert_int_equal(n, 5);
        assert_int_equal(control_arg_bool(&req, "follow", &b), 0);
        assert_true(b);
        assert_int_equal(control_arg_string(&req, "missing", &s), -ENOENT);
        assert_int_equal(control_arg_int(&req, "state", &n), -EINVAL);
        assert_int_equal(control_arg_bool(&req, "tail", &b), -EINVAL);
        control_request_done(&req);

        req = parse_ok("{\"id\":\"abc\",\"cmd\":\"status\"}");
        assert_string_equal(req.id->valuestring, "abc");
        assert_null(req.args);
        control_request_done(&req);
}

static void test_parse_bad(void **state) {
        static const char *const bad[] = {
                "",
                "garbage",
                "[1,2]",
                "{\"id\":1}",
                "{\"id\":1,\"cmd\":5}",
                "{\"id\":[1],\"cmd\":\"status\"}",
                "{\"id\":1,\"cmd\":\"status\",\"args\":[]}",
                "{\"id\":1,\"cmd\":\"s\xff\"}",
                "{\"cmd\":\"status\",\"args\":{\"a\":[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]}}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ControlRequest req;
                const char *err = NULL;
                int r = control_request_parse(bad[i], strlen(bad[i]), &req, &err);
                if (r >= 0)
                        fail_msg("accepted bad request #%zu: '%s'", i, bad[i]);
                assert_non_null(err);
                control_request_done(&req);
        }
        /* The id is kept when it was readable, so that the error can echo it. */
        ControlRequest req;
        const char *err;
        assert_true(control_request_parse("{\"id\":9,\"cmd\":1}", 16, &req, &err) < 0);
        assert_non_null(req.id);
        assert_int_equal((int) req.id->valuedouble, 9);
        control_request_done(&req);
}

static void test_format(void **state) {
        cJSON *id = cJSON_CreateNumber(3);
        cJSON *result = cJSON_CreateObject();
        cJSON_AddNumberToObject(result, "x", 1);
        size_t len;
        char *line = control_format_result(id, result, &len);
        assert_string_equal(line, "{\"id\":3,\"result\":{\"x\":1}}\n");
        assert_int_equal(len, strlen(line));
        free(line);

        line = control_format_error(id, NA_ERR_NOT_FOUND, "no build", NULL, &len);
        assert_string_equal(line,
                            "{\"id\":3,\"error\":{\"code\":\"not-found\",\"message\":\"no build\"}}\n");
        free(line);
        line = control_format_error(NULL, NA_ERR_BAD_REQUEST, "bad", NULL, &len);
        assert_string_equal(line,
                            "{\"id\":null,\"error\":{\"code\":\"bad-request\",\"message\":\"bad\"}}\n");
        free(line);

        cJSON *fields = cJSON_CreateObject();
        cJSON_AddNumberToObject(fields, "build", 4);
        line = control_format_event("log-end", fields, &len);
        assert_string_equal(line, "{\"event\":\"log-end\",\"build\":4}\n");
        free(line);
        cJSON_Delete(id);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_request),
                cmocka_unit_test(test_parse_bad),
                cmocka_unit_test(test_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
