/* sisp-view's application core rendered offscreen: SDL's dummy video driver and a
 * software renderer on a surface. Images are written as PNG at run time and loaded through
 * the same path sisp-view uses (decode worker -> SDL user event -> textures); frames are
 * read back with SDL_RenderReadPixels and compared with the source pixels, at 1:1 (exact),
 * after panning and dragging (exact), fitted and zoomed (colours), tiled with a forced tiny
 * maximum texture size (exact), a large image's first frame drawn from its preview and its
 * full resolution uploaded afterwards, and for errors, the overlay's verified mark, alpha,
 * navigation, stale results and a watched directory. */
#include "sisp/error.h"
#include "sisp/gallery.h"
#include "sisp/view.h"
#include "testutil.h"
#include "view_fixture.h"

#include <SDL.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIN_W 320
#define WIN_H 240
#define BG 32 /* the view's background grey */

static SDL_Renderer *ren;
static char dir[256];

/* ---- helpers ---- */

static void path_in(char *buf, size_t cap, const char *name) {
    tview_join(buf, cap, dir, name);
}

static sisp_view_t *open_view_opts(const char *const *names, size_t n, sisp_view_opts_t *o) {
    sisp_gallery_t g;
    sisp_view_t *v = NULL;
    char p[512];
    sisp_gallery_init(&g, SISP_GALLERY_SORT_NAME);
    for (size_t i = 0; i < n; i++) {
        path_in(p, sizeof(p), names[i]);
        CHECK_ERR(sisp_gallery_add(&g, p), 0);
    }
    CHECK_ERR(sisp_view_create(&v, NULL, ren, &g, o), 0);
    CHECK_INT(g.count, 0); /* moved into the view */
    sisp_gallery_free(&g);
    return v;
}

/* Handles events until the view is no longer loading, then draws. */
static void settle(sisp_view_t *v) {
    Uint32 start = SDL_GetTicks();
    while (sisp_view_state(v) == SISP_VIEW_LOADING && SDL_GetTicks() - start < 20000)
        sisp_view_pump(v, 50);
    CHECK(sisp_view_state(v) != SISP_VIEW_LOADING);
    sisp_view_render(v);
}

static sisp_view_t *open_view(const char *const *names, size_t n, int max_texture) {
    sisp_view_opts_t o;
    sisp_view_t *v;
    sisp_view_opts_default(&o);
    o.overlay = 0;
    o.max_texture = max_texture;
    v = open_view_opts(names, n, &o);
    if (v)
        settle(v);
    return v;
}

/* The frame as RGBA bytes (malloc'd, WIN_W x WIN_H). */
static uint8_t *read_frame(void) {
    uint8_t *px = malloc((size_t)WIN_W * WIN_H * 4);
    if (!px)
        abort();
    CHECK_INT(SDL_RenderReadPixels(ren, NULL, SDL_PIXELFORMAT_RGBA32, px, WIN_W * 4), 0);
    return px;
}

static const uint8_t *at(const uint8_t *frame, int x, int y) {
    return frame + ((size_t)y * WIN_W + (size_t)x) * 4;
}

typedef void (*pixel_fn)(int x, int y, int w, int h, uint8_t out[4]);

/* At 1:1 every output pixel is the source pixel at (x - off_x, y - off_y), or the background
 * outside the image. The offset may be fractional after a zoom: `rounded` rounds it as
 * sisp_viewport_map_rect rounds edges, else it is truncated. Counts mismatches. */
