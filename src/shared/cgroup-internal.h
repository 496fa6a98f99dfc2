/* Helpers shared by cgroup.c and cgroup-parse.c only. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* The CgController of a controller name ("blkio" is CG_IO), -1 for one we do not use. */
int cg_controller_from_name(const char *s, size_t n);
/* Splits a line into space-separated words (at most max). Returns the count. */
size_t cg_split_words(const char *line, size_t len, const char **w, size_t *wl, size_t max);
/* The pids of a cgroup.procs text. Returns the count (*ret allocated) or -ENOMEM. */
int cg_parse_pid_lines(const char *buf, size_t len, pid_t **ret);
