/* Parser for Nix's internal-json records: cJSON checks the syntax, then one pass over the
 * root's members picks out the keys we know, each action checks what it needs, ids are read
 * exactly, and every string the record exposes is made valid UTF-8. A log line parsed in
 * place takes the quick path (nixlog-quick.c) instead, with the same result. */
#include "shared/nixlog.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/json-arena.h"
#include "shared/nixlog-quick.h"

/* 2^53: every integer below it is exact in a double, so cJSON's valuedouble can be trusted
 * there. Nix ids are (pid << 32) + counter: a pid of 2^21 or more pushes them above it. */
#define EXACT_DOUBLE_LIMIT 9007199254740992.0

#define NIX_PREFIX "@nix "

/* The members of a record's root we understand. Everything else is ignored (and stays in
 * the tree untouched). */
typedef enum Key {
        KEY_ACTION,
        KEY_ID,
        KEY_PARENT,
        KEY_TYPE,
        KEY_LEVEL,
        KEY_TEXT,
        KEY_MSG,
        KEY_RAW_MSG,
        KEY_FIELDS,
        KEY_T,
        KEY_PHASE,
        KEY_COUNT,
        KEY_PROTOCOL,
        KEY_PID,
        KEY_PPID,
        KEY_UID,
        KEY_ROLE,
        KEY_NIX,
        KEY_REQUESTER,
        KEY_PAYLOAD,
        _KEY_MAX,
        _KEY_INVALID = -1,
} Key;

/* One record being parsed: the raw text (for the rare exact re-read of a big integer) and,
 * per known key, its first member that is not JSON null and that member's position among
 * the root's members. */
typedef struct Parser {
        const char *buf;
        size_t len;
        cJSON *member[_KEY_MAX];
        size_t index[_KEY_MAX];
} Parser;

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/* Called for every member of every record: dispatch on the first byte instead of comparing
 * against the whole key table. */
static Key key_from_string(const char *s) {
        switch (s[0]) {
        case 'a':
                return streq(s, "action") ? KEY_ACTION : _KEY_INVALID;
        case 'c':
                return streq(s, "count") ? KEY_COUNT : _KEY_INVALID;
        case 'f':
                return streq(s, "fields") ? KEY_FIELDS : _KEY_INVALID;
        case 'i':
                return streq(s, "id") ? KEY_ID : _KEY_INVALID;
        case 'l':
                return streq(s, "level") ? KEY_LEVEL : _KEY_INVALID;
        case 'm':
                return streq(s, "msg") ? KEY_MSG : _KEY_INVALID;
        case 'n':
                return streq(s, "nix") ? KEY_NIX : _KEY_INVALID;
        case 'p':
                if (streq(s, "parent"))
                        return KEY_PARENT;
                if (streq(s, "payload"))
                        return KEY_PAYLOAD;
                if (streq(s, "phase"))
                        return KEY_PHASE;
                if (streq(s, "pid"))
                        return KEY_PID;
                if (streq(s, "ppid"))
                        return KEY_PPID;
                if (streq(s, "protocol"))
                        return KEY_PROTOCOL;
                return _KEY_INVALID;
        case 'r':
                if (streq(s, "raw_msg"))
                        return KEY_RAW_MSG;
                if (streq(s, "requester"))
                        return KEY_REQUESTER;
                if (streq(s, "role"))
                        return KEY_ROLE;
                return _KEY_INVALID;
        case 't':
                if (streq(s, "type"))
                        return KEY_TYPE;
                if (streq(s, "text"))
                        return KEY_TEXT;
                if (streq(s, "t"))
                        return KEY_T;
                return _KEY_INVALID;
        case 'u':
                return streq(s, "uid") ? KEY_UID : _KEY_INVALID;
        default:
                return _KEY_INVALID;
        }
}

static int action_from_string(const char *s, NixAction *ret) {
        /* Ordered by frequency: build log lines make most records results. */
        static const struct {
                const char *name;
                NixAction action;
        } table[] = {
                {"result", NIX_ACTION_RESULT},      {"start", NIX_ACTION_START},
                {"stop", NIX_ACTION_STOP},          {"msg", NIX_ACTION_MSG},
                {"setPhase", NIX_ACTION_SET_PHASE}, {"hello", NIX_ACTION_HELLO},
                {"dropped", NIX_ACTION_DROPPED},
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(s, table[i].name)) {
                        *ret = table[i].action;
                        return 0;
                }
        return -EPROTO;
}

