/* Unit tests for src/shared/socket-util.c: connecting to a Unix socket, and each way of
 * finding no daemon there. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/socket-util.h"

static void test_connect(void **state) {
        char dir[] = "/tmp/test-socket-util.XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/control.sock", dir);

        int fd = -1;
        assert_int_equal(socket_connect_unix(path, &fd), -ENOENT);
        assert_int_equal(fd, -1);

        /* A socket file nobody listens on. */
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, path);
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(l >= 0);
        assert_int_equal(bind(l, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(socket_connect_unix(path, &fd), -ECONNREFUSED);

        assert_int_equal(listen(l, 1), 0);
        assert_int_equal(socket_connect_unix(path, &fd), 0);
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);

        /* Longer than sun_path can hold (with its NUL). */
        char long_path[sizeof(sa.sun_path) + 1];
        memset(long_path, 'x', sizeof(long_path) - 1);
        long_path[sizeof(long_path) - 1] = 0;
        fd = -1;
        assert_int_equal(socket_connect_unix(long_path, &fd), -ENAMETOOLONG);
        assert_int_equal(fd, -1);

        close(l);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_connect),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
