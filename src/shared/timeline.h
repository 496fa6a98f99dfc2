/* A build's resource use over its life: the sampler's figures, kept at most TIMELINE_POINTS_MAX
 * points per build. When full, neighbouring points are merged two into one and the step
 * between kept points doubles, so a build of any length keeps its whole life at the finest
 * step its length allows (1 s samples: 1 s for four minutes, 2 s for eight, ... 141 s for ten
 * hours). It goes into the build's history row as a compact blob (timeline_encode) that
 * `at` reads back (timeline_decode, timeline_at). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/time-util.h"

#define TIMELINE_POINTS_MAX 256
/* A point's memory pressure when the kernel gave none (no cgroup of its own, no PSI). */
#define TIMELINE_PRESSURE_NONE UINT16_MAX

/* One point: what the build's processes held and did over [t - step, t]. */
typedef struct TimelinePoint {
        usec_t t;            /* realtime of its last sample */
        uint32_t cpu_permil; /* CPU over the span, 1000 = one core */
        uint32_t procs;      /* processes, the most in the span */
        uint64_t mem;        /* bytes: MEM (resident sum), the most in the span */
        uint64_t io;         /* bytes read and written so far (cumulative) */
        /* memory pressure: permil of a sample's span some task of the build stalled for
         * memory, the most in the span; TIMELINE_PRESSURE_NONE unknown */
        uint16_t mem_pressure;
} TimelinePoint;

typedef struct Timeline {
        TimelinePoint *points;
        uint32_t n, cap;
        usec_t step;     /* the span each kept point covers; 0 until the second sample */
        uint32_t merged; /* samples merged into the last point (it is open while < its span) */
} Timeline;

void timeline_done(Timeline *tl);
/* Adds the sample taken at t (realtime; samples come in time order, an older one is
 * dropped). mem_pressure in percent, negative when unknown. 0 or -ENOMEM (the timeline stays
 * as it was). */
int timeline_add(Timeline *tl, usec_t t, double cpu_percent, uint64_t mem, uint32_t procs, uint64_t io,
                 double mem_pressure);

/* A copy of tl merged down (two points into one, as when full) until it has at most
 * max_points and its step is min_step or more: what history keeps. 0 or -ENOMEM. */
int timeline_thin(const Timeline *tl, uint32_t max_points, usec_t min_step, Timeline *ret);

/* The point covering t: the first whose time is >= t, or the last when t is at most a step
 * (1 s at least) after it; NULL when t is outside the timeline by more than that. */
const TimelinePoint *timeline_at(const Timeline *tl, usec_t t);

/* The blob kept in history: a 19-byte header (version, first time, step, points), then 20
 * little-endian bytes per point (ms after the first, CPU, processes, KiB of MEM and IO,
 * memory pressure): at most 5,139 bytes a build. Version 1 had 18 bytes a point, without
 * the pressure; it still decodes (pressure unknown). *ret is malloc'd; NULL with 0 for an
 * empty timeline. 0 or -ENOMEM. */
int timeline_encode(const Timeline *tl, uint8_t **ret, size_t *ret_len);
/* Reads a blob back (it may come from an old or damaged database: every length is checked).
 * 0, -EBADMSG, -ENOMEM. */
int timeline_decode(const uint8_t *blob, size_t len, Timeline *ret);
