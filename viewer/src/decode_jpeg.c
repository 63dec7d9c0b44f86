/* JPEG to RGBA8 through TurboJPEG (libjpeg-turbo 2.1's tjDecompressHeader3/tjDecompress2).
 *
 * TurboJPEG 2.1 has no memory or pixel limit, and reports a cut file only as a warning after
 * decoding grey into the rest of the image. So before it runs, one bounded pass over the
 * marker structure (walk, below) finds: the frame header (size, precision, process,
 * components and sampling), the number of scans, whether EOI is there, an Adobe APP14
 * (inverted CMYK) and the Exif orientation. From that we refuse truncated, unsupported and
 * over-limit files before any pixel buffer exists, pick a scale (1, 1/2, 1/4, 1/8) that
 * brings a large image within the side and pixel limits, and estimate libjpeg's working
 * memory (a progressive or multi-scan image buffers every DCT coefficient: 128 bytes per
 * block, whatever the scale) against max_memory_bytes. TJFLAG_LIMITSCANS stays on as a
 * second stop at 500 scans.
 *
 * The walk follows libjpeg's own reading rules (jdmarker.c): garbage before a marker and
 * 0xFF fill bytes are skipped; entropy-coded data runs to the first 0xFF not followed by
 * 0x00 or RSTn; only the first SOF counts and a second one is an error.
 *
 * Warnings: TurboJPEG returns -1 when libjpeg recovered from damage and still produced every
 * row, as it does for a fatal error (see tj_outcome for how the two are told apart). "Premature end
 * of JPEG file" means the rest was made up, so it is EIMGTRUNC (the walk normally catches that
 * first). Any other warning (bad Huffman code, extraneous bytes, a missing restart marker) keeps
 * the image with damaged = 1, as djpeg and browsers do: such files are common from cameras and
 * editors. */
#include "exif.h"

#include <sisp/decode.h>
#include <sisp/error.h>

#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <turbojpeg.h>

enum {
    M_SOF0 = 0xc0,
    M_DHT = 0xc4,
    M_JPG = 0xc8,
    M_DAC = 0xcc,
    M_RST0 = 0xd0,
    M_RST7 = 0xd7,
    M_SOI = 0xd8,
    M_EOI = 0xd9,
    M_SOS = 0xda,
    M_APP1 = 0xe1,
    M_APP14 = 0xee,
    M_TEM = 0x01,
    JPEG_MAX_SIDE = 65500, /* libjpeg-turbo's JPEG_MAX_DIMENSION */
    TJ_SCAN_LIMIT = 500,   /* what TJFLAG_LIMITSCANS enforces in 2.1 */
    MAX_COMPS = 4,         /* TurboJPEG names colour spaces of 1, 3 and 4 components only */
};

typedef struct {
    int sof; /* the frame's marker, 0 until one is seen */
    uint32_t width, height;
    int ncomp;
    int hs[MAX_COMPS], vs[MAX_COMPS]; /* sampling factors */
    int max_h, max_v;
    int first_scan_comps;
    uint32_t scans;
    int adobe;       /* an Adobe APP14: CMYK samples are stored inverted */
    int orientation; /* Exif, 0 when none */
} jpeg_info_t;

static uint32_t load16(const uint8_t *p) {
    return (uint32_t)p[0] << 8 | p[1];
}

static int is_sof(int m) {
    return m >= M_SOF0 && m <= 0xcf && m != M_DHT && m != M_JPG && m != M_DAC;
}

/* The next marker code at or after *pos, skipping garbage and fill bytes; -1 at the end. */
static int next_marker(const uint8_t **pos, const uint8_t *end) {
    const uint8_t *p = *pos;
    for (;;) {
        while (p < end && *p != 0xff)
            p++;
        while (p < end && *p == 0xff)
            p++;
        if (p >= end)
            return -1;
        if (*p++ != 0x00) /* 0xFF 0x00 outside a scan is garbage, as in libjpeg */
            break;
    }
    *pos = p;
    return p[-1];
}