static int compare_1to1(const sisp_view_t *v, int img_w, int img_h, pixel_fn pixel, int rounded) {
    const sisp_viewport_t *vp = sisp_view_viewport(v);
    uint8_t *frame = read_frame();
    int bad = 0;
    int ox = rounded ? (int)floor(vp->off_x + 0.5) : (int)vp->off_x;
    int oy = rounded ? (int)floor(vp->off_y + 0.5) : (int)vp->off_y;
    CHECK(vp->scale == 1.0);
    for (int y = 0; y < WIN_H; y++) {
        for (int x = 0; x < WIN_W; x++) {
            const uint8_t *got = at(frame, x, y);
            uint8_t want[4] = {BG, BG, BG, 255};
            int ix = x - ox, iy = y - oy;
            if (ix >= 0 && iy >= 0 && ix < img_w && iy < img_h)
                pixel(ix, iy, img_w, img_h, want);
            if (memcmp(got, want, 3) != 0 && bad++ < 5)
                fprintf(stderr, "  (%d,%d): got %d,%d,%d want %d,%d,%d\n", x, y, got[0], got[1],
                        got[2], want[0], want[1], want[2]);
        }
    }
    free(frame);
    return bad;
}

static int compare_one_to_one(const sisp_view_t *v, int img_w, int img_h) {
    return compare_1to1(v, img_w, img_h, tview_pattern_pixel, 0);
}

/* The colour at output (x, y) is within tol of the quadrant base colour of the image
 * point under it. */
static int near_quadrant(const sisp_view_t *v, const uint8_t *frame, int x, int y, int img_w,
                         int img_h) {
    const sisp_viewport_t *vp = sisp_view_viewport(v);
    uint8_t want[4];
    const uint8_t *got = at(frame, x, y);
    int ix = (int)((x + 0.5 - vp->off_x) / vp->scale);
    int iy = (int)((y + 0.5 - vp->off_y) / vp->scale);
    if (abs(ix - img_w / 2) <= 3 || abs(iy - img_h / 2) <= 3)
        return 1; /* quadrant borders blend or round either way */
    tview_pattern_pixel(ix - ix % 2, iy - iy % 2, img_w, img_h, want);
    for (int c = 0; c < 3; c++) {
        int d = got[c] - want[c];
        if (d < -40 || d > 40) {
            fprintf(stderr, "  (%d,%d) image (%d,%d): got %d,%d,%d want ~%d,%d,%d\n", x, y, ix, iy,
                    got[0], got[1], got[2], want[0], want[1], want[2]);
            return 0;
        }
    }
    return 1;
}

/* Pixels in the rectangle whose colour is close to (r, g, b). */
static int count_colour(const uint8_t *frame, SDL_Rect rc, int r, int g, int b) {
    int n = 0;
    for (int y = rc.y; y < rc.y + rc.h; y++) {
        for (int x = rc.x; x < rc.x + rc.w; x++) {
            const uint8_t *p = at(frame, x, y);
            if (abs(p[0] - r) < 30 && abs(p[1] - g) < 30 && abs(p[2] - b) < 30)
                n++;
        }
    }
    return n;
}

static void key(sisp_view_t *v, SDL_Keycode sym, Uint16 mod) {
    SDL_Event ev;
    SDL_zero(ev);
    ev.type = SDL_KEYDOWN;
    ev.key.keysym.sym = sym;
    ev.key.keysym.mod = mod;
    sisp_view_handle_event(v, &ev);
}

static void write_png(const char *name, int w, int h) {
    char p[512];
    path_in(p, sizeof(p), name);
    CHECK_INT(tview_write_pattern_png(p, w, h), 0);
}

static void write_text(const char *name, const char *text) {
    char p[512];
    path_in(p, sizeof(p), name);
    CHECK_INT(tview_write_file(p, text, strlen(text)), 0);
}

/* ---- tests ---- */

/* A small image is shown centred at 1:1, pixel for pixel, with or without tiling. */
static void test_one_to_one_exact(void) {
    static const int edges[] = {0, 64, 16};
    const char *names[] = {"small.png"};
    write_png("small.png", 201, 101);
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        sisp_view_t *v = open_view(names, 1, edges[i]);
        if (!v)
            continue;
        CHECK_INT(sisp_view_state(v), SISP_VIEW_SHOWN);
        CHECK_INT(sisp_view_tile_count(v), edges[i] == 0 ? 1 : edges[i] == 64 ? 4 * 2 : 13 * 7);
        CHECK_INT(sisp_view_viewport(v)->off_x, 59);
        CHECK_INT(sisp_view_viewport(v)->off_y, 69);
        CHECK_INT(compare_one_to_one(v, 201, 101), 0);
        CHECK(strstr(sisp_view_title(v), "small.png - 100% [1/1]") != NULL);
        sisp_view_destroy(v);
    }
}