/* What cJSON skips between tokens: every byte up to and including the space. */
static bool json_is_space(char c) {
        return (unsigned char) c <= ' ';
}

static size_t skip_space(const char *s, size_t i, size_t n) {
        while (i < n && json_is_space(s[i]))
                i++;
        return i;
}

/* s[i] is an opening quote: returns the index just past the closing one, or SIZE_MAX. */
static size_t skip_string(const char *s, size_t i, size_t n) {
        for (i++; i < n; i++) {
                if (s[i] == '"')
                        return i + 1;
                if (s[i] == '\\')
                        i++; /* the escaped byte can never close the string */
        }
        return SIZE_MAX;
}

/* Returns the index just past the value starting at s[i], or SIZE_MAX. Nesting is counted,
 * not recursed into, so depth costs no stack. */
static size_t skip_value(const char *s, size_t i, size_t n) {
        if (s[i] == '"')
                return skip_string(s, i, n);

        if (s[i] == '[' || s[i] == '{') {
                size_t depth = 0;
                while (i < n) {
                        char c = s[i];
                        if (c == '"') {
                                i = skip_string(s, i, n);
                                if (i == SIZE_MAX)
                                        return SIZE_MAX;
                                continue;
                        }
                        if (c == '[' || c == '{')
                                depth++;
                        else if ((c == ']' || c == '}') && --depth == 0)
                                return i + 1;
                        i++;
                }
                return SIZE_MAX;
        }

        /* A number, true, false or null. */
        while (i < n && !json_is_space(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']')
                i++;
        return i;
}

/* A non-negative integer token exactly as written: digits only, no fraction or exponent. */
static int parse_u64_token(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = 0;

        if (n == 0 || s[0] < '0' || s[0] > '9')
                return -EPROTO;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
                unsigned d = (unsigned) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -EPROTO;
                v = v * 10 + d;
        }
        if (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
                return -EPROTO;
        *ret = v;
        return 0;
}

/* Re-reads the value of the root's member number 'index' from the raw text. cJSON accepted
 * this text already, and keeps an object's members in text order, so walking the top level
 * finds exactly the member cJSON saw: a key "id" nested in fields or inside a string cannot
 * be mistaken for it, and the walk needs no key comparison at all. */
static int raw_member_u64(const char *buf, size_t len, size_t index, uint64_t *ret) {
        /* Before the root's '{' cJSON allows only a BOM and whitespace, neither holds a '{'. */
        const char *brace = memchr(buf, '{', len);
        if (!brace)
                return -EPROTO;

        size_t i = (size_t) (brace - buf) + 1;
        for (size_t m = 0;; m++) {
                i = skip_space(buf, i, len);
                if (i >= len || buf[i] != '"')
                        return -EPROTO;
                i = skip_string(buf, i, len);
                if (i == SIZE_MAX)
                        return -EPROTO;
                i = skip_space(buf, i, len);
                if (i >= len || buf[i] != ':')
                        return -EPROTO;
                i = skip_space(buf, i + 1, len);
                if (i >= len)
                        return -EPROTO;
                if (m == index)
                        return parse_u64_token(buf + i, len - i, ret);
                i = skip_value(buf, i, len);
                if (i == SIZE_MAX)
                        return -EPROTO;
                i = skip_space(buf, i, len);
                if (i >= len || buf[i] != ',')
                        return -EPROTO;
                i++;
        }
}

/* A number that is an integer within [min, max]; limited to +-2^53 where doubles are exact. */
static bool number_to_int(const cJSON *item, int64_t min, int64_t max, int64_t *ret) {
        if (!cJSON_IsNumber(item))
                return false;
        double d = item->valuedouble;
        if (!(d > -EXACT_DOUBLE_LIMIT && d < EXACT_DOUBLE_LIMIT))
                return false;
        int64_t v = (int64_t) d;
        if ((double) v != d || v < min || v > max)
                return false;
        *ret = v;
        return true;
}

/* A required or optional integer member: -ENOENT when absent, -EPROTO when mistyped. */
static int member_int(const Parser *p, Key k, int64_t min, int64_t max, int64_t *ret) {
        if (!p->member[k])
                return -ENOENT;
        return number_to_int(p->member[k], min, max, ret) ? 0 : -EPROTO;
}

/* An unsigned 64-bit member, exact over the whole range. */
static int member_u64(const Parser *p, Key k, uint64_t *ret) {
        const cJSON *item = p->member[k];

        if (!item)
                return -ENOENT;
        if (!cJSON_IsNumber(item))
                return -EPROTO;

        double d = item->valuedouble;
        if (d >= 0 && d < EXACT_DOUBLE_LIMIT) {
                uint64_t v = (uint64_t) d;
                if ((double) v != d)
                        return -EPROTO;
                *ret = v;
                return 0;
        }
        if (!(d >= EXACT_DOUBLE_LIMIT))
                return -EPROTO; /* negative */

        /* Rare: the double may have lost the low bits, the text has them. */
        return raw_member_u64(p->buf, p->len, p->index[k], ret);
}

/* Makes a string value valid UTF-8, first stripping ANSI escapes when asked. Stripping must
 * come first: it can remove "ESC <lead byte>" and orphan the continuation bytes after it. */
static int string_clean(cJSON *item, bool strip_ansi) {
        char *s = item->valuestring;
        size_t n;

        if (strip_ansi && strchr(s, '\033'))
                n = ansi_strip(s);
        else
                n = strlen(s);

        if (_likely_(utf8_is_valid(s, n)))
                return 0;

        /* Rare (Nix repairs UTF-8 itself): replace the value with a repaired copy, allocated
         * through cJSON's own allocator because cJSON_Delete() frees it. */
        _cleanup_free_ char *fixed = NULL;
        size_t m;
        int r = utf8_sanitize(s, n, &fixed, &m);
        if (r < 0)
                return r;
        char *copy = cJSON_malloc(m + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, fixed, m + 1);
        cJSON_free(item->valuestring);
        item->valuestring = copy;
        return 0;
}

/* An optional string member: -ENOENT when absent, -EPROTO when not a string. */
static int member_string(const Parser *p, Key k, bool strip_ansi, const char **ret) {
        cJSON *item = p->member[k];

        if (!item)
                return -ENOENT;
        if (!cJSON_IsString(item) || !item->valuestring)
                return -EPROTO;
        int r = string_clean(item, strip_ansi);
        if (r < 0)
                return r;
        *ret = item->valuestring;
        return 0;
}

/* Treats -ENOENT (an absent optional member) as success. */
static int optional(int r) {
        return r == -ENOENT ? 0 : r;
}

/* Required members report absence as a protocol error. */
static int required(int r) {
        return r == -ENOENT ? -EPROTO : r;
}

/* "fields": an array whose string elements are made valid UTF-8. ANSI escapes stay: these are
 * build log lines, shown as the builder wrote them. */
static int parse_fields(const Parser *p, NixRecord *rec) {
        cJSON *fields = p->member[KEY_FIELDS];

        if (!fields)
                return 0;
        if (!cJSON_IsArray(fields))
                return -EPROTO;
        for (cJSON *e = fields->child; e; e = e->next)
                if (cJSON_IsString(e) && e->valuestring) {
                        int r = string_clean(e, /* strip_ansi= */ false);
                        if (r < 0)
                                return r;
                }
        rec->fields = fields;
        return 0;
}

static int parse_id(const Parser *p, NixRecord *rec) {
        int r = required(member_u64(p, KEY_ID, &rec->id));
        if (r < 0)
                return r;
        rec->has_id = true;
        return 0;
}

static int parse_start(const Parser *p, NixRecord *rec) {
        int r;

        r = parse_id(p, rec);
        if (r < 0)
                return r;
        r = required(member_int(p, KEY_TYPE, INT64_MIN, INT64_MAX, &rec->type));
        if (r < 0)
                return r;
        r = optional(member_int(p, KEY_LEVEL, INT64_MIN, INT64_MAX, &rec->level));
        if (r < 0)
                return r;
        r = member_u64(p, KEY_PARENT, &rec->parent);
        if (r >= 0)
                rec->has_parent = true;
        else if (r != -ENOENT)
                return r;
        r = optional(member_string(p, KEY_TEXT, /* strip_ansi= */ true, &rec->text));
        if (r < 0)
                return r;
        return parse_fields(p, rec);
}

/* A string member of a (sub)object, cleaned; NULL when absent or not a string. */
static int object_string(cJSON *obj, const char *key, const char **ret) {
        cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
        *ret = NULL;
        if (!cJSON_IsString(item) || !item->valuestring)
                return 0;
        int r = string_clean(item, /* strip_ansi= */ true);
        if (r < 0)
                return r;
        *ret = item->valuestring;
        return 0;
}

/* Determinate Nix's build result: a "payload" object with a boolean "success", a string
 * "status" and a "path" (a string, or an object with a string "drvPath"). Anything else under
 * the same number is some other vendor's record: left alone, not an error. */
static int parse_build_result(const Parser *p, NixRecord *rec) {
        cJSON *payload = p->member[KEY_PAYLOAD];
        NixBuildResult br = {};
        int r;

        if (rec->type != NIX_RES_BUILD_RESULT || !cJSON_IsObject(payload))
                return 0;
        const cJSON *success = cJSON_GetObjectItemCaseSensitive(payload, "success");
        if (!cJSON_IsBool(success))
                return 0;
        br.success = cJSON_IsTrue(success);
        r = object_string(payload, "status", &br.status);
        if (r < 0)
                return r;
        cJSON *path = cJSON_GetObjectItemCaseSensitive(payload, "path");
        r = object_string(cJSON_IsObject(path) ? path : payload, cJSON_IsObject(path) ? "drvPath" : "path",
                          &br.path);
        if (r < 0)
                return r;
        if (!br.status || !br.path)
                return 0;
        r = object_string(payload, "errorMsg", &br.error);
        if (r < 0)
                return r;
        rec->build_result = br;
        rec->has_build_result = true;
        return 0;
}

static int parse_result(const Parser *p, NixRecord *rec) {
        int r;

        r = parse_id(p, rec);
        if (r < 0)
                return r;
        r = required(member_int(p, KEY_TYPE, INT64_MIN, INT64_MAX, &rec->type));
        if (r < 0)
                return r;
        r = parse_build_result(p, rec);
        if (r < 0)
                return r;
        return parse_fields(p, rec);
}

static int parse_msg(const Parser *p, NixRecord *rec) {
        int r;

        r = required(member_int(p, KEY_LEVEL, INT64_MIN, INT64_MAX, &rec->level));
        if (r < 0)
                return r;
        r = required(member_string(p, KEY_MSG, /* strip_ansi= */ true, &rec->text));
        if (r < 0)
                return r;
        return optional(member_string(p, KEY_RAW_MSG, /* strip_ansi= */ true, &rec->raw_msg));
}

/* An optional non-negative integer of a (sub)object; -1 when absent or null. */
static int object_int(const cJSON *obj, const char *key, int64_t *ret) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

        if (!item || cJSON_IsNull(item)) {
                *ret = -1;
                return 0;
        }
        return number_to_int(item, 0, INT64_MAX, ret) ? 0 : -EPROTO;
}

