/* Unit tests for the metrics endpoint's text (src/daemon/metrics-text.c) and its listen
 * address (metrics-http.c): the two formats' differences, label escaping, numbers, the
 * histogram's cumulative buckets, content negotiation. The e2e test `metrics` has a real
 * Prometheus scrape the daemon. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/metrics-http.h"
#include "daemon/metrics-text.h"

/* One family of each type, written in format f; the text returned (free it). */
static char *render(MetricsFormat f) {
        MetricsText t;
        assert_int_equal(metrics_text_begin(&t, f), 0);
        metrics_text_family(&t, "na_events", METRIC_COUNTER, NULL, "Events.");
        metrics_text_sample(&t, NULL, 0, 42);
        metrics_text_family(&t, "na_build", METRIC_INFO, NULL, "A build.");
        metrics_text_sample(&t, (MetricLabel[]){{"name", "a\"b\\c\nd"}, {"empty", NULL}}, 2, 1);
        metrics_text_family(&t, "na_memory_bytes", METRIC_GAUGE, "bytes", "Memory.");
        metrics_text_sample(&t, (MetricLabel[]){{"pname", "x"}}, 1, 1.5);
        metrics_text_sample(&t, (MetricLabel[]){{"pname", "y"}}, 1, 1e20);
        metrics_text_family(&t, "na_duration_seconds", METRIC_HISTOGRAM, "seconds", "Durations.");
        static const double bounds[] = {1, 5};
        MetricsBuckets b = {bounds, 2};
        uint64_t counts[] = {2, 0, 1};
        metrics_text_histogram(&t, (MetricLabel[]){{"result", "ok"}}, 1, &b, counts, 9.25);
        char *text;
        size_t len;
        assert_int_equal(metrics_text_end(&t, &text, &len), 0);
        assert_int_equal(strlen(text), len);
        return text;
}

static void test_text_format(void **state) {
        char *s = render(METRICS_FORMAT_TEXT);
        assert_string_equal(s, "# HELP na_events_total Events.\n"
                               "# TYPE na_events_total counter\n"
                               "na_events_total 42\n"
                               "# HELP na_build_info A build.\n"
                               "# TYPE na_build_info gauge\n"
                               "na_build_info{name=\"a\\\"b\\\\c\\nd\",empty=\"\"} 1\n"
                               "# HELP na_memory_bytes Memory.\n"
                               "# TYPE na_memory_bytes gauge\n"
                               "na_memory_bytes{pname=\"x\"} 1.5\n"
                               "na_memory_bytes{pname=\"y\"} 1e+20\n"
                               "# HELP na_duration_seconds Durations.\n"
                               "# TYPE na_duration_seconds histogram\n"
                               "na_duration_seconds_bucket{result=\"ok\",le=\"1\"} 2\n"
                               "na_duration_seconds_bucket{result=\"ok\",le=\"5\"} 2\n"
                               "na_duration_seconds_bucket{result=\"ok\",le=\"+Inf\"} 3\n"
                               "na_duration_seconds_sum{result=\"ok\"} 9.25\n"
                               "na_duration_seconds_count{result=\"ok\"} 3\n");
        free(s);
}

static void test_openmetrics_format(void **state) {
        char *s = render(METRICS_FORMAT_OPENMETRICS);
        assert_string_equal(s, "# HELP na_events Events.\n"
                               "# TYPE na_events counter\n"
                               "na_events_total 42\n"
                               "# HELP na_build A build.\n"
                               "# TYPE na_build info\n"
                               "na_build_info{name=\"a\\\"b\\\\c\\nd\",empty=\"\"} 1\n"
                               "# HELP na_memory_bytes Memory.\n"
                               "# TYPE na_memory_bytes gauge\n"
                               "# UNIT na_memory_bytes bytes\n"
                               "na_memory_bytes{pname=\"x\"} 1.5\n"
                               "na_memory_bytes{pname=\"y\"} 1e+20\n"
                               "# HELP na_duration_seconds Durations.\n"
                               "# TYPE na_duration_seconds histogram\n"
                               "# UNIT na_duration_seconds seconds\n"
                               "na_duration_seconds_bucket{result=\"ok\",le=\"1\"} 2\n"
                               "na_duration_seconds_bucket{result=\"ok\",le=\"5\"} 2\n"
                               "na_duration_seconds_bucket{result=\"ok\",le=\"+Inf\"} 3\n"
                               "na_duration_seconds_sum{result=\"ok\"} 9.25\n"
                               "na_duration_seconds_count{result=\"ok\"} 3\n"
                               "# EOF\n");
        free(s);
}

static void test_negotiation(void **state) {
        /* What Prometheus 2.42 sends: OpenMetrics first. */
        assert_int_equal(metrics_format_from_accept("application/openmetrics-text;version=1.0.0,application/"
                                                    "openmetrics-text;version=0.0.1;q=0.75,text/plain;"
                                                    "version=0.0.4;q=0.5,*/*;q=0.1"),
                         METRICS_FORMAT_OPENMETRICS);
        assert_int_equal(metrics_format_from_accept("text/plain"), METRICS_FORMAT_TEXT);
        assert_int_equal(metrics_format_from_accept("*/*"), METRICS_FORMAT_TEXT);
        assert_int_equal(metrics_format_from_accept(NULL), METRICS_FORMAT_TEXT); /* curl without -H */
        assert_string_equal(metrics_format_content_type(METRICS_FORMAT_TEXT),
                            "text/plain; version=0.0.4; charset=utf-8");
        assert_string_equal(metrics_format_content_type(METRICS_FORMAT_OPENMETRICS),
                            "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

static void check_address(const char *address, const char *host, const char *port) {
        char *h = NULL, *p = NULL;
        assert_int_equal(metrics_http_parse_address(address, &h, &p), 0);
        assert_string_equal(h, host);
        assert_string_equal(p, port);
        free(h);
        free(p);
}

static void test_address(void **state) {
        check_address("9479", "127.0.0.1", "9479"); /* loopback unless told otherwise */
        check_address("127.0.0.1:9479", "127.0.0.1", "9479");
        check_address("0.0.0.0:80", "0.0.0.0", "80");
        check_address("[::1]:9479", "::1", "9479");
        check_address("[::]:9479", "::", "9479");
        check_address("localhost:1", "localhost", "1");
        const char *bad[] = {"",        ":9479",      "host:",    "host:0", "host:65536", "host:-1",
                             "host:+1", "host:9479x", "::1:9479", "[::1]",  "[::1]9479",  "[::1:9479"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *h = NULL, *p = NULL;
                if (metrics_http_parse_address(bad[i], &h, &p) != -EINVAL)
                        fail_msg("address '%s' was accepted as host '%s' port '%s'", bad[i], h, p);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_text_format),
                cmocka_unit_test(test_openmetrics_format),
                cmocka_unit_test(test_negotiation),
                cmocka_unit_test(test_address),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
