/* The Nix configuration the daemon runs under: nix.conf (in --nix-conf-dir, $NIX_CONF_DIR
 * or /etc/nix, with its includes), then $NIX_CONFIG; its builders setting (default
 * "@<confdir>/machines") is parsed into machines for the model and the poller. Every file
 * read or looked for is checked for changes every few seconds and the whole is re-read. */
#pragma once

#include <cjson/cJSON.h>

#include "daemon/daemon.h"

typedef struct MachinesConfig MachinesConfig;

/* conf_dir NULL: $NIX_CONF_DIR or /etc/nix. Loads once, then watches. */
int machines_config_start(Daemon *d, const char *conf_dir, MachinesConfig **ret);
MachinesConfig *machines_config_free(MachinesConfig *mc);
/* {"conf_dir","builders","builders_use_substitutes","files":[...],"errors":[...],"loaded"} */
cJSON *machines_config_to_json(const MachinesConfig *mc);

/* Daemon options, by index: 0 --nix-conf-dir, 1 --machines-poll-interval,
 * 2 --machines-poll-timeout, 3 --machines-remote-ctl. 0 or -EINVAL (logged). */
int machines_parse_option(int which, const char *arg, DaemonConfig *cfg);
