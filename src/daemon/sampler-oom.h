/* What the OOM killer's reports (oom.c) need from the sampler: which build a victim was
 * in, and its group's memory peak read at once. */
#pragma once

#include <sys/types.h>

#include "daemon/sampler.h"
#include "daemon/tracker.h"

/* The OOM killer struck in t's group: its memory peak read now, as the kill gave the memory
 * back before the next sample could see how high it went. */
void sampler_note_oom(Sampler *s, Tracked *t, Build *b);
/* The build an OOM killer's victim belonged to: the one whose group holds the memory cgroup
 * memcg (a path in the memory controller's hierarchy, as the kernel logs it; NULL unknown),
 * else the one whose last sample had pid among its processes. NULL: no build's. */
Tracked *sampler_find_victim(Sampler *s, const char *memcg, pid_t pid);
