/* Unit tests for src/shared/dirsize.c: a tree of known files, with what a builder could leave
 * to mislead the walk (a link to a big file outside, a FIFO, a link to a directory). */
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

#include "shared/dirsize.h"

/* A file of n bytes written out (not sparse: its blocks are allocated). */
static void write_file(const char *path, size_t n) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        char buf[4096];
        memset(buf, 'x', sizeof(buf));
        for (size_t done = 0; done < n;) {
                size_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);
                assert_int_equal(write(fd, buf, k), (ssize_t) k);
                done += k;
        }
        assert_int_equal(fsync(fd), 0);
        close(fd);
}

static void test_tree(void **state) {
        char root[] = "/tmp/test-dirsize-XXXXXX", p[256], outside[256];
        assert_non_null(mkdtemp(root));
        snprintf(p, sizeof(p), "%s/build", root);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/build/a/b/c", root);
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
        assert_int_equal(system(cmd), 0);
        snprintf(p, sizeof(p), "%s/build/one", root);
        write_file(p, 1 << 20);
        snprintf(p, sizeof(p), "%s/build/a/b/c/two", root);
        write_file(p, 2 << 20);
        /* Outside the tree: reachable only through links, which are not followed. */
        snprintf(outside, sizeof(outside), "%s/outside", root);
        write_file(outside, 8 << 20);
        snprintf(p, sizeof(p), "%s/build/link", root);
        assert_int_equal(symlink(outside, p), 0);
        snprintf(p, sizeof(p), "%s/build/a/dirlink", root);
        assert_int_equal(symlink(root, p), 0);
        snprintf(p, sizeof(p), "%s/build/fifo", root);
        assert_int_equal(mkfifo(p, 0600), 0);

        snprintf(p, sizeof(p), "%s/build", root);
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        DirSize s;
        assert_int_equal(dir_size(fd, 0, &s), 0);
        /* 3 MiB of files, the directories' own blocks; not the 8 MiB outside. */
        assert_true(s.bytes >= (3u << 20));
        assert_true(s.bytes < (3u << 20) + (1u << 20));
        assert_int_equal(s.entries, 8); /* one, a, b, c, two, link, dirlink, fifo */
        assert_false(s.truncated);
        assert_true(s.fs_size > 0 && s.fs_free <= s.fs_size);
        /* The descriptor is the caller's, unmoved: a second walk gives the same. */
        DirSize again;
        assert_int_equal(dir_size(fd, 0, &again), 0);
        assert_int_equal(again.bytes, s.bytes);
        close(fd);

        /* Not a directory. */
        fd = open(outside, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(dir_size(fd, 0, &s), -ENOTDIR);
        close(fd);

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

static void test_depth_bound(void **state) {
        char root[] = "/tmp/test-dirsize-XXXXXX", p[8192];
        assert_non_null(mkdtemp(root));
        /* Deeper than the walk keeps directories open: it stops there, and says so. */
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        int cur = dup(fd);
        for (int i = 0; i < DIRSIZE_MAX_DEPTH + 4; i++) {
                assert_int_equal(mkdirat(cur, "d", 0700), 0);
                int next = openat(cur, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                assert_true(next >= 0);
                close(cur);
                cur = next;
        }
        close(cur);
        DirSize s;
        assert_int_equal(dir_size(fd, 0, &s), 0);
        assert_true(s.truncated);
        assert_int_equal(s.entries, DIRSIZE_MAX_DEPTH);
        close(fd);
        snprintf(p, sizeof(p), "rm -rf '%s'", root);
        assert_int_equal(system(p), 0);
}

static void test_nearly_full(void **state) {
        DirSize s = {.fs_size = 100ull << 30, .fs_free = 50ull << 30};
        assert_false(dir_size_fs_nearly_full(&s));
        s.fs_free = 4ull << 30; /* under 5 % */
        assert_true(dir_size_fs_nearly_full(&s));
        s = (DirSize){.fs_size = 10ull << 30, .fs_free = 900ull << 20}; /* under 1 GiB */
        assert_true(dir_size_fs_nearly_full(&s));
        s = (DirSize){};
        assert_false(dir_size_fs_nearly_full(&s)); /* unknown */
}

static void test_build_dir(void **state) {
        static const struct {
                const char *cwd, *path;
                unsigned up;
        } ok[] = {
                {"/tmp/nix-build-hello.drv-0", "/tmp/nix-build-hello.drv-0", 0},
                {"/tmp/nix-build-hello.drv-0/build/source", "/tmp/nix-build-hello.drv-0", 2},
                {"/build", "/build", 0},
                {"/build/source/", "/build", 1},
                {"/a/nix-build-x/nix-build-y/z", "/a/nix-build-x", 2},
                {"/nix/var/nix/builds/nix-4242-0", "/nix/var/nix/builds/nix-4242-0", 0},
                {"/nix/var/nix/builds/nix-4242-0/build/src", "/nix/var/nix/builds/nix-4242-0", 2},
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                char *p = NULL;
                unsigned up = 99;
                assert_int_equal(dir_size_build_dir(ok[i].cwd, &p, &up), 0);
                assert_string_equal(p, ok[i].path);
                assert_int_equal(up, ok[i].up);
                free(p);
        }
        static const char *const none[] = {"/",       "", "/buildx", "/home/alice", "/tmp/xnix-build-a",
                                           "/a/build"};
        for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
                char *p = NULL;
                unsigned up;
                assert_int_equal(dir_size_build_dir(none[i], &p, &up), -ENOENT);
                assert_null(p);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tree),
                cmocka_unit_test(test_depth_bound),
                cmocka_unit_test(test_nearly_full),
                cmocka_unit_test(test_build_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
