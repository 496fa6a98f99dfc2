/* The machine's own figures every 10 s (see hoststats.h). */
#include "daemon/hoststats.h"

#include <errno.h>
#include <stdlib.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "daemon/history-writer.h"
#include "shared/hostinfo.h"
#include "shared/procfs.h"

struct HostStats {
        Daemon *d;
        sd_event_source *timer;
        HostCpuTimes last_cpu; /* at the previous sample (total 0: none yet) */
        MachineSample ring[HOSTSTATS_KEEP];
        uint32_t head, count;
};

static usec_t next_tick(usec_t now_real) {
        return (now_real / HOSTSTATS_INTERVAL + 1) * HOSTSTATS_INTERVAL;
}

static void take(HostStats *hs, usec_t t) {
        const char *root = hs->d->config.model.proc_root;
        MachineSample s = {.t = t, .cpu = -1, .load1 = -1, .psi_cpu = -1, .psi_mem = -1, .psi_io = -1};
        HostCpuTimes cpu;
        if (hostinfo_read_cpu(root, &cpu) == 0) {
                if (hs->last_cpu.total && cpu.total > hs->last_cpu.total && cpu.busy >= hs->last_cpu.busy)
                        s.cpu = MIN(100.0 * (double) (cpu.busy - hs->last_cpu.busy) /
                                            (double) (cpu.total - hs->last_cpu.total),
                                    100.0);
                hs->last_cpu = cpu;
        }
        double load[3];
        if (procfs_read_loadavg(root, load) == 0)
                s.load1 = load[0];
        HostMemory mem;
        if (hostinfo_read_memory(root, &mem) == 0) {
                s.mem_total = mem.total;
                s.mem_used = mem.total - mem.available;
                s.swap_total = mem.swap_total;
                s.swap_used = mem.swap_total - mem.swap_free;
        }
        (void) hostinfo_read_psi(root, "cpu", &s.psi_cpu);
        (void) hostinfo_read_psi(root, "memory", &s.psi_mem);
        (void) hostinfo_read_psi(root, "io", &s.psi_io);
        ModelCounters mc;
        model_counters(hs->d->model, &mc);
        s.builds = (uint32_t) (mc.by_state[BUILD_RUNNING] + mc.by_state[BUILD_FROZEN]);

        if (hs->count == HOSTSTATS_KEEP) {
                hs->head = (hs->head + 1) % HOSTSTATS_KEEP;
                hs->count--;
        }
        hs->ring[(hs->head + hs->count) % HOSTSTATS_KEEP] = s;
        hs->count++;
        history_writer_machine_sample(hs->d->history, &s);
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        HostStats *hs = userdata;
        usec_t now = now_realtime();
        /* The tens of seconds it is for (the timer may fire a little late). */
        take(hs, now / HOSTSTATS_INTERVAL * HOSTSTATS_INTERVAL);
        return sd_event_source_set_time(source, now_monotonic() + (next_tick(now) - now));
}

int hoststats_new(Daemon *d, HostStats **ret) {
        HostStats *hs = calloc(1, sizeof(*hs));
        if (!hs)
                return -ENOMEM;
        hs->d = d;
        /* CPU busy needs two reads: the first now. */
        (void) hostinfo_read_cpu(d->config.model.proc_root, &hs->last_cpu);
        usec_t now = now_realtime();
        int r = sd_event_add_time(d->event, &hs->timer, CLOCK_MONOTONIC,
                                  now_monotonic() + (next_tick(now) - now), USEC_PER_SEC / 10, on_timer, hs);
        if (r < 0 || (r = sd_event_source_set_enabled(hs->timer, SD_EVENT_ON)) < 0) {
                hoststats_free(hs);
                return r;
        }
        *ret = hs;
        return 0;
}

HostStats *hoststats_free(HostStats *hs) {
        if (!hs)
                return NULL;
        sd_event_source_disable_unref(hs->timer);
        free(hs);
        return NULL;
}

int hoststats_at(HostStats *hs, usec_t t, MachineSample *ret) {
        if (!hs)
                return -ENOENT;
        for (uint32_t i = hs->count; i > 0; i--) {
                const MachineSample *s = &hs->ring[(hs->head + i - 1) % HOSTSTATS_KEEP];
                if (s->t > t)
                        continue;
                if (t - s->t > HOSTSTATS_INTERVAL)
                        return -ENOENT;
                *ret = *s;
                return 0;
        }
        return -ENOENT;
}

static void add_number_or_null(cJSON *o, const char *key, double v, bool known) {
        if (known)
                cJSON_AddNumberToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

cJSON *hoststats_sample_json(const MachineSample *s) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "t", usec_to_sec(s->t));
        add_number_or_null(o, "cpu_percent", s->cpu, s->cpu >= 0);
        add_number_or_null(o, "load1", s->load1, s->load1 >= 0);
        add_number_or_null(o, "mem_total", (double) s->mem_total, s->mem_total > 0);
        add_number_or_null(o, "mem_used", (double) s->mem_used, s->mem_total > 0);
        add_number_or_null(o, "swap_total", (double) s->swap_total, s->mem_total > 0);
        add_number_or_null(o, "swap_used", (double) s->swap_used, s->mem_total > 0);
        cJSON *p = cJSON_AddObjectToObject(o, "pressure");
        if (p) {
                add_number_or_null(p, "cpu", s->psi_cpu, s->psi_cpu >= 0);
                add_number_or_null(p, "memory", s->psi_mem, s->psi_mem >= 0);
                add_number_or_null(p, "io", s->psi_io, s->psi_io >= 0);
        }
        cJSON_AddNumberToObject(o, "builds", s->builds);
        return o;
}

int hoststats_latest(HostStats *hs, MachineSample *ret) {
        if (!hs || hs->count == 0)
                return -ENOENT;
        *ret = hs->ring[(hs->head + hs->count - 1) % HOSTSTATS_KEEP];
        return 0;
}
