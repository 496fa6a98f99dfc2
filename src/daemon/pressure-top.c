/* The builds that stalled most for memory (see pressure-top.h). */
#include "daemon/pressure-top.h"

#include <math.h>

#define PRESSURE_TOP_MIN 0.05

void pressure_top_add(PressureTop *t, const char *name, const char *drv, double memory) {
        if (!(memory >= PRESSURE_TOP_MIN) || !name)
                return;
        /* Insertion into the few kept, most first; the least falls off when full. */
        unsigned i = t->n < PRESSURE_TOP_MAX ? t->n++ : PRESSURE_TOP_MAX;
        for (; i > 0 && t->e[i - 1].memory < memory; i--)
                if (i < PRESSURE_TOP_MAX)
                        t->e[i] = t->e[i - 1];
        if (i < PRESSURE_TOP_MAX)
                t->e[i] = (PressureTopEntry){.name = name, .drv = drv, .memory = memory};
}

cJSON *pressure_top_json(const PressureTop *t) {
        cJSON *a = cJSON_CreateArray();
        for (unsigned i = 0; a && i < t->n; i++) {
                cJSON *o = cJSON_CreateObject();
                if (!o || !cJSON_AddItemToArray(a, o)) {
                        cJSON_Delete(o);
                        cJSON_Delete(a);
                        return NULL;
                }
                cJSON_AddStringToObject(o, "name", t->e[i].name);
                if (t->e[i].drv)
                        cJSON_AddStringToObject(o, "drv", t->e[i].drv);
                else
                        cJSON_AddNullToObject(o, "drv");
                cJSON_AddNumberToObject(o, "memory", round(t->e[i].memory * 10) / 10);
        }
        return a;
}
