/* The machine's own figures from /proc: CPU busy time, memory and swap, pressure (PSI); the
 * load is procfs.h's. Parsers of the kernel's text (pure, for tests) and readers over a proc
 * root. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct HostCpuTimes {
        uint64_t busy, total; /* clock ticks since boot, all CPUs: busy excludes idle and iowait */
} HostCpuTimes;

typedef struct HostMemory {
        uint64_t total, available, swap_total, swap_free; /* bytes */
} HostMemory;

/* The first ("cpu ") line of /proc/stat. 0 or -EBADMSG. */
int hostinfo_parse_cpu(const char *buf, size_t len, HostCpuTimes *ret);
/* MemTotal, MemAvailable, SwapTotal, SwapFree of /proc/meminfo (kB there). 0 or -EBADMSG
 * (MemTotal missing; the others 0 when missing). */
int hostinfo_parse_meminfo(const char *buf, size_t len, HostMemory *ret);
/* "some avg10=" of a /proc/pressure file, in percent. 0 or -EBADMSG. */
int hostinfo_parse_psi(const char *buf, size_t len, double *ret);

/* The same read from <proc_root>/... (-errno when unreadable: PSI is absent on kernels built
 * without it or booted with psi=0). */
int hostinfo_read_cpu(const char *proc_root, HostCpuTimes *ret);
int hostinfo_read_memory(const char *proc_root, HostMemory *ret);
/* what: "cpu", "memory", "io". */
int hostinfo_read_psi(const char *proc_root, const char *what, double *ret);
