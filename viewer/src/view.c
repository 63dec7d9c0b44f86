/* sisp-view's application core: events in, frames out, on the main thread. The decode
 * worker and the directory watcher talk to it only through SDL user events: a decode
 * result travels owned in the event's data1 and is dropped unless its generation is the
 * current one. See sisp/view.h.
 *
 * A decoded image is kept, and uploaded as textures lazily: the first frame of an image
 * shown at less than half size draws a box-filtered preview (sisp/downscale.h) with a little
 * more than the fitted view's pixels; the full-resolution tiles are uploaded when a frame
 * needs them (zoomed past what the preview holds: the visible tiles, before drawing) and,
 * one per sisp_view_pump, when no event is waiting. The decoded pixels are freed after the
 * last tile. Uploading the whole image before the first frame cost a second image-sized
 * buffer, allocated and filled, between the decode and the first frame (docs/BENCHMARKS.md,
 * "Viewer: time to first frame"). */
#include "sisp/view.h"

#include "font.h"
#include "sisp/downscale.h"
#include "sisp/error.h"
#include "sisp/info.h"
#include "sisp/loader.h"
#include "sisp/watch.h"
#include "tiles.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOADING_DELAY_MS 200 /* "loading" appears only for slow decodes, without flicker */
#define IDLE_WAIT_MS 10000
#define TEXT_MAX 256
#define MARGIN 8
#define PAD 6
#define OVERLAY_LINES 12
#define FULL_TILE_EDGE 1024 /* full-resolution tiles: what a zoom or an idle step uploads */

static const SDL_Color col_bg = {32, 32, 32, 255};
static const SDL_Color col_text = {230, 230, 230, 255};
static const SDL_Color col_dim = {160, 160, 160, 255};
static const SDL_Color col_ok = {90, 220, 90, 255};
static const SDL_Color col_bad = {255, 90, 80, 255};
static const SDL_Color col_warn = {240, 200, 60, 255};

enum { EV_LOADED = 0, EV_DIR = 1, EV_COUNT = 2 };

typedef struct {
    char text[TEXT_MAX * 2];
    SDL_Color color;
} line_t;

struct sisp_view {
    SDL_Window *win;   /* borrowed, may be NULL */
    SDL_Renderer *ren; /* borrowed */
    sisp_view_opts_t opts;
    sisp_gallery_t gallery;
    size_t cur;
    char *cur_path; /* owned: the image requested or shown, found again after rescans */
    sisp_gallery_stamp_t cur_stamp;
    sisp_loader_t *loader;
    sisp_watch_t *watch;
    Uint32 ev_base;         /* first of EV_COUNT registered SDL event types */
    atomic_int dir_pending; /* a directory event is queued and not yet handled */
    uint64_t gen;
    sisp_view_state_t state;
    Uint32 load_started;
    int loading_shown;
    sisp_tiles_t tiles;   /* full resolution, uploaded lazily from pixels */
    sisp_tiles_t preview; /* box-filtered, drawn while it has enough pixels; may be empty */
    sisp_image_t pixels;  /* the decoded image until every tile is uploaded, then empty */
    int have_image;       /* an image to draw (the previous one while the next loads) */
    int preview_shown;    /* the last frame drew the preview */
    uint64_t file_size;
    int info_err;
    sisp_info_t info;
    sisp_viewport_t vp;
    int out_w, out_h;
    int dirty;
    int overlay;
    int dragging;
    int quit;
    int exit_code;
    char message[TEXT_MAX * 2];
    char title[TEXT_MAX];
};

