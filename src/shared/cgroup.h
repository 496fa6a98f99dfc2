/* cgroups for builds: the host's layout (pure v2, hybrid v2 + v1 controllers, v1, none) from
 * mountinfo, which cgroup a process is in, and one build's group across hierarchies: its
 * figures, freezing, killing, limits, and creating/removing groups the daemon owns.
 *
 * Freeze and kill go through v2 where the group has a v2 directory (cgroup.freeze and
 * cgroup.kill exist in every non-root v2 group, controllers or not); limits go through
 * whichever hierarchy has the controller. Every path is under an injectable root, so tests
 * run on fake trees. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/time-util.h"
#include "shared/psi.h"

typedef enum CgLayout {
        CG_LAYOUT_NONE,
        CG_LAYOUT_V1,     /* v1 controllers only */
        CG_LAYOUT_HYBRID, /* v2 (usually /sys/fs/cgroup/unified) plus v1 controllers */
        CG_LAYOUT_V2,     /* pure v2 */
} CgLayout;

typedef enum CgController {
        CG_CPU,
        CG_CPUACCT,
        CG_MEMORY,
        CG_FREEZER,
        CG_PIDS,
        CG_IO, /* v2 io; v1 blkio */
        _CG_CONTROLLER_MAX,
} CgController;

typedef struct CgHost {
        CgLayout layout;
        char *fs_root;                /* prefix of every mount point ("" on a real host) */
        char *v2;                     /* v2 mount point (without fs_root), NULL none */
        char *v1[_CG_CONTROLLER_MAX]; /* v1 hierarchy holding each controller, NULL none */
        unsigned v2_controllers;      /* bit per CgController enabled at the v2 root */
} CgHost;

const char *cg_layout_to_string(CgLayout l);
const char *cg_controller_to_string(CgController c);

/* Parses /proc/self/mountinfo text into h (fs_root left NULL). Returns 0, -EBADMSG, -ENOMEM. */
int cg_host_parse_mountinfo(const char *buf, size_t len, CgHost *h);
/* Reads <fs_root>/proc/self/mountinfo (or mountinfo_path if given) and the v2 root's
 * cgroup.controllers. fs_root "" or NULL for the real host. */
int cg_host_detect(const char *fs_root, const char *mountinfo_path, CgHost *ret);
void cg_host_done(CgHost *h);

/* The paths of a process's cgroups from the text of /proc/<pid>/cgroup: v2 path (the "0::"
 * line) and the v1 path per controller. Unset entries are NULL. Returns 0 or -errno. */
typedef struct CgProcPaths {
        char *v2;
        char *v1[_CG_CONTROLLER_MAX];
} CgProcPaths;
int cg_parse_proc_cgroup(const char *buf, size_t len, CgProcPaths *ret);
void cg_proc_paths_done(CgProcPaths *p);

/* One build's group: a directory per hierarchy (absolute filesystem paths). */
/* The v2 files cg_group_usage() reads on every call, which it may keep open. */
typedef enum CgKept {
        CG_KEPT_CPU_STAT,
        CG_KEPT_MEMORY_CURRENT,
        CG_KEPT_IO_STAT,
        CG_KEPT_EVENTS,
        CG_KEPT_CPU_PRESSURE, /* the three in PsiResource order */
        CG_KEPT_MEMORY_PRESSURE,
        CG_KEPT_IO_PRESSURE,
        _CG_KEPT_MAX,
        _CG_KEPT_NONE = -1,
} CgKept;

typedef struct CgGroup {
        char *v2;
        char *v1[_CG_CONTROLLER_MAX];
        bool owned;      /* created by us: removed when the build ends */
        unsigned absent; /* files found missing (see cg_group_usage) */
        /* Set by the caller, who budgets the descriptors: cg_group_usage() keeps the files
         * of CgKept open and preads them (no path lookup per sample). */
        bool keep_files;
        int kept[_CG_KEPT_MAX]; /* fd + 1, so that a zeroed group holds none */
} CgGroup;

/* The group at path rel (e.g. "/nix-analytics/build-12") in every hierarchy of h. create:
 * mkdir where missing (owned), for v2 and the v1 controllers useful to a build (cpu,
 * cpuacct, memory, freezer when v2 cannot freeze, pids). Returns 0 or -errno. */
