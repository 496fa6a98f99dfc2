/* Unit tests for the plugin's C core (src/plugin/core.c) against a real Unix socket: records
 * arrive complete, in order and as valid JSON; a child of a process that sent stays silent,
 * a child of a silent process (a nix-daemon worker) starts its own connection; a raw clone()
 * (no atfork handlers) taken while another thread is inside the core neither deadlocks nor
 * sends. The core is process-wide state, so each test runs in a child process of its own. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "plugin/core.h"

/* In the test's child: a failed check ends it with a message. */
#define CHECK(cond, ...)                                                                         \
        do {                                                                                     \
                if (!(cond)) {                                                                   \
                        fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__);                                            \
                        fprintf(stderr, "\n");                                                   \
                        _exit(1);                                                                \
                }                                                                                \
        } while (0)

static char sock_path[108];
static volatile bool path_gone; /* the shim's settings destroyed: asking for the path is a bug */

static int test_socket_path(char *buf, size_t size) {
        CHECK(!path_gone, "the socket path was asked for after na_core_detach()");
        size_t l = strlen(sock_path);
        if (l >= size)
                return -1;
        memcpy(buf, sock_path, l + 1);
        return (int) l;
}

static int listen_here(void) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char dir[] = "/tmp/na-test-plugin-core.XXXXXX";
        CHECK(mkdtemp(dir), "mkdtemp: %m");
        snprintf(sock_path, sizeof(sock_path), "%s/events.sock", dir);
        memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0, "socket: %m");
        CHECK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0, "bind: %m");
        CHECK(listen(fd, 16) == 0, "listen: %m");
        return fd;
}

/* A connection within 2 s, or -1. */
static int accept_within(int lfd, int ms) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, ms) <= 0)
                return -1;
        return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Reads lines from fd into lines[] until n of them or 2 s pass; returns how many. */
static size_t read_lines(int fd, char **lines, size_t n, int ms) {
        static char buf[1 << 20];
        static size_t have;
        size_t got = 0;
        while (got < n) {
                char *nl;
                while (got < n && (nl = memchr(buf, '\n', have))) {
                        size_t l = (size_t) (nl - buf);
                        lines[got] = strndup(buf, l);
                        memmove(buf, nl + 1, have - l - 1);
                        have -= l + 1;
                        got++;
                }
                if (got == n)
                        break;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, ms) <= 0)
                        break;
                ssize_t r = read(fd, buf + have, sizeof(buf) - have);
                if (r <= 0)
                        break;
                have += (size_t) r;
        }
        return got;
}

static cJSON *parse(const char *line) {
        cJSON *j = cJSON_Parse(line);
        CHECK(j, "not JSON: %s", line);
        return j;
}

static const char *str_of(cJSON *j, const char *key) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
        return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(cJSON *j, const char *key) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
        return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void emit_line(uint64_t id, const char *s) {
        NaField f = {.is_string = true, .s = s, .len = strlen(s)};
        na_emit_result(NA_ROLE_CLI, id, 101, &f, 1);
}

/* Runs fn in a child process; the test passes when it exits 0 within 30 s. */
static void in_child(void (*fn)(void)) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                fn();
                _exit(0);
        }
        int status = 0;
        for (int i = 0; i < 3000 && waitpid(pid, &status, WNOHANG) == 0; i++)
                usleep(10 * 1000);
        if (waitpid(pid, &status, WNOHANG) == 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                fail_msg("the test's process hung");
        }
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

#define N_LINES 5000