/* Past the entropy-coded data that starts at pos: to the 0xFF of the next marker that is
 * neither a stuffed 0x00 nor a restart, or NULL when the data ends first. */
static const uint8_t *skip_scan(const uint8_t *pos, const uint8_t *end) {
    for (;;) {
        const uint8_t *ff = memchr(pos, 0xff, (size_t)(end - pos));
        if (ff == NULL)
            return NULL;
        const uint8_t *q = ff + 1;
        while (q < end && *q == 0xff)
            q++;
        if (q >= end)
            return NULL;
        if (*q != 0x00 && (*q < M_RST0 || *q > M_RST7))
            return q - 1;
        pos = q + 1;
    }
}

static int parse_sof(int m, const uint8_t *p, size_t n, jpeg_info_t *ji) {
    if (ji->sof != 0)
        return SISP_EIMGCORRUPT; /* libjpeg: "two SOF markers" */
    ji->sof = m;
    /* Lossless (SOF3, 7, 11, 15) and hierarchical (SOF5-7, 13-15) processes. */
    if (m == 0xc3 || (m >= 0xc5 && m <= 0xc7) || m == 0xcb || m >= 0xcd)
        return SISP_EIMGUNSUPP;
    if (n < 6)
        return SISP_EIMGCORRUPT;
    ji->height = load16(p + 1);
    ji->width = load16(p + 3);
    ji->ncomp = p[5];
    if (n != 6 + 3 * (size_t)ji->ncomp || ji->ncomp == 0 || ji->width == 0)
        return SISP_EIMGCORRUPT;
    if (p[0] != 8 || ji->height == 0) /* 12-bit; height 0 = defined later by DNL */
        return SISP_EIMGUNSUPP;
    if (ji->ncomp == 2 || ji->ncomp > MAX_COMPS)
        return SISP_EIMGUNSUPP;
    if (ji->width > JPEG_MAX_SIDE || ji->height > JPEG_MAX_SIDE)
        return SISP_EIMGTOOBIG;
    for (int i = 0; i < ji->ncomp; i++) {
        int h = p[7 + 3 * i] >> 4, v = p[7 + 3 * i] & 15;
        if (h < 1 || h > 4 || v < 1 || v > 4)
            return SISP_EIMGCORRUPT; /* libjpeg: "Bogus sampling factors" */
        ji->hs[i] = h;
        ji->vs[i] = v;
        ji->max_h = h > ji->max_h ? h : ji->max_h;
        ji->max_v = v > ji->max_v ? v : ji->max_v;
    }
    return 0;
}

/* One pass from SOI to EOI. 0 when EOI was reached after a frame header. */
static int walk(const uint8_t *data, size_t len, uint32_t max_scans, jpeg_info_t *ji) {
    const uint8_t *pos = data + 2, *end = data + len;
    for (;;) {
        int m = next_marker(&pos, end);
        if (m < 0)
            return SISP_EIMGTRUNC;
        if (m == M_EOI)
            return ji->sof != 0 ? 0 : SISP_EIMGCORRUPT; /* tables only, no image */
        if ((m >= M_RST0 && m <= M_RST7) || m == M_TEM)
            continue;
        if (m == M_SOI)
            return SISP_EIMGCORRUPT;
        if (2 > end - pos)
            return SISP_EIMGTRUNC;
        size_t seglen = load16(pos);
        if (seglen < 2)
            return SISP_EIMGCORRUPT;
        if (seglen > (size_t)(end - pos))
            return SISP_EIMGTRUNC;
        const uint8_t *p = pos + 2;
        size_t n = seglen - 2;
        pos += seglen;
        if (is_sof(m)) {
            int rc = parse_sof(m, p, n, ji);
            if (rc != 0)
                return rc;
        } else if (m == M_SOS) {
            if (ji->sof == 0 || n < 1)
                return SISP_EIMGCORRUPT; /* libjpeg: "SOS before SOF" */
            if (++ji->scans > max_scans)
                return SISP_EIMGTOOBIG;
            if (ji->scans == 1)
                ji->first_scan_comps = p[0];
            pos = skip_scan(pos, end);
            if (pos == NULL)
                return SISP_EIMGTRUNC;
        } else if (m == M_APP1 && ji->orientation == 0 && n >= 6 && memcmp(p, "Exif\0\0", 6) == 0) {
            ji->orientation = sisp__exif_orientation(p + 6, n - 6);
        } else if (m == M_APP14 && n >= 12 && memcmp(p, "Adobe", 5) == 0) {
            ji->adobe = 1;
        }
    }
}

