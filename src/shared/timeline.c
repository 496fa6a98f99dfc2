/* A build's resource use over its life, bounded by merging (see timeline.h). */
#include "shared/timeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"

#define BLOB_VERSION 2
#define HEADER_BYTES (1 + 8 + 8 + 2) /* version, first time, step, points */
/* ms after the first, CPU, processes, KiB of MEM, KiB of IO; then, from version 2 on, memory
 * pressure */
#define POINT_BYTES_V1 (4 + 4 + 2 + 4 + 4)
#define POINT_BYTES    (POINT_BYTES_V1 + 2)

void timeline_done(Timeline *tl) {
        free(tl->points);
        *tl = (Timeline){};
}

/* b (the later) into a: the span of both. */
static void point_merge(TimelinePoint *a, const TimelinePoint *b, uint32_t a_weight) {
        a->cpu_permil = (uint32_t) (((uint64_t) a->cpu_permil * a_weight + b->cpu_permil) / (a_weight + 1));
        a->procs = MAX(a->procs, b->procs);
        a->mem = MAX(a->mem, b->mem);
        /* unknown (the largest value) only when both are */
        if (b->mem_pressure != TIMELINE_PRESSURE_NONE &&
            (a->mem_pressure == TIMELINE_PRESSURE_NONE || b->mem_pressure > a->mem_pressure))
                a->mem_pressure = b->mem_pressure;
        a->io = b->io;
        a->t = b->t;
}

/* Full: every two neighbouring points become one, covering twice the step. */
static void halve(Timeline *tl) {
        uint32_t n = 0;
        for (uint32_t i = 0; i + 1 < tl->n; i += 2) {
                TimelinePoint p = tl->points[i];
                point_merge(&p, &tl->points[i + 1], 1);
                tl->points[n++] = p;
        }
        if (tl->n % 2)
                tl->points[n++] = tl->points[tl->n - 1];
        tl->n = n;
        tl->step *= 2;
        tl->merged = 2;
}

int timeline_thin(const Timeline *tl, uint32_t max_points, usec_t min_step, Timeline *ret) {
        *ret = (Timeline){};
        if (tl->n == 0)
                return 0;
        TimelinePoint *points = malloc(tl->n * sizeof(TimelinePoint));
        if (!points)
                return -ENOMEM;
        /* Points in the same min_step since the first become one (samples may come closer
         * than the step: the sampler looks every 100 ms while a build starts). */
        usec_t t0 = tl->points[0].t, step = MAX(min_step, (usec_t) 1);
        uint32_t n = 0, weight = 0;
        for (uint32_t i = 0; i < tl->n; i++) {
                const TimelinePoint *p = &tl->points[i];
                if (n > 0 && (p->t - t0 + step - 1) / step == (points[n - 1].t - t0 + step - 1) / step)
                        point_merge(&points[n - 1], p, weight++);
                else {
                        points[n++] = *p;
                        weight = 1;
                }
        }
        *ret = (Timeline){
                .points = points, .n = n, .cap = tl->n, .step = MAX(tl->step, min_step), .merged = weight};
        while (ret->n > MAX(max_points, 1u))
                halve(ret);
        return 0;
}

int timeline_add(Timeline *tl, usec_t t, double cpu_percent, uint64_t mem, uint32_t procs, uint64_t io,
                 double mem_pressure) {
        if (tl->n > 0 && t <= tl->points[tl->n - 1].t)
                return 0;
        double permil = cpu_percent > 0 ? cpu_percent * 10 : 0;
        TimelinePoint p = {
                .t = t,
                .cpu_permil = permil < (double) UINT32_MAX ? (uint32_t) (permil + 0.5) : UINT32_MAX,
                .procs = procs,
                .mem = mem,
                .io = io,
                .mem_pressure = mem_pressure >= 0 ? (uint16_t) (MIN(mem_pressure, 100.0) * 10 + 0.5)
                                                  : TIMELINE_PRESSURE_NONE,
        };
        /* Within the step of the point before the last: the last point's span is still open. */
        if (tl->n >= 2 && t - tl->points[tl->n - 2].t <= tl->step) {
                point_merge(&tl->points[tl->n - 1], &p, tl->merged++);
                return 0;
        }
        if (tl->n == TIMELINE_POINTS_MAX)
                halve(tl);
        if (tl->n == tl->cap) {
                uint32_t cap = tl->cap ? MIN(tl->cap * 2, (uint32_t) TIMELINE_POINTS_MAX) : 16;
                TimelinePoint *grown = realloc(tl->points, cap * sizeof(TimelinePoint));
                if (!grown)
                        return -ENOMEM;
                tl->points = grown;
                tl->cap = cap;
        }
        if (tl->n == 1 && tl->step == 0)
                tl->step = t - tl->points[0].t;
        tl->points[tl->n++] = p;
        tl->merged = 1;
        return 0;
}

