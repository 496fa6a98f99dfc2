/* Finds the process writing into a pipe we read: for
 * `nix-build ... 2>&1 | nix-analytics-ctl ingest`, the nix process behind our stdin. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Scans <proc_root>/<pid>/fd for processes other than self holding the pipe open on our fd
 * for writing, and picks the Nix one: argv[0] containing "nix" first, then the topmost of
 * several (a parent holding it as well as its child), then the lowest pid. When the writer is
 * not Nix but reads a pipe itself (tee, cat), the writer of that pipe is looked for, a few
 * hops deep; without Nix anywhere, the first writer is the answer.
 * Returns 0 with the pid, -ENOENT when nobody else writes into it (or we may not see who),
 * -ENOTSUP when fd is not a pipe, or -errno. */
int pipe_peer_find_writer(const char *proc_root, int fd, pid_t self, pid_t *ret);

/* The open flags in a /proc/<pid>/fdinfo/<fd> buffer ("flags:\t0100001", octal).
 * Returns 0 or -EBADMSG. */
int pipe_peer_parse_fdinfo_flags(const char *buf, size_t len, int *ret_flags);
