/* Adoption: gives a tracked build a cgroup (Nix's own, or one of ours) and hands it back at
 * exit. */
#pragma once

#include <stdbool.h>

#include "daemon/sampler.h"
#include "daemon/tracker.h"
#include "shared/cgroup-delegate.h"

/* Does e belong to t's builder: the builder itself (same start time), or its session while
 * the builder lives? After the builder is gone only processes already known as the build's
 * match by session: its pid may now lead someone else's session. */
bool tracked_leads(const Tracked *t, const ProcEntry *e);
/* Gives the tracked build a cgroup: Nix's own, ours from an earlier run, or a new one of
 * ours, and moves its processes in until none is left behind. 0, or -errno (then the build
 * is acted on with signals). */
int adopt_build(Sampler *s, Tracked *t, ProcTable *tab);
/* Moves processes of the build that are not in its group yet (forks during adoption). */
void adopt_stragglers(Sampler *s, Tracked *t);
/* Removes our group of an ended build. 0, -EBUSY while processes remain. */
int adopt_release(Sampler *s, Tracked *t);
/* Removes empty groups left by an earlier run under our roots. */
void adopt_cleanup_stale(const CgHost *h, const CgRoots *roots);
/* At exit in a delegated service: thaws the build and moves its processes back to the group
 * of its nix process, so that stopping our service neither stops nor kills builds (limits
 * set through our group end with it). 0, or -errno (processes left in our group). */
int adopt_hand_back(Sampler *s, Tracked *t);
