/* What a build found again after a daemon restart takes back: the record the daemon kept of
 * it (resume.h) or its builder's start time, so that its elapsed time, log line count and
 * invocation stay true and history never records a duration that starts at the restart. */
#include "shared/model-resume.h"

#include <string.h>

#include "shared/model-internal.h"

static bool invocation_from_proc(const Invocation *inv) {
        return inv->source && inv->source->role && strcmp(inv->source->role, "rediscovered") == 0;
}

static void resume_invocation(Model *m, Build *b, const ResumeBuild *r) {
        Invocation *inv = b->invocation;
        if (!inv || !invocation_from_proc(inv))
                return; /* a stream reports it: its own records say more than ours */
        if (r) {
                Requester req;
                if (inv->requester.uid < 0 || (!inv->requester.cmdline && r->requester.cmdline)) {
                        if (requester_copy(&r->requester, &req) == 0) {
                                requester_done(&inv->requester);
                                inv->requester = req;
                        }
                }
                if (requester_copy(&r->requester, &req) == 0) {
                        requester_done(&b->requester);
                        b->requester = req;
                }
                if (r->inv_started && (!inv->started || r->inv_started < inv->started))
                        inv->started = r->inv_started;
                bool none = true;
                for (unsigned i = 0; i < 4; i++)
                        none = none && inv->progress[i] == 0;
                if (none)
                        memcpy(inv->progress, r->progress, sizeof(inv->progress));
        }
        /* No stream will end it: it runs while its nix process does (source_nix_exited). */
        if (!inv->source->nix_exited && inv->done) {
                inv->done = false;
                inv->finished = 0;
        }
        invocation_mark(m, inv, CHANGE_CHANGED);
}

void model_build_resume(Model *m, Build *b, const ResumeBuild *r, usec_t builder_start) {
        if (r && r->started && (b->rediscovered || r->started < b->started)) {
                b->started = r->started;
                b->start_unknown = r->start_unknown;
        } else if (b->rediscovered && builder_start) {
                b->started = builder_start;
                b->start_unknown = false;
        } else if (b->rediscovered)
                b->start_unknown = true;
        if (r && r->queued && r->queued <= b->started)
                b->queued = r->queued;
        else if (b->queued > b->started)
                b->queued = b->started;
        if (r && r->log_lines > b->log.total) {
                /* Lines received before the restart: counted, no longer held (`nix log` has
                 * them), and never reported to views as new. */
                b->log_flushed += r->log_lines - b->log.total;
                b->log.total = r->log_lines;
        }
        if (r && r->usage.sampled && !b->usage.sampled)
                b->usage = r->usage;
        resume_invocation(m, b, r);
        build_mark(m, b, CHANGE_CHANGED);
}
