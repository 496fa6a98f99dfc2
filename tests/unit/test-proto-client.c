/* Unit tests for src/shared/proto-client.c: request lines, and the classification of what
 * a daemon sends (results, errors, events) including lines no daemon should send. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/json-read.h"
#include "shared/proto-client.h"
#include "shared/proto.h"

static int parse(const char *line, ProtoMessage *ret) {
        return proto_message_parse(line, strlen(line), ret);
}

/* Asserts that line is rejected with error r. */
static void rejected(const char *line, int r) {
        ProtoMessage m = {};
        int k = parse(line, &m);
        if (k != r)
                fail_msg("'%s': got %d, expected %d", line, k, r);
        assert_null(m.root);
}

static void test_request_format(void **state) {
        cJSON *args = cJSON_CreateObject();
        assert_non_null(cJSON_AddStringToObject(args, "build", "hello-*"));
        _cleanup_free_ char *line = NULL;
        size_t len;
        assert_int_equal(proto_request_format(7, "kill", args, &line, &len), 0);
        assert_string_equal(line, "{\"id\":7,\"cmd\":\"kill\",\"args\":{\"build\":\"hello-*\"}}\n");
        assert_int_equal(len, strlen(line));

        /* What the client sends is a request the daemon reads back as such. */
        ControlRequest req;
        const char *err = NULL;
        assert_int_equal(control_request_parse(line, len - 1, &req, &err), 0);
        assert_string_equal(req.cmd, "kill");
        assert_int_equal((int) req.id->valuedouble, 7);
        control_request_done(&req);

        _cleanup_free_ char *bare = NULL;
        assert_int_equal(proto_request_format(0, "status", NULL, &bare, NULL), 0);
        assert_string_equal(bare, "{\"id\":0,\"cmd\":\"status\"}\n");
}

static void test_hello(void **state) {
        _cleanup_(cJSON_Deletep) cJSON *args = proto_hello_args("nix-analytics-ctl");
        assert_non_null(args);
        assert_true(json_num(args, "protocol", -1) == NA_PROTOCOL);
        assert_string_equal(json_str(args, "client"), "nix-analytics-ctl");

        _cleanup_(cJSON_Deletep) cJSON *ok = cJSON_Parse("{\"protocol\":1,\"version\":\"0.1.0\"}");
        _cleanup_(cJSON_Deletep) cJSON *other = cJSON_Parse("{\"protocol\":2}");
        _cleanup_(cJSON_Deletep) cJSON *none = cJSON_Parse("{\"version\":\"0.1.0\"}");
        _cleanup_(cJSON_Deletep) cJSON *unsupported =
                cJSON_Parse("{\"code\":\"unsupported-protocol\",\"message\":\"speaks 2\"}");
        _cleanup_(cJSON_Deletep) cJSON *bad = cJSON_Parse("{\"code\":\"bad-request\",\"message\":\"no\"}");
        assert_int_equal(NA_PROTOCOL, 1); /* the tests above say 1 */
        assert_int_equal(proto_hello_check(ok, NULL), 0);
        assert_int_equal(proto_hello_check(other, NULL), -EPROTONOSUPPORT);
        assert_int_equal(proto_hello_check(none, NULL), -EPROTO);
        assert_int_equal(proto_hello_check(NULL, unsupported), -EPROTONOSUPPORT);
        assert_int_equal(proto_hello_check(NULL, bad), -EPROTO);
}

static void test_result(void **state) {
        ProtoMessage m;
        assert_int_equal(parse("{\"id\":3,\"result\":{\"builds\":[]}}", &m), 0);
        assert_int_equal(m.kind, PROTO_RESULT);
        assert_true(m.has_id);
        assert_int_equal(m.id, 3);
        assert_non_null(json_arr(m.result, "builds"));
        assert_null(m.error);
        assert_true(proto_message_answers(&m, 3));
        assert_false(proto_message_answers(&m, 4));
        proto_message_done(&m);
        assert_null(m.root);
        proto_message_done(NULL);

        /* A result may be any value. */
        assert_int_equal(parse("{\"id\":0,\"result\":null}", &m), 0);
        assert_int_equal(m.kind, PROTO_RESULT);
        assert_true(proto_message_answers(&m, 0));
        proto_message_done(&m);
}

