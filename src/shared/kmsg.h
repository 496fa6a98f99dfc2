/* The kernel log's records about the OOM killer, as /dev/kmsg gives them: one record per
 * read, "PRI,SEQ,USEC,FLAGS;TEXT\n" then dictionary lines (" KEY=VALUE\n"). Two records of
 * each kill matter:
 *   "oom-kill:constraint=…,oom_memcg=…,task_memcg=/path,task=COMM,pid=PID,uid=UID" (4.19+)
 *   "Out of memory: Killed process PID (COMM) total-vm:…" (or "Memory cgroup out of memory:")
 * The parser takes a buffer and trusts nothing in it for lengths. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "basic/time-util.h"

typedef enum KmsgOomKind {
        KMSG_OOM_INFO,   /* the "oom-kill:" record: where the victim was (its memory cgroup) */
        KMSG_OOM_KILLED, /* the "Killed process" record: who died */
} KmsgOomKind;

typedef struct KmsgOom {
        KmsgOomKind kind;
        uint64_t seq;
        usec_t boot_usec; /* the record's time since boot */
        pid_t pid;
        char *comm;       /* the victim's command as the kernel printed it (\xNN escapes kept) */
        char *task_memcg; /* KMSG_OOM_INFO: the victim's memory cgroup, NULL unknown */
        char *constraint; /* KMSG_OOM_INFO: CONSTRAINT_NONE, CONSTRAINT_MEMCG, … NULL unknown */
        int64_t uid;      /* KMSG_OOM_INFO: -1 unknown */
        bool memcg;       /* KMSG_OOM_KILLED: a memory cgroup's limit, not the machine's memory */
} KmsgOom;

/* Parses one record. 1 with *ret filled (free with kmsg_oom_done) for a kernel record about
 * an OOM kill; 0 for any other record (userspace writers to /dev/kmsg never get the kernel's
 * facility, so they cannot forge one); -EBADMSG for a record that is not in kmsg's form or an
 * OOM record cut short; -ENOMEM. */
int kmsg_parse_oom(const char *buf, size_t len, KmsgOom *ret);
void kmsg_oom_done(KmsgOom *o);
