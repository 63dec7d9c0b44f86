/* PNG to RGBA8 through libpng, from memory, under limits.
 *
 * Before libpng sees a byte, one pass over the chunk list (walk, below) checks what can be
 * checked without decoding, so that the first problem met decides the error and nothing is
 * allocated for a hostile file: every chunk's length and CRC, IHDR first and its size within
 * the limits, IEND present (else EIMGTRUNC), no ancillary chunk longer than the chunk limit,
 * no more text/sPLT chunks than the chunk cache, and no zTXt, iTXt or iCCP whose compressed
 * part inflates past the chunk limit (inflated into a small scratch buffer and counted, so a
 * bomb costs time bounded by the limit, not memory). libpng is then told to skip the chunks
 * we have no use for (text, ICC profiles, sPLT, pCAL, sCAL): they never reach its parsers.
 *
 * libpng runs with our error and warning functions (errors longjmp back here, never abort),
 * a bounded memory reader, an allocator that charges every libpng and zlib allocation to
 * max_memory_bytes, and png_set_user_limits, png_set_chunk_cache_max and
 * png_set_chunk_malloc_max at the same limits, as a second line. Its messages decide the code
 * only for what the walk cannot see (bad zlib or filter data in IDAT, invalid IHDR fields, an
 * unknown critical chunk); a limit warning from it still refuses the image.
 *
 * Colour: every colour type and depth becomes 8-bit RGBA (palette and tRNS to alpha, grey to
 * RGB, 16-bit rounded to 8). A gAMA other than sRGB's is converted to the sRGB display gamma;
 * cHRM and iCCP are not applied. An eXIf orientation is honoured, as for JPEG. */
#include "exif.h"

#include <sisp/decode.h>
#include <sisp/error.h>

#define ZLIB_CONST /* z_stream.next_in points to const */
#include <png.h>
#include <zlib.h>

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum {
    PNG_SIG_LEN = 8,
    CHUNK_CACHE = 256, /* text and sPLT chunks one PNG may have */
    PNG_MAX_SIDE = 0x7fffffff,
    SKIPPED_COUNT = 7,
};
#define CHUNK_MAX ((size_t)8 << 20)        /* one ancillary chunk, or its inflated text */
#define INFLATED_TOTAL_MAX (4 * CHUNK_MAX) /* all zTXt, iTXt and iCCP together */

/* What libpng never parses (PNG_HANDLE_CHUNK_NEVER): five bytes a name. */
static const png_byte skipped_chunks[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0pCAL\0sCAL";

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    size_t mem_used, mem_budget;
    int err;         /* the first failure, classified; sticky */
    int limit_hit;   /* libpng warned that a limit stopped it */
    int over_budget; /* our allocator refused: max_memory_bytes */
    int nomem;       /* malloc itself failed */
    uint8_t *pixels; /* the output until it is handed to the image */
    png_bytep *rows;
    int orientation;
} png_ctx_t;

/* ---- the walk ---- */

static uint32_t load32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int is_type(const uint8_t *type, const char *name) {
    return memcmp(type, name, 4) == 0;
}

static size_t chunk_limit(const sisp_decode_limits_t *lim) {
    size_t n = lim->max_memory_bytes / 4 < CHUNK_MAX ? lim->max_memory_bytes / 4 : CHUNK_MAX;
    return n > 0 ? n : 1; /* libpng reads 0 as "no limit" */
}

/* How many bytes the zlib stream z[0..n) inflates to, counted to limit + 1 at most. A stream
 * zlib rejects counts what it produced before: libpng skips these chunks, so a broken one is
 * harmless and only its size matters. */
static size_t inflated_size(const uint8_t *z, size_t n, size_t limit) {
    uint8_t scratch[16384];
    z_stream zs = {0};
    if (inflateInit(&zs) != Z_OK)
        return limit + 1; /* cannot tell: refuse */
    zs.next_in = z;
    zs.avail_in = n < UINT_MAX ? (uInt)n : UINT_MAX;
    size_t total = 0;
    int rc;
    do {
        zs.next_out = scratch;
        zs.avail_out = sizeof scratch;
        rc = inflate(&zs, Z_NO_FLUSH);
        total += sizeof scratch - zs.avail_out;
    } while (rc == Z_OK && total <= limit);
    inflateEnd(&zs);
    return total;
}

/* Past the NUL that ends a string starting at p, or NULL. */
static const uint8_t *after_nul(const uint8_t *p, const uint8_t *end) {
    const uint8_t *nul = p != NULL && p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
    return nul != NULL ? nul + 1 : NULL;
}

