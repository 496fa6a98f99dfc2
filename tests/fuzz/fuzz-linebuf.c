/* Fuzz target for line framing, checked against a trivially correct model: however the
 * stream is cut into feeds or reads, the lines that come out (and the count of oversized
 * ones) must be exactly those of splitting the whole stream at '\n'.
 * Input: byte 0 picks max_line, byte 1 the cutting pattern and feed() or read(2) through a
 * pipe, the rest is the stream. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "fuzz.h"
#include "shared/linebuf.h"

typedef struct Expect {
        const uint8_t *stream;
        size_t size;
        size_t pos; /* where the next expected line starts */
        size_t max_line;
        uint64_t oversized;
} Expect;

/* The model: the next line of the stream that is not oversized, counting those skipped. */
static bool expect_next(Expect *e, const uint8_t **ret, size_t *ret_len, bool at_eof) {
        while (e->pos < e->size) {
                const uint8_t *start = e->stream + e->pos;
                const uint8_t *nl = memchr(start, '\n', e->size - e->pos);
                if (!nl && !at_eof)
                        return false;
                size_t len = nl ? (size_t) (nl - start) : e->size - e->pos;
                e->pos += len + (nl ? 1 : 0);
                if (len > e->max_line) {
                        e->oversized++;
                        continue;
                }
                *ret = start;
                *ret_len = len;
                return true;
        }
        return false;
}

static void check_line(Expect *e, const char *line, size_t len, bool at_eof) {
        const uint8_t *want;
        size_t want_len;

        if (!expect_next(e, &want, &want_len, at_eof))
                abort();
        if (len != want_len || memcmp(line, want, len) != 0 || line[len] != '\0')
                abort();
}

static void drain(LineBuf *lb, Expect *e) {
        char *line;
        size_t len;
        while (linebuf_next(lb, &line, &len) > 0)
                check_line(e, line, len, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 2)
                return 0;

        /* Mostly tiny limits, so that oversized lines are frequent; the top quarter of byte 0
         * gives limits of up to ~19 KiB, beyond the first allocation, so the buffer grows. */
        size_t max_line = data[0] < 192 ? data[0] % 64 : (size_t) (data[0] - 192) * 300;
        unsigned pattern = data[1];
        bool use_read = pattern & 1;
        Expect e = {.stream = data + 2, .size = size - 2, .max_line = max_line};
        LineBuf *lb = NULL;
        int p[2] = {-1, -1};

        if (linebuf_new(max_line, &lb) < 0)
                abort();
        if (use_read && pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                abort();

        /* Cut the stream into pieces of 1..(pattern / 2 % 17 + 1) * 7 bytes. */
        size_t step = (size_t) (pattern / 2 % 17 + 1) * 7;
        unsigned seed = pattern;
        for (size_t off = 0; off < e.size;) {
                seed = seed * 1103515245U + 12345U;
                size_t n = MIN(e.size - off, (size_t) (seed >> 16) % step + 1);

                if (use_read) {
                        if (write(p[1], e.stream + off, n) != (ssize_t) n)
                                abort();
                        for (;;) {
                                ssize_t r = linebuf_read(lb, p[0]);
                                if (r == -EAGAIN)
                                        break;
                                if (r <= 0) /* a caller that drains never sees -ENOBUFS */
                                        abort();
                                drain(lb, &e);
                        }
                } else {
                        if (linebuf_feed(lb, e.stream + off, n) < 0)
                                abort();
                        drain(lb, &e);
                }
                off += n;
        }

        char *line;
        size_t len;
        while (linebuf_take_partial(lb, &line, &len) > 0)
                check_line(&e, line, len, true);

        /* Nothing left over on either side, and the same lines were judged oversized. */
        const uint8_t *rest;
        size_t rest_len;
        if (expect_next(&e, &rest, &rest_len, true))
                abort();
        if (linebuf_oversized(lb) != e.oversized)
                abort();

        if (p[0] >= 0) {
                close(p[0]);
                close(p[1]);
        }
        linebuf_free(lb);
        return 0;
}
