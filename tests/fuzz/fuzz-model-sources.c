/* Fuzz target: records from several event sources, trusted and not, fed into the model
 * (src/shared/model*.c) together with builds rediscovered from a fake /proc, checking the
 * trust model's invariants (src/shared/trust.c, docs/protocol.md "Trust model") and the
 * model's own bookkeeping after every step:
 *  - a build first held by a trusted source (the plugin in nix-daemon, root's nix, a build
 *    rediscovered from /proc) never moves to an untrusted source, unless that source's
 *    process is the ancestor of the build's nix process;
 *  - a build held by an untrusted source has that source's uid as its requester;
 *  - counters by state, connected sources and builds per invocation match what is held;
 *  - a build with a failure Nix reported (exit code, signal, dependency, hash, timeout, …)
 *    is never shown succeeded, whatever order the messages and records came in.
 *
 * Input: a sequence of steps, each an opcode byte and its operand bytes; a raw step carries
 * a record line up to the next newline. */
#include <ftw.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"
#include "fuzz.h"
#include "shared/model-proc.h"
#include "shared/model.h"
#include "shared/nixlog.h"

#define STEPS_MAX   512
#define SOURCES_MAX 8
#define KEYS_MAX    (STEPS_MAX * 2 + 16)
#define N_DRVS      3
#define UID_OTHER   1000

/* The fake /proc: pid, parent, start time. 777 is not there (its nix exited). */
static const struct {
        int pid, ppid;
        unsigned start;
} procs[] = {
        {1, 0, 1},       /* init */
        {100, 1, 10},    /* nix-daemon */
        {110, 100, 11},  /* its worker for root */
        {4242, 110, 30}, /* a nix process whose build is rediscovered */
        {500, 1, 50},    /* mallory's client */
        {4300, 500, 55}, /* her own nix process */
        {600, 1, 60},    /* another user's client */
};
static const int source_pids[] = {110, 500, 600, 4242, 4300, 777};
static const int nix_pids[] = {4242, 4300, 777, 110};

static char dir[256], store[300], proc[300];
static char drvs[N_DRVS][400];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static void cleanup(void) {
        if (dir[0])
                (void) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *data) {
        FILE *f = fopen(path, "we");
        if (!f)
                abort();
        fputs(data, f);
        fclose(f);
}

static void setup_once(void) {
        if (dir[0])
                return;
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/fuzz-model-sources.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(dir))
                abort();
        atexit(cleanup);
        snprintf(store, sizeof(store), "%s/store", dir);
        snprintf(proc, sizeof(proc), "%s/proc", dir);
        if (mkdir(store, 0755) < 0 || mkdir(proc, 0755) < 0)
                abort();
        char path[600], buf[1024];
        for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
                snprintf(path, sizeof(path), "%s/%d", proc, procs[i].pid);
                if (mkdir(path, 0755) < 0)
                        abort();
                snprintf(path, sizeof(path), "%s/%d/stat", proc, procs[i].pid);
                snprintf(buf, sizeof(buf), "%d (p) S %d %d %d 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 %u 0 0\n",
                         procs[i].pid, procs[i].ppid, procs[i].pid, procs[i].pid, procs[i].start);
                write_file(path, buf);
        }
        static const char *hashes[N_DRVS] = {"hcdvxxibblyx54zh5h35428q32q9qwzb",
                                             "3v96ag6a0a9q4rzb6jdk1zyxs7f1dxk5",
                                             "0d3bq1ajlfl8pnpldh7vyl8gk1mgkb7c"};
        static const char *outs[N_DRVS] = {"8gp0x1zy0kk0fmxyw2v1jyjps2xrygcy",
                                           "1rz4g4znpzjwh1xymhjpm42vipw92pr7",
                                           "9q5yy4yz6mq1f6mdgcz1bp5xyzfqwwnl"};
        for (int i = 0; i < N_DRVS; i++) {
                snprintf(drvs[i], sizeof(drvs[i]), "%s/%s-d%d.drv", store, hashes[i], i);
                snprintf(buf, sizeof(buf),
                         "Derive([(\"out\",\"%s/%s-d%d\",\"\",\"\")],[],[],\"x86_64-linux\",\"/bin/"
                         "sh\",[],[])",
                         store, outs[i], i);
                write_file(drvs[i], buf);
        }
        /* d0 was built: its output exists */
        snprintf(path, sizeof(path), "%s/%s-d0", store, outs[0]);
        write_file(path, "done");
}

static int parent_of(int pid) {
        for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
                if (procs[i].pid == pid)
                        return procs[i].ppid;
        return 0;
}

/* The harness's own view of the fake tree: is anc pid's ancestor (or pid itself)? */
static bool ancestor(int anc, int pid) {
        for (int depth = 0; pid > 1 && depth < 16; depth++, pid = parent_of(pid))
                if (pid == anc)
                        return true;
        return false;
}

typedef struct Input {
        const uint8_t *p, *end;
} Input;

static uint8_t take(Input *in) {
        return in->p < in->end ? *in->p++ : 0;
}