/* The compressed part of a zTXt, a compressed iTXt or an iCCP chunk, or NULL. */
static const uint8_t *compressed_part(const uint8_t *type, const uint8_t *d, size_t n,
                                      size_t *zlen) {
    const uint8_t *end = d + n, *p = after_nul(d, end); /* keyword or profile name */
    if (p == NULL || 2 > end - p)
        return NULL;
    if (is_type(type, "iTXt")) {
        if (p[0] != 1) /* compression flag */
            return NULL;
        p = after_nul(after_nul(p + 2, end), end); /* method; language, translated keyword */
        if (p == NULL)
            return NULL;
    } else {
        p++; /* compression method */
    }
    *zlen = (size_t)(end - p);
    return p;
}

/* Counts text chunks and inflates compressed ones; 0 or SISP_EIMGTOOBIG. */
static int check_ancillary(const uint8_t *type, const uint8_t *d, size_t n, size_t limit,
                           unsigned *texts, size_t *inflated) {
    int text = is_type(type, "tEXt") || is_type(type, "zTXt") || is_type(type, "iTXt");
    if ((text || is_type(type, "sPLT")) && ++*texts > CHUNK_CACHE)
        return SISP_EIMGTOOBIG;
    size_t zlen = 0;
    const uint8_t *z = NULL;
    if ((text && !is_type(type, "tEXt")) || is_type(type, "iCCP"))
        z = compressed_part(type, d, n, &zlen);
    if (z == NULL)
        return 0;
    size_t got = inflated_size(z, zlen, limit);
    *inflated += got;
    return got > limit || *inflated > INFLATED_TOTAL_MAX ? SISP_EIMGTOOBIG : 0;
}

/* One pass over the chunks (the signature is known to match). 0 when IEND was reached. */
static int walk(const uint8_t *data, size_t len, const sisp_decode_limits_t *lim) {
    const uint8_t *pos = data + PNG_SIG_LEN, *end = data + len;
    size_t limit = chunk_limit(lim), inflated = 0;
    unsigned texts = 0;
    for (int first = 1;; first = 0) {
        if (8 > end - pos)
            return SISP_EIMGTRUNC;
        uint32_t n = load32(pos);
        const uint8_t *type = pos + 4, *d = pos + 8;
        if (n > PNG_MAX_SIDE || first != is_type(type, "IHDR") || (first && n != 13))
            return SISP_EIMGCORRUPT; /* 31-bit lengths; IHDR first (PNG spec 5.6) */
        if (n > limit && !is_type(type, "IDAT"))
            return SISP_EIMGTOOBIG;
        if ((size_t)n + 4 > (size_t)(end - d))
            return SISP_EIMGTRUNC;
        if (crc32(crc32(0, type, 4), d, n) != load32(d + n))
            return SISP_EIMGCORRUPT;
        pos = d + n + 4;
        int rc = 0;
        if (first) {
            uint32_t w = load32(d), h = load32(d + 4);
            if (w == 0 || h == 0 || w > PNG_MAX_SIDE || h > PNG_MAX_SIDE)
                return SISP_EIMGCORRUPT;
            rc = sisp_decode_limits_check(lim, w, h);
        } else if (is_type(type, "IEND")) {
            return 0;
        } else {
            rc = check_ancillary(type, d, n, limit, &texts, &inflated);
        }
        if (rc != 0)
            return rc;
    }
}

/* ---- libpng ---- */

/* Our allocator's header: the size, padded to malloc's alignment. */
typedef union {
    max_align_t align;
    size_t size;
} mem_hdr_t;

static png_voidp on_malloc(png_structp png, png_alloc_size_t n) {
    png_ctx_t *c = png_get_mem_ptr(png);
    if (n > c->mem_budget - c->mem_used) {
        c->over_budget = 1;
        return NULL;
    }
    mem_hdr_t *h = malloc(sizeof *h + n);
    if (h == NULL) {
        c->nomem = 1;
        return NULL;
    }
    h->size = n;
    c->mem_used += n;
    return h + 1;
}

static void on_free(png_structp png, png_voidp p) {
    if (p == NULL)
        return;
    png_ctx_t *c = png_get_mem_ptr(png);
    mem_hdr_t *h = (mem_hdr_t *)p - 1;
    c->mem_used -= h->size;
    free(h);
}

static int contains(const char *msg, const char *what) {
    return msg != NULL && strstr(msg, what) != NULL;
}

/* The words libpng 1.6's read code uses when a user limit, the chunk cache or an allocation
 * stops it. */
static int is_limit_message(const char *msg) {
    return contains(msg, "no space in chunk cache") || contains(msg, "exceeds") ||
           contains(msg, "too large") || contains(msg, "insufficient memory") ||
           contains(msg, "out of memory") || contains(msg, "Out of memory");
}

/* The code for a failure: limits and memory first, whatever words came with it. */
static void fail(png_ctx_t *c, int code) {
    if (c->err != 0)
        return;
    if (c->over_budget || c->limit_hit)
        c->err = SISP_EIMGTOOBIG;
    else if (c->nomem)
        c->err = SISP_ENOMEM;
    else
        c->err = code;
}

