/* Who the plugin runs in and who asked for the work: the process kind from its command line,
 * and for a nix-daemon worker the client on the other end of its connection. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum IdentKind {
        IDENT_NIX,        /* nix, nix-build, nix-store, ... run directly */
        IDENT_NIX_DAEMON, /* nix-daemon (or nix daemon) */
        /* nix-daemon --stdio (how ssh-ng runs it on a remote builder): one process serving
         * its standard streams itself, as a worker would, when its store is local (root);
         * else it only relays to the system daemon, whose worker reports */
        IDENT_NIX_DAEMON_STDIO,
        IDENT_BUILD_HOOK, /* build-remote / nix __build-remote: stays silent */
} IdentKind;

/* Classifies a process from its NUL-separated command line (as in /proc/PID/cmdline). */
IdentKind ident_kind_from_cmdline(const char *buf, size_t len);
IdentKind ident_kind_self(void);

/* /proc/PID/cmdline with the NULs turned into spaces, newly allocated. -errno. */
int ident_cmdline(pid_t pid, char **ret);

/* The client of a daemon worker: the peer of its connected Unix stream socket (listening
 * sockets, sockets without a peer and except_fd are skipped). -ENOENT when there is none. */
int ident_find_client(int except_fd, pid_t *ret_pid, uid_t *ret_uid);