/* Printable ASCII only: file names and sidecar values come from outside. */
static void sanitize(char *dst, size_t cap, const char *src) {
    size_t o = 0;
    for (; *src && o + 1 < cap; src++) {
        unsigned char c = (unsigned char)*src;
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[o] = '\0';
}

static const char *cur_name(const sisp_view_t *v) {
    const char *p, *slash;
    if (!v->cur_path)
        return "";
    p = v->cur_path;
    slash = strrchr(p, '/');
    return slash ? slash + 1 : p;
}

static void update_title(sisp_view_t *v) {
    char name[TEXT_MAX / 2], title[TEXT_MAX];
    sanitize(name, sizeof(name), cur_name(v));
    if (v->gallery.count == 0) {
        char dir[TEXT_MAX / 2];
        sanitize(dir, sizeof(dir), v->opts.dir ? v->opts.dir : "");
        snprintf(title, sizeof(title), "sisp-view - waiting for images in %s", dir);
    } else {
        char what[32];
        if (v->state == SISP_VIEW_SHOWN)
            snprintf(what, sizeof(what), "%d%%", sisp_viewport_percent(&v->vp));
        else
            snprintf(what, sizeof(what), "%s", v->state == SISP_VIEW_LOADING ? "loading" : "error");
        snprintf(title, sizeof(title), "%s - %s [%zu/%zu] - sisp-view", name, what, v->cur + 1,
                 v->gallery.count);
    }
    if (strcmp(title, v->title) != 0) {
        memcpy(v->title, title, sizeof(title));
        if (v->win)
            SDL_SetWindowTitle(v->win, v->title);
    }
}

static void mark_dirty(sisp_view_t *v) {
    v->dirty = 1;
    update_title(v);
}

static const char *describe(int err, int sys_err, char *buf, size_t cap) {
    switch (err) {
    case SISP_ENOTFOUND:
        return "no such file";
    case SISP_EPERM:
        return "permission denied";
    case SISP_EINVAL:
        return "not a regular file";
    case SISP_EIO:
        if (sys_err != 0 && strerror_r(sys_err, buf, cap) == 0)
            return buf;
        return "I/O error";
    default:
        return sisp_strerror(err);
    }
}

/* Shows an error for the current image in the window and on stderr. */
__attribute__((format(printf, 2, 3))) static void show_error(sisp_view_t *v, const char *fmt, ...) {
    char reason[TEXT_MAX], name[TEXT_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    sanitize(name, sizeof(name), cur_name(v));
    snprintf(v->message, sizeof(v->message), "cannot show %s: %s", name, reason);
    fprintf(stderr, "sisp-view: %s\n", v->message);
    v->state = SISP_VIEW_ERROR;
    mark_dirty(v);
}

static void drop_image(sisp_view_t *v) {
    sisp_tiles_free(&v->tiles);
    sisp_tiles_free(&v->preview);
    sisp_image_free(&v->pixels);
    v->have_image = 0;
    v->preview_shown = 0;
}

/* The preview: the image box-filtered to pw x ph, uploaded. Best effort: without it the
 * full-resolution tiles are drawn. */
static void make_preview(sisp_view_t *v, uint32_t pw, uint32_t ph, int edge) {
    const sisp_image_t *img = &v->pixels;
    sisp_image_t small;
    memset(&small, 0, sizeof(small));
    small.width = pw;
    small.height = ph;
    small.pixels = malloc((size_t)pw * ph * 4);
    if (small.pixels &&
        sisp_downscale_box(img->pixels, img->width, img->height, (size_t)img->width * 4,
                           small.pixels, pw, ph) == 0 &&
        sisp_tiles_upload(&v->preview, v->ren, &small, edge) == 0)
        sisp_tiles_stand_for(&v->preview, img->width, img->height);
    free(small.pixels);
}

/* Takes img's pixels (img is left empty), lays out the full-resolution tiles, fits the
 * viewport, and makes the preview when the image is shown at less than half size. 0, or
 * sisp_tiles_layout's error (img untouched). */
static int take_image(sisp_view_t *v, sisp_image_t *img) {
    int edge = sisp_tiles_edge(v->ren, v->opts.max_texture);
    uint32_t pw, ph;
    int err = sisp_tiles_layout(&v->tiles, img->width, img->height,
                                edge < FULL_TILE_EDGE ? edge : FULL_TILE_EDGE);
    if (err != 0)
        return err;
    v->pixels = *img;
    memset(img, 0, sizeof(*img));
    sisp_viewport_init(&v->vp, v->pixels.width, v->pixels.height, v->out_w, v->out_h);
    if (sisp_downscale_preview_size(v->pixels.width, v->pixels.height, v->vp.scale, &pw, &ph))
        make_preview(v, pw, ph, edge);
    return 0;
}

/* 1 if the preview has at least one pixel per output pixel at the current scale. */
static int preview_enough(const sisp_view_t *v) {
    const sisp_tiles_t *p = &v->preview;
    return p->tex && v->vp.scale * p->img_w <= p->w * (1.0 + 1e-9) &&
           v->vp.scale * p->img_h <= p->h * (1.0 + 1e-9);
}

static void release_pixels_when_uploaded(sisp_view_t *v) {
    if (v->tiles.missing == 0)
        sisp_image_free(&v->pixels);
}

/* Uploads the full-resolution tiles the next frame shows, unless it draws the preview.
 * On failure the error replaces the image. */
static void fill_visible(sisp_view_t *v) {
    if (!v->have_image || v->tiles.missing == 0 || preview_enough(v))
        return;
    if (sisp_tiles_fill_visible(&v->tiles, v->ren, &v->pixels, &v->vp, v->out_w, v->out_h) != 0) {
        show_error(v, "%s", SDL_GetError());
        drop_image(v);
        return;
    }
    release_pixels_when_uploaded(v);
}

/* Full-resolution tiles wait to be uploaded in idle time (not while the next image loads:
 * this one is about to go). */
static int uploads_pending(const sisp_view_t *v) {
    return v->have_image && v->state == SISP_VIEW_SHOWN && v->tiles.missing > 0;
}

static void upload_step(sisp_view_t *v) {
    if (sisp_tiles_upload_next(&v->tiles, v->ren, &v->pixels) < 0) {
        show_error(v, "%s", SDL_GetError());
        drop_image(v);
        return;
    }
    release_pixels_when_uploaded(v);
}

static void request_current(sisp_view_t *v) {
    const sisp_gallery_entry_t *e;
    size_t n;
    char *path;

    v->gen++; /* whatever is in flight is stale from now on */
    v->message[0] = '\0';
    if (v->gallery.count == 0) {
        drop_image(v);
        free(v->cur_path);
        v->cur_path = NULL;
        v->cur = 0;
        v->state = SISP_VIEW_EMPTY;
        mark_dirty(v);
        return;
    }
    if (v->cur >= v->gallery.count)
        v->cur = v->gallery.count - 1;
    e = &v->gallery.items[v->cur];
    n = strlen(e->path) + 1;
    path = malloc(n);
    if (path)
        memcpy(path, e->path, n);
    free(v->cur_path);
    v->cur_path = path;
    v->cur_stamp = e->stamp;
    v->state = SISP_VIEW_LOADING;
    v->load_started = SDL_GetTicks();
    v->loading_shown = 0;
    if (!path || sisp_loader_request(v->loader, e->path, v->gen) != 0) {
        show_error(v, "%s", sisp_strerror(SISP_ENOMEM));
        return;
    }
    mark_dirty(v);
}

static void go_to(sisp_view_t *v, size_t idx) {
    if (v->gallery.count == 0)
        return;
    if (idx >= v->gallery.count)
        idx = v->gallery.count - 1;
    if (idx == v->cur && v->cur_path)
        return;
    v->cur = idx;
    request_current(v);
}

static void apply_result(sisp_view_t *v, sisp_load_result_t *res) {
    char buf[128];
    int err;

    if (res->generation != v->gen) {
        sisp_load_result_free(res); /* a newer request superseded it */
        return;
    }
    drop_image(v);
    v->info = res->info;
    v->info_err = res->info_err;
    v->file_size = res->file_size;
    if (res->err != 0) {
        show_error(v, "%s", describe(res->err, res->sys_err, buf, sizeof(buf)));
        sisp_load_result_free(res);
        return;
    }
    err = take_image(v, &res->image);
    if (err != 0) {
        show_error(v, "%s", sisp_strerror(err));
    } else {
        v->have_image = 1;
        v->state = SISP_VIEW_SHOWN;
        mark_dirty(v);
    }
    sisp_load_result_free(res); /* the pixels, if taken, now belong to the view */
}

static void rescan(sisp_view_t *v) {
    int sys_err = 0, err;
    long i;

    err = sisp_gallery_scan(&v->gallery, v->opts.dir, &sys_err);
    if (err != 0) {
        char buf[128], dir[TEXT_MAX / 2];
        sanitize(dir, sizeof(dir), v->opts.dir);
        fprintf(stderr, "sisp-view: cannot read %s: %s\n", dir,
                describe(err, sys_err, buf, sizeof(buf)));
        return;
    }
    if (v->gallery.count == 0) {
        if (v->state != SISP_VIEW_EMPTY)
            request_current(v);
        return;
    }
    i = v->cur_path ? sisp_gallery_find(&v->gallery, v->cur_path) : -1;
    if (i < 0) {
        request_current(v); /* new first image, or the one now in the removed one's place */
        return;
    }
    v->cur = (size_t)i;
    if (!sisp_gallery_stamp_eq(&v->gallery.items[i].stamp, &v->cur_stamp))
        request_current(v); /* replaced on disk, or its sidecar changed */
    else
        mark_dirty(v); /* the count in the title and overlay changed */
}

/* Output pixels per window point (HiDPI). */
static void pixel_ratio(const sisp_view_t *v, double *sx, double *sy) {
    int ww = 0, wh = 0;
    *sx = *sy = 1.0;
    if (!v->win)
        return;
    SDL_GetWindowSize(v->win, &ww, &wh);
    if (ww > 0 && wh > 0) {
        *sx = (double)v->out_w / ww;
        *sy = (double)v->out_h / wh;
    }
}

static void sync_output_size(sisp_view_t *v) {
    int w = 0, h = 0;
    if (SDL_GetRendererOutputSize(v->ren, &w, &h) != 0 || w < 1 || h < 1)
        return;
    if (w == v->out_w && h == v->out_h)
        return;
    v->out_w = w;
    v->out_h = h;
    if (v->have_image)
        sisp_viewport_resize(&v->vp, w, h);
    mark_dirty(v);
}

static void toggle_fullscreen(sisp_view_t *v) {
    Uint32 flags;
    if (!v->win)
        return;
    flags = SDL_GetWindowFlags(v->win);
    SDL_SetWindowFullscreen(v->win,
                            (flags & SDL_WINDOW_FULLSCREEN) ? 0 : SDL_WINDOW_FULLSCREEN_DESKTOP);
    mark_dirty(v);
}

static void zoom_center(sisp_view_t *v, double factor) {
    if (!v->have_image)
        return;
    sisp_viewport_zoom_at(&v->vp, factor, v->out_w / 2.0, v->out_h / 2.0);
    mark_dirty(v);
}

/* Arrow keys: pan by an eighth of the window (Shift: most of it). */
static void pan_key(sisp_view_t *v, int dx, int dy, int shift) {
    double step_x = shift ? v->out_w * 0.9 : v->out_w / 8.0;
    double step_y = shift ? v->out_h * 0.9 : v->out_h / 8.0;
    if (!v->have_image)
        return;
    sisp_viewport_pan(&v->vp, -dx * step_x, -dy * step_y);
    mark_dirty(v);
}

static void on_key(sisp_view_t *v, const SDL_KeyboardEvent *k) {
    int shift = (k->keysym.mod & KMOD_SHIFT) != 0;
    int wide = v->have_image && sisp_viewport_can_pan(&v->vp, 0);
    switch (k->keysym.sym) {
    case SDLK_q:
    case SDLK_ESCAPE:
        v->quit = 1;
        break;
    case SDLK_f:
    case SDLK_F11:
        toggle_fullscreen(v);
        break;
    case SDLK_i:
        v->overlay = !v->overlay;
        mark_dirty(v);
        break;
    case SDLK_0:
    case SDLK_KP_0:
    case SDLK_w:
        if (v->have_image) {
            sisp_viewport_fit(&v->vp, k->keysym.sym == SDLK_w ? SISP_VIEWPORT_FIT_ENLARGE
                                                              : SISP_VIEWPORT_FIT);
            mark_dirty(v);
        }
        break;
    case SDLK_1:
    case SDLK_KP_1:
        if (v->have_image) {
            sisp_viewport_set_scale(&v->vp, 1.0, v->out_w / 2.0, v->out_h / 2.0);
            mark_dirty(v);
        }
        break;
    case SDLK_PLUS:
    case SDLK_EQUALS:
    case SDLK_KP_PLUS:
        zoom_center(v, SISP_VIEWPORT_ZOOM_STEP);
        break;
    case SDLK_MINUS:
    case SDLK_KP_MINUS:
        zoom_center(v, 1.0 / SISP_VIEWPORT_ZOOM_STEP);
        break;
    case SDLK_SPACE:
    case SDLK_PAGEDOWN:
    case SDLK_n:
        go_to(v, v->cur + 1);
        break;
    case SDLK_BACKSPACE:
    case SDLK_PAGEUP:
    case SDLK_p:
        if (v->cur > 0)
            go_to(v, v->cur - 1);
        break;
    case SDLK_HOME:
        go_to(v, 0);
        break;
    case SDLK_g:
        go_to(v, shift ? v->gallery.count - 1 : 0);
        break;
    case SDLK_END:
        go_to(v, v->gallery.count - 1);
        break;
    case SDLK_RIGHT:
        if (!wide)
            go_to(v, v->cur + 1);
        else
            pan_key(v, 1, 0, shift);
        break;
    case SDLK_LEFT:
        if (!wide && v->cur > 0)
            go_to(v, v->cur - 1);
        else if (wide)
            pan_key(v, -1, 0, shift);
        break;
    case SDLK_l:
        pan_key(v, 1, 0, shift);
        break;
    case SDLK_h:
        pan_key(v, -1, 0, shift);
        break;
    case SDLK_UP:
    case SDLK_k:
        pan_key(v, 0, -1, shift);
        break;
    case SDLK_DOWN:
    case SDLK_j:
        pan_key(v, 0, 1, shift);
        break;
    case SDLK_r:
        if (v->gallery.count > 0)
            request_current(v);
        break;
    default:
        break;
    }
}

static void on_mouse(sisp_view_t *v, const SDL_Event *ev) {
    double sx, sy;
    pixel_ratio(v, &sx, &sy);
    switch (ev->type) {
    case SDL_MOUSEBUTTONDOWN:
        if (ev->button.button != SDL_BUTTON_LEFT)
            break;
        if (ev->button.clicks == 2)
            toggle_fullscreen(v);
        v->dragging = 1;
        if (v->win)
            SDL_CaptureMouse(SDL_TRUE); /* keep dragging when the pointer leaves the window */
        break;
    case SDL_MOUSEBUTTONUP:
        if (ev->button.button == SDL_BUTTON_LEFT && v->dragging) {
            v->dragging = 0;
            if (v->win)
                SDL_CaptureMouse(SDL_FALSE);
        }
        break;
    case SDL_MOUSEMOTION:
        if (v->dragging && (ev->motion.state & SDL_BUTTON_LMASK) && v->have_image) {
            sisp_viewport_pan(&v->vp, ev->motion.xrel * sx, ev->motion.yrel * sy);
            mark_dirty(v);
        }
        break;
    case SDL_MOUSEWHEEL: {
        /* preciseY carries touchpads' fractions; plain wheels give whole notches */
        double steps =
            ev->wheel.preciseY != 0.0f ? (double)ev->wheel.preciseY : (double)ev->wheel.y;
        if (ev->wheel.direction == SDL_MOUSEWHEEL_FLIPPED)
            steps = -steps;
        if (steps == 0.0 || !v->have_image)
            break;
        sisp_viewport_zoom_at(&v->vp, pow(SISP_VIEWPORT_ZOOM_STEP, steps), ev->wheel.mouseX * sx,
                              ev->wheel.mouseY * sy);
        mark_dirty(v);
        break;
    }
    default:
        break;
    }
}

static void on_window(sisp_view_t *v, const SDL_WindowEvent *w) {
    switch (w->event) {
    case SDL_WINDOWEVENT_SIZE_CHANGED:
    case SDL_WINDOWEVENT_RESIZED:
        sync_output_size(v);
        v->dirty = 1;
        break;
    case SDL_WINDOWEVENT_EXPOSED:
    case SDL_WINDOWEVENT_SHOWN:
    case SDL_WINDOWEVENT_RESTORED:
        v->dirty = 1;
        break;
    case SDL_WINDOWEVENT_FOCUS_LOST:
        if (v->dragging && v->win)
            SDL_CaptureMouse(SDL_FALSE);
        v->dragging = 0;
        break;
    default:
        break;
    }
}

void sisp_view_handle_event(sisp_view_t *v, const SDL_Event *ev) {
    if (ev->type == v->ev_base + EV_LOADED) {
        apply_result(v, ev->user.data1);
        return;
    }
    if (ev->type == v->ev_base + EV_DIR) {
        atomic_store(&v->dir_pending, 0);
        rescan(v);
        return;
    }
    switch (ev->type) {
    case SDL_QUIT:
        v->quit = 1;
        break;
    case SDL_KEYDOWN:
        on_key(v, &ev->key);
        break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
    case SDL_MOUSEMOTION:
    case SDL_MOUSEWHEEL:
        on_mouse(v, ev);
        break;
    case SDL_WINDOWEVENT:
        on_window(v, &ev->window);
        break;
    case SDL_RENDER_TARGETS_RESET:
        v->dirty = 1;
        break;
    case SDL_RENDER_DEVICE_RESET:
        drop_image(v); /* the textures are gone with the device: decode again */
        if (v->gallery.count > 0)
            request_current(v);
        break;
    default:
        break;
    }
}

/* Worker thread: hands the result over, owned, through the event queue. */
static void on_loaded(void *ud, sisp_load_result_t *res) {
    sisp_view_t *v = ud;
    SDL_Event ev;
    SDL_zero(ev);
    ev.type = v->ev_base + EV_LOADED;
    ev.user.data1 = res;
    if (SDL_PushEvent(&ev) != 1)
        sisp_load_result_free(res);
}

/* Watcher thread: one queued event at a time is enough, the handler rescans. */
static void on_dir_changed(void *ud) {
    sisp_view_t *v = ud;
    SDL_Event ev;
    if (atomic_exchange(&v->dir_pending, 1) != 0)
        return;
    SDL_zero(ev);
    ev.type = v->ev_base + EV_DIR;
    if (SDL_PushEvent(&ev) != 1)
        atomic_store(&v->dir_pending, 0);
}

/* ---- drawing ---- */

static int font_scale(const sisp_view_t *v) {
    return (v->out_w >= 1600 && v->out_h >= 1000) ? 2 : 1;
}

__attribute__((format(printf, 4, 5))) static void add_line(line_t *lines, int *n, SDL_Color c,
                                                           const char *fmt, ...) {
    va_list ap;
    if (*n >= OVERLAY_LINES)
        return;
    va_start(ap, fmt);
    vsnprintf(lines[*n].text, sizeof(lines[*n].text), fmt, ap);
    va_end(ap);
    lines[*n].color = c;
    (*n)++;
}

static void format_size(char *buf, size_t cap, uint64_t n) {
    if (n >= 1024 * 1024)
        snprintf(buf, cap, "%.1f MiB", (double)n / (1024.0 * 1024.0));
    else if (n >= 1024)
        snprintf(buf, cap, "%.1f KiB", (double)n / 1024.0);
    else
        snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
}

static void verification_line(const sisp_view_t *v, line_t *lines, int *n, const char *name) {
    const sisp_info_t *in = &v->info;
    if (v->info_err == SISP_ENOTFOUND) {
        add_line(lines, n, col_warn, "[??] no %s.info: not verified by sisp", name);
        return;
    }
    if (v->info_err != 0) {
        add_line(lines, n, col_warn, "[??] %s.info unreadable: %s", name,
                 v->info_err == SISP_ETOOBIG ? "larger than 4096 bytes"
                                             : sisp_strerror(v->info_err));
        return;
    }
    if (in->verified == SISP_INFO_VERIFIED_YES && in->has_size && in->size != v->file_size)
        add_line(lines, n, col_bad, "[!!] NOT VERIFIED: file changed since download");
    else if (in->verified == SISP_INFO_VERIFIED_YES)
        add_line(lines, n, col_ok, "[OK] verified: signed by %s",
                 in->owner[0] ? in->owner : "(owner unknown)");
    else if (in->verified == SISP_INFO_VERIFIED_NO)
        add_line(lines, n, col_bad, "[!!] NOT VERIFIED");
    else
        add_line(lines, n, col_warn, "[??] verification unknown");
}

static int overlay_lines(const sisp_view_t *v, line_t *lines) {
    const sisp_info_t *in = &v->info;
    char name[TEXT_MAX / 2], size[32];
    int n = 0;

    sanitize(name, sizeof(name), cur_name(v));
    format_size(size, sizeof(size), v->file_size);
    add_line(lines, &n, col_text, "%s  [%zu/%zu]", name, v->cur + 1, v->gallery.count);
    add_line(lines, &n, col_dim, "%d x %d px  %s  %d%%", v->tiles.w, v->tiles.h, size,
             sisp_viewport_percent(&v->vp));
    if (v->info_err == 0) {
        if (in->name[0] && strcmp(in->name, name) != 0)
            add_line(lines, &n, col_text, "name: %s", in->name);
        if (in->owner[0] || in->group[0])
            add_line(lines, &n, col_text, "owner: %s  group: %s", in->owner[0] ? in->owner : "?",
                     in->group[0] ? in->group : "?");
        if (in->signer_fingerprint[0])
            add_line(lines, &n, col_text, "signer: %s", in->signer_fingerprint);
        if (in->has_seq)
            add_line(lines, &n, col_dim, "seq: %llu", (unsigned long long)in->seq);
    }
    verification_line(v, lines, &n, name);
    return n;
}

/* Splits lines wider than max_chars into several. Returns the new count. */
static int wrap_lines(line_t *in, int n, line_t *out, int cap, size_t max_chars) {
    int o = 0;
    if (max_chars < 8)
        max_chars = 8;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(in[i].text), pos = 0;
        do {
            size_t take = len - pos < max_chars ? len - pos : max_chars;
            if (o == cap)
                return o;
            memcpy(out[o].text, in[i].text + pos, take);
            out[o].text[take] = '\0';
            out[o].color = in[i].color;
            o++;
            pos += take;
        } while (pos < len);
    }
    return o;
}

/* A translucent box with lines of text; (x, y) is its top-left corner. */
static void draw_box(sisp_view_t *v, line_t *lines, int n, int x, int y, int width) {
    int s = font_scale(v), lh = (SISP_FONT_CELL + 3) * s;
    SDL_Rect box = {x, y, width, n * lh + 2 * PAD};
    SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_BLEND);
    SDL_SetRenderDrawColor(v->ren, 0, 0, 0, 176);
    SDL_RenderFillRect(v->ren, &box);
    for (int i = 0; i < n; i++)
        sisp_font_draw(v->ren, x + PAD, y + PAD + i * lh, s, lines[i].text, lines[i].color);
}