static void on_error(png_structp png, png_const_charp msg) {
    png_ctx_t *c = png_get_error_ptr(png);
    if (contains(msg, "unhandled critical chunk"))
        fail(c, SISP_EIMGUNSUPP);
    else
        fail(c, is_limit_message(msg) ? SISP_EIMGTOOBIG : SISP_EIMGCORRUPT);
    png_longjmp(png, 1);
}

/* Warnings do not stop libpng (it skips what it warned about); a limit one refuses the
 * image once libpng returns. */
static void on_warning(png_structp png, png_const_charp msg) {
    png_ctx_t *c = png_get_error_ptr(png);
    if (c->over_budget || is_limit_message(msg))
        c->limit_hit = 1;
}

static void on_read(png_structp png, png_bytep buf, size_t n) {
    png_ctx_t *c = png_get_io_ptr(png);
    if (n > c->len - c->pos) {
        fail(c, SISP_EIMGTRUNC);
        png_error(png, "input ends early");
    }
    memcpy(buf, c->data + c->pos, n);
    c->pos += n;
}

static png_uint_32 side_limit(uint32_t v) {
    return v < PNG_MAX_SIDE ? v : PNG_MAX_SIDE;
}

/* Everything between setjmp and the last libpng call. What it allocates lives in *c, so the
 * caller frees it whichever way this returns, and no local is read after a longjmp. */
static int run(png_structp png, png_infop info, png_ctx_t *c, const sisp_decode_limits_t *lim,
               sisp_image_t *out) {
    if (setjmp(png_jmpbuf(png)))
        return c->err != 0 ? c->err : SISP_EIMGCORRUPT;

    png_set_read_fn(png, c, on_read);
    png_set_user_limits(png, side_limit(lim->max_width), side_limit(lim->max_height));
    png_set_chunk_cache_max(png, CHUNK_CACHE);
    png_set_chunk_malloc_max(png, chunk_limit(lim));
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skipped_chunks, SKIPPED_COUNT);

    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int ctype = png_get_color_type(png, info);
    if (c->limit_hit || sisp_decode_limits_check(lim, w, h) != 0)
        return SISP_EIMGTOOBIG;

    png_set_expand(png);
    png_set_scale_16(png);
    png_set_gray_to_rgb(png);
    if ((ctype & PNG_COLOR_MASK_ALPHA) == 0 && png_get_valid(png, info, PNG_INFO_tRNS) == 0)
        png_set_filler(png, 0xff, PNG_FILLER_AFTER);
    png_fixed_point file_gamma;
    if (png_get_valid(png, info, PNG_INFO_sRGB) == 0 &&
        png_get_gAMA_fixed(png, info, &file_gamma) != 0)
        png_set_gamma_fixed(png, PNG_DEFAULT_sRGB, file_gamma);
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t stride = (size_t)w * 4;
    if (png_get_rowbytes(png, info) != stride || png_get_bit_depth(png, info) != 8 ||
        png_get_channels(png, info) != 4)
        return SISP_EIMGUNSUPP;     /* a transform combination libpng did not honour */
    c->pixels = malloc(stride * h); /* w * h <= max_pixels: no overflow */
    c->rows = malloc((size_t)h * sizeof *c->rows);
    if (c->pixels == NULL || c->rows == NULL)
        return SISP_ENOMEM;
    for (size_t y = 0; y < h; y++)
        c->rows[y] = c->pixels + y * stride;
    png_read_image(png, c->rows);
    png_read_end(png, info);
    if (c->limit_hit)
        return SISP_EIMGTOOBIG;

    png_uint_32 exif_len = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(png, info, &exif_len, &exif) != 0)
        c->orientation = sisp__exif_orientation(exif, exif_len);
    out->width = out->source_width = w;
    out->height = out->source_height = h;
    return 0;
}

int sisp_image_decode_png(const uint8_t *data, size_t len, const sisp_decode_limits_t *lim,
                          sisp_image_t *out) {
    memset(out, 0, sizeof *out);
    sisp_decode_limits_t in_force;
    int rc = sisp_image_precheck(data, len, lim, SISP_IMAGE_PNG, &in_force);
    if (rc != 0)
        return rc;
    lim = &in_force; /* the defaults when lim was NULL */
    rc = walk(data, len, lim);
    if (rc != 0)
        return rc;

    png_ctx_t c = {.data = data, .len = len, .mem_budget = lim->max_memory_bytes};
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning, &c,
                                               on_malloc, on_free);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    if (info == NULL)
        rc = c.over_budget ? SISP_EIMGTOOBIG : SISP_ENOMEM;
    else
        rc = run(png, info, &c, lim, out);
    png_destroy_read_struct(&png, &info, NULL);
    free(c.rows);
    if (rc != 0) {
        free(c.pixels);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->pixels = c.pixels;
    out->format = SISP_IMAGE_PNG;
    out->orientation = 1;
    out->scale_denom = 1;
    if (c.orientation > 1 && (rc = sisp_image_orient(out, c.orientation)) != 0)
        sisp_image_free(out);
    return rc;
}
