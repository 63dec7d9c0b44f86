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

static SDL_Texture *make_tile(SDL_Renderer *r, const sisp_image_t *img, int x, int y, int w,
                              int h) {
    size_t stride = (size_t)img->width * 4;
    const uint8_t *p = img->pixels + (size_t)y * stride + (size_t)x * 4;
    SDL_Texture *tex = SDL_CreateTexture(r, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STATIC, w, h);
    if (!tex)
        return NULL;
    if (SDL_UpdateTexture(tex, NULL, p, (int)stride) != 0) {
        SDL_DestroyTexture(tex);
        return NULL;
    }
    SDL_SetTextureBlendMode(tex, tile_has_alpha(p, stride, w, h) ? SDL_BLENDMODE_BLEND
                                                                 : SDL_BLENDMODE_NONE);
    SDL_SetTextureScaleMode(tex, SDL_ScaleModeNearest);
    return tex;
}

int sisp_tiles_upload(sisp_tiles_t *t, SDL_Renderer *r, const sisp_image_t *img, int edge) {
    size_t count;

    memset(t, 0, sizeof(*t));
    if (!img->pixels || img->width == 0 || img->height == 0 || edge < 1 ||
        img->width > (uint32_t)(INT_MAX / 4) || img->height > (uint32_t)INT_MAX)
        return SISP_EINVAL;
    t->w = (int)img->width;
    t->h = (int)img->height;
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
    for (int row = 0; row < t->rows; row++) {
        for (int col = 0; col < t->cols; col++) {
            int x = col * edge, y = row * edge;
            int w = t->w - x < edge ? t->w - x : edge;
            int h = t->h - y < edge ? t->h - y : edge;
            SDL_Texture *tex = make_tile(r, img, x, y, w, h);
            if (!tex) {
                sisp_tiles_free(t);
                return SISP_EIO;
            }
            t->tex[(size_t)row * (size_t)t->cols + (size_t)col] = tex;
        }
    }
    return 0;
}

int sisp_tiles_draw(sisp_tiles_t *t, SDL_Renderer *r, const sisp_viewport_t *vp, int out_w,
                    int out_h) {
    int linear = vp->scale < 1.0;
    int err = 0;
    if (linear != t->linear) {
        for (size_t i = 0; i < (size_t)t->cols * (size_t)t->rows; i++)
            SDL_SetTextureScaleMode(t->tex[i], linear ? SDL_ScaleModeLinear : SDL_ScaleModeNearest);
        t->linear = linear;
    }
    for (int row = 0; row < t->rows; row++) {
        for (int col = 0; col < t->cols; col++) {
            int x = col * t->tile, y = row * t->tile;
            int w = t->w - x < t->tile ? t->w - x : t->tile;
            int h = t->h - y < t->tile ? t->h - y : t->tile;
            sisp_viewport_rect_t d = sisp_viewport_map_rect(vp, x, y, w, h);
            SDL_Rect dst = {d.x, d.y, d.w, d.h};
            if (d.w <= 0 || d.h <= 0 || d.x >= out_w || d.y >= out_h || d.x + d.w <= 0 ||
                d.y + d.h <= 0)
                continue;
            if (SDL_RenderCopy(r, t->tex[(size_t)row * (size_t)t->cols + (size_t)col], NULL,
                               &dst) != 0)
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
