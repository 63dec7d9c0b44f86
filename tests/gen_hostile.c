/* sisp-gen-hostile: writes hostile PNG and JPEG files for test_decode_hostile, and the fuzz
 * seed corpora.
 *
 *   sisp-gen-hostile DIR                 the hostile corpus, one file per case, named
 *                                        EXPECT-what.ext: EXPECT is the sisp error name the
 *                                        decoder must return (EIMGTOOBIG...), or OK
 *   sisp-gen-hostile --seeds PNGDIR JPEGDIR
 *                                        small valid and tricky seeds for fuzz/corpus/
 *
 * PNGs are written chunk by chunk here (zlib for the compressed parts), so every field can be
 * wrong on purpose; JPEGs start from TurboJPEG's encoder and are then cut and patched at
 * their markers. Everything is deterministic. */
#define ZLIB_CONST /* z_stream.next_in points to const */
#include <turbojpeg.h>
#include <zlib.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t len, cap;
} gbuf_t;

static void die(const char *what) {
    fprintf(stderr, "sisp-gen-hostile: %s\n", what);
    exit(1);
}

static void put(gbuf_t *b, const void *d, size_t n) {
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        if (n > SIZE_MAX / 4 - b->len)
            die("buffer size overflow");
        while (n > cap - b->len)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL)
            die("out of memory");
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put8(gbuf_t *b, unsigned v) {
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}

static void put16(gbuf_t *b, unsigned v) {
    put8(b, v >> 8);
    put8(b, v);
}

static void put32(gbuf_t *b, uint32_t v) {
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

static void set16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static gbuf_t copy_of(const uint8_t *p, size_t n) {
    gbuf_t b = {0};
    put(&b, p, n);
    return b;
}

__attribute__((format(printf, 4, 5))) static void save(const char *dir, const uint8_t *d, size_t n,
                                                       const char *fmt, ...) {
    char name[256], path[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (n > 0 && fwrite(d, 1, n, f) != n) || fclose(f) != 0)
        die(path);
}

/* ---- PNG ---- */

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* A chunk with the given length field and CRC adjustment (0 = correct CRC). */
static void chunk_ex(gbuf_t *b, uint32_t len_field, const char *type, const void *d, size_t n,
                     uint32_t crc_xor) {
    put32(b, len_field);
    put(b, type, 4);
    put(b, d, n);
    uLong crc = crc32(0, (const Bytef *)type, 4);
    if (n > 0)
        crc = crc32(crc, d, (uInt)n);
    put32(b, (uint32_t)crc ^ crc_xor);
}

static void chunk(gbuf_t *b, const char *type, const void *d, size_t n) {
    chunk_ex(b, (uint32_t)n, type, d, n, 0);
}

/* The IHDR chunk alone; ihdr_ex puts the signature before it. */
static void ihdr_chunk(gbuf_t *b, uint32_t w, uint32_t h, int depth, int ctype, int method,
                       int filter, int ilace, uint32_t crc_xor) {
    gbuf_t f = {0};
    put32(&f, w);
    put32(&f, h);
    put8(&f, (unsigned)depth);
    put8(&f, (unsigned)ctype);
    put8(&f, (unsigned)method);
    put8(&f, (unsigned)filter);
    put8(&f, (unsigned)ilace);
    chunk_ex(b, 13, "IHDR", f.p, f.len, crc_xor);
    free(f.p);
}

static void ihdr_ex(gbuf_t *b, uint32_t w, uint32_t h, int depth, int ctype, int method, int filter,
                    int ilace, uint32_t crc_xor) {
    put(b, png_sig, sizeof png_sig);
    ihdr_chunk(b, w, h, depth, ctype, method, filter, ilace, crc_xor);
}

static void ihdr(gbuf_t *b, uint32_t w, uint32_t h, int depth, int ctype, int ilace) {
    ihdr_ex(b, w, h, depth, ctype, 0, 0, ilace, 0);
}

/* zlib of n bytes of d, or of n zero bytes when d is NULL, streamed (bombs stay small). */
static void zlib_of(gbuf_t *out, const uint8_t *d, size_t n) {
    static const uint8_t zeros[65536];
    uint8_t obuf[65536];
    z_stream z = {0};
    if (deflateInit(&z, 9) != Z_OK)
        die("deflateInit");
    int flush = Z_NO_FLUSH;
    do {
        if (z.avail_in == 0 && flush == Z_NO_FLUSH) {
            size_t take = n < sizeof zeros ? n : sizeof zeros;
            z.next_in = d != NULL ? d : zeros;
            z.avail_in = (uInt)take;
            if (d != NULL)
                d += take;
            n -= take;
            if (n == 0)
                flush = Z_FINISH;
        }
        z.next_out = obuf;
        z.avail_out = sizeof obuf;
        if (deflate(&z, flush) == Z_STREAM_ERROR)
            die("deflate");
        put(out, obuf, sizeof obuf - z.avail_out);
    } while (!(flush == Z_FINISH && z.avail_out != 0));
    deflateEnd(&z);
}

static size_t row_bytes(uint32_t w, int depth, int ctype) {
    static const int channels[7] = {1, 0, 3, 1, 2, 0, 4};
    return ((size_t)w * (size_t)channels[ctype] * (size_t)depth + 7) / 8;
}

/* Raw image data (filter byte 0 each row, Adam7 passes when ilace) of a byte pattern. */
static void raw_rows(gbuf_t *raw, uint32_t w, uint32_t h, int depth, int ctype, int ilace,
                     int filter) {
    static const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1};
    static const int dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
    for (int pass = 0; pass < (ilace ? 7 : 1); pass++) {
        uint32_t pw =
            ilace ? (w - (uint32_t)x0[pass] + (uint32_t)dx[pass] - 1) / (uint32_t)dx[pass] : w;
        uint32_t ph =
            ilace ? (h - (uint32_t)y0[pass] + (uint32_t)dy[pass] - 1) / (uint32_t)dy[pass] : h;
        if (ilace && (w <= (uint32_t)x0[pass] || h <= (uint32_t)y0[pass]))
            continue;
        for (uint32_t y = 0; y < ph; y++) {
            put8(raw, (unsigned)filter);
            for (size_t i = 0; i < row_bytes(pw, depth, ctype); i++)
                put8(raw, (unsigned)((i * 7 + y * 13 + (size_t)pass * 31) & 0xff));
        }
    }
}