static int max_chars(const sisp_view_t *v) {
    int avail = v->out_w - 2 * MARGIN - 2 * PAD;
    int c = avail / (SISP_FONT_CELL * font_scale(v));
    return c > 0 ? c : 1;
}

static void draw_overlay(sisp_view_t *v) {
    line_t raw[OVERLAY_LINES], lines[OVERLAY_LINES * 2];
    int n = overlay_lines(v, raw), widest = 0, s = font_scale(v), lh;
    n = wrap_lines(raw, n, lines, OVERLAY_LINES * 2, (size_t)max_chars(v));
    for (int i = 0; i < n; i++) {
        int w = sisp_font_width(lines[i].text, s);
        widest = w > widest ? w : widest;
    }
    lh = (SISP_FONT_CELL + 3) * s;
    draw_box(v, lines, n, MARGIN, v->out_h - MARGIN - n * lh - 2 * PAD, widest + 2 * PAD);
}

/* The centred status: an error, "loading", or "waiting for images". */
static void draw_message(sisp_view_t *v) {
    line_t raw[1], lines[8];
    int n, widest = 0, s = font_scale(v), lh = (SISP_FONT_CELL + 3) * s;
    SDL_Color c = col_dim;

    if (v->state == SISP_VIEW_ERROR) {
        snprintf(raw[0].text, sizeof(raw[0].text), "%s", v->message);
        c = col_bad;
    } else if (v->state == SISP_VIEW_LOADING && v->loading_shown) {
        char name[TEXT_MAX / 2];
        sanitize(name, sizeof(name), cur_name(v));
        snprintf(raw[0].text, sizeof(raw[0].text), "loading %s ...", name);
    } else if (v->state == SISP_VIEW_EMPTY) {
        char dir[TEXT_MAX / 2];
        sanitize(dir, sizeof(dir), v->opts.dir ? v->opts.dir : "");
        snprintf(raw[0].text, sizeof(raw[0].text), "waiting for images in %s", dir);
    } else {
        return;
    }
    raw[0].color = c;
    n = wrap_lines(raw, 1, lines, 8, (size_t)max_chars(v));
    for (int i = 0; i < n; i++) {
        int w = sisp_font_width(lines[i].text, s);
        widest = w > widest ? w : widest;
    }
    draw_box(v, lines, n, (v->out_w - widest) / 2 - PAD, (v->out_h - n * lh) / 2 - PAD,
             widest + 2 * PAD);
}