/* A large image: fitted (downscaled, linear), then 1:1, panned with keys and by dragging,
 * and zoomed with the wheel at the cursor; tiled and not. */
static void test_large_pan_zoom(void) {
    static const int edges[] = {0, 64};
    const char *names[] = {"large.png"};
    write_png("large.png", 640, 400);
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        sisp_view_t *v = open_view(names, 1, edges[i]);
        const sisp_viewport_t *vp;
        uint8_t *frame;
        SDL_Event ev;
        double bx, by, ax, ay;
        int ok = 1;
        if (!v)
            continue;
        vp = sisp_view_viewport(v);
        CHECK_INT(sisp_view_tile_count(v), edges[i] ? 10 * 7 : 1);
        /* Fit: 0.5, the image fills the width. */
        CHECK(vp->scale == 0.5);
        CHECK(strstr(sisp_view_title(v), "50%") != NULL);
        frame = read_frame();
        for (int y = 50; y < 190; y += 7) {
            for (int x = 4; x < WIN_W - 4; x += 9)
                ok &= near_quadrant(v, frame, x, y, 640, 400);
        }
        CHECK(ok);
        CHECK_INT(at(frame, 5, 5)[0], BG); /* letterbox above the image */
        free(frame);

        key(v, SDLK_1, 0);
        sisp_view_render(v);
        CHECK_INT(vp->off_x, 160 - 320);
        CHECK_INT(vp->off_y, 120 - 200);
        CHECK_INT(compare_one_to_one(v, 640, 400), 0);

        key(v, SDLK_RIGHT, 0); /* wider than the window: pans by an eighth */
        sisp_view_render(v);
        CHECK_INT(vp->off_x, -160 - 40);
        CHECK_INT(compare_one_to_one(v, 640, 400), 0);
        key(v, SDLK_DOWN, KMOD_LSHIFT); /* Shift: by most of the window, clamped */
        sisp_view_render(v);
        CHECK_INT(vp->off_y, WIN_H - 400);
        CHECK_INT(compare_one_to_one(v, 640, 400), 0);

        SDL_zero(ev);
        ev.type = SDL_MOUSEBUTTONDOWN;
        ev.button.button = SDL_BUTTON_LEFT;
        ev.button.clicks = 1;
        sisp_view_handle_event(v, &ev);
        SDL_zero(ev);
        ev.type = SDL_MOUSEMOTION;
        ev.motion.state = SDL_BUTTON_LMASK;
        ev.motion.xrel = 33;
        ev.motion.yrel = 21;
        sisp_view_handle_event(v, &ev);
        SDL_zero(ev);
        ev.type = SDL_MOUSEBUTTONUP;
        ev.button.button = SDL_BUTTON_LEFT;
        sisp_view_handle_event(v, &ev);
        sisp_view_render(v);
        CHECK_INT(vp->off_x, -200 + 33);
        CHECK_INT(vp->off_y, WIN_H - 400 + 21);
        CHECK_INT(compare_one_to_one(v, 640, 400), 0);

        /* The wheel zooms at the cursor: the image point under it stays. */
        bx = (50 - vp->off_x) / vp->scale;
        by = (60 - vp->off_y) / vp->scale;
        SDL_zero(ev);
        ev.type = SDL_MOUSEWHEEL;
        ev.wheel.y = 1;
        ev.wheel.mouseX = 50;
        ev.wheel.mouseY = 60;
        sisp_view_handle_event(v, &ev);
        sisp_view_render(v);
        ax = (50 - vp->off_x) / vp->scale;
        ay = (60 - vp->off_y) / vp->scale;
        CHECK(vp->scale == 1.25);
        CHECK(ax > bx - 1e-6 && ax < bx + 1e-6);
        CHECK(ay > by - 1e-6 && ay < by + 1e-6);
        CHECK(strstr(sisp_view_title(v), "125%") != NULL);
        frame = read_frame();
        ok = 1;
        for (int y = 3; y < WIN_H; y += 11)
            for (int x = 3; x < WIN_W; x += 13)
                ok &= near_quadrant(v, frame, x, y, 640, 400);
        CHECK(ok);
        free(frame);

        /* Keys: zoom out twice (back through 1:1 to 80 %), then fit again. */
        key(v, SDLK_MINUS, 0);
        CHECK(vp->scale == 1.0);
        key(v, SDLK_MINUS, 0);
        CHECK(vp->scale == 0.8);
        key(v, SDLK_0, 0);
        CHECK(vp->scale == 0.5);
        key(v, SDLK_q, 0);
        CHECK(sisp_view_quit_requested(v));
        sisp_view_destroy(v);
    }
}

