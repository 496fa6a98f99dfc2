/* The metrics endpoint (--metrics-listen, docs/metrics.md): what the daemon knows, as
 * Prometheus series. Counters that views cannot rebuild from the model (builds finished by
 * result, their durations) are kept here from the change drain; everything else is read from
 * the model and the daemon's rooms at each scrape, on the event loop, and handed to the HTTP
 * server's threads as text (metrics-http.h). */
#pragma once

#include "daemon/daemon.h"
#include "daemon/metrics-text.h"

/* Listens on address (metrics_http_listen's forms) and serves /metrics. 0 or -errno (logged). */
int metrics_new(Daemon *d, const char *address, Metrics **ret);
Metrics *metrics_free(Metrics *m);

/* b ended (the change drain): the finished-by-result counters and the duration histogram. */
void metrics_build_finished(Metrics *m, const Build *b);
/* b's failure was revised (CHANGE_REVISED): Nix's own reason replaced the model's guess. */
void metrics_build_revised(Metrics *m, const Build *b);

/* The exposition in format f, from the daemon's state now. 0 or -ENOMEM. */
int metrics_render(Daemon *d, MetricsFormat f, char **ret, size_t *ret_len);
