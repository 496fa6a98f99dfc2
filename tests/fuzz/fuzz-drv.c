/* Fuzz target: .drv files (src/shared/drv.c): the outputs reader, the full parser, and the
 * package-name split over whatever name the input holds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared/drv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DrvOutput *o = NULL;
        int n = drv_parse_outputs((const char *) data, size, &o);
        if (n > 0)
                drv_outputs_free(o, (size_t) n);

        Drv *d = NULL;
        if (drv_parse((const char *) data, size, &d) == 0) {
                /* Every string the parser returns is a C string: walking them must stay in
                 * bounds. */
                size_t sum = strlen(d->system) + strlen(d->builder);
                for (size_t i = 0; i < d->n_inputs; i++)
                        for (size_t j = 0; j < d->inputs[i].n_outputs; j++)
                                sum += strlen(d->inputs[i].outputs[j]);
                for (size_t i = 0; i < d->n_env; i++) {
                        sum += strlen(d->env[i].name);
                        if (strcmp(d->env[i].name, "name") == 0)
                                free(drv_name_pname(d->env[i].value));
                }
                (void) sum;
                drv_free(d);
        }

        char *s = strndup((const char *) data, size > 256 ? 256 : size);
        free(s ? drv_name_pname(s) : NULL);
        free(s);
        return 0;
}