/* ---- the preview of a large image ---- */

#define SQ 90 /* the checker image's squares, in image pixels */

/* The checker image: squares of SQ pixels, each a colour of its own that differs from its
 * neighbours' by at least 73 on every channel, plus a one-pixel dither of 0 or 6 that only
 * full resolution shows. */
static void checker_pixel(int x, int y, uint8_t out[4]) {
    int sx = x / SQ, sy = y / SQ, d = ((x + y) & 1) * 6;
    out[0] = (uint8_t)(30 + (sx * 73 + sy * 151) % 180 + d);
    out[1] = (uint8_t)(30 + (sx * 41 + sy * 89) % 180 + d);
    out[2] = (uint8_t)(30 + (sx * 113 + sy * 37) % 180 + d);
    out[3] = 255;
}

static void write_checker_png(const char *name, int w, int h) {
    uint8_t *px = malloc((size_t)w * (size_t)h * 4);
    char p[512];
    if (!px)
        abort();
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            checker_pixel(x, y, px + ((size_t)y * (size_t)w + (size_t)x) * 4);
    path_in(p, sizeof(p), name);
    CHECK_INT(tview_write_png(p, px, w, h), 0);
    free(px);
}

/* Compares the frame with the checker image under the current viewport, at any scale:
 * output pixels outside the image are the background, exactly; those whose image footprint,
 * widened by what filtering may blend in (half a texture pixel of a preview at 1/factor of
 * the image, half an output pixel of edge rounding), lies inside one square show that
 * square's colour (the dither averages to 0..6). Others (square edges) are skipped, so a
 * shift of more than about one output pixel fails. Returns the mismatches; *checked counts
 * the pixels compared. */
static int compare_checker(const sisp_view_t *v, int img_w, int img_h, int factor, int *checked) {
    const sisp_viewport_t *vp = sisp_view_viewport(v);
    uint8_t *frame = read_frame();
    double s = vp->scale, m = 0.5 * factor + 0.5 / s;
    int bad = 0;
    *checked = 0;
    for (int y = 0; y < WIN_H; y++) {
        for (int x = 0; x < WIN_W; x++) {
            const uint8_t *got = at(frame, x, y);
            double ix0 = (x - vp->off_x) / s, ix1 = (x + 1 - vp->off_x) / s;
            double iy0 = (y - vp->off_y) / s, iy1 = (y + 1 - vp->off_y) / s;
            uint8_t want[4];
            int outside = ix1 <= -1.0 / s || iy1 <= -1.0 / s || ix0 >= img_w + 1.0 / s ||
                          iy0 >= img_h + 1.0 / s;
            if (outside) {
                (*checked)++;
                if (got[0] != BG || got[1] != BG || got[2] != BG) {
                    if (bad++ < 5)
                        fprintf(stderr, "  (%d,%d) outside the image: got %d,%d,%d\n", x, y, got[0],
                                got[1], got[2]);
                }
                continue;
            }
            if (ix0 - m < 0 || iy0 - m < 0 || ix1 + m > img_w || iy1 + m > img_h)
                continue;
            if ((int)(ix0 - m) / SQ != (int)(ix1 + m) / SQ ||
                (int)(iy0 - m) / SQ != (int)(iy1 + m) / SQ)
                continue;
            (*checked)++;
            checker_pixel(((int)ix0 / SQ) * SQ, ((int)iy0 / SQ) * SQ, want); /* dither 0 */
            for (int c = 0; c < 3; c++) {
                if (got[c] < want[c] - 2 || got[c] > want[c] + 8) {
                    if (bad++ < 5)
                        fprintf(stderr,
                                "  (%d,%d) image (%.0f,%.0f) at %.3f: got %d,%d,%d want "
                                "%d,%d,%d + 0..6\n",
                                x, y, ix0, iy0, s, got[0], got[1], got[2], want[0], want[1],
                                want[2]);
                    break;
                }
            }
        }
    }
    free(frame);
    return bad;
}

