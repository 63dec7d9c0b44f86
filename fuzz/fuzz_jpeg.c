/* fuzz_jpeg: arbitrary bytes into the JPEG decoder (sisp_image_decode_jpeg): the marker walk,
 * the Exif orientation parser, the scale and memory checks, TurboJPEG and the orientation
 * transform.
 *
 * Inputs are capped at 256 KiB. The limits are tight (1024 a side, 256 K pixels, 64 scans,
 * 8 MiB of coefficient memory) but large enough that big headers with little data are decoded
 * at 1/2 to 1/8 scale, so scaling is fuzzed too. Nothing may crash or leak; a failure is a
 * known image error with nothing left to free; a success is a whole RGBA buffer of
 * ceil(source / scale_denom) on each side, sides swapped for orientations 5-8. */
#include "fuzz_util.h"

#include <sisp/decode.h>
#include <sisp/error.h>

#include <stddef.h>
#include <stdint.h>

#define MAX_INPUT (256u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > MAX_INPUT)
        return 0;
    static const sisp_decode_limits_t lim = {
        .max_width = 1024,
        .max_height = 1024,
        .max_pixels = 256u << 10,
        .max_input_bytes = MAX_INPUT,
        .max_memory_bytes = 8u << 20,
        .max_scans = 64,
    };

    sisp_image_t img;
    int rc = sisp_image_decode_jpeg(data, size, &lim, &img);
    if (rc != 0) {
        REQUIRE(rc == SISP_EIMGTRUNC || rc == SISP_EIMGCORRUPT || rc == SISP_EIMGTOOBIG ||
                rc == SISP_EIMGUNSUPP || rc == SISP_ENOMEM);
        REQUIRE(img.pixels == NULL && img.width == 0 && img.format == SISP_IMAGE_UNKNOWN);
        return 0;
    }
    unsigned d = img.scale_denom;
    REQUIRE(img.format == SISP_IMAGE_JPEG && (d == 1 || d == 2 || d == 4 || d == 8));
    REQUIRE(img.orientation >= 1 && img.orientation <= 8);
    uint32_t w = (img.source_width + d - 1) / d, h = (img.source_height + d - 1) / d;
    int swapped = img.orientation >= 5;
    REQUIRE(img.width == (swapped ? h : w) && img.height == (swapped ? w : h));
    REQUIRE(sisp_decode_limits_check(&lim, w, h) == 0);
    REQUIRE(img.pixels != NULL && w > 0 && h > 0);
    for (size_t i = 3; i < (size_t)w * h * 4; i += 4)
        REQUIRE(img.pixels[i] == 255); /* JPEG has no alpha */
    sisp_image_free(&img);
    return 0;
}
