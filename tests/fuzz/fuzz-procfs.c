/* Fuzz target: /proc and cgroup file parsers (src/shared/procfs.c, src/shared/cgroup.c,
 * src/shared/psi.c).
 * The same bytes go to every parser: each must reject or parse, never crash or overread. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "shared/cgroup-delegate.h"
#include "shared/cgroup.h"
#include "shared/procfs.h"
#include "shared/psi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf = (const char *) data;
        ProcStat st;
        ProcIo io;
        ProcStatus status;
        size_t vl;
        uint64_t v, r, w;
        (void) procfs_parse_stat(buf, size, &st);
        (void) procfs_parse_io(buf, size, &io);
        (void) procfs_parse_status(buf, size, &status);
        (void) procfs_environ_get(buf, size, "out", &vl);
        CgHost h;
        if (cg_host_parse_mountinfo(buf, size, &h) == 0)
                cg_host_done(&h);
        CgProcPaths p;
        if (cg_parse_proc_cgroup(buf, size, &p) == 0)
                cg_proc_paths_done(&p);
        /* As /proc/self/cgroup when choosing the builds' root, on a pure v2 and a pure v1 host
         * whose mounts do not exist (nothing is written, only looked at). */
        CgHost v2host = {.layout = CG_LAYOUT_V2, .fs_root = (char *) "", .v2 = (char *) "/nonexistent-fuzz"};
        CgHost v1host = {.layout = CG_LAYOUT_V1, .fs_root = (char *) ""};
        v1host.v1[CG_MEMORY] = (char *) "/nonexistent-fuzz";
        CgRoots roots;
        const char *why;
        if (cg_roots_resolve(&v2host, NULL, buf, size, "fuzz", &roots, &why) == 0)
                cg_roots_done(&roots);
        if (cg_roots_resolve(&v1host, NULL, buf, size, "fuzz", &roots, &why) == 0)
                cg_roots_done(&roots);
        (void) cg_parse_keyed(buf, size, "oom_kill", &v);
        (void) cg_parse_freezer_state(buf, size);
        (void) cg_parse_io_stat(buf, size, &r, &w);
        (void) cg_parse_blkio(buf, size, &r, &w);
        PsiSome some;
        (void) psi_parse_some(buf, size, &some);
        return 0;
}
