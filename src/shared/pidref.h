/* A process held by identity, not by pid alone: its pid, its start time (field 22 of
 * <pid>/stat) and, where the kernel has pidfd_open (Linux >= 5.3) and /proc is the real one,
 * a pidfd. Every action on a process of a build goes through here, so that nothing is ever
 * signalled, reniced or moved on a pid that a new process has taken since. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct PidRef {
        pid_t pid;
        uint64_t starttime; /* clock ticks since boot, as procfs.h reads it */
        int fd;             /* pidfd, or -1 (no kernel support, or a fake /proc root) */
} PidRef;

#define PIDREF_NULL ((PidRef){.pid = 0, .starttime = 0, .fd = -1})

/* Takes hold of pid if its start time is still starttime: opens a pidfd first, then reads
 * <root>/<pid>/stat, so a matching start time proves the pidfd is that process. A root other
 * than "/proc" (tests' fake trees) uses no pidfd. 0, -ESRCH when the process is gone or the
 * pid was reused, -errno. */
int pidref_open(const char *root, pid_t pid, uint64_t starttime, PidRef *ret);
void pidref_done(PidRef *p);

/* Is it still the same live process? Through the pidfd when held, else by reading its start
 * time again. 0 yes, -ESRCH no (gone, or its pid reused), -errno. */
int pidref_verify(const PidRef *p, const char *root);

/* Sends sig through the pidfd, or kill() right after re-checking the start time. 0, -ESRCH
 * (stale: nothing was sent), -errno. */
int pidref_kill(const PidRef *p, const char *root, int sig);

/* setpriority() has no pidfd form: checked just before, and the pidfd (when held) tells
 * afterwards whether the process lived through the call. 0, -ESRCH, -errno. */
int pidref_set_nice(const PidRef *p, const char *root, int nice);

/* One-shot forms for a process known by pid and start time: open, act, close. */
int pidref_kill_pid(const char *root, pid_t pid, uint64_t starttime, int sig);
int pidref_set_nice_pid(const char *root, pid_t pid, uint64_t starttime, int nice);
/* 0 when pid is still the process started at starttime, -ESRCH when not. */
int pidref_check_pid(const char *root, pid_t pid, uint64_t starttime);