const TimelinePoint *timeline_at(const Timeline *tl, usec_t t) {
        if (tl->n == 0)
                return NULL;
        usec_t step = MAX(tl->step, USEC_PER_SEC);
        const TimelinePoint *last = &tl->points[tl->n - 1];
        if (t > last->t)
                return t - last->t <= step ? last : NULL;
        if (t + step < tl->points[0].t)
                return NULL;
        /* The first point at or after t. */
        uint32_t lo = 0, hi = tl->n - 1;
        while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                if (tl->points[mid].t >= t)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return &tl->points[lo];
}

/* ---- the blob ---- */

static uint8_t *put(uint8_t *p, uint64_t v, unsigned bytes) {
        for (unsigned i = 0; i < bytes; i++)
                *p++ = (uint8_t) (v >> (8 * i));
        return p;
}

static uint64_t get(const uint8_t **p, unsigned bytes) {
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes; i++)
                v |= (uint64_t) (*p)[i] << (8 * i);
        *p += bytes;
        return v;
}

static uint64_t saturate(uint64_t v, uint64_t max) {
        return v < max ? v : max;
}

int timeline_encode(const Timeline *tl, uint8_t **ret, size_t *ret_len) {
        if (tl->n == 0) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        size_t len = HEADER_BYTES + (size_t) tl->n * POINT_BYTES;
        uint8_t *blob = malloc(len), *p = blob;
        if (!blob)
                return -ENOMEM;
        usec_t t0 = tl->points[0].t;
        p = put(p, BLOB_VERSION, 1);
        p = put(p, t0, 8);
        p = put(p, tl->step, 8);
        p = put(p, tl->n, 2);
        for (uint32_t i = 0; i < tl->n; i++) {
                const TimelinePoint *q = &tl->points[i];
                p = put(p, saturate((q->t - t0) / USEC_PER_MSEC, UINT32_MAX), 4);
                p = put(p, q->cpu_permil, 4);
                p = put(p, saturate(q->procs, UINT16_MAX), 2);
                p = put(p, saturate(q->mem / 1024, UINT32_MAX), 4);
                p = put(p, saturate(q->io / 1024, UINT32_MAX), 4);
                p = put(p, q->mem_pressure, 2);
        }
        *ret = blob;
        *ret_len = len;
        return 0;
}

int timeline_decode(const uint8_t *blob, size_t len, Timeline *ret) {
        *ret = (Timeline){};
        if (len == 0)
                return 0;
        if (len < HEADER_BYTES || (blob[0] != 1 && blob[0] != BLOB_VERSION))
                return -EBADMSG;
        size_t point_bytes = blob[0] == 1 ? POINT_BYTES_V1 : POINT_BYTES;
        const uint8_t *p = blob + 1;
        usec_t t0 = get(&p, 8), step = get(&p, 8);
        uint32_t n = (uint32_t) get(&p, 2);
        if (n == 0 || n > TIMELINE_POINTS_MAX || len != HEADER_BYTES + (size_t) n * point_bytes ||
            t0 > UINT64_MAX / 2)
                return -EBADMSG;
        TimelinePoint *points = calloc(n, sizeof(TimelinePoint));
        if (!points)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                TimelinePoint *q = &points[i];
                q->t = t0 + get(&p, 4) * USEC_PER_MSEC;
                q->cpu_permil = (uint32_t) get(&p, 4);
                q->procs = (uint32_t) get(&p, 2);
                q->mem = get(&p, 4) * 1024;
                q->io = get(&p, 4) * 1024;
                q->mem_pressure =
                        point_bytes == POINT_BYTES ? (uint16_t) get(&p, 2) : TIMELINE_PRESSURE_NONE;
                if (q->mem_pressure > 1000)
                        q->mem_pressure = TIMELINE_PRESSURE_NONE;
                if (i > 0 && q->t <= points[i - 1].t) {
                        free(points);
                        return -EBADMSG;
                }
        }
        *ret = (Timeline){.points = points, .n = n, .cap = n, .step = step, .merged = 1};
        return 0;
}