int cg_group_open(const CgHost *h, const char *rel, bool create, CgGroup *ret);
/* The group <roots>/name, each hierarchy under its own root (roots->v2, roots->v1[c]; a
 * NULL root leaves that hierarchy out). name is one path component. As cg_group_open. */
int cg_group_open_under(const CgHost *h, const CgProcPaths *roots, const char *name, bool create,
                        CgGroup *ret);
/* The group a process is in, from its /proc/<pid>/cgroup paths (not owned). */
int cg_group_from_paths(const CgHost *h, const CgProcPaths *paths, CgGroup *ret);
void cg_group_done(CgGroup *g);
/* Closes the files cg_group_usage() kept and keeps no more. */
void cg_group_drop_files(CgGroup *g);

/* v2 cgroup.subtree_control of the group directory dir: enables the controllers a build
 * can use (cpu, memory, io, pids) that dir's cgroup.controllers offers and that are not
 * enabled yet; *ret_enabled (bits per CgController) says which it enabled. Disable takes
 * such a mask back. 0 or -errno (-EBUSY: processes in dir, the no-internal-processes rule). */
int cg_subtree_enable(const char *dir, unsigned *ret_enabled);
int cg_subtree_disable(const char *dir, unsigned mask);

/* Moves pid into every hierarchy of g. 0, -ESRCH when gone, -errno. */
int cg_group_attach(const CgGroup *g, pid_t pid);
/* Members of the group (from v2, else a v1 hierarchy). Returns count or -errno. */
int cg_group_pids(const CgGroup *g, pid_t **ret);
/* rmdir in every hierarchy. -EBUSY while processes remain. */
int cg_group_remove(CgGroup *g);

typedef enum CgFreeze {
        CG_FREEZE_UNKNOWN,
        CG_FREEZE_THAWED,
        CG_FREEZE_FREEZING,
        CG_FREEZE_FROZEN,
} CgFreeze;

typedef struct CgUsage {
        bool has_cpu, has_mem, has_peak, has_io, has_oom;
        usec_t cpu_user, cpu_system;
        uint64_t mem_current, mem_peak;
        uint64_t io_read, io_write;
        uint64_t oom_kills;
        CgFreeze freeze;
        /* v2 with PSI: microseconds some task of the group stalled on cpu, memory, io
         * (PsiResource order), since the group was made; read only when full; has_psi false
         * then and when the kernel gives none (v1, no PSI, psi=0) */
        bool has_psi;
        uint64_t psi_total[_PSI_RESOURCE_MAX];
} CgUsage;

/* The group's figures. full: also the memory peak and the OOM killer's count (which
 * change rarely and cost reads); files found missing are not tried again (g->absent). */
int cg_group_usage(CgGroup *g, bool full, CgUsage *ret);

/* Actions. mechanism: a static string naming what was written ("cgroup-v2 cgroup.freeze"). */
int cg_group_freeze(const CgGroup *g, bool freeze, const char **ret_mechanism);
int cg_group_kill(const CgGroup *g, const char **ret_mechanism);
/* cores 0: lift. -EOPNOTSUPP when no hierarchy of g has a writable cpu controller. */
int cg_group_set_cpu_limit(const CgGroup *g, double cores, const char **ret_mechanism);
/* bytes 0: lift. -EOPNOTSUPP when no memory controller. */
int cg_group_set_mem_limit(const CgGroup *g, uint64_t bytes, const char **ret_mechanism);
/* CPU weight from a nice value (-20..19), as the scheduler weighs nice levels. */
int cg_group_set_weight(const CgGroup *g, int nice, const char **ret_mechanism);

/* File parsers (exposed for tests and fuzzing). */
/* "key value" lines (cpu.stat, memory.events, cgroup.events, memory.oom_control). */
int cg_parse_keyed(const char *buf, size_t len, const char *key, uint64_t *ret);
/* v1 freezer.state / v2 cgroup.events "frozen". */
CgFreeze cg_parse_freezer_state(const char *buf, size_t len);
/* v2 io.stat summed over devices (rbytes, wbytes); v1 blkio.throttle.io_service_bytes
 * ("Total" line, or Read/Write sums). */
int cg_parse_io_stat(const char *buf, size_t len, uint64_t *ret_read, uint64_t *ret_write);
int cg_parse_blkio(const char *buf, size_t len, uint64_t *ret_read, uint64_t *ret_write);
