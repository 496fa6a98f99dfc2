/* Where the sockets live: NIX_ANALYTICS_SOCKET_DIR, else $XDG_RUNTIME_DIR/nix-analytics,
 * else /run/nix-analytics (see docs/protocol.md). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define NA_EVENTS_SOCKET     "events.sock"
#define NA_CONTROL_SOCKET    "control.sock"
#define NA_SYSTEM_SOCKET_DIR "/run/nix-analytics"

typedef enum SockDirUse {
        SOCKDIR_FOR_DAEMON, /* a non-root daemon uses $XDG_RUNTIME_DIR; root uses /run */
        SOCKDIR_FOR_CLIENT, /* $XDG_RUNTIME_DIR only when the wanted socket exists there */
} SockDirUse;

/* Resolves the socket directory. env_dir/xdg_runtime are the values of the environment
 * variables (pass getenv() results; injectable for tests), uid the caller's uid,
 * socket_name the socket a client wants (ignored for the daemon). Returns 0 and a newly
 * allocated path, or -ENOMEM. */
int sockdir_resolve(SockDirUse use, const char *env_dir, const char *xdg_runtime, unsigned uid,
                    const char *socket_name, char **ret);

/* Same, from the real environment and getuid(). */
int sockdir_resolve_env(SockDirUse use, const char *socket_name, char **ret);

/* dir + "/" + name, newly allocated; -ENAMETOOLONG when it cannot fit a sockaddr_un. */
int sockdir_socket_path(const char *dir, const char *name, char **ret);

/* Whether dir may hold the sockets of a daemon running as owner: a directory, not a symbolic
 * link, owned by owner, writable by nobody else (another user who can write there can put
 * her own control socket in place of ours). Returns 0, -ENOTDIR (not a directory), -ELOOP (a
 * symbolic link), -EPERM (owned by another uid), -EACCES (group or other may write), or
 * -errno from lstat(). */
int sockdir_check(const char *dir, uid_t owner);

/* Creates dir (and missing parents) with mode 0755, then sockdir_check()s it: an existing
 * directory is used only when it passes. Returns 0 or the errors above. */
int sockdir_make(const char *dir, uid_t owner);