/* At 1:1 every output pixel is the checker image's, exactly (the dither too). */
static void checker_pixel_wh(int x, int y, int w, int h, uint8_t out[4]) {
    (void)w;
    (void)h;
    checker_pixel(x, y, out);
}

static int compare_checker_one_to_one(const sisp_view_t *v, int img_w, int img_h) {
    return compare_1to1(v, img_w, img_h, checker_pixel_wh, 1);
}

/* A large image: the first frame draws the box-filtered preview with no full-resolution
 * tile uploaded yet, and shows the right colours everywhere (no blank or shifted part);
 * 1:1 uploads the tiles it shows and matches the source pixel for pixel; zooming out
 * past the preview's resolution draws full-resolution tiles; idle pumps upload the rest;
 * fit goes back to the preview, and zooming in just past it to the tiles. Tiled and not. */
static void test_preview(void) {
    enum { W = 1803, H = 1101, FACTOR = 5 }; /* fit 320 / 1803: preview 361 x 221 */
    static const int edges[] = {0, 64};
    const char *names[] = {"checker.png"};
    write_checker_png("checker.png", W, H);
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        sisp_view_t *v = open_view(names, 1, edges[i]);
        const sisp_viewport_t *vp;
        int tiles, checked = 0, pending;
        if (!v)
            continue;
        vp = sisp_view_viewport(v);
        tiles = sisp_view_tile_count(v);
        CHECK_INT(sisp_view_state(v), SISP_VIEW_SHOWN);
        CHECK_INT(tiles, edges[i] ? 29 * 18 : 2 * 2); /* full-resolution tiles: 1024 at most */
        CHECK(vp->scale > 0.1774 && vp->scale < 0.1775);
        CHECK_INT(vp->off_y, 22);
        CHECK_INT(sisp_view_preview_shown(v), 1);
        CHECK_INT(sisp_view_tiles_pending(v), tiles); /* none uploaded for the first frame */
        CHECK_INT(compare_checker(v, W, H, FACTOR, &checked), 0);
        CHECK(checked > WIN_W * WIN_H / 4);

        /* 1:1: the tiles in view are uploaded before the frame, and show every pixel. */
        key(v, SDLK_1, 0);
        sisp_view_render(v);
        CHECK_INT(sisp_view_preview_shown(v), 0);
        CHECK_INT(compare_checker_one_to_one(v, W, H), 0);
        pending = sisp_view_tiles_pending(v);
        CHECK_INT(pending, edges[i] ? tiles - 6 * 5 : 2); /* image x 741..1061, y 432..672 */

        /* 80 %: more tiles come into view. */
        key(v, SDLK_MINUS, 0);
        sisp_view_render(v);
        CHECK(vp->scale == 0.8);
        CHECK_INT(sisp_view_preview_shown(v), 0);
        CHECK(sisp_view_tiles_pending(v) <= pending);
        CHECK_INT(compare_checker(v, W, H, FACTOR, &checked), 0);
        CHECK(checked > WIN_W * WIN_H / 4);

        /* Idle pumps upload the rest, one tile each. */
        for (int n = 0; n < tiles + 10 && sisp_view_tiles_pending(v) > 0; n++)
            sisp_view_pump(v, 0);
        CHECK_INT(sisp_view_tiles_pending(v), 0);

        /* Fit: the preview again. One wheel notch in (x1.25): past its resolution. */
        key(v, SDLK_0, 0);
        sisp_view_render(v);
        CHECK_INT(sisp_view_preview_shown(v), 1);
        CHECK_INT(compare_checker(v, W, H, FACTOR, &checked), 0);
        CHECK(checked > WIN_W * WIN_H / 4);
        {
            SDL_Event ev;
            SDL_zero(ev);
            ev.type = SDL_MOUSEWHEEL;
            ev.wheel.y = 1;
            ev.wheel.mouseX = WIN_W / 2;
            ev.wheel.mouseY = WIN_H / 2;
            sisp_view_handle_event(v, &ev);
        }
        sisp_view_render(v);
        CHECK(vp->scale > 0.2);
        CHECK_INT(sisp_view_preview_shown(v), 0);
        CHECK_INT(compare_checker(v, W, H, FACTOR, &checked), 0);
        CHECK(checked > WIN_W * WIN_H / 4);
        sisp_view_destroy(v);
    }
}

