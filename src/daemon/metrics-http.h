/* The metrics endpoint's HTTP server: libmicrohttpd on threads of its own, one per scrape
 * connection (at most METRICS_HTTP_CONNECTIONS). The model lives on the event loop, so a
 * scrape never reads it: its thread asks the loop (an eventfd), the loop renders the text
 * once and hands it over, and the thread sends it at the scraper's pace. A text rendered in
 * the last METRICS_HTTP_FRESH_USEC is served again without asking, so scrapers together cost
 * the loop at most one rendering per format that often. A loop that does not answer within
 * METRICS_HTTP_WAIT_USEC gets the scrape a 503, never a stalled scraper. */
#pragma once

#include <stddef.h>

#include <systemd/sd-event.h>

#include "basic/time-util.h"
#include "daemon/metrics-text.h"

#define METRICS_HTTP_CONNECTIONS 16
#define METRICS_HTTP_FRESH_USEC  (250 * USEC_PER_MSEC)
#define METRICS_HTTP_WAIT_USEC   (5 * USEC_PER_SEC)

typedef struct MetricsHttp MetricsHttp;

/* Renders the exposition on the event loop. */
typedef int (*MetricsRenderFn)(void *userdata, MetricsFormat f, char **ret, size_t *ret_len);

/* address: "HOST:PORT", "[IPV6]:PORT" or "PORT" (then 127.0.0.1: loopback unless told
 * otherwise). *ret_host and *ret_port are new strings. 0 or -EINVAL. */
int metrics_http_parse_address(const char *address, char **ret_host, char **ret_port);

/* Binds address and starts the server. 0 or -errno, logged with the address. */
int metrics_http_new(sd_event *e, const char *address, MetricsRenderFn render, void *userdata,
                     MetricsHttp **ret);
/* Stops the server (open scrapes get their answer or a 503 first). */
MetricsHttp *metrics_http_free(MetricsHttp *h);
