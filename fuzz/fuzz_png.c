/* fuzz_png: arbitrary bytes into the PNG decoder (sisp_image_decode_png) under tight limits.
 *
 * Inputs are capped at 256 KiB and images at 1 megapixel, 2048 a side, 16 MiB of libpng
 * memory, so an execution stays in the milliseconds. Nothing may crash or leak; a failure is
 * a known image error with nothing left to free; a success is a whole RGBA buffer (every
 * byte is read back) whose size matches the header within the limits, turned by a valid
 * orientation.
 *
 * Every chunk carries a CRC, so almost every mutation would stop at the first check. Unless
 * the input's length is a multiple of 7 (which keeps the CRC refusal itself fuzzed), the
 * harness rewrites each chunk's CRC in a copy of the input before decoding it, as libpng's
 * own fuzzer switches its CRC checks off. */
#include "fuzz_util.h"

#include <sisp/decode.h>
#include <sisp/error.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAX_INPUT (256u << 10)

static uint32_t crc_table[256];
static uint8_t copy[MAX_INPUT];

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    if (crc_table[1] == 0)
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            crc_table[i] = c;
        }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

/* Rewrites the CRC of every whole chunk after the signature. */
static void fix_crcs(uint8_t *d, size_t n) {
    size_t pos = 8;
    while (pos + 12 <= n) {
        size_t len =
            (size_t)d[pos] << 24 | (size_t)d[pos + 1] << 16 | (size_t)d[pos + 2] << 8 | d[pos + 3];
        if (len > n - pos - 12)
            break;
        uint32_t crc = crc32_of(d + pos + 4, len + 4);
        for (int i = 0; i < 4; i++)
            d[pos + 8 + len + (size_t)i] = (uint8_t)(crc >> (24 - 8 * i));
        pos += 12 + len;
    }
}

static int is_image_error(int rc) {
    return rc == SISP_EIMGTRUNC || rc == SISP_EIMGCORRUPT || rc == SISP_EIMGTOOBIG ||
           rc == SISP_EIMGUNSUPP || rc == SISP_ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > MAX_INPUT)
        return 0;
    static const sisp_decode_limits_t lim = {
        .max_width = 2048,
        .max_height = 2048,
        .max_pixels = 1u << 20,
        .max_input_bytes = MAX_INPUT,
        .max_memory_bytes = 16u << 20, /* also caps each ancillary chunk at 4 MiB */
        .max_scans = 0,                /* no JPEG here */
    };

    if (size % 7 != 0) {
        memcpy(copy, data, size);
        fix_crcs(copy, size);
        data = copy;
    }
    sisp_image_t img;
    int rc = sisp_image_decode_png(data, size, &lim, &img);
    if (rc != 0) {
        REQUIRE(is_image_error(rc) && img.pixels == NULL && img.width == 0);
        return 0;
    }
    REQUIRE(img.format == SISP_IMAGE_PNG && img.scale_denom == 1 && img.damaged == 0);
    REQUIRE(img.orientation >= 1 && img.orientation <= 8);
    int swapped = img.orientation >= 5;
    REQUIRE(img.width == (swapped ? img.source_height : img.source_width));
    REQUIRE(img.height == (swapped ? img.source_width : img.source_height));
    REQUIRE(sisp_decode_limits_check(&lim, img.source_width, img.source_height) == 0);
    REQUIRE(img.pixels != NULL && img.width > 0 && img.height > 0);
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)img.width * img.height * 4; i++)
        sum += img.pixels[i];
    REQUIRE(sum <= 255u * (1u << 22));
    sisp_image_free(&img);
    REQUIRE(img.pixels == NULL);
    return 0;
}
