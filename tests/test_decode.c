/* test_decode: the PNG/JPEG decoding library (viewer/src/decode*.c).
 *
 *   test_decode                      images encoded here by libpng and TurboJPEG from known
 *                                    patterns, decoded and compared pixel for pixel; limits,
 *                                    scaling, EXIF orientation, every truncation, bit flips
 *   test_decode --hostile GENERATOR  runs sisp-gen-hostile into a temp dir and decodes every
 *                                    file: each must give the error its name starts with,
 *                                    and peak RSS (getrusage) must stay under 512 MiB */
#include "testutil.h"

#include <sisp/decode.h>
#include <sisp/error.h>

#include <png.h>
#include <turbojpeg.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    uint8_t *p;
    size_t len;
} blob_t;

static void blob_put(blob_t *b, const void *d, size_t n) {
    uint8_t *p = realloc(b->p, b->len + n);
    if (p == NULL)
        abort();
    memcpy(p + b->len, d, n);
    b->p = p;
    b->len += n;
}

/* ---- PNG encoding through libpng ---- */

typedef struct {
    uint32_t w, h;
    int depth, ctype, ilace;
    int trns;          /* write a tRNS chunk */
    uint32_t gama;     /* gAMA value (100000 = linear), 0 for none */
    int exif;          /* eXIf orientation, 0 for none */
    uint16_t *samples; /* h * w * channels values in 0 .. 2^depth - 1 */
    png_color pal[256];
    png_byte pal_alpha[256];
    int pal_n, pal_alpha_n;
    png_color_16 trans; /* tRNS value for grey and RGB */
} png_spec_t;

static const int png_channels[7] = {1, 0, 3, 1, 2, 0, 4};

static void on_png_write(png_structp png, png_bytep d, size_t n) {
    blob_put(png_get_io_ptr(png), d, n);
}

static void on_png_flush(png_structp png) {
    (void)png;
}

static void pack_row(const png_spec_t *s, uint32_t y, uint8_t *row) {
    int ch = png_channels[s->ctype];
    const uint16_t *v = s->samples + (size_t)y * s->w * (size_t)ch;
    size_t n = (size_t)s->w * (size_t)ch;
    if (s->depth == 16) {
        for (size_t i = 0; i < n; i++) {
            row[2 * i] = (uint8_t)(v[i] >> 8);
            row[2 * i + 1] = (uint8_t)v[i];
        }
        return;
    }
    memset(row, 0, (n * (size_t)s->depth + 7) / 8);
    for (size_t i = 0; i < n; i++) {
        size_t bit = i * (size_t)s->depth;
        row[bit / 8] |= (uint8_t)(v[i] << (8 - s->depth - (int)(bit % 8)));
    }
}

