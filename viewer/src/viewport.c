/* Viewport math: fit, zoom at a point, pan with clamping. See sisp/viewport.h. */
#include "sisp/viewport.h"

#include <limits.h>
#include <math.h>

static double at_least_one(double v) {
    return v >= 1.0 ? v : 1.0; /* also turns NaN into 1 */
}

static double clamp(double v, double lo, double hi) {
    if (v < lo)
        return lo;
    if (v > hi)
        return hi;
    return v;
}

/* One axis: centre when the image is smaller than the window, else keep the window
 * covered. Centring is on whole pixels so that 1:1 stays pixel-exact. */
static double clamp_axis(double off, double img, double win, double scale) {
    double size = img * scale;
    if (size <= win)
        return floor((win - size) / 2.0);
    return clamp(off, win - size, 0.0);
}

static void clamp_offsets(sisp_viewport_t *vp) {
    vp->off_x = clamp_axis(vp->off_x, vp->img_w, vp->win_w, vp->scale);
    vp->off_y = clamp_axis(vp->off_y, vp->img_h, vp->win_h, vp->scale);
}

double sisp_viewport_fit_scale(const sisp_viewport_t *vp) {
    double sx = vp->win_w / vp->img_w;
    double sy = vp->win_h / vp->img_h;
    return sx < sy ? sx : sy;
}

double sisp_viewport_min_scale(const sisp_viewport_t *vp) {
    double fit = sisp_viewport_fit_scale(vp);
    return fit < 1.0 ? fit : 1.0;
}

double sisp_viewport_max_scale(const sisp_viewport_t *vp) {
    double fit = sisp_viewport_fit_scale(vp);
    return fit > SISP_VIEWPORT_MAX_SCALE ? fit : SISP_VIEWPORT_MAX_SCALE;
}

void sisp_viewport_fit(sisp_viewport_t *vp, sisp_viewport_mode_t mode) {
    double fit = sisp_viewport_fit_scale(vp);
    vp->mode = mode == SISP_VIEWPORT_FIT_ENLARGE ? SISP_VIEWPORT_FIT_ENLARGE : SISP_VIEWPORT_FIT;
    vp->scale = (vp->mode == SISP_VIEWPORT_FIT && fit > 1.0) ? 1.0 : fit;
    clamp_offsets(vp);
}

void sisp_viewport_init(sisp_viewport_t *vp, double img_w, double img_h, double win_w,
                        double win_h) {
    vp->img_w = at_least_one(img_w);
    vp->img_h = at_least_one(img_h);
    vp->win_w = at_least_one(win_w);
    vp->win_h = at_least_one(win_h);
    vp->off_x = 0.0;
    vp->off_y = 0.0;
    sisp_viewport_fit(vp, SISP_VIEWPORT_FIT);
}

void sisp_viewport_resize(sisp_viewport_t *vp, double win_w, double win_h) {
    double ix, iy;
    sisp_viewport_to_image(vp, vp->win_w / 2.0, vp->win_h / 2.0, &ix, &iy);
    vp->win_w = at_least_one(win_w);
    vp->win_h = at_least_one(win_h);
    if (vp->mode != SISP_VIEWPORT_MANUAL) {
        sisp_viewport_fit(vp, vp->mode);
        return;
    }
    vp->off_x = vp->win_w / 2.0 - ix * vp->scale;
    vp->off_y = vp->win_h / 2.0 - iy * vp->scale;
    clamp_offsets(vp);
}

void sisp_viewport_set_scale(sisp_viewport_t *vp, double scale, double cx, double cy) {
    double ix, iy;
    sisp_viewport_to_image(vp, cx, cy, &ix, &iy);
    if (isnan(scale))
        scale = vp->scale;
    vp->scale = clamp(scale, sisp_viewport_min_scale(vp), sisp_viewport_max_scale(vp));
    vp->mode = SISP_VIEWPORT_MANUAL;
    vp->off_x = cx - ix * vp->scale;
    vp->off_y = cy - iy * vp->scale;
    clamp_offsets(vp);
}

void sisp_viewport_zoom_at(sisp_viewport_t *vp, double factor, double cx, double cy) {
    double old = vp->scale;
    double scale = old * factor;
    if ((old < 1.0 && scale > 1.0) || (old > 1.0 && scale < 1.0))
        scale = 1.0;
    sisp_viewport_set_scale(vp, scale, cx, cy);
}

void sisp_viewport_pan(sisp_viewport_t *vp, double dx, double dy) {
    vp->off_x += dx;
    vp->off_y += dy;
    clamp_offsets(vp);
}

int sisp_viewport_can_pan(const sisp_viewport_t *vp, int axis) {
    if (axis == 0)
        return vp->img_w * vp->scale > vp->win_w;
    return vp->img_h * vp->scale > vp->win_h;
}

int sisp_viewport_percent(const sisp_viewport_t *vp) {
    return (int)floor(vp->scale * 100.0 + 0.5);
}

/* Output coordinate of an image coordinate, rounded, and kept within int range. */
static int map_edge(double img, double off, double scale) {
    double v = floor(off + img * scale + 0.5);
    return (int)clamp(v, (double)(INT_MIN / 2), (double)(INT_MAX / 2));
}

sisp_viewport_rect_t sisp_viewport_map_rect(const sisp_viewport_t *vp, double x, double y, double w,
                                            double h) {
    sisp_viewport_rect_t r;
    int x1 = map_edge(x + w, vp->off_x, vp->scale);
    int y1 = map_edge(y + h, vp->off_y, vp->scale);
    r.x = map_edge(x, vp->off_x, vp->scale);
    r.y = map_edge(y, vp->off_y, vp->scale);
    r.w = x1 - r.x;
    r.h = y1 - r.y;
    return r;
}

void sisp_viewport_to_image(const sisp_viewport_t *vp, double ox, double oy, double *ix,
                            double *iy) {
    *ix = (ox - vp->off_x) / vp->scale;
    *iy = (oy - vp->off_y) / vp->scale;
}
