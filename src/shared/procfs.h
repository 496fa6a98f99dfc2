/* Reading processes from /proc for the sampler: stat, io, environ, open files, the pid list.
 * Parsers take buffers; readers take an injectable /proc root. A process that vanished
 * mid-read is -ESRCH ("gone"), never an error worth logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/time-util.h"

#define PROCFS_COMM_MAX 64

typedef struct ProcStat {
        pid_t pid, ppid, pgid, sid;
        char state;     /* R, S, D, T, t, Z, X, I ... */
        uint32_t flags; /* the kernel's PF_* (PF_EXITING 0x4: the process is exiting) */
        char comm[PROCFS_COMM_MAX + 1];
        usec_t utime, stime;   /* CPU time */
        usec_t cutime, cstime; /* of its children that exited and were waited for */
        int nice;
        uint32_t threads;
        uint64_t starttime; /* clock ticks since boot (identity against pid reuse) */
        uint64_t rss;       /* bytes */
} ProcStat;

typedef struct ProcIo {
        uint64_t read_bytes, write_bytes; /* storage I/O caused by the process */
} ProcIo;

typedef struct ProcStatus {
        pid_t ppid;
        uid_t uid; /* real */
} ProcStatus;

/* Parses a <pid>/stat line (comm may hold blanks and parentheses: the last ')' ends it).
 * Returns 0 or -EBADMSG. The project's one reader of stat lines. */
int procfs_parse_stat(const char *buf, size_t len, ProcStat *ret);
/* Parses <pid>/io. Returns 0 or -EBADMSG. */
int procfs_parse_io(const char *buf, size_t len, ProcIo *ret);
/* Parses PPid and the real Uid out of <pid>/status. Returns 0 or -EBADMSG. */
int procfs_parse_status(const char *buf, size_t len, ProcStatus *ret);
/* Parses /proc/loadavg (or the same line from a remote host): the 1, 5 and 15 minute load
 * averages. Returns 0 or -EBADMSG. */
int procfs_parse_loadavg(const char *buf, size_t len, double ret[3]);
/* Reads <root>/loadavg. 0 or -errno. */
int procfs_read_loadavg(const char *root, double ret[3]);
/* The value of the line "name:<blanks>value" in a file of such lines (status, io, fdinfo),
 * blanks skipped, or NULL. *ret_len is its length up to the end of its line. */
const char *procfs_field(const char *buf, size_t len, const char *name, size_t *ret_len);
/* The value of name in an environ block (NUL-separated "K=V"), or NULL. *ret_len is its length. */
const char *procfs_environ_get(const char *buf, size_t len, const char *name, size_t *ret_len);

/* Reads <root>/<pid>/<name> whole (bounded at max bytes). 0, -ESRCH when the process is
 * gone, -errno (e.g. -EACCES). */
int procfs_read(const char *root, pid_t pid, const char *name, size_t max, char **ret, size_t *ret_len);

int procfs_read_stat(const char *root, pid_t pid, ProcStat *ret);

/* <root>/<pid>/<name> opened to be read again and again (procfs_pread_stat): a sampler that
 * keeps it open pays the path lookup once per process, not once per sample. Returns the fd
 * (O_CLOEXEC), -ESRCH when the process is gone, or -errno. */
int procfs_open(const char *root, pid_t pid, const char *name);
/* The stat file opened by procfs_open(), read afresh. -ESRCH once that process is gone: the
 * fd never follows its pid to another process. */
int procfs_pread_stat(int fd, ProcStat *ret);
int procfs_read_io(const char *root, pid_t pid, ProcIo *ret);
int procfs_read_status(const char *root, pid_t pid, ProcStatus *ret);
/* Owner of the process (the uid of its /proc directory). */
int procfs_read_uid(const char *root, pid_t pid, uid_t *ret);

/* Every pid in root, unsorted. Returns the count (>= 0) or -errno. */
int procfs_list_pids(const char *root, pid_t **ret);

/* Calls cb with the target of every open file descriptor of pid whose target starts with
 * prefix. Returns 0, -ESRCH, -errno. cb returning non-zero stops the walk (a negative value is returned). */
int procfs_foreach_fd(const char *root, pid_t pid, const char *prefix,
                      int (*cb)(const char *target, void *userdata), void *userdata);