static int png_write_all(png_structp png, png_infop info, const png_spec_t *s, uint8_t *rows,
                         png_bytep *rowp, size_t stride) {
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_IHDR(png, info, s->w, s->h, s->depth, s->ctype,
                 s->ilace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s->ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_PLTE(png, info, s->pal, s->pal_n);
    if (s->trns)
        png_set_tRNS(png, info, s->pal_alpha, s->pal_alpha_n, &s->trans);
    if (s->gama != 0)
        png_set_gAMA_fixed(png, info, (png_fixed_point)s->gama);
    if (s->exif != 0) {
        png_byte ex[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0,
                         3,   0,   0, 0,  1, 0, 0, 0, 0, 0, 0,    0,    0};
        ex[19] = (png_byte)s->exif;
        png_set_eXIf_1(png, info, sizeof ex, ex);
    }
    png_write_info(png, info);
    for (uint32_t y = 0; y < s->h; y++) {
        pack_row(s, y, rows + y * stride);
        rowp[y] = rows + y * stride;
    }
    png_write_image(png, rowp);
    png_write_end(png, info);
    return 0;
}

static blob_t png_encode(const png_spec_t *s) {
    blob_t out = {0};
    size_t stride = ((size_t)s->w * (size_t)png_channels[s->ctype] * (size_t)s->depth + 7) / 8;
    uint8_t *rows = malloc(stride * s->h);
    png_bytep *rowp = malloc(s->h * sizeof *rowp);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    if (rows == NULL || rowp == NULL || info == NULL)
        abort();
    png_set_write_fn(png, &out, on_png_write, on_png_flush);
    if (png_write_all(png, info, s, rows, rowp, stride) != 0)
        abort();
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(rowp);
    return out;
}

/* ---- JPEG encoding through TurboJPEG ---- */

static blob_t jpeg_encode(const uint8_t *px, int w, int h, int pf, int subsamp, int flags) {
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    if (tj == NULL || tjCompress2(tj, px, w, 0, h, pf, &jpeg, &size, subsamp, 100, flags) != 0)
        abort();
    blob_t out = {0};
    blob_put(&out, jpeg, size);
    tjFree(jpeg);
    tjDestroy(tj);
    return out;
}

/* An APP1 Exif segment right after SOI: IFD0 with one Orientation entry. */
static blob_t jpeg_with_orientation(const blob_t *jpeg, int orientation, int little_endian) {
    static const uint8_t mm[] = {0xff, 0xe1, 0, 34, 'E', 'x', 'i', 'f', 0, 0,    'M', 'M',
                                 0,    42,   0, 0,  0,   8,   0,   1,   1, 0x12, 0,   3,
                                 0,    0,    0, 1,  0,   0,   0,   0,   0, 0,    0,   0};
    static const uint8_t ii[] = {0xff, 0xe1, 0, 34, 'E', 'x', 'i', 'f', 0,    0, 'I', 'I',
                                 42,   0,    8, 0,  0,   0,   1,   0,   0x12, 1, 3,   0,
                                 1,    0,    0, 0,  0,   0,   0,   0,   0,    0, 0,   0};
    uint8_t seg[sizeof mm];
    memcpy(seg, little_endian ? ii : mm, sizeof seg);
    seg[little_endian ? 28 : 29] = (uint8_t)orientation;
    blob_t out = {0};
    blob_put(&out, jpeg->p, 2);
    blob_put(&out, seg, sizeof seg);
    blob_put(&out, jpeg->p + 2, jpeg->len - 2);
    return out;
}

/* ---- PNG tests ---- */

/* The 8-bit value a decoder must produce for sample v at this depth. 16-bit samples are
 * written as b * 257, which every correct 16-to-8 reduction maps back to b. */
static uint8_t to8(uint16_t v, int depth) {
    return depth == 16 ? (uint8_t)(v >> 8) : (uint8_t)(v * 255u / ((1u << depth) - 1u));
}

static void png_expected(const png_spec_t *s, uint8_t *rgba) {
    int ch = png_channels[s->ctype];
    for (size_t i = 0; i < (size_t)s->w * s->h; i++) {
        const uint16_t *v = s->samples + i * (size_t)ch;
        uint8_t *o = rgba + 4 * i;
        switch (s->ctype) {
        case PNG_COLOR_TYPE_GRAY:
        case PNG_COLOR_TYPE_GRAY_ALPHA:
            o[0] = o[1] = o[2] = to8(v[0], s->depth);
            o[3] = ch == 2 ? to8(v[1], s->depth) : s->trns && v[0] == s->trans.gray ? 0 : 255;
            break;
        case PNG_COLOR_TYPE_RGB:
        case PNG_COLOR_TYPE_RGB_ALPHA:
            for (int c = 0; c < 3; c++)
                o[c] = to8(v[c], s->depth);
            o[3] =
                ch == 4 ? to8(v[3], s->depth)
                : s->trns && v[0] == s->trans.red && v[1] == s->trans.green && v[2] == s->trans.blue
                    ? 0
                    : 255;
            break;
        default: /* palette */
            o[0] = s->pal[v[0]].red;
            o[1] = s->pal[v[0]].green;
            o[2] = s->pal[v[0]].blue;
            o[3] = s->trns && v[0] < s->pal_alpha_n ? s->pal_alpha[v[0]] : 255;
        }
    }
}

/* Fills s->samples (and palette, tRNS) with a pattern that covers the depth's range. */
static void png_pattern(png_spec_t *s) {
    int ch = png_channels[s->ctype];
    uint32_t maxv = s->ctype == 3 ? (uint32_t)s->pal_n - 1 : (1u << s->depth) - 1;
    s->samples = malloc((size_t)s->w * s->h * (size_t)ch * sizeof *s->samples);
    if (s->samples == NULL)
        abort();
    for (uint32_t y = 0; y < s->h; y++)
        for (uint32_t x = 0; x < s->w; x++)
            for (int c = 0; c < ch; c++) {
                uint32_t v = (x * 7 + y * 13 + (uint32_t)c * 29 + 3) % (maxv + 1);
                if (s->depth == 16)
                    v = (v & 0xff) * 257;
                s->samples[((size_t)y * s->w + x) * (size_t)ch + (size_t)c] = (uint16_t)v;
            }
    for (int i = 0; i < s->pal_n; i++) {
        s->pal[i] = (png_color){(png_byte)(i * 37), (png_byte)(255 - i), (png_byte)(i * 5)};
        s->pal_alpha[i] = (png_byte)(i * 41);
    }
    s->pal_alpha_n = s->pal_n > 3 ? s->pal_n - 2 : s->pal_n;
    /* tRNS colour: the value of pixel (1, 1), so some pixels really are transparent. */
    const uint16_t *v = s->samples + ((size_t)s->w + 1) * (size_t)ch;
    s->trans.gray = v[0];
    s->trans.red = v[0];
    s->trans.green = ch >= 3 ? v[1] : 0;
    s->trans.blue = ch >= 3 ? v[2] : 0;
}

static int first_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (int)i;
    return -1;
}