static void idat_of(gbuf_t *b, uint32_t w, uint32_t h, int depth, int ctype, int ilace) {
    gbuf_t raw = {0}, z = {0};
    raw_rows(&raw, w, h, depth, ctype, ilace, 0);
    zlib_of(&z, raw.p, raw.len);
    chunk(b, "IDAT", z.p, z.len);
    free(raw.p);
    free(z.p);
}

static void plte(gbuf_t *b, int entries) {
    gbuf_t p = {0};
    for (int i = 0; i < entries; i++) {
        put8(&p, (unsigned)i * 37);
        put8(&p, 255 - (unsigned)i);
        put8(&p, (unsigned)i * 5);
    }
    chunk(b, "PLTE", p.p, p.len);
    free(p.p);
}

static void iend(gbuf_t *b) {
    chunk(b, "IEND", NULL, 0);
}

/* A small valid PNG: w x h, any colour type and depth, with PLTE for palettes. */
static gbuf_t png_small(uint32_t w, uint32_t h, int depth, int ctype, int ilace) {
    gbuf_t b = {0};
    ihdr(&b, w, h, depth, ctype, ilace);
    if (ctype == 3)
        plte(&b, 1 << depth);
    idat_of(&b, w, h, depth, ctype, ilace);
    iend(&b);
    return b;
}

/* A text-like chunk whose payload is prefix (with its NULs) then zlib of n zero bytes. */
static void bomb_chunk(gbuf_t *b, const char *type, const char *prefix, size_t plen, size_t n) {
    gbuf_t d = {0};
    put(&d, prefix, plen);
    zlib_of(&d, NULL, n);
    chunk(b, type, d.p, d.len);
    free(d.p);
}

/* The byte offset of the first chunk of that type, or 0. */
static size_t png_find(const gbuf_t *b, const char *type) {
    for (size_t pos = 8; pos + 8 <= b->len;) {
        uint32_t n = (uint32_t)b->p[pos] << 24 | (uint32_t)b->p[pos + 1] << 16 |
                     (uint32_t)b->p[pos + 2] << 8 | b->p[pos + 3];
        if (memcmp(b->p + pos + 4, type, 4) == 0)
            return pos;
        pos += 12 + (size_t)n;
    }
    return 0;
}

/* Flips one bit of the CRC of the first chunk of that type. */
static void png_bad_crc(const char *dir, const gbuf_t *base, const char *type) {
    gbuf_t b = copy_of(base->p, base->len);
    size_t at = png_find(&b, type);
    uint32_t n = (uint32_t)b.p[at] << 24 | (uint32_t)b.p[at + 1] << 16 |
                 (uint32_t)b.p[at + 2] << 8 | b.p[at + 3];
    b.p[at + 8 + n] ^= 0x01;
    save(dir, b.p, b.len, "EIMGCORRUPT-png-bad-crc-%s.png", type);
    free(b.p);
}