static int pick_scale(const jpeg_info_t *ji, const sisp_decode_limits_t *lim) {
    for (int denom = 1; denom <= 8; denom *= 2)
        if (sisp_decode_limits_check(lim, (ji->width + (uint32_t)denom - 1) / (uint32_t)denom,
                                     (ji->height + (uint32_t)denom - 1) / (uint32_t)denom) == 0)
            return denom;
    return 0;
}

/* What libjpeg allocates besides our output: every DCT coefficient (64 x 2 bytes a block)
 * when it must buffer the whole image, and generously the row buffers of one MCU row. */
static uint64_t working_memory(const jpeg_info_t *ji) {
    uint64_t mcus_x = (ji->width + 8u * (uint32_t)ji->max_h - 1) / (8u * (uint32_t)ji->max_h);
    uint64_t mcus_y = (ji->height + 8u * (uint32_t)ji->max_v - 1) / (8u * (uint32_t)ji->max_v);
    int progressive = ji->sof == 0xc2 || ji->sof == 0xca;
    int buffered = progressive || ji->first_scan_comps < ji->ncomp;
    uint64_t blocks = 0;
    for (int i = 0; i < ji->ncomp; i++)
        blocks += mcus_x * (uint64_t)ji->hs[i] * mcus_y * (uint64_t)ji->vs[i];
    uint64_t rows =
        mcus_x * 8u * (uint64_t)ji->max_h * (uint64_t)ji->ncomp * 8u * (uint64_t)ji->max_v * 4u;
    return (buffered ? blocks * 128u : 0) + rows;
}

static int contains(const char *msg, const char *what) {
    return msg != NULL && strstr(msg, what) != NULL;
}

/* libjpeg's message table, from its own header's X-macro list (two entries name macros of
 * jversion.h, which is not installed; their text does not matter here). */
#define JCOPYRIGHT_SHORT ""
#define JVERSION ""
#define JMESSAGE(code, string) {#code, string},
static const struct {
    const char *code, *text;
} libjpeg_messages[] = {
#include <jerror.h>
};

/* 1 when msg is one of libjpeg's warnings (JWRN_*), compared up to the first conversion. */
static int is_libjpeg_warning(const char *msg) {
    for (size_t i = 0; i < sizeof libjpeg_messages / sizeof libjpeg_messages[0]; i++) {
        const char *text = libjpeg_messages[i].text;
        if (strncmp(libjpeg_messages[i].code, "JWRN_", 5) == 0 &&
            strncmp(msg, text, strcspn(text, "%")) == 0)
            return 1;
    }
    return 0;
}

/* TurboJPEG reports failures as text (libjpeg's jerror.h messages and its own). */
static int map_tj_error(const char *msg) {
    if (contains(msg, "Premature end"))
        return SISP_EIMGTRUNC;
    if (contains(msg, "more than") || contains(msg, "Maximum supported image dimension") ||
        contains(msg, "too wide"))
        return SISP_EIMGTOOBIG;
    if (contains(msg, "nsupported") || contains(msg, "not supported") ||
        contains(msg, "Could not determine") || contains(msg, "not compiled"))
        return SISP_EIMGUNSUPP;
    if (contains(msg, "Insufficient memory") || contains(msg, "Memory allocation failure"))
        return SISP_ENOMEM;
    return SISP_EIMGCORRUPT;
}

/* After a TurboJPEG call returned -1: 0 when it only warned (every row was produced), else
 * the error. tjGetErrorCode cannot tell: in 2.1 a fatal error after a warning still reads
 * TJERR_WARNING. The text can: libjpeg keeps the first warning's text, and a fatal error
 * replaces it with its own. */