static void save_screenshot(sisp_view_t *v) {
    SDL_Surface *s =
        SDL_CreateRGBSurfaceWithFormat(0, v->out_w, v->out_h, 32, SDL_PIXELFORMAT_ARGB8888);
    v->quit = 1;
    if (!s ||
        SDL_RenderReadPixels(v->ren, NULL, SDL_PIXELFORMAT_ARGB8888, s->pixels, s->pitch) != 0 ||
        SDL_SaveBMP(s, v->opts.screenshot) != 0) {
        fprintf(stderr, "sisp-view: cannot save screenshot %s: %s\n", v->opts.screenshot,
                SDL_GetError());
        v->exit_code = 1;
    }
    SDL_FreeSurface(s);
}

int sisp_view_render(sisp_view_t *v) {
    sync_output_size(v);
    if (v->state == SISP_VIEW_LOADING && !v->loading_shown &&
        SDL_GetTicks() - v->load_started >= LOADING_DELAY_MS) {
        v->loading_shown = 1;
        v->dirty = 1;
    }
    if (!v->dirty)
        return 0;
    fill_visible(v);
    v->dirty = 0;
    SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_NONE);
    SDL_SetRenderDrawColor(v->ren, col_bg.r, col_bg.g, col_bg.b, col_bg.a);
    SDL_RenderClear(v->ren);
    v->preview_shown = v->have_image && preview_enough(v);
    if (v->preview_shown)
        sisp_tiles_draw(&v->preview, v->ren, &v->vp, v->out_w, v->out_h);
    else if (v->have_image)
        sisp_tiles_draw(&v->tiles, v->ren, &v->vp, v->out_w, v->out_h);
    if (v->state == SISP_VIEW_SHOWN && v->overlay)
        draw_overlay(v);
    draw_message(v);
    if (v->opts.screenshot && (v->state == SISP_VIEW_SHOWN || v->state == SISP_VIEW_ERROR))
        save_screenshot(v);
    SDL_RenderPresent(v->ren);
    return 1;
}