static void check_png_case(int depth, int ctype, int ilace, int trns) {
    png_spec_t s = {.w = 19, .h = 13, .depth = depth, .ctype = ctype, .ilace = ilace};
    s.trns = trns;
    s.pal_n = ctype == 3 ? 1 << depth : 0;
    png_pattern(&s);
    blob_t file = png_encode(&s);
    uint8_t *want = malloc((size_t)s.w * s.h * 4);
    if (want == NULL)
        abort();
    png_expected(&s, want);
    sisp_image_t img;
    int rc = sisp_image_decode(file.p, file.len, NULL, &img);
    CHECK_ERR(rc, 0);
    if (rc == 0) {
        CHECK_INT(img.width, s.w);
        CHECK_INT(img.height, s.h);
        CHECK_INT(img.format, SISP_IMAGE_PNG);
        int at = first_diff(img.pixels, want, (size_t)s.w * s.h * 4);
        t_checks++;
        if (at >= 0)
            T_FAIL_AT("PNG depth %d type %d interlace %d tRNS %d: byte %d is %u, want %u", depth,
                      ctype, ilace, trns, at, img.pixels[at], want[at]);
    }
    sisp_image_free(&img);
    free(want);
    free(file.p);
    free(s.samples);
}

static void test_png_formats(void) {
    static const struct {
        int ctype, depths[5];
    } kinds[] = {
        {PNG_COLOR_TYPE_GRAY, {1, 2, 4, 8, 16}}, {PNG_COLOR_TYPE_RGB, {8, 16}},
        {PNG_COLOR_TYPE_PALETTE, {1, 2, 4, 8}},  {PNG_COLOR_TYPE_GRAY_ALPHA, {8, 16}},
        {PNG_COLOR_TYPE_RGB_ALPHA, {8, 16}},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int d = 0; d < 5 && kinds[k].depths[d] != 0; d++)
            for (int ilace = 0; ilace < 2; ilace++)
                for (int trns = 0; trns < 2; trns++)
                    if (!trns || (kinds[k].ctype & PNG_COLOR_MASK_ALPHA) == 0)
                        check_png_case(kinds[k].depths[d], kinds[k].ctype, ilace, trns);
}

static blob_t png_gray_row(const uint8_t *values, uint32_t n, uint32_t gama, int exif) {
    png_spec_t s = {.w = n, .h = 1, .depth = 8, .ctype = PNG_COLOR_TYPE_GRAY};
    s.gama = gama;
    s.exif = exif;
    s.samples = malloc(n * sizeof *s.samples);
    if (s.samples == NULL)
        abort();
    for (uint32_t i = 0; i < n; i++)
        s.samples[i] = values[i];
    blob_t file = png_encode(&s);
    free(s.samples);
    return file;
}

