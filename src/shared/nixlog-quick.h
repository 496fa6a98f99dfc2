/* The record parser's quick path (nixlog-quick.c), for nixlog.c only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/nixlog.h"

/* Fills *ret from buf (no "@nix " prefix) when it has the compact shape of a log line or a
 * stop, cutting its strings out in place; false, with buf untouched, for anything else. */
bool nix_record_parse_quick(char *buf, size_t len, NixRecord *ret);