static int parse_hello(const Parser *p, NixRecord *rec) {
        NixHello *h = &rec->hello;
        int r;

        /* Whether the version is one we speak is the daemon's call, not the parser's. */
        r = required(member_int(p, KEY_PROTOCOL, 0, INT64_MAX, &h->protocol));
        if (r < 0)
                return r;

        static const Key ids[] = {KEY_PID, KEY_PPID, KEY_UID};
        int64_t *targets[] = {&h->pid, &h->ppid, &h->uid};
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                *targets[i] = -1;
                r = optional(member_int(p, ids[i], 0, INT64_MAX, targets[i]));
                if (r < 0)
                        return r;
        }

        r = optional(member_string(p, KEY_ROLE, /* strip_ansi= */ false, &h->role));
        if (r < 0)
                return r;
        r = optional(member_string(p, KEY_NIX, /* strip_ansi= */ false, &h->nix_version));
        if (r < 0)
                return r;

        h->requester_pid = h->requester_uid = -1;
        cJSON *req = p->member[KEY_REQUESTER];
        if (!req)
                return 0;
        if (!cJSON_IsObject(req))
                return -EPROTO;
        r = object_int(req, "pid", &h->requester_pid);
        if (r < 0)
                return r;
        r = object_int(req, "uid", &h->requester_uid);
        if (r < 0)
                return r;
        cJSON *cmdline = cJSON_GetObjectItemCaseSensitive(req, "cmdline");
        if (!cmdline || cJSON_IsNull(cmdline))
                return 0;
        if (!cJSON_IsString(cmdline) || !cmdline->valuestring)
                return -EPROTO;
        r = string_clean(cmdline, /* strip_ansi= */ false);
        if (r < 0)
                return r;
        h->requester_cmdline = cmdline->valuestring;
        return 0;
}

