/* The series (docs/metrics.md lists each with its labels). Cardinality is bounded by design:
 * per-build series exist only for active builds of trusted sources, labelled by pname and a
 * short hash, and go when the build ends; the finished-by-result counters are keyed by
 * (result, system, machine) with at most FINISHED_KEYS_MAX keys, past which new systems and
 * machines count as "other". Builds reported by untrusted sources (docs/protocol.md, "Trust
 * model") may be made up by any local user: they are counted apart and never labelled. */
#include "daemon/metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "basic/macro.h"
#include "daemon/control-conn.h"
#include "daemon/history-writer.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "daemon/machines-poll.h"
#include "daemon/metrics-http.h"
#include "daemon/oom.h"
#include "shared/drv.h"
#include "shared/model-machines.h"
#include "shared/proto-version.h"
#include "shared/storepath.h"

#define FINISHED_KEYS_MAX 256
#define SHORT_HASH_LEN    8

static const double duration_bounds[] = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200};
static const MetricsBuckets duration_buckets = {duration_bounds, ELEMENTSOF(duration_bounds)};

typedef struct FinishedKey {
        char *key;   /* "result<US>system<US>machine" (US: the unit separator, 0x1f) */
        char *parts; /* the same, split at the separators: result, system, machine */
        const char *result, *system, *machine;
        uint64_t count;
        UT_hash_handle hh;
} FinishedKey;

/* One histogram per final state. */
typedef struct DurationHistogram {
        uint64_t counts[ELEMENTSOF(duration_bounds) + 1];
        double sum;
} DurationHistogram;

/* A build that ended failed on the model's guess (no-outputs) while its nix process runs: Nix
 * may give its own reason later (CHANGE_REVISED; a -k failure on Nix 2.8 is explained when
 * nix-build ends). Its kind is counted once known, as counters never go back. */
typedef struct PendingKind {
        uint64_t key;
        UT_hash_handle hh;
} PendingKind;
#define PENDING_KINDS_MAX 4096

struct Metrics {
        Daemon *daemon;
        PendingKind *pending_kinds; /* by build key */
        uint32_t n_pending_kinds;
        MetricsHttp *http;
        FinishedKey *finished; /* hash by key, in insertion order */
        uint32_t n_finished_keys;
        DurationHistogram durations[_BUILD_STATE_MAX];
        uint64_t failed_by_kind[_FAILURE_KIND_MAX];
        uint64_t untrusted_finished;
};

static bool build_trusted(const Build *b) {
        const Source *s = b->invocation ? b->invocation->source : NULL;
        return !s || s->trusted;
}

static int render_cb(void *userdata, MetricsFormat f, char **ret, size_t *ret_len) {
        Metrics *m = userdata;
        return metrics_render(m->daemon, f, ret, ret_len);
}

