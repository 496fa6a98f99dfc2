/* Unit tests for socket directory resolution (src/shared/sockdir.c) against a private fake
 * runtime directory. */
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/sockdir.h"

typedef struct Fixture {
        char runtime[64];  /* a fake $XDG_RUNTIME_DIR */
        char dir[128];     /* <runtime>/nix-analytics */
        char events[192];  /* <dir>/events.sock, a listening socket */
        char control[192]; /* <dir>/control.sock, a regular file */
        int fd;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        assert_non_null(f);

        snprintf(f->runtime, sizeof(f->runtime), "/tmp/test-sockdir-XXXXXX");
        assert_non_null(mkdtemp(f->runtime));
        snprintf(f->dir, sizeof(f->dir), "%s/nix-analytics", f->runtime);
        assert_int_equal(mkdir(f->dir, 0755), 0);

        snprintf(f->events, sizeof(f->events), "%s/" NA_EVENTS_SOCKET, f->dir);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        assert_true(strlen(f->events) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, f->events);
        f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(f->fd >= 0);
        assert_int_equal(bind(f->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);

        /* What Nix leaves when json-log-path names a socket nobody listens on. */
        snprintf(f->control, sizeof(f->control), "%s/" NA_CONTROL_SOCKET, f->dir);
        int fd = open(f->control, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);

        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        close(f->fd);
        unlink(f->events);
        unlink(f->control);
        rmdir(f->dir);
        rmdir(f->runtime);
        free(f);
        return 0;
}

static void assert_resolves(SockDirUse use, const char *env_dir, const char *xdg, unsigned uid,
                            const char *socket_name, const char *expected) {
        char *dir = NULL;
        assert_int_equal(sockdir_resolve(use, env_dir, xdg, uid, socket_name, &dir), 0);
        assert_string_equal(dir, expected);
        free(dir);
}

static void test_env_dir_wins(void **state) {
        Fixture *f = *state;

        assert_resolves(SOCKDIR_FOR_DAEMON, "/srv/na", f->runtime, 1000, NULL, "/srv/na");
        assert_resolves(SOCKDIR_FOR_DAEMON, "/srv/na", NULL, 0, NULL, "/srv/na");
        assert_resolves(SOCKDIR_FOR_CLIENT, "/srv/na", f->runtime, 1000, NA_EVENTS_SOCKET, "/srv/na");
        assert_resolves(SOCKDIR_FOR_CLIENT, "/srv/na", NULL, 0, NA_CONTROL_SOCKET, "/srv/na");
        /* Empty means unset. */
        assert_resolves(SOCKDIR_FOR_DAEMON, "", NULL, 0, NULL, NA_SYSTEM_SOCKET_DIR);
}

static void test_daemon(void **state) {
        Fixture *f = *state;

        /* A non-root daemon uses $XDG_RUNTIME_DIR, whether or not anything is there yet. */
        assert_resolves(SOCKDIR_FOR_DAEMON, NULL, "/run/user/1000", 1000, NULL,
                        "/run/user/1000/nix-analytics");
        assert_resolves(SOCKDIR_FOR_DAEMON, NULL, "/run/user/1000/", 1000, NULL,
                        "/run/user/1000/nix-analytics");
        assert_resolves(SOCKDIR_FOR_DAEMON, NULL, f->runtime, 1000, NULL, f->dir);
        /* Root uses /run even with XDG_RUNTIME_DIR set. */
        assert_resolves(SOCKDIR_FOR_DAEMON, NULL, f->runtime, 0, NULL, NA_SYSTEM_SOCKET_DIR);
        /* Without a usable XDG_RUNTIME_DIR: /run. A relative one is ignored (XDG spec). */
        assert_resolves(SOCKDIR_FOR_DAEMON, NULL, NULL, 1000, NULL, NA_SYSTEM_SOCKET_DIR);
        assert_resolves(SOCKDIR_FOR_DAEMON, NULL, "", 1000, NULL, NA_SYSTEM_SOCKET_DIR);
        assert_resolves(SOCKDIR_FOR_DAEMON, NULL, "run/user/1000", 1000, NULL, NA_SYSTEM_SOCKET_DIR);
}

static void test_client(void **state) {
        Fixture *f = *state;

        /* The socket exists in the runtime dir: use it, for any uid. */
        assert_resolves(SOCKDIR_FOR_CLIENT, NULL, f->runtime, 1000, NA_EVENTS_SOCKET, f->dir);
        assert_resolves(SOCKDIR_FOR_CLIENT, NULL, f->runtime, 0, NA_EVENTS_SOCKET, f->dir);
        /* A regular file of that name is not a socket. */
        assert_resolves(SOCKDIR_FOR_CLIENT, NULL, f->runtime, 1000, NA_CONTROL_SOCKET, NA_SYSTEM_SOCKET_DIR);
        /* Absent, or no name asked for. */
        assert_resolves(SOCKDIR_FOR_CLIENT, NULL, f->runtime, 1000, "other.sock", NA_SYSTEM_SOCKET_DIR);
        assert_resolves(SOCKDIR_FOR_CLIENT, NULL, f->runtime, 1000, NULL, NA_SYSTEM_SOCKET_DIR);
        assert_resolves(SOCKDIR_FOR_CLIENT, NULL, f->runtime, 1000, "", NA_SYSTEM_SOCKET_DIR);
        /* No runtime dir at all. */
        assert_resolves(SOCKDIR_FOR_CLIENT, NULL, NULL, 1000, NA_EVENTS_SOCKET, NA_SYSTEM_SOCKET_DIR);
        assert_resolves(SOCKDIR_FOR_CLIENT, NULL, "/nonexistent-runtime", 1000, NA_EVENTS_SOCKET,
                        NA_SYSTEM_SOCKET_DIR);
}

static void test_resolve_env(void **state) {
        Fixture *f = *state;
        char *dir = NULL;

        assert_int_equal(setenv("NIX_ANALYTICS_SOCKET_DIR", "/srv/env", 1), 0);
        assert_int_equal(sockdir_resolve_env(SOCKDIR_FOR_DAEMON, NULL, &dir), 0);
        assert_string_equal(dir, "/srv/env");
        free(dir);

        assert_int_equal(unsetenv("NIX_ANALYTICS_SOCKET_DIR"), 0);
        assert_int_equal(setenv("XDG_RUNTIME_DIR", f->runtime, 1), 0);
        assert_int_equal(sockdir_resolve_env(SOCKDIR_FOR_CLIENT, NA_EVENTS_SOCKET, &dir), 0);
        assert_string_equal(dir, f->dir);
        free(dir);
        assert_int_equal(sockdir_resolve_env(SOCKDIR_FOR_DAEMON, NULL, &dir), 0);
        assert_string_equal(dir, getuid() == 0 ? NA_SYSTEM_SOCKET_DIR : f->dir);
        free(dir);

        assert_int_equal(unsetenv("XDG_RUNTIME_DIR"), 0);
        assert_int_equal(sockdir_resolve_env(SOCKDIR_FOR_CLIENT, NA_EVENTS_SOCKET, &dir), 0);
        assert_string_equal(dir, NA_SYSTEM_SOCKET_DIR);
        free(dir);
}

static void test_socket_path(void **state) {
        struct sockaddr_un sa;
        char dir[sizeof(sa.sun_path) + 8];
        char *path = NULL;

        assert_int_equal(sockdir_socket_path(NA_SYSTEM_SOCKET_DIR, NA_EVENTS_SOCKET, &path), 0);
        assert_string_equal(path, "/run/nix-analytics/events.sock");
        free(path);
        assert_int_equal(sockdir_socket_path("/tmp/", NA_CONTROL_SOCKET, &path), 0);
        assert_string_equal(path, "/tmp/control.sock");
        free(path);

        /* "<dir>/x" of exactly sizeof(sun_path) - 1 bytes fits with its NUL; one more does not. */
        size_t fit = sizeof(sa.sun_path) - 1 - strlen("/x");
        dir[0] = '/';
        memset(dir + 1, 'd', fit - 1);
        dir[fit] = '\0';
        assert_int_equal(sockdir_socket_path(dir, "x", &path), 0);
        assert_int_equal(strlen(path), sizeof(sa.sun_path) - 1);
        free(path);

        dir[fit] = 'd';
        dir[fit + 1] = '\0';
        path = NULL;
        assert_int_equal(sockdir_socket_path(dir, "x", &path), -ENAMETOOLONG);
        assert_null(path);
}

/* A socket directory someone else owns or may write is refused, whatever its path. */
static void test_check(void **state) {
        char root[] = "/tmp/test-sockdir.XXXXXX";
        assert_non_null(mkdtemp(root));
        char d[96], l[96], f[96];
        uid_t me = geteuid();

        /* Created with 0755 and parents, then accepted; created again: still fine. */
        snprintf(d, sizeof(d), "%s/a/b/sock", root);
        assert_int_equal(sockdir_make(d, me), 0);
        assert_int_equal(sockdir_make(d, me), 0);
        struct stat st;
        assert_int_equal(lstat(d, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 022, 0);

        /* Owned by another uid. */
        assert_int_equal(sockdir_check(d, me + 1), -EPERM);
        assert_int_equal(sockdir_make(d, me + 1), -EPERM);
        if (me == 0) {
                assert_int_equal(chown(d, 65534, 65534), 0);
                assert_int_equal(sockdir_check(d, 0), -EPERM);
                assert_int_equal(chown(d, 0, 0), 0);
        }

        /* Group or others may write: refused, sticky or not. */
        assert_int_equal(chmod(d, 0775), 0);
        assert_int_equal(sockdir_check(d, me), -EACCES);
        assert_int_equal(chmod(d, 01777), 0);
        assert_int_equal(sockdir_make(d, me), -EACCES);
        assert_int_equal(chmod(d, 0700), 0);
        assert_int_equal(sockdir_check(d, me), 0);

        /* A symbolic link to a good directory, and a file. */
        snprintf(l, sizeof(l), "%s/link", root);
        assert_int_equal(symlink(d, l), 0);
        assert_int_equal(sockdir_check(l, me), -ELOOP);
        assert_int_equal(sockdir_make(l, me), -ELOOP);
        snprintf(f, sizeof(f), "%s/file", root);
        int fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(sockdir_check(f, me), -ENOTDIR);
        snprintf(f, sizeof(f), "%s/none", root);
        assert_int_equal(sockdir_check(f, me), -ENOENT);

        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_env_dir_wins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_daemon, setup, teardown),
                cmocka_unit_test_setup_teardown(test_client, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resolve_env, setup, teardown),
                cmocka_unit_test(test_socket_path),
                cmocka_unit_test(test_check),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