static int parse_record(Parser *p, NixRecord *rec) {
        cJSON *root = rec->root;
        size_t i = 0;
        int r;

        for (cJSON *m = root->child; m; m = m->next, i++) {
                if (!m->string || cJSON_IsNull(m))
                        continue;
                Key k = key_from_string(m->string);
                if (k != _KEY_INVALID && !p->member[k]) {
                        p->member[k] = m;
                        p->index[k] = i;
                }
        }

        cJSON *action = p->member[KEY_ACTION];
        if (!action || !cJSON_IsString(action) || !action->valuestring)
                return -EPROTO;
        r = action_from_string(action->valuestring, &rec->action);
        if (r < 0)
                return r;

        r = member_u64(p, KEY_T, &rec->time_usec);
        if (r >= 0)
                rec->has_time = true;
        else if (r != -ENOENT)
                return r;

        switch (rec->action) {
        case NIX_ACTION_START:
                return parse_start(p, rec);
        case NIX_ACTION_STOP:
                return parse_id(p, rec);
        case NIX_ACTION_RESULT:
                return parse_result(p, rec);
        case NIX_ACTION_MSG:
                return parse_msg(p, rec);
        case NIX_ACTION_SET_PHASE:
                return required(member_string(p, KEY_PHASE, /* strip_ansi= */ true, &rec->text));
        case NIX_ACTION_HELLO:
                return parse_hello(p, rec);
        case NIX_ACTION_DROPPED:
                return required(member_int(p, KEY_COUNT, 0, INT64_MAX, &rec->dropped));
        default:
                return -EPROTO;
        }
}

