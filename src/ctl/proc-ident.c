/* Reads who a process is from /proc: parent, real uid, command line, Nix version. */
#include "ctl/proc-ident.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "shared/proc.h"
#include "shared/procfs.h"

int proc_ident_nix_version_from_exe(const char *exe, char **ret) {
        /* "/nix/store/" hash "-" name "-" version "/..." with name nix or lix. */
        const char *p = strstr(exe, "/store/");
        if (!p)
                return -ENOENT;
        p += strlen("/store/");
        const char *dash = strchr(p, '-');
        const char *slash = strchr(p, '/');
        if (!dash || (slash && dash > slash))
                return -ENOENT;
        const char *name = dash + 1;
        if (strncmp(name, "nix-", 4) != 0 && strncmp(name, "lix-", 4) != 0)
                return -ENOENT;
        const char *version = name + 4;
        size_t n = slash ? (size_t) (slash - version) : strlen(version);
        if (n == 0 || version[0] < '0' || version[0] > '9')
                return -ENOENT;
        char *v = strndup(version, n);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static char *read_nix_version(const char *proc_root, pid_t pid) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%d/exe", proc_root, (int) pid) < 0)
                return NULL;
        char exe[PATH_MAX];
        ssize_t n = readlink(path, exe, sizeof(exe) - 1);
        if (n < 0)
                return NULL;
        exe[n] = '\0';
        char *v = NULL;
        (void) proc_ident_nix_version_from_exe(exe, &v);
        return v;
}

int proc_ident_read(const char *proc_root, pid_t pid, ProcIdent *ret) {
        ProcStatus status;
        int r = procfs_read_status(proc_root, pid, &status);
        if (r < 0)
                return r;
        ProcIdent p = {.pid = pid, .ppid = status.ppid, .uid = status.uid};

        /* The rest is optional: a process that just exited still had its pid and uid. */
        (void) proc_cmdline(proc_root, pid, &p.cmdline);
        p.nix_version = read_nix_version(proc_root, pid);
        *ret = p;
        return 0;
}

void proc_ident_done(ProcIdent *p) {
        if (!p)
                return;
        free(p->cmdline);
        free(p->nix_version);
        p->cmdline = p->nix_version = NULL;
}
