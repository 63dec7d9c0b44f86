/* What every benchmark reports for a set of repeated measurements. */
#ifndef SISP_BENCH_STATS_H
#define SISP_BENCH_STATS_H

#include <stddef.h>

typedef struct {
    double median, min, max;
} stats_t;

/* Median, minimum and maximum of v[0..n); all zero when n is 0 (or without memory). */
stats_t stats(const double *v, size_t n);

/* qsort comparison of doubles, ascending. */
int cmp_double(const void *a, const void *b);

#endif
