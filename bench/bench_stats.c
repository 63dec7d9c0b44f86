#include "bench_stats.h"

#include <stdlib.h>
#include <string.h>

int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

stats_t stats(const double *v, size_t n) {
    stats_t r = {0, 0, 0};
    double *s = n ? malloc(n * sizeof *s) : NULL;
    if (s == NULL)
        return r;
    memcpy(s, v, n * sizeof *v);
    qsort(s, n, sizeof *s, cmp_double);
    r.min = s[0];
    r.max = s[n - 1];
    r.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return r;
}
