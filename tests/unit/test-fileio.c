/* Unit tests for src/basic/fileio.c: what a planted file cannot do to a reader. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"

typedef struct Tree {
        char dir[64];
        int fd;
} Tree;

static int setup(void **state) {
        Tree *t = calloc(1, sizeof(*t));
        assert_non_null(t);
        strcpy(t->dir, "/tmp/test-fileio.XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        t->fd = open(t->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(t->fd >= 0);
        *state = t;
        return 0;
}

static int teardown(void **state) {
        Tree *t = *state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        assert_int_equal(system(cmd), 0);
        close(t->fd);
        free(t);
        return 0;
}

static void put(int dir_fd, const char *name, const char *text) {
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static void test_regular(void **state) {
        Tree *t = *state;
        put(t->fd, "f", "hello");
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(read_full_file_at(t->fd, "f", 100, READ_FILE_NOFOLLOW, &buf, &len), 0);
        assert_int_equal(len, 5);
        assert_string_equal(buf, "hello");
        free(buf);

        /* Larger than max: truncated by default, refused when asked. */
        assert_int_equal(read_full_file_at(t->fd, "f", 3, 0, &buf, &len), 0);
        assert_string_equal(buf, "hel");
        free(buf);
        buf = NULL;
        assert_int_equal(read_full_file_at(t->fd, "f", 4, READ_FILE_REFUSE_LARGER, &buf, &len), -EFBIG);
        assert_null(buf);
        assert_int_equal(read_full_file_at(t->fd, "f", 5, READ_FILE_REFUSE_LARGER, &buf, &len), 0);
        assert_string_equal(buf, "hello");
        free(buf);
}

/* A FIFO nobody writes to: refused at once rather than blocking the caller forever. */
static void test_fifo(void **state) {
        Tree *t = *state;
        assert_int_equal(mkfifoat(t->fd, "x.drv", 0644), 0);
        char *buf = NULL;
        size_t len;
        assert_int_equal(read_full_file_at(t->fd, "x.drv", 100, 0, &buf, &len), -EBADMSG);
        assert_null(buf);
}

static void test_not_regular(void **state) {
        Tree *t = *state;
        char *buf = NULL;
        size_t len;
        /* A character device, as a tty is. */
        assert_int_equal(read_full_file_at(AT_FDCWD, "/dev/null", 100, 0, &buf, &len), -EBADMSG);
        assert_int_equal(mkdirat(t->fd, "d", 0755), 0);
        assert_int_equal(read_full_file_at(t->fd, "d", 100, 0, &buf, &len), -EISDIR);
        assert_null(buf);
}

static void test_symlink(void **state) {
        Tree *t = *state;
        put(t->fd, "secret", "s3cret");
        assert_int_equal(symlinkat("secret", t->fd, "evil.drv"), 0);
        char *buf = NULL;
        size_t len;
        assert_int_equal(read_full_file_at(t->fd, "evil.drv", 100, READ_FILE_NOFOLLOW, &buf, &len), -ELOOP);
        assert_null(buf);
        /* Without the flag a link is followed (generated /proc and cgroup files). */
        assert_int_equal(read_full_file_at(t->fd, "evil.drv", 100, 0, &buf, &len), 0);
        assert_string_equal(buf, "s3cret");
        free(buf);
}

/* A path another process names inside its own root stays inside that root. */
static void test_in_root(void **state) {
        Tree *t = *state;
        put(t->fd, "outside", "ours");
        assert_int_equal(mkdirat(t->fd, "root", 0755), 0);
        int root = openat(t->fd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(root >= 0);
        char abs[128];
        snprintf(abs, sizeof(abs), "%s/outside", t->dir);
        assert_int_equal(symlinkat(abs, root, "abs"), 0);
        /* A directory link to where "outside" really is: followed inside the root only. */
        assert_int_equal(symlinkat(t->dir, root, "dlink"), 0);
        put(root, "attrs.json", "{}");

        char *buf = NULL;
        size_t len;
        assert_int_equal(read_full_file_at(root, "/attrs.json", 100, READ_FILE_IN_ROOT, &buf, &len), 0);
        assert_string_equal(buf, "{}");
        free(buf);
        buf = NULL;
        assert_int_equal(read_full_file_at(root, "/abs", 100, READ_FILE_IN_ROOT, &buf, &len), -ELOOP);
        assert_int_equal(read_full_file_at(root, "/dlink/outside", 100, READ_FILE_IN_ROOT, &buf, &len),
                         -ENOENT);
        assert_int_equal(read_full_file_at(root, "/../outside", 100, READ_FILE_IN_ROOT, &buf, &len),
                         -ENOENT);
        assert_int_equal(read_full_file_at(root,
                                           "/../../../../../../../../"
                                           "etc/hostname",
                                           100, READ_FILE_IN_ROOT, &buf, &len),
                         -ENOENT);
        assert_null(buf);
        close(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_regular, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_in_root, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