static size_t prefix_length(const char *buf, size_t len) {
        return len >= strlen(NIX_PREFIX) && memcmp(buf, NIX_PREFIX, strlen(NIX_PREFIX)) == 0
                       ? strlen(NIX_PREFIX)
                       : 0;
}

/* The general path: a tree from cJSON, then the checks. buf has no "@nix " prefix. */
static int parse_tree(const char *buf, size_t len, NixRecord *ret) {
        /* JSON text never holds a NUL byte. cJSON would skip one as whitespace, and one inside
         * a string would silently cut the value short. */
        if (len == 0 || memchr(buf, '\0', len))
                return -EBADMSG;

        const char *end = NULL;
        cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, /* require_null_terminated= */ false);
        if (!root)
                return -EBADMSG; /* cJSON does not tell allocation failures apart */

        /* cJSON stops after the root value; anything but whitespace after it is garbage. */
        for (const char *q = end; q < buf + len; q++)
                if (!json_is_space(*q)) {
                        cJSON_Delete(root);
                        return -EBADMSG;
                }
        if (!cJSON_IsObject(root)) {
                cJSON_Delete(root);
                return -EBADMSG;
        }

        Parser p = {.buf = buf, .len = len};
        NixRecord rec = {.root = root};
        int r = parse_record(&p, &rec);
        if (r < 0) {
                cJSON_Delete(root);
                return r;
        }

        *ret = rec;
        return 0;
}

int nix_record_parse(const char *buf, size_t len, NixRecord *ret) {
        assert(buf || len == 0);
        assert(ret);

        size_t skip = prefix_length(buf, len);
        return parse_tree(skip > 0 ? buf + skip : buf, len - skip, ret);
}

int nix_record_parse_in_place(char *buf, size_t len, NixRecord *ret) {
        assert(buf || len == 0);
        assert(ret);

        size_t skip = prefix_length(buf, len);
        char *rest = skip > 0 ? buf + skip : buf;
        if (len > skip && nix_record_parse_quick(rest, len - skip, ret))
                return 0;
        return parse_tree(rest, len - skip, ret);
}

void nix_record_done(NixRecord *r) {
        if (!r)
                return;
        /* Records are read-only once parsed: a tree the JSON arena holds goes with its reset. */
        if (!json_arena_holds_tree(r->root))
                cJSON_Delete(r->root);
        *r = (NixRecord){.root = NULL};
}

