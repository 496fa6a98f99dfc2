/* Unit tests for src/tui/client.c: the TUI's asynchronous control connection against a fake
 * daemon in the same event loop: retry while absent (told once), hello, answers matched to
 * requests, events, a lost connection failing what was pending, reconnection, a daemon that
 * breaks the protocol dropped. */
#include <errno.h>
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

#include "basic/time-util.h"
#include "shared/json-read.h"
#include "tui/client.h"

typedef struct Fake {
        sd_event *e;
        int listen_fd, conn_fd;
        sd_event_source *accept_src, *conn_src;
        char buf[65536];
        size_t len;
        /* what the client side saw */
        int connected, disconnected, events, answers, failed;
        int last_error;
        double last_pong;
} Fake;

static void fake_send(Fake *f, const char *line) {
        assert_int_equal(write(f->conn_fd, line, strlen(line)), (ssize_t) strlen(line));
}

static int fake_on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Fake *f = userdata;
        ssize_t n = read(fd, f->buf + f->len, sizeof(f->buf) - f->len - 1);
        if (n == 0) {
                /* The client hung up: the next connection is accepted anew. */
                f->conn_src = sd_event_source_disable_unref(f->conn_src);
                close(f->conn_fd);
                f->conn_fd = -1;
        }
        if (n <= 0)
                return 0;
        f->len += (size_t) n;
        f->buf[f->len] = 0;
        char *nl;
        while ((nl = strchr(f->buf, '\n'))) {
                *nl = 0;
                cJSON *req = cJSON_Parse(f->buf);
                assert_non_null(req);
                const char *cmd = json_str(req, "cmd");
                double id = json_num(req, "id", -1);
                char out[256];
                if (strcmp(cmd, "hello") == 0)
                        snprintf(out, sizeof(out),
                                 "{\"id\":%.0f,\"result\":{\"protocol\":1,\"version\":\"9.9\"}}\n", id);
                else if (strcmp(cmd, "ping") == 0) {
                        /* An event first: it must reach the event callback, not the answer's. */
                        fake_send(f, "{\"event\":\"build\",\"kind\":\"new\",\"build\":{\"key\":1}}\n");
                        snprintf(out, sizeof(out), "{\"id\":%.0f,\"result\":{\"pong\":%.0f}}\n", id,
                                 json_num(json_obj(req, "args"), "n", -1));
                } else if (strcmp(cmd, "garbage") == 0)
                        snprintf(out, sizeof(out), "{\"id\":%.0f}\n", id); /* neither result nor error */
                else if (strcmp(cmd, "hang") == 0)
                        out[0] = 0; /* never answered */
                else
                        snprintf(out, sizeof(out),
                                 "{\"id\":%.0f,\"error\":{\"code\":\"unknown-command\",\"message\":\"no\"}}"
                                 "\n",
                                 id);
                if (out[0])
                        fake_send(f, out);
                cJSON_Delete(req);
                size_t used = (size_t) (nl - f->buf) + 1;
                memmove(f->buf, nl + 1, f->len - used + 1);
                f->len -= used;
        }
        return 0;
}

static int fake_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Fake *f = userdata;
        f->conn_fd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(f->conn_fd >= 0);
        f->len = 0;
        assert_int_equal(sd_event_add_io(f->e, &f->conn_src, f->conn_fd, EPOLLIN, fake_on_conn, f), 0);
        return 0;
}

static void fake_listen(Fake *f, const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, path);
        unlink(path);
        f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(bind(f->listen_fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(f->listen_fd, 4), 0);
        assert_int_equal(sd_event_add_io(f->e, &f->accept_src, f->listen_fd, EPOLLIN, fake_on_accept, f), 0);
}

/* The daemon goes away: its connection and its socket. */
static void fake_stop(Fake *f, const char *path) {
        f->conn_src = sd_event_source_disable_unref(f->conn_src);
        f->accept_src = sd_event_source_disable_unref(f->accept_src);
        if (f->conn_fd >= 0)
                close(f->conn_fd);
        close(f->listen_fd);
        f->conn_fd = f->listen_fd = -1;
        unlink(path);
}

