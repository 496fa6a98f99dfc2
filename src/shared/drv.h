/* Reader for Nix .drv files (ATerm "Derive(...)"): for now the outputs, which decide
 * whether a build succeeded. */
#pragma once

#include <stddef.h>

typedef struct DrvOutput {
        char *name; /* "out", "dev", ... */
        char *path; /* "" for content-addressed outputs not yet known */
} DrvOutput;

/* Parses the outputs list of a .drv held in buf[0..len) (need not be NUL-terminated).
 * Accepts "Derive(" and "DrvWithVersion(<version>," forms. Returns the number of outputs
 * (>= 1) and a new array, or -EBADMSG on malformed input, -ENOMEM. */
int drv_parse_outputs(const char *buf, size_t len, DrvOutput **ret);
void drv_outputs_free(DrvOutput *o, size_t n);