static void test_error(void **state) {
        ProtoMessage m;
        assert_int_equal(parse("{\"id\":5,\"error\":{\"code\":\"no-process\",\"message\":\"gone\"}}", &m),
                         0);
        assert_int_equal(m.kind, PROTO_ERROR);
        assert_string_equal(m.code, NA_ERR_NO_PROCESS);
        assert_string_equal(json_str(m.error, "message"), "gone");
        assert_null(m.result);
        assert_true(proto_message_answers(&m, 5));
        assert_false(proto_message_answers(&m, 6));
        proto_message_done(&m);

        /* The daemon could not read the request: a null id answers the oldest one. */
        assert_int_equal(parse("{\"id\":null,\"error\":{\"code\":\"bad-request\",\"message\":\"x\"}}", &m),
                         0);
        assert_int_equal(m.kind, PROTO_ERROR);
        assert_false(m.has_id);
        assert_string_equal(m.code, NA_ERR_BAD_REQUEST);
        assert_true(proto_message_answers(&m, 9));
        proto_message_done(&m);
}

static void test_event(void **state) {
        ProtoMessage m;
        assert_int_equal(parse("{\"event\":\"build\",\"kind\":\"new\",\"build\":{\"key\":1,\"id\":4}}", &m),
                         0);
        assert_int_equal(m.kind, PROTO_EVENT);
        assert_string_equal(m.event, "build");
        assert_false(m.has_id);
        assert_false(proto_message_answers(&m, 0));
        assert_int_equal(json_u64(json_obj(m.root, "build"), "key", 0), 1);
        proto_message_done(&m);
}

static void test_garbage(void **state) {
        /* Not a JSON object. */
        rejected("", -EBADMSG);
        rejected("not json", -EBADMSG);
        rejected("[1,2]", -EBADMSG);
        rejected("\"event\"", -EBADMSG);
        rejected("42", -EBADMSG);
        rejected("{\"id\":1,\"result\":{}", -EBADMSG); /* cut short */
        rejected("{\"id\":1,\"result\":{}}{}", -EBADMSG);

        /* Objects that are neither an event nor a response. */
        rejected("{}", -EPROTO);
        rejected("{\"result\":{}}", -EPROTO);                     /* missing id */
        rejected("{\"error\":{\"code\":\"internal\"}}", -EPROTO); /* missing id */
        rejected("{\"event\":7}", -EPROTO);                       /* event name not a string */
        rejected("{\"id\":1}", -EPROTO);                          /* neither result nor error */
        rejected("{\"id\":1,\"result\":{},\"error\":{\"code\":\"internal\"}}", -EPROTO);
        rejected("{\"id\":1,\"error\":\"internal\"}", -EPROTO); /* error not an object */
        rejected("{\"id\":1,\"error\":{\"message\":\"no code\"}}", -EPROTO);
        rejected("{\"id\":1,\"error\":{\"code\":3}}", -EPROTO);
        rejected("{\"id\":null,\"result\":{}}", -EPROTO);  /* only errors lack an id */
        rejected("{\"id\":\"7\",\"result\":{}}", -EPROTO); /* ids we send are numbers */
        rejected("{\"id\":-1,\"result\":{}}", -EPROTO);
        rejected("{\"id\":1.5,\"result\":{}}", -EPROTO);
        rejected("{\"id\":1e300,\"result\":{}}", -EPROTO);
        rejected("{\"id\":{},\"result\":{}}", -EPROTO);
        rejected("{\"id\":1,\"event\":\"build\"}", -EPROTO); /* an event has no id */
}

static void test_hostile(void **state) {
        /* Overlong: refused by length before anything reads it. */
        size_t len = PROTO_MAX_REPLY_LINE + 1;
        char *big = malloc(len);
        assert_non_null(big);
        memset(big, ' ', len);
        ProtoMessage m = {};
        assert_int_equal(proto_message_parse(big, len, &m), -EMSGSIZE);
        assert_null(m.root);
        free(big);

        /* Nested far deeper than any answer: rejected, not a stack overflow. */
        size_t depth = 100000;
        char *deep = malloc(2 * depth + 1);
        assert_non_null(deep);
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        deep[2 * depth] = 0;
        rejected(deep, -EBADMSG);
        free(deep);

        /* A NUL inside the line ends nothing: the length given is what counts. */
        static const char nul[] = "{\"event\":\"log\"}\0{\"id\":1}";
        assert_int_equal(proto_message_parse(nul, sizeof(nul) - 1, &m), -EBADMSG);
        assert_int_equal(proto_message_parse(nul, strlen(nul), &m), 0);
        assert_int_equal(m.kind, PROTO_EVENT);
        proto_message_done(&m);

        /* Not NUL-terminated at len: only len bytes are read. */
        static const char cut[] = "{\"id\":2,\"result\":1}garbage";
        assert_int_equal(proto_message_parse(cut, strlen("{\"id\":2,\"result\":1}"), &m), 0);
        assert_int_equal(m.id, 2);
        proto_message_done(&m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_format), cmocka_unit_test(test_hello),
                cmocka_unit_test(test_result),         cmocka_unit_test(test_error),
                cmocka_unit_test(test_event),          cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_hostile),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
