/* Viewport math: fit, 1:1, zoom at the cursor, pan clamping, limits, tiny and huge
 * images, resizes, and seam-free rectangles for tiles. */
#include "sisp/viewport.h"
#include "testutil.h"

#include <math.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)
#define CHECK_NEAR(a, b)                                                                           \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        t_checks++;                                                                                \
        if (!NEAR(a_, b_))                                                                         \
            T_FAIL_AT("CHECK_NEAR(%s, %s): %.9g != %.9g", #a, #b, a_, b_);                         \
    } while (0)

/* The image stays where the rules say: centred when smaller, covering when larger. */
static void check_clamped(const sisp_viewport_t *vp) {
    double w = vp->img_w * vp->scale, h = vp->img_h * vp->scale;
    if (w <= vp->win_w) {
        CHECK_NEAR(vp->off_x, floor((vp->win_w - w) / 2));
    } else {
        CHECK(vp->off_x <= 0.0);
        CHECK(vp->off_x + w >= vp->win_w - 1e-9);
    }
    if (h <= vp->win_h) {
        CHECK_NEAR(vp->off_y, floor((vp->win_h - h) / 2));
    } else {
        CHECK(vp->off_y <= 0.0);
        CHECK(vp->off_y + h >= vp->win_h - 1e-9);
    }
}

static void test_fit(void) {
    sisp_viewport_t vp;
    /* A large image is shrunk to fit the tighter axis and centred on the other. */
    sisp_viewport_init(&vp, 4000, 1000, 800, 600);
    CHECK_INT(vp.mode, SISP_VIEWPORT_FIT);
    CHECK_NEAR(vp.scale, 0.2);
    CHECK_NEAR(vp.off_x, 0);
    CHECK_NEAR(vp.off_y, 200); /* (600 - 200) / 2 */
    CHECK_INT(sisp_viewport_percent(&vp), 20);
    CHECK(!sisp_viewport_can_pan(&vp, 0));
    CHECK(!sisp_viewport_can_pan(&vp, 1));

    /* Portrait, taller than the window. */
    sisp_viewport_init(&vp, 1000, 3000, 800, 600);
    CHECK_NEAR(vp.scale, 0.2);
    CHECK_NEAR(vp.off_x, 300);
    CHECK_NEAR(vp.off_y, 0);

    /* A small image is not enlarged by fit, but is by fit-enlarge. */
    sisp_viewport_init(&vp, 100, 50, 800, 600);
    CHECK_NEAR(vp.scale, 1.0);
    CHECK_NEAR(vp.off_x, 350);
    CHECK_NEAR(vp.off_y, 275);
    sisp_viewport_fit(&vp, SISP_VIEWPORT_FIT_ENLARGE);
    CHECK_INT(vp.mode, SISP_VIEWPORT_FIT_ENLARGE);
    CHECK_NEAR(vp.scale, 8.0);
    CHECK_NEAR(vp.off_x, 0);
    CHECK_NEAR(vp.off_y, 100);
    check_clamped(&vp);

    /* Odd leftovers centre on whole pixels. */
    sisp_viewport_init(&vp, 201, 100, 320, 240);
    CHECK_NEAR(vp.off_x, 59);
    CHECK_NEAR(vp.off_y, 70);

    /* Fit follows resizes. */
    sisp_viewport_init(&vp, 4000, 1000, 800, 600);
    sisp_viewport_resize(&vp, 400, 600);
    CHECK_NEAR(vp.scale, 0.1);
    CHECK_NEAR(vp.off_y, 250);
    CHECK_INT(vp.mode, SISP_VIEWPORT_FIT);
}