static int tj_outcome(tjhandle tj) {
    const char *msg = tjGetErrorStr2(tj);
    if (msg != NULL && is_libjpeg_warning(msg) && !contains(msg, "Premature end"))
        return 0;
    return map_tj_error(msg);
}

static uint8_t mul255(unsigned a, unsigned b) {
    return (uint8_t)((a * b + 127) / 255);
}

/* CMYK to RGBA in place. Adobe's writers (and TurboJPEG) store CMYK inverted: 255 = no ink. */
static void cmyk_to_rgba(uint8_t *px, size_t n, int inverted) {
    for (size_t i = 0; i < n; i++, px += 4) {
        unsigned c = px[0], m = px[1], y = px[2], k = px[3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        px[0] = mul255(c, k);
        px[1] = mul255(m, k);
        px[2] = mul255(y, k);
        px[3] = 255;
    }
}

/* The TurboJPEG part; *pixels is ours to free whichever way it returns. */
static int tj_decode(tjhandle tj, const uint8_t *data, size_t len, const jpeg_info_t *ji, int denom,
                     uint8_t **pixels, sisp_image_t *out) {
    int w = 0, h = 0, subsamp = 0, cs = 0;
    int rc = 0;
    if (tjDecompressHeader3(tj, data, (unsigned long)len, &w, &h, &subsamp, &cs) != 0 &&
        (rc = tj_outcome(tj)) != 0)
        return rc;
    if ((uint32_t)w != ji->width || (uint32_t)h != ji->height)
        return SISP_EIMGCORRUPT; /* libjpeg read another frame than the walk did */
    tjscalingfactor sf = {1, denom};
    int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    size_t npx = (size_t)sw * (size_t)sh;
    *pixels = malloc(npx * 4);
    if (*pixels == NULL)
        return SISP_ENOMEM;
    if (tjDecompress2(tj, data, (unsigned long)len, *pixels, sw, 0, sh,
                      cmyk ? TJPF_CMYK : TJPF_RGBA, TJFLAG_LIMITSCANS) != 0) {
        if ((rc = tj_outcome(tj)) != 0)
            return rc;
        out->damaged = 1;
    }
    if (cmyk)
        cmyk_to_rgba(*pixels, npx, ji->adobe);
    out->width = (uint32_t)sw;
    out->height = (uint32_t)sh;
    return 0;
}

int sisp_image_decode_jpeg(const uint8_t *data, size_t len, const sisp_decode_limits_t *lim,
                           sisp_image_t *out) {
    memset(out, 0, sizeof *out);
    sisp_decode_limits_t in_force;
    int rc = sisp_image_precheck(data, len, lim, SISP_IMAGE_JPEG, &in_force);
    if (rc != 0)
        return rc;
    lim = &in_force; /* the defaults when lim was NULL */

    jpeg_info_t ji = {0};
    uint32_t max_scans = lim->max_scans < TJ_SCAN_LIMIT ? lim->max_scans : TJ_SCAN_LIMIT;
    rc = walk(data, len, max_scans, &ji);
    if (rc != 0)
        return rc;
    int denom = pick_scale(&ji, lim);
    if (denom == 0 || working_memory(&ji) > lim->max_memory_bytes)
        return SISP_EIMGTOOBIG;

    tjhandle tj = tjInitDecompress();
    if (tj == NULL)
        return SISP_ENOMEM;
    uint8_t *pixels = NULL;
    rc = tj_decode(tj, data, len, &ji, denom, &pixels, out);
    tjDestroy(tj);
    if (rc != 0) {
        free(pixels);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->pixels = pixels;
    out->source_width = ji.width;
    out->source_height = ji.height;
    out->format = SISP_IMAGE_JPEG;
    out->orientation = 1;
    out->scale_denom = (uint8_t)denom;
    if (ji.orientation > 1 && (rc = sisp_image_orient(out, ji.orientation)) != 0)
        sisp_image_free(out);
    return rc;
}