void sisp_view_pump(sisp_view_t *v, int timeout_ms) {
    SDL_Event ev;
    if (uploads_pending(v)) {
        if (!SDL_PollEvent(&ev)) { /* idle: one more tile, without waiting */
            upload_step(v);
            return;
        }
    } else {
        if (timeout_ms < 0) {
            timeout_ms = IDLE_WAIT_MS;
            if (v->state == SISP_VIEW_LOADING && !v->loading_shown) {
                Uint32 spent = SDL_GetTicks() - v->load_started;
                timeout_ms = spent >= LOADING_DELAY_MS ? 0 : (int)(LOADING_DELAY_MS - spent);
            }
        }
        if (!SDL_WaitEventTimeout(&ev, timeout_ms))
            return;
    }
    do {
        sisp_view_handle_event(v, &ev);
    } while (SDL_PollEvent(&ev));
}

int sisp_view_run(sisp_view_t *v) {
    while (!v->quit) {
        sisp_view_render(v);
        if (v->quit)
            break;
        sisp_view_pump(v, -1);
    }
    return v->exit_code;
}

void sisp_view_opts_default(sisp_view_opts_t *opts) {
    memset(opts, 0, sizeof(*opts));
    opts->overlay = 1;
    sisp_decode_limits_default(&opts->limits);
}