static void test_one_to_one(void) {
    sisp_viewport_t vp;
    double ix, iy;
    sisp_viewport_init(&vp, 4000, 3000, 800, 600);
    /* 1:1 at the window centre keeps the image centre there. */
    sisp_viewport_set_scale(&vp, 1.0, 400, 300);
    CHECK_INT(vp.mode, SISP_VIEWPORT_MANUAL);
    CHECK_NEAR(vp.scale, 1.0);
    CHECK_INT(sisp_viewport_percent(&vp), 100);
    sisp_viewport_to_image(&vp, 400, 300, &ix, &iy);
    CHECK_NEAR(ix, 2000);
    CHECK_NEAR(iy, 1500);
    CHECK(sisp_viewport_can_pan(&vp, 0));
    CHECK(sisp_viewport_can_pan(&vp, 1));
    check_clamped(&vp);

    /* At 1:1 every image pixel is one output pixel. */
    for (int x = 0; x < 50; x++) {
        sisp_viewport_rect_t r = sisp_viewport_map_rect(&vp, 1990 + x, 1490, 1, 1);
        CHECK_INT(r.w, 1);
        CHECK_INT(r.h, 1);
        CHECK_INT(r.x, 390 + x);
        CHECK_INT(r.y, 290);
    }
}

/* Zooming at a point keeps the image point under it fixed (while no clamp interferes). */
static void test_zoom_at_cursor(void) {
    sisp_viewport_t vp;
    double bx, by, ax, ay;
    const double cx = 123.0, cy = 457.0;

    sisp_viewport_init(&vp, 4000, 3000, 800, 600);
    sisp_viewport_set_scale(&vp, 1.0, 400, 300);
    sisp_viewport_to_image(&vp, cx, cy, &bx, &by);
    for (int i = 0; i < 5; i++) {
        double before = vp.scale;
        sisp_viewport_zoom_at(&vp, SISP_VIEWPORT_ZOOM_STEP, cx, cy);
        CHECK_NEAR(vp.scale, before * SISP_VIEWPORT_ZOOM_STEP);
        sisp_viewport_to_image(&vp, cx, cy, &ax, &ay);
        CHECK_NEAR(ax, bx);
        CHECK_NEAR(ay, by);
        check_clamped(&vp);
    }
    for (int i = 0; i < 5; i++) {
        sisp_viewport_zoom_at(&vp, 1.0 / SISP_VIEWPORT_ZOOM_STEP, cx, cy);
        sisp_viewport_to_image(&vp, cx, cy, &ax, &ay);
        CHECK_NEAR(ax, bx);
        CHECK_NEAR(ay, by);
    }
    CHECK_NEAR(vp.scale, 1.0);

    /* Zooming out from fit-enlarge of a small image at its corner keeps the corner point
     * until the image is centred again. */
    sisp_viewport_init(&vp, 100, 100, 800, 800);
    sisp_viewport_fit(&vp, SISP_VIEWPORT_FIT_ENLARGE); /* scale 8, fills the window */
    sisp_viewport_to_image(&vp, 10, 10, &bx, &by);
    sisp_viewport_zoom_at(&vp, SISP_VIEWPORT_ZOOM_STEP, 10, 10);
    sisp_viewport_to_image(&vp, 10, 10, &ax, &ay);
    CHECK_NEAR(ax, bx);
    CHECK_NEAR(ay, by);
    CHECK_NEAR(vp.scale, 10.0);

    /* Near an edge the clamp wins: the image still covers the window. */
    sisp_viewport_init(&vp, 4000, 3000, 800, 600);
    sisp_viewport_set_scale(&vp, 1.0, 800, 600); /* bottom-right corner stays put */
    CHECK_NEAR(vp.off_x, -3200);
    CHECK_NEAR(vp.off_y, -2400);
    sisp_viewport_zoom_at(&vp, 0.5, 0, 0); /* would put off_x at -1600: clamped */
    CHECK_NEAR(vp.scale, 0.5);
    CHECK_NEAR(vp.off_x, -1200);
    CHECK_NEAR(vp.off_y, -900);
    check_clamped(&vp);
}

