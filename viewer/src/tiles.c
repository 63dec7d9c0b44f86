/* Image textures, tiled past the renderer's maximum texture size. See tiles.h. */
#include "tiles.h"

#include "sisp/error.h"

#include <limits.h>
#include <string.h>

int sisp_tiles_edge(SDL_Renderer *r, int override) {
    SDL_RendererInfo info;
    int edge = SISP_TILES_DEFAULT_MAX;
    if (SDL_GetRendererInfo(r, &info) == 0) {
        if (info.max_texture_width > 0 && info.max_texture_width < edge)
            edge = info.max_texture_width;
        if (info.max_texture_height > 0 && info.max_texture_height < edge)
            edge = info.max_texture_height;
    }
    if (override > 0 && override < edge)
        edge = override < SISP_TILES_MIN ? SISP_TILES_MIN : override;
    return edge;
}

/* 1 if any pixel of the tile is not fully opaque. */
static int tile_has_alpha(const uint8_t *p, size_t stride, int w, int h) {
    for (int y = 0; y < h; y++, p += stride) {
        for (int x = 0; x < w; x++) {
            if (p[(size_t)x * 4 + 3] != 0xff)
                return 1;
        }
    }
    return 0;
}

/* The pixel rectangle of tile (col, row). */
static SDL_Rect tile_rect(const sisp_tiles_t *t, int col, int row) {
    SDL_Rect rc;
    rc.x = col * t->tile;
    rc.y = row * t->tile;
    rc.w = t->w - rc.x < t->tile ? t->w - rc.x : t->tile;
    rc.h = t->h - rc.y < t->tile ? t->h - rc.y : t->tile;
    return rc;
}

/* Where tile (col, row) lands in the output; 1 if any of it is inside out_w x out_h. Texture
 * pixel edges go through image coordinates (x * img_w / w), so a preview's tiles meet as
 * seamlessly as full-resolution ones, and the last one ends at the image's edge. */
static int tile_dest(const sisp_tiles_t *t, const sisp_viewport_t *vp, int col, int row, int out_w,
                     int out_h, SDL_Rect *dst) {
    SDL_Rect rc = tile_rect(t, col, row);
    double x0 = (double)rc.x * t->img_w / t->w, x1 = (double)(rc.x + rc.w) * t->img_w / t->w;
    double y0 = (double)rc.y * t->img_h / t->h, y1 = (double)(rc.y + rc.h) * t->img_h / t->h;
    sisp_viewport_rect_t d = sisp_viewport_map_rect(vp, x0, y0, x1 - x0, y1 - y0);
    dst->x = d.x;
    dst->y = d.y;
    dst->w = d.w;
    dst->h = d.h;
    return d.w > 0 && d.h > 0 && d.x < out_w && d.y < out_h && d.x + d.w > 0 && d.y + d.h > 0;
}

static SDL_Texture *make_tile(const sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img,
                              SDL_Rect rc) {
    size_t stride = (size_t)img->width * 4;
    const uint8_t *p = img->pixels + (size_t)rc.y * stride + (size_t)rc.x * 4;
    SDL_Texture *tex =
        SDL_CreateTexture(r, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STATIC, rc.w, rc.h);
    if (!tex)
        return NULL;
    if (SDL_UpdateTexture(tex, NULL, p, (int)stride) != 0) {
        SDL_DestroyTexture(tex);
        return NULL;
    }
    SDL_SetTextureBlendMode(tex, tile_has_alpha(p, stride, rc.w, rc.h) ? SDL_BLENDMODE_BLEND
                                                                       : SDL_BLENDMODE_NONE);
    SDL_SetTextureScaleMode(tex, t->linear ? SDL_ScaleModeLinear : SDL_ScaleModeNearest);
    return tex;
}

/* Uploads tile i unless it is there. 0 or SISP_EIO. */
static int fill_tile(sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img, size_t i) {
    SDL_Texture *tex;
    if (t->tex[i])
        return 0;
    if (!img || !img->pixels || img->width != (uint32_t)t->w || img->height != (uint32_t)t->h) {
        SDL_SetError("no pixels for tile %zu", i);
        return SISP_EIO;
    }
    tex =
        make_tile(t, r, img, tile_rect(t, (int)(i % (size_t)t->cols), (int)(i / (size_t)t->cols)));
    if (!tex)
        return SISP_EIO;
    t->tex[i] = tex;
    t->missing--;
    return 0;
}

