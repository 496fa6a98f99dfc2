/* The exposition writer (metrics-text.h). It writes into an open_memstream: one scrape's text
 * is built in memory and sent whole, so a slow scraper never holds the event loop. */
#include "daemon/metrics-text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

const char *metrics_format_content_type(MetricsFormat f) {
        return f == METRICS_FORMAT_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                               : "text/plain; version=0.0.4; charset=utf-8";
}

MetricsFormat metrics_format_from_accept(const char *accept) {
        /* Prometheus sends "application/openmetrics-text;version=1.0.0,...;q=0.5,text/plain;...":
         * it takes either; offering OpenMetrics when it is named at all is what its own client
         * libraries do. */
        return accept && strstr(accept, "application/openmetrics-text") ? METRICS_FORMAT_OPENMETRICS
                                                                        : METRICS_FORMAT_TEXT;
}

int metrics_text_begin(MetricsText *t, MetricsFormat f) {
        *t = (MetricsText){.format = f};
        t->f = open_memstream(&t->buf, &t->len);
        if (!t->f)
                return -errno;
        /* One thread writes it: no lock taken per character (tens of thousands per scrape). */
        __fsetlocking(t->f, FSETLOCKING_BYCALLER);
        return 0;
}

void metrics_text_abort(MetricsText *t) {
        if (t->f)
                fclose(t->f);
        free(t->buf);
        *t = (MetricsText){};
}

int metrics_text_end(MetricsText *t, char **ret, size_t *ret_len) {
        if (t->format == METRICS_FORMAT_OPENMETRICS)
                fputs("# EOF\n", t->f);
        bool bad = ferror(t->f);
        if (fclose(t->f) != 0)
                bad = true;
        t->f = NULL;
        if (bad) {
                metrics_text_abort(t);
                return -ENOMEM;
        }
        *ret = t->buf;
        *ret_len = t->len;
        *t = (MetricsText){};
        return 0;
}

static const char *type_name(const MetricsText *t) {
        switch (t->type) {
        case METRIC_COUNTER:
                return "counter";
        case METRIC_HISTOGRAM:
                return "histogram";
        case METRIC_INFO:
                return t->format == METRICS_FORMAT_OPENMETRICS ? "info" : "gauge";
        case METRIC_GAUGE:
        default:
                return "gauge";
        }
}

/* The name the metadata lines use: OpenMetrics names the family, the classic format the
 * samples (a counter's `foo_total`, an info's `foo_info`). */
static void put_meta_name(MetricsText *t) {
        fputs(t->family, t->f);
        if (t->format == METRICS_FORMAT_TEXT && t->type == METRIC_COUNTER)
                fputs("_total", t->f);
        else if (t->format == METRICS_FORMAT_TEXT && t->type == METRIC_INFO)
                fputs("_info", t->f);
}

void metrics_text_family(MetricsText *t, const char *name, MetricType type, const char *unit,
                         const char *help) {
        t->family = name;
        t->type = type;
        fputs("# HELP ", t->f);
        put_meta_name(t);
        fprintf(t->f, " %s\n# TYPE ", help);
        put_meta_name(t);
        fprintf(t->f, " %s\n", type_name(t));
        if (unit && t->format == METRICS_FORMAT_OPENMETRICS) {
                fputs("# UNIT ", t->f);
                put_meta_name(t);
                fprintf(t->f, " %s\n", unit);
        }
}

static void put_value(FILE *f, double v) {
        if (isnan(v))
                fputs("NaN", f);
        else if (isinf(v))
                fputs(v > 0 ? "+Inf" : "-Inf", f);
        else if (v == floor(v) && fabs(v) < 9.0e15)
                fprintf(f, "%" PRId64, (int64_t) v);
        else
                fprintf(f, "%.15g", v);
}

static void put_label_value(FILE *f, const char *v) {
        for (const char *p = v ? v : ""; *p; p++) {
                size_t plain = strcspn(p, "\\\"\n"); /* written as it is, in one go */
                fwrite(p, 1, plain, f);
                p += plain;
                if (!*p)
                        break;
                switch (*p) {
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                }
        }
}

static void put_labels(FILE *f, const MetricLabel *labels, size_t n, const char *le) {
        if (n == 0 && !le)
                return;
        fputc('{', f);
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "%s%s=\"", i ? "," : "", labels[i].name);
                put_label_value(f, labels[i].value);
                fputc('"', f);
        }
        if (le)
                fprintf(f, "%sle=\"%s\"", n ? "," : "", le);
        fputc('}', f);
}

static void put_sample_name(MetricsText *t) {
        fputs(t->family, t->f);
        if (t->type == METRIC_COUNTER)
                fputs("_total", t->f);
        else if (t->type == METRIC_INFO)
                fputs("_info", t->f);
}

void metrics_text_sample(MetricsText *t, const MetricLabel *labels, size_t n_labels, double value) {
        put_sample_name(t);
        put_labels(t->f, labels, n_labels, NULL);
        fputc(' ', t->f);
        put_value(t->f, value);
        fputc('\n', t->f);
}

char *metrics_labels_format(const MetricLabel *labels, size_t n_labels) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        __fsetlocking(f, FSETLOCKING_BYCALLER);
        put_labels(f, labels, n_labels, NULL);
        bool bad = ferror(f);
        if (fclose(f) != 0 || bad) {
                free(buf);
                return NULL;
        }
        return buf;
}

void metrics_text_sample_formatted(MetricsText *t, const char *labels, double value) {
        put_sample_name(t);
        fputs(labels, t->f);
        fputc(' ', t->f);
        put_value(t->f, value);
        fputc('\n', t->f);
}

void metrics_text_histogram(MetricsText *t, const MetricLabel *labels, size_t n_labels,
                            const MetricsBuckets *b, const uint64_t *counts, double sum) {
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= b->n; i++) {
                char le[32];
                if (i < b->n)
                        snprintf(le, sizeof(le), "%g", b->bounds[i]);
                else
                        strcpy(le, "+Inf");
                cumulative += counts[i];
                fprintf(t->f, "%s_bucket", t->family);
                put_labels(t->f, labels, n_labels, le);
                fprintf(t->f, " %" PRIu64 "\n", cumulative);
        }
        fprintf(t->f, "%s_sum", t->family);
        put_labels(t->f, labels, n_labels, NULL);
        fputc(' ', t->f);
        put_value(t->f, sum);
        fprintf(t->f, "\n%s_count", t->family);
        put_labels(t->f, labels, n_labels, NULL);
        fprintf(t->f, " %" PRIu64 "\n", cumulative);
}