static void png_header_cases(const char *dir) {
    static const struct {
        uint32_t w, h;
        const char *expect, *what;
    } dims[] = {
        {100000, 100000, "EIMGTOOBIG", "100000x100000"},
        {16385, 1, "EIMGTOOBIG", "width-16385"},
        {1, 16385, "EIMGTOOBIG", "height-16385"},
        {9000, 9000, "EIMGTOOBIG", "9000x9000-over-64-megapixels"},
        {0x7fffffff, 0x7fffffff, "EIMGTOOBIG", "2p31-1-square"},
        {0, 16, "EIMGCORRUPT", "width-zero"},
        {16, 0, "EIMGCORRUPT", "height-zero"},
        {0x80000000u, 16, "EIMGCORRUPT", "width-2p31"},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        gbuf_t b = {0};
        ihdr(&b, dims[i].w, dims[i].h, 8, 2, 0);
        idat_of(&b, 4, 4, 8, 2, 0); /* a little data; the header decides */
        iend(&b);
        save(dir, b.p, b.len, "%s-png-%s.png", dims[i].expect, dims[i].what);
        free(b.p);
    }
    static const struct {
        int depth, ctype, method, filter, ilace;
        const char *what;
    } bad[] = {
        {3, 0, 0, 0, 0, "bit-depth-3"},     {16, 3, 0, 0, 0, "palette-16-bit"},
        {8, 5, 0, 0, 0, "colour-type-5"},   {8, 2, 1, 0, 0, "compression-method-1"},
        {8, 2, 0, 1, 0, "filter-method-1"}, {8, 2, 0, 0, 2, "interlace-method-2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gbuf_t b = {0};
        ihdr_ex(&b, 8, 8, bad[i].depth, bad[i].ctype, bad[i].method, bad[i].filter, bad[i].ilace,
                0);
        idat_of(&b, 8, 8, 8, 2, 0);
        iend(&b);
        save(dir, b.p, b.len, "EIMGCORRUPT-png-%s.png", bad[i].what);
        free(b.p);
    }
}

/* Saves an 8 x 8 PNG of colour type ctype: IHDR, the chunks in before, an IDAT holding z (or
 * valid image data when z is NULL), the chunks in after, IEND. */
static void save_png(const char *dir, const char *name, int ctype, const gbuf_t *before,
                     const gbuf_t *z, const gbuf_t *after) {
    gbuf_t b = {0};
    ihdr(&b, 8, 8, 8, ctype, 0);
    if (before != NULL)
        put(&b, before->p, before->len);
    if (z != NULL)
        chunk(&b, "IDAT", z->p, z->len);
    else
        idat_of(&b, 8, 8, 8, ctype, 0);
    if (after != NULL)
        put(&b, after->p, after->len);
    iend(&b);
    save(dir, b.p, b.len, "%s", name);
    free(b.p);
}

static void png_bomb_cases(const char *dir) {
    static const size_t bomb = (size_t)256 << 20; /* inflates to 256 MiB; ~250 KiB on disk */
    static const struct {
        const char *type, *prefix;
        size_t plen;
    } bombs[] = {
        {"zTXt", "Comment\0\0", 9},
        {"iCCP", "icc\0\0", 5},
        {"iTXt", "Comment\0\1\0en\0\0", 14},
    };
    gbuf_t c = {0};
    char name[64];
    for (size_t i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
        c.len = 0;
        bomb_chunk(&c, bombs[i].type, bombs[i].prefix, bombs[i].plen, bomb);
        snprintf(name, sizeof name, "EIMGTOOBIG-png-%s-bomb.png", bombs[i].type);
        save_png(dir, name, 2, &c, NULL, NULL);
    }
    /* The zTXt bomb again after the image data, where only png_read_end would meet it. */
    save_png(dir, "EIMGTOOBIG-png-zTXt-bomb-after-IDAT.png", 2, NULL, NULL, &c);
    /* 10,000 text chunks, then 10,000 small zTXt: more than the chunk cache. */
    for (int z = 0; z < 2; z++) {
        c.len = 0;
        for (int i = 0; i < 10000; i++) {
            if (z)
                bomb_chunk(&c, "zTXt", "k\0\0", 3, 16);
            else
                chunk(&c, "tEXt", "k\0v", 3);
        }
        snprintf(name, sizeof name, "EIMGTOOBIG-png-10000-%s-chunks.png", z ? "zTXt" : "tEXt");
        save_png(dir, name, 2, &c, NULL, NULL);
    }
    free(c.p);
    /* A tEXt chunk that claims 1 GiB (and a file that ends soon after). */
    gbuf_t b = {0};
    ihdr(&b, 8, 8, 8, 2, 0);
    put32(&b, 1u << 30);
    put(&b, "tEXtk\0v", 7);
    save(dir, b.p, b.len, "EIMGTOOBIG-png-tEXt-claims-1GiB.png");
    /* The largest image the limits allow, all zeros: 256 MiB of pixels from ~260 KiB. It is
     * valid, so it decodes, and peak memory stays bounded all the same. */
    b.len = 0;
    ihdr(&b, 8192, 8192, 8, 6, 0);
    bomb_chunk(&b, "IDAT", "", 0, (size_t)8192 * (8192 * 4 + 1));
    iend(&b);
    save(dir, b.p, b.len, "OK-png-idat-bomb-8192x8192.png");
    free(b.p);
}

static void png_structure_cases(const char *dir) {
    gbuf_t z = {0}, raw = {0}, c = {0};
    put(&z, "\x00\x01\x02\x03\x04\x05\x06\x07", 8);
    save_png(dir, "EIMGCORRUPT-png-bad-zlib-header.png", 2, NULL, &z, NULL);
    for (int half = 0; half < 2; half++) { /* filter type 7; half the rows */
        raw.len = z.len = 0;
        raw_rows(&raw, 8, half ? 4 : 8, 8, 2, 0, half ? 0 : 7);
        zlib_of(&z, raw.p, raw.len);
        save_png(dir,
                 half ? "EIMGCORRUPT-png-too-little-image-data.png"
                      : "EIMGCORRUPT-png-bad-filter-type.png",
                 2, NULL, &z, NULL);
    }
    save_png(dir, "EIMGCORRUPT-png-palette-without-PLTE.png", 3, NULL, NULL, NULL);
    plte(&c, 300);
    save_png(dir, "EIMGCORRUPT-png-PLTE-300-entries.png", 3, &c, NULL, NULL);
    c.len = 0;
    chunk(&c, "ABCD", "1234", 4);
    save_png(dir, "EIMGUNSUPP-png-unknown-critical-chunk.png", 2, &c, NULL, NULL);
    c.len = 0;
    chunk_ex(&c, 0x80000000u, "tEXt", "k\0v", 3, 0);
    save_png(dir, "EIMGCORRUPT-png-chunk-length-2p31.png", 2, &c, NULL, NULL);
    /* A chunk before IHDR. */
    gbuf_t b = {0};
    put(&b, png_sig, sizeof png_sig);
    chunk(&b, "gAMA", "\x00\x00\xb1\x8f", 4);
    ihdr_chunk(&b, 8, 8, 8, 2, 0, 0, 0, 0);
    idat_of(&b, 8, 8, 8, 2, 0);
    iend(&b);
    save(dir, b.p, b.len, "EIMGCORRUPT-png-gAMA-before-IHDR.png");
    /* Bad CRCs, critical and ancillary. */
    b.len = 0;
    ihdr_ex(&b, 16, 16, 8, 2, 0, 0, 0, 1);
    idat_of(&b, 16, 16, 8, 2, 0);
    iend(&b);
    save(dir, b.p, b.len, "EIMGCORRUPT-png-bad-crc-IHDR.png");
    free(raw.p);
    free(z.p);
    free(c.p);
    free(b.p);
}

/* A valid interlaced 4-bit palette PNG with tRNS, tEXt and gAMA: the base of the CRC and
 * truncation cases. */
static gbuf_t png_palette_base(void) {
    gbuf_t b = {0};
    ihdr(&b, 24, 20, 4, 3, 1);
    plte(&b, 16);
    chunk(&b, "tRNS", "\x00\x40\x80", 3);
    chunk(&b, "tEXt", "Title\0a hostile image", 21);
    chunk(&b, "gAMA", "\x00\x00\xb1\x8f", 4);
    idat_of(&b, 24, 20, 4, 3, 1);
    iend(&b);
    return b;
}

static void png_cases(const char *dir) {
    png_header_cases(dir);
    png_bomb_cases(dir);
    png_structure_cases(dir);
    gbuf_t b = png_palette_base();
    static const char *const types[] = {"PLTE", "tRNS", "tEXt", "gAMA", "IDAT", "IEND"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        png_bad_crc(dir, &b, types[i]);
    /* Truncations. */
    save(dir, b.p, 0, "EIMGTRUNC-png-empty.png");
    static const size_t fixed[] = {1, 4, 7, 8, 12, 16, 20, 32, 33, 45};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        save(dir, b.p, fixed[i], "EIMGTRUNC-png-cut-at-%zu.png", fixed[i]);
    for (size_t cut = 60; cut < b.len; cut += (b.len - 60) / 12 + 1)
        save(dir, b.p, cut, "EIMGTRUNC-png-cut-at-%zu.png", cut);
    save(dir, b.p, b.len - 1, "EIMGTRUNC-png-cut-at-%zu.png", b.len - 1);
    save(dir, b.p, b.len - 12, "EIMGTRUNC-png-no-IEND.png");
    free(b.p);
}

/* ---- JPEG ---- */

static gbuf_t jpeg_make(int w, int h, int subsamp, int flags) {
    tjhandle tj = tjInitCompress();
    uint8_t *rgb = malloc((size_t)w * (size_t)h * 3);
    if (tj == NULL || rgb == NULL)
        die("tjInitCompress");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
            p[0] = (uint8_t)(x * 255 / w);
            p[1] = (uint8_t)(y * 255 / h);
            p[2] = (uint8_t)((x / 8 + y / 8) % 2 ? 200 : 40);
        }
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    if (tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpeg, &size, subsamp, 90, flags) != 0)
        die(tjGetErrorStr2(tj));
    gbuf_t b = copy_of(jpeg, size);
    tjFree(jpeg);
    tjDestroy(tj);
    free(rgb);
    return b;
}