int sisp_view_create(sisp_view_t **out, SDL_Window *win, SDL_Renderer *ren, sisp_gallery_t *gallery,
                     const sisp_view_opts_t *opts) {
    sisp_view_t *v;
    int err;

    *out = NULL;
    v = calloc(1, sizeof(*v));
    if (!v)
        return SISP_ENOMEM;
    v->win = win;
    v->ren = ren;
    v->opts = *opts;
    v->overlay = opts->overlay;
    v->gallery = *gallery;
    sisp_gallery_init(gallery, gallery->sort);
    atomic_init(&v->dir_pending, 0);
    v->ev_base = SDL_RegisterEvents(EV_COUNT);
    if (v->ev_base == (Uint32)-1) {
        sisp_gallery_free(&v->gallery);
        free(v);
        return SISP_EIO;
    }
    v->out_w = v->out_h = 1;
    sync_output_size(v);
    err = sisp_loader_start(&v->loader, &opts->limits, on_loaded, v);
    if (err == 0 && opts->dir && opts->watch)
        err = sisp_watch_start(&v->watch, opts->dir, on_dir_changed, v, NULL);
    if (err != 0) {
        sisp_view_destroy(v);
        return err;
    }
    /* Images that arrived between the caller's scan and the watch's start. */
    if (v->watch && sisp_gallery_scan(&v->gallery, opts->dir, NULL) != 0)
        fprintf(stderr, "sisp-view: cannot rescan the directory; showing what was there\n");
    request_current(v);
    *out = v;
    return 0;
}

