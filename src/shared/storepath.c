/* Nix store path helpers: names of store paths, finding .drv paths in Nix's messages. */
#include "shared/storepath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/drv.h"

/* Nix's base-32 alphabet (no e, o, u, t). */
static bool is_hash_char(char c) {
        return (c >= '0' && c <= '9') ||
               (c >= 'a' && c <= 'z' && c != 'e' && c != 'o' && c != 'u' && c != 't');
}

/* Characters Nix allows in store path names. */
static bool is_name_char(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               strchr("+-._?=", c) != NULL;
}

/* Length of the base name ("<hash>-<name>") at p, or 0 if p does not start with one. */
static size_t base_name_len(const char *p) {
        for (size_t i = 0; i < NIX_HASH_LEN; i++)
                if (!is_hash_char(p[i]))
                        return 0;
        if (p[NIX_HASH_LEN] != '-')
                return 0;
        size_t n = NIX_HASH_LEN + 1;
        while (p[n] && is_name_char(p[n]))
                n++;
        return n > NIX_HASH_LEN + 1 ? n : 0;
}

bool store_path_valid(const char *store_dir, const char *path) {
        const char *p = startswith(path, store_dir);
        if (!p || *p != '/')
                return false;
        p++;
        size_t n = base_name_len(p);
        return n > 0 && p[n] == '\0';
}

int store_path_name(const char *store_dir, const char *path, char **ret) {
        if (!store_path_valid(store_dir, path))
                return -EINVAL;
        const char *name = path + strlen(store_dir) + 1 + NIX_HASH_LEN + 1;
        size_t len = strlen(name);
        if (len > 4 && strcmp(name + len - 4, ".drv") == 0)
                len -= 4;
        char *s = strndup(name, len);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int store_path_find_drv(const char *store_dir, const char *text, char **ret) {
        size_t dlen = strlen(store_dir);

        for (const char *p = strstr(text, store_dir); p; p = strstr(p + 1, store_dir)) {
                const char *base = p + dlen;
                if (*base != '/')
                        continue;
                size_t n = base_name_len(base + 1);
                if (n < 5 || strncmp(base + 1 + n - 4, ".drv", 4) != 0)
                        continue;
                char *s = strndup(p, dlen + 1 + n);
                if (!s)
                        return -ENOMEM;
                *ret = s;
                return 1;
        }
        return 0;
}

int store_file_read(const char *store_dir, const char *path, size_t max, char **ret, size_t *ret_len) {
        if (!store_path_valid(store_dir, path))
                return -EINVAL;
        /* The store directory is configuration, not wire input: it may be reached through a
         * symbolic link. The base name is the only part a peer chose, and it has no '/'. */
        _cleanup_close_ int dir_fd = open(store_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        return read_full_file_at(dir_fd, path + strlen(store_dir) + 1, max,
                                 READ_FILE_NOFOLLOW | READ_FILE_REFUSE_LARGER, ret, ret_len);
}

char *store_drv_system(const char *store_dir, const char *drv) {
        _cleanup_free_ char *buf = NULL;
        size_t got;
        if (store_file_read(store_dir, drv, STORE_DRV_MAX, &buf, &got) < 0)
                return NULL;
        return drv_buf_system(buf, got);
}
