/* Acting on a process by identity (pidref.h). The order matters: a pidfd opened before the
 * start time is read and found equal refers to that very process, since a pid is never
 * given to two live processes at once and the process we expect started before the open. */
#include "shared/pidref.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shared/procfs.h"

static bool real_proc(const char *root) {
        return !root || strcmp(root, "/proc") == 0;
}

static int sys_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
        return (int) syscall(SYS_pidfd_open, pid, 0);
#else
        errno = ENOSYS;
        return -1;
#endif
}

static int sys_pidfd_send_signal(int fd, int sig) {
#ifdef SYS_pidfd_send_signal
        return (int) syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
#else
        errno = ENOSYS;
        return -1;
#endif
}

static int same_start(const char *root, pid_t pid, uint64_t starttime) {
        ProcStat st;
        int r = procfs_read_stat(root ? root : "/proc", pid, &st);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        /* A zombie is gone for our purposes: its pid may not be reused yet, but there is
         * nothing left to act on. */
        return st.starttime == starttime && st.state != 'Z' && st.state != 'X' ? 0 : -ESRCH;
}

int pidref_open(const char *root, pid_t pid, uint64_t starttime, PidRef *ret) {
        if (pid <= 0 || starttime == 0)
                return -ESRCH;
        int fd = -1;
        if (real_proc(root)) {
                fd = sys_pidfd_open(pid);
                if (fd < 0 && errno == ESRCH)
                        return -ESRCH;
                if (fd < 0 && errno != ENOSYS && errno != EPERM)
                        return -errno;
        }
        int r = same_start(root, pid, starttime);
        if (r < 0) {
                if (fd >= 0)
                        close(fd);
                return r;
        }
        *ret = (PidRef){.pid = pid, .starttime = starttime, .fd = fd};
        return 0;
}

void pidref_done(PidRef *p) {
        if (p->fd >= 0)
                close(p->fd);
        *p = PIDREF_NULL;
}

int pidref_verify(const PidRef *p, const char *root) {
        if (p->pid <= 0)
                return -ESRCH;
        if (p->fd >= 0 && sys_pidfd_send_signal(p->fd, 0) < 0 && errno == ESRCH)
                return -ESRCH;
        /* The pidfd cannot tell a zombie from a live process: the start time read can. */
        return same_start(root, p->pid, p->starttime);
}

int pidref_kill(const PidRef *p, const char *root, int sig) {
        if (p->fd >= 0) {
                if (sys_pidfd_send_signal(p->fd, sig) == 0)
                        return 0;
                if (errno != ENOSYS)
                        return -errno;
        }
        int r = same_start(root, p->pid, p->starttime);
        if (r < 0)
                return r;
        return kill(p->pid, sig) < 0 ? -errno : 0;
}

int pidref_set_nice(const PidRef *p, const char *root, int nice) {
        int r = pidref_verify(p, root);
        if (r < 0)
                return r;
        if (setpriority(PRIO_PROCESS, (id_t) p->pid, nice) < 0)
                return -errno;
        if (p->fd >= 0 && sys_pidfd_send_signal(p->fd, 0) < 0 && errno == ESRCH)
                return -ESRCH;
        return 0;
}

int pidref_kill_pid(const char *root, pid_t pid, uint64_t starttime, int sig) {
        PidRef p;
        int r = pidref_open(root, pid, starttime, &p);
        if (r < 0)
                return r;
        r = pidref_kill(&p, root, sig);
        pidref_done(&p);
        return r;
}

int pidref_set_nice_pid(const char *root, pid_t pid, uint64_t starttime, int nice) {
        PidRef p;
        int r = pidref_open(root, pid, starttime, &p);
        if (r < 0)
                return r;
        r = pidref_set_nice(&p, root, nice);
        pidref_done(&p);
        return r;
}

int pidref_check_pid(const char *root, pid_t pid, uint64_t starttime) {
        if (pid <= 0 || starttime == 0)
                return -ESRCH;
        return same_start(root, pid, starttime);
}
