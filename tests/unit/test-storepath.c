/* Unit tests for src/shared/storepath.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/storepath.h"

#define H "zi6pmhs3z36nnyz4bavgkq2bh4by7r0j"

static void test_valid(void **state) {
        assert_true(store_path_valid("/nix/store", "/nix/store/" H "-f.drv"));
        assert_true(store_path_valid("/nix/store", "/nix/store/" H "-hello-2.12"));
        assert_false(store_path_valid("/nix/store", "/nix/store/" H));
        assert_false(store_path_valid("/nix/store", "/nix/store/" H "-"));
        assert_false(store_path_valid("/nix/store", "/nix/store/" H "-a/b"));
        assert_false(store_path_valid("/nix/store", "/nix/storeX/" H "-a"));
        assert_false(
                store_path_valid("/nix/store", "/nix/store/zi6pmhs3z36nnyz4bavgkq2bh4by7r0e-a")); /* 'e' */
        assert_false(store_path_valid("/nix/store", "/other/" H "-a"));
        assert_true(store_path_valid("/tmp/s", "/tmp/s/" H "-a"));
}

static void test_name(void **state) {
        char *n = NULL;
        assert_int_equal(store_path_name("/nix/store", "/nix/store/" H "-hello-2.12.drv", &n), 0);
        assert_string_equal(n, "hello-2.12");
        free(n);
        assert_int_equal(store_path_name("/nix/store", "/nix/store/" H "-hello", &n), 0);
        assert_string_equal(n, "hello");
        free(n);
        assert_int_equal(store_path_name("/nix/store", "hello", &n), -EINVAL);
}

static void test_find_drv(void **state) {
        char *d = NULL;
        /* Nix 2.8's failure message after ANSI stripping. */
        assert_int_equal(store_path_find_drv("/nix/store",
                                             "builder for '/nix/store/" H "-f.drv' failed with exit code 3",
                                             &d),
                         1);
        assert_string_equal(d, "/nix/store/" H "-f.drv");
        free(d);
        /* An output path first, then the drv. */
        assert_int_equal(store_path_find_drv("/nix/store",
                                             "path '/nix/store/" H "-out' of '/nix/store/" H "-x.drv'", &d),
                         1);
        assert_string_equal(d, "/nix/store/" H "-x.drv");
        free(d);
        assert_int_equal(store_path_find_drv("/nix/store", "no path here /nix/store/", &d), 0);
        assert_int_equal(store_path_find_drv("/nix/store", "/nix/store/" H "-x.drvfoo", &d), 0);
}

static void put(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

/* Paths a hostile peer may name as a .drv: only a regular file in the store is read. */
static void test_file_read(void **state) {
        char root[] = "/tmp/test-storepath.XXXXXX";
        assert_non_null(mkdtemp(root));
        char store[64], p[160], secret[96];
        snprintf(store, sizeof(store), "%s/store", root);
        assert_int_equal(mkdir(store, 0755), 0);
        snprintf(secret, sizeof(secret), "%s/secret", root);
        put(secret, "s3cret");

        char *buf = NULL;
        size_t len = 0;
        snprintf(p, sizeof(p), "%s/" H "-ok.drv", store);
        put(p, "Derive([])");
        assert_int_equal(store_file_read(store, p, 100, &buf, &len), 0);
        assert_string_equal(buf, "Derive([])");
        assert_int_equal(len, 10);
        free(buf);
        buf = NULL;

        /* Too large: refused without reading. */
        assert_int_equal(store_file_read(store, p, 9, &buf, &len), -EFBIG);

        /* A FIFO nobody writes to (a store cannot hold one, but the check does not rely on it). */
        snprintf(p, sizeof(p), "%s/" H "-x.drv", store);
        assert_int_equal(mkfifo(p, 0644), 0);
        assert_int_equal(store_file_read(store, p, 100, &buf, &len), -EBADMSG);

        /* A symbolic link out of the store. */
        snprintf(p, sizeof(p), "%s/" H "-evil.drv", store);
        assert_int_equal(symlink(secret, p), 0);
        assert_int_equal(store_file_read(store, p, 100, &buf, &len), -ELOOP);

        /* A directory. */
        snprintf(p, sizeof(p), "%s/" H "-dir.drv", store);
        assert_int_equal(mkdir(p, 0755), 0);
        assert_int_equal(store_file_read(store, p, 100, &buf, &len), -EISDIR);

        /* Not store paths at all: outside it, "..", a '/' after the base name, a tty. */
        assert_int_equal(store_file_read(store, secret, 100, &buf, &len), -EINVAL);
        snprintf(p, sizeof(p), "%s/../secret", store);
        assert_int_equal(store_file_read(store, p, 100, &buf, &len), -EINVAL);
        snprintf(p, sizeof(p), "%s/" H "-dir.drv/../../secret", store);
        assert_int_equal(store_file_read(store, p, 100, &buf, &len), -EINVAL);
        assert_int_equal(store_file_read(store, "/dev/pts/0", 100, &buf, &len), -EINVAL);
        assert_int_equal(store_file_read("/dev", "/dev/null", 100, &buf, &len), -EINVAL);
        assert_null(buf);

        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_name),
                cmocka_unit_test(test_find_drv),
                cmocka_unit_test(test_file_read),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
