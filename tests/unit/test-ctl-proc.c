/* Unit tests for src/ctl/proc-ident.c and src/ctl/pipe-peer.c: who writes into ingest's
 * stdin, from buffers and from a real pipe held by a real child process. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/pipe-peer.h"
#include "ctl/proc-ident.h"

static void test_nix_version_from_exe(void **state) {
        char *v = NULL;
        assert_int_equal(proc_ident_nix_version_from_exe(
                                 "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nix-2.18.1/bin/nix", &v),
                         0);
        assert_string_equal(v, "2.18.1");
        free(v);
        assert_int_equal(proc_ident_nix_version_from_exe("/usr/bin/nix-build", &v), -ENOENT);
        assert_int_equal(proc_ident_nix_version_from_exe("", &v), -ENOENT);
}

static void test_fdinfo_flags(void **state) {
        static const char fdinfo[] = "pos:\t0\nflags:\t0100001\nmnt_id:\t15\nino:\t1234\n";
        int flags = 0;
        assert_int_equal(pipe_peer_parse_fdinfo_flags(fdinfo, strlen(fdinfo), &flags), 0);
        assert_int_equal(flags & O_ACCMODE, O_WRONLY);
        static const char bad[] = "pos:\t0\nflags:\t09\n";
        assert_int_equal(pipe_peer_parse_fdinfo_flags(bad, strlen(bad), &flags), -EBADMSG);
        assert_int_equal(pipe_peer_parse_fdinfo_flags("", 0, &flags), -EBADMSG);
}

static void test_find_writer_real_pipe(void **state) {
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                /* The writer: keeps the write end open until killed. */
                close(p[0]);
                pause();
                _exit(0);
        }
        close(p[1]);

        pid_t writer = 0;
        int r = pipe_peer_find_writer("/proc", p[0], getpid(), &writer);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        assert_int_equal(r, 0);
        assert_int_equal(writer, child);

        /* Nobody writes any more. */
        assert_int_equal(pipe_peer_find_writer("/proc", p[0], getpid(), &writer), -ENOENT);
        close(p[0]);

        /* Not a pipe. */
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_int_equal(pipe_peer_find_writer("/proc", fd, getpid(), &writer), -ENOTSUP);
        close(fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nix_version_from_exe),
                cmocka_unit_test(test_fdinfo_flags),
                cmocka_unit_test(test_find_writer_real_pipe),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
