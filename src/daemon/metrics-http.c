/* The metrics endpoint's HTTP server (metrics-http.h). Two sides share one lock:
 *  - a scrape's thread (libmicrohttpd's): takes a text fresh enough, or marks its format
 *    wanted, wakes the loop through the eventfd and waits on the condition;
 *  - the event loop (on_wake): renders each wanted format, publishes it under the lock and
 *    wakes every waiting thread.
 * The loop never waits for a thread; a thread waits for the loop at most
 * METRICS_HTTP_WAIT_USEC. */
#include "daemon/metrics-http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"

typedef struct Snapshot {
        char *text;
        size_t len;
        usec_t made; /* monotonic; 0 never */
        uint64_t generation;
} Snapshot;

struct MetricsHttp {
        struct MHD_Daemon *mhd;
        sd_event_source *wake_source;
        int wake_fd;
        MetricsRenderFn render;
        void *userdata;
        char *address; /* as given, for messages */

        pthread_mutex_t lock;
        pthread_cond_t rendered; /* on CLOCK_MONOTONIC */
        /* under lock */
        unsigned wanted; /* formats asked for since the loop last rendered (bits) */
        bool stopping;
        Snapshot snapshots[_METRICS_FORMAT_MAX];
};

int metrics_http_parse_address(const char *address, char **ret_host, char **ret_port) {
        const char *host, *port;
        size_t host_len;
        if (!address || !address[0])
                return -EINVAL;
        if (address[0] == '[') {
                const char *close = strchr(address, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                host = address + 1;
                host_len = (size_t) (close - host);
                port = close + 2;
        } else {
                const char *colon = strrchr(address, ':');
                if (!colon) {
                        host = "127.0.0.1";
                        host_len = strlen(host);
                        port = address;
                } else {
                        if (memchr(address, ':', (size_t) (colon - address)))
                                return -EINVAL; /* an IPv6 address needs its brackets */
                        host = address;
                        host_len = (size_t) (colon - address);
                        port = colon + 1;
                }
        }
        uint64_t n;
        if (host_len == 0 || safe_atou64(port, &n) < 0 || n == 0 || n > 65535)
                return -EINVAL;
        char *h = strndup(host, host_len), *p = strdup(port);
        if (!h || !p) {
                free(h);
                free(p);
                return -ENOMEM;
        }
        *ret_host = h;
        *ret_port = p;
        return 0;
}

/* A listening TCP socket on address; the first of its resolutions that binds. */
static int listen_address(const char *address, int *ret_fd) {
        _cleanup_free_ char *host = NULL, *port = NULL;
        int r = metrics_http_parse_address(address, &host, &port);
        if (r == -EINVAL)
                return log_error_errno(r, "--metrics-listen %s: not HOST:PORT, [IPV6]:PORT or PORT",
                                       address);
        if (r < 0)
                return r;
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        int g = getaddrinfo(host, port, &hints, &res);
        if (g != 0)
                return log_error_errno(-EADDRNOTAVAIL, "--metrics-listen %s: %s", address, gai_strerror(g));
        r = -EADDRNOTAVAIL;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
                if (fd < 0) {
                        r = -errno;
                        continue;
                }
                int one = 1;
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
                        r = -errno;
                        close(fd);
                        continue;
                }
                *ret_fd = fd;
                freeaddrinfo(res);
                return 0;
        }
        freeaddrinfo(res);
        return log_error_errno(r, "cannot listen for metrics on %s: %m", address);
}

static void snapshot_clear(Snapshot *s) {
        free(s->text);
        s->text = NULL;
        s->len = 0;
}

/* The loop's side: render what was asked for and wake the scrapes waiting for it. */
static int on_wake(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        MetricsHttp *h = userdata;
        uint64_t v;
        (void) read(fd, &v, sizeof(v));

        pthread_mutex_lock(&h->lock);
        unsigned wanted = h->wanted;
        h->wanted = 0;
        pthread_mutex_unlock(&h->lock);

        for (MetricsFormat f = 0; f < _METRICS_FORMAT_MAX; f++) {
                if (!(wanted & (1u << f)))
                        continue;
                char *text = NULL;
                size_t len = 0;
                int r = h->render(h->userdata, f, &text, &len);
                if (r < 0)
                        log_warning_errno(r, "metrics: cannot render the exposition: %m");
                pthread_mutex_lock(&h->lock);
                Snapshot *s = &h->snapshots[f];
                if (r >= 0) {
                        snapshot_clear(s);
                        s->text = text;
                        s->len = len;
                        s->made = now_monotonic();
                }
                s->generation++; /* a failure too: the scrape gets its 503 now */
                pthread_mutex_unlock(&h->lock);
        }
        pthread_mutex_lock(&h->lock);
        pthread_cond_broadcast(&h->rendered);
        pthread_mutex_unlock(&h->lock);
        return 0;
}

