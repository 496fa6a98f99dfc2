/* A build found running after a daemon restart takes back what the daemon knew of it before
 * (model-resume.c). */
#pragma once

#include "shared/model.h"
#include "shared/resume.h"

/* b was just rediscovered (or reported again by a stream): r is the record kept of it before
 * the restart (NULL: none), builder_start the realtime its builder process started (0:
 * unknown). Its start, queue time, log line count, last sample and invocation (requester,
 * start, progress) become what r says, else its start becomes the builder's; with neither,
 * its start stays a guess and is marked so (start_unknown). An invocation known from /proc
 * alone stays running while its nix process does. */
void model_build_resume(Model *m, Build *b, const ResumeBuild *r, usec_t builder_start);
