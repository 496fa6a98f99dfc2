/* Remote machines (r): state, slots used/max, load, the builds on each; details on Enter. */
#pragma once

#include "tui/tui.h"

int view_machines_new(Tui *t, View **ret);
