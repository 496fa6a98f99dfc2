/* Reading small files whole: /proc and cgroupfs files (which report size 0), .drv files,
 * JSON files inside a builder's root. */
#pragma once

#include <stddef.h>

/* Reads the regular file at path whole, at most max bytes (the rest is ignored), NUL
 * terminated. Opened non-blocking and refused unless regular, so a FIFO or device planted
 * where a file was expected cannot stall the caller. Returns 0, -EBADMSG for a file that
 * is not regular, or -errno (open/read). */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len);