/* Decode failures are shown in the window (red text) instead of crashing. */
static void test_error_shown(void) {
    const char *names[] = {"corrupt.png"};
    sisp_view_t *v;
    write_text("corrupt.png", "\x89PNG\r\n\x1a\nthis is not really a PNG at all");
    v = open_view(names, 1, 0);
    if (!v)
        return;
    CHECK_INT(sisp_view_state(v), SISP_VIEW_ERROR);
    CHECK(strstr(sisp_view_message(v), "cannot show corrupt.png") != NULL);
    CHECK(strstr(sisp_view_title(v), "error") != NULL);
    {
        uint8_t *frame = read_frame();
        SDL_Rect mid = {0, WIN_H / 2 - 20, WIN_W, 40};
        CHECK(count_colour(frame, mid, 255, 90, 80) > 20);
        free(frame);
    }
    sisp_view_destroy(v);
}

/* Paging through files: next, previous, first, last; errors in between; a burst of key
 * presses leaves the last requested image on screen (stale results dropped). */
static void test_navigation(void) {
    /* Each key, then the index and image width expected (0: the missing file's error). */
    static const struct {
        SDL_Keycode sym;
        Uint16 mod;
        size_t index;
        int width;
    } steps[] = {
        {SDLK_BACKSPACE, 0, 0, 30}, /* already first */
        {SDLK_SPACE, 0, 1, 0},      {SDLK_END, 0, 3, 70},
        {SDLK_PAGEDOWN, 0, 3, 70}, /* already last */
        {SDLK_PAGEUP, 0, 2, 50},    {SDLK_HOME, 0, 0, 30},
        {SDLK_RIGHT, 0, 1, 0}, /* Left/Right change image when the whole width shows */
        {SDLK_LEFT, 0, 0, 30},      {SDLK_g, KMOD_LSHIFT, 3, 70},
        {SDLK_p, 0, 2, 50},         {SDLK_g, 0, 0, 30},
    };
    const char *names[] = {"n1.png", "n2-missing.png", "n3.png", "n4.png"};
    const sisp_viewport_t *vp;
    sisp_view_t *v;
    write_png("n1.png", 30, 20);
    write_png("n3.png", 50, 40);
    write_png("n4.png", 70, 60);
    v = open_view(names, 4, 0);
    if (!v)
        return;
    vp = sisp_view_viewport(v);
    CHECK_INT(sisp_view_count(v), 4);
    CHECK_INT(vp->img_w, 30);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        key(v, steps[i].sym, steps[i].mod);
        settle(v);
        CHECK_INT(sisp_view_index(v), steps[i].index);
        if (steps[i].width == 0) {
            CHECK_INT(sisp_view_state(v), SISP_VIEW_ERROR);
            CHECK(strstr(sisp_view_message(v), "no such file") != NULL);
        } else {
            CHECK_INT(sisp_view_state(v), SISP_VIEW_SHOWN);
            CHECK_INT(vp->img_w, steps[i].width);
        }
    }

    for (int i = 0; i < 25; i++)
        key(v, (i % 3) ? SDLK_n : SDLK_p, 0);
    key(v, SDLK_g, KMOD_LSHIFT); /* G: last */
    key(v, SDLK_PAGEUP, 0);
    CHECK_INT(sisp_view_index(v), 2);
    settle(v);
    /* Let any stale results arrive too; they must not replace the current image. */
    for (int i = 0; i < 10; i++)
        sisp_view_pump(v, 20);
    CHECK_INT(sisp_view_state(v), SISP_VIEW_SHOWN);
    CHECK_INT(vp->img_w, 50);
    CHECK_INT(vp->img_h, 40);
    CHECK(strstr(sisp_view_title(v), "n3.png - 100% [3/4]") != NULL);
    sisp_view_destroy(v);
}

