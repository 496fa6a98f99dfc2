/* String helpers: prefixes, byte counts, ANSI escape stripping, UTF-8 validation and repair. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Returns a pointer just past the prefix in s, or NULL when s does not start with it. */
const char *startswith(const char *s, const char *prefix);

/* True when s is non-empty and only ASCII digits. */
bool string_is_digits(const char *s);

/* Decimal numbers, strictly: ASCII digits only. No blanks, '+', base prefix or '-' (which
 * strtoull() takes and wraps around): a number from a file, a peer or an option is digits or
 * refused. These are the project's one number parser. */

/* The digits at the start of s[0..len): 0 with their value and *ret_end just past them,
 * -EINVAL when s does not start with a digit, -ERANGE past UINT64_MAX. */
int parse_u64_prefix(const char *s, size_t len, const char **ret_end, uint64_t *ret);
/* All of s: 0, -EINVAL (empty, or anything but digits), -ERANGE (past UINT64_MAX). */
int safe_atou64(const char *s, uint64_t *ret);
/* All of s: an optional '-', then digits, within int64_t. 0, -EINVAL, -ERANGE. */
int safe_atoi64(const char *s, int64_t *ret);
/* A process id: digits only, 1 to INT_MAX. 0, -EINVAL, -ERANGE. */
int parse_pid(const char *s, pid_t *ret);

/* The value of the first record "<key><sep><value>" in buf[0..len), records ending at each
 * byte end ("Uid:\t0 …" lines of /proc/<pid>/status: '\n' and ':'; "oom_kill 3" lines of a
 * cgroup file: '\n' and ' '; "K=V" in an environ block: '\0' and '='). Returns the value and
 * its length up to its record's end in *ret_len, or NULL. */
const char *record_value(const char *buf, size_t len, char end, const char *key, char sep, size_t *ret_len);

/* A byte count: digits, then optionally K, M or G (times 1024, 1024², 1024³). 0 or -EINVAL
 * (not such a number, or past UINT64_MAX). */
int parse_size(const char *s, uint64_t *ret);

/* Removes ANSI/VT100 escape sequences (CSI "ESC [ ... final", OSC "ESC ] ... BEL/ST",
 * and two-byte ESC sequences) in place. Returns the new length. */
size_t ansi_strip(char *s);

/* True when buf[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool utf8_is_valid(const char *buf, size_t len);

/* Copies buf[0..len) into a new NUL-terminated string in which every ill-formed
 * sequence is replaced by U+FFFD. Returns 0 or -ENOMEM; *ret_len may be NULL. */
int utf8_sanitize(const char *buf, size_t len, char **ret, size_t *ret_len);
