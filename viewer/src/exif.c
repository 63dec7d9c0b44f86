/* EXIF Orientation, read by a parser of our own rather than libexif.
 *
 * Why not libexif: we need one 16-bit value from IFD0. libexif parses every IFD, tag and
 * maker note (the part of it with the long CVE history: CVE-2020-0093, -13112, -13113, ...),
 * allocates a tree for all of it, and would be one more Debian package to install (it is not
 * on the build machines). The subset we read is fixed by the TIFF 6.0 / Exif 2.3 layout:
 * byte order, magic 42, the IFD0 offset, then 12-byte entries. The parser below reads only
 * that, follows no offsets but IFD0's, never recurses or loops beyond IFD0's entry count
 * (itself bounded by the bytes present), checks every read as `n > end - pos`, and is fuzzed
 * through fuzz/fuzz_jpeg.c (every JPEG's APP1 Exif goes through it). */
#include "exif.h"

#include <string.h>

enum {
    TIFF_HEADER = 8, /* byte order (2), magic 42 (2), IFD0 offset (4) */
    IFD_ENTRY = 12,  /* tag (2), type (2), count (4), value or offset (4) */
    TAG_ORIENTATION = 0x0112,
    TYPE_SHORT = 3,
};

static uint32_t load16(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static uint32_t load32(const uint8_t *p, int le) {
    return le ? load16(p, 1) | load16(p + 2, 1) << 16 : load16(p, 0) << 16 | load16(p + 2, 0);
}

int sisp__exif_orientation(const uint8_t *tiff, size_t len) {
    if (tiff == NULL || len < TIFF_HEADER)
        return 0;
    int le;
    if (memcmp(tiff, "II", 2) == 0)
        le = 1;
    else if (memcmp(tiff, "MM", 2) == 0)
        le = 0;
    else
        return 0;
    if (load16(tiff + 2, le) != 42)
        return 0;
    const uint8_t *end = tiff + len;
    uint32_t ifd0 = load32(tiff + 4, le);
    if (ifd0 > len || 2 > end - (tiff + ifd0))
        return 0;
    const uint8_t *pos = tiff + ifd0;
    uint32_t count = load16(pos, le);
    pos += 2;
    for (uint32_t i = 0; i < count; i++, pos += IFD_ENTRY) {
        if (IFD_ENTRY > end - pos)
            return 0;
        if (load16(pos, le) != TAG_ORIENTATION)
            continue;
        /* One SHORT, stored left-justified in the 4-byte value field. */
        if (load16(pos + 2, le) != TYPE_SHORT || load32(pos + 4, le) != 1)
            return 0;
        uint32_t v = load16(pos + 8, le);
        return v >= 1 && v <= 8 ? (int)v : 0;
    }
    return 0;
}