static void test_png_gamma(void) {
    static const uint8_t in[4] = {0, 64, 128, 255};
    static const uint8_t linear_out[4] = {0, 136, 186, 255}; /* 255 * (v / 255)^(1 / 2.2) */
    blob_t lin = png_gray_row(in, 4, 100000, 0), srgb = png_gray_row(in, 4, 45455, 0);
    sisp_image_t a, b;
    CHECK_ERR(sisp_image_decode(lin.p, lin.len, NULL, &a), 0);
    CHECK_ERR(sisp_image_decode(srgb.p, srgb.len, NULL, &b), 0);
    for (int i = 0; a.pixels != NULL && b.pixels != NULL && i < 4; i++) {
        CHECK(abs(a.pixels[4 * i] - linear_out[i]) <= 2);
        CHECK_INT(b.pixels[4 * i], in[i]);
    }
    sisp_image_free(&a);
    sisp_image_free(&b);
    free(lin.p);
    free(srgb.p);
}

static void test_png_exif(void) {
    static const uint8_t in[3] = {10, 20, 30};
    blob_t file = png_gray_row(in, 3, 0, 6);
    sisp_image_t img;
    CHECK_ERR(sisp_image_decode(file.p, file.len, NULL, &img), 0);
    CHECK_INT(img.orientation, 6);
    CHECK_INT(img.width, 1); /* 3 x 1 rotated clockwise: a column, first pixel on top */
    CHECK_INT(img.height, 3);
    CHECK_INT(img.source_width, 3);
    for (int i = 0; img.pixels != NULL && i < 3; i++)
        CHECK_INT(img.pixels[4 * i], in[i]);
    sisp_image_free(&img);
    free(file.p);
}

/* ---- JPEG tests ---- */

/* w x h RGB in flat 16 x 16 blocks, colour from the block index. */
static const uint8_t block_colours[6][3] = {{200, 30, 30},  {30, 200, 30},  {30, 30, 200},
                                            {220, 220, 40}, {40, 200, 200}, {128, 128, 128}};

static uint8_t *blocks_rgb(int w, int h) {
    uint8_t *px = malloc((size_t)w * (size_t)h * 3);
    if (px == NULL)
        abort();
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(px + ((size_t)y * (size_t)w + (size_t)x) * 3,
                   block_colours[(x / 16 + y / 16 * 5) % 6], 3);
    return px;
}

static int near(const uint8_t *px, const uint8_t *want, int tol) {
    for (int c = 0; c < 3; c++)
        if (abs(px[c] - want[c]) > tol)
            return 0;
    return px[3] == 255;
}

/* The centre of every 16 x 16 block of img (scaled by 1/denom) against its colour. */
static void check_blocks(const sisp_image_t *img, int w, int h, int denom, const char *what) {
    int bad = 0;
    for (int by = 0; by < h / 16; by++)
        for (int bx = 0; bx < w / 16; bx++) {
            size_t x = (size_t)(bx * 16 + 8) / (size_t)denom;
            size_t y = (size_t)(by * 16 + 8) / (size_t)denom;
            const uint8_t *px = img->pixels + (y * img->width + x) * 4;
            if (!near(px, block_colours[(bx + by * 5) % 6], 6) && bad++ == 0)
                T_FAIL_AT("%s: block (%d,%d) is %u,%u,%u,%u", what, bx, by, px[0], px[1], px[2],
                          px[3]);
        }
    t_checks++;
}

