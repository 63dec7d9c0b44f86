/* sispdecode: limits, format sniffing, dispatch to the PNG and JPEG decoders, and the EXIF
 * orientation transform of an RGBA buffer. */
#include <sisp/decode.h>
#include <sisp/error.h>

#include <stdlib.h>
#include <string.h>

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const uint8_t jpeg_magic[3] = {0xff, 0xd8, 0xff};

void sisp_decode_limits_default(sisp_decode_limits_t *lim) {
    lim->max_width = 16384;
    lim->max_height = 16384;
    lim->max_pixels = (uint64_t)64 * 1024 * 1024;
    lim->max_input_bytes = (size_t)256 * 1024 * 1024;
    lim->max_memory_bytes = (size_t)256 * 1024 * 1024;
    lim->max_scans = 500;
}

int sisp_decode_limits_check(const sisp_decode_limits_t *lim, uint64_t width, uint64_t height) {
    sisp_decode_limits_t def;
    if (lim == NULL) {
        sisp_decode_limits_default(&def);
        lim = &def;
    }
    if (width > lim->max_width || height > lim->max_height)
        return SISP_EIMGTOOBIG;
    /* Both sides fit in 32 bits here, so the product cannot overflow 64. */
    if (width * height > lim->max_pixels)
        return SISP_EIMGTOOBIG;
    return 0;
}

static int has_prefix(const uint8_t *data, size_t len, const uint8_t *magic, size_t n) {
    return len >= n && memcmp(data, magic, n) == 0;
}

/* 1 when data is a proper prefix of magic: the signature itself was cut. */
static int cut_magic(const uint8_t *data, size_t len, const uint8_t *magic, size_t n) {
    return len < n && (len == 0 || memcmp(data, magic, len) == 0);
}

sisp_image_format_t sisp_image_sniff(const uint8_t *data, size_t len) {
    if (data == NULL)
        return SISP_IMAGE_UNKNOWN;
    if (has_prefix(data, len, png_magic, sizeof png_magic))
        return SISP_IMAGE_PNG;
    if (has_prefix(data, len, jpeg_magic, sizeof jpeg_magic))
        return SISP_IMAGE_JPEG;
    return SISP_IMAGE_UNKNOWN;
}

/* Why data that sniffs as neither format is refused: a cut signature (or nothing at all) is
 * truncation, anything else an unknown format. */
static int refuse_unknown(const uint8_t *data, size_t len) {
    if (data == NULL || len == 0)
        return SISP_EIMGTRUNC;
    if (cut_magic(data, len, png_magic, sizeof png_magic) ||
        cut_magic(data, len, jpeg_magic, sizeof jpeg_magic))
        return SISP_EIMGTRUNC;
    return SISP_EIMGUNSUPP;
}

int sisp_image_precheck(const uint8_t *data, size_t len, const sisp_decode_limits_t *lim,
                        sisp_image_format_t want, sisp_decode_limits_t *in_force) {
    sisp_decode_limits_t l;
    if (lim != NULL)
        l = *lim;
    else
        sisp_decode_limits_default(&l);
    if (in_force != NULL)
        *in_force = l;
    if (len > l.max_input_bytes)
        return SISP_EIMGTOOBIG;
    sisp_image_format_t f = sisp_image_sniff(data, len);
    if (f == SISP_IMAGE_UNKNOWN)
        return refuse_unknown(data, len);
    return want == SISP_IMAGE_UNKNOWN || f == want ? 0 : SISP_EIMGUNSUPP;
}

int sisp_image_decode(const uint8_t *data, size_t len, const sisp_decode_limits_t *lim,
                      sisp_image_t *out) {
    memset(out, 0, sizeof *out);
    int rc = sisp_image_precheck(data, len, lim, SISP_IMAGE_UNKNOWN, NULL);
    if (rc != 0)
        return rc;
    if (sisp_image_sniff(data, len) == SISP_IMAGE_PNG)
        return sisp_image_decode_png(data, len, lim, out);
    return sisp_image_decode_jpeg(data, len, lim, out);
}

