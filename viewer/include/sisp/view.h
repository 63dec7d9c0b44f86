/* sisp-view's application core: gallery state, key and mouse handling, the decode worker's
 * results, and drawing. All of it runs on the thread that owns the renderer (the main
 * thread); the decode worker and the directory watcher only push SDL user events.
 *
 * Keys (feh/sxiv/eog conventions):
 *   q, Esc            quit                  f, F11               fullscreen on/off
 *   0                 fit (never enlarges)  w                    fit, enlarging small images
 *   1                 1:1                   +, =, keypad +       zoom in (at window centre)
 *   -, keypad -       zoom out              arrows, h j k l      pan (Shift: a whole screen)
 *   Space, PageDown, n, Right*  next        BackSpace, PageUp, p, Left*  previous
 *   Home, g           first                 End, G               last
 *   i                 info overlay on/off   r                    reload from disk
 *   (* Left/Right pan when the image is wider than the window, else change image.)
 * Mouse: wheel zooms at the cursor; left-button drag pans; double-click toggles fullscreen.
 *
 * Textures: the first frame of a large image (shown at less than half size) draws a
 * box-filtered preview with at least the fitted view's pixels; the full-resolution tiles
 * are uploaded when a frame needs them (by sisp_view_render, before drawing) or one at a
 * time by sisp_view_pump when no event waits. A frame never shows fewer image pixels than
 * the output has, and never a missing tile.
 */
#ifndef SISP_VIEW_H
#define SISP_VIEW_H

#include "sisp/decode.h"
#include "sisp/gallery.h"
#include "sisp/viewport.h"

#include <SDL.h>

typedef struct {
    const char *dir;        /* borrowed: the --dir directory (rescanned on changes), or NULL */
    int watch;              /* with dir: watch it for new images */
    int overlay;            /* show the info overlay from the start */
    int max_texture;        /* tile edge cap in pixels (tests, debugging); 0 = renderer's */
    const char *screenshot; /* borrowed: save the first frame showing an image (or an error)
                               as BMP here, then quit */
    sisp_decode_limits_t limits;
} sisp_view_opts_t;

typedef enum {
    SISP_VIEW_EMPTY = 0, /* nothing to show (an empty directory being watched) */
    SISP_VIEW_LOADING,   /* the worker is decoding the current image */
    SISP_VIEW_SHOWN,     /* the current image is on screen */
    SISP_VIEW_ERROR,     /* the current image failed; the message is on screen */
} sisp_view_state_t;

typedef struct sisp_view sisp_view_t;

/* Fills opts with defaults: overlay on, decoder default limits, the rest zero. */
void sisp_view_opts_default(sisp_view_opts_t *opts);

/* Creates the view on renderer ren (borrowed; its window win, borrowed, may be NULL for an
 * offscreen renderer). The entries of *gallery move into the view (*gallery is left
 * empty). Starts the decode worker (and watcher) and requests the first image.
 * 0, SISP_ENOMEM, SISP_EIO (threads, SDL events), or a sisp_watch_start error. */
int sisp_view_create(sisp_view_t **out, SDL_Window *win, SDL_Renderer *ren, sisp_gallery_t *gallery,
                     const sisp_view_opts_t *opts);

/* Stops the worker and watcher, frees results still queued, destroys the textures (and
 * the font's glyph cache: call it before SDL_DestroyRenderer). NULL is a no-op. */
void sisp_view_destroy(sisp_view_t *v);

/* Handles one event. */
void sisp_view_handle_event(sisp_view_t *v, const SDL_Event *ev);

/* Waits up to timeout_ms (-1: until the next deadline) for events and handles all that
 * are queued. While full-resolution tiles of the image shown wait to be uploaded it does not
 * wait: it handles the queued events or, when there are none, uploads one tile. */
void sisp_view_pump(sisp_view_t *v, int timeout_ms);

/* Draws and presents a frame if anything changed; 1 if it drew. Saves the --screenshot. */
int sisp_view_render(sisp_view_t *v);

/* Runs until quit; returns the exit status (0, or 1 when a --screenshot failed). */
int sisp_view_run(sisp_view_t *v);

/* State for tests and the caller. */
int sisp_view_quit_requested(const sisp_view_t *v);
sisp_view_state_t sisp_view_state(const sisp_view_t *v);
const sisp_viewport_t *sisp_view_viewport(const sisp_view_t *v);
size_t sisp_view_index(const sisp_view_t *v);
size_t sisp_view_count(const sisp_view_t *v);
int sisp_view_tile_count(const sisp_view_t *v);      /* full-resolution tiles */
int sisp_view_tiles_pending(const sisp_view_t *v);   /* of those, not uploaded yet */
int sisp_view_preview_shown(const sisp_view_t *v);   /* the last frame drew the preview */
const char *sisp_view_title(const sisp_view_t *v);   /* as set on the window */
const char *sisp_view_message(const sisp_view_t *v); /* error or status text, "" if none */

#endif