static void test_jpeg_kinds(void) {
    static const struct {
        int subsamp, flags;
        const char *what;
    } kinds[] = {
        {TJSAMP_444, 0, "baseline 4:4:4"},
        {TJSAMP_420, 0, "baseline 4:2:0"},
        {TJSAMP_422, TJFLAG_PROGRESSIVE, "progressive 4:2:2"},
        {TJSAMP_420, TJFLAG_PROGRESSIVE, "progressive 4:2:0"},
    };
    int w = 96, h = 64;
    uint8_t *rgb = blocks_rgb(w, h);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        blob_t file = jpeg_encode(rgb, w, h, TJPF_RGB, kinds[k].subsamp, kinds[k].flags);
        sisp_image_t img;
        CHECK_ERR(sisp_image_decode(file.p, file.len, NULL, &img), 0);
        CHECK_INT(img.format, SISP_IMAGE_JPEG);
        CHECK_INT(img.width, w);
        CHECK_INT(img.height, h);
        CHECK_INT(img.scale_denom, 1);
        CHECK_INT(img.orientation, 1);
        CHECK_INT(img.damaged, 0);
        if (img.pixels != NULL)
            check_blocks(&img, w, h, 1, kinds[k].what);
        sisp_image_free(&img);
        free(file.p);
    }
    free(rgb);
}

/* Decodes a 32 x 16 JPEG whose left half should be `left` and right half `right`. */
static void check_halves(const blob_t *file, const uint8_t *left, const uint8_t *right) {
    sisp_image_t img;
    CHECK_ERR(sisp_image_decode(file->p, file->len, NULL, &img), 0);
    CHECK_INT(img.width, 32);
    if (img.pixels != NULL && img.width == 32) {
        CHECK(near(img.pixels + (8 * 32 + 8) * 4, left, 3));
        CHECK(near(img.pixels + (8 * 32 + 24) * 4, right, 3));
    }
    sisp_image_free(&img);
}

static void test_jpeg_gray_cmyk(void) {
    enum { W = 32, H = 16 };
    uint8_t gray[W * H], cmyk[W * H * 4];
    /* CMYK as Adobe and TurboJPEG store it, inverted (255 = no ink): left half no cyan, full
     * magenta and yellow, no black = red; right half only 50% black = grey 128. */
    static const uint8_t red[4] = {255, 0, 0, 255}, half_black[4] = {255, 255, 255, 128};
    for (int i = 0; i < W * H; i++) {
        gray[i] = (i % W) < 16 ? 40 : 210;
        memcpy(cmyk + 4 * i, (i % W) < 16 ? red : half_black, 4);
    }
    static const uint8_t dark[3] = {40, 40, 40}, light[3] = {210, 210, 210};
    static const uint8_t want_red[3] = {255, 0, 0}, want_grey[3] = {128, 128, 128};
    blob_t file = jpeg_encode(gray, W, H, TJPF_GRAY, TJSAMP_GRAY, TJFLAG_PROGRESSIVE);
    check_halves(&file, dark, light);
    free(file.p);
    file = jpeg_encode(cmyk, W, H, TJPF_CMYK, TJSAMP_444, 0);
    check_halves(&file, want_red, want_grey);
    free(file.p);
}

/* Where the stored top-left (red) and top-right (green) blocks of a 64 x 32 image land when
 * shown: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right. */
static const int red_corner[9] = {0, 0, 1, 3, 2, 0, 1, 3, 2};
static const int green_corner[9] = {0, 1, 0, 2, 3, 2, 3, 1, 0};

static const uint8_t *corner(const sisp_image_t *img, int c) {
    size_t x = c & 1 ? img->width - 8 : 8, y = c & 2 ? img->height - 8 : 8;
    return img->pixels + (y * img->width + x) * 4;
}

