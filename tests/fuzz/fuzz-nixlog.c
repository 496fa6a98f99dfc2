/* Fuzz target for the internal-json record parser: any input must give a clean error or a
 * record that keeps every documented promise (valid UTF-8, no ANSI escapes in text, ids
 * that agree with the number in the text), and parsing it in place (the quick path for log
 * lines) must give the same error or the same record. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/string-util.h"
#include "fuzz.h"
#include "shared/json-arena.h"
#include "shared/nixlog.h"

static void check_string(const char *s, bool no_escapes) {
        if (!s)
                return;
        if (!utf8_is_valid(s, strlen(s)))
                abort();
        if (no_escapes && strchr(s, '\033'))
                abort();
}

/* The first non-null member called key, as the parser sees it. */
static const cJSON *first_member(const cJSON *root, const char *key) {
        for (const cJSON *m = root->child; m; m = m->next)
                if (m->string && strcmp(m->string, key) == 0 && !cJSON_IsNull(m))
                        return m;
        return NULL;
}

/* An exact id must round to the double cJSON computed from the same digits. */
static void check_u64(const NixRecord *rec, bool has, uint64_t v, const char *key) {
        if (!has)
                return;
        const cJSON *m = first_member(rec->root, key);
        if (!m || !cJSON_IsNumber(m) || (double) v != m->valuedouble)
                abort();
}

static bool same_string(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_fields(const NixRecord *a, const NixRecord *b) {
        for (unsigned i = 0;; i++) {
                const char *sa = NULL, *sb = NULL;
                int64_t ia = 0, ib = 0;
                int ra = nix_record_field_str(a, i, &sa), rb = nix_record_field_str(b, i, &sb);
                if (ra != rb || !same_string(sa, sb))
                        return false;
                if (nix_record_field_int(a, i, &ia) != nix_record_field_int(b, i, &ib) || ia != ib)
                        return false;
                if (ra == -ENOENT)
                        return true;
        }
}

/* The same input parsed in place, from an exact-size copy (ASan sees any over-read). */
static void check_in_place(const uint8_t *data, size_t size, int expected, const NixRecord *tree) {
        char *copy = malloc(size ? size : 1);
        NixRecord rec;

        if (!copy)
                abort();
        memcpy(copy, data, size);
        int r = nix_record_parse_in_place(copy, size, &rec);
        if (r != expected)
                abort();
        if (r == 0) {
                if (rec.action != tree->action || rec.has_id != tree->has_id || rec.id != tree->id ||
                    rec.type != tree->type || rec.has_time != tree->has_time ||
                    rec.time_usec != tree->time_usec || rec.has_parent != tree->has_parent ||
                    rec.parent != tree->parent || rec.level != tree->level || rec.dropped != tree->dropped ||
                    !same_string(rec.text, tree->text) || !same_string(rec.raw_msg, tree->raw_msg) ||
                    rec.has_build_result != tree->has_build_result ||
                    !same_string(rec.build_result.status, tree->build_result.status) ||
                    !same_string(rec.build_result.error, tree->build_result.error) ||
                    !same_fields(&rec, tree))
                        abort();
                nix_record_done(&rec);
        }
        free(copy);
}

static void check_input(const uint8_t *data, size_t size, bool in_arena) {
        NixRecord rec;

        if (in_arena)
                json_arena_begin();
        int r = nix_record_parse((const char *) data, size, &rec);
        if (in_arena)
                json_arena_end();
        if (r < 0) {
                json_arena_reset();
                check_in_place(data, size, r, NULL);
                return;
        }
        check_in_place(data, size, r, &rec);

        if (!rec.root || !nix_action_to_string(rec.action))
                abort();
        check_string(rec.text, true);
        check_string(rec.raw_msg, true);
        check_string(rec.hello.role, false);
        check_string(rec.hello.nix_version, false);
        check_string(rec.hello.requester_cmdline, false);
        if (rec.has_build_result) {
                /* Determinate's build result: its strings are clean like the record's own */
                if (!rec.build_result.status || !rec.build_result.path || rec.type != NIX_RES_BUILD_RESULT)
                        abort();
                check_string(rec.build_result.status, true);
                check_string(rec.build_result.path, true);
                check_string(rec.build_result.error, true);
        }
        check_u64(&rec, rec.has_id, rec.id, "id");
        check_u64(&rec, rec.has_parent, rec.parent, "parent");
        check_u64(&rec, rec.has_time, rec.time_usec, "t");
        (void) nix_activity_type_to_string(rec.type);
        (void) nix_result_type_to_string(rec.type);

        for (unsigned i = 0;; i++) {
                const char *s;
                int64_t v;
                r = nix_record_field_str(&rec, i, &s);
                if (r == -ENOENT)
                        break;
                if (r == 0)
                        check_string(s, false);
                (void) nix_record_field_int(&rec, i, &v);
        }

        nix_record_done(&rec);
        json_arena_reset();
}

/* Each input is parsed as the daemon does it, its tree in the JSON arena (whose unused part
 * ASan sees as poisoned), and once more with plain malloc. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool installed;

        if (!installed) {
                if (json_arena_install() < 0)
                        abort();
                installed = true;
        }
        check_input(data, size, /* in_arena= */ true);
        check_input(data, size, /* in_arena= */ false);
        return 0;
}