int sisp_tiles_layout(sisp_tiles_t *t, uint32_t w, uint32_t h, int edge) {
    size_t count;

    memset(t, 0, sizeof(*t));
    if (w == 0 || h == 0 || edge < 1 || w > (uint32_t)(INT_MAX / 4) || h > (uint32_t)INT_MAX)
        return SISP_EINVAL;
    t->w = (int)w;
    t->h = (int)h;
    t->img_w = w;
    t->img_h = h;
    t->tile = edge;
    t->cols = (t->w + edge - 1) / edge;
    t->rows = (t->h + edge - 1) / edge;
    count = (size_t)t->cols * (size_t)t->rows;
    if (count > SISP_TILES_MAX_COUNT) {
        memset(t, 0, sizeof(*t));
        return SISP_EIMGTOOBIG;
    }
    t->tex = SDL_calloc(count, sizeof(*t->tex));
    if (!t->tex) {
        memset(t, 0, sizeof(*t));
        return SISP_ENOMEM;
    }
    t->missing = (int)count;
    return 0;
}

int sisp_tiles_upload(sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img, int edge) {
    int err = sisp_tiles_layout(t, img->width, img->height, edge);
    if (err == 0 && !img->pixels)
        err = SISP_EINVAL;
    for (size_t i = 0; err == 0 && i < (size_t)t->cols * (size_t)t->rows; i++)
        err = fill_tile(t, r, img, i);
    if (err != 0)
        sisp_tiles_free(t);
    return err;
}

void sisp_tiles_stand_for(sisp_tiles_t *t, double img_w, double img_h) {
    t->img_w = img_w;
    t->img_h = img_h;
}

int sisp_tiles_fill_visible(sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img,
                            const sisp_viewport_t *vp, int out_w, int out_h) {
    if (t->missing == 0)
        return 0;
    for (int row = 0; row < t->rows; row++) {
        for (int col = 0; col < t->cols; col++) {
            SDL_Rect dst;
            if (tile_dest(t, vp, col, row, out_w, out_h, &dst) &&
                fill_tile(t, r, img, (size_t)row * (size_t)t->cols + (size_t)col) != 0)
                return SISP_EIO;
        }
    }
    return 0;
}

int sisp_tiles_upload_next(sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img) {
    if (t->missing == 0)
        return 0;
    for (size_t i = 0; i < (size_t)t->cols * (size_t)t->rows; i++) {
        if (!t->tex[i])
            return fill_tile(t, r, img, i) == 0 ? 1 : SISP_EIO;
    }
    return 0;
}

int sisp_tiles_draw(sisp_tiles_t *t, SDL_Renderer *r, const sisp_viewport_t *vp, int out_w,
                    int out_h) {
    /* output pixels per texture pixel */
    int linear = vp->scale * t->img_w / t->w < 1.0 || vp->scale * t->img_h / t->h < 1.0;
    int err = 0;
    if (linear != t->linear) {
        for (size_t i = 0; i < (size_t)t->cols * (size_t)t->rows; i++) {
            if (t->tex[i])
                SDL_SetTextureScaleMode(t->tex[i],
                                        linear ? SDL_ScaleModeLinear : SDL_ScaleModeNearest);
        }
        t->linear = linear;
    }
    for (int row = 0; row < t->rows; row++) {
        for (int col = 0; col < t->cols; col++) {
            SDL_Texture *tex = t->tex[(size_t)row * (size_t)t->cols + (size_t)col];
            SDL_Rect dst;
            if (!tex || !tile_dest(t, vp, col, row, out_w, out_h, &dst))
                continue;
            if (SDL_RenderCopy(r, tex, NULL, &dst) != 0)
                err = -1;
        }
    }
    return err;
}

void sisp_tiles_free(sisp_tiles_t *t) {
    if (t->tex) {
        for (size_t i = 0; i < (size_t)t->cols * (size_t)t->rows; i++) {
            if (t->tex[i])
                SDL_DestroyTexture(t->tex[i]);
        }
        SDL_free(t->tex);
    }
    memset(t, 0, sizeof(*t));
}
