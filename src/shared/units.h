/* Values of resource limits as people type them: cores ("0.5", "2") and sizes ("4G", "512M");
 * and sizes as people read them, short. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Cores: a positive decimal number up to 4096, at least 0.01. Returns 0 or -EINVAL. */
int units_parse_cores(const char *s, double *ret);
/* Bytes: a positive integer with an optional binary suffix K, M, G, T (also KiB, MB, ...:
 * all powers of 1024) or B. At least 1 MiB (less cannot hold a build). 0 or -EINVAL/-ERANGE. */
int units_parse_bytes(const char *s, uint64_t *ret);

/* A size, short and fixed-width friendly: 1023B, 1.5K, 12M, 3.2G (powers of 1024, one
 * decimal below 10), "-" when negative (unknown). Writes at most n bytes, returns buf. */
char *units_format_bytes(char *buf, size_t n, double bytes);
