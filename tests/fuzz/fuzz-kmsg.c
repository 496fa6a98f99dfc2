/* Fuzz target: kernel log records about the OOM killer (src/shared/kmsg.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shared/kmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        KmsgOom o = {};
        if (kmsg_parse_oom((const char *) data, size, &o) == 1) {
                /* What it returns are C strings within bounds. */
                size_t sum = strlen(o.comm) + (o.task_memcg ? strlen(o.task_memcg) : 0) +
                             (o.constraint ? strlen(o.constraint) : 0);
                kmsg_oom_done(&o);
                return sum == (size_t) -1;
        }
        return 0;
}