void sisp_view_destroy(sisp_view_t *v) {
    SDL_Event ev;
    if (!v)
        return;
    sisp_watch_stop(v->watch);
    sisp_loader_stop(v->loader);
    /* Results still queued are owned by their events. */
    while (SDL_PeepEvents(&ev, 1, SDL_GETEVENT, v->ev_base, v->ev_base + EV_COUNT - 1) > 0) {
        if (ev.type == v->ev_base + EV_LOADED)
            sisp_load_result_free(ev.user.data1);
    }
    drop_image(v);
    sisp_font_release();
    sisp_gallery_free(&v->gallery);
    free(v->cur_path);
    free(v);
}

int sisp_view_quit_requested(const sisp_view_t *v) {
    return v->quit;
}

sisp_view_state_t sisp_view_state(const sisp_view_t *v) {
    return v->state;
}

const sisp_viewport_t *sisp_view_viewport(const sisp_view_t *v) {
    return &v->vp;
}

size_t sisp_view_index(const sisp_view_t *v) {
    return v->cur;
}

size_t sisp_view_count(const sisp_view_t *v) {
    return v->gallery.count;
}

int sisp_view_tile_count(const sisp_view_t *v) {
    return v->tiles.cols * v->tiles.rows;
}

int sisp_view_tiles_pending(const sisp_view_t *v) {
    return v->tiles.missing;
}

int sisp_view_preview_shown(const sisp_view_t *v) {
    return v->preview_shown;
}

const char *sisp_view_title(const sisp_view_t *v) {
    return v->title;
}

const char *sisp_view_message(const sisp_view_t *v) {
    return v->message;
}
