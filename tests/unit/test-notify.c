/* Unit tests for src/daemon/notify.c: what subscribed control clients are sent when the model
 * changes, over real sockets accepted by control-conn.c, with the daemon's other modules
 * (history, graphs, estimates, sampler) absent. */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "daemon/control-conn.h"
#include "daemon/daemon.h"
#include "daemon/notify.h"
#include "daemon/quota.h"
#include "shared/model-proc.h"
#include "shared/model.h"
#include "test-daemon-helpers.h"
#include "test-helpers.h"

#define HA "hcdvxxibblyx54zh5h35428q32q9qwzb"
#define T0 (1000 * USEC_PER_SEC)

typedef struct Fixture {
        char *dir;
        char store[512], drv[1024];
        Daemon d;
        int listen_fd;
        int follower_fd, watcher_fd;     /* client ends */
        ControlConn *follower, *watcher; /* their connections in the daemon */
        Source *s;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        f->dir = test_mkdtemp();
        snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
        snprintf(f->drv, sizeof(f->drv), "%s/" HA "-a.drv", f->store);

        Daemon *d = &f->d;
        test_daemon_base(d, f->store);

        /* Two clients of a real control socket, accepted as the daemon accepts them. */
        char path[4096];
        f->listen_fd = test_control_listen(f->dir, path, sizeof(path));
        f->follower_fd = test_connect(path);
        f->watcher_fd = test_connect(path);
        assert_int_equal(control_conn_accept(NULL, f->listen_fd, EPOLLIN, d), 0);
        assert_int_equal(d->n_control_conns, 2);
        f->watcher = d->control_conns; /* newest first */
        f->follower = f->watcher->next;

        assert_int_equal(model_source_new(d->model, getpid(), getuid(), true, T0, &f->s), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        test_daemon_base_done(&f->d);
        close(f->listen_fd);
        close(f->follower_fd);
        close(f->watcher_fd);
        test_rm_rf(f->dir);
        free(f->dir);
        free(f);
        return 0;
}

/* Everything the daemon has sent to a client so far, as parsed events (a JSON array), and
 * their names, space-separated, in *ret_names. */
static cJSON *received(int fd, char *ret_names, size_t size) {
        static char buf[1 << 16];
        size_t len = 0;
        for (;;) {
                ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        cJSON *events = cJSON_CreateArray();
        ret_names[0] = '\0';
        for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
                *nl = '\0';
                cJSON *e = cJSON_Parse(line);
                assert_non_null(e);
                const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(e, "event"));
                assert_non_null(name);
                snprintf(ret_names + strlen(ret_names), size - strlen(ret_names), "%s%s",
                         ret_names[0] ? " " : "", name);
                cJSON_AddItemToArray(events, e);
        }
        return events;
}

/* The client was sent one event since the last look, named event, whose string field key is
 * value (key NULL: not checked). Returns it for more checks; cJSON_Delete it. */
static cJSON *expect_one(int fd, const char *event, const char *key, const char *value) {
        char names[256];
        cJSON *events = received(fd, names, sizeof(names));
        assert_string_equal(names, event);
        cJSON *e = cJSON_DetachItemFromArray(events, 0);
        cJSON_Delete(events);
        if (key)
                assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e, key)), value);
        return e;
}

static Build *start_a(Fixture *f) {
        assert_int_equal(test_feed(f->d.model, f->s, T0,
                                   "{\"action\":\"start\",\"fields\":[\"%s\",\"\",1,1],\"id\":7,\"level\":3,"
                                   "\"text\":\"b\","
                                   "\"type\":105}",
                                   f->drv),
                         0);
        Build *b = model_builds_first(f->d.model);
        assert_non_null(b);
        return b;
}

/* A client following a build's log gets its lines, then log-end when it ends, and follows it
 * no more; one watching builds gets the build events and no log. */
static void test_follow_until_end(void **state) {
        Fixture *f = *state;
        Daemon *d = &f->d;
        Build *b = start_a(f);
        f->watcher->sub.builds = true;
        assert_int_equal(control_conn_follow(f->follower, b->key, /* notify_end= */ true), 0);
        assert_int_equal(d->n_follows, 1);

        for (int i = 1; i <= 2; i++)
                assert_int_equal(
                        test_feed(d->model, f->s, T0,
                                  "{\"action\":\"result\",\"fields\":[\"line %d\"],\"id\":7,\"type\":101}",
                                  i),
                        0);
        notify_flush(d);
        cJSON *ev = expect_one(f->follower_fd, "log", NULL, NULL);
        cJSON *lines = cJSON_GetObjectItem(ev, "lines");
        assert_int_equal(cJSON_GetArraySize(lines), 2);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(lines, 1)), "line 2");
        cJSON_Delete(ev);
        cJSON_Delete(expect_one(f->watcher_fd, "build", "kind", "new"));

        model_build_kill_requested(d->model, b);
        model_build_builder_exited(d->model, b, T0 + USEC_PER_SEC);
        assert_int_equal(b->state, BUILD_KILLED);
        notify_flush(d);
        cJSON_Delete(expect_one(f->follower_fd, "log-end", "state", "killed"));
        cJSON_Delete(expect_one(f->watcher_fd, "build", "kind", "finished"));
        assert_int_equal(f->follower->sub.n_follow, 0);
        assert_int_equal(d->n_follows, 0);

        /* nothing more to say */
        notify_flush(d);
        cJSON_Delete(expect_one(f->follower_fd, "", NULL, NULL));
}

/* Follows are the connections' bookkeeping: a client that goes away takes its follows with
 * it. */
static void test_follows_leave_with_client(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        assert_int_equal(control_conn_follow(f->follower, b->key, /* notify_end= */ false), 0);
        assert_int_equal(control_conn_follow(f->watcher, b->key, /* notify_end= */ false), 0);
        assert_int_equal(control_conn_follow(f->watcher, b->key, /* notify_end= */ true), 0); /* again */
        assert_int_equal(f->d.n_follows, 2);
        control_conns_free_all(&f->d);
        assert_int_equal(f->d.n_follows, 0);
}

/* "processes" events go to the clients that asked for them only. */
static void test_processes_to_subscribers(void **state) {
        Fixture *f = *state;
        Build *b = start_a(f);
        notify_flush(&f->d);
        f->watcher->sub.processes = true;
        notify_processes(&f->d, b);
        cJSON *p = expect_one(f->watcher_fd, "processes", "control", "none"); /* no sampler */
        assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "build")), (double) b->key);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(p, "state")), "running");
        cJSON_Delete(p);
        cJSON_Delete(expect_one(f->follower_fd, "", NULL, NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_follow_until_end, setup, teardown),
                cmocka_unit_test_setup_teardown(test_follows_leave_with_client, setup, teardown),
                cmocka_unit_test_setup_teardown(test_processes_to_subscribers, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
