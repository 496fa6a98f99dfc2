/* Nix store path helpers: names of store paths, finding .drv paths in Nix's messages. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define NIX_STORE_DIR_DEFAULT "/nix/store"
#define NIX_HASH_LEN          32

/* The largest .drv the daemon reads: real ones are kilobytes, rarely a few MiB. */
#define STORE_DRV_MAX (16u << 20)

/* True when path is "<store_dir>/<32-char hash>-<name>" with no further '/'. */
bool store_path_valid(const char *store_dir, const char *path);

/* The name part of a store path ("hello-2.12" for ".../abc…-hello-2.12.drv"; ".drv" is
 * removed). Returns 0 and a new string, -EINVAL when path is not a store path, -ENOMEM. */
int store_path_name(const char *store_dir, const char *path, char **ret);

/* Finds the first "<store_dir>/…….drv" path in text (quoted or not). Returns 1 and a new
 * string, 0 when there is none, -ENOMEM. */
int store_path_find_drv(const char *store_dir, const char *text, char **ret);

/* Reads the store file named by path, which may come from an untrusted peer: it must be a
 * valid store path (-EINVAL otherwise), is opened relative to the store directory without
 * following a symbolic link (-ELOOP), never blocks on a FIFO nor becomes a controlling
 * terminal, must be a regular file (-EISDIR, -EBADMSG) of at most max bytes (-EFBIG). Returns 0 and a
 * NUL-terminated buffer, or -errno. */
int store_file_read(const char *store_dir, const char *path, size_t max, char **ret, size_t *ret_len);

/* The system of the .drv at path drv (read with store_file_read, parsed by drv_buf_system).
 * A new string, or NULL when unreadable or absent. */
char *store_drv_system(const char *store_dir, const char *drv);
