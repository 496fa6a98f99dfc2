/* Bounded line framing: bytes from a stream go in, complete lines come out, and no line
 * longer than max_line is ever held whole, however long the peer makes it. */
#include "shared/linebuf.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"

/* First allocation. Big enough for a few hundred typical records per read(2), small enough
 * that many idle connections cost little; grown only for long lines. */
#define LINEBUF_INITIAL (16U * 1024U)
/* The least free space worth a read(2) or a copy; below it the buffer is compacted or grown. */
#define LINEBUF_MIN_ROOM (4U * 1024U)

/* Layout of buf[0..size):
 *
 *   [0, start)        delivered lines (their memory stays valid until the next call)
 *   [start, partial)  complete lines not yet delivered: buf[partial - 1] is a '\n'
 *   [partial, end)    the current incomplete line, never longer than max_line
 *   end < size        one byte always spare, so a final fragment can be NUL-terminated
 *
 * An incomplete line that outgrows max_line is dropped on the spot and the buffer enters
 * "discarding" mode, in which incoming bytes are thrown away up to the next '\n'. That is
 * what keeps a 100 MB line from being buffered. Delivered lines are not moved out of the
 * way after each line: the space before 'start' is reclaimed only when the free tail gets
 * short, which costs one memmove of the incomplete line per buffer-full. */
struct LineBuf {
        char *buf;
        size_t size;
        size_t start;
        size_t partial;
        size_t end;
        size_t max_line;
        bool discarding;
        uint64_t oversized;
};

int linebuf_new(size_t max_line, LineBuf **ret) {
        assert(ret);

        /* Room for the line, its '\n', the spare byte and a read's worth must not overflow. */
        if (max_line > SIZE_MAX / 2)
                return -EINVAL;

        LineBuf *lb = calloc(1, sizeof(LineBuf));
        if (!lb)
                return -ENOMEM;
        lb->max_line = max_line;
        *ret = lb;
        return 0;
}

LineBuf *linebuf_free(LineBuf *lb) {
        if (lb) {
                free(lb->buf);
                free(lb);
        }
        return NULL;
}

static size_t linebuf_room(const LineBuf *lb) {
        return lb->size > lb->end ? lb->size - lb->end - 1 : 0;
}

/* Makes at least 'want' bytes free at the tail if the size limit allows, reclaiming the
 * space of delivered lines first. Returns 0 (possibly with less room, when capped), or
 * -ENOMEM. */
static int linebuf_make_room(LineBuf *lb, size_t want, size_t cap) {
        if (lb->start == lb->end) {
                /* Everything delivered: start over at the front for free. After a long line,
                 * also give the memory back. */
                lb->start = lb->partial = lb->end = 0;
                if (lb->size > LINEBUF_INITIAL) {
                        char *p = realloc(lb->buf, LINEBUF_INITIAL);
                        if (p) {
                                lb->buf = p;
                                lb->size = LINEBUF_INITIAL;
                        }
                }
        }

        if (linebuf_room(lb) >= want)
                return 0;

        if (lb->start > 0) {
                memmove(lb->buf, lb->buf + lb->start, lb->end - lb->start);
                lb->partial -= lb->start;
                lb->end -= lb->start;
                lb->start = 0;
                if (linebuf_room(lb) >= want)
                        return 0;
        }

        if (lb->size >= cap)
                return 0;

        /* Double, so a long line costs O(log n) reallocations; at least the initial size. */
        if (lb->size > SIZE_MAX / 2 || want > SIZE_MAX / 2 - lb->end)
                return -ENOMEM;
        size_t need = lb->end + want + 1;
        size_t n = MAX(lb->size, (size_t) LINEBUF_INITIAL / 2) * 2;
        n = MIN(MAX(n, need), cap);
        char *p = realloc(lb->buf, n);
        if (!p)
                return -ENOMEM;
        lb->buf = p;
        lb->size = n;
        return 0;
}

