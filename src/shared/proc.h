/* Reading /proc: process identity and liveness. The /proc root is injectable for tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/time-util.h"

/* Start time of pid (field 22 of <proc_root>/<pid>/stat, clock ticks since boot).
 * Returns 0, -ESRCH when the process is gone or a zombie, -EBADMSG on an unreadable stat. */
int proc_starttime(const char *proc_root, pid_t pid, uint64_t *ret);

/* The realtime at which a process started starttime clock ticks after boot (field 22 of its
 * stat); 0 when the clocks cannot tell. */
usec_t proc_start_realtime(uint64_t starttime);

/* True while the process that had starttime (0: any) still runs (not a zombie, not reused). */
bool proc_alive(const char *proc_root, pid_t pid, uint64_t starttime);

/* Command line of pid with NULs turned into spaces (trailing one dropped), secrets redacted
 * (redact.h), read up to 1 MiB. 0, -ESRCH, -ENOMEM. */
int proc_cmdline(const char *proc_root, pid_t pid, char **ret);
/* The same from the first max bytes of it (a view's line needs no more). */
int proc_cmdline_max(const char *proc_root, pid_t pid, size_t max, char **ret);

/* The client a nix-daemon worker serves, from the worker's own command line: every CppNix
 * worker since 2.4 writes its client's pid over its argv[1] (padded with NULs), before it
 * opens json-log-path (nix-internals.md §5). The pid is believed only when argv[0] is
 * nix-daemon or nix, argv[1] is digits with NUL padding after them (no room for padding: it
 * may be cut) and the client started no later than the worker. Returns 0 with its pid and
 * real uid; -ENOENT when pid is not such a worker, -ESRCH when either is gone. */
int proc_nix_daemon_client(const char *proc_root, pid_t worker, pid_t *ret_pid, uid_t *ret_uid);
