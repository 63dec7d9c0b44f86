/* Viewport math for sisp-view: where an image lies in the window at a given zoom. Pure
 * arithmetic, no SDL and no I/O, so every rule below is unit-tested.
 *
 * Coordinates are in output pixels (drawable pixels, not window points on HiDPI screens).
 * The image is placed at (off_x, off_y) and drawn scale output pixels per image pixel.
 * Image sizes are the displayed ones, i.e. after the decoder applied EXIF orientation.
 *
 * Rules:
 * - Fit (the default) shows the whole image centred, and never enlarges it beyond 1:1;
 *   fit-enlarge also enlarges small images to fill the window. Both follow window resizes.
 * - Any zoom or pan switches to manual mode, which keeps its scale across resizes.
 * - Zooming at a point keeps the image point under it fixed, unless clamping moves it.
 * - Clamping: on each axis an image smaller than the window is centred; a larger one
 *   always covers the window (it cannot be dragged out of view).
 * - Zoom limits: down to min(1, whole image fits), up to max(SISP_VIEWPORT_MAX_SCALE,
 *   fit-enlarge). Crossing 1:1 on the way stops at exactly 1:1. */
#ifndef SISP_VIEWPORT_H
#define SISP_VIEWPORT_H

#define SISP_VIEWPORT_MAX_SCALE 32.0 /* 3200 % */
#define SISP_VIEWPORT_ZOOM_STEP 1.25 /* one key press or wheel notch */

typedef enum {
    SISP_VIEWPORT_FIT = 0,     /* whole image, at most 1:1 */
    SISP_VIEWPORT_FIT_ENLARGE, /* whole image, small ones enlarged */
    SISP_VIEWPORT_MANUAL,      /* the user's zoom and pan */
} sisp_viewport_mode_t;

typedef struct {
    double img_w, img_h; /* image size in image pixels, >= 1 */
    double win_w, win_h; /* output size in pixels, >= 1 */
    double scale;        /* output pixels per image pixel */
    double off_x, off_y; /* output position of the image's top-left corner */
    sisp_viewport_mode_t mode;
} sisp_viewport_t;

/* An integer rectangle in output pixels. */
typedef struct {
    int x, y, w, h;
} sisp_viewport_rect_t;

/* Sets the image and window sizes (values below 1 count as 1) and fits. */
void sisp_viewport_init(sisp_viewport_t *vp, double img_w, double img_h, double win_w,
                        double win_h);

/* New output size. Fit modes refit; manual mode keeps the image point at the window's
 * centre where it was, then clamps. */
void sisp_viewport_resize(sisp_viewport_t *vp, double win_w, double win_h);

/* Switches to SISP_VIEWPORT_FIT or SISP_VIEWPORT_FIT_ENLARGE. */
void sisp_viewport_fit(sisp_viewport_t *vp, sisp_viewport_mode_t mode);

/* The scale that shows the whole image (may exceed 1). */
double sisp_viewport_fit_scale(const sisp_viewport_t *vp);

/* Scale limits for this image and window. */
double sisp_viewport_min_scale(const sisp_viewport_t *vp);
double sisp_viewport_max_scale(const sisp_viewport_t *vp);

/* Sets the scale (clamped to the limits) keeping the image point under output point
 * (cx, cy) fixed; manual mode. */
void sisp_viewport_set_scale(sisp_viewport_t *vp, double scale, double cx, double cy);

/* Multiplies the scale by factor at output point (cx, cy); stops at exactly 1:1 when it
 * crosses it. Manual mode. */
void sisp_viewport_zoom_at(sisp_viewport_t *vp, double factor, double cx, double cy);

/* Moves the image by (dx, dy) output pixels, then clamps. Keeps the mode in fit modes
 * (where there is nothing to pan). */
void sisp_viewport_pan(sisp_viewport_t *vp, double dx, double dy);

/* 1 if the scaled image is wider (axis 0) or taller (axis 1) than the window, i.e.
 * there is something to pan on that axis. */
int sisp_viewport_can_pan(const sisp_viewport_t *vp, int axis);

/* Zoom in percent, rounded to the nearest integer. */
int sisp_viewport_percent(const sisp_viewport_t *vp);

/* The output rectangle of image rows/columns [x, x+w) x [y, y+h). Edges are rounded the
 * same way for every rectangle, so adjacent image tiles map to adjacent output
 * rectangles with neither gaps nor overlaps. */
sisp_viewport_rect_t sisp_viewport_map_rect(const sisp_viewport_t *vp, double x, double y, double w,
                                            double h);

/* The image point under output point (ox, oy). */
void sisp_viewport_to_image(const sisp_viewport_t *vp, double ox, double oy, double *ix,
                            double *iy);

#endif
