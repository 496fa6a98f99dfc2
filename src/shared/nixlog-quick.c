/* The quick path of the record parser: log lines without a tree.
 *
 * Nearly every record of a busy build is a log line, and both Nix and our plugin write them
 * the same way, compact and with plain keys:
 *
 *   {"action":"result","id":N,"type":101,"fields":["text"],"t":N}     the plugin
 *   {"action":"result","fields":["text"],"id":N,"type":101}           Nix's internal-json
 *
 * Handing each to cJSON (a tree, number conversion through strtod) was more than half of
 * nix-analyticsd's CPU on a 200 k-line build, and that CPU, taken from the core next to
 * Nix's, is what a monitored build pays for (docs/performance.md, P2). This module recognises
 * exactly that narrow shape in one pass over the line and fills the record from it; the
 * strings stay where they are, NUL-terminated in place. It is a recogniser, not a JSON
 * parser: whatever it does not recognise (whitespace, escapes, control bytes, other keys or
 * actions, nesting, big or negative numbers, invalid UTF-8, a repeated key, a missing one)
 * it declines, and nix_record_parse() decides, so both paths always agree (test-nixlog
 * parses every case both ways, test-nixlog-quick and fuzz-nixlog check the quick path). */
#include "shared/nixlog-quick.h"

#include <string.h>

#include "basic/macro.h"
#include "basic/string-util.h"

/* Integers below 2^53: what the general path's doubles hold exactly as type and fields. */
#define EXACT_INT_LIMIT (UINT64_C(1) << 53)

typedef enum QuickKey {
        QK_ACTION,
        QK_ID,
        QK_TYPE,
        QK_FIELDS,
        QK_T,
        _QK_MAX,
        _QK_INVALID = -1,
} QuickKey;

/* A string in place: where its bytes start and the closing quote that becomes its NUL. */
typedef struct QuickString {
        char *start;
        char *end;
} QuickString;

typedef struct Quick {
        char *p, *end;
        bool seen[_QK_MAX];
        unsigned n_strings;
        QuickString strings[NIX_QUICK_FIELDS];
} Quick;

static bool quick_byte(Quick *q, char c) {
        if (q->p >= q->end || *q->p != c)
                return false;
        q->p++;
        return true;
}

/* A string of printable bytes, no escape: the only kind taken here. */
static bool quick_string(Quick *q, QuickString *ret) {
        if (!quick_byte(q, '"'))
                return false;
        char *s = q->p;
        for (; q->p < q->end; q->p++) {
                unsigned char c = (unsigned char) *q->p;
                if (c == '"') {
                        *ret = (QuickString){.start = s, .end = q->p++};
                        return true;
                }
                if (c < 0x20 || c == '\\')
                        return false;
        }
        return false;
}

/* Digits without a leading zero (JSON's own rule), below limit. */
static bool quick_uint(Quick *q, uint64_t limit, uint64_t *ret) {
        char *s = q->p;
        uint64_t v = 0;

        for (; q->p < q->end && *q->p >= '0' && *q->p <= '9'; q->p++) {
                unsigned d = (unsigned) (*q->p - '0');
                if (v > (limit - 1 - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        if (q->p == s || (*s == '0' && q->p - s > 1))
                return false;
        *ret = v;
        return true;
}

static bool quick_is(const QuickString *s, const char *literal) {
        size_t n = strlen(literal);
        return (size_t) (s->end - s->start) == n && memcmp(s->start, literal, n) == 0;
}

static QuickKey quick_key(const QuickString *k) {
        static const struct {
                const char *name;
                QuickKey key;
        } table[] = {
                {"action", QK_ACTION}, {"id", QK_ID}, {"type", QK_TYPE}, {"fields", QK_FIELDS}, {"t", QK_T},
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (quick_is(k, table[i].name))
                        return table[i].key;
        return _QK_INVALID;
}

static bool quick_action(Quick *q, NixRecord *rec) {
        QuickString s;
        if (!quick_string(q, &s))
                return false;
        if (quick_is(&s, "result"))
                rec->action = NIX_ACTION_RESULT;
        else if (quick_is(&s, "stop"))
                rec->action = NIX_ACTION_STOP;
        else
                return false;
        return true;
}

/* An array of up to NIX_QUICK_FIELDS strings and small integers. */
static bool quick_fields(Quick *q, NixRecord *rec) {
        if (!quick_byte(q, '['))
                return false;
        if (quick_byte(q, ']'))
                return true;
        do {
                if (rec->n_quick_fields == NIX_QUICK_FIELDS)
                        return false;
                NixQuickField *f = &rec->quick_fields[rec->n_quick_fields++];
                if (q->p < q->end && *q->p == '"') {
                        QuickString *s = &q->strings[q->n_strings++];
                        if (!quick_string(q, s) || !utf8_is_valid(s->start, (size_t) (s->end - s->start)))
                                return false;
                        f->str = s->start;
                } else {
                        uint64_t v;
                        if (!quick_uint(q, EXACT_INT_LIMIT, &v))
                                return false;
                        f->num = (int64_t) v;
                }
        } while (quick_byte(q, ','));
        return quick_byte(q, ']');
}

static bool quick_member(Quick *q, NixRecord *rec) {
        QuickString k;
        uint64_t v;

        if (!quick_string(q, &k) || !quick_byte(q, ':'))
                return false;
        QuickKey key = quick_key(&k);
        if (key == _QK_INVALID || q->seen[key])
                return false;
        q->seen[key] = true;

        switch (key) {
        case QK_ACTION:
                return quick_action(q, rec);
        case QK_ID:
                rec->has_id = true;
                return quick_uint(q, UINT64_MAX, &rec->id);
        case QK_TYPE:
                if (!quick_uint(q, EXACT_INT_LIMIT, &v))
                        return false;
                rec->type = (int64_t) v;
                return true;
        case QK_FIELDS:
                return quick_fields(q, rec);
        case QK_T:
                rec->has_time = true;
                return quick_uint(q, UINT64_MAX, &rec->time_usec);
        default:
                return false;
        }
}

bool nix_record_parse_quick(char *buf, size_t len, NixRecord *ret) {
        Quick q = {.p = buf, .end = buf + len};
        NixRecord rec = {};

        if (!quick_byte(&q, '{'))
                return false;
        do
                if (!quick_member(&q, &rec))
                        return false;
        while (quick_byte(&q, ','));
        if (!quick_byte(&q, '}') || q.p != q.end)
                return false;
        /* What the general path requires of each action; it reports what is missing. */
        if (!q.seen[QK_ACTION] || !q.seen[QK_ID] || (rec.action == NIX_ACTION_RESULT && !q.seen[QK_TYPE]))
                return false;
        /* A stop's type and fields mean nothing (the general path does not look at them). */
        if (rec.action == NIX_ACTION_STOP) {
                rec.type = 0;
                rec.n_quick_fields = 0;
        }

        /* Only now that the whole line is taken: its strings end where their quotes were. */
        for (unsigned i = 0; i < q.n_strings; i++)
                *q.strings[i].end = '\0';
        *ret = rec;
        return true;
}