static void test_jpeg_orientation(void) {
    enum { W = 64, H = 32 };
    uint8_t rgb[W * H * 3];
    static const uint8_t red[3] = {230, 20, 20}, green[3] = {20, 230, 20}, blue[3] = {20, 20, 230};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            memcpy(rgb + (y * W + x) * 3,
                   y >= 16   ? blue
                   : x < 16  ? red
                   : x >= 48 ? green
                             : blue,
                   3);
    blob_t plain = jpeg_encode(rgb, W, H, TJPF_RGB, TJSAMP_444, 0);
    for (int le = 0; le < 2; le++)
        for (int o = 1; o <= 8; o++) {
            blob_t file = jpeg_with_orientation(&plain, o, le);
            sisp_image_t img;
            CHECK_ERR(sisp_image_decode(file.p, file.len, NULL, &img), 0);
            CHECK_INT(img.orientation, o);
            CHECK_INT(img.width, o >= 5 ? H : W);
            CHECK_INT(img.height, o >= 5 ? W : H);
            CHECK_INT(img.source_width, W);
            if (img.pixels != NULL) {
                t_checks++;
                if (!near(corner(&img, red_corner[o]), red, 8) ||
                    !near(corner(&img, green_corner[o]), green, 8))
                    T_FAIL_AT("orientation %d (%s): marks not in corners %d and %d", o,
                              le ? "II" : "MM", red_corner[o], green_corner[o]);
            }
            sisp_image_free(&img);
            free(file.p);
        }
    free(plain.p);
}

static void test_jpeg_scaled(void) {
    int w = 256, h = 128;
    uint8_t *rgb = blocks_rgb(w, h);
    blob_t file = jpeg_encode(rgb, w, h, TJPF_RGB, TJSAMP_444, 0);
    sisp_decode_limits_t lim;
    sisp_image_t img;
    sisp_decode_limits_default(&lim);
    lim.max_width = 64; /* 1/4 */
    CHECK_ERR(sisp_image_decode(file.p, file.len, &lim, &img), 0);
    CHECK_INT(img.scale_denom, 4);
    CHECK_INT(img.width, 64);
    CHECK_INT(img.height, 32);
    CHECK_INT(img.source_width, 256);
    CHECK_INT(img.source_height, 128);
    if (img.pixels != NULL)
        check_blocks(&img, w, h, 4, "scaled 1/4");
    sisp_image_free(&img);
    sisp_decode_limits_default(&lim);
    lim.max_pixels = 128 * 64; /* 1/2 */
    CHECK_ERR(sisp_image_decode(file.p, file.len, &lim, &img), 0);
    CHECK_INT(img.scale_denom, 2);
    CHECK_INT(img.width, 128);
    if (img.pixels != NULL)
        check_blocks(&img, w, h, 2, "scaled 1/2");
    sisp_image_free(&img);
    lim.max_width = 16; /* even 1/8 is 32 wide */
    CHECK_ERR(sisp_image_decode(file.p, file.len, &lim, &img), SISP_EIMGTOOBIG);
    CHECK(img.pixels == NULL);
    free(file.p);
    free(rgb);
}

/* ---- limits, sniffing, API edges ---- */

static void test_limits(void) {
    sisp_decode_limits_t lim;
    sisp_decode_limits_default(&lim);
    CHECK_U64(lim.max_pixels, 64u * 1024 * 1024);
    CHECK_ERR(sisp_decode_limits_check(NULL, 16384, 4096), 0);
    CHECK_ERR(sisp_decode_limits_check(NULL, 16384, 4097), SISP_EIMGTOOBIG);
    CHECK_ERR(sisp_decode_limits_check(NULL, 16385, 1), SISP_EIMGTOOBIG);
    CHECK_ERR(sisp_decode_limits_check(NULL, UINT64_MAX, UINT64_MAX), SISP_EIMGTOOBIG);

    static const uint8_t row[11] = {0};
    blob_t png = png_gray_row(row, 10, 0, 0);
    sisp_image_t img;
    lim.max_pixels = 10;
    CHECK_ERR(sisp_image_decode(png.p, png.len, &lim, &img), 0);
    sisp_image_free(&img);
    lim.max_pixels = 9;
    CHECK_ERR(sisp_image_decode(png.p, png.len, &lim, &img), SISP_EIMGTOOBIG);
    sisp_decode_limits_default(&lim);
    lim.max_input_bytes = png.len - 1;
    CHECK_ERR(sisp_image_decode(png.p, png.len, &lim, &img), SISP_EIMGTOOBIG);
    sisp_decode_limits_default(&lim);
    lim.max_memory_bytes = 4096; /* libpng's own structures do not fit */
    CHECK_ERR(sisp_image_decode(png.p, png.len, &lim, &img), SISP_EIMGTOOBIG);
    free(png.p);

    uint8_t *rgb = blocks_rgb(64, 64);
    blob_t prog = jpeg_encode(rgb, 64, 64, TJPF_RGB, TJSAMP_420, TJFLAG_PROGRESSIVE);
    sisp_decode_limits_default(&lim);
    lim.max_scans = 3;
    CHECK_ERR(sisp_image_decode(prog.p, prog.len, &lim, &img), SISP_EIMGTOOBIG);
    sisp_decode_limits_default(&lim);
    lim.max_memory_bytes = 64 * 64 * 2; /* under the coefficient buffer */
    CHECK_ERR(sisp_image_decode(prog.p, prog.len, &lim, &img), SISP_EIMGTOOBIG);
    CHECK_ERR(sisp_image_decode_png(prog.p, prog.len, NULL, &img), SISP_EIMGUNSUPP);
    CHECK_ERR(sisp_image_decode_jpeg(prog.p, prog.len, NULL, &img), 0);
    sisp_image_free(&img);
    free(prog.p);
    free(rgb);
}