int metrics_new(Daemon *d, const char *address, Metrics **ret) {
        Metrics *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->daemon = d;
        int r = metrics_http_new(d->event, address, render_cb, m, &m->http);
        if (r < 0) {
                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Metrics *metrics_free(Metrics *m) {
        if (!m)
                return NULL;
        m->http = metrics_http_free(m->http);
        PendingKind *p, *ptmp;
        HASH_ITER(hh, m->pending_kinds, p, ptmp) {
                HASH_DEL(m->pending_kinds, p);
                free(p);
        }
        FinishedKey *k, *tmp;
        HASH_ITER(hh, m->finished, k, tmp) {
                HASH_DEL(m->finished, k);
                free(k->key);
                free(k->parts);
                free(k);
        }
        free(m);
        return NULL;
}

static FinishedKey *finished_key(Metrics *m, const char *result, const char *system, const char *machine) {
        _cleanup_free_ char *key = NULL;
        if (asprintf(&key, "%s\x1f%s\x1f%s", result, system, machine) < 0)
                return NULL;
        FinishedKey *k = NULL;
        HASH_FIND_STR(m->finished, key, k);
        if (k)
                return k;
        if (m->n_finished_keys >= FINISHED_KEYS_MAX &&
            !(strcmp(system, "other") == 0 && strcmp(machine, "other") == 0))
                return finished_key(m, result, "other", "other");
        k = calloc(1, sizeof(*k));
        if (!k || !(k->parts = strdup(key))) {
                free(k);
                return NULL;
        }
        k->key = TAKE_PTR(key);
        char *sep1 = strchr(k->parts, '\x1f'), *sep2 = strrchr(k->parts, '\x1f');
        *sep1 = *sep2 = '\0';
        k->result = k->parts;
        k->system = sep1 + 1;
        k->machine = sep2 + 1;
        HASH_ADD_KEYPTR(hh, m->finished, k->key, strlen(k->key), k);
        m->n_finished_keys++;
        return k;
}

static void count_kind(Metrics *m, FailureKind k) {
        if (k >= 0 && k < _FAILURE_KIND_MAX)
                m->failed_by_kind[k]++;
}

static bool kind_may_change(const Build *b) {
        return b->failure == FAILURE_NO_OUTPUTS && b->invocation && !b->invocation->done;
}

static void count_kind_or_wait(Metrics *m, const Build *b) {
        PendingKind *p = NULL;
        if (kind_may_change(b) && m->n_pending_kinds < PENDING_KINDS_MAX && (p = calloc(1, sizeof(*p)))) {
                p->key = b->key;
                HASH_ADD(hh, m->pending_kinds, key, sizeof(p->key), p);
                m->n_pending_kinds++;
                return;
        }
        count_kind(m, b->failure);
}

static void pending_done(Metrics *m, PendingKind *p, FailureKind k) {
        count_kind(m, k);
        HASH_DEL(m->pending_kinds, p);
        m->n_pending_kinds--;
        free(p);
}

void metrics_build_revised(Metrics *m, const Build *b) {
        PendingKind *p = NULL;
        if (m)
                HASH_FIND(hh, m->pending_kinds, &b->key, sizeof(b->key), p);
        if (p)
                pending_done(m, p, b->failure);
}

/* Builds still waiting for Nix's word: counted as they are once their invocation ended or the
 * model let go of them. */
static void settle_pending(Metrics *m) {
        PendingKind *p, *tmp;
        HASH_ITER(hh, m->pending_kinds, p, tmp) {
                const Build *b = model_build_by_key(m->daemon->model, p->key);
                if (!b)
                        pending_done(m, p, FAILURE_NO_OUTPUTS);
                else if (!kind_may_change(b))
                        pending_done(m, p, b->failure);
        }
}

void metrics_build_finished(Metrics *m, const Build *b) {
        if (!m || !build_state_is_final(b->state))
                return;
        if (!build_trusted(b)) {
                m->untrusted_finished++;
                return;
        }
        /* The model reads the .drv for the outputs of most builds and keeps its system then;
         * only one that ended without that look (a failure Nix reported) is read here. */
        _cleanup_free_ char *read_system = NULL;
        const char *system = b->system;
        if (!system)
                system = read_system = store_drv_system(m->daemon->config.model.store_dir, b->drv);
        const char *result = build_state_to_string(b->state);
        FinishedKey *k =
                finished_key(m, result, system ? system : "unknown", b->machine[0] ? b->machine : "local");
        if (k)
                k->count++;
        if (b->state == BUILD_FAILED)
                count_kind_or_wait(m, b);
        if (b->started && b->finished >= b->started) {
                DurationHistogram *h = &m->durations[b->state];
                double secs = usec_to_sec(b->finished - b->started);
                size_t i = 0;
                while (i < duration_buckets.n && secs > duration_bounds[i])
                        i++;
                h->counts[i]++;
                h->sum += secs;
        }
}

/* ---- rendering ---- */

typedef struct BuildLabels {
        char *pname;
        char hash[SHORT_HASH_LEN + 1];
        MetricLabel l[2];
        char *text; /* l, written once for every per-build family */
} BuildLabels;

/* pname and the first characters of the .drv's store hash: short, and enough to tell two
 * builds of one pname apart while they run. */
static int build_labels(const Build *b, BuildLabels *ret) {
        *ret = (BuildLabels){};
        ret->pname = drv_name_pname(b->name);
        if (!ret->pname)
                return -ENOMEM;
        const char *base = strrchr(b->drv, '/');
        base = base ? base + 1 : b->drv;
        size_t n = strcspn(base, "-");
        snprintf(ret->hash, sizeof(ret->hash), "%.*s", (int) MIN(n, (size_t) SHORT_HASH_LEN), base);
        ret->l[0] = (MetricLabel){"pname", ret->pname};
        ret->l[1] = (MetricLabel){"hash", ret->hash};
        ret->text = metrics_labels_format(ret->l, ELEMENTSOF(ret->l));
        if (!ret->text) {
                free(ret->pname);
                ret->pname = NULL;
                return -ENOMEM;
        }
        return 0;
}

static bool build_exported(const Build *b) {
        return build_state_is_active(b->state) && build_trusted(b);
}

/* One per-build family: each exported build's value from get(b); skip(b) leaves it out. */
static void per_build(MetricsText *t, Daemon *d, BuildLabels *labels, size_t n, const char *name,
                      MetricType type, const char *unit, const char *help, double (*get)(const Build *b),
                      bool (*has)(const Build *b)) {
        metrics_text_family(t, name, type, unit, help);
        size_t i = 0;
        for (Build *b = model_builds_first(d->model); b && i < n; b = b->next) {
                if (!build_exported(b))
                        continue;
                BuildLabels *bl = &labels[i++];
                if (bl->text && (!has || has(b)))
                        metrics_text_sample_formatted(t, bl->text, get(b));
        }
}

static bool has_started(const Build *b) {
        return b->started != 0;
}
static double get_started(const Build *b) {
        return usec_to_sec(b->started);
}
static bool has_usage(const Build *b) {
        return b->usage.sampled;
}
static double get_cpu(const Build *b) {
        return usec_to_sec(b->usage.cpu_user + b->usage.cpu_system);
}
static double get_mem(const Build *b) {
        return (double) b->usage.mem_current;
}
static double get_mem_peak(const Build *b) {
        return (double) b->usage.mem_peak;
}
static bool has_mem_cgroup(const Build *b) {
        return b->usage.sampled && b->usage.has_mem_cgroup;
}
static double get_mem_cgroup(const Build *b) {
        return (double) b->usage.mem_cgroup;
}
static bool has_pressure(const Build *b) {
        return b->usage.sampled && b->usage.has_pressure;
}
static double get_pressure_cpu(const Build *b) {
        return b->usage.pressure[PSI_CPU] / 100;
}
static double get_pressure_memory(const Build *b) {
        return b->usage.pressure[PSI_MEMORY] / 100;
}
static double get_pressure_io(const Build *b) {
        return b->usage.pressure[PSI_IO] / 100;
}
static bool has_mem_limit(const Build *b) {
        return b->usage.mem_limit > 0;
}
static double get_mem_limit(const Build *b) {
        return (double) b->usage.mem_limit;
}
static bool has_cpu_limit(const Build *b) {
        return b->usage.cpu_limit > 0;
}
static double get_cpu_limit(const Build *b) {
        return b->usage.cpu_limit;
}
static double get_io_read(const Build *b) {
        return (double) b->usage.io_read;
}
static double get_io_write(const Build *b) {
        return (double) b->usage.io_write;
}
static double get_procs(const Build *b) {
        return b->usage.n_procs;
}
static double get_log_lines(const Build *b) {
        return (double) b->log.total;
}
static bool has_eta(const Build *b) {
        return b->eta.samples > 0;
}
static double get_eta(const Build *b) {
        return b->eta.expected;
}

static void render_builds(MetricsText *t, Daemon *d) {
        static const BuildState active[] = {BUILD_QUEUED, BUILD_RUNNING, BUILD_FROZEN, BUILD_FINISHING};
        uint32_t by_state[_BUILD_STATE_MAX] = {}, untrusted = 0, waiting = 0;
        size_t n = 0;
        for (Build *b = model_builds_first(d->model); b; b = b->next) {
                if (!build_state_is_active(b->state))
                        continue;
                if (!build_trusted(b)) {
                        untrusted++;
                        continue;
                }
                by_state[b->state]++;
                waiting += build_waiting_for_machine(b);
                n++;
        }

        metrics_text_family(t, "nix_analytics_builds", METRIC_GAUGE, NULL,
                            "Builds held by the daemon that have not ended, by state.");
        for (size_t i = 0; i < ELEMENTSOF(active); i++)
                metrics_text_sample(t, (MetricLabel[]){{"state", build_state_to_string(active[i])}}, 1,
                                    by_state[active[i]]);
        metrics_text_family(t, "nix_analytics_builds_waiting_for_machine", METRIC_GAUGE, NULL,
                            "Builds waiting for a free remote builder slot.");
        metrics_text_sample(t, NULL, 0, waiting);
        metrics_text_family(t, "nix_analytics_untrusted_builds", METRIC_GAUGE, NULL,
                            "Active builds reported by untrusted sources (not in any other series).");
        metrics_text_sample(t, NULL, 0, untrusted);

        _cleanup_free_ BuildLabels *labels = n ? calloc(n, sizeof(BuildLabels)) : NULL;
        if (n && !labels)
                return;
        size_t i = 0;
        for (Build *b = model_builds_first(d->model); b && i < n; b = b->next)
                if (build_exported(b))
                        (void) build_labels(b, &labels[i++]); /* a NULL pname: the build is left out */

        metrics_text_family(t, "nix_analytics_build", METRIC_INFO, NULL,
                            "An active build: its name, state, system, machine and requester.");
        i = 0;
        for (Build *b = model_builds_first(d->model); b && i < n; b = b->next) {
                if (!build_exported(b))
                        continue;
                BuildLabels *bl = &labels[i++];
                if (!bl->pname)
                        continue;
                MetricLabel l[] = {
                        bl->l[0],
                        bl->l[1],
                        {"name", b->name},
                        {"state", build_state_to_string(b->state)},
                        {"system", b->system ? b->system : ""},
                        {"machine", b->machine},
                        {"user", b->requester.user ? b->requester.user : ""},
                };
                metrics_text_sample(t, l, ELEMENTSOF(l), 1);
        }
        per_build(t, d, labels, n, "nix_analytics_build_start_time_seconds", METRIC_GAUGE, "seconds",
                  "When the build started, in seconds since the epoch.", get_started, has_started);
        per_build(t, d, labels, n, "nix_analytics_build_cpu_seconds", METRIC_COUNTER, "seconds",
                  "CPU time used by the build's processes (user and system).", get_cpu, has_usage);
        per_build(t, d, labels, n, "nix_analytics_build_memory_bytes", METRIC_GAUGE, "bytes",
                  "Memory of the build: the sum of its processes' resident sizes.", get_mem, has_usage);
        per_build(t, d, labels, n, "nix_analytics_build_memory_charged_bytes", METRIC_GAUGE, "bytes",
                  "Memory the kernel charges to the build's cgroup (its limit goes by this; absent "
                  "without a cgroup).",
                  get_mem_cgroup, has_mem_cgroup);
        per_build(t, d, labels, n, "nix_analytics_build_memory_peak_bytes", METRIC_GAUGE, "bytes",
                  "The largest sum of the build's processes' resident sizes so far.", get_mem_peak,
                  has_usage);
        per_build(t, d, labels, n, "nix_analytics_build_memory_pressure_ratio", METRIC_GAUGE, "ratio",
                  "Share of the last 4 samples' span in which some process of the build stalled for "
                  "memory (its cgroup's PSI; absent without one).",
                  get_pressure_memory, has_pressure);
        per_build(t, d, labels, n, "nix_analytics_build_cpu_pressure_ratio", METRIC_GAUGE, "ratio",
                  "Share of the last 4 samples' span in which some process of the build waited for a "
                  "CPU (its cgroup's PSI; absent without one).",
                  get_pressure_cpu, has_pressure);
        per_build(t, d, labels, n, "nix_analytics_build_io_pressure_ratio", METRIC_GAUGE, "ratio",
                  "Share of the last 4 samples' span in which some process of the build stalled for "
                  "I/O (its cgroup's PSI; absent without one).",
                  get_pressure_io, has_pressure);
        per_build(t, d, labels, n, "nix_analytics_build_memory_limit_bytes", METRIC_GAUGE, "bytes",
                  "The memory limit set on the build (absent when none).", get_mem_limit, has_mem_limit);
        per_build(t, d, labels, n, "nix_analytics_build_cpu_limit_cores", METRIC_GAUGE, NULL,
                  "The CPU limit set on the build, in cores (absent when none).", get_cpu_limit,
                  has_cpu_limit);
        per_build(t, d, labels, n, "nix_analytics_build_read_bytes", METRIC_COUNTER, "bytes",
                  "Bytes the build read from storage.", get_io_read, has_usage);
        per_build(t, d, labels, n, "nix_analytics_build_written_bytes", METRIC_COUNTER, "bytes",
                  "Bytes the build wrote to storage.", get_io_write, has_usage);
        per_build(t, d, labels, n, "nix_analytics_build_processes", METRIC_GAUGE, NULL,
                  "Processes of the build.", get_procs, has_usage);
        per_build(t, d, labels, n, "nix_analytics_build_log_lines", METRIC_COUNTER, NULL,
                  "Log lines the build printed.", get_log_lines, NULL);
        per_build(t, d, labels, n, "nix_analytics_build_expected_duration_seconds", METRIC_GAUGE, "seconds",
                  "How long the build should take, from the history of its pname (absent when unknown).",
                  get_eta, has_eta);
        for (i = 0; i < n; i++) {
                free(labels[i].pname);
                free(labels[i].text);
        }
}

static void render_finished(MetricsText *t, Metrics *m) {
        metrics_text_family(t, "nix_analytics_builds_finished", METRIC_COUNTER, NULL,
                            "Builds that ended since the daemon started, by result, system and machine.");
        if (m) {
                FinishedKey *k, *tmp;
                HASH_ITER(hh, m->finished, k, tmp)
                        metrics_text_sample(t,
                                            (MetricLabel[]){{"result", k->result},
                                                            {"system", k->system},
                                                            {"machine", k->machine}},
                                            3, (double) k->count);
        }
        metrics_text_family(t, "nix_analytics_builds_failed", METRIC_COUNTER, NULL,
                            "Failed builds since the daemon started, by the kind of failure.");
        for (FailureKind k = 0; k < _FAILURE_KIND_MAX; k++)
                if (failure_kind_to_string(k))
                        metrics_text_sample(t, (MetricLabel[]){{"kind", failure_kind_to_string(k)}}, 1,
                                            m ? (double) m->failed_by_kind[k] : 0);
        metrics_text_family(t, "nix_analytics_untrusted_builds_finished", METRIC_COUNTER, NULL,
                            "Builds of untrusted sources that ended since the daemon started.");
        metrics_text_sample(t, NULL, 0, m ? (double) m->untrusted_finished : 0);

        metrics_text_family(t, "nix_analytics_build_duration_seconds", METRIC_HISTOGRAM, "seconds",
                            "How long builds took from start to end, by result.");
        for (BuildState s = 0; s < _BUILD_STATE_MAX; s++) {
                if (!build_state_is_final(s))
                        continue;
                static const DurationHistogram none = {};
                const DurationHistogram *h = m ? &m->durations[s] : &none;
                metrics_text_histogram(t, (MetricLabel[]){{"result", build_state_to_string(s)}}, 1,
                                       &duration_buckets, h->counts, h->sum);
        }
}

static const char *source_role(const Source *s) {
        static const char *const known[] = {"daemon-worker", "cli", "ingest", "json-log"};
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (s->role && strcmp(s->role, known[i]) == 0)
                        return known[i];
        return "other";
}

static void render_sources(MetricsText *t, Daemon *d) {
        ModelCounters c;
        model_counters(d->model, &c);
        metrics_text_family(t, "nix_analytics_events", METRIC_COUNTER, NULL,
                            "Event records received from Nix on every source.");
        metrics_text_sample(t, NULL, 0, (double) c.events);
        metrics_text_family(t, "nix_analytics_events_rejected", METRIC_COUNTER, NULL,
                            "Event records refused, by reason (bad: malformed or not allowed; oversized: "
                            "longer than a line may be; dropped: dropped by the sender).");
        metrics_text_sample(t, (MetricLabel[]){{"reason", "bad"}}, 1, (double) c.bad);
        metrics_text_sample(t, (MetricLabel[]){{"reason", "oversized"}}, 1, (double) c.oversized);
        metrics_text_sample(t, (MetricLabel[]){{"reason", "dropped"}}, 1, (double) c.dropped_by_senders);

        static const char *const roles[] = {"daemon-worker", "cli", "ingest", "json-log", "other"};
        uint32_t by_role[ELEMENTSOF(roles)] = {};
        for (Source *s = model_sources_first(d->model); s; s = s->next)
                if (!s->gone)
                        for (size_t i = 0; i < ELEMENTSOF(roles); i++)
                                if (strcmp(source_role(s), roles[i]) == 0)
                                        by_role[i]++;
        metrics_text_family(t, "nix_analytics_sources", METRIC_GAUGE, NULL,
                            "Connected event sources (the plugin in a nix-daemon worker or a nix command, "
                            "an ingest pipe, a json-log-path stream), by role.");
        for (size_t i = 0; i < ELEMENTSOF(roles); i++)
                metrics_text_sample(t, (MetricLabel[]){{"role", roles[i]}}, 1, by_role[i]);
        metrics_text_family(t, "nix_analytics_sources_connected", METRIC_COUNTER, NULL,
                            "Event sources that connected since the daemon started.");
        metrics_text_sample(t, NULL, 0, (double) c.sources_total);
        metrics_text_family(t, "nix_analytics_connections_refused", METRIC_COUNTER, NULL,
                            "Connections refused because the socket's client limit was reached.");
        metrics_text_sample(t, (MetricLabel[]){{"socket", "events"}}, 1, (double) d->event_conns_refused);
        metrics_text_sample(t, (MetricLabel[]){{"socket", "control"}}, 1, (double) d->control_conns_refused);
        metrics_text_family(t, "nix_analytics_control_clients", METRIC_GAUGE, NULL,
                            "Clients connected to the control socket (TUIs, nix-analytics-ctl).");
        metrics_text_sample(t, NULL, 0, d->n_control_conns);

        const LogBudget *lb = model_log_budget(d->model);
        metrics_text_family(t, "nix_analytics_log_held_bytes", METRIC_GAUGE, "bytes",
                            "Memory the builds' log rings hold.");
        metrics_text_sample(t, NULL, 0, (double) lb->used);
        metrics_text_family(t, "nix_analytics_log_budget_bytes", METRIC_GAUGE, "bytes",
                            "The memory the log rings may hold together (--log-budget; 0 no limit).");
        metrics_text_sample(t, NULL, 0, (double) lb->limit);
        metrics_text_family(t, "nix_analytics_log_lines_dropped", METRIC_COUNTER, NULL,
                            "Log lines the daemon let go of to stay within its log budget.");
        metrics_text_sample(t, NULL, 0, (double) lb->dropped);
}

static void render_machines(MetricsText *t, Daemon *d) {
        metrics_text_family(t, "nix_analytics_machine_up", METRIC_GAUGE, NULL,
                            "Whether a remote builder answered its last poll (absent while not polled).");
        for (ModelMachine *mm = model_machines_first(d->model); mm; mm = model_machine_next(mm)) {
                MachinePollState st = machines_poll_state(d->machines_poll, mm);
                if (st == MACHINE_POLL_UP || st == MACHINE_POLL_DOWN)
                        metrics_text_sample(t, (MetricLabel[]){{"machine", mm->key}}, 1,
                                            st == MACHINE_POLL_UP);
        }
        metrics_text_family(t, "nix_analytics_machine_slots", METRIC_GAUGE, NULL,
                            "Build slots of a configured remote builder (its max-jobs).");
        for (ModelMachine *mm = model_machines_first(d->model); mm; mm = model_machine_next(mm))
                if (mm->configured)
                        metrics_text_sample(t, (MetricLabel[]){{"machine", mm->key}}, 1, mm->spec.max_jobs);
        metrics_text_family(t, "nix_analytics_machine_slots_used", METRIC_GAUGE, NULL,
                            "Builds running on a remote builder now.");
        for (ModelMachine *mm = model_machines_first(d->model); mm; mm = model_machine_next(mm)) {
                uint32_t used = 0;
                for (Build *b = model_builds_first(d->model); b; b = b->next)
                        used += (b->state == BUILD_RUNNING || b->state == BUILD_FROZEN) &&
                                model_machine_has_build(mm, b);
                metrics_text_sample(t, (MetricLabel[]){{"machine", mm->key}}, 1, used);
        }
        metrics_text_family(t, "nix_analytics_machine_builds", METRIC_COUNTER, NULL,
                            "Builds dispatched to a remote builder since the daemon started.");
        for (ModelMachine *mm = model_machines_first(d->model); mm; mm = model_machine_next(mm))
                metrics_text_sample(t, (MetricLabel[]){{"machine", mm->key}}, 1, (double) mm->builds_total);
}

static void render_history(MetricsText *t, Daemon *d) {
        HistoryWriterStats hs;
        history_writer_stats(d->history, &hs);
        metrics_text_family(t, "nix_analytics_history_up", METRIC_GAUGE, NULL,
                            "Whether the history store takes rows (0 while unavailable or disabled).");
        metrics_text_sample(t, NULL, 0, strcmp(hs.state, "ok") == 0);
        metrics_text_family(t, "nix_analytics_history_rows_written", METRIC_COUNTER, NULL,
                            "History rows written since the daemon started.");
        metrics_text_sample(t, NULL, 0, (double) hs.written);
        metrics_text_family(t, "nix_analytics_history_rows_dropped", METRIC_COUNTER, NULL,
                            "History rows dropped (the store was unavailable and the queue full).");
        metrics_text_sample(t, NULL, 0, (double) hs.dropped);
        metrics_text_family(t, "nix_analytics_history_rows_queued", METRIC_GAUGE, NULL,
                            "History rows waiting to be written.");
        metrics_text_sample(t, NULL, 0, (double) hs.queued);
}

static void render_oom(MetricsText *t, Daemon *d) {
        uint64_t builds, other;
        oom_counts(d->oom, &builds, &other);
        metrics_text_family(t, "nix_analytics_oom_kills", METRIC_COUNTER, NULL,
                            "Kills of the kernel's OOM killer since the daemon started: of a build's "
                            "process, or of another (seen in the kernel log only).");
        metrics_text_sample(t, (MetricLabel[]){{"victim", "build"}}, 1, (double) builds);
        metrics_text_sample(t, (MetricLabel[]){{"victim", "other"}}, 1, (double) other);
}

int metrics_render(Daemon *d, MetricsFormat f, char **ret, size_t *ret_len) {
        MetricsText t;
        int r = metrics_text_begin(&t, f);
        if (r < 0)
                return r;
        usec_t now_real = now_realtime(), now_mono = now_monotonic();

        metrics_text_family(&t, "nix_analytics", METRIC_INFO, NULL, "The daemon's version and protocol.");
        char protocol[16];
        snprintf(protocol, sizeof(protocol), "%d", NA_PROTOCOL);
        metrics_text_sample(&t, (MetricLabel[]){{"version", PACKAGE_VERSION}, {"protocol", protocol}}, 2, 1);
        metrics_text_family(&t, "nix_analytics_start_time_seconds", METRIC_GAUGE, "seconds",
                            "When the daemon started, in seconds since the epoch.");
        metrics_text_sample(&t, NULL, 0, usec_to_sec(now_real - (now_mono - d->started_mono)));

        render_builds(&t, d);
        if (d->metrics)
                settle_pending(d->metrics);
        render_finished(&t, d->metrics);
        render_sources(&t, d);
        render_machines(&t, d);
        render_history(&t, d);
        render_oom(&t, d);
        return metrics_text_end(&t, ret, ret_len);
}
