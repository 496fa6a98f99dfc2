/* Fuzz target: .drv outputs (src/shared/drv.c). */
#include <stddef.h>
#include <stdint.h>

#include "shared/drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DrvOutput *o = NULL;
        int n = drv_parse_outputs((const char *) data, size, &o);
        if (n > 0)
                drv_outputs_free(o, (size_t) n);
        return 0;
}
