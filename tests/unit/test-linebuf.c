/* Unit tests for bounded line framing (src/shared/linebuf.c): partial lines, CRLF, oversized
 * lines in every position, reads from real sockets, and a 100 MB line that must not be
 * buffered. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/macro.h"
#include "shared/linebuf.h"

#define MIB (1024U * 1024U)

static LineBuf *new_linebuf(size_t max_line) {
        LineBuf *lb = NULL;
        assert_int_equal(linebuf_new(max_line, &lb), 0);
        assert_non_null(lb);
        return lb;
}

static void feed_str(LineBuf *lb, const char *s) {
        assert_int_equal(linebuf_feed(lb, s, strlen(s)), 0);
}

static void assert_next(LineBuf *lb, const char *expected) {
        char *line = NULL;
        size_t len = 0;
        assert_int_equal(linebuf_next(lb, &line, &len), 1);
        assert_string_equal(line, expected);
        assert_int_equal(len, strlen(expected));
}

static void assert_no_next(LineBuf *lb) {
        char *line = NULL;
        size_t len = 0;
        assert_int_equal(linebuf_next(lb, &line, &len), 0);
}

static void assert_partial(LineBuf *lb, const char *expected) {
        char *line = NULL;
        size_t len = 0;
        if (!expected) {
                assert_int_equal(linebuf_take_partial(lb, &line, &len), 0);
                return;
        }
        assert_int_equal(linebuf_take_partial(lb, &line, &len), 1);
        assert_string_equal(line, expected);
        assert_int_equal(len, strlen(expected));
}

/* A connected pair: [0] non-blocking, for the reader; [1] blocking, for the writer. */
static void make_socketpair(int fds[2]) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        int flags = fcntl(fds[0], F_GETFL);
        assert_true(flags >= 0);
        assert_int_equal(fcntl(fds[0], F_SETFL, flags | O_NONBLOCK), 0);
}

static void write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        _exit(EXIT_FAILURE);
                p += n;
                len -= (size_t) n;
        }
}

/* Reads fd to EOF through lb (waiting with a deadline, never sleeping), handing each line to
 * on_line, and the final fragment too. Returns the number of lines. */
static size_t read_to_eof(LineBuf *lb, int fd, void (*on_line)(const char *line, size_t len, void *userdata),
                          void *userdata) {
        size_t lines = 0;
        for (;;) {
                ssize_t n = linebuf_read(lb, fd);
                if (n == -EAGAIN) {
                        struct pollfd p = {.fd = fd, .events = POLLIN};
                        int r = poll(&p, 1, 30 * 1000);
                        assert_int_equal(r, 1);
                        continue;
                }
                assert_true(n >= 0);

                char *line;
                size_t len;
                while (linebuf_next(lb, &line, &len) > 0) {
                        assert_int_equal(line[len], '\0');
                        assert_null(memchr(line, '\n', len));
                        on_line(line, len, userdata);
                        lines++;
                }
                if (n == 0) {
                        if (linebuf_take_partial(lb, &line, &len) > 0) {
                                on_line(line, len, userdata);
                                lines++;
                        }
                        return lines;
                }
        }
}

static long max_rss_kib(void) {
        struct rusage ru;
        assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
        return ru.ru_maxrss;
}

static void test_new_free(void **state) {
        LineBuf *lb = NULL;

        assert_null(linebuf_free(NULL));
        assert_int_equal(linebuf_new(SIZE_MAX, &lb), -EINVAL);
        assert_null(lb);
        lb = new_linebuf(0);
        assert_int_equal(linebuf_oversized(lb), 0);
        assert_no_next(lb);
        assert_partial(lb, NULL);
        assert_null(linebuf_free(lb));
}

static void test_lines(void **state) {
        LineBuf *lb = new_linebuf(100);

        feed_str(lb, "first\nsecond\n\nfourth\n");
        assert_next(lb, "first");
        assert_next(lb, "second");
        assert_next(lb, "");
        assert_next(lb, "fourth");
        assert_no_next(lb);
        assert_partial(lb, NULL);
        assert_int_equal(linebuf_oversized(lb), 0);

        /* Nothing fed is harmless. */
        assert_int_equal(linebuf_feed(lb, NULL, 0), 0);
        assert_int_equal(linebuf_feed(lb, "", 0), 0);
        assert_no_next(lb);
        linebuf_free(lb);
}

