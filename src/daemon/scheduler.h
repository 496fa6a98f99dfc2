/* The loop's own work around every dispatch: after each one the model's changes go out
 * (notify_flush) and connections that died meanwhile are freed; model_tick runs when the
 * model asks for it (model_take_wake, its return value); freed heap goes back to the kernel
 * now and then. */
#pragma once

#include "daemon/daemon.h"

typedef struct Scheduler Scheduler;

/* Adds its sources to d->event. */
int scheduler_new(Daemon *d, Scheduler **ret);
Scheduler *scheduler_free(Scheduler *s);