typedef struct Known {
        bool seen, trusted_origin;
        int nix_pid; /* rediscovered: its nix process; 0 otherwise */
} Known;

typedef struct State {
        Model *m;
        uint64_t ids[SOURCES_MAX]; /* source ids (sources may be evicted: looked up by id) */
        unsigned n;
        Known known[KEYS_MAX];
        usec_t now;
} State;

static Source *source_at(State *st, uint8_t i) {
        return st->n ? model_source_by_id(st->m, st->ids[i % st->n]) : NULL;
}

static void apply_line(State *st, Source *s, const char *line) {
        NixRecord rec;
        if (nix_record_parse(line, strlen(line), &rec) == 0) {
                (void) model_apply(st->m, s, &rec, st->now);
                nix_record_done(&rec);
        } else
                model_source_count_bad(st->m, s, 1);
}

static void check(State *st) {
        Model *m = st->m;
        ModelCounters c;
        model_counters(m, &c);
        uint32_t by_state[_BUILD_STATE_MAX] = {0};
        for (Build *b = model_builds_first(m); b; b = b->next) {
                if (b->state < 0 || b->state >= _BUILD_STATE_MAX)
                        abort();
                by_state[b->state]++;
                if (b->state == BUILD_SUCCEEDED && failure_kind_is_reported(b->failure))
                        abort();
                Source *owner = b->invocation ? b->invocation->source : NULL;
                if (!owner || model_source_by_id(m, owner->id) != owner)
                        abort(); /* a build of a source no longer held */
                if (b->key >= KEYS_MAX)
                        continue;
                Known *k = &st->known[b->key];
                if (!k->seen) {
                        k->seen = true;
                        k->trusted_origin = owner->trusted;
                }
                if (!owner->trusted) {
                        /* a trusted source's build moved to an untrusted one: only to the
                         * ancestor of its nix process */
                        if (k->trusted_origin && !(k->nix_pid && ancestor(owner->pid, k->nix_pid)))
                                abort();
                        if (b->requester.uid != (int64_t) owner->peer_uid)
                                abort();
                }
        }
        if (memcmp(by_state, c.by_state, sizeof(by_state)) != 0)
                abort();
        uint32_t connected = 0;
        for (Source *s = model_sources_first(m); s; s = s->next) {
                connected += !s->gone;
                uint32_t n = 0;
                for (Build *b = model_builds_first(m); b; b = b->next)
                        n += b->invocation == &s->invocation;
                if (n != s->invocation.n_builds)
                        abort();
        }
        if (connected != c.sources_connected)
                abort();
}

