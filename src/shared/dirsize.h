/* Disk usage of a directory tree someone else made (a build's temporary directory), walked
 * from a directory fd: no symbolic link followed, no other filesystem entered, bounded in
 * entries, depth and time. Any thread; the caller opens the directory. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "basic/time-util.h"

#define DIRSIZE_MAX_ENTRIES 200000
#define DIRSIZE_MAX_DEPTH   64 /* directories open at once */

typedef struct DirSize {
        uint64_t bytes;   /* allocated (st_blocks): what the tree takes of its filesystem */
        uint64_t entries; /* looked at */
        bool truncated;   /* a bound stopped the walk: bytes is a lower bound */
        uint64_t fs_free; /* its filesystem's space available to unprivileged users (statvfs) */
        uint64_t fs_size;
} DirSize;

/* Walks the tree under dir_fd (not closed), stopping after budget (monotonic usec, 0 none).
 * Entries that vanish meanwhile are skipped. 0, or -errno when dir_fd itself cannot be
 * read (-ENOTDIR: not a directory). */
int dir_size(int dir_fd, usec_t budget, DirSize *ret);

/* The filesystem is nearly full: under 5 % or under 1 GiB available. */
bool dir_size_fs_nearly_full(const DirSize *s);

/* The build directory a builder's working directory (as /proc/<pid>/cwd reads) lies in:
 * "/build" at the root (a sandbox), else the first component whose name starts with
 * "nix-build-" (outside a sandbox, under TMPDIR or build-dir, up to Nix 2.2x) or with "nix-"
 * in a directory named "builds" (later Nix: /nix/var/nix/builds/nix-<pid>-<n>). Its path (new) and how many
 * levels it is above the cwd; -ENOENT when the cwd is in neither, -ENOMEM. */
int dir_size_build_dir(const char *cwd, char **ret_path, unsigned *ret_up);
