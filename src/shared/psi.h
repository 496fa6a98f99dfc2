/* Pressure stall information: the kernel's "some" line of a pressure file, the machine's
 * (/proc/pressure/<what>) or a cgroup's (<group>/<what>.pressure). One parser for both. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef enum PsiResource {
        PSI_CPU,
        PSI_MEMORY,
        PSI_IO,
        _PSI_RESOURCE_MAX,
} PsiResource;

typedef struct PsiSome {
        double avg10;   /* percent of the last 10 s some task stalled (smoothed) */
        uint64_t total; /* microseconds some task stalled, since the group was made */
} PsiSome;

/* The "some" line of buf (len bytes, not NUL-terminated): "some avg10=A avg60=B avg300=C
 * total=N". 0 or -EBADMSG (no such line, or a figure out of range). */
int psi_parse_some(const char *buf, size_t len, PsiSome *ret);
/* "cpu", "memory", "io". */
const char *psi_resource_to_string(PsiResource r);
/* The share of span (microseconds) stalled between two totals, in percent (0..100): a total
 * that went back (a group made again) gives 0. */
double psi_percent(uint64_t before, uint64_t after, uint64_t span);
