/* Downscaling RGBA8 images for sisp-view's first frame. Pure arithmetic, no SDL, no I/O.
 *
 * A large image shown fitted needs far fewer pixels than it has: a 6000x4000 photo in a
 * 1024x768 window shows about 1024x683 of them. So the viewer first uploads a box-filtered
 * preview a little larger than the fitted size, draws it, and uploads the full resolution
 * afterwards (see view.c). The preview costs one pass over the decoded pixels; uploading the
 * full image before the first frame cost a second image-sized buffer, allocated and filled. */
#ifndef SISP_DOWNSCALE_H
#define SISP_DOWNSCALE_H

#include <stddef.h>
#include <stdint.h>

/* Largest source block, per axis, that one destination pixel may average. */
#define SISP_DOWNSCALE_MAX_BLOCK 256u

/* The preview for a src_w x src_h image first shown at scale output pixels per image pixel:
 * an integer factor k = floor(1 / scale), at most SISP_DOWNSCALE_MAX_BLOCK, and a size of
 * ceil(src_w / k) x ceil(src_h / k), so it has at least as many pixels as the output shows on
 * each axis. 1 and the size in *out_w, *out_h when k >= 2; 0 when a preview would save little
 * (the image is shown at more than half size) or the arguments make no sense (zero sides,
 * scale not above 0). */
int sisp_downscale_preview_size(uint32_t src_w, uint32_t src_h, double scale, uint32_t *out_w,
                                uint32_t *out_h);

/* Box-filters src (src_w x src_h RGBA8, rows src_stride bytes apart) into dst (dst_w x dst_h
 * RGBA8, rows dst_w * 4 bytes apart, caller-allocated). Destination column i averages source
 * columns [floor(i * src_w / dst_w), floor((i + 1) * src_w / dst_w)), rows likewise, so every
 * source pixel counts in exactly one destination pixel; each channel (alpha too, not
 * premultiplied) is the rounded mean. 0, or SISP_EINVAL when a side is 0, dst is larger than
 * src on an axis, a block would be wider or taller than SISP_DOWNSCALE_MAX_BLOCK, or
 * src_stride < src_w * 4; SISP_ENOMEM when the row sums cannot be allocated. */
int sisp_downscale_box(const uint8_t *src, uint32_t src_w, uint32_t src_h, size_t src_stride,
                       uint8_t *dst, uint32_t dst_w, uint32_t dst_h);

#endif
