/* Listening Unix sockets created safely: right mode from the start, stale files replaced,
 * a live daemon never displaced. */
#pragma once

#include <sys/types.h>

/* Binds and listens on path with the given mode (applied through umask during bind).
 * Returns the fd (non-blocking, close-on-exec), -EADDRINUSE when another process is
 * listening there, -EEXIST when path exists and is not a socket of ours, or -errno. */
int listener_open(const char *path, mode_t mode);