static void test_sniff_and_api(void) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t jpeg_sig[3] = {0xff, 0xd8, 0xff};
    CHECK_INT(sisp_image_sniff(png_sig, 8), SISP_IMAGE_PNG);
    CHECK_INT(sisp_image_sniff(png_sig, 7), SISP_IMAGE_UNKNOWN);
    CHECK_INT(sisp_image_sniff(jpeg_sig, 3), SISP_IMAGE_JPEG);
    CHECK_INT(sisp_image_sniff(jpeg_sig, 2), SISP_IMAGE_UNKNOWN);
    CHECK_INT(sisp_image_sniff(NULL, 0), SISP_IMAGE_UNKNOWN);
    sisp_image_t img;
    CHECK_ERR(sisp_image_decode(NULL, 0, NULL, &img), SISP_EIMGTRUNC);
    CHECK_ERR(sisp_image_decode(png_sig, 5, NULL, &img), SISP_EIMGTRUNC);
    CHECK_ERR(sisp_image_decode(jpeg_sig, 2, NULL, &img), SISP_EIMGTRUNC);
    CHECK_ERR(sisp_image_decode((const uint8_t *)"GIF89a", 6, NULL, &img), SISP_EIMGUNSUPP);
    CHECK_ERR(sisp_image_decode_jpeg(png_sig, 8, NULL, &img), SISP_EIMGUNSUPP);
    CHECK_ERR(sisp_image_decode_png((const uint8_t *)"\x89PN", 3, NULL, &img), SISP_EIMGTRUNC);
    CHECK(img.pixels == NULL);
    sisp_image_free(NULL);
    CHECK_ERR(sisp_image_orient(&img, 0), SISP_EINVAL);
    CHECK_ERR(sisp_image_orient(&img, 9), SISP_EINVAL);
}

/* Every proper prefix is a truncation, read from a buffer that ends at a guard page. */
static void check_every_prefix(const blob_t *file, const char *what) {
    int bad = 0;
    for (size_t n = 0; n < file->len; n++) {
        uint8_t *g = t_guard_copy(file->p, n);
        sisp_image_t img;
        int rc = sisp_image_decode(g, n, NULL, &img);
        if (rc != SISP_EIMGTRUNC && bad++ == 0)
            T_FAIL_AT("%s cut at %zu: %s, want EIMGTRUNC", what, n, t_errname(rc));
        if (rc == 0)
            sisp_image_free(&img);
        t_guard_free(g, n);
    }
    t_checks++;
}

/* One bit flipped at every offset: any outcome but a crash, and the outcome is a real one. */
static void check_bit_flips(const blob_t *file, const char *what) {
    int bad = 0;
    for (size_t i = 0; i < file->len; i++) {
        uint8_t *g = t_guard_copy(file->p, file->len);
        g[i] ^= (uint8_t)(1u << (i % 8));
        sisp_image_t img;
        int rc = sisp_image_decode(g, file->len, NULL, &img);
        int ok = rc == 0 ? img.pixels != NULL && img.width > 0 && img.height > 0
                         : rc == SISP_EIMGTRUNC || rc == SISP_EIMGCORRUPT ||
                               rc == SISP_EIMGTOOBIG || rc == SISP_EIMGUNSUPP;
        if (!ok && bad++ == 0)
            T_FAIL_AT("%s with byte %zu flipped: %s", what, i, t_errname(rc));
        sisp_image_free(&img);
        t_guard_free(g, file->len);
    }
    t_checks++;
}

