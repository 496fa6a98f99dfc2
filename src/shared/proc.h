/* Reading /proc: process identity and liveness. The /proc root is injectable for tests. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Start time of pid (field 22 of <proc_root>/<pid>/stat, clock ticks since boot).
 * Returns 0, -ESRCH when the process is gone or a zombie, -EBADMSG on an unreadable stat. */
int proc_starttime(const char *proc_root, pid_t pid, uint64_t *ret);

/* True while the process that had starttime (0: any) still runs (not a zombie, not reused). */
bool proc_alive(const char *proc_root, pid_t pid, uint64_t starttime);

/* Command line of pid with NULs turned into spaces (trailing one dropped). 0, -ESRCH, -ENOMEM. */
int proc_cmdline(const char *proc_root, pid_t pid, char **ret);
