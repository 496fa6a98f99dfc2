/* Fuzz target: the daemon's state file of running builds (src/shared/resume.c), read back at
 * start. Ours, but a damaged or planted file must never crash the daemon. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shared/resume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ResumeBuild *r = NULL;
        size_t n = 0;
        if (resume_parse((const char *) data, size, &r, &n) == 0) {
                size_t sum = 0;
                for (size_t i = 0; i < n; i++) { /* every string read is a C string */
                        sum += strlen(r[i].drv) + strlen(r[i].name) +
                               (r[i].requester.cmdline ? strlen(r[i].requester.cmdline) : 0);
                        for (uint32_t k = 0; k < r[i].n_phases; k++)
                                sum += strlen(r[i].phases[k].name);
                        /* and every point of a timeline is there */
                        for (uint32_t k = 0; k < r[i].timeline.n; k++)
                                sum += r[i].timeline.points[k].mem;
                }
                (void) sum;
                resume_builds_free(r, n);
        }
        return 0;
}