static void records_body(void) {
        int lfd = listen_here();
        na_core_init("2.8.0", test_socket_path);
        NaField drv = {.is_string = true, .s = "/nix/store/x.drv", .len = 16};
        na_emit_start(NA_ROLE_CLI, 7, 3, 105, "building x", 10, &drv, 1, 3);
        char line[128];
        for (int i = 0; i < N_LINES; i++) {
                snprintf(line, sizeof(line), "line %d \"q\" \\ \t \xc3\xa9 \x80 end", i);
                emit_line(7, line);
        }
        na_emit_msg(NA_ROLE_CLI, 0, "error: it failed", 16, NULL, 0);
        na_emit_stop(NA_ROLE_CLI, 7);

        int fd = accept_within(lfd, 2000);
        CHECK(fd >= 0, "no connection");
        static char *lines[N_LINES + 4];
        size_t n = read_lines(fd, lines, N_LINES + 4, 2000);
        CHECK(n == N_LINES + 4, "got %zu lines of %d", n, N_LINES + 4);

        cJSON *j = parse(lines[0]);
        CHECK(!strcmp(str_of(j, "action"), "hello"), "%s", lines[0]);
        CHECK(num_of(j, "pid") == getpid(), "%s", lines[0]);
        CHECK(!strcmp(str_of(j, "role"), "cli"), "%s", lines[0]);
        cJSON_Delete(j);
        j = parse(lines[1]);
        CHECK(!strcmp(str_of(j, "action"), "start") && num_of(j, "id") == 7 && num_of(j, "parent") == 3 &&
                      !strcmp(str_of(j, "text"), "building x"),
              "%s", lines[1]);
        double t0 = num_of(j, "t");
        cJSON_Delete(j);
        CHECK(t0 > 1.6e15, "t is unix time in microseconds: %s", lines[1]);
        for (int i = 0; i < N_LINES; i++) {
                j = parse(lines[2 + i]);
                snprintf(line, sizeof(line), "line %d \"q\" \\ \t \xc3\xa9 \xef\xbf\xbd end", i);
                cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "fields"), 0);
                CHECK(!strcmp(str_of(j, "action"), "result") && num_of(j, "type") == 101 &&
                              num_of(j, "id") == 7 && cJSON_IsString(f) && !strcmp(f->valuestring, line),
                      "line %d: %s", i, lines[2 + i]);
                double t = num_of(j, "t");
                CHECK(t >= t0 && t < t0 + 60e6, "line %d: t %f after %f", i, t, t0);
                t0 = t;
                cJSON_Delete(j);
        }
        j = parse(lines[N_LINES + 2]);
        CHECK(!strcmp(str_of(j, "action"), "msg") && !strcmp(str_of(j, "msg"), "error: it failed"), "%s",
              lines[N_LINES + 2]);
        cJSON_Delete(j);
        j = parse(lines[N_LINES + 3]);
        CHECK(!strcmp(str_of(j, "action"), "stop") && num_of(j, "id") == 7, "%s", lines[N_LINES + 3]);
        cJSON_Delete(j);
}

static void test_records(void **state) {
        in_child(records_body);
}

/* A builder (the child of a process that sent) stays silent, even when it exits through
 * exit(); its parent's connection carries on. */
