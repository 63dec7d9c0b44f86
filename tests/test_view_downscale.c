/* The viewer's preview box filter: byte for byte against a plain reference (64-bit sums and
 * a real division) on random images of many shapes, every block size up to the limit
 * (which exercises the reciprocal division at its extremes), padded source rows, refusals,
 * and the preview size rule. */
#include "sisp/downscale.h"
#include "sisp/error.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* What sisp_downscale_box must produce, the slow obvious way. */
static void reference(const uint8_t *src, uint32_t sw, uint32_t sh, size_t stride, uint8_t *dst,
                      uint32_t dw, uint32_t dh) {
    for (uint32_t j = 0; j < dh; j++) {
        uint32_t y0 = (uint32_t)((uint64_t)j * sh / dh),
                 y1 = (uint32_t)((uint64_t)(j + 1) * sh / dh);
        for (uint32_t i = 0; i < dw; i++) {
            uint32_t x0 = (uint32_t)((uint64_t)i * sw / dw);
            uint32_t x1 = (uint32_t)((uint64_t)(i + 1) * sw / dw);
            uint64_t n = (uint64_t)(x1 - x0) * (y1 - y0);
            for (int c = 0; c < 4; c++) {
                uint64_t sum = 0;
                for (uint32_t y = y0; y < y1; y++) {
                    for (uint32_t x = x0; x < x1; x++)
                        sum += src[(size_t)y * stride + (size_t)x * 4 + (size_t)c];
                }
                dst[((size_t)j * dw + i) * 4 + (size_t)c] = (uint8_t)((sum + n / 2) / n);
            }
        }
    }
}

/* A random image of sh rows stride bytes apart (the padding is random too). Values lean
 * to the ends of the range so that sums near rounding ties and the maximum occur. */
static uint8_t *random_image(uint32_t sh, size_t stride) {
    size_t n = stride * sh;
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        abort();
    for (size_t i = 0; i < n; i++) {
        uint64_t r = t_rand_below(8);
        p[i] = r == 0 ? 0 : r == 1 ? 255 : (uint8_t)t_rand_below(256);
    }
    return p;
}

/* Runs both on one case; 1 if they agree. */
static int same_as_reference(uint32_t sw, uint32_t sh, size_t pad, uint32_t dw, uint32_t dh) {
    size_t stride = (size_t)sw * 4 + pad;
    uint8_t *src = random_image(sh, stride);
    uint8_t *got = malloc((size_t)dw * dh * 4), *want = malloc((size_t)dw * dh * 4);
    int ok;
    if (!got || !want)
        abort();
    CHECK_ERR(sisp_downscale_box(src, sw, sh, stride, got, dw, dh), 0);
    reference(src, sw, sh, stride, want, dw, dh);
    ok = memcmp(got, want, (size_t)dw * dh * 4) == 0;
    if (!ok)
        fprintf(stderr, "  %ux%u (+%zu) -> %ux%u differs from the reference\n", sw, sh, pad, dw,
                dh);
    free(src);
    free(got);
    free(want);
    return ok;
}