/* The overlay shows the verified mark from FILE.info: green when verified and the size
 * matches, red when not verified or when the file changed since, yellow without a sidecar. */
static void test_overlay(void) {
    static const struct {
        const char *info; /* the sidecar up to the file's size; NULL: no sidecar */
        int r, g, b;
    } cases[] = {
        {"owner: alice\nverified: yes\nsize: ", 90, 220, 90},
        {"owner: alice\nverified: no\nsize: ", 255, 90, 80},
        {"owner: alice\nverified: yes\nsize: 1", 255, 90, 80}, /* changed since */
        {NULL, 240, 200, 60},
    };
    const char *names[] = {"ov.png"};
    char p[512];
    long size;
    FILE *f;
    write_png("ov.png", 64, 48);
    path_in(p, sizeof(p), "ov.png");
    f = fopen(p, "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sisp_view_opts_t o;
        sisp_view_t *v;
        char side[512], text[256];
        path_in(side, sizeof(side), "ov.png.info");
        if (cases[i].info) {
            snprintf(text, sizeof(text), "%s%ld\n", cases[i].info, size);
            CHECK_INT(tview_write_file(side, text, strlen(text)), 0);
        } else {
            remove(side);
        }
        sisp_view_opts_default(&o);
        v = open_view_opts(names, 1, &o);
        if (!v)
            continue;
        settle(v);
        {
            uint8_t *frame = read_frame();
            SDL_Rect bottom = {0, WIN_H / 2, WIN_W, WIN_H / 2};
            int n = count_colour(frame, bottom, cases[i].r, cases[i].g, cases[i].b);
            if (n < 20)
                fprintf(stderr, "  overlay case %zu: %d pixels of the mark's colour\n", i, n);
            CHECK(n >= 20);
            free(frame);
        }
        /* i hides it: the mark's colour is gone from the image area. */
        key(v, SDLK_i, 0);
        sisp_view_render(v);
        {
            uint8_t *frame = read_frame();
            SDL_Rect bottom = {0, WIN_H - 40, WIN_W, 40};
            CHECK_INT(count_colour(frame, bottom, cases[i].r, cases[i].g, cases[i].b), 0);
            free(frame);
        }
        sisp_view_destroy(v);
    }
}

