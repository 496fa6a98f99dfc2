/* Reads who a process is from /proc: parent, real uid, command line, Nix version. */
#include "ctl/proc-ident.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "shared/proc.h"

/* Value of the "Name:\t..." line in a status buffer, or NULL. */
static const char *status_field(const char *buf, size_t len, const char *name, size_t *ret_len) {
        size_t name_len = strlen(name);
        const char *end = buf + len;
        for (const char *p = buf; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *line_end = nl ?: end;
                if ((size_t) (line_end - p) > name_len && memcmp(p, name, name_len) == 0 &&
                    p[name_len] == ':') {
                        const char *v = p + name_len + 1;
                        while (v < line_end && (*v == '\t' || *v == ' '))
                                v++;
                        *ret_len = (size_t) (line_end - v);
                        return v;
                }
                p = line_end + 1;
        }
        return NULL;
}

/* The first decimal number of a field value, bounded by its length. */
static int parse_field_number(const char *v, size_t len, unsigned long long max, unsigned long long *ret) {
        unsigned long long n = 0;
        size_t i = 0;
        for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
                n = n * 10 + (unsigned long long) (v[i] - '0');
                if (n > max)
                        return -EBADMSG;
        }
        if (i == 0)
                return -EBADMSG;
        *ret = n;
        return 0;
}

int proc_ident_parse_status(const char *buf, size_t len, pid_t *ret_ppid, uid_t *ret_uid) {
        size_t ppid_len, uid_len;
        const char *ppid_text = status_field(buf, len, "PPid", &ppid_len);
        const char *uid_text = status_field(buf, len, "Uid", &uid_len);
        if (!ppid_text || !uid_text)
                return -EBADMSG;

        unsigned long long ppid, uid;
        if (parse_field_number(ppid_text, ppid_len, INT_MAX, &ppid) < 0 ||
            parse_field_number(uid_text, uid_len, UINT_MAX - 1, &uid) < 0) /* (uid_t) -1 is invalid */
                return -EBADMSG;
        *ret_ppid = (pid_t) ppid;
        *ret_uid = (uid_t) uid;
        return 0;
}

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

static int read_status(const char *proc_root, pid_t pid, pid_t *ret_ppid, uid_t *ret_uid) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%d/status", proc_root, (int) pid) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;

        /* PPid and Uid are in the first lines; status is far shorter than this anyway. */
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0)
                return errno == ESRCH ? -ESRCH : -errno;
        return proc_ident_parse_status(buf, (size_t) n, ret_ppid, ret_uid);
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
        ProcIdent p = {.pid = pid};
        int r = read_status(proc_root, pid, &p.ppid, &p.uid);
        if (r < 0)
                return r;

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