static void test_zoom_steps_and_limits(void) {
    sisp_viewport_t vp;
    /* Crossing 1:1 stops there, in both directions. */
    sisp_viewport_init(&vp, 4000, 3000, 800, 600); /* fit 0.2 */
    sisp_viewport_set_scale(&vp, 0.9, 400, 300);
    sisp_viewport_zoom_at(&vp, SISP_VIEWPORT_ZOOM_STEP, 400, 300);
    CHECK_NEAR(vp.scale, 1.0);
    sisp_viewport_set_scale(&vp, 1.1, 400, 300);
    sisp_viewport_zoom_at(&vp, 1.0 / SISP_VIEWPORT_ZOOM_STEP, 400, 300);
    CHECK_NEAR(vp.scale, 1.0);

    /* Lower limit: the whole image fits (here 0.2); upper: 3200 %. */
    for (int i = 0; i < 100; i++)
        sisp_viewport_zoom_at(&vp, 0.5, 400, 300);
    CHECK_NEAR(vp.scale, 0.2);
    CHECK_NEAR(sisp_viewport_min_scale(&vp), 0.2);
    check_clamped(&vp);
    for (int i = 0; i < 100; i++)
        sisp_viewport_zoom_at(&vp, 2.0, 400, 300);
    CHECK_NEAR(vp.scale, SISP_VIEWPORT_MAX_SCALE);
    CHECK_INT(sisp_viewport_percent(&vp), 3200);
    check_clamped(&vp);

    /* A small image cannot go below 1:1 (no point) but can reach fit-enlarge. */
    sisp_viewport_init(&vp, 10, 10, 800, 600);
    CHECK_NEAR(sisp_viewport_min_scale(&vp), 1.0);
    CHECK_NEAR(sisp_viewport_max_scale(&vp), 60.0); /* fit-enlarge beats 32 */
    sisp_viewport_zoom_at(&vp, 0.5, 400, 300);
    CHECK_NEAR(vp.scale, 1.0);
    sisp_viewport_set_scale(&vp, 1000.0, 400, 300);
    CHECK_NEAR(vp.scale, 60.0);

    /* NaN and nonsense factors do not poison the state. */
    sisp_viewport_set_scale(&vp, NAN, 400, 300);
    CHECK_NEAR(vp.scale, 60.0);
    sisp_viewport_zoom_at(&vp, 0.0, 400, 300);
    CHECK_NEAR(vp.scale, 1.0);
}

static void test_pan(void) {
    sisp_viewport_t vp;
    sisp_viewport_init(&vp, 4000, 3000, 800, 600);
    sisp_viewport_set_scale(&vp, 1.0, 400, 300);
    sisp_viewport_pan(&vp, 100, -50);
    CHECK_NEAR(vp.off_x, -1600 + 100);
    CHECK_NEAR(vp.off_y, -1200 - 50);
    /* Dragging far past an edge stops with the edge at the window's edge. */
    sisp_viewport_pan(&vp, 1e9, 1e9);
    CHECK_NEAR(vp.off_x, 0);
    CHECK_NEAR(vp.off_y, 0);
    sisp_viewport_pan(&vp, -1e9, -1e9);
    CHECK_NEAR(vp.off_x, 800 - 4000);
    CHECK_NEAR(vp.off_y, 600 - 3000);
    check_clamped(&vp);

    /* An image narrower than the window stays centred on that axis while the other pans. */
    sisp_viewport_init(&vp, 400, 3000, 800, 600);
    sisp_viewport_set_scale(&vp, 1.0, 400, 300);
    sisp_viewport_pan(&vp, 250, -100);
    CHECK_NEAR(vp.off_x, 200);
    CHECK(!sisp_viewport_can_pan(&vp, 0));
    CHECK(sisp_viewport_can_pan(&vp, 1));
    check_clamped(&vp);

    /* Panning in fit mode does nothing and keeps fit. */
    sisp_viewport_init(&vp, 4000, 3000, 800, 600);
    sisp_viewport_pan(&vp, 300, 300);
    CHECK_INT(vp.mode, SISP_VIEWPORT_FIT);
    check_clamped(&vp);
}

static void test_resize_manual(void) {
    sisp_viewport_t vp;
    double ix, iy;
    sisp_viewport_init(&vp, 4000, 3000, 800, 600);
    sisp_viewport_set_scale(&vp, 2.0, 400, 300);
    sisp_viewport_pan(&vp, -37, 12);
    sisp_viewport_to_image(&vp, 400, 300, &ix, &iy);
    sisp_viewport_resize(&vp, 1200, 900);
    CHECK_INT(vp.mode, SISP_VIEWPORT_MANUAL);
    CHECK_NEAR(vp.scale, 2.0);
    {
        double jx, jy;
        sisp_viewport_to_image(&vp, 600, 450, &jx, &jy);
        CHECK_NEAR(jx, ix);
        CHECK_NEAR(jy, iy);
    }
    /* Growing the window past the image recentres it. */
    sisp_viewport_resize(&vp, 10000, 10000);
    check_clamped(&vp);
    CHECK_NEAR(vp.off_x, 1000);
}

