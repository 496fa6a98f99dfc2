/* Event connections: Nix (plugin, json-log-path) and ingest streams into the model. */
#pragma once

#include "daemon/daemon.h"

/* Accepts pending connections on the events listener (an sd-event io handler). */
int event_conn_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* Closes every event connection (at shutdown). */
void event_conns_free_all(Daemon *d);
