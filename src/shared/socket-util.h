/* Connecting to the daemon's Unix sockets, for its clients. */
#pragma once

/* Connects a new non-blocking SOCK_STREAM socket (close-on-exec) to the Unix socket at path.
 * Non-blocking from the start: a daemon whose listen backlog is full (stopped, or overwhelmed)
 * makes this fail with -EAGAIN instead of hanging. Returns 0 with the fd in *ret_fd,
 * -ENAMETOOLONG, or the -errno of socket(2) or connect(2) (-ENOENT, -ECONNREFUSED, -EACCES,
 * ...: no daemon there). */
int socket_connect_unix(const char *path, int *ret_fd);