static void test_partial_lines(void **state) {
        LineBuf *lb = new_linebuf(100);

        feed_str(lb, "ab");
        assert_no_next(lb);
        feed_str(lb, "c");
        assert_no_next(lb);
        feed_str(lb, "\nde");
        assert_next(lb, "abc");
        assert_no_next(lb);
        feed_str(lb, "f\ng");
        assert_next(lb, "def");
        assert_no_next(lb);

        /* At EOF the fragment comes out once. */
        assert_partial(lb, "g");
        assert_partial(lb, NULL);
        assert_no_next(lb);

        /* take_partial hands out complete lines first. */
        feed_str(lb, "h\ni\nj");
        assert_partial(lb, "h");
        assert_partial(lb, "i");
        assert_partial(lb, "j");
        assert_partial(lb, NULL);
        linebuf_free(lb);
}

static void test_byte_by_byte(void **state) {
        const char *input = "one\ntwo\r\nthree\n\nfour";
        LineBuf *lb = new_linebuf(100);
        char *line;
        size_t len;
        unsigned got = 0;
        static const char *const expected[] = {"one", "two\r", "three", ""};

        for (const char *p = input; *p; p++) {
                assert_int_equal(linebuf_feed(lb, p, 1), 0);
                while (linebuf_next(lb, &line, &len) > 0) {
                        assert_true(got < 4);
                        assert_string_equal(line, expected[got]);
                        got++;
                }
        }
        assert_int_equal(got, 4);
        assert_partial(lb, "four");
        linebuf_free(lb);
}

static void test_crlf(void **state) {
        LineBuf *lb = new_linebuf(5);

        /* The '\r' stays in the line and counts towards its length. */
        feed_str(lb, "x\r\n\r\n1234\r\n12345\r\nok\n");
        assert_next(lb, "x\r");
        assert_next(lb, "\r");
        assert_next(lb, "1234\r");
        assert_next(lb, "ok");
        assert_int_equal(linebuf_oversized(lb), 1);
        linebuf_free(lb);
}

static void test_nul_in_line(void **state) {
        LineBuf *lb = new_linebuf(100);
        char *line;
        size_t len;

        assert_int_equal(linebuf_feed(lb, "a\0b\n", 4), 0);
        assert_int_equal(linebuf_next(lb, &line, &len), 1);
        assert_int_equal(len, 3);
        assert_memory_equal(line, "a\0b", 4);
        linebuf_free(lb);
}

static void test_line_valid_until_next_call(void **state) {
        LineBuf *lb = new_linebuf(100);
        char *a, *b;
        size_t len;

        feed_str(lb, "alpha\nbeta\n");
        assert_int_equal(linebuf_next(lb, &a, &len), 1);
        assert_int_equal(linebuf_next(lb, &b, NULL), 1);
        /* Both still intact: delivered lines are not moved until more input arrives. */
        assert_string_equal(a, "alpha");
        assert_string_equal(b, "beta");
        linebuf_free(lb);
}

static void test_max_line_boundary(void **state) {
        LineBuf *lb = new_linebuf(5);

        feed_str(lb, "12345\n123456\n");
        assert_next(lb, "12345");
        assert_no_next(lb);
        assert_int_equal(linebuf_oversized(lb), 1);

        /* A zero max_line passes only empty lines. */
        LineBuf *z = new_linebuf(0);
        feed_str(z, "\nx\n\n");
        assert_next(z, "");
        assert_next(z, "");
        assert_no_next(z);
        assert_int_equal(linebuf_oversized(z), 1);
        linebuf_free(z);
        linebuf_free(lb);
}

static void test_oversized_positions(void **state) {
        LineBuf *lb = new_linebuf(5);

        /* Whole in one feed, between good lines. */
        feed_str(lb, "a\ntoolongline\nb\n");
        assert_next(lb, "a");
        assert_next(lb, "b");
        assert_no_next(lb);
        assert_int_equal(linebuf_oversized(lb), 1);

        /* Growing over several feeds, its end arriving with the next good line. */
        feed_str(lb, "1234");
        feed_str(lb, "5678");
        feed_str(lb, "9012");
        assert_no_next(lb);
        feed_str(lb, "34\nc\n");
        assert_next(lb, "c");
        assert_int_equal(linebuf_oversized(lb), 2);

        /* Two in a row, then a good one. */
        feed_str(lb, "1234567\n8901234\nd\n");
        assert_next(lb, "d");
        assert_no_next(lb);
        assert_int_equal(linebuf_oversized(lb), 4);

        /* The same, one byte at a time. */
        const char *s = "1234567\n8901234\ne\n";
        for (const char *p = s; *p; p++)
                assert_int_equal(linebuf_feed(lb, p, 1), 0);
        assert_next(lb, "e");
        assert_no_next(lb);
        assert_int_equal(linebuf_oversized(lb), 6);

        /* An oversized fragment at EOF is counted and not handed out. */
        feed_str(lb, "f\n12345678");
        assert_partial(lb, "f");
        assert_partial(lb, NULL);
        assert_int_equal(linebuf_oversized(lb), 7);
        linebuf_free(lb);
}