static void on_connected(Client *c, void *userdata) {
        Fake *f = userdata;
        f->connected++;
}
static void on_disconnected(Client *c, int error, void *userdata) {
        Fake *f = userdata;
        f->disconnected++;
        f->last_error = error;
}
static void on_event(Client *c, cJSON *ev, void *userdata) {
        Fake *f = userdata;
        assert_string_equal(json_str(ev, "event"), "build");
        f->events++;
}
static void on_answer(Client *c, const cJSON *result, const cJSON *error, void *userdata) {
        Fake *f = userdata;
        if (result) {
                f->answers++;
                f->last_pong = json_num(result, "pong", -1);
        } else
                f->failed++;
}

/* Runs the loop until cond or a deadline (2 s). */
#define RUN_UNTIL(f, cond)                                                          \
        do {                                                                        \
                usec_t deadline_ = now_monotonic() + 2 * USEC_PER_SEC;              \
                while (!(cond) && now_monotonic() < deadline_)                      \
                        assert_true(sd_event_run((f)->e, 10 * USEC_PER_MSEC) >= 0); \
                if (!(cond))                                                        \
                        fail_msg("timed out waiting for %s", #cond);                \
        } while (0)

static void test_client(void **state) {
        char dir[] = "/tmp/test-tui-client.XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/control.sock", dir);
        Fake f = {.conn_fd = -1, .listen_fd = -1};
        assert_int_equal(sd_event_new(&f.e), 0);
        static const ClientCallbacks cb = {on_connected, on_disconnected, on_event};
        Client *c;
        assert_int_equal(client_new(f.e, path, "test", 20 * USEC_PER_MSEC, &cb, &f, &c), 0);

        /* No daemon: told once, however many attempts. */
        RUN_UNTIL(&f, f.disconnected == 1);
        for (int i = 0; i < 10; i++)
                sd_event_run(f.e, 10 * USEC_PER_MSEC);
        assert_int_equal(f.disconnected, 1);
        assert_int_equal(f.last_error, -ENOENT);
        assert_false(client_is_connected(c));
        assert_int_equal(client_request(c, "ping", NULL, on_answer, &f), -ENOTCONN);

        /* The daemon appears: hello, then requests. */
        fake_listen(&f, path);
        RUN_UNTIL(&f, f.connected == 1);
        assert_string_equal(client_daemon_version(c), "9.9");
        for (int n = 1; n <= 3; n++) {
                cJSON *args = cJSON_CreateObject();
                cJSON_AddNumberToObject(args, "n", n);
                assert_int_equal(client_request(c, "ping", args, on_answer, &f), 0);
        }
        RUN_UNTIL(&f, f.answers == 3);
        assert_true(f.last_pong == 3);
        assert_int_equal(f.events, 3);
        assert_int_equal(client_request(c, "bogus", NULL, on_answer, &f), 0);
        RUN_UNTIL(&f, f.failed == 1); /* an error answer */

        /* A request left unanswered fails when the daemon goes; the client tries again. */
        assert_int_equal(client_request(c, "hang", NULL, on_answer, &f), 0);
        for (int i = 0; i < 5; i++)
                sd_event_run(f.e, 5 * USEC_PER_MSEC);
        fake_stop(&f, path);
        RUN_UNTIL(&f, f.disconnected == 2);
        assert_int_equal(f.failed, 2);
        assert_false(client_is_connected(c));

        /* Restarted: connected again. A forgotten request's callback is not called. */
        fake_listen(&f, path);
        RUN_UNTIL(&f, f.connected == 2);
        assert_int_equal(client_request(c, "hang", NULL, on_answer, &f), 0);
        client_forget(c, &f);
        fake_stop(&f, path);
        RUN_UNTIL(&f, f.disconnected == 3);
        assert_int_equal(f.failed, 2);

        /* A daemon that breaks the protocol is dropped like a lost one, and tried again. */
        fake_listen(&f, path);
        RUN_UNTIL(&f, f.connected == 3);
        assert_int_equal(client_request(c, "garbage", NULL, on_answer, &f), 0);
        RUN_UNTIL(&f, f.disconnected == 4);
        assert_int_equal(f.last_error, -EPROTO);
        assert_int_equal(f.failed, 3);
        RUN_UNTIL(&f, f.connected == 4);
        fake_stop(&f, path);

        client_free(c);
        sd_event_unref(f.e);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_client),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
