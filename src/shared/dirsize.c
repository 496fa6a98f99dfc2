/* Bounded disk usage of a directory tree (see dirsize.h). */
#include "shared/dirsize.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "basic/macro.h"

#define NEARLY_FULL_BYTES (UINT64_C(1) << 30)
#define SANDBOX_DIR       "/build"     /* Nix's sandbox-build-dir default */
#define TMP_DIR_MARK      "nix-build-" /* the start of a build directory's name outside a sandbox */
#define BUILDS_DIR        "builds"     /* from 2.30 or so: <state dir>/builds/nix-<pid>-<n> */
#define BUILDS_MARK       "nix-"

static bool is_dot(const char *name) {
        return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* A subdirectory, opened only if it is still the one stat'ed (not swapped for a link or
 * another directory meanwhile). NULL when it cannot be. */
static DIR *open_child(int parent, const char *name, const struct stat *st) {
        int fd = openat(parent, name,
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return NULL;
        struct stat now;
        DIR *d = NULL;
        if (fstat(fd, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino)
                d = fdopendir(fd);
        if (!d)
                close(fd);
        return d;
}

int dir_size(int dir_fd, usec_t budget, DirSize *ret) {
        struct stat top;
        struct statvfs vfs;
        if (fstat(dir_fd, &top) < 0 || fstatvfs(dir_fd, &vfs) < 0)
                return -errno;
        if (!S_ISDIR(top.st_mode))
                return -ENOTDIR;
        DirSize r = {
                .bytes = (uint64_t) top.st_blocks * 512,
                .fs_free = (uint64_t) vfs.f_bavail * vfs.f_frsize,
                .fs_size = (uint64_t) vfs.f_blocks * vfs.f_frsize,
        };
        /* Our own descriptor of it: the walk reads it to its end and closes it. */
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        DIR *stack[DIRSIZE_MAX_DEPTH];
        size_t depth = 0;
        if (fd < 0)
                return -errno;
        if (!(stack[0] = fdopendir(fd))) {
                int k = -errno;
                close(fd);
                return k;
        }
        depth = 1;
        usec_t deadline = budget ? now_monotonic() + budget : 0;
        while (depth > 0) {
                DIR *d = stack[depth - 1];
                struct dirent *de = readdir(d);
                if (!de) {
                        closedir(d);
                        depth--;
                        continue;
                }
                if (is_dot(de->d_name))
                        continue;
                if (++r.entries > DIRSIZE_MAX_ENTRIES ||
                    (deadline && (r.entries & 255) == 0 && now_monotonic() > deadline)) {
                        r.truncated = true;
                        break;
                }
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone meanwhile */
                if (st.st_dev != top.st_dev)
                        continue; /* a mount inside: another filesystem's space */
                r.bytes += (uint64_t) st.st_blocks * 512;
                if (!S_ISDIR(st.st_mode))
                        continue;
                if (depth == DIRSIZE_MAX_DEPTH) {
                        r.truncated = true;
                        continue;
                }
                DIR *child = open_child(dirfd(d), de->d_name, &st);
                if (child)
                        stack[depth++] = child;
        }
        while (depth > 0)
                closedir(stack[--depth]);
        *ret = r;
        return 0;
}

bool dir_size_fs_nearly_full(const DirSize *s) {
        return s->fs_size > 0 && (s->fs_free < s->fs_size / 20 || s->fs_free < NEARLY_FULL_BYTES);
}

int dir_size_build_dir(const char *cwd, char **ret_path, unsigned *ret_up) {
        size_t top = 0;
        if (strncmp(cwd, SANDBOX_DIR, strlen(SANDBOX_DIR)) == 0 &&
            (cwd[strlen(SANDBOX_DIR)] == '/' || cwd[strlen(SANDBOX_DIR)] == '\0'))
                top = strlen(SANDBOX_DIR);
        const char *parent = NULL; /* the previous component */
        for (const char *p = cwd; !top && (p = strchr(p, '/')); p++) {
                const char *name = p + 1;
                size_t len = strcspn(name, "/");
                bool under_builds = parent && strncmp(parent, BUILDS_DIR "/", strlen(BUILDS_DIR) + 1) == 0;
                if (strncmp(name, TMP_DIR_MARK, strlen(TMP_DIR_MARK)) == 0 ||
                    (under_builds && strncmp(name, BUILDS_MARK, strlen(BUILDS_MARK)) == 0))
                        top = (size_t) (name - cwd) + len;
                if (len > 0)
                        parent = name;
        }
        if (!top)
                return -ENOENT;
        unsigned up = 0;
        for (const char *p = cwd + top; *p; p++)
                if (*p == '/' && p[1] && p[1] != '/')
                        up++;
        char *path = strndup(cwd, top);
        if (!path)
                return -ENOMEM;
        *ret_path = path;
        *ret_up = up;
        return 0;
}