/* Offset of the n-th (0-based) marker m at a segment boundary, scans skipped; 0 if none. */
static size_t jpeg_find(const gbuf_t *b, int m, int nth) {
    size_t pos = 2;
    while (pos + 4 <= b->len && b->p[pos] == 0xff) {
        int code = b->p[pos + 1];
        if (code == 0xd9)
            break;
        if (code == m && nth-- == 0)
            return pos;
        pos += 2 + ((size_t)b->p[pos + 2] << 8 | b->p[pos + 3]);
        if (code == 0xda) /* entropy data to the next marker */
            while (pos + 1 < b->len && !(b->p[pos] == 0xff && b->p[pos + 1] != 0 &&
                                         (b->p[pos + 1] < 0xd0 || b->p[pos + 1] > 0xd7)))
                pos++;
    }
    return 0;
}

/* base with bytes [at, at + cut) replaced by ins[0..n). */
static gbuf_t splice(const gbuf_t *base, size_t at, size_t cut, const void *ins, size_t n) {
    gbuf_t b = copy_of(base->p, at);
    put(&b, ins, n);
    put(&b, base->p + at + cut, base->len - at - cut);
    return b;
}

/* v as `bytes` bytes in the TIFF's byte order. */
static void put_tiff(gbuf_t *b, uint32_t v, int bytes, int le) {
    for (int i = 0; i < bytes; i++)
        put8(b, (unsigned)(v >> (8 * (le ? i : bytes - 1 - i))) & 0xff);
}

