/* y <field>: what to copy of the selected build (drv path, name, output path, builder pid,
 * requester, command line, log), fetched from the daemon when the store lacks it. */
#pragma once

#include "tui/tui.h"

void yank_field(Tui *t, int field);
