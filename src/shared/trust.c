/* The trust model: who may have a process attached to its builds. See trust.h. */
#include "shared/trust.h"

#include "shared/procfs.h"

#define ANCESTRY_DEPTH_MAX 256

bool trust_descends_from(const char *proc_root, pid_t pid, pid_t ancestor, uint64_t ancestor_start) {
        if (pid <= 0 || ancestor <= 0 || ancestor_start == 0)
                return false;
        uint64_t child_start = UINT64_MAX;
        for (int depth = 0; depth < ANCESTRY_DEPTH_MAX; depth++) {
                ProcStat st;
                if (procfs_read_stat(proc_root, pid, &st) < 0 || st.state == 'Z' || st.state == 'X')
                        return false;
                /* A parent starts before its child: a later one is a reused pid. */
                if (st.starttime > child_start)
                        return false;
                if (pid == ancestor)
                        return st.starttime == ancestor_start;
                if (st.ppid <= 1 || st.ppid == pid)
                        return false;
                child_start = st.starttime;
                pid = st.ppid;
        }
        return false;
}

bool trust_may_attach(const char *proc_root, const Source *s, pid_t pid) {
        if (!s)
                return false;
        if (s->trusted)
                return true;
        return trust_descends_from(proc_root, pid, s->pid, s->pid_starttime);
}