/* Transparent pixels show the background. */
static void test_alpha(void) {
    const char *names[] = {"alpha.png"};
    uint8_t *px = tview_pattern(40, 40);
    char p[512];
    sisp_view_t *v;
    if (!px)
        return;
    for (int i = 0; i < 40 * 20; i++)
        px[i * 4 + 3] = 0; /* top half transparent */
    path_in(p, sizeof(p), "alpha.png");
    CHECK_INT(tview_write_png(p, px, 40, 40), 0);
    free(px);
    v = open_view(names, 1, 0);
    if (!v)
        return;
    {
        const sisp_viewport_t *vp = sisp_view_viewport(v);
        uint8_t *frame = read_frame();
        int x = (int)vp->off_x, y = (int)vp->off_y;
        uint8_t want[4];
        CHECK_INT(at(frame, x + 5, y + 5)[0], BG);
        CHECK_INT(at(frame, x + 5, y + 5)[1], BG);
        tview_pattern_pixel(5, 30, 40, 40, want);
        CHECK(abs(at(frame, x + 5, y + 30)[0] - want[0]) <= 1);
        CHECK(abs(at(frame, x + 5, y + 30)[1] - want[1]) <= 1);
        free(frame);
    }
    sisp_view_destroy(v);
}

/* A watched empty directory waits, then shows an image renamed into it. */
static void test_watch_dir(void) {
    char wdir[256], tmp[512], final[512];
    sisp_gallery_t g;
    sisp_view_opts_t o;
    sisp_view_t *v = NULL;
    Uint32 start;

    CHECK_INT(tview_mkdtemp(wdir, sizeof(wdir), "view-watch"), 0);
    sisp_gallery_init(&g, SISP_GALLERY_SORT_NAME);
    CHECK_ERR(sisp_gallery_scan(&g, wdir, NULL), 0);
    sisp_view_opts_default(&o);
    o.dir = wdir;
    o.watch = 1;
    o.overlay = 0;
    CHECK_ERR(sisp_view_create(&v, NULL, ren, &g, &o), 0);
    if (!v)
        return;
    sisp_view_render(v);
    CHECK_INT(sisp_view_state(v), SISP_VIEW_EMPTY);
    CHECK(strstr(sisp_view_title(v), "waiting for images") != NULL);

    tview_join(tmp, sizeof(tmp), wdir, ".incoming.part");
    tview_join(final, sizeof(final), wdir, "arrived.png");
    CHECK_INT(tview_write_pattern_png(tmp, 120, 80), 0);
    CHECK_INT(rename(tmp, final), 0);
    start = SDL_GetTicks();
    while (sisp_view_state(v) != SISP_VIEW_SHOWN && SDL_GetTicks() - start < 20000)
        sisp_view_pump(v, 50);
    CHECK_INT(sisp_view_state(v), SISP_VIEW_SHOWN);
    CHECK_INT(sisp_view_count(v), 1);
    sisp_view_render(v);
    CHECK_INT(compare_one_to_one(v, 120, 80), 0);

    /* Deleting it empties the view again. */
    CHECK_INT(remove(final), 0);
    start = SDL_GetTicks();
    while (sisp_view_state(v) != SISP_VIEW_EMPTY && SDL_GetTicks() - start < 20000)
        sisp_view_pump(v, 50);
    CHECK_INT(sisp_view_state(v), SISP_VIEW_EMPTY);
    sisp_view_destroy(v);
    tview_rmdir(wdir);
}

int main(void) {
    SDL_Surface *surface;
    if (!getenv("SDL_VIDEODRIVER"))
        SDL_setenv("SDL_VIDEODRIVER", "dummy", 1);
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "SDL_Init: %s\n", SDL_GetError());
        return 1;
    }
    surface = SDL_CreateRGBSurfaceWithFormat(0, WIN_W, WIN_H, 32, SDL_PIXELFORMAT_ARGB8888);
    ren = surface ? SDL_CreateSoftwareRenderer(surface) : NULL;
    if (!ren || tview_mkdtemp(dir, sizeof(dir), "view-render") != 0) {
        fprintf(stderr, "setup: %s\n", SDL_GetError());
        return 1;
    }
    test_one_to_one_exact();
    test_large_pan_zoom();
    test_preview();
    test_error_shown();
    test_navigation();
    test_overlay();
    test_alpha();
    test_watch_dir();
    SDL_DestroyRenderer(ren);
    SDL_FreeSurface(surface);
    SDL_Quit();
    tview_rmdir(dir);
    return t_done("view_render");
}