static void step(State *st, Input *in) {
        uint8_t op = take(in) % 10;
        char line[2048];
        Source *s;
        st->now += (usec_t) take(in) * 10000;

        switch (op) {
        case 0: { /* a connection */
                if (st->n >= SOURCES_MAX)
                        return;
                uint8_t a = take(in);
                bool trusted = a & 1;
                int pid = source_pids[(a >> 1) % (sizeof(source_pids) / sizeof(source_pids[0]))];
                uid_t uid = trusted ? 0 : UID_OTHER + (a >> 4);
                if (model_source_new(st->m, pid, uid, trusted, st->now, &s) == 0)
                        st->ids[st->n++] = s->id;
                return;
        }
        case 1: { /* a build activity starts */
                uint8_t si = take(in), id = take(in), d = take(in);
                if (!(s = source_at(st, si)))
                        return;
                snprintf(line, sizeof(line),
                         "{\"action\":\"start\",\"id\":%u,\"type\":105,\"fields\":[\"%s\",\"%s\"]}", id,
                         drvs[d % N_DRVS], d & 0x80 ? "ssh://m" : "");
                apply_line(st, s, line);
                return;
        }
        case 2: { /* an activity stops */
                uint8_t si = take(in), id = take(in);
                if (!(s = source_at(st, si)))
                        return;
                snprintf(line, sizeof(line), "{\"action\":\"stop\",\"id\":%u}", id);
                apply_line(st, s, line);
                return;
        }
        case 3: { /* a build plan */
                uint8_t si = take(in), d = take(in);
                if (!(s = source_at(st, si)))
                        return;
                apply_line(st, s,
                           "{\"action\":\"msg\",\"level\":0,\"msg\":\"this derivation will be built:\"}");
                snprintf(line, sizeof(line), "{\"action\":\"msg\",\"level\":0,\"msg\":\"  %s\"}",
                         drvs[d % N_DRVS]);
                apply_line(st, s, line);
                return;
        }
        case 4: { /* a log line, a phase, or a failure report */
                uint8_t si = take(in), id = take(in), k = take(in);
                if (!(s = source_at(st, si)))
                        return;
                if (k % 3 == 0)
                        snprintf(line, sizeof(line),
                                 "{\"action\":\"result\",\"id\":%u,\"type\":101,\"fields\":[\"x\"]}", id);
                else if (k % 3 == 1)
                        snprintf(
                                line, sizeof(line),
                                "{\"action\":\"result\",\"id\":%u,\"type\":104,\"fields\":[\"buildPhase\"]}",
                                id);
                else {
                        /* every wording of a failure (outcome.c), and Determinate's records */
                        static const char *const fmts[] = {
                                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: builder for '%s' failed "
                                "with exit code 1\"}",
                                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: Cannot build '%s'.\\n"
                                "Reason: builder failed due to signal 9 (Killed).\\nOutput paths: x\"}",
                                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: Cannot build '%s'.\\n"
                                "Reason: 2 dependencies failed.\"}",
                                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: 1 dependencies of "
                                "derivation '%s' failed to build\"}",
                                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: hash mismatch in "
                                "fixed-output derivation '%s':\"}",
                                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: building of '%s^out' "
                                "timed out after 1 seconds of silence\"}",
                                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: timed out after 2 "
                                "seconds\"%.0s}",
                                "{\"action\":\"msg\",\"level\":0,\"msg\":\"error: some substitutes for "
                                "the outputs of derivation '%s' failed\"}",
                                "{\"action\":\"result\",\"id\":1,\"type\":110,\"payload\":{\"success\":"
                                "false,\"status\":\"TimedOut\",\"path\":{\"drvPath\":\"%s\"}}}",
                                "{\"action\":\"result\",\"id\":1,\"type\":110,\"payload\":{\"success\":"
                                "true,\"status\":\"Built\",\"path\":{\"drvPath\":\"%s\"}}}",
                        };
                        snprintf(line, sizeof(line), fmts[(k >> 2) % ELEMENTSOF(fmts)],
                                 drvs[(k >> 6) % N_DRVS]);
                }
                apply_line(st, s, line);
                return;
        }
        case 5: { /* a build found in /proc after a restart */
                uint8_t a = take(in), d = take(in);
                int nix = nix_pids[a % (sizeof(nix_pids) / sizeof(nix_pids[0]))];
                Build *b;
                if (model_rediscovered_build(st->m, nix, 0, drvs[d % N_DRVS], st->now, &b) < 0)
                        return;
                Source *owner = b->invocation->source;
                /* an existing build handed the builder: never an unrelated untrusted one's */
                if (!owner->trusted && !ancestor(owner->pid, nix))
                        abort();
                if (b->key < KEYS_MAX && !st->known[b->key].seen) {
                        st->known[b->key] = (Known){.seen = true, .trusted_origin = true, .nix_pid = nix};
                }
                return;
        }
        case 6: /* a connection closes */
                if ((s = source_at(st, take(in))))
                        model_source_disconnect(st->m, s, st->now);
                return;
        case 7: { /* the sampler: the builder exits, or a kill hit the build */
                uint8_t a = take(in);
                Build *b = model_builds_last(st->m);
                for (uint8_t i = a >> 2; b && i > 0; i--)
                        b = b->prev;
                if (!b)
                        return;
                if (a & 1)
                        model_build_kill_requested(st->m, b);
                if (a & 2)
                        model_build_builder_exited(st->m, b, st->now);
                return;
        }
        case 8: { /* a hello, speaking for another process and user */
                uint8_t si = take(in), a = take(in);
                if (!(s = source_at(st, si)))
                        return;
                snprintf(line, sizeof(line),
                         "{\"action\":\"hello\",\"protocol\":1,\"pid\":%d,\"uid\":%u,\"role\":\"plugin\","
                         "\"requester\":{\"uid\":%u,\"pid\":%d}}",
                         source_pids[a % (sizeof(source_pids) / sizeof(source_pids[0]))],
                         a & 0x40 ? 0 : UID_OTHER, a & 0x80 ? 0 : UID_OTHER,
                         source_pids[(a >> 3) % (sizeof(source_pids) / sizeof(source_pids[0]))]);
                apply_line(st, s, line);
                return;
        }
        default: { /* a raw record, up to the next newline */
                if (!(s = source_at(st, take(in))))
                        return;
                const uint8_t *nl = memchr(in->p, '\n', (size_t) (in->end - in->p));
                size_t len = nl ? (size_t) (nl - in->p) : (size_t) (in->end - in->p);
                NixRecord rec;
                if (nix_record_parse((const char *) in->p, len, &rec) == 0) {
                        (void) model_apply(st->m, s, &rec, st->now);
                        nix_record_done(&rec);
                }
                in->p += len + (nl ? 1 : 0);
                return;
        }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        setup_once();
        ModelConfig c;
        model_config_defaults(&c);
        c.store_dir = store;
        c.proc_root = proc;
        c.max_finished = 4; /* evictions happen */
        State *st = calloc(1, sizeof(*st));
        if (!st || model_new(&c, &st->m) < 0)
                abort();
        st->now = 1000 * USEC_PER_SEC;
        Input in = {data, data + size};
        for (unsigned i = 0; i < STEPS_MAX && in.p < in.end; i++) {
                step(st, &in);
                (void) model_tick(st->m, st->now, st->now);
                check(st);
        }
        model_free(st->m);
        free(st);
        return 0;
}