static void test_many_short_lines(void **state) {
        /* 200000 lines fed in chunks of awkward sizes: every line arrives, in order. */
        const unsigned n = 200000;
        size_t cap = (size_t) n * 16;
        char *input = malloc(cap);
        size_t len = 0;
        LineBuf *lb = new_linebuf(64);

        assert_non_null(input);
        for (unsigned i = 0; i < n; i++)
                len += (size_t) snprintf(input + len, cap - len, "line %u\n", i);

        unsigned next = 0;
        size_t chunk = 1;
        for (size_t off = 0; off < len; off += chunk, chunk = chunk * 7 % 9973 + 1) {
                size_t c = off + chunk > len ? len - off : chunk;
                assert_int_equal(linebuf_feed(lb, input + off, c), 0);
                char *line;
                size_t l;
                while (linebuf_next(lb, &line, &l) > 0) {
                        char want[32];
                        snprintf(want, sizeof(want), "line %u", next++);
                        assert_string_equal(line, want);
                }
        }
        assert_int_equal(next, n);
        assert_int_equal(linebuf_oversized(lb), 0);
        free(input);
        linebuf_free(lb);
}

static void test_feed_huge_without_draining(void **state) {
        /* Complete lines fed without taking them out stay buffered (feed has no cap). */
        LineBuf *lb = new_linebuf(16);
        char line[16];

        for (unsigned i = 0; i < 100000; i++) {
                int k = snprintf(line, sizeof(line), "%u\n", i);
                assert_int_equal(linebuf_feed(lb, line, (size_t) k), 0);
        }
        for (unsigned i = 0; i < 100000; i++) {
                snprintf(line, sizeof(line), "%u", i);
                assert_next(lb, line);
        }
        assert_no_next(lb);
        linebuf_free(lb);
}

static void test_feed_100mb_line(void **state) {
        /* 100 MB in 1 MB feeds, no newline until the end: dropped on the fly. */
        LineBuf *lb = new_linebuf(MIB);
        char *chunk = malloc(MIB);
        long before = max_rss_kib();

        assert_non_null(chunk);
        memset(chunk, 'x', MIB);
        feed_str(lb, "before\n");
        for (unsigned i = 0; i < 100; i++)
                assert_int_equal(linebuf_feed(lb, chunk, MIB), 0);
        feed_str(lb, "\nafter\n");
        assert_next(lb, "before");
        assert_next(lb, "after");
        assert_no_next(lb);
        assert_int_equal(linebuf_oversized(lb), 1);
        assert_true(max_rss_kib() - before < 32 * 1024);
        free(chunk);
        linebuf_free(lb);
}

typedef struct Collect {
        size_t lines;
        size_t bytes;
        char last[64];
} Collect;

static void collect(const char *line, size_t len, void *userdata) {
        Collect *c = userdata;
        c->lines++;
        c->bytes += len;
        snprintf(c->last, sizeof(c->last), "%.*s", (int) MIN(len, 40), line);
}

static void test_read_socket(void **state) {
        int fds[2];
        LineBuf *lb = new_linebuf(100);

        make_socketpair(fds);
        assert_int_equal(linebuf_read(lb, fds[0]), -EAGAIN);

        write_all(fds[1], "hello\nwor", 9);
        assert_int_equal(linebuf_read(lb, fds[0]), 9);
        assert_next(lb, "hello");
        assert_no_next(lb);
        assert_int_equal(linebuf_read(lb, fds[0]), -EAGAIN);

        write_all(fds[1], "ld\r\nend", 7);
        assert_int_equal(linebuf_read(lb, fds[0]), 7);
        assert_next(lb, "world\r");
        close(fds[1]);
        assert_int_equal(linebuf_read(lb, fds[0]), 0);
        assert_partial(lb, "end");
        assert_int_equal(linebuf_read(lb, fds[0]), 0);

        close(fds[0]);
        assert_int_equal(linebuf_read(lb, fds[0]), -EBADF);
        linebuf_free(lb);
}

static void test_read_pipe(void **state) {
        int p[2];
        LineBuf *lb = new_linebuf(100);

        assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        assert_int_equal(linebuf_read(lb, p[0]), -EAGAIN);
        write_all(p[1], "a\nb\n", 4);
        close(p[1]);
        Collect c = {0};
        assert_int_equal(read_to_eof(lb, p[0], collect, &c), 2);
        assert_string_equal(c.last, "b");
        close(p[0]);
        linebuf_free(lb);
}

