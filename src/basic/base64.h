/* Base64 (RFC 4648, with padding): binary kept inside a JSON document (a build's timeline in
 * the state file). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The text of len bytes, NUL-terminated and malloc'd in *ret. 0 or -ENOMEM. */
int base64_encode(const uint8_t *data, size_t len, char **ret);
/* The bytes of text (len characters, a multiple of 4, padded; no whitespace), malloc'd in *ret
 * (NULL for ""). 0, -EBADMSG (not base64), -ENOMEM. */
int base64_decode(const char *text, size_t len, uint8_t **ret, size_t *ret_len);
