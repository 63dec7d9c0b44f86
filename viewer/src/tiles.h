/* An image as one or more textures (internal). Images larger than the renderer's maximum
 * texture size are split into tiles of at most that size, drawn side by side through the
 * viewport's edge rounding so no seam shows. Main thread only. */
#ifndef SISP_VIEW_TILES_H
#define SISP_VIEW_TILES_H

#include "sisp/decode.h"
#include "sisp/viewport.h"

#include <SDL.h>

#define SISP_TILES_DEFAULT_MAX 16384 /* when the renderer reports no limit */
#define SISP_TILES_MIN 16            /* smallest tile edge an override may ask for */
#define SISP_TILES_MAX_COUNT 65536

typedef struct {
    SDL_Texture **tex; /* owned, cols * rows, row-major */
    int cols, rows;
    int tile;   /* tile edge in pixels; the last column and row may be smaller */
    int w, h;   /* image size */
    int linear; /* current filtering: 1 linear, 0 nearest */
} sisp_tiles_t;

/* The tile edge to use with r: the smaller of its maximum texture width and height (or
 * SISP_TILES_DEFAULT_MAX when it reports none), lowered to override when override > 0
 * (at least SISP_TILES_MIN). */
int sisp_tiles_edge(SDL_Renderer *r, int override);

/* Uploads img (RGBA8) as textures of at most edge pixels a side into *t (which must be
 * empty or freed). 0; SISP_EIMGTOOBIG when it would take more than SISP_TILES_MAX_COUNT
 * tiles; SISP_EIO when SDL refuses a texture (SDL_GetError says why). On failure *t is
 * empty. */
int sisp_tiles_upload(sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img, int edge);

/* Draws the tiles that fall inside the out_w x out_h output. Filtering is linear when
 * scaled down, nearest when at or above 1:1 (pixels stay crisp when zoomed in). */
int sisp_tiles_draw(sisp_tiles_t *t, SDL_Renderer *r, const sisp_viewport_t *vp, int out_w,
                    int out_h);

/* Destroys the textures; *t becomes empty. Safe on an empty or zeroed value. */
void sisp_tiles_free(sisp_tiles_t *t);

#endif