/* An APP1 Exif segment holding a TIFF IFD0 at offset ifd0 with n entries (tag, type, count,
 * value field as a big-endian 32-bit word: a SHORT value v is v << 16), in either byte
 * order. */
static void exif_app1(gbuf_t *seg, int le, uint32_t ifd0, int n, const uint32_t (*e)[4]) {
    gbuf_t t = {0};
    put(&t, le ? "II" : "MM", 2);
    put_tiff(&t, 42, 2, le);
    put_tiff(&t, ifd0, 4, le);
    put_tiff(&t, (uint32_t)n, 2, le);
    for (int i = 0; i < n; i++) {
        put_tiff(&t, e[i][0], 2, le);
        put_tiff(&t, e[i][1], 2, le);
        put_tiff(&t, e[i][2], 4, le);
        if (e[i][1] == 3) { /* a SHORT sits in the first two bytes of the field */
            put_tiff(&t, e[i][3] >> 16, 2, le);
            put_tiff(&t, e[i][3] & 0xffff, 2, le);
        } else {
            put_tiff(&t, e[i][3], 4, le);
        }
    }
    put_tiff(&t, 0, 4, le);
    put8(seg, 0xff);
    put8(seg, 0xe1);
    put16(seg, (unsigned)(t.len + 8));
    put(seg, "Exif\0\0", 6);
    put(seg, t.p, t.len);
    free(t.p);
}

static gbuf_t with_exif(const gbuf_t *base, int le, uint32_t ifd0, int n, const uint32_t (*e)[4]) {
    gbuf_t seg = {0};
    exif_app1(&seg, le, ifd0, n, e);
    gbuf_t b = splice(base, 2, 0, seg.p, seg.len);
    free(seg.p);
    return b;
}

/* A copy of base with the SOF's byte at offset off (from the marker) set to v. */
static void jpeg_patch_sof(const char *dir, const gbuf_t *base, size_t off, unsigned v,
                           const char *name) {
    gbuf_t b = copy_of(base->p, base->len);
    size_t sof = jpeg_find(&b, 0xc0, 0);
    if (sof == 0)
        sof = jpeg_find(&b, 0xc2, 0);
    b.p[sof + off] = (uint8_t)v;
    save(dir, b.p, b.len, "%s", name);
    free(b.p);
}

/* base with its first scan (SOS segment and data) repeated so there are `total` scans. */
static gbuf_t jpeg_many_scans(const gbuf_t *base, int total) {
    int have = 0;
    while (jpeg_find(base, 0xda, have) != 0)
        have++;
    size_t s0 = jpeg_find(base, 0xda, 0), end = jpeg_find(base, 0xda, 1);
    for (int i = 0; jpeg_find(base, 0xc4, i) != 0; i++) { /* a DHT between the two scans */
        size_t dht = jpeg_find(base, 0xc4, i);
        if (dht > s0 && dht < end)
            end = dht;
    }
    gbuf_t b = copy_of(base->p, end);
    for (int i = have; i < total; i++)
        put(&b, base->p + s0, end - s0);
    put(&b, base->p + end, base->len - end);
    return b;
}