/* fields[i] of the tree, or NULL. */
static const cJSON *tree_field(const NixRecord *r, unsigned i) {
        return r->fields ? cJSON_GetArrayItem(r->fields, (int) MIN(i, (unsigned) INT32_MAX)) : NULL;
}

int nix_record_field_str(const NixRecord *r, unsigned i, const char **ret) {
        if (!r->fields) {
                if (i >= r->n_quick_fields)
                        return -ENOENT;
                if (!r->quick_fields[i].str)
                        return -EINVAL;
                *ret = r->quick_fields[i].str;
                return 0;
        }

        const cJSON *e = tree_field(r, i);
        if (!e)
                return -ENOENT;
        if (!cJSON_IsString(e) || !e->valuestring)
                return -EINVAL;
        *ret = e->valuestring;
        return 0;
}

int nix_record_field_int(const NixRecord *r, unsigned i, int64_t *ret) {
        if (!r->fields) {
                if (i >= r->n_quick_fields)
                        return -ENOENT;
                if (r->quick_fields[i].str)
                        return -EINVAL;
                *ret = r->quick_fields[i].num;
                return 0;
        }

        const cJSON *e = tree_field(r, i);
        if (!e)
                return -ENOENT;
        return number_to_int(e, INT64_MIN, INT64_MAX, ret) ? 0 : -EINVAL;
}

const char *nix_action_to_string(NixAction a) {
        static const char *const table[_NIX_ACTION_MAX] = {
                [NIX_ACTION_START] = "start",        [NIX_ACTION_STOP] = "stop",
                [NIX_ACTION_RESULT] = "result",      [NIX_ACTION_MSG] = "msg",
                [NIX_ACTION_SET_PHASE] = "setPhase", [NIX_ACTION_HELLO] = "hello",
                [NIX_ACTION_DROPPED] = "dropped",
        };

        if ((unsigned) a >= ELEMENTSOF(table))
                return NULL;
        return table[a];
}

const char *nix_activity_type_to_string(int64_t t) {
        static const char *const table[] = {
                [NIX_ACT_COPY_PATH - 100] = "copyPath",
                [NIX_ACT_FILE_TRANSFER - 100] = "fileTransfer",
                [NIX_ACT_REALISE - 100] = "realise",
                [NIX_ACT_COPY_PATHS - 100] = "copyPaths",
                [NIX_ACT_BUILDS - 100] = "builds",
                [NIX_ACT_BUILD - 100] = "build",
                [NIX_ACT_OPTIMISE_STORE - 100] = "optimiseStore",
                [NIX_ACT_VERIFY_PATHS - 100] = "verifyPaths",
                [NIX_ACT_SUBSTITUTE - 100] = "substitute",
                [NIX_ACT_QUERY_PATH_INFO - 100] = "queryPathInfo",
                [NIX_ACT_POST_BUILD_HOOK - 100] = "postBuildHook",
                [NIX_ACT_BUILD_WAITING - 100] = "buildWaiting",
                [NIX_ACT_FETCH_TREE - 100] = "fetchTree",
        };

        if (t == NIX_ACT_UNKNOWN)
                return "unknown";
        if (t < 100 || t - 100 >= (int64_t) ELEMENTSOF(table))
                return NULL;
        return table[t - 100];
}

const char *nix_result_type_to_string(int64_t t) {
        static const char *const table[] = {
                [NIX_RES_FILE_LINKED - 100] = "fileLinked",
                [NIX_RES_BUILD_LOG_LINE - 100] = "buildLogLine",
                [NIX_RES_UNTRUSTED_PATH - 100] = "untrustedPath",
                [NIX_RES_CORRUPTED_PATH - 100] = "corruptedPath",
                [NIX_RES_SET_PHASE - 100] = "setPhase",
                [NIX_RES_PROGRESS - 100] = "progress",
                [NIX_RES_SET_EXPECTED - 100] = "setExpected",
                [NIX_RES_POST_BUILD_LOG_LINE - 100] = "postBuildLogLine",
                [NIX_RES_FETCH_STATUS - 100] = "fetchStatus",
        };

        if (t < 100 || t - 100 >= (int64_t) ELEMENTSOF(table))
                return NULL;
        return table[t - 100];
}
