/* Box-filter downscaling for the viewer's preview. See sisp/downscale.h.
 *
 * One pass over the source, row by row: the source rows of one destination row are summed
 * into 16-bit column sums (a block is at most 256 rows, so 256 * 255 fits), a loop the
 * compiler vectorises; then each destination pixel adds up its block's columns and divides.
 * The division is a multiplication by a 40-bit reciprocal: for a divisor d <= 2^16 and a
 * numerator n < 2^24, floor(n / d) == (n * ceil(2^40 / d)) >> 40 exactly (the error term is
 * below 2^24 * (d - 1) / (d * 2^40) < 1 / d), and n * ceil(2^40 / d) < 2^64. */
#include "sisp/downscale.h"

#include "sisp/error.h"

#include <stdlib.h>
#include <string.h>

#define RECIP_SHIFT 40
#define ADD_CHUNK 32

int sisp_downscale_preview_size(uint32_t src_w, uint32_t src_h, double scale, uint32_t *out_w,
                                uint32_t *out_h) {
    uint32_t k;
    if (src_w == 0 || src_h == 0 || !(scale > 0.0))
        return 0;
    if (scale * SISP_DOWNSCALE_MAX_BLOCK <= 1.0)
        k = SISP_DOWNSCALE_MAX_BLOCK;
    else
        k = (uint32_t)(1.0 / scale); /* floor: 1 / scale < 256 here */
    if (k < 2)
        return 0;
    *out_w = (uint32_t)(((uint64_t)src_w + k - 1) / k);
    *out_h = (uint32_t)(((uint64_t)src_h + k - 1) / k);
    return 1;
}

/* sums[i] += row[i] for i < n. In fixed chunks, which compilers vectorise even under GCC's
 * -O2 cost model (a loop of unknown length gets only 4-byte vectors there). */
static void add_row(uint16_t *restrict sums, const uint8_t *restrict row, size_t n) {
    size_t i = 0;
    for (; i + ADD_CHUNK <= n; i += ADD_CHUNK) {
        for (size_t k = 0; k < ADD_CHUNK; k++)
            sums[i + k] = (uint16_t)(sums[i + k] + row[i + k]);
    }
    for (; i < n; i++)
        sums[i] = (uint16_t)(sums[i] + row[i]);
}

/* floor(i * n / parts), the start of part i when n items are split into parts. */
static uint32_t part_start(uint64_t i, uint32_t n, uint32_t parts) {
    return (uint32_t)(i * n / parts);
}

int sisp_downscale_box(const uint8_t *src, uint32_t src_w, uint32_t src_h, size_t src_stride,
                       uint8_t *dst, uint32_t dst_w, uint32_t dst_h) {
    size_t row_len = (size_t)src_w * 4;
    uint16_t *sums;
    uint32_t *cols;
    uint32_t last_d = 0;
    uint64_t recip = 0;

    if (src_w == 0 || src_h == 0 || dst_w == 0 || dst_h == 0 || dst_w > src_w || dst_h > src_h ||
        src_stride < row_len || ((uint64_t)src_w + dst_w - 1) / dst_w > SISP_DOWNSCALE_MAX_BLOCK ||
        ((uint64_t)src_h + dst_h - 1) / dst_h > SISP_DOWNSCALE_MAX_BLOCK)
        return SISP_EINVAL;
    sums = malloc(row_len * sizeof(*sums));
    cols = malloc(((size_t)dst_w + 1) * sizeof(*cols));
    if (!sums || !cols) {
        free(sums);
        free(cols);
        return SISP_ENOMEM;
    }
    for (uint32_t i = 0; i <= dst_w; i++)
        cols[i] = part_start(i, src_w, dst_w);

    for (uint32_t j = 0; j < dst_h; j++) {
        uint32_t y0 = part_start(j, src_h, dst_h), y1 = part_start((uint64_t)j + 1, src_h, dst_h);
        uint8_t *out = dst + (size_t)j * dst_w * 4;

        memset(sums, 0, row_len * sizeof(*sums));
        for (uint32_t y = y0; y < y1; y++)
            add_row(sums, src + (size_t)y * src_stride, row_len);
        for (uint32_t i = 0; i < dst_w; i++) {
            const uint16_t *p = sums + (size_t)cols[i] * 4, *end = sums + (size_t)cols[i + 1] * 4;
            uint32_t d = (cols[i + 1] - cols[i]) * (y1 - y0);        /* <= 2^16 */
            uint32_t s0 = d / 2, s1 = d / 2, s2 = d / 2, s3 = d / 2; /* rounding; < 2^24 */
            for (; p < end; p += 4) {
                s0 += p[0];
                s1 += p[1];
                s2 += p[2];
                s3 += p[3];
            }
            if (d != last_d) {
                last_d = d;
                recip = ((1ull << RECIP_SHIFT) + d - 1) / d;
            }
            out[0] = (uint8_t)((s0 * recip) >> RECIP_SHIFT);
            out[1] = (uint8_t)((s1 * recip) >> RECIP_SHIFT);
            out[2] = (uint8_t)((s2 * recip) >> RECIP_SHIFT);
            out[3] = (uint8_t)((s3 * recip) >> RECIP_SHIFT);
            out += 4;
        }
    }
    free(sums);
    free(cols);
    return 0;
}
