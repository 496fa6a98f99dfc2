/* Who a process is, as the event-socket hello tells it: pid, parent, uid, command line and,
 * when its executable says so cheaply, the Nix version. The /proc root is injectable. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

typedef struct ProcIdent {
        pid_t pid;
        pid_t ppid;
        uid_t uid;         /* real uid */
        char *cmdline;     /* argv joined with spaces, or NULL when unreadable */
        char *nix_version; /* or NULL when unknown */
} ProcIdent;

/* Reads pid's identity (its status through procfs_read_status()). Returns 0, -ESRCH when the
 * process is gone, -EBADMSG on an unreadable status file, or -errno. */
int proc_ident_read(const char *proc_root, pid_t pid, ProcIdent *ret);
void proc_ident_done(ProcIdent *p);

/* The version in an executable path inside a Nix or Lix package in the store
 * ("/nix/store/<hash>-nix-2.18.1/bin/nix" gives "2.18.1"). Returns 0, -ENOENT when the path
 * says nothing, -ENOMEM. */
int proc_ident_nix_version_from_exe(const char *exe, char **ret);
