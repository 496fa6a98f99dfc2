/* The sampler's settings and costs, as the status command shows them. */
#pragma once

#include <cjson/cJSON.h>

#include "daemon/daemon.h"

/* An empty object when there is no sampler; NULL on OOM. */
cJSON *sampler_status_json(Daemon *d);
