/* The text formats Prometheus scrapes: its classic text format (version 0.0.4) and
 * OpenMetrics 1.0.0. The two differ in a few places this writer hides from its callers: a
 * counter family is named without `_total` in OpenMetrics (with it in the classic format), an
 * info family is `info` there and a gauge here, OpenMetrics has `# UNIT` lines and ends with
 * `# EOF`. Label values are escaped (backslash, double quote, newline), so they may hold
 * whatever Nix or a user put in a name. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum MetricsFormat {
        METRICS_FORMAT_TEXT,        /* text/plain; version=0.0.4 */
        METRICS_FORMAT_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
        _METRICS_FORMAT_MAX,
} MetricsFormat;

typedef enum MetricType {
        METRIC_GAUGE,
        METRIC_COUNTER, /* samples get `_total` */
        METRIC_HISTOGRAM,
        METRIC_INFO, /* samples get `_info`, value 1 */
} MetricType;

typedef struct MetricLabel {
        const char *name, *value;
} MetricLabel;

typedef struct MetricsText {
        FILE *f; /* an open_memstream */
        char *buf;
        size_t len;
        MetricsFormat format;
        const char *family; /* the family the samples that follow belong to */
        MetricType type;
} MetricsText;

/* The Content-Type header of a format. */
const char *metrics_format_content_type(MetricsFormat f);
/* The format an Accept header asks for: OpenMetrics when it names it, else the text format. */
MetricsFormat metrics_format_from_accept(const char *accept);

int metrics_text_begin(MetricsText *t, MetricsFormat f);
/* Ends the exposition; the text is *ret (free() it), len bytes. Frees it on failure. */
int metrics_text_end(MetricsText *t, char **ret, size_t *ret_len);
void metrics_text_abort(MetricsText *t);

/* Starts a family: its name (without `_total`, `_info` or a histogram's suffixes), type, unit
 * (the base unit its name ends with, "seconds" or "bytes", or NULL) and help text. */
void metrics_text_family(MetricsText *t, const char *name, MetricType type, const char *unit,
                         const char *help);
/* One sample of the current gauge, counter or info family. */
void metrics_text_sample(MetricsText *t, const MetricLabel *labels, size_t n_labels, double value);
/* A label set written once ("{a=\"x\",b=\"y\"}", escaped) for the samples of many families
 * (a build's, in each per-build family): a new string, or NULL on OOM. */
char *metrics_labels_format(const MetricLabel *labels, size_t n_labels);
/* One sample with such a label set. */
void metrics_text_sample_formatted(MetricsText *t, const char *labels, double value);

/* A histogram's buckets: upper bounds in increasing order, without +Inf. */
typedef struct MetricsBuckets {
        const double *bounds;
        size_t n;
} MetricsBuckets;

/* One histogram of the current family: counts[i] observations in (bounds[i-1], bounds[i]],
 * counts[n] above the last bound; sum of every observation. */
void metrics_text_histogram(MetricsText *t, const MetricLabel *labels, size_t n_labels,
                            const MetricsBuckets *b, const uint64_t *counts, double sum);
