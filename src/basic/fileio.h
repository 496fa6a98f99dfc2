/* Reading small files whole: /proc and cgroupfs files (which report size 0), .drv files,
 * JSON files inside a builder's root. */
#pragma once

#include <stddef.h>

typedef enum ReadFileFlags {
        /* Refuse (-EFBIG) a file whose size exceeds max instead of reading its first max bytes. */
        READ_FILE_REFUSE_LARGER = 1 << 0,
        /* The final component must not be a symbolic link (-ELOOP). */
        READ_FILE_NOFOLLOW = 1 << 1,
        /* Resolve path as if dir_fd were the root directory ("..", absolute symbolic links
         * stay inside it; magic /proc links are refused): for paths named by another
         * process about its own root, such as /proc/PID/root. Implies READ_FILE_NOFOLLOW
         * when the kernel cannot resolve in a root (before Linux 5.6). */
        READ_FILE_IN_ROOT = 1 << 2,
} ReadFileFlags;

/* Reads the regular file at path (relative to dir_fd, or AT_FDCWD) whole, at most max bytes,
 * NUL terminated. Always opened O_NONBLOCK|O_NOCTTY|O_CLOEXEC and refused unless regular, so
 * a FIFO, tty or device planted where a file was expected can neither stall the caller nor
 * become its controlling terminal. Returns 0, -EISDIR for a directory, -EBADMSG for any
 * other file that is not regular, -EFBIG (READ_FILE_REFUSE_LARGER), -ELOOP (a refused
 * symbolic link), or -errno. */
int read_full_file_at(int dir_fd, const char *path, size_t max, ReadFileFlags flags, char **ret,
                      size_t *ret_len);

/* read_full_file_at(AT_FDCWD, path, max, 0, …): the rest of a larger file is ignored. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len);
