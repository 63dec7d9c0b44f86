/* Image decoding for sisp-view: PNG (libpng) and JPEG (TurboJPEG) from memory to RGBA8.
 * No SDL, no I/O, no globals; safe on any thread (one call per image). Every input is
 * hostile: limits are checked before any pixel buffer is allocated, and every failure is
 * a specific SISP_EIMG* code (never an abort from inside a codec). */
#ifndef SISP_DECODE_H
#define SISP_DECODE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t max_width;      /* per side, default 16384 */
    uint32_t max_height;     /* default 16384 */
    uint64_t max_pixels;     /* width * height, default 64 * 1024 * 1024 */
    size_t max_input_bytes;  /* encoded size, default 256 MiB */
    size_t max_memory_bytes; /* codec working memory besides the output, default 256 MiB */
    uint32_t max_scans;      /* JPEG scans (SOS markers), default 500; TurboJPEG's own
                                TJFLAG_LIMITSCANS stops at 500 whatever this says */
} sisp_decode_limits_t;

typedef enum {
    SISP_IMAGE_UNKNOWN = 0,
    SISP_IMAGE_PNG,
    SISP_IMAGE_JPEG,
} sisp_image_format_t;

typedef struct {
    uint8_t *pixels; /* owned, RGBA8 rows of width * 4 bytes, top to bottom; freed by
                        sisp_image_free */
    uint32_t width;  /* after EXIF orientation is applied */
    uint32_t height;
    uint32_t source_width; /* as stored in the file, before scaling and orientation */
    uint32_t source_height;
    sisp_image_format_t format;
    uint8_t orientation; /* EXIF orientation 1-8 that was applied (1 when none) */
    uint8_t scale_denom; /* 1, or 2/4/8 when a JPEG was decoded scaled down */
    uint8_t damaged;     /* 1 when the codec recovered from damage it reported (a JPEG that
                            decoded with libjpeg warnings such as a bad Huffman code): the
                            image is whole but may show artefacts; see sisp_image_decode */
} sisp_image_t;

void sisp_decode_limits_default(sisp_decode_limits_t *lim);

/* Format from magic bytes, without decoding. */
sisp_image_format_t sisp_image_sniff(const uint8_t *data, size_t len);

/* Decodes data[0..len) to RGBA8 into *out (zeroed first). lim NULL = defaults.
 * 0, or SISP_EIMGTRUNC / SISP_EIMGCORRUPT / SISP_EIMGTOOBIG / SISP_EIMGUNSUPP / SISP_ENOMEM.
 * On failure *out holds nothing to free.
 *
 * Which code (the first problem met while reading decides):
 *   EIMGTOOBIG  len > max_input_bytes; a side or the pixel count over the limits (a JPEG
 *               that a TurboJPEG factor of 1/2, 1/4 or 1/8 brings within them is decoded
 *               scaled instead, see scale_denom); codec memory over max_memory_bytes
 *               (libpng's allocations, counted; libjpeg's, estimated from the frame header);
 *               more JPEG scans than max_scans; a PNG chunk other than IDAT
 *               longer than the chunk limit (8 MiB, or max_memory_bytes / 4 if less), a zTXt,
 *               iTXt or iCCP that inflates past it (or all of them past 4 times it), more than
 *               256 text/sPLT chunks.
 *   EIMGTRUNC   the data ends before the image does: empty input, a cut signature, a PNG
 *               without IEND, a JPEG without EOI. A JPEG that decodes with only libjpeg's
 *               "Premature end of JPEG file" warning is refused too: the rest would be grey.
 *   EIMGUNSUPP  neither PNG nor JPEG; a valid feature we do not decode (lossless, 12-bit or
 *               hierarchical JPEG, JPEG with DNL, 2 or 5+ components or sampling factors
 *               TurboJPEG cannot name; a PNG with an unknown critical chunk).
 *   EIMGCORRUPT anything else the codec refuses: a bad CRC in any PNG chunk, bad zlib data,
 *               invalid header fields (zero width...), bad JPEG tables or structure.
 *   ENOMEM      malloc failed within the limits.
 * A JPEG whose decode only produced other libjpeg warnings (corrupt entropy data, extraneous
 * bytes) is returned with damaged = 1, as browsers and djpeg show it. */
int sisp_image_decode(const uint8_t *data, size_t len, const sisp_decode_limits_t *lim,
                      sisp_image_t *out);

/* The same for one format only: data of the other format is SISP_EIMGUNSUPP, data of neither
 * is refused as sisp_image_decode refuses it. For callers that know the type, and fuzzers. */
int sisp_image_decode_png(const uint8_t *data, size_t len, const sisp_decode_limits_t *lim,
                          sisp_image_t *out);
int sisp_image_decode_jpeg(const uint8_t *data, size_t len, const sisp_decode_limits_t *lim,
                           sisp_image_t *out);

/* What every decode checks before a codec runs, cheap enough to call before reading a whole
 * file or queueing a decode: the input size against lim (NULL = defaults) and the magic.
 * want SISP_IMAGE_UNKNOWN accepts either format. 0, or the error the decode would return:
 * SISP_EIMGTOOBIG, SISP_EIMGTRUNC (empty, or a cut signature), SISP_EIMGUNSUPP (another
 * format). in_force, unless NULL, receives the limits that apply: *lim or the defaults. */
int sisp_image_precheck(const uint8_t *data, size_t len, const sisp_decode_limits_t *lim,
                        sisp_image_format_t want, sisp_decode_limits_t *in_force);

/* 0 if a width x height image (64-bit math) is within lim's side and pixel limits, else
 * SISP_EIMGTOOBIG. lim NULL = defaults. */
int sisp_decode_limits_check(const sisp_decode_limits_t *lim, uint64_t width, uint64_t height);

/* Applies EXIF orientation 1-8 to img's RGBA pixels (flips in place; 5-8 swap width and
 * height through a second buffer of the same size, so peak memory doubles for a moment).
 * Sets img->orientation. 0, SISP_EINVAL (orientation outside 1-8; img untouched), or
 * SISP_ENOMEM (img untouched). */
int sisp_image_orient(sisp_image_t *img, int orientation);

/* Frees out->pixels and zeroes *out. NULL is a no-op. */
void sisp_image_free(sisp_image_t *img);

#endif
