/* ETA arithmetic: a build's expected duration from the durations of earlier builds of the
 * same package (median, with a confidence from how many there are and how much they vary),
 * and an invocation's remaining time along its longest chain of unfinished builds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/model.h"

#define ETA_SAMPLES 10 /* the last N successful builds looked at */

/* From durations (seconds, any order; n <= ETA_SAMPLES is typical). other_machines: the
 * samples come from other machines (already scaled by speed). Returns 0, or -ENODATA when
 * n == 0. Confidence: "high" with >= 5 samples within 15 % of the median (median absolute
 * deviation), "medium" with >= 3 within 35 %, else "low"; one level lower from other
 * machines. */
int eta_from_durations(const double *durations, size_t n, bool other_machines, BuildEta *ret);

/* The median of v[0..n) (sorted in place). n > 0. */
double eta_median(double *v, size_t n);

/* Seconds left of a build that has run `elapsed` seconds (frozen time left out, see
 * build_duration) with an estimate: never negative; what it ran past its estimate is
 * eta_overtime. */
double eta_remaining(const BuildEta *eta, double elapsed);
double eta_overtime(const BuildEta *eta, double elapsed);
