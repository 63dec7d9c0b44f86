/* The one EXIF tag the viewer needs: Orientation (0x0112) in IFD0. Internal to sispdecode. */
#ifndef SISP_EXIF_H
#define SISP_EXIF_H

#include <stddef.h>
#include <stdint.h>

/* Orientation 1-8 from a TIFF structure (the Exif APP1 payload after "Exif\0\0", or a PNG
 * eXIf chunk), or 0 when it is absent, out of range or anything is malformed. tiff is
 * borrowed; every read is bounds-checked against len. */
int sisp__exif_orientation(const uint8_t *tiff, size_t len);

#endif