static void test_damage(void) {
    png_spec_t s = {.w = 11, .h = 9, .depth = 4, .ctype = PNG_COLOR_TYPE_PALETTE, .ilace = 1};
    s.trns = 1;
    s.pal_n = 16;
    s.exif = 3;
    png_pattern(&s);
    blob_t png = png_encode(&s);
    check_every_prefix(&png, "interlaced palette PNG");
    check_bit_flips(&png, "interlaced palette PNG");
    free(png.p);
    free(s.samples);

    uint8_t *rgb = blocks_rgb(32, 32);
    blob_t plain = jpeg_encode(rgb, 32, 32, TJPF_RGB, TJSAMP_420, 0);
    blob_t jpeg = jpeg_with_orientation(&plain, 6, 1);
    blob_t prog = jpeg_encode(rgb, 32, 32, TJPF_RGB, TJSAMP_420, TJFLAG_PROGRESSIVE);
    check_every_prefix(&jpeg, "baseline JPEG with Exif");
    check_every_prefix(&prog, "progressive JPEG");
    check_bit_flips(&jpeg, "baseline JPEG with Exif");
    check_bit_flips(&prog, "progressive JPEG");
    free(plain.p);
    free(jpeg.p);
    free(prog.p);
    free(rgb);
}

/* ---- the hostile corpus ---- */

static int read_all(const char *path, blob_t *out) {
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    out->len = (size_t)st.st_size;
    out->p = malloc(out->len + 1);
    int rc = out->p != NULL && fread(out->p, 1, out->len, f) == out->len ? 0 : -1;
    fclose(f);
    return rc;
}

/* "EIMGTOOBIG-png-....png" must give EIMGTOOBIG; "OK-..." must decode. */
static void check_hostile_file(const char *dir, const char *name, int *refused) {
    char path[4096 + 256 + 2], want[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t n = strcspn(name, "-");
    snprintf(want, sizeof want, "%.*s", (int)(n < sizeof want - 1 ? n : sizeof want - 1), name);
    blob_t file = {0};
    t_checks++;
    if (read_all(path, &file) != 0) {
        T_FAIL_AT("%s: cannot read", path);
    } else {
        sisp_image_t img;
        int rc = sisp_image_decode(file.p, file.len, NULL, &img);
        if (strcmp(t_errname(rc), want) != 0)
            T_FAIL_AT("%s: %s, want %s", name, t_errname(rc), want);
        if (rc == 0 && strstr(name, "damaged") != NULL && !img.damaged)
            T_FAIL_AT("%s: decoded but not marked damaged", name);
        if (rc != 0)
            (*refused)++;
        sisp_image_free(&img);
    }
    free(file.p);
    unlink(path);
}

static void test_hostile(const char *generator) {
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sisp-hostile-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        T_FAIL_AT("mkdtemp %s", dir);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execl(generator, generator, dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    int refused = 0, files = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            check_hostile_file(dir, names[i]->d_name, &refused);
            files++;
        }
        free(names[i]);
    }
    free(names);
    rmdir(dir);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("hostile corpus: %d files, %d refused; peak RSS %ld KiB\n", files, refused,
           ru.ru_maxrss);
    CHECK(refused >= 50);
#ifndef T_ASAN
    CHECK(ru.ru_maxrss < 512L * 1024);
#endif
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--hostile") == 0) {
        test_hostile(argv[2]);
        return t_done("test_decode_hostile");
    }
    test_png_formats();
    test_png_gamma();
    test_png_exif();
    test_jpeg_kinds();
    test_jpeg_gray_cmyk();
    test_jpeg_orientation();
    test_jpeg_scaled();
    test_limits();
    test_sniff_and_api();
    test_damage();
    return t_done("test_decode");
}