static struct MHD_Response *text_response(const char *text) {
        return MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status, const char *text) {
        struct MHD_Response *resp = text_response(text);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(resp, "Allow", "GET, HEAD");
        enum MHD_Result ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* A scrape's thread: a copy of a fresh enough text of format f, or NULL (503). */
static struct MHD_Response *scrape(MetricsHttp *h, MetricsFormat f) {
        struct MHD_Response *resp = NULL;
        pthread_mutex_lock(&h->lock);
        Snapshot *s = &h->snapshots[f];
        usec_t now = now_monotonic();
        if (!s->text || now - s->made > METRICS_HTTP_FRESH_USEC) {
                uint64_t gen = s->generation;
                h->wanted |= 1u << f;
                uint64_t one = 1;
                (void) !write(h->wake_fd, &one, sizeof(one));
                usec_t until = now + METRICS_HTTP_WAIT_USEC;
                while (s->generation == gen && !h->stopping && now_monotonic() < until) {
                        struct timespec ts = {
                                .tv_sec = (time_t) (until / USEC_PER_SEC),
                                .tv_nsec = (long) (until % USEC_PER_SEC) * 1000,
                        };
                        pthread_cond_timedwait(&h->rendered, &h->lock, &ts);
                }
                if (s->generation == gen || now_monotonic() - s->made > METRICS_HTTP_WAIT_USEC)
                        s = NULL; /* the loop did not answer (or could not render) */
        }
        if (s && s->text)
                resp = MHD_create_response_from_buffer(s->len, s->text, MHD_RESPMEM_MUST_COPY);
        pthread_mutex_unlock(&h->lock);
        if (resp)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, metrics_format_content_type(f));
        return resp;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        MetricsHttp *h = cls;
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        if (strcmp(url, "/") == 0)
                return queue_text(conn, MHD_HTTP_OK, "nix-analyticsd: metrics are at /metrics\n");
        if (strcmp(url, "/metrics") != 0)
                return queue_text(conn, MHD_HTTP_NOT_FOUND, "not found: metrics are at /metrics\n");

        const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
        struct MHD_Response *resp = scrape(h, metrics_format_from_accept(accept));
        if (!resp)
                return queue_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the daemon did not answer in time\n");
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_warning("metrics: %s", buf);
}

int metrics_http_new(sd_event *e, const char *address, MetricsRenderFn render, void *userdata,
                     MetricsHttp **ret) {
        MetricsHttp *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->render = render;
        h->userdata = userdata;
        h->wake_fd = -1;
        pthread_mutex_init(&h->lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&h->rendered, &attr);
        pthread_condattr_destroy(&attr);

        int r, listen_fd = -1;
        if (!(h->address = strdup(address))) {
                r = -ENOMEM;
                goto free_server;
        }
        h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (h->wake_fd < 0) {
                r = log_error_errno(-errno, "metrics: eventfd: %m");
                goto free_server;
        }
        r = sd_event_add_io(e, &h->wake_source, h->wake_fd, EPOLLIN, on_wake, h);
        if (r < 0) {
                log_error_errno(r, "metrics: cannot watch its eventfd: %m");
                goto free_server;
        }
        r = listen_address(address, &listen_fd);
        if (r < 0)
                goto free_server;
        /* A thread per connection, and a bound on connections: a scrape may wait for the loop,
         * and must not hold up another scraper while it does. */
        h->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                          MHD_USE_AUTO | MHD_USE_ERROR_LOG,
                                  0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                  MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned) METRICS_HTTP_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned) 10, MHD_OPTION_END);
        if (!h->mhd) {
                close(listen_fd);
                r = log_error_errno(-EIO, "metrics: cannot start the HTTP server on %s", address);
                goto free_server;
        }
        log_info("metrics: serving /metrics on %s", address);
        *ret = h;
        return 0;

free_server:
        metrics_http_free(h);
        return r;
}

MetricsHttp *metrics_http_free(MetricsHttp *h) {
        if (!h)
                return NULL;
        pthread_mutex_lock(&h->lock);
        h->stopping = true;
        pthread_cond_broadcast(&h->rendered);
        pthread_mutex_unlock(&h->lock);
        if (h->mhd)
                MHD_stop_daemon(h->mhd); /* joins its threads; closes the listening socket */
        sd_event_source_disable_unref(h->wake_source);
        if (h->wake_fd >= 0)
                close(h->wake_fd);
        for (MetricsFormat f = 0; f < _METRICS_FORMAT_MAX; f++)
                snapshot_clear(&h->snapshots[f]);
        pthread_cond_destroy(&h->rendered);
        pthread_mutex_destroy(&h->lock);
        free(h->address);
        free(h);
        return NULL;
}
