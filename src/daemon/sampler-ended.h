/* Builds that ended between samples, found by their own processes rather than a pass over
 * all of /proc (sampler.h owns the sampling loop). */
#pragma once

#include "daemon/sampler.h"

/* Nix counted a build done while builds here run: finds which ended by their builders and
 * the processes they had, not by all of /proc, so that nothing reads two builds running in
 * one slot. A build without a group of its own needs the whole table: a full sample then, at
 * most one per 100 ms (else soon after). */
void sampler_check_ended(Sampler *s);