static void test_degenerate_sizes(void) {
    sisp_viewport_t vp;
    sisp_viewport_rect_t r;
    /* 1x1 image: fit shows it at 1:1 in the centre; zooming works. */
    sisp_viewport_init(&vp, 1, 1, 640, 480);
    CHECK_NEAR(vp.scale, 1.0);
    CHECK_NEAR(vp.off_x, 319);
    CHECK_NEAR(vp.off_y, 239);
    sisp_viewport_zoom_at(&vp, 4.0, 320, 240);
    CHECK_NEAR(vp.scale, 4.0);
    check_clamped(&vp);

    /* Zero or negative sizes count as 1; nothing divides by zero. */
    sisp_viewport_init(&vp, 0, -5, 0, 0);
    CHECK_NEAR(vp.img_w, 1);
    CHECK_NEAR(vp.win_h, 1);
    CHECK_NEAR(vp.scale, 1.0);

    /* Huge: 16384 x 16384 in a tiny window, then the maximum zoom; map_rect stays sane. */
    sisp_viewport_init(&vp, 16384, 16384, 100, 50);
    CHECK_NEAR(vp.scale, 50.0 / 16384);
    r = sisp_viewport_map_rect(&vp, 0, 0, 16384, 16384);
    CHECK_INT(r.w, 50);
    CHECK_INT(r.h, 50);
    CHECK_INT(r.x, 25);
    sisp_viewport_set_scale(&vp, 1e9, 50, 25);
    CHECK_NEAR(vp.scale, SISP_VIEWPORT_MAX_SCALE);
    r = sisp_viewport_map_rect(&vp, 0, 0, 16384, 16384);
    CHECK_INT(r.w, 16384 * 32);
    CHECK(r.x <= 0 && r.x + r.w >= 100);
    check_clamped(&vp);

    /* Extreme aspect ratios. */
    sisp_viewport_init(&vp, 100000, 1, 1000, 1000);
    CHECK_NEAR(vp.scale, 0.01);
    r = sisp_viewport_map_rect(&vp, 0, 0, 100000, 1);
    CHECK_INT(r.w, 1000);
    CHECK(r.h <= 1);
}

/* Tiles must meet exactly at any scale and offset: no gaps, no overlaps. */
static void test_tiles_seamless(void) {
    sisp_viewport_t vp;
    const int tile = 64, w = 1000, h = 700;
    double scales[] = {0.137, 0.5, 1.0, 1.25, 3.3};
    for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++) {
        sisp_viewport_init(&vp, w, h, 777, 555);
        sisp_viewport_set_scale(&vp, scales[s], 388.5, 101.25);
        sisp_viewport_pan(&vp, -13.7, 7.3);
        for (int y = 0; y < h; y += tile) {
            int th = h - y < tile ? h - y : tile;
            int expect_x = sisp_viewport_map_rect(&vp, 0, 0, w, h).x;
            for (int x = 0; x < w; x += tile) {
                int tw = w - x < tile ? w - x : tile;
                sisp_viewport_rect_t r = sisp_viewport_map_rect(&vp, x, y, tw, th);
                sisp_viewport_rect_t below = sisp_viewport_map_rect(&vp, x, y + th, tw, th);
                CHECK_INT(r.x, expect_x);
                if (y + th < h)
                    CHECK_INT(r.y + r.h, below.y);
                expect_x = r.x + r.w;
            }
            {
                sisp_viewport_rect_t all = sisp_viewport_map_rect(&vp, 0, 0, w, h);
                CHECK_INT(expect_x, all.x + all.w);
            }
        }
    }
}

int main(void) {
    test_fit();
    test_one_to_one();
    test_zoom_at_cursor();
    test_zoom_steps_and_limits();
    test_pan();
    test_resize_manual();
    test_degenerate_sizes();
    test_tiles_seamless();
    return t_done("viewport");
}