static void test_read_100mb_line(void **state) {
        /* A peer sends a good line, 100 MB without a newline, then another good line. The
         * reader must stay small and resynchronise after the monster. */
        int fds[2];
        LineBuf *lb = new_linebuf(MIB);

        make_socketpair(fds);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                static char chunk[64 * 1024];
                close(fds[0]);
                memset(chunk, 'y', sizeof(chunk));
                write_all(fds[1], "before\n", 7);
                for (size_t sent = 0; sent < 100 * MIB; sent += sizeof(chunk))
                        write_all(fds[1], chunk, sizeof(chunk));
                write_all(fds[1], "\nafter\n", 7);
                _exit(EXIT_SUCCESS);
        }
        close(fds[1]);

        long before = max_rss_kib();
        Collect c = {0};
        assert_int_equal(read_to_eof(lb, fds[0], collect, &c), 2);
        assert_string_equal(c.last, "after");
        assert_int_equal(c.bytes, strlen("before") + strlen("after"));
        assert_int_equal(linebuf_oversized(lb), 1);
        assert_true(max_rss_kib() - before < 32 * 1024);

        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(fds[0]);
        linebuf_free(lb);
}

static void test_read_max_line_exactly(void **state) {
        /* Lines of exactly max_line and max_line + 1 bytes through read(2), where the buffer is
         * at its size limit. */
        int fds[2];
        LineBuf *lb = new_linebuf(MIB);

        make_socketpair(fds);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *big = malloc(MIB + 1);
                if (!big)
                        _exit(EXIT_FAILURE);
                close(fds[0]);
                memset(big, 'z', MIB + 1);
                write_all(fds[1], big, MIB);
                write_all(fds[1], "\n", 1);
                write_all(fds[1], big, MIB + 1);
                write_all(fds[1], "\nlast", 5);
                _exit(EXIT_SUCCESS);
        }
        close(fds[1]);

        Collect c = {0};
        assert_int_equal(read_to_eof(lb, fds[0], collect, &c), 2);
        assert_int_equal(c.bytes, MIB + 4);
        assert_string_equal(c.last, "last");
        assert_int_equal(linebuf_oversized(lb), 1);

        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        close(fds[0]);
        linebuf_free(lb);
}

static void test_read_full_of_lines(void **state) {
        /* A reader that does not take lines out fills up and gets -ENOBUFS, never grows
         * without bound; after draining, reading goes on and nothing is lost. */
        int fds[2];
        LineBuf *lb = new_linebuf(10);
        char line[16];

        /* One write: many small ones would each cost a socket buffer's worth of overhead. */
        char *all = malloc(1000 * 10 + 1);
        assert_non_null(all);
        for (unsigned i = 0; i < 1000; i++)
                snprintf(all + i * 10, 11, "%09u\n", i);
        make_socketpair(fds);
        write_all(fds[1], all, 1000 * 10);
        close(fds[1]);
        free(all);

        ssize_t n;
        unsigned reads = 0;
        while ((n = linebuf_read(lb, fds[0])) > 0)
                reads++;
        assert_int_equal(n, -ENOBUFS);
        assert_true(reads >= 1);

        unsigned next = 0;
        char *l;
        size_t len;
        for (;;) {
                while (linebuf_next(lb, &l, &len) > 0) {
                        snprintf(line, sizeof(line), "%09u", next++);
                        assert_string_equal(l, line);
                }
                n = linebuf_read(lb, fds[0]);
                if (n == 0)
                        break;
                assert_true(n > 0);
        }
        assert_int_equal(next, 1000);
        assert_partial(lb, NULL);
        close(fds[0]);
        linebuf_free(lb);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_new_free),
                cmocka_unit_test(test_lines),
                cmocka_unit_test(test_partial_lines),
                cmocka_unit_test(test_byte_by_byte),
                cmocka_unit_test(test_crlf),
                cmocka_unit_test(test_nul_in_line),
                cmocka_unit_test(test_line_valid_until_next_call),
                cmocka_unit_test(test_max_line_boundary),
                cmocka_unit_test(test_oversized_positions),
                cmocka_unit_test(test_many_short_lines),
                cmocka_unit_test(test_feed_huge_without_draining),
                cmocka_unit_test(test_feed_100mb_line),
                cmocka_unit_test(test_read_socket),
                cmocka_unit_test(test_read_pipe),
                cmocka_unit_test(test_read_100mb_line),
                cmocka_unit_test(test_read_max_line_exactly),
                cmocka_unit_test(test_read_full_of_lines),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
