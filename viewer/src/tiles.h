/* An image as one or more textures (internal). Images larger than the renderer's maximum
 * texture size (or than the tile edge the caller picks) are split into tiles of at most that
 * size, drawn side by side through the viewport's edge rounding so no seam shows.
 *
 * Tiles can be uploaded lazily: sisp_tiles_layout makes the grid with no textures, and
 * sisp_tiles_fill_visible / sisp_tiles_upload_next upload tiles from the pixels when a frame
 * needs them or when there is time. A tile set can also stand for a larger image (a
 * downscaled preview): it is then drawn stretched over the image's whole area. Main thread
 * only. */
#ifndef SISP_VIEW_TILES_H
#define SISP_VIEW_TILES_H

#include "sisp/decode.h"
#include "sisp/viewport.h"

#include <SDL.h>

#define SISP_TILES_DEFAULT_MAX 16384 /* when the renderer reports no limit */
#define SISP_TILES_MIN 16            /* smallest tile edge an override may ask for */
#define SISP_TILES_MAX_COUNT 65536

typedef struct {
    SDL_Texture **tex; /* owned, cols * rows, row-major; NULL until that tile is uploaded */
    int cols, rows;
    int tile;            /* tile edge in pixels; the last column and row may be smaller */
    int w, h;            /* size in texture pixels (the image's, or the preview's) */
    double img_w, img_h; /* the image area they cover, in image pixels: w x h unless a
                            preview (sisp_tiles_stand_for) */
    int missing;         /* tiles not uploaded yet */
    int linear;          /* current filtering: 1 linear, 0 nearest */
} sisp_tiles_t;

/* The tile edge to use with r: the smaller of its maximum texture width and height (or
 * SISP_TILES_DEFAULT_MAX when it reports none), lowered to override when override > 0
 * (at least SISP_TILES_MIN). */
int sisp_tiles_edge(SDL_Renderer *r, int override);

/* Lays out a w x h grid of tiles of at most edge pixels a side in *t (which must be empty or
 * freed), with no texture uploaded yet. 0; SISP_EINVAL for a zero or oversized side or
 * edge < 1; SISP_EIMGTOOBIG when it would take more than SISP_TILES_MAX_COUNT tiles;
 * SISP_ENOMEM. On failure *t is empty. */
int sisp_tiles_layout(sisp_tiles_t *t, uint32_t w, uint32_t h, int edge);

/* Lays out img and uploads every tile (RGBA8). 0, sisp_tiles_layout's errors, or SISP_EIO
 * when SDL refuses a texture (SDL_GetError says why). On failure *t is empty. */
int sisp_tiles_upload(sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img, int edge);

/* Makes t, laid out for a preview of an img_w x img_h image, cover that image's area. */
void sisp_tiles_stand_for(sisp_tiles_t *t, double img_w, double img_h);

/* Uploads from img (the pixels t was laid out for) every tile not uploaded yet that falls
 * inside the out_w x out_h output under vp. 0, or SISP_EIO (that tile stays missing). */
int sisp_tiles_fill_visible(sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img,
                            const sisp_viewport_t *vp, int out_w, int out_h);

/* Uploads the first tile not uploaded yet from img. 1 when it uploaded one, 0 when none was
 * missing, SISP_EIO. */
int sisp_tiles_upload_next(sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img);

/* Draws the uploaded tiles that fall inside the out_w x out_h output (fill the visible ones
 * first). Filtering is linear when a texture pixel ends up smaller than an output pixel,
 * nearest at or above 1:1 (pixels stay crisp when zoomed in). 0, or -1 when SDL failed a
 * copy. */
int sisp_tiles_draw(sisp_tiles_t *t, SDL_Renderer *r, const sisp_viewport_t *vp, int out_w,
                    int out_h);

/* Destroys the textures; *t becomes empty. Safe on an empty or zeroed value. */
void sisp_tiles_free(sisp_tiles_t *t);

#endif
