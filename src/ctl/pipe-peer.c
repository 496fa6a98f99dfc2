/* Finds the writer of a pipe by scanning /proc/<pid>/fd for the same pipe inode. */
#include "ctl/pipe-peer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "ctl/proc-ident.h"
#include "shared/procfs.h"

/* More processes than this sharing one pipe is not a nix pipeline; the rest are ignored. */
#define MAX_CANDIDATES 64
/* How many plumbing processes (tee, cat, ...) between nix and us are looked through. */
#define MAX_HOPS 4

typedef struct Candidate {
        pid_t pid;
        pid_t ppid;
        bool nix; /* argv[0] contains "nix" */
} Candidate;

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

int pipe_peer_parse_fdinfo_flags(const char *buf, size_t len, int *ret_flags) {
        size_t n;
        const char *v = procfs_field(buf, len, "flags", &n);
        if (!v)
                return -EBADMSG;
        const char *start = v, *line_end = v + n;
        unsigned long flags = 0;
        for (; v < line_end && *v >= '0' && *v <= '7'; v++) {
                flags = flags * 8 + (unsigned long) (*v - '0');
                if (flags > 0x7fffffff)
                        return -EBADMSG;
        }
        /* The value is all octal digits up to the end of the line. */
        if (v == start || (v < line_end && *v != ' ' && *v != '\t'))
                return -EBADMSG;
        *ret_flags = (int) flags;
        return 0;
}

static bool fd_opened_for_writing(int proc_fd, pid_t pid, const char *fd_name) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%d/fdinfo/%s", (int) pid, fd_name) < 0)
                return false;
        _cleanup_close_ int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        char buf[512]; /* "pos:", "flags:" and "mnt_id:" come first */
        ssize_t n = read(fd, buf, sizeof(buf));
        int flags;
        if (n <= 0 || pipe_peer_parse_fdinfo_flags(buf, (size_t) n, &flags) < 0)
                return false;
        return (flags & O_ACCMODE) != O_RDONLY;
}

/* Whether pid holds a descriptor whose link reads exactly want, opened for writing. */
static bool holds_write_end(int proc_fd, pid_t pid, const char *want) {
        char path[32];
        snprintf(path, sizeof(path), "%d/fd", (int) pid);
        int fd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return false; /* gone, or not ours to look at */
        _cleanup_(closedirp) DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return false;
        }

        size_t want_len = strlen(want);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char link[64];
                ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link));
                if (n != (ssize_t) want_len || memcmp(link, want, want_len) != 0)
                        continue;
                /* One process may hold both ends (a shell between fork and exec); keep looking
                 * for a write end. */
                if (fd_opened_for_writing(proc_fd, pid, de->d_name))
                        return true;
        }
        return false;
}

static bool argv0_is_nix(const char *cmdline) {
        if (!cmdline)
                return false;
        size_t n = strcspn(cmdline, " ");
        for (size_t i = 0; i + 3 <= n; i++)
                if (memcmp(cmdline + i, "nix", 3) == 0)
                        return true;
        return false;
}

static bool is_candidate_pid(const Candidate *c, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (c[i].pid == pid)
                        return true;
        return false;
}

/* Nix first; then a process whose parent is not itself a candidate; then the lowest pid. */
static const Candidate *pick(const Candidate *c, size_t n) {
        const Candidate *best = NULL;
        int best_rank = -1;
        for (size_t i = 0; i < n; i++) {
                int rank = (c[i].nix ? 2 : 0) + (is_candidate_pid(c, n, c[i].ppid) ? 0 : 1);
                if (rank > best_rank || (rank == best_rank && c[i].pid < best->pid)) {
                        best = &c[i];
                        best_rank = rank;
                }
        }
        return best;
}

/* The best writer (see pick()) of the pipe with inode ino, other than self. */
static int find_writer_of(const char *proc_root, ino_t ino, pid_t self, Candidate *ret) {
        /* An anonymous pipe's descriptors read "pipe:[<inode>]" in /proc/<pid>/fd. */
        char want[64];
        snprintf(want, sizeof(want), "pipe:[%llu]", (unsigned long long) ino);

        _cleanup_(closedirp) DIR *proc = opendir(proc_root);
        if (!proc)
                return -errno;

        Candidate candidates[MAX_CANDIDATES];
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(proc)) && n < MAX_CANDIDATES) {
                pid_t pid;
                if (parse_pid(de->d_name, &pid) < 0 || pid == self)
                        continue;
                if (!holds_write_end(dirfd(proc), (pid_t) pid, want))
                        continue;

                ProcIdent ident;
                if (proc_ident_read(proc_root, (pid_t) pid, &ident) < 0)
                        continue; /* gone meanwhile */
                candidates[n++] = (Candidate){
                        .pid = ident.pid,
                        .ppid = ident.ppid,
                        .nix = argv0_is_nix(ident.cmdline),
                };
                proc_ident_done(&ident);
        }

        const Candidate *best = pick(candidates, n);
        if (!best)
                return -ENOENT;
        *ret = *best;
        return 0;
}

/* The inode of pid's stdin when it is a pipe. */
static int stdin_pipe_of(const char *proc_root, pid_t pid, ino_t *ret) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%d/fd/0", proc_root, (int) pid) < 0)
                return -ENOMEM;
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISFIFO(st.st_mode))
                return -ENOTSUP;
        *ret = st.st_ino;
        return 0;
}

int pipe_peer_find_writer(const char *proc_root, int fd, pid_t self, pid_t *ret) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISFIFO(st.st_mode))
                return -ENOTSUP;

        /* Through a few plumbing processes ("nix-build ... 2>&1 | tee log | ingest"): while
         * the writer is not nix and reads a pipe itself, look at who writes into that one. */
        ino_t ino = st.st_ino;
        Candidate first = {}, c = {};
        for (unsigned hop = 0; hop < MAX_HOPS; hop++) {
                if (find_writer_of(proc_root, ino, self, &c) < 0)
                        break;
                if (c.nix) {
                        *ret = c.pid;
                        return 0;
                }
                if (hop == 0)
                        first = c;
                if (stdin_pipe_of(proc_root, c.pid, &ino) < 0)
                        break;
                self = c.pid;
        }
        if (first.pid <= 0)
                return -ENOENT;
        *ret = first.pid;
        return 0;
}