static void silent_child_body(void) {
        int lfd = listen_here();
        char *lines[4];
        na_core_init("2.8.0", test_socket_path);
        emit_line(1, "parent before");
        int fd = accept_within(lfd, 2000);
        CHECK(fd >= 0, "no connection");
        CHECK(read_lines(fd, lines, 2, 2000) == 2, "hello and the first line");

        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %m");
        if (pid == 0) {
                emit_line(1, "from the child");
                na_emit_stop(NA_ROLE_CLI, 1);
                exit(0);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child");
        emit_line(1, "parent after");
        CHECK(read_lines(fd, lines + 2, 1, 2000) == 1, "the parent's next line");
        CHECK(strstr(lines[2], "parent after"), "%s", lines[2]);
        CHECK(read_lines(fd, lines + 3, 1, 200) == 0, "nothing else: %s", lines[3]);
        CHECK(accept_within(lfd, 200) < 0, "the child connected");
}

static void test_silent_child(void **state) {
        in_child(silent_child_body);
}

/* A nix-daemon worker: its parent (the daemon's main process) never sends; the worker has a
 * connection and a hello of its own, and its last records are sent at exit, after the shim's
 * settings are gone (C++ static destructors run before the core's exit handler). */
static void worker_body(void) {
        int lfd = listen_here();
        char *lines[3];
        na_core_init("2.8.0", test_socket_path);
        na_core_silence();
        emit_line(1, "never sent");
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %m");
        if (pid == 0) {
                emit_line(2, "worker line");
                na_emit_stop(NA_ROLE_CLI, 2);
                na_core_detach();
                path_gone = true;
                exit(0);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker");
        int fd = accept_within(lfd, 2000);
        CHECK(fd >= 0, "the worker did not connect");
        CHECK(read_lines(fd, lines, 3, 2000) == 3, "hello, line and stop");
        cJSON *j = parse(lines[0]);
        CHECK(num_of(j, "pid") == pid, "the hello is the worker's: %s", lines[0]);
        cJSON_Delete(j);
        CHECK(strstr(lines[1], "worker line"), "%s", lines[1]);
        CHECK(strstr(lines[2], "\"stop\""), "%s", lines[2]);
        CHECK(accept_within(lfd, 200) < 0, "a second connection");
}

static void test_worker(void **state) {
        in_child(worker_body);
}

static volatile bool hammering = true;

static void *hammer(void *arg) {
        while (hammering)
                emit_line(3, "from another thread, all the time");
        return NULL;
}

/* clone() without CLONE_VM, as Nix starts sandboxed builders: no atfork handler runs, and
 * another thread may be inside the core, holding its lock, at that very moment. */
static void raw_clone_body(void) {
        int lfd = listen_here();
        pthread_t t;
        na_core_init("2.8.0", test_socket_path);
        emit_line(3, "sent");
        CHECK(pthread_create(&t, NULL, hammer, NULL) == 0, "pthread_create");
        for (int i = 0; i < 300; i++) {
                long pid = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
                CHECK(pid >= 0, "clone: %m");
                if (pid == 0) {
                        for (int k = 0; k < 10; k++)
                                na_emit_msg(NA_ROLE_CLI, 0, "from a builder", 14, NULL, 0);
                        syscall(SYS_exit_group, 0);
                }
                int status = 0;
                int k;
                for (k = 0; k < 5000 && waitpid((pid_t) pid, &status, WNOHANG) == 0; k++)
                        usleep(1000);
                if (k == 5000) {
                        kill((pid_t) pid, SIGKILL);
                        waitpid((pid_t) pid, &status, 0);
                        CHECK(false, "clone %d: the child hung in the core", i);
                }
                CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "clone %d", i);
        }
        hammering = false;
        pthread_join(t, NULL);
        int fd = accept_within(lfd, 2000);
        CHECK(fd >= 0, "the parent's connection");
        CHECK(accept_within(lfd, 200) < 0, "a cloned child connected");
}

static void test_raw_clone(void **state) {
        in_child(raw_clone_body);
}

/* Reads fd to its end; counts the records that arrived (not hellos) and adds up the counts
 * of the dropped records. */
static void tally(int fd, uint64_t *ret_records, uint64_t *ret_dropped) {
        static char buf[1 << 16];
        char line[256];
        size_t have = 0;
        ssize_t r;
        while ((r = read(fd, buf, sizeof(buf))) > 0)
                for (ssize_t i = 0; i < r; i++) {
                        if (buf[i] != '\n') {
                                if (have < sizeof(line) - 1)
                                        line[have++] = buf[i];
                                continue;
                        }
                        line[have] = '\0';
                        have = 0;
                        cJSON *j = parse(line);
                        if (!strcmp(str_of(j, "action"), "dropped"))
                                *ret_dropped += (uint64_t) num_of(j, "count");
                        else if (strcmp(str_of(j, "action"), "hello"))
                                (*ret_records)++;
                        cJSON_Delete(j);
                }
}

#define N_FLOOD 200000

/* nix-analyticsd stopped (its connection accepted, never read) while a build floods: the
 * process must not block, and every record is either delivered or counted as dropped, the
 * count reaching the daemon through a second connection at exit. */
static void lost_body(void) {
        int lfd = listen_here();
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %m");
        if (pid == 0) {
                char line[128];
                na_core_init("2.8.0", test_socket_path);
                na_emit_start(NA_ROLE_CLI, 9, 3, 105, "building y", 10, NULL, 0, 0);
                for (int i = 0; i < N_FLOOD; i++) {
                        snprintf(line, sizeof(line),
                                 "flood line %d with some padding to make it a usual length", i);
                        emit_line(9, line);
                }
                na_emit_stop(NA_ROLE_CLI, 9);
                exit(0);
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the nix process");
        int fd1 = accept_within(lfd, 0), fd2 = accept_within(lfd, 0);
        CHECK(fd1 >= 0, "the first connection");
        CHECK(fd2 >= 0, "the second connection, with the count");
        uint64_t records = 0, dropped = 0;
        tally(fd1, &records, &dropped);
        tally(fd2, &records, &dropped);
        CHECK(dropped > 0, "a flood into a stopped daemon drops records");
        CHECK(records + dropped == N_FLOOD + 2, "%llu arrived + %llu dropped != %d",
              (unsigned long long) records, (unsigned long long) dropped, N_FLOOD + 2);
}

static void test_lost_reported(void **state) {
        in_child(lost_body);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_records),       cmocka_unit_test(test_silent_child),
                cmocka_unit_test(test_worker),        cmocka_unit_test(test_raw_clone),
                cmocka_unit_test(test_lost_reported),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