static void jpeg_sof_cases(const char *dir, const gbuf_t *base, const gbuf_t *prog) {
    /* SOF layout from the marker: FF C0 len(2) P(1) H(2) W(2) Nf(1) then Ci Hi/Vi Tqi. */
    jpeg_patch_sof(dir, base, 1, 0xc3, "EIMGUNSUPP-jpeg-lossless-SOF3.jpg");
    jpeg_patch_sof(dir, base, 1, 0xc5, "EIMGUNSUPP-jpeg-hierarchical-SOF5.jpg");
    jpeg_patch_sof(dir, base, 4, 12, "EIMGUNSUPP-jpeg-12-bit.jpg");
    gbuf_t b = copy_of(base->p, base->len);
    size_t sof = jpeg_find(&b, 0xc0, 0);
    set16(b.p + sof + 5, 0);
    save(dir, b.p, b.len, "EIMGUNSUPP-jpeg-height-zero-DNL.jpg");
    set16(b.p + sof + 5, 32);
    set16(b.p + sof + 7, 0);
    save(dir, b.p, b.len, "EIMGCORRUPT-jpeg-width-zero.jpg");
    set16(b.p + sof + 7, 65535);
    save(dir, b.p, b.len, "EIMGTOOBIG-jpeg-width-65535.jpg");
    free(b.p);
    jpeg_patch_sof(dir, base, 9, 0, "EIMGCORRUPT-jpeg-zero-components.jpg");
    jpeg_patch_sof(dir, base, 9, 2, "EIMGCORRUPT-jpeg-sof-length-mismatch.jpg");
    jpeg_patch_sof(dir, base, 11, 0x01, "EIMGCORRUPT-jpeg-sampling-factor-zero.jpg");
    jpeg_patch_sof(dir, base, 11, 0x31, "EIMGUNSUPP-jpeg-sampling-3x1.jpg");
    jpeg_patch_sof(dir, base, 12, 3, "EIMGCORRUPT-jpeg-undefined-quant-table.jpg");
    /* Dimensions that pass the side limit only scaled, but whose coefficient buffer (a
     * progressive image buffers them all) is over the memory limit. */
    b = copy_of(prog->p, prog->len);
    sof = jpeg_find(&b, 0xc2, 0);
    set16(b.p + sof + 5, 65500);
    set16(b.p + sof + 7, 65500);
    save(dir, b.p, b.len, "EIMGTOOBIG-jpeg-progressive-65500x65500.jpg");
    free(b.p);
    /* A baseline 20000 x 20000 with almost no data: decoded at 1/4 (5000 x 5000), the
     * missing data reported as damage. */
    b = copy_of(base->p, base->len);
    sof = jpeg_find(&b, 0xc0, 0);
    set16(b.p + sof + 5, 20000);
    set16(b.p + sof + 7, 20000);
    save(dir, b.p, b.len, "OK-jpeg-baseline-20000x20000-scaled.jpg");
    free(b.p);
    /* A second SOF. */
    size_t len = ((size_t)base->p[sof + 2] << 8 | base->p[sof + 3]) + 2;
    b = splice(base, sof, 0, base->p + sof, len);
    save(dir, b.p, b.len, "EIMGCORRUPT-jpeg-two-SOF.jpg");
    free(b.p);
}