/* Takes in n bytes just placed at buf[end..end+n). */
static void linebuf_absorb(LineBuf *lb, size_t n) {
        char *chunk = lb->buf + lb->end;

        if (lb->discarding) {
                char *nl = memchr(chunk, '\n', n);
                if (!nl)
                        return;
                /* The oversized line ends here; keep what follows it. */
                size_t skip = (size_t) (nl - chunk) + 1;
                n -= skip;
                memmove(chunk, nl + 1, n);
                lb->discarding = false;
        }

        char *nl = memrchr(chunk, '\n', n);
        lb->end += n;
        if (nl)
                lb->partial = (size_t) (nl - lb->buf) + 1;

        if (lb->end - lb->partial > lb->max_line) {
                lb->oversized++;
                lb->end = lb->partial;
                lb->discarding = true;
        }
}

ssize_t linebuf_read(LineBuf *lb, int fd) {
        assert(lb);

        /* Enough for the longest incomplete line plus one useful read; complete lines the
         * caller has not taken out yet do not make the buffer grow past this. */
        size_t cap = lb->max_line + 2 + LINEBUF_MIN_ROOM;
        int r = linebuf_make_room(lb, LINEBUF_MIN_ROOM, cap);
        if (r < 0)
                return r;

        size_t room = linebuf_room(lb);
        if (room == 0)
                return -ENOBUFS;

        ssize_t n;
        do
                n = read(fd, lb->buf + lb->end, room);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;

        if (n > 0)
                linebuf_absorb(lb, (size_t) n);
        return n;
}

int linebuf_feed(LineBuf *lb, const void *data, size_t len) {
        const char *p = data;

        assert(lb);
        assert(p || len == 0);

        while (len > 0) {
                if (lb->discarding) {
                        /* Skip the rest of an oversized line without copying it. */
                        const char *nl = memchr(p, '\n', len);
                        if (!nl)
                                return 0;
                        len -= (size_t) (nl - p) + 1;
                        p = nl + 1;
                        lb->discarding = false;
                        continue;
                }

                /* Complete lines may pile up here (the caller feeds without taking lines
                 * out), so no cap; the incomplete line is still bounded by absorb. */
                int r = linebuf_make_room(lb, MIN(len, (size_t) LINEBUF_MIN_ROOM * 16), SIZE_MAX);
                if (r < 0)
                        return r;

                size_t n = MIN(len, linebuf_room(lb));
                memcpy(lb->buf + lb->end, p, n);
                linebuf_absorb(lb, n);
                p += n;
                len -= n;
        }
        return 0;
}

int linebuf_next(LineBuf *lb, char **ret_line, size_t *ret_len) {
        assert(lb);
        assert(ret_line);

        while (lb->start < lb->partial) {
                char *line = lb->buf + lb->start;
                char *nl = memchr(line, '\n', lb->partial - lb->start);
                assert(nl); /* buf[partial - 1] is a '\n' */

                size_t n = (size_t) (nl - line);
                lb->start += n + 1;
                /* A line can arrive whole in one chunk and still be too long. */
                if (n > lb->max_line) {
                        lb->oversized++;
                        continue;
                }
                *nl = '\0';
                *ret_line = line;
                if (ret_len)
                        *ret_len = n;
                return 1;
        }
        return 0;
}

int linebuf_take_partial(LineBuf *lb, char **ret_line, size_t *ret_len) {
        assert(lb);
        assert(ret_line);

        int r = linebuf_next(lb, ret_line, ret_len);
        if (r != 0)
                return r;

        /* An oversized fragment was counted when it overflowed; nothing is left of it. */
        if (lb->discarding || lb->partial == lb->end)
                return 0;

        char *line = lb->buf + lb->partial;
        size_t n = lb->end - lb->partial;
        line[n] = '\0'; /* the spare byte */
        lb->start = lb->partial = lb->end;
        *ret_line = line;
        if (ret_len)
                *ret_len = n;
        return 1;
}

uint64_t linebuf_oversized(const LineBuf *lb) {
        assert(lb);
        return lb->oversized;
}
