/* Human-readable one-line renderings of daemon events, driven by field tables. */
#include "ctl/format.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "shared/json-read.h"

/* Renders the value of a field (NULL when the object lacks it) as new text, or NULL when
 * there is nothing to show. */
typedef char *(*FieldFormatter)(const cJSON *v);

typedef struct Field {
        const char *key;
        const char *label; /* shown before the value ("pid 42"), or NULL */
        int width; /* a column padded to this width ("-" when empty), 0: free text, skipped when empty */
        FieldFormatter format;
} Field;

static char *text_printf(const char *format, ...) _printf_(1, 2);
static char *text_printf(const char *format, ...) {
        va_list ap;
        char *s;
        va_start(ap, format);
        int r = vasprintf(&s, format, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

static char *fmt_key(const cJSON *v) {
        return cJSON_IsNumber(v) ? text_printf("#%.0f", v->valuedouble) : NULL;
}

static char *fmt_number(const cJSON *v) {
        return cJSON_IsNumber(v) ? text_printf("%.0f", v->valuedouble) : NULL;
}

static char *fmt_nonzero(const cJSON *v) {
        return cJSON_IsNumber(v) && v->valuedouble != 0 ? fmt_number(v) : NULL;
}

static char *fmt_string(const cJSON *v) {
        return cJSON_IsString(v) && v->valuestring[0] ? strdup(v->valuestring) : NULL;
}

static char *fmt_requester_user(const cJSON *v) {
        const char *user = json_str(v, "user");
        if (user && *user)
                return strdup(user);
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(v, "uid");
        return cJSON_IsNumber(uid) && uid->valuedouble >= 0 ? text_printf("uid %.0f", uid->valuedouble)
                                                            : NULL;
}

static char *fmt_requester_cmdline(const cJSON *v) {
        return fmt_string(cJSON_GetObjectItemCaseSensitive(v, "cmdline"));
}

static char *format_duration(double s) {
        if (!isfinite(s) || s < 0)
                return NULL;
        if (s < 60)
                return text_printf("%.1fs", s);
        long long t = (long long) s;
        if (t < 3600)
                return text_printf("%lldm%02llds", t / 60, t % 60);
        return text_printf("%lldh%02lldm", t / 3600, t % 3600 / 60);
}

static char *fmt_duration(const cJSON *v) {
        return cJSON_IsNumber(v) ? format_duration(v->valuedouble) : NULL;
}

static char *fmt_failure(const cJSON *v) {
        char *m = fmt_string(cJSON_GetObjectItemCaseSensitive(v, "message"));
        return m ?: fmt_string(cJSON_GetObjectItemCaseSensitive(v, "kind"));
}

static char *fmt_progress(const cJSON *v) {
        static const char *const keys[] = {"done", "expected", "running", "failed"};
        double n[ELEMENTSOF(keys)];
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, keys[i]);
                if (!cJSON_IsNumber(x))
                        return NULL;
                n[i] = x->valuedouble;
        }
        return text_printf("%.0f/%.0f done, %.0f running, %.0f failed", n[0], n[1], n[2], n[3]);
}

static const Field build_fields[] = {
        {"key", NULL, 6, fmt_key},
        {"name", NULL, 28, fmt_string},
        {"state", NULL, 9, fmt_string},
        {"phase", NULL, 16, fmt_string},
        {"requester", NULL, 10, fmt_requester_user},
        {"duration", NULL, 7, fmt_duration},
        {"machine", "on", 0, fmt_string},
        {"failure", NULL, 0, fmt_failure},
};

static const Field invocation_fields[] = {
        {"id", NULL, 6, fmt_key},
        {"state", NULL, 9, fmt_string},
        {"progress", NULL, 36, fmt_progress},
        {"requester", NULL, 10, fmt_requester_user},
        {"requester", NULL, 0, fmt_requester_cmdline},
        {"error", "error:", 0, fmt_string},
};

static const Field source_fields[] = {
        {"id", NULL, 6, fmt_key},       {"role", NULL, 13, fmt_string},
        {"pid", "pid", 0, fmt_number},  {"uid", "uid", 0, fmt_number},
        {"nix", "nix", 0, fmt_string},  {"events", "events", 0, fmt_number},
        {"bad", "bad", 0, fmt_nonzero}, {"dropped_by_sender", "dropped", 0, fmt_nonzero},
};

/* Writes the fields of obj, each preceded by a space. */
static void write_fields(FILE *f, const cJSON *obj, const Field *fields, size_t n_fields) {
        for (size_t i = 0; i < n_fields; i++) {
                const Field *field = &fields[i];
                _cleanup_free_ char *text = field->format(cJSON_GetObjectItemCaseSensitive(obj, field->key));
                if (!text && field->width == 0)
                        continue;
                fputc(' ', f);
                if (field->label && text)
                        fprintf(f, "%s ", field->label);
                fprintf(f, "%-*s", field->width, text ?: "-");
        }
}

static void write_prefix(FILE *f, time_t when, const char *event, const char *kind) {
        struct tm tm;
        char clock[sizeof("HH:MM:SS")] = "??:??:??";
        if (localtime_r(&when, &tm))
                strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
        fprintf(f, "%s %-10s %-12s", clock, event, kind ?: "");
}

static void write_log_lines(FILE *f, const cJSON *ev, time_t when, FormatBuildName build_name,
                            void *userdata) {
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(ev, "build");
        const char *name = cJSON_IsNumber(key) && build_name ? build_name(userdata, key->valuedouble) : NULL;
        _cleanup_free_ char *key_text = fmt_key(key);

        const cJSON *line;
        cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(ev, "lines")) {
                if (!cJSON_IsString(line))
                        continue;
                write_prefix(f, when, "log", NULL);
                fprintf(f, " %-6s %s%s%s\n", key_text ?: "-", name ?: "", name ? ": " : "",
                        line->valuestring);
        }
}

int format_event(FILE *f, const cJSON *ev, time_t when, FormatBuildName build_name, void *userdata) {
        const char *event = json_str(ev, "event");
        const char *kind = json_str(ev, "kind");
        if (!event)
                return -EINVAL;

        static const struct {
                const char *event;
                const Field *fields;
                size_t n_fields;
        } tables[] = {
                {"build", build_fields, ELEMENTSOF(build_fields)},
                {"invocation", invocation_fields, ELEMENTSOF(invocation_fields)},
                {"source", source_fields, ELEMENTSOF(source_fields)},
        };

        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                if (strcmp(event, tables[i].event) != 0)
                        continue;
                write_prefix(f, when, event, kind);
                write_fields(f, cJSON_GetObjectItemCaseSensitive(ev, event), tables[i].fields,
                             tables[i].n_fields);
                fputc('\n', f);
                goto check_stream;
        }

        if (strcmp(event, "log") == 0) {
                write_log_lines(f, ev, when, build_name, userdata);
        } else if (strcmp(event, "log-end") == 0) {
                _cleanup_free_ char *key = fmt_key(cJSON_GetObjectItemCaseSensitive(ev, "build"));
                _cleanup_free_ char *state = fmt_string(cJSON_GetObjectItemCaseSensitive(ev, "state"));
                write_prefix(f, when, event, NULL);
                fprintf(f, " %-6s %s\n", key ?: "-", state ?: "");
        } else {
                _cleanup_free_ char *json = cJSON_PrintUnformatted(ev);
                write_prefix(f, when, event, kind);
                fprintf(f, " %s\n", json ?: "");
        }
check_stream:
        if (ferror(f))
                return -EIO;
        return 0;
}