static void jpeg_structure_cases(const char *dir, const gbuf_t *base, const gbuf_t *prog) {
    gbuf_t b = jpeg_many_scans(prog, 2000);
    save(dir, b.p, b.len, "EIMGTOOBIG-jpeg-2000-scans.jpg");
    free(b.p);
    b = jpeg_many_scans(prog, 500);
    save(dir, b.p, b.len, "OK-jpeg-500-scans.jpg");
    free(b.p);
    b = jpeg_many_scans(prog, 501);
    save(dir, b.p, b.len, "EIMGTOOBIG-jpeg-501-scans.jpg");
    free(b.p);
    /* No SOF before SOS; tables and no image; two SOIs; a segment length of 1. */
    size_t sof = jpeg_find(base, 0xc0, 0);
    size_t soflen = ((size_t)base->p[sof + 2] << 8 | base->p[sof + 3]) + 2;
    b = splice(base, sof, soflen, NULL, 0);
    save(dir, b.p, b.len, "EIMGCORRUPT-jpeg-SOS-before-SOF.jpg");
    free(b.p);
    b = copy_of(base->p, sof);
    put(&b, "\xff\xd9", 2);
    save(dir, b.p, b.len, "EIMGCORRUPT-jpeg-tables-only.jpg");
    free(b.p);
    b = splice(base, 2, 0, "\xff\xd8", 2);
    save(dir, b.p, b.len, "EIMGCORRUPT-jpeg-two-SOI.jpg");
    free(b.p);
    b = splice(base, 2, 0, "\xff\xfe\x00\x01", 4);
    save(dir, b.p, b.len, "EIMGCORRUPT-jpeg-segment-length-1.jpg");
    free(b.p);
    /* A Huffman table whose code counts add up to 4080. */
    b = copy_of(base->p, base->len);
    size_t dht = jpeg_find(&b, 0xc4, 0);
    memset(b.p + dht + 5, 0xff, 16);
    save(dir, b.p, b.len, "EIMGCORRUPT-jpeg-bogus-huffman-table.jpg");
    free(b.p);
    /* A warning (garbage before SOS), then a fatal error (the scan names Huffman tables 3,
     * never defined): TurboJPEG 2.1 still reports that as a warning code. */
    size_t sos0 = jpeg_find(base, 0xda, 0);
    b = splice(base, sos0, 0, "\x12\x34", 2);
    b.p[sos0 + 2 + 6] = 0x33;
    save(dir, b.p, b.len, "EIMGCORRUPT-jpeg-warning-then-error.jpg");
    free(b.p);
    /* Entropy data overwritten with noise: libjpeg recovers, the image is marked damaged. */
    b = copy_of(base->p, base->len);
    size_t sos = jpeg_find(&b, 0xda, 0);
    size_t data = sos + 2 + ((size_t)b.p[sos + 2] << 8 | b.p[sos + 3]);
    for (size_t i = data + 40; i < b.len - 40; i++)
        b.p[i] = (uint8_t)((i * 131 + 7) % 255); /* never 0xff: no false markers */
    save(dir, b.p, b.len, "OK-jpeg-damaged-entropy-data.jpg");
    free(b.p);
    /* Not images at all. */
    save(dir, (const uint8_t *)"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14, "EIMGUNSUPP-gif.gif");
    save(dir, (const uint8_t *)"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00", 12,
         "EIMGUNSUPP-bmp.bmp");
    save(dir, (const uint8_t *)"hello, not an image\n", 20, "EIMGUNSUPP-text.txt");
}

static void jpeg_exif_cases(const char *dir, const gbuf_t *base) {
    /* Malformed Exif never fails the image: orientation is just not applied. */
    static const uint32_t ok[1][4] = {{0x0112, 3, 1, 6u << 16}};
    static const uint32_t wrong_type[1][4] = {{0x0112, 4, 1, 6}};
    static const uint32_t nine[1][4] = {{0x0112, 3, 1, 9u << 16}};
    static const struct {
        int le;
        uint32_t ifd0;
        int n;
        const uint32_t (*e)[4];
        const char *what;
    } cases[] = {
        {0, 0xfffffff0u, 1, ok, "ifd0-offset-past-end"},
        {1, 8, 0, ok, "ifd0-empty"},
        {0, 8, 1, wrong_type, "orientation-as-long"},
        {1, 8, 1, nine, "orientation-9"},
        {0, 4, 1, ok, "ifd0-inside-header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gbuf_t b = with_exif(base, cases[i].le, cases[i].ifd0, cases[i].n, cases[i].e);
        save(dir, b.p, b.len, "OK-jpeg-exif-%s.jpg", cases[i].what);
        free(b.p);
    }
    /* An IFD0 that claims 65535 entries; an APP1 cut short of its TIFF header. */
    gbuf_t b = with_exif(base, 0, 8, 1, ok);
    set16(b.p + 2 + 10 + 8, 0xffff);
    save(dir, b.p, b.len, "OK-jpeg-exif-65535-entries.jpg");
    free(b.p);
    b = splice(base, 2, 0,
               "\xff\xe1\x00\x0b"
               "Exif\0\0MM\0",
               13);
    save(dir, b.p, b.len, "OK-jpeg-exif-short-tiff.jpg");
    free(b.p);
}

static void jpeg_cases(const char *dir) {
    gbuf_t plain = jpeg_make(48, 32, TJSAMP_420, 0);
    gbuf_t prog = jpeg_make(48, 32, TJSAMP_420, TJFLAG_PROGRESSIVE);
    static const uint32_t orient6[1][4] = {{0x0112, 3, 1, 6u << 16}};
    gbuf_t base = with_exif(&plain, 0, 8, 1, orient6);
    jpeg_sof_cases(dir, &plain, &prog);
    jpeg_structure_cases(dir, &plain, &prog);
    jpeg_exif_cases(dir, &plain);
    /* Truncations: the signature, the headers, the scan, the EOI; and a progressive one. */
    static const size_t fixed[] = {1, 2, 3, 4, 6, 12, 20, 30, 40};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        save(dir, base.p, fixed[i], "EIMGTRUNC-jpeg-cut-at-%zu.jpg", fixed[i]);
    for (size_t cut = 60; cut < base.len - 2; cut += (base.len - 60) / 10 + 1)
        save(dir, base.p, cut, "EIMGTRUNC-jpeg-cut-at-%zu.jpg", cut);
    save(dir, base.p, base.len - 1, "EIMGTRUNC-jpeg-half-EOI.jpg");
    save(dir, base.p, base.len - 2, "EIMGTRUNC-jpeg-no-EOI.jpg");
    for (int i = 1; i <= 4; i++)
        save(dir, prog.p, prog.len * (size_t)i / 5, "EIMGTRUNC-jpeg-progressive-cut-%d.jpg", i);
    free(plain.p);
    free(prog.p);
    free(base.p);
}

/* ---- fuzz seeds ---- */

static void png_seeds(const char *dir) {
    static const struct {
        int depth, ctype, ilace;
    } kinds[] = {{1, 0, 0},  {2, 0, 1}, {4, 3, 0},  {8, 3, 1}, {16, 0, 0}, {8, 2, 0},
                 {16, 2, 1}, {8, 4, 0}, {16, 4, 0}, {8, 6, 1}, {16, 6, 0}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        gbuf_t b = png_small(9, 7, kinds[i].depth, kinds[i].ctype, kinds[i].ilace);
        save(dir, b.p, b.len, "d%d-c%d%s.png", kinds[i].depth, kinds[i].ctype,
             kinds[i].ilace ? "-adam7" : "");
        free(b.p);
    }
    gbuf_t b = {0};
    ihdr(&b, 8, 8, 2, 3, 0);
    plte(&b, 4);
    chunk(&b, "tRNS", "\x00\x80", 2);
    chunk(&b, "gAMA", "\x00\x01\x86\xa0", 4);
    chunk(&b, "sRGB", "\x00", 1);
    chunk(&b, "tEXt", "Title\0seed", 10);
    bomb_chunk(&b, "zTXt", "Comment\0\0", 9, 64);
    bomb_chunk(&b, "iCCP", "icc\0\0", 5, 64);
    idat_of(&b, 8, 8, 2, 3, 0);
    chunk(&b, "eXIf", "MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0", 26);
    iend(&b);
    save(dir, b.p, b.len, "chunks-trns-gama-text-iccp-exif.png");
    b.len = 0;
    ihdr(&b, 6, 6, 8, 0, 0);
    chunk(&b, "tRNS", "\x00\x10", 2);
    chunk(&b, "gAMA", "\x00\x01\x86\xa0", 4);
    idat_of(&b, 6, 6, 8, 0, 0);
    iend(&b);
    save(dir, b.p, b.len, "gray-trns-linear-gamma.png");
    save(dir, b.p, b.len - 20, "truncated.png");
    b.p[20] ^= 1;
    save(dir, b.p, b.len, "bad-ihdr-crc.png");
    free(b.p);
}

static void jpeg_seeds(const char *dir) {
    static const struct {
        int subsamp, flags;
        const char *name;
    } kinds[] = {
        {TJSAMP_444, 0, "444"},
        {TJSAMP_422, 0, "422"},
        {TJSAMP_420, 0, "420"},
        {TJSAMP_GRAY, 0, "gray"},
        {TJSAMP_440, 0, "440"},
        {TJSAMP_411, 0, "411"},
        {TJSAMP_420, TJFLAG_PROGRESSIVE, "420-progressive"},
        {TJSAMP_GRAY, TJFLAG_PROGRESSIVE, "gray-progressive"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        gbuf_t b = jpeg_make(19, 13, kinds[i].subsamp, kinds[i].flags);
        save(dir, b.p, b.len, "%s.jpg", kinds[i].name);
        free(b.p);
    }
    /* CMYK through TurboJPEG (stored as YCCK with an Adobe marker). */
    tjhandle tj = tjInitCompress();
    uint8_t cmyk[16 * 8 * 4];
    for (size_t i = 0; i < sizeof cmyk; i++)
        cmyk[i] = (uint8_t)(i * 29);
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    if (tj == NULL ||
        tjCompress2(tj, cmyk, 16, 0, 8, TJPF_CMYK, &jpeg, &size, TJSAMP_444, 90, 0) != 0)
        die("CMYK seed");
    save(dir, jpeg, size, "cmyk.jpg");
    tjFree(jpeg);
    tjDestroy(tj);
    /* Exif in both byte orders, restart markers, arithmetic coding, a cut file. */
    gbuf_t plain = jpeg_make(16, 16, TJSAMP_420, 0);
    static const uint32_t o8[1][4] = {{0x0112, 3, 1, 8u << 16}};
    for (int le = 0; le < 2; le++) {
        gbuf_t b = with_exif(&plain, le, 8, 1, o8);
        save(dir, b.p, b.len, "exif-orientation-8-%s.jpg", le ? "II" : "MM");
        free(b.p);
    }
    setenv("TJ_RESTART", "1B", 1);
    gbuf_t b = jpeg_make(32, 16, TJSAMP_420, 0);
    save(dir, b.p, b.len, "restart-markers.jpg");
    free(b.p);
    unsetenv("TJ_RESTART");
    setenv("TJ_ARITHMETIC", "1", 1);
    b = jpeg_make(16, 16, TJSAMP_420, TJFLAG_PROGRESSIVE);
    save(dir, b.p, b.len, "arithmetic-progressive.jpg");
    free(b.p);
    unsetenv("TJ_ARITHMETIC");
    save(dir, plain.p, plain.len / 2, "truncated.jpg");
    /* A header far larger than the data: decoded scaled, the missing data as damage. */
    size_t sof = jpeg_find(&plain, 0xc0, 0);
    set16(plain.p + sof + 5, 1200);
    set16(plain.p + sof + 7, 2000);
    save(dir, plain.p, plain.len, "scaled-2000x1200.jpg");
    free(plain.p);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--seeds") == 0) {
        png_seeds(argv[2]);
        jpeg_seeds(argv[3]);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: sisp-gen-hostile DIR | --seeds PNGDIR JPEGDIR\n");
        return 2;
    }
    png_cases(argv[1]);
    jpeg_cases(argv[1]);
    return 0;
}
