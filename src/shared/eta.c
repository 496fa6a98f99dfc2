/* ETA arithmetic (see eta.h). */
#include "shared/eta.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

double eta_median(double *v, size_t n) {
        qsort(v, n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int eta_from_durations(const double *durations, size_t n, bool other_machines, BuildEta *ret) {
        if (n == 0)
                return -ENODATA;
        double v[ETA_SAMPLES * 4];
        n = MIN(n, ELEMENTSOF(v));
        memcpy(v, durations, n * sizeof(double));
        double median = eta_median(v, n); /* sorts v */
        double low = v[0], high = v[n - 1];
        for (size_t i = 0; i < n; i++)
                v[i] = fabs(v[i] - median);
        double mad = eta_median(v, n);
        double spread = median > 0 ? mad / median : (mad > 0 ? INFINITY : 0);

        int level = n >= 5 && spread <= 0.15 ? 3 : n >= 3 && spread <= 0.35 ? 2 : 1;
        if (other_machines && level > 1)
                level--;
        static const char *const names[] = {NULL, "low", "medium", "high"};
        *ret = (BuildEta){
                .samples = (uint32_t) n,
                .expected = median,
                .low = low,
                .high = high,
                .confidence = names[level],
                .other_machines = other_machines,
        };
        return 0;
}

double eta_remaining(const BuildEta *eta, double elapsed) {
        if (eta->samples == 0)
                return 0;
        return MAX(eta->expected - MAX(elapsed, 0.0), 0.0);
}

double eta_overtime(const BuildEta *eta, double elapsed) {
        if (eta->samples == 0)
                return 0;
        return MAX(elapsed - eta->expected, 0.0);
}
