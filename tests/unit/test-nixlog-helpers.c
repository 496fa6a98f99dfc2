/* Helpers shared by the record parser's unit tests (see test-nixlog-helpers.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test-nixlog-helpers.h"

static void assert_same_string(const char *a, const char *b) {
        if (!a || !b)
                assert_ptr_equal(a, b);
        else
                assert_string_equal(a, b);
}

void assert_same_record(const NixRecord *a, const NixRecord *b) {
        assert_int_equal(a->action, b->action);
        assert_int_equal(a->has_id, b->has_id);
        assert_int_equal(a->id, b->id);
        assert_int_equal(a->has_parent, b->has_parent);
        assert_int_equal(a->parent, b->parent);
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->level, b->level);
        assert_same_string(a->text, b->text);
        assert_same_string(a->raw_msg, b->raw_msg);
        assert_int_equal(a->has_time, b->has_time);
        assert_int_equal(a->time_usec, b->time_usec);
        assert_int_equal(a->dropped, b->dropped);
        assert_int_equal(a->hello.protocol, b->hello.protocol);
        assert_int_equal(a->hello.pid, b->hello.pid);
        assert_int_equal(a->hello.requester_uid, b->hello.requester_uid);
        assert_same_string(a->hello.role, b->hello.role);
        assert_same_string(a->hello.requester_cmdline, b->hello.requester_cmdline);
        for (unsigned i = 0; i <= NIX_QUICK_FIELDS; i++) {
                const char *sa = NULL, *sb = NULL;
                int64_t ia = 0, ib = 0;
                assert_int_equal(nix_record_field_str(a, i, &sa), nix_record_field_str(b, i, &sb));
                assert_same_string(sa, sb);
                assert_int_equal(nix_record_field_int(a, i, &ia), nix_record_field_int(b, i, &ib));
                assert_int_equal(ia, ib);
        }
}

int parse_both(const char *line, size_t len, NixRecord *ret, bool *quick) {
        NixRecord in_place;
        char *copy = malloc(len + 1);
        assert_non_null(copy);
        memcpy(copy, line, len);
        copy[len] = 'X'; /* nothing may rely on a NUL after the line */

        if (quick)
                *quick = false;
        int r = nix_record_parse(line, len, ret);
        int q = nix_record_parse_in_place(copy, len, &in_place);
        if (q != r)
                print_error("line: %.*s\nparsed: %d, in place: %d\n", (int) len, line, r, q);
        assert_int_equal(q, r);
        if (r == 0) {
                assert_same_record(ret, &in_place);
                if (quick)
                        *quick = !in_place.root;
                nix_record_done(&in_place);
        }
        free(copy);
        return r;
}

void assert_field_str(const NixRecord *rec, unsigned i, const char *expected) {
        const char *s = NULL;
        assert_int_equal(nix_record_field_str(rec, i, &s), 0);
        assert_string_equal(s, expected);
}
