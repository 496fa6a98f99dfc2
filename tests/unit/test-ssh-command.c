/* Unit tests for src/shared/ssh-command.c: the ssh command line (with $NIX_SSHOPTS as Nix
 * splits it), quoting for the remote shell, hosts as users type them. The e2e test `hosts`
 * runs the real ssh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/ssh-command.h"

static char *joined(char **argv) {
        size_t n = 1;
        for (char **a = argv; *a; a++)
                n += strlen(*a) + 1;
        char *s = calloc(1, n);
        assert_non_null(s);
        for (char **a = argv; *a; a++) {
                if (a != argv)
                        strcat(s, "|");
                strcat(s, *a);
        }
        return s;
}

static void test_argv(void **state) {
        char **argv = NULL;
        unsetenv("NIX_SSHOPTS");
        assert_int_equal(ssh_argv(&(SshTarget){.destination = "me@h"}, "x bridge", &argv), 0);
        char *s = joined(argv);
        assert_string_equal(s, "ssh|-x|-a|-T|-o|BatchMode=yes|--|me@h|x bridge");
        free(s);
        argv = ssh_argv_free(argv);

        setenv("NIX_SSHOPTS", " -F /tmp/c  -o\tCompression=yes ", 1);
        SshTarget t = {.destination = "h", .port = 2222, .identity = "/k", .connect_timeout = 7};
        assert_int_equal(ssh_argv(&t, "cmd", &argv), 0);
        s = joined(argv);
        assert_string_equal(
                s, "ssh|-F|/tmp/c|-o|Compression=yes|-x|-a|-T|-o|BatchMode=yes|-o|ConnectTimeout=7|-i|/"
                   "k|-p|2222|"
                   "--|h|cmd");
        free(s);
        ssh_argv_free(argv);
        unsetenv("NIX_SSHOPTS");

        /* A destination is never an option to ssh. */
        assert_int_equal(ssh_argv(&(SshTarget){.destination = "-oProxyCommand=x"}, "c", &argv), -EINVAL);
        assert_int_equal(ssh_argv(&(SshTarget){.destination = ""}, "c", &argv), -EINVAL);
}

static void test_quote(void **state) {
        char *q = ssh_quote_arg("/run/my dir");
        assert_string_equal(q, "'/run/my dir'");
        free(q);
        q = ssh_quote_arg("it's; rm -rf /");
        assert_string_equal(q, "'it'\\''s; rm -rf /'");
        free(q);
        q = ssh_quote_arg("");
        assert_string_equal(q, "''");
        free(q);
}

static void check_target(const char *s, const char *dest, unsigned port) {
        char *d = NULL;
        unsigned p = 99;
        assert_int_equal(ssh_target_parse(s, &d, &p), 0);
        assert_string_equal(d, dest);
        assert_int_equal(p, port);
        free(d);
}

static void test_target(void **state) {
        check_target("builder", "builder", 0);
        check_target("root@builder", "root@builder", 0);
        check_target("ssh://root@builder:2222", "root@builder", 2222);
        check_target("ssh://builder", "builder", 0);
        check_target("ssh-ng://builder/", "builder", 0);
        const char *bad[] = {"",
                             "-oProxyCommand=x",
                             "ssh://",
                             "ssh://h:0",
                             "ssh://h:70000",
                             "ssh://h:x",
                             "a b",
                             "user@",
                             "h/x"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *d = NULL;
                unsigned p;
                if (ssh_target_parse(bad[i], &d, &p) != -EINVAL)
                        fail_msg("host '%s' accepted as '%s'", bad[i], d);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_argv),
                cmocka_unit_test(test_quote),
                cmocka_unit_test(test_target),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
