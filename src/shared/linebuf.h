/* Bounded line framing for stream sockets and pipes: bytes in, complete lines out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct LineBuf LineBuf;

/* max_line: longest line (without '\n') delivered; longer lines are discarded whole,
 * counted, and framing resumes after their newline. */
int linebuf_new(size_t max_line, LineBuf **ret);
LineBuf *linebuf_free(LineBuf *lb);

/* Reads once from fd into the buffer (up to the free space, growing up to max_line).
 * Returns bytes read (> 0), 0 at EOF, -EAGAIN when nothing is ready, or -errno.
 * -ENOBUFS: the buffer is full of complete lines; take them out with linebuf_next() first
 * (a caller that drains after every read never sees it). EINTR is retried. */
ssize_t linebuf_read(LineBuf *lb, int fd);

/* Appends bytes directly (for tests and in-process producers). Returns 0 or -ENOMEM.
 * Any amount at once: an oversized line is dropped without being buffered whole, but complete
 * lines not yet taken out stay buffered. */
int linebuf_feed(LineBuf *lb, const void *data, size_t len);

/* Returns 1 and the next complete line (pointer into the buffer, valid until the next
 * linebuf_* call; NUL-terminated in place, '\r' before '\n' not removed), 0 if none is
 * complete yet. */
int linebuf_next(LineBuf *lb, char **ret_line, size_t *ret_len);

/* At EOF: like linebuf_next(), and once no complete line is left, the final unterminated
 * fragment, if any and not oversized (1/0 like linebuf_next). */
int linebuf_take_partial(LineBuf *lb, char **ret_line, size_t *ret_len);

/* Lines discarded because they exceeded max_line. */
uint64_t linebuf_oversized(const LineBuf *lb);