void sisp_image_free(sisp_image_t *img) {
    if (img == NULL)
        return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

/* Each orientation as: swap the sides (5-8), then mirror the source column and/or row index.
 * For a w x h source. */
typedef struct {
    int swap;           /* output is h x w */
    int flip_x, flip_y; /* mirror the source column / row index */
} orient_map_t;

static const orient_map_t orient_maps[9] = {
    [1] = {0, 0, 0}, /* as stored */
    [2] = {0, 1, 0}, /* mirrored left-right */
    [3] = {0, 1, 1}, /* rotated 180 */
    [4] = {0, 0, 1}, /* mirrored top-bottom */
    [5] = {1, 0, 0}, /* transposed: out(x, y) = in(y, x) */
    [6] = {1, 0, 1}, /* rotated 90 clockwise: out(x, y) = in(y, h-1-x) */
    [7] = {1, 1, 1}, /* transversed: out(x, y) = in(w-1-y, h-1-x) */
    [8] = {1, 1, 0}, /* rotated 90 counter-clockwise: out(x, y) = in(w-1-y, x) */
};

static void swap_px(uint32_t *a, uint32_t *b) {
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

/* 2, 3, 4 in place: 3 reverses the whole buffer, 2 each row, 4 the row order. */
static void flip_in_place(uint32_t *px, size_t w, size_t h, int flip_x, int flip_y) {
    if (flip_x && flip_y) {
        for (size_t i = 0, j = w * h - 1; i < j; i++, j--)
            swap_px(&px[i], &px[j]);
    } else if (flip_x) {
        for (size_t y = 0; y < h; y++)
            for (size_t i = y * w, j = y * w + w - 1; i < j; i++, j--)
                swap_px(&px[i], &px[j]);
    } else if (flip_y) {
        for (size_t top = 0, bot = h - 1; top < bot; top++, bot--)
            for (size_t x = 0; x < w; x++)
                swap_px(&px[top * w + x], &px[bot * w + x]);
    }
}

/* 5-8 into a new h x w buffer, in 64 x 64 tiles so both sides stay in cache. */
static void transpose_into(uint32_t *dst, const uint32_t *src, size_t w, size_t h, int flip_x,
                           int flip_y) {
    enum { TILE = 64 };
    /* Output is h wide, w tall: out(x, y) = in(sx, sy) with sx from y, sy from x. */
    for (size_t y0 = 0; y0 < w; y0 += TILE)
        for (size_t x0 = 0; x0 < h; x0 += TILE)
            for (size_t y = y0; y < y0 + TILE && y < w; y++) {
                size_t sx = flip_x ? w - 1 - y : y;
                for (size_t x = x0; x < x0 + TILE && x < h; x++) {
                    size_t sy = flip_y ? h - 1 - x : x;
                    dst[y * h + x] = src[sy * w + sx];
                }
            }
}

int sisp_image_orient(sisp_image_t *img, int orientation) {
    if (img == NULL || orientation < 1 || orientation > 8)
        return SISP_EINVAL;
    const orient_map_t *m = &orient_maps[orientation];
    size_t w = img->width, h = img->height;
    if (img->pixels == NULL || w == 0 || h == 0) {
        img->orientation = (uint8_t)orientation;
        return 0;
    }
    /* RGBA8 pixels are moved as whole 32-bit words; malloc's alignment suffices. */
    uint32_t *px = (uint32_t *)(void *)img->pixels;
    if (!m->swap) {
        flip_in_place(px, w, h, m->flip_x, m->flip_y);
    } else {
        size_t bytes;
        uint32_t *dst = __builtin_mul_overflow(w * h, (size_t)4, &bytes) ? NULL : malloc(bytes);
        if (dst == NULL)
            return SISP_ENOMEM;
        transpose_into(dst, px, w, h, m->flip_x, m->flip_y);
        free(img->pixels);
        img->pixels = (uint8_t *)dst;
        img->width = (uint32_t)h;
        img->height = (uint32_t)w;
    }
    img->orientation = (uint8_t)orientation;
    return 0;
}
