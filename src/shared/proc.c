/* Reading /proc: process identity and liveness. */
#include "shared/proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/string-util.h"
#include "shared/procfs.h"
#include "shared/redact.h"

/* Bounds a command line read whole: enough for any we show. */
#define CMDLINE_READ_MAX (1u << 20)

usec_t proc_start_realtime(uint64_t starttime) {
        long hz = sysconf(_SC_CLK_TCK);
        struct timespec boot;
        if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
                return 0;
        /* Now on both clocks, and how long ago (on the boot clock) the process started. */
        usec_t real = now_realtime();
        usec_t since_boot = (usec_t) boot.tv_sec * USEC_PER_SEC + (usec_t) boot.tv_nsec / 1000;
        usec_t at = starttime / (uint64_t) hz * USEC_PER_SEC +
                    starttime % (uint64_t) hz * USEC_PER_SEC / (uint64_t) hz;
        if (at > since_boot || since_boot - at > real)
                return 0;
        return real - (since_boot - at);
}

int proc_starttime(const char *proc_root, pid_t pid, uint64_t *ret) {
        ProcStat st;
        int r = procfs_read_stat(proc_root, pid, &st);
        if (r < 0)
                return r;
        if (st.state == 'Z' || st.state == 'X')
                return -ESRCH;
        *ret = st.starttime;
        return 0;
}

bool proc_alive(const char *proc_root, pid_t pid, uint64_t starttime) {
        uint64_t st;
        if (pid <= 0)
                return false;
        if (proc_starttime(proc_root, pid, &st) < 0)
                return false;
        return starttime == 0 || st == starttime;
}

int proc_cmdline_max(const char *proc_root, pid_t pid, size_t max, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = procfs_read(proc_root, pid, "cmdline", max, &buf, &len);
        if (r < 0)
                return r;
        while (len > 0 && buf[len - 1] == '\0')
                len--;
        for (size_t i = 0; i < len; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        buf[len] = '\0';
        return redact_cmdline(buf, ret);
}

int proc_cmdline(const char *proc_root, pid_t pid, char **ret) {
        return proc_cmdline_max(proc_root, pid, CMDLINE_READ_MAX, ret);
}

int proc_nix_daemon_client(const char *proc_root, pid_t worker, pid_t *ret_pid, uid_t *ret_uid) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = procfs_read(proc_root, worker, "cmdline", CMDLINE_READ_MAX, &buf, &len);
        if (r < 0)
                return r;

        /* argv[0]: nix-daemon, or nix (`nix daemon`), by its last path component. */
        size_t a0 = strnlen(buf, len);
        if (a0 == len)
                return -ENOENT;
        const char *base = memrchr(buf, '/', a0);
        base = base ? base + 1 : buf;
        if (strcmp(base, "nix-daemon") != 0 && strcmp(base, "nix") != 0)
                return -ENOENT;

        /* argv[1]: the pid's digits, then at least one more NUL of the padding. */
        const char *a1 = buf + a0 + 1;
        size_t n = strnlen(a1, len - a0 - 1);
        if (n == 0 || n > 10 || a0 + 1 + n + 1 >= len || a1[n + 1] != '\0')
                return -ENOENT;
        pid_t client;
        if (parse_pid(a1, &client) < 0 || client == worker)
                return -ENOENT;

        uint64_t worker_start, client_start;
        r = proc_starttime(proc_root, worker, &worker_start);
        if (r < 0)
                return r;
        r = proc_starttime(proc_root, client, &client_start);
        if (r < 0)
                return r;
        if (client_start > worker_start)
                return -ENOENT; /* the pid was reused after the worker started */
        ProcStatus status;
        r = procfs_read_status(proc_root, client, &status);
        if (r < 0)
                return r;
        *ret_pid = client;
        *ret_uid = status.uid;
        return 0;
}