static void test_shapes(void) {
    static const uint32_t cases[][4] = {
        {1, 1, 1, 1},        {7, 5, 7, 5}, /* same size: a copy */
        {10, 10, 5, 5},      {11, 7, 3, 2},        {13, 9, 13, 1}, {9, 13, 1, 13},
        {100, 67, 34, 23},   {640, 400, 320, 200}, {257, 3, 2, 1}, {600, 400, 120, 80},
        {601, 401, 121, 81}, {1000, 3, 4, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(same_as_reference(cases[i][0], cases[i][1], 0, cases[i][2], cases[i][3]));
        CHECK(same_as_reference(cases[i][0], cases[i][1], 12, cases[i][2], cases[i][3]));
    }
    for (int i = 0; i < 200; i++) { /* random shapes within the block limit */
        uint32_t sw = 1 + (uint32_t)t_rand_below(300), sh = 1 + (uint32_t)t_rand_below(300);
        uint32_t dw = 1 + (uint32_t)t_rand_below(sw), dh = 1 + (uint32_t)t_rand_below(sh);
        if ((sw + dw - 1) / dw > SISP_DOWNSCALE_MAX_BLOCK ||
            (sh + dh - 1) / dh > SISP_DOWNSCALE_MAX_BLOCK)
            continue;
        CHECK(same_as_reference(sw, sh, (size_t)t_rand_below(3) * 4, dw, dh));
    }
}

/* One destination pixel per block of every size up to 256 x 256: divisors from 1 to 2^16. */
static void test_block_sizes(void) {
    uint8_t full[SISP_DOWNSCALE_MAX_BLOCK * SISP_DOWNSCALE_MAX_BLOCK * 4], out[4];
    int bad = 0;
    for (uint32_t bw = 1; bw <= SISP_DOWNSCALE_MAX_BLOCK; bw += 1 + bw / 8) {
        for (uint32_t bh = 1; bh <= SISP_DOWNSCALE_MAX_BLOCK; bh += 1 + bh / 8)
            bad += !same_as_reference(bw, bh, 0, 1, 1);
    }
    CHECK_INT(bad, 0);
    CHECK(same_as_reference(256, 256, 0, 1, 1));
    CHECK(same_as_reference(512, 512, 0, 2, 2));
    /* The largest sums: all 255 stays 255; all 0 stays 0. */
    memset(full, 255, sizeof(full));
    CHECK_ERR(sisp_downscale_box(full, 256, 256, 256 * 4, out, 1, 1), 0);
    for (int c = 0; c < 4; c++)
        CHECK_INT(out[c], 255);
    memset(full, 0, sizeof(full));
    CHECK_ERR(sisp_downscale_box(full, 256, 256, 256 * 4, out, 1, 1), 0);
    for (int c = 0; c < 4; c++)
        CHECK_INT(out[c], 0);
    /* Rounding: half-way rounds up (1 and 2 average to 2; 1, 1, 2 to 1). */
    {
        const uint8_t two[8] = {1, 1, 1, 1, 2, 2, 2, 2};
        const uint8_t three[12] = {1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2};
        CHECK_ERR(sisp_downscale_box(two, 2, 1, 8, out, 1, 1), 0);
        CHECK_INT(out[0], 2);
        CHECK_ERR(sisp_downscale_box(three, 3, 1, 12, out, 1, 1), 0);
        CHECK_INT(out[0], 1);
    }
}

static void test_refusals(void) {
    uint8_t src[16 * 4] = {0}, dst[16 * 4];
    static uint8_t wide[257 * 4];
    CHECK_ERR(sisp_downscale_box(src, 0, 1, 0, dst, 1, 1), SISP_EINVAL);
    CHECK_ERR(sisp_downscale_box(src, 4, 4, 16, dst, 0, 1), SISP_EINVAL);
    CHECK_ERR(sisp_downscale_box(src, 4, 4, 16, dst, 1, 0), SISP_EINVAL);
    CHECK_ERR(sisp_downscale_box(src, 4, 4, 16, dst, 5, 4), SISP_EINVAL); /* enlarging */
    CHECK_ERR(sisp_downscale_box(src, 4, 4, 16, dst, 4, 5), SISP_EINVAL);
    CHECK_ERR(sisp_downscale_box(src, 4, 4, 15, dst, 2, 2), SISP_EINVAL); /* short stride */
    CHECK_ERR(sisp_downscale_box(wide, 257, 1, sizeof(wide), dst, 1, 1), SISP_EINVAL);
    CHECK_ERR(sisp_downscale_box(wide, 257, 1, sizeof(wide), dst, 2, 1), 0);
    CHECK_ERR(sisp_downscale_box(wide, 1, 257, 4, dst, 1, 1), SISP_EINVAL);
}

static void test_preview_size(void) {
    uint32_t w = 0, h = 0;
    /* The bench's JPEG in a 1024x768 window: fit 1024/6000, factor 5. */
    CHECK_INT(sisp_downscale_preview_size(6000, 4000, 1024.0 / 6000.0, &w, &h), 1);
    CHECK_INT(w, 1200);
    CHECK_INT(h, 800);
    CHECK_INT(sisp_downscale_preview_size(4000, 3000, 0.256, &w, &h), 1);
    CHECK_INT(w, 1334); /* factor 3, rounded up */
    CHECK_INT(h, 1000);
    CHECK_INT(sisp_downscale_preview_size(640, 400, 0.5, &w, &h), 1);
    CHECK_INT(w, 320);
    CHECK_INT(h, 200);
    CHECK_INT(sisp_downscale_preview_size(16384, 16384, 1e-6, &w, &h), 1);
    CHECK_INT(w, 64); /* the block limit */
    /* Shown at more than half size, or nonsense: none. */
    CHECK_INT(sisp_downscale_preview_size(640, 400, 0.51, &w, &h), 0);
    CHECK_INT(sisp_downscale_preview_size(640, 400, 1.0, &w, &h), 0);
    CHECK_INT(sisp_downscale_preview_size(640, 400, 0.0, &w, &h), 0);
    CHECK_INT(sisp_downscale_preview_size(640, 400, -1.0, &w, &h), 0);
    CHECK_INT(sisp_downscale_preview_size(0, 400, 0.1, &w, &h), 0);
    /* Whatever the scale, the preview has at least the output's pixels on each axis, and a
     * box filter accepts it. */
    for (int i = 0; i < 2000; i++) {
        uint32_t sw = 1 + (uint32_t)t_rand_below(16384), sh = 1 + (uint32_t)t_rand_below(16384);
        double scale = (double)(1 + t_rand_below(100000)) / 100000.0;
        if (!sisp_downscale_preview_size(sw, sh, scale, &w, &h))
            continue;
        CHECK(w >= 1 && w <= sw && h >= 1 && h <= sh);
        CHECK(scale * sw <= w * (1.0 + 1e-9) && scale * sh <= h * (1.0 + 1e-9));
        CHECK((sw + w - 1) / w <= SISP_DOWNSCALE_MAX_BLOCK);
        CHECK((sh + h - 1) / h <= SISP_DOWNSCALE_MAX_BLOCK);
    }
}

int main(void) {
    t_rand_seed_from_env("view_downscale");
    test_shapes();
    test_block_sizes();
    test_refusals();
    test_preview_size();
    return t_done("view_downscale");
}
